"""Junk is ignored, never answered: malformed ids are quarantined, over-long turns refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog
from neonize.proto.Neonize_pb2 import JID
from neonize.proto.Neonize_pb2 import Message as MessageEv

from bot import jid, junk
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.splitting import CUT_NOTE
from storage.store import Store
from tests import wa_events as wa
from tests.fakes import FakeClock
from tests.harness import harness

ALICE = "15550001111"
ALICE_JID = f"{ALICE}@s.whatsapp.net"


def with_sender(ev: MessageEv, user: str, server: str) -> MessageEv:
    """``ev`` with its Sender (and, in a private chat, its Chat) replaced by ``user@server``."""
    bad = JID(User=user, RawAgent=0, Device=0, Integrator=0, Server=server, IsEmpty=False)
    source = ev.Info.MessageSource
    source.Sender.CopyFrom(bad)
    if not source.IsGroup:
        source.Chat.CopyFrom(bad)
    source.SenderAlt.CopyFrom(wa.jid())
    return ev


#: (user, server) pairs no real WhatsApp message comes from.
JUNK_SENDERS = [
    ("", "s.whatsapp.net"),  # bare server
    ("", "g.us"),
    ("", "lid"),
    ("1555\x000001111", "s.whatsapp.net"),  # NUL inside
    ("1555\n0001111", "s.whatsapp.net"),  # control character
    ("15550001111", "example.com"),  # unknown server
    ("15550001111", ""),
    ("alice", "s.whatsapp.net"),  # not a phone number
    ("15550001111", "g.us"),  # a group as a private sender
    ("1555000.1111", "s.whatsapp.net"),  # a dot in the User field reads as an agent
    ("15550001111:7", "s.whatsapp.net"),  # a device smuggled into the User field
]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("15551234567@s.whatsapp.net", None),
        ("15551234567:12@s.whatsapp.net", None),
        ("123456789012345@lid", None),
        ("120363000000000001@g.us", None),
        ("15551234567-1612345678@g.us", None),
        ("status@broadcast", None),
        ("120363000000000099@newsletter", None),
        ("", "empty"),
        ("s.whatsapp.net", "no_user"),
        ("g.us", "no_user"),
        ("@s.whatsapp.net", "no_user"),
        ("1555\x00@s.whatsapp.net", "bad_characters"),
        ("1555 1@s.whatsapp.net", "bad_characters"),
        ("１５５５@s.whatsapp.net", "bad_characters"),
        ("1555@example.com", "unknown_server"),
        ("alice@s.whatsapp.net", "bad_user"),
        ("1555@s.whatsapp.net@lid", "bad_syntax"),
        ("1555:x@s.whatsapp.net", "bad_syntax"),
        ("1555:0@s.whatsapp.net", "not_canonical"),
        ("1555.0:0@s.whatsapp.net", "not_canonical"),
    ],
)
def test_problem_names_what_is_wrong_with_a_jid(value: str, problem: str | None) -> None:
    """The strict check accepts real JIDs and names the defect of malformed ones."""
    assert jid.problem(value) == problem


def test_problem_can_require_a_kind_of_server() -> None:
    """A well-formed group JID is still wrong where a person is expected."""
    assert jid.problem("120363000000000001@g.us", jid.PERSON_SERVERS) == "wrong_server"
    assert jid.problem(ALICE_JID, jid.PERSON_SERVERS) is None
    assert jid.problem("1555:12@s.whatsapp.net", bare=True) == "not_bare"


def test_channel_posts_and_status_updates_are_not_junk() -> None:
    """A channel post (sent by the channel) and a status update have well-formed ids."""
    assert junk.malformed(to_incoming(wa.newsletter())) is None
    assert junk.malformed(to_incoming(wa.status_broadcast(sender=ALICE))) is None


async def test_malformed_senders_are_stored_apart_and_never_answered(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Each junk sender is stored as ignored in the quarantine; nothing reaches the model."""
    async with harness(make_settings(), store) as h:
        for n, (user, server) in enumerate(JUNK_SENDERS):
            await h.send(with_sender(wa.private_text(f"junk {n}", msg_id=f"J{n}"), user, server))
        await h.send(wa.private_text("hello", sender=ALICE, msg_id="REAL"))
        assert [t.text for t in h.backend.turns] == ["hello"]
        assert h.transport.texts() == ["re: hello"]
        quarantined = await store.messages(junk.QUARANTINE_CHAT)
        assert sorted(m.wa_id for m in quarantined) == sorted(
            f"J{n}" for n in range(len(JUNK_SENDERS))
        )
        assert {(m.state, m.reason, m.sender) for m in quarantined} == {
            ("ignored", "malformed_jid", junk.QUARANTINE_CHAT)
        }
        assert [m.wa_id for m in await store.messages(ALICE_JID)] == ["REAL"]


