"""One person, one set of rules: a rule naming a phone number or a LID matches the person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest
from neonize.proto.Neonize_pb2 import Message as MessageEv

from bot.settings import Settings
from storage.store import Store
from tests import wa_events as wa
from tests.harness import harness

PHONE = "15550001111"
LID = wa.lid_for(PHONE)
ADMIN = "15550009999"
Via = Literal["pn", "lid", "both"]

#: (the id a rule names, the id the person writes under): each rule is tested both ways.
DIRECTIONS = [
    pytest.param("pn", "lid", id="rule-names-phone-writes-under-lid"),
    pytest.param("lid", "pn", id="rule-names-lid-writes-under-phone"),
]


def number(kind: Via) -> str:
    """The digits a setting or a command uses for the person's phone number or LID."""
    return PHONE if kind == "pn" else LID


def key(kind: Via) -> str:
    """The JID of the person's phone number or LID."""
    return f"{PHONE}@s.whatsapp.net" if kind == "pn" else f"{LID}@lid"


def as_person(text: str, via: Via, *, from_me: bool = False) -> MessageEv:
    """A private text from (or, ``from_me``, to) the person under one id or both.

    ``both`` is how the bot learns that the two belong together (the event carries the
    alternative id); ``lid`` alone is what WhatsApp sends when it does not give the phone number.
    """
    if via == "pn":
        return wa.private_text(text, sender=PHONE, from_me=from_me)
    ev = wa.private_text(text, sender=PHONE, addressing="lid", from_me=from_me)
    if via == "lid":
        source = ev.Info.MessageSource
        source.SenderAlt.CopyFrom(wa.jid())
        source.RecipientAlt.CopyFrom(wa.jid())
    return ev


def in_group(text: str, via: Via) -> MessageEv:
    """A text from the person in a group, under one id only."""
    ev = wa.group_text(text, sender=PHONE, addressing=via if via != "both" else "lid")
    if via == "lid":
        ev.Info.MessageSource.SenderAlt.CopyFrom(wa.jid())
    return ev


async def outcomes(store: Store, chat: str) -> list[tuple[str, str | None]]:
    """(text, ignore reason) of every message stored in ``chat``, in order."""
    return [(m.text, m.reason) for m in await store.messages(chat)]


