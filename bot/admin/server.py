"""The admin HTTP server (aiohttp, on the bot's own event loop): auth, health, metrics, API.

Routes: ``/healthz`` (no auth), ``/readyz``, ``/metrics``, ``POST /graphql`` and the dashboard.
Every route but ``/healthz`` needs ``Authorization: Bearer <ADMIN_TOKEN>`` or the dashboard's
session cookie (set by ``/login``); without ADMIN_TOKEN (allowed on loopback only) none does.
Queries read through ``Records``' own connection, so a big query never waits on, nor holds up,
the pipeline's writes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView

from bot.admin import dashboard
from bot.admin.metrics import CONTENT_TYPE_LATEST, PrometheusObserver
from bot.admin.ops import Operations
from bot.admin.schema import schema
from bot.errors import StartupError
from storage.records import Records

if TYPE_CHECKING:
    from bot.app import Bot

log = structlog.get_logger("bot.admin")

COOKIE = "admin_session"
OPS: web.AppKey[Operations] = web.AppKey("ops", Operations)
SESSION: web.AppKey[str | None] = web.AppKey("session", str)
OPEN_PATHS = frozenset({"/healthz", "/login"})


def session_value(token: str) -> str:
    """The cookie value for ``token``: derived from it, so the cookie never holds the token."""
    return hmac.new(token.encode(), b"whatsapp-bot admin session", hashlib.sha256).hexdigest()


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


@web.middleware
async def _auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    ops = request.app[OPS]
    secret = ops.bot.settings.admin_token
    if secret is None or request.path in OPEN_PATHS:
        return await handler(request)
    if _authorized(request, secret.get_secret_value()):
        return await handler(request)
    log.warning(
        "admin.unauthorized",
        path=request.path,
        method=request.method,
        why="wrong token" if "Authorization" in request.headers else "no token",
        remote=request.remote,
    )
    if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        return dashboard.login_page(status=401, error="Log in with the admin token.")
    return web.json_response({"error": "unauthorized"}, status=401)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop turns."""
    return web.Response(text="ok\n")


#: /readyz writes its probe row at most this often.
WRITE_PROBE_SECONDS = 10.0


async def readyz(request: web.Request) -> web.Response:
    """WhatsApp connected, database writable, backend preflight passed; else 503 and why."""
    ops = request.app[OPS]
    bot = ops.bot
    problems = []
    if not bot.liveness.connected:
        problems.append("whatsapp: not connected")
    if bot.pipeline.health.failing:
        problems.append("database: writes are failing")
    elif (now := bot.pipeline.clock.monotonic()) - ops.last_write_probe >= WRITE_PROBE_SECONDS:
        # A real write, but at most one per WRITE_PROBE_SECONDS: frequent probes must not
        # queue behind (or ahead of) the pipeline's writes; in between, health.failing says it.
        try:
            await bot.store.set_flag("admin.ready_probe", bot.pipeline.clock.now().isoformat())
            ops.last_write_probe = now
        except Exception as exc:
            problems.append(f"database: not writable ({type(exc).__name__})")
    # The backend's preflight ran before the server started: a failed one stops start-up.
    if problems:
        return web.Response(status=503, text="not ready: " + "; ".join(problems) + "\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    ops = request.app[OPS]
    observer = ops.bot.observer
    if not isinstance(observer, PrometheusObserver):
        return web.Response(status=404, text="metrics are off\n")
    intake, queued, in_flight = ops.bot.pipeline.load()
    observer.in_flight.set(in_flight)
    observer.queue_depth.labels("intake").set(intake)
    observer.queue_depth.labels("chats").set(queued)
    observer.connected.set(1 if ops.bot.liveness.connected else 0)
    observer.reconnects.set(ops.bot.liveness.reconnects)
    observer.reminders_pending.set(await ops.records.reminders_pending())
    return web.Response(body=observer.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


class _GraphQL(GraphQLView[dict[str, Any], None]):
    """strawberry's aiohttp view with the operations in its context."""

    async def get_context(self, request: web.Request, response: Any) -> dict[str, Any]:
        """The context every resolver gets."""
        return {"request": request, "response": response, "ops": request.app[OPS]}


def build_app(ops: Operations) -> web.Application:
    """The aiohttp application for ``ops``."""
    app = web.Application(middlewares=[_auth], client_max_size=256 * 1024)
    app[OPS] = ops
    view = _GraphQL(schema=schema, graphql_ide=None, allow_queries_via_get=False)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/graphql", view)
    dashboard.add_routes(app, OPS)
    return app


@asynccontextmanager
async def serving(bot: Bot) -> AsyncIterator[web.AppRunner]:
    """Run the admin server while the block runs; a port in use stops start-up."""
    addr = bot.settings.admin_http_addr
    assert addr is not None
    async with Records.open(bot.settings.database_path) as records:
        runner = web.AppRunner(build_app(Operations(bot, records)), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, addr.host, addr.port)
            try:
                await site.start()
            except OSError as exc:
                raise StartupError(
                    f"ADMIN_HTTP_ADDR {addr}: cannot listen there ({exc.strerror or exc}): "
                    "choose another port or stop what uses it"
                ) from None
            ports = [a[1] for a in runner.addresses if isinstance(a, tuple)]
            log.info("admin.listening", host=addr.host, port=ports[0] if ports else addr.port,
                     auth=bot.settings.admin_token is not None)  # fmt: skip
            yield runner
        finally:
            await runner.cleanup()