async def test_a_malformed_alternative_id_cannot_merge_two_people(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Two senders claiming the same bare-server alt id stay apart: both are quarantined."""
    async with harness(make_settings(), store) as h:
        for sender in (ALICE, "15550002222"):
            ev = wa.private_text("hi", sender=sender)
            ev.Info.MessageSource.SenderAlt.CopyFrom(
                JID(User="", RawAgent=0, Device=0, Integrator=0, Server="lid", IsEmpty=False)
            )
            await h.send(ev)
        assert h.backend.turns == []
        assert len(await store.messages(junk.QUARANTINE_CHAT)) == 2
        assert await store.messages(ALICE_JID) == []


async def test_a_group_event_without_sender_is_ignored_without_a_traceback(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """No sender in a group: quarantined with a reason, no intake failure logged."""
    ev = wa.group_text("@bot hi", sender=ALICE, mentions=[wa.BOT_PHONE], msg_id="NOSENDER")
    ev.Info.MessageSource.Sender.CopyFrom(wa.jid())
    async with harness(make_settings(), store) as h:
        with structlog.testing.capture_logs() as logs:
            await h.send(ev)
        assert h.backend.turns == []
    events = {entry["event"] for entry in logs}
    assert "message.intake_failed" not in events
    assert not any("exc_info" in entry for entry in logs)
    [stored] = await store.messages(junk.QUARANTINE_CHAT)
    assert (stored.wa_id, stored.state, stored.reason) == ("NOSENDER", "ignored", "malformed_jid")
    assert {e["field"] for e in logs if e.get("reason") == "malformed_jid"} == {"sender"}


async def test_a_message_without_an_id_is_stored_as_ignored(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A message with no WhatsApp id is kept (as malformed_id), not dropped unrecorded."""
    ev = wa.private_text("who am I", sender=ALICE)
    ev.Info.ID = ""
    async with harness(make_settings(), store) as h:
        await h.send(ev)
        assert h.transport.sent == []
    [stored] = await store.messages(junk.QUARANTINE_CHAT)
    assert (stored.state, stored.reason, stored.text) == ("ignored", "malformed_id", "who am I")


async def test_a_turn_over_max_input_chars_gets_a_notice_and_no_model_call(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """An over-long message is refused with a short notice and recorded as too_long."""
    async with harness(make_settings(MAX_INPUT_CHARS=100), store) as h:
        await h.send(wa.private_text("x" * 101, sender=ALICE, msg_id="LONG"))
        await h.send(wa.private_text("y" * 100, sender=ALICE, msg_id="FITS"))
        assert [t.text for t in h.backend.turns] == ["y" * 100]
        notice, answer = h.transport.texts(ALICE_JID)
        assert notice == junk.too_long_notice(100) and len(notice) < 200
        assert answer == "re: " + "y" * 100
    states = {m.wa_id: (m.state, m.reason) for m in await store.messages(ALICE_JID)}
    assert states == {"LONG": ("ignored", "too_long"), "FITS": ("answered", None)}


async def test_the_input_cap_applies_to_the_whole_debounced_turn(
    make_settings: Callable[..., Settings], store: Store, clock: FakeClock
) -> None:
    """Two messages that fit alone but not together, joined by debounce, are refused."""
    settings = make_settings(MAX_INPUT_CHARS=100, DEBOUNCE_SECONDS=1)
    async with harness(settings, store, clock=clock) as h:
        h.pipeline.submit(to_incoming(wa.private_text("a" * 60, sender=ALICE)))
        await clock.wait_for_sleepers(1)  # the first message waits for follow-ups
        h.pipeline.submit(to_incoming(wa.private_text("b" * 60, sender=ALICE)))
        await h.pipeline.stored()
        await clock.advance(1)  # the follow-up joins the turn; one more quiet window
        await clock.wait_for_sleepers(1)
        await clock.advance(1)
        await h.pipeline.join()
        assert h.backend.turns == []
        assert h.transport.texts() == [junk.too_long_notice(100)]
    assert {m.reason for m in await store.messages(ALICE_JID)} == {"too_long"}


async def test_a_long_reply_is_cut_at_max_reply_parts(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A reply needing many parts sends MAX_REPLY_PARTS, the last one saying it was cut."""
    settings = make_settings(MAX_MESSAGE_CHARS=200, MAX_REPLY_PARTS=3)
    async with harness(settings, store) as h:
        await h.send(wa.private_text("word " * 400, sender=ALICE))
        sent = h.transport.texts()
    assert len(sent) == 3
    assert all(len(part) <= 200 for part in sent)
    assert sent[-1].endswith(CUT_NOTE) and not sent[0].endswith(CUT_NOTE)
