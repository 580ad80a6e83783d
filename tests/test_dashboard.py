"""Dashboard pages over HTTP (no browser): login cookie, pairing QR, usage chart, failures."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from tests import wa_events as wa
from tests.admin_kit import TOKEN, Admin, admin_server
from tests.fake_openai import Fail, FakeOpenAI, Text


async def _login(admin: Admin) -> None:
    """Log in through the form; the session cookie stays in the client's jar."""
    async with admin.http.post(f"{admin.base}/login", data={"token": TOKEN}) as r:
        assert r.status == 200  # followed the redirect to the status page
    cookie = next(c for c in admin.http.cookie_jar if c.key == "admin_session")
    assert TOKEN not in cookie.value and cookie["httponly"]


async def test_status_shows_the_pairing_qr_code_while_not_linked(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """Before the device is linked the status page draws the QR code (SVG) or the pairing code."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _login(admin)
        admin.bot.liveness.connected = False
        admin.bot.liveness.pairing_qr = "2@AbCdEf,ghIJ,klmn=="
        async with admin.http.get(f"{admin.base}/") as r:
            html = await r.text()
        assert "not connected" in html and "<svg" in html and "Link this device" in html
        admin.bot.liveness.pairing_qr, admin.bot.liveness.pairing_code = None, "ABCD-1234"
        async with admin.http.get(f"{admin.base}/") as r:
            assert "ABCD-1234" in await r.text()


async def test_usage_chart_and_failures(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """/usage draws a bar per day; /failures lists the failed turn's cause."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _login(admin)
        fake_openai.script(Text("fine"), Fail(500))
        for text in ("works", "breaks"):
            admin.bot.pipeline.submit(to_incoming(wa.private_text(text, sender="15550001111")))
            await admin.bot.pipeline.join()
        async with admin.http.get(f"{admin.base}/usage") as r:
            usage = await r.text()
        async with admin.http.get(f"{admin.base}/failures") as r:
            failures = await r.text()
    assert usage.count("<rect") == 1 and "tokens per day" in usage
    assert "15550001111@s.whatsapp.net" in failures and "No failed turns" not in failures
