"""The admin HTTP server: auth, /healthz, /readyz, /metrics, settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from bot.admin.server import serving
from bot.app import wire
from bot.errors import ConfigError, StartupError
from bot.settings import Settings, load_settings
from bot.whatsapp.convert import to_incoming
from tests import wa_events as wa
from tests.admin_kit import TOKEN, admin_server
from tests.fake_openai import FakeOpenAI, Text


async def test_healthz_needs_no_token_and_other_routes_do(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """/healthz answers anyone; /readyz, /metrics and /graphql answer 401 without the token."""
    async with admin_server(make_settings, fake_openai) as admin:
        async with admin.http.get(f"{admin.base}/healthz") as r:
            assert r.status == 200
        for path in ("/readyz", "/metrics"):
            async with admin.http.get(f"{admin.base}{path}") as r:
                assert r.status == 401, path
        async with admin.http.post(f"{admin.base}/graphql", json={"query": "{ping}"}) as r:
            assert r.status == 401
        async with admin.http.get(f"{admin.base}/readyz", headers=admin.auth()) as r:
            assert (r.status, await r.text()) == (200, "ready\n")


async def test_a_wrong_token_is_refused_and_logged_without_the_token(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """A wrong bearer token gets 401; the log says so and never holds either token."""
    async with admin_server(make_settings, fake_openai) as admin:
        with capture_logs() as logs:
            async with admin.http.get(
                f"{admin.base}/metrics", headers=admin.auth("guessed-token-456")
            ) as r:
                assert r.status == 401
    refused = [e for e in logs if e["event"] == "admin.unauthorized"]
    assert refused and refused[0]["path"] == "/metrics" and refused[0]["why"] == "wrong token"
    assert "guessed-token-456" not in repr(logs) and TOKEN not in repr(logs)


async def test_readyz_says_why_it_is_not_ready(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """While WhatsApp is not connected /readyz answers 503 with the reason."""
    async with admin_server(make_settings, fake_openai) as admin:
        admin.bot.liveness.connected = False
        async with admin.http.get(f"{admin.base}/readyz", headers=admin.auth()) as r:
            assert r.status == 503
            assert "whatsapp: not connected" in await r.text()


async def test_readyz_writes_its_probe_at_most_every_few_seconds(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """Frequent probes do not each write to the database: one probe row per interval."""
    async with admin_server(make_settings, fake_openai) as admin:
        admin.bot.liveness.connected = True
        real, probes = admin.bot.store.set_flag, []

        async def counting(key: str, value: str | None) -> None:
            probes.append(key)
            await real(key, value)

        admin.bot.store.set_flag = counting  # type: ignore[method-assign]
        for _ in range(3):
            async with admin.http.get(f"{admin.base}/readyz", headers=admin.auth()) as r:
                assert r.status == 200, await r.text()
    assert probes == ["admin.ready_probe"]


async def test_metrics_count_messages_latency_and_tokens(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """After one answered and one ignored message /metrics shows them, the latency and tokens."""
    async with admin_server(make_settings, fake_openai) as admin:
        fake_openai.script(Text("Hello Ada"))
        admin.bot.pipeline.submit(to_incoming(wa.private_text("hi", sender="15550001111")))
        admin.bot.pipeline.submit(to_incoming(wa.status_broadcast(sender="15550001111")))
        admin.bot.pipeline.submit(to_incoming(wa.group_text("chatter", sender="15550002222")))
        await admin.bot.pipeline.join()
        async with admin.http.get(f"{admin.base}/metrics", headers=admin.auth()) as r:
            text = await r.text()
    assert 'bot_messages_total{outcome="received",reason=""} 1.0' in text
    assert 'bot_messages_total{outcome="answered",reason=""} 1.0' in text
    assert 'bot_messages_total{outcome="ignored",reason="group_not_addressed"} 1.0' in text
    assert 'bot_openai_reply_seconds_count{mode="chat"} 1.0' in text
    assert 'bot_openai_tokens_total{kind="completion"' in text
    assert "bot_turns_in_flight 0.0" in text
    assert "bot_reminders_pending 0.0" in text


def test_a_reachable_admin_server_needs_a_token() -> None:
    """ADMIN_HTTP_ADDR on a non-loopback address without ADMIN_TOKEN is a settings error."""
    env = {"OPENAI_API_KEY": "sk-x", "ADMIN_HTTP_ADDR": "0.0.0.0:8080"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "ADMIN_TOKEN" in caught.value.problems
    assert load_settings({**env, "ADMIN_HTTP_ADDR": "127.0.0.1:8080"}).admin_token is None
    assert load_settings({**env, "ADMIN_TOKEN": "t"}).admin_http_addr is not None


async def test_a_stalled_client_does_not_delay_replies(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """A client that sends half a request and stalls holds nothing: messages are answered."""
    async with admin_server(make_settings, fake_openai) as admin:
        host, port = admin.base.removeprefix("http://").split(":")
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
        await writer.drain()
        fake_openai.script(Text("still here"))
        admin.bot.pipeline.submit(to_incoming(wa.private_text("hi", sender="15550001111")))
        await asyncio.wait_for(admin.bot.pipeline.join(), 10)
        assert admin.transport.texts() == ["still here"]
        writer.close()
        await writer.wait_closed()


async def test_a_port_in_use_stops_start_up(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """An ADMIN_HTTP_ADDR another process listens on is a start-up error naming the key."""
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url, ADMIN_HTTP_ADDR=f"127.0.0.1:{port}"
    )
    try:
        async with wire(settings) as bot:
            with pytest.raises(StartupError, match="ADMIN_HTTP_ADDR"):
                async with serving(bot):
                    pass
    finally:
        taken.close()
        await taken.wait_closed()
