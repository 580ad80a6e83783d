"""Groups: answer only when addressed (mention by JID or LID, reply to the bot, prefix)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.pipeline import Pipeline
from bot.reminders import ReminderService
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.backends.factory import build_backend
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from storage.store import Store
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock, FakeTransport
from tests.harness import harness

GROUP_JID = f"{wa.GROUP}@g.us"
ALICE = "15550001111"
BOB = "15550002222"


async def test_mention_mode_answers_only_what_addresses_the_bot(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Chatter is ignored; PN mention, LID mention, reply-to-bot and prefix are answered."""
    async with harness(make_settings(BOT_TRIGGER_PREFIX="bot,"), store) as h:
        await h.send(wa.group_text("just chatting", sender=BOB, push_name="Bob"))
        assert h.transport.sent == []
        await h.send(
            wa.group_text(
                "@15559990000 what time is it?",
                sender=BOB,
                push_name="Bob",
                mentions=[wa.BOT_PHONE],
            )
        )
        await h.send(
            wa.group_text(
                "@199990000000001 and in Paris?",
                sender=BOB,
                push_name="Bob",
                addressing="lid",
                mentions=[wa.BOT_LID],
            )
        )
        bot_msg = h.transport.sent[0].wa_id
        await h.send(
            wa.group_text(
                "thanks, and Rome?",
                sender=BOB,
                push_name="Bob",
                quoted_id=bot_msg,
                quoted_sender=f"{wa.BOT_PHONE}@s.whatsapp.net",
            )
        )
        await h.send(wa.group_text("bot, tell a joke", sender=BOB, push_name="Bob"))
        await h.send(wa.group_text("@15550003333 not you", sender=BOB, mentions=["15550003333"]))
        texts = [t.text for t in h.backend.turns]
        assert texts == [
            "@15559990000 what time is it?",
            "@199990000000001 and in Paris?",
            "thanks, and Rome?",
            "bot, tell a joke",
        ]
        reasons = [m.reason for m in await store.messages(GROUP_JID) if m.state == "ignored"]
        assert reasons == ["group_not_addressed", "group_not_addressed"]


async def test_group_replies_quote_and_attribute_the_sender(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """In a group the reply quotes the message; the turn carries the sender's name."""
    async with harness(make_settings(GROUP_MODE="all"), store) as h:
        ev = wa.group_text("hello all", sender=BOB, push_name="Bob", msg_id="G1")
        await h.send(ev)
        [sent] = h.transport.sent
        assert (sent.to, sent.quoted_id) == (GROUP_JID, "G1")
        [turn] = h.backend.turns
        assert (turn.chat, turn.sender_name, turn.is_group) == (GROUP_JID, "Bob", True)
        await h.send(wa.private_text("hi in private", sender=BOB))
        assert h.transport.sent[-1].quoted_id is None


async def test_group_mode_off_and_allowlist(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """GROUP_MODE=off ignores groups; GROUP_ALLOWLIST limits which groups are served."""
    mention = {"mentions": [wa.BOT_PHONE], "sender": BOB}
    async with harness(make_settings(GROUP_MODE="off"), store) as h:
        await h.send(wa.group_text("@bot hi", **mention))
        assert h.transport.sent == []
    async with harness(make_settings(GROUP_ALLOWLIST="120363000000000777@g.us"), store) as h:
        await h.send(wa.group_text("@bot hi", msg_id="X2", **mention))
        await h.send(wa.group_text("@bot hi", group="120363000000000777", msg_id="X3", **mention))
        assert [s.to for s in h.transport.sent] == ["120363000000000777@g.us"]
    reasons = [m.reason for m in await store.messages(GROUP_JID)]
    assert reasons == ["group_off", "group_not_allowed"]


async def test_blocked_and_allowed_numbers_match_phone_and_lid(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Blocked senders get nothing; with ALLOWED_NUMBERS only listed people (by PN or LID)."""
    settings = make_settings(ALLOWED_NUMBERS="15550001111", BLOCKED_NUMBERS="15550004444")
    async with harness(settings, store) as h:
        await h.send(wa.private_text("blocked here", sender="15550004444", addressing="lid"))
        await h.send(wa.private_text("stranger here", sender="15550005555"))
        await h.send(wa.private_text("allowed via lid", sender="15550001111", addressing="lid"))
        assert h.transport.texts() == ["re: allowed via lid"]
        blocked = await store.messages("15550004444@s.whatsapp.net")
        assert [(m.state, m.reason) for m in blocked] == [("ignored", "blocked")]
        stranger = await store.messages("15550005555@s.whatsapp.net")
        assert [(m.state, m.reason) for m in stranger] == [("ignored", "not_allowed")]


async def test_a_tool_called_in_a_group_acts_on_the_group(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """A reminder set in a group belongs to the group and goes to the group, not to the sender."""
    clock, transport = FakeClock(), FakeTransport()
    settings = make_settings(
        GROUP_MODE="all", OPENAI_API_MODE="chat", OPENAI_BASE_URL=fake_openai.base_url
    )
    tools = ToolBox(
        build_registry(settings),
        clock=clock,
        timezone=settings.timezone,
        timeout=5,
        max_rounds=3,
        services={"store": store},
    )
    pipeline = Pipeline(
        settings=settings,
        store=store,
        backend=build_backend(settings, store, tools),
        transport=transport,
        clock=clock,
    )
    due = clock.now() + timedelta(hours=1)
    fake_openai.script(
        ToolCalls([("set_reminder", {"when": due.isoformat(), "text": "order pizza"})]),
        Text("I'll remind the group."),
    )
    await pipeline.start()
    pipeline.submit(to_incoming(wa.group_text("remind us in an hour", sender=BOB)))
    await pipeline.join()
    await pipeline.drain(timeout=1)
    await pipeline.close()
    await pipeline.backend.aclose()
    assert transport.texts() == ["I'll remind the group."]
    [reminder] = await store.reminders_for(GROUP_JID)
    assert (reminder.chat_jid, reminder.sender) == (GROUP_JID, f"{BOB}@s.whatsapp.net")
    assert await store.reminders_for(f"{BOB}@s.whatsapp.net") == []
    await clock.advance(3600)
    assert await ReminderService(store, lambda: transport, clock).deliver_due() == 1
    assert (transport.sent[-1].to, transport.sent[-1].text) == (
        GROUP_JID,
        "⏰ Reminder: order pizza",
    )


async def test_debounce_never_merges_different_senders(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Two people writing in a group within DEBOUNCE_SECONDS get a turn each, each their own."""
    clock = FakeClock()
    async with harness(
        make_settings(GROUP_MODE="all", DEBOUNCE_SECONDS=1.5), store, clock=clock
    ) as h:
        h.pipeline.submit(to_incoming(wa.group_text("from alice", sender=ALICE, push_name="Al")))
        await clock.wait_for_sleepers(1)
        h.pipeline.submit(to_incoming(wa.group_text("from bob", sender=BOB, push_name="Bob")))
        await h.pipeline.stored()
        # Alice's window saw a message arrive (Bob's), so it waits once more; then Bob's turn
        # waits its own window. Merged, there would be no third window to wait for.
        for _ in range(3):
            await clock.wait_for_sleepers(1)
            await clock.advance(1.5)
        await h.pipeline.join()
        turns = [(t.text, t.sender_name, len(t.message_ids)) for t in h.backend.turns]
        assert turns == [("from alice", "Al", 1), ("from bob", "Bob", 1)]
