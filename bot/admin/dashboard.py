"""The dashboard: server-rendered pages (no JavaScript), on the admin server.

Pages: ``/`` status (with the pairing QR code or code while the device is not linked),
``/chats`` (search, pause/resume), ``/chats/{chat}`` one conversation, ``/usage`` tokens per
day as an SVG chart, ``/failures`` recent failed turns and their causes.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

import segno
import structlog
from aiohttp import web

log = structlog.get_logger("bot.admin")

_STYLE = """
body{font:15px system-ui,sans-serif;margin:0;color:#222}
nav{background:#075e54;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em 1.5em;max-width:70em}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
.in{background:#fff}.out{background:#eefbe6}.muted{color:#777}.bad{color:#b00}
form.inline{display:inline}button{cursor:pointer}
"""


def _page(title: str, body: str, status: int = 200, nav: bool = True) -> web.Response:
    links = (
        '<nav><a href="/">Status</a><a href="/chats">Chats</a><a href="/usage">Usage</a>'
        '<a href="/failures">Failures</a></nav>'
        if nav
        else ""
    )
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f" · WhatsApp bot</title><style>{_STYLE}</style></head><body>{links}<main>"
        f"<h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def login_page(status: int = 200, error: str = "") -> web.Response:
    """The login form (the admin token)."""
    note = f'<p class="bad">{escape(error)}</p>' if error else ""
    body = (
        f'{note}<form method="post" action="/login"><label>Admin token '
        '<input type="password" name="token" autocomplete="current-password" autofocus></label> '
        '<button type="submit">Log in</button></form>'
    )
    return _page("Log in", body, status=status, nav=False)


def add_routes(app: web.Application, ops_key: web.AppKey[Any]) -> None:
    """Add the dashboard's routes; ``ops_key`` finds the ``Operations`` in the app."""

    def ops(request: web.Request) -> Any:
        return request.app[ops_key]

    async def login_form(request: web.Request) -> web.Response:
        return login_page()

    async def login(request: web.Request) -> web.Response:
        from bot.admin.server import COOKIE, session_value

        form = await request.post()
        secret = ops(request).bot.settings.admin_token
        given = str(form.get("token", ""))
        if secret is None:
            raise web.HTTPSeeOther("/")
        if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            log.warning("admin.unauthorized", path="/login", method="POST", why="wrong token")
            return login_page(status=401, error="That is not the admin token.")
        response = web.HTTPSeeOther("/")
        response.set_cookie(
            COOKIE, session_value(secret.get_secret_value()), httponly=True, samesite="Strict"
        )
        log.info("admin.login")
        raise response

    async def status(request: web.Request) -> web.Response:
        s = await ops(request).status()
        rows = [
            ("WhatsApp", "connected" if s.connected else "not connected"),
            ("Own JID", s.jid or "—"),
            ("Own LID", s.lid or "—"),
            ("Mode", f"{s.mode} ({s.model})"),
            ("Uptime", str(timedelta(seconds=int(s.uptime_seconds)))),
            ("State", "paused" if s.paused else "running"),
            ("Queues", f"intake {s.intake_queue}, chats {s.chat_queue}"),
            ("Turns in flight", str(s.turns_in_flight)),
            ("Storage", "failing" if s.storage_failing else "ok"),
            ("Reconnects", str(s.reconnects)),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        pairing = ""
        if s.pairing_code:
            pairing = (
                f"<h2>Link this device</h2><p>Pairing code: <strong>{escape(s.pairing_code)}"
                "</strong>: on the phone, WhatsApp › Settings › Linked devices › Link a device › "
                "Link with phone number instead.</p>"
            )
        elif s.pairing_qr:
            svg = segno.make_qr(s.pairing_qr).svg_inline(scale=5)
            pairing = (
                "<h2>Link this device</h2><p>Scan with WhatsApp › Settings › Linked devices › "
                f"Link a device (the code changes: reload if it expired).</p>{svg}"
            )
        return _page("Status", f"<table>{table}</table>{pairing}")

    async def chats(request: web.Request) -> web.Response:
        search = request.query.get("search", "")
        page = await ops(request).records.chats(50, request.query.get("after") or None, search)
        rows = []
        for c in page.items:
            action = "resume" if c.paused else "pause"
            rows.append(
                f'<tr data-chat="{escape(c.chat)}"><td><a href="/chats/{quote(c.chat)}">'
                f"{escape(c.title)}</a><div class=muted>{escape(c.chat)}</div></td>"
                f"<td>{c.kind}</td><td>{c.message_count}</td>"
                f"<td>{_when(c.last_message_at)}</td><td>{escape(c.mode)}</td>"
                f'<td class="state">{"paused" if c.paused else "active"}</td>'
                f'<td><form class=inline method=post action="/chats/{quote(c.chat)}/{action}">'
                f"<button type=submit>{action.capitalize()}</button></form></td></tr>"
            )
        more = (
            f'<p><a href="/chats?{urlencode({"search": search, "after": page.end_cursor})}">'
            "Next page</a></p>"
            if page.end_cursor
            else ""
        )
        body = (
            f'<form method=get action="/chats"><input name=search value="{escape(search)}" '
            'placeholder="number, group or name"> <button type=submit>Search</button></form>'
            "<table><tr><th>Chat</th><th>Kind</th><th>Messages</th><th>Last message</th>"
            f"<th>Mode</th><th>State</th><th></th></tr>{''.join(rows)}</table>{more}"
        )
        return _page("Chats", body)

    async def chat(request: web.Request) -> web.Response:
        key = request.match_info["chat"]
        records = ops(request).records
        record = await records.chat(key)
        if record is None:
            return _page("No such chat", f"<p>No messages stored for {escape(key)}.</p>", 404)
        page = await records.messages(key, 100, request.query.get("after") or None)
        rows = []
        for e in reversed(page.items):
            state = e.state + (f" ({e.reason})" if e.reason else "")
            tokens = f"{e.prompt_tokens}+{e.completion_tokens}" if e.prompt_tokens else ""
            tools = ", ".join(t.tool for t in e.tool_calls)
            rows.append(
                f'<tr class="{e.direction}"><td>{_when(e.at)}</td>'
                f"<td>{escape(e.sender_name or e.sender)}</td>"
                f'<td>{escape(e.text)}</td><td class="state">{escape(state)}</td>'
                f"<td>{tokens}</td><td>{escape(tools)}</td></tr>"
            )
        older = (
            f'<p><a href="/chats/{quote(key)}?after={quote(page.end_cursor)}">Older</a></p>'
            if page.end_cursor
            else ""
        )
        action = "resume" if record.paused else "pause"
        body = (
            f"<p>{escape(key)} · {record.kind} · {record.message_count} messages · "
            f"{escape(record.mode)} {escape(record.thread_id or '')} · "
            f"{'paused' if record.paused else 'active'} "
            f'<form class=inline method=post action="/chats/{quote(key)}/{action}">'
            f"<button type=submit>{action.capitalize()}</button></form></p>{older}"
            "<table><tr><th>When</th><th>Who</th><th>Text</th><th>State</th><th>Tokens</th>"
            f"<th>Tools</th></tr>{''.join(rows)}</table>"
        )
        return _page(record.title, body)

    async def pause(request: web.Request) -> web.Response:
        await ops(request).pause(request.match_info["chat"])
        raise web.HTTPSeeOther(request.headers.get("Referer") or "/chats")

    async def resume(request: web.Request) -> web.Response:
        await ops(request).resume(request.match_info["chat"])
        raise web.HTTPSeeOther(request.headers.get("Referer") or "/chats")

    async def usage(request: web.Request) -> web.Response:
        o = ops(request)
        now = datetime.now(UTC)
        groups = await o.records.usage(
            now - timedelta(days=30), now + timedelta(seconds=1), "DAY", o.bot.settings.timezone
        )
        rows = "".join(
            f"<tr><td>{g.key}</td><td>{g.requests}</td><td>{g.prompt_tokens}</td>"
            f"<td>{g.completion_tokens}</td><td>{g.total_tokens}</td></tr>"
            for g in groups
        )
        body = (
            f"{usage_chart([(g.key, g.total_tokens) for g in groups])}"
            "<table><tr><th>Day</th><th>Requests</th><th>Prompt</th><th>Completion</th>"
            f"<th>Total tokens</th></tr>{rows}</table>"
        )
        return _page("Usage, last 30 days", body)

    async def failures(request: web.Request) -> web.Response:
        items = await ops(request).records.failures(100)
        rows = "".join(
            f'<tr><td>{_when(f.at)}</td><td><a href="/chats/{quote(f.chat)}">{escape(f.chat)}'
            f"</a></td><td>{escape(f.reason)}</td></tr>"
            for f in items
        )
        body = (
            f"<table><tr><th>When</th><th>Chat</th><th>Cause (turn.failed)</th></tr>{rows}</table>"
            if items
            else "<p>No failed turns.</p>"
        )
        return _page("Recent failures", body)

    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/", status)
    app.router.add_get("/chats", chats)
    app.router.add_get("/chats/{chat}", chat)
    app.router.add_post("/chats/{chat}/pause", pause)
    app.router.add_post("/chats/{chat}/resume", resume)
    app.router.add_get("/usage", usage)
    app.router.add_get("/failures", failures)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def usage_chart(days: list[tuple[str, int]], width: int = 720, height: int = 200) -> str:
    """Tokens per day as an SVG bar chart."""
    if not days:
        return "<p>No usage recorded yet.</p>"
    top = max(total for _, total in days) or 1
    bar = width / len(days)
    bars = []
    for i, (day, total) in enumerate(days):
        h = (height - 20) * total / top
        bars.append(
            f'<rect x="{i * bar + 2:.1f}" y="{height - 20 - h:.1f}" width="{max(bar - 4, 1):.1f}"'
            f' height="{h:.1f}" fill="#25d366"><title>{day}: {total} tokens</title></rect>'
        )
    return (
        f'<svg role="img" aria-label="tokens per day" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}'
        f'<text x="0" y="{height - 4}" font-size="12">{days[0][0]}</text>'
        f'<text x="{width}" y="{height - 4}" font-size="12" text-anchor="end">{days[-1][0]}'
        f'</text><text x="0" y="12" font-size="12">max {top} tokens</text></svg>'
    )
