"""The admin server on a wired bot (fake OpenAI, fake transport), and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.admin.server import serving
from bot.app import Bot, _serve, _stop_reminders, wire
from bot.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeTransport

TOKEN = "admin-secret-token-123"


@dataclass
class Admin:
    """A running bot with its admin server, and an HTTP session to talk to it."""

    bot: Bot
    transport: FakeTransport
    base: str
    http: aiohttp.ClientSession

    def auth(self, token: str = TOKEN) -> dict[str, str]:
        """The header that authorises a request."""
        return {"Authorization": f"Bearer {token}"}

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        """POST a GraphQL query with the token; its ``data`` (errors fail the test)."""
        async with self.http.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables},
            headers=self.auth(),
        ) as response:
            body = await response.json()
        assert response.status == 200, body
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@asynccontextmanager
async def admin_server(
    make_settings: Callable[..., Settings], fake: FakeOpenAI, **env: Any
) -> AsyncIterator[Admin]:
    """Wire the bot against ``fake`` with the admin server on a free loopback port."""
    settings = make_settings(
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_MAX_RETRIES=0,
        ADMIN_HTTP_ADDR="127.0.0.1:0",
        ADMIN_TOKEN=TOKEN,
        **env,
    )
    transport = FakeTransport()
    async with wire(settings) as bot, serving(bot) as runner:
        bot.liveness.connected = True
        loops = await _serve(bot, transport)
        port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                yield Admin(bot, transport, f"http://127.0.0.1:{port}", http)
        finally:
            await _stop_reminders(loops)
            await bot.pipeline.drain(1)
            await bot.pipeline.close()
