"""Groups: answer only when addressed (mention by JID or LID, reply to the bot, prefix)."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from storage.store import Store
from tests import wa_events as wa
from tests.harness import harness

GROUP_JID = f"{wa.GROUP}@g.us"
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
