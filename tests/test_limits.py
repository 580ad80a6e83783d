"""Rate limit and daily budget, from stored records: told once, enforced across restarts."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from storage.store import Store
from tests import wa_events as wa
from tests.fakes import FakeClock, FakeTransport
from tests.harness import harness

USER = "15550001111"
USER_JID = f"{USER}@s.whatsapp.net"


async def test_rate_limit_tells_once_and_survives_a_restart(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Over RATE_LIMIT_PER_MINUTE: one plain notice, then silence, also after a restart."""
    settings = make_settings(RATE_LIMIT_PER_MINUTE=2)
    clock, transport = FakeClock(), FakeTransport()
    async with harness(settings, store, clock=clock, transport=transport) as h:
        for i in range(4):
            await h.send(wa.private_text(f"m{i}", sender=USER, timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["m0", "m1"]
        notices = [t for t in transport.texts() if "faster than I can answer" in t]
        assert len(notices) == 1 and "2 per minute" in notices[0]
    async with harness(settings, store, clock=clock, transport=transport) as h:
        await h.send(wa.private_text("after restart", sender=USER, timestamp=clock.now()))
        assert h.backend.turns == []
        await clock.advance(61)
        await h.send(wa.private_text("a minute later", sender=USER, timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["a minute later"]
    reasons = [m.reason for m in await store.messages(USER_JID) if m.state == "ignored"]
    assert reasons == ["rate_limited", "rate_limited", "rate_limited"]


async def test_daily_budget_stops_users_but_not_admins(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Once today's tokens reach DAILY_TOKEN_BUDGET the user is told when they can go on."""
    settings = make_settings(DAILY_TOKEN_BUDGET=10, ADMIN_NUMBERS="15550009999")
    clock, transport = FakeClock(), FakeTransport()
    async with harness(settings, store, clock=clock, transport=transport) as h:
        for text in ("one", "two", "three", "four"):
            await h.send(wa.private_text(text, sender=USER, timestamp=clock.now()))
        for text in ("a1", "a2", "a3"):
            await h.send(wa.private_text(text, sender="15550009999", timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["one", "two", "a1", "a2", "a3"]
        budget = [t for t in transport.texts() if "budget" in t]
        assert len(budget) == 1 and "I'll answer again from" in budget[0]
    async with harness(settings, store, clock=clock, transport=transport) as h:
        await h.send(wa.private_text("after restart", sender=USER, timestamp=clock.now()))
        assert h.backend.turns == []  # still over budget, and not told twice
        assert len([t for t in transport.texts() if "budget" in t]) == 1
        await clock.advance(24 * 3600)
        await h.send(wa.private_text("next day", sender=USER, timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["next day"]


async def test_spending_exactly_the_daily_budget_stops_the_next_turn(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Today's tokens equal to DAILY_TOKEN_BUDGET (not only above it) mean the budget is used up."""
    settings = make_settings(DAILY_TOKEN_BUDGET=14)  # two scripted turns of 7 tokens each
    clock, transport = FakeClock(), FakeTransport()
    async with harness(settings, store, clock=clock, transport=transport) as h:
        for text in ("one", "two", "three"):
            await h.send(wa.private_text(text, sender=USER, timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["one", "two"]
        assert sum(u.total_tokens for u in await store.usage_rows(USER_JID)) == 14
    reasons = [m.reason for m in await store.messages(USER_JID)]
    assert reasons == [None, None, "budget_exceeded"]