@pytest.mark.parametrize(("named", "writes"), DIRECTIONS)
async def test_blocked_numbers_block_the_person_under_either_id(
    named: Via, writes: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """BLOCKED_NUMBERS naming one id blocks the person writing under the other, once linked."""
    async with harness(make_settings(BLOCKED_NUMBERS=number(named)), store) as h:
        await h.send(as_person("before the link", writes))
        await h.send(as_person("linking", "both"))
        await h.send(as_person("after the link", writes))
        assert [t.text for t in h.backend.turns] == ["before the link"]
    assert await outcomes(store, key(writes)) == [
        ("before the link", None),
        ("linking", "blocked"),
        ("after the link", "blocked"),
    ]


@pytest.mark.parametrize(("named", "writes"), DIRECTIONS)
async def test_rules_follow_the_person_into_groups(
    named: Via, writes: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """In a group, a sender under one id is blocked, or an admin, by a rule naming the other."""
    env = {"GROUP_MODE": "all", "BLOCKED_NUMBERS": "15550004444", "ADMIN_NUMBERS": ADMIN}
    async with harness(make_settings(**(env | {"BLOCKED_NUMBERS": number(named)})), store) as h:
        await h.send(as_person("linking", "both"))
        await h.send(in_group("hello group", writes))
        assert h.backend.turns == []
    async with harness(make_settings(**(env | {"ADMIN_NUMBERS": number(named)})), store) as h:
        await h.send(in_group("/forget", writes))
        assert "To go ahead" in h.transport.texts()[-1]
    assert await outcomes(store, f"{wa.GROUP}@g.us") == [
        ("hello group", "blocked"),
        ("/forget", "command"),
    ]


@pytest.mark.parametrize(("named", "writes"), DIRECTIONS)
async def test_allowed_numbers_admit_the_person_under_either_id(
    named: Via, writes: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """ALLOWED_NUMBERS naming one id admits the person writing under the other, once linked."""
    async with harness(make_settings(ALLOWED_NUMBERS=number(named)), store) as h:
        await h.send(as_person("before the link", writes))
        await h.send(as_person("linking", "both"))
        await h.send(as_person("after the link", writes))
        assert [t.text for t in h.backend.turns] == ["linking", "after the link"]
    assert await outcomes(store, key(writes)) == [
        ("before the link", "not_allowed"),
        ("linking", None),
        ("after the link", None),
    ]


@pytest.mark.parametrize(("named", "writes"), DIRECTIONS)
async def test_admin_numbers_make_the_person_admin_under_either_id(
    named: Via, writes: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """ADMIN_NUMBERS naming one id makes the person an admin (commands, pause) under the other."""
    async with harness(make_settings(ADMIN_NUMBERS=number(named)), store) as h:
        await h.send(as_person("/status", writes))
        await h.send(as_person("/status", "both"))
        await h.send(as_person("/status", writes))
        refused, *answers = h.transport.texts()
        assert "only for the bot's admins" in refused
        assert [a.startswith("Bot status:") for a in answers] == [True, True]
        await h.send(as_person("/pause", writes))
        assert await store.get_flag("paused") is not None
        await h.send(as_person("still answered while paused", writes))
        await h.send(wa.private_text("and me?", sender="15550002222"))
        assert [t.text for t in h.backend.turns] == ["still answered while paused"]


@pytest.mark.parametrize(("ruled", "first"), DIRECTIONS)
async def test_a_chat_pause_given_for_one_id_holds_for_the_person(
    ruled: Via, first: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """/pause naming one id before the bot links it to the other still pauses the person after."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(as_person("first contact", first))
        target = PHONE if ruled == "pn" else f"{LID}@lid"
        await h.send(wa.private_text(f"/pause {target}", sender=ADMIN))
        assert h.transport.texts()[-1].startswith("Paused for")
        await h.send(as_person("linking", "both"))
        await h.send(as_person("under the first id", first))
        await h.send(as_person("under the paused id", ruled))
        assert [t.text for t in h.backend.turns] == ["first contact"]
    assert await outcomes(store, key(first)) == [
        ("first contact", None),
        ("linking", "chat_paused"),
        ("under the first id", "chat_paused"),
        ("under the paused id", "chat_paused"),
    ]


async def test_pause_by_bare_digits_finds_a_known_lid(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """/pause <digits> with the digits of a known LID pauses that person, not a phone number."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(as_person("linking", "both"))
        await h.send(wa.private_text(f"/pause {LID}", sender=ADMIN))
        await h.send(as_person("paused?", "pn"))
        await h.send(wa.private_text(f"/resume {LID}", sender=ADMIN))
        await h.send(as_person("resumed?", "pn"))
        assert [t.text for t in h.backend.turns] == ["linking", "resumed?"]
    assert ("paused?", "chat_paused") in await outcomes(store, key("pn"))


@pytest.mark.parametrize(("owner", "first"), DIRECTIONS)
async def test_owner_hand_off_under_one_id_holds_for_the_person(
    owner: Via, first: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """The owner typing in the chat under one id silences the bot for the person under the other."""
    async with harness(make_settings(), store) as h:
        await h.send(as_person("first contact", first))
        await h.send(as_person("the owner steps in", owner, from_me=True))
        await h.send(as_person("linking", "both"))
        await h.send(as_person("under the first id", first))
        assert [t.text for t in h.backend.turns] == ["first contact"]
    assert await outcomes(store, key(first)) == [
        ("first contact", None),
        ("the owner steps in", "from_me"),
        ("linking", "handoff"),
        ("under the first id", "handoff"),
    ]


@pytest.mark.parametrize("limit", ["rate", "budget"])
@pytest.mark.parametrize(("later", "first"), DIRECTIONS)
async def test_limits_count_the_person_and_tell_them_once(
    limit: str, later: Via, first: Via, make_settings: Callable[..., Settings], store: Store
) -> None:
    """Rate limit and budget count the person under both ids and notify once, across the link."""
    env = {"RATE_LIMIT_PER_MINUTE": 1} if limit == "rate" else {"DAILY_TOKEN_BUDGET": 7}
    async with harness(make_settings(**env), store) as h:
        await h.send(as_person("under the first id", first))
        await h.send(as_person("under the other id", later))
        await h.send(as_person("over under the other id", later))
        await h.send(as_person("linking", "both"))
        await h.send(as_person("again under the first id", first))
        assert [t.text for t in h.backend.turns] == ["under the first id", "under the other id"]
        notices = [t for t in h.transport.texts() if not t.startswith("re: ")]
        assert len(notices) == 1
    reason = "rate_limited" if limit == "rate" else "budget_exceeded"
    assert [r for _, r in await outcomes(store, key(first))] == [None, None, reason, reason, reason]
