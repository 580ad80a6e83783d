"""Tests for the JID string parser, formatter and helpers."""

from __future__ import annotations

import pytest
from neonize.proto.Neonize_pb2 import JID
from neonize.utils.jid import Jid2String

from bot import jid
from bot.jid import Jid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15551234567@s.whatsapp.net", Jid("15551234567", "s.whatsapp.net")),
        ("15551234567:12@s.whatsapp.net", Jid("15551234567", "s.whatsapp.net", 0, 12)),
        ("123456789012345:3@lid", Jid("123456789012345", "lid", 0, 3)),
        ("15551234567.1:7@s.whatsapp.net", Jid("15551234567", "s.whatsapp.net", 1, 7)),
        ("15551234567.2@hosted", Jid("15551234567", "hosted", 2, 0)),
        ("120363000000000001@g.us", Jid("120363000000000001", "g.us")),
        ("status@broadcast", Jid("status", "broadcast")),
        ("s.whatsapp.net", Jid("", "s.whatsapp.net")),
    ],
)
def test_parse_reads_every_part(text: str, expected: Jid) -> None:
    """User, agent, device and server come out of the string as whatsmeow reads them."""
    assert jid.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "15551234567:12@s.whatsapp.net",
        "15551234567.1:7@s.whatsapp.net",
        "123@lid",
        "120363000000000001@g.us",
        "s.whatsapp.net",
    ],
)
def test_format_round_trips(text: str) -> None:
    """Formatting a parsed JID gives the original string back."""
    assert str(jid.parse(text)) == text


def test_format_matches_neonize() -> None:
    """Our formatter writes what neonize's ``Jid2String`` writes for the same JID."""
    proto = JID(User="1555", RawAgent=1, Device=7, Integrator=0, Server="s.whatsapp.net")
    assert str(Jid("1555", "s.whatsapp.net", 1, 7)) == Jid2String(proto)


@pytest.mark.parametrize(
    "text",
    ["", "a@b@c", "1555:x@s.whatsapp.net", "1.2.3@s.whatsapp.net", "1.1:2:3@lid", "1555@"],
)
def test_parse_rejects_malformed(text: str) -> None:
    """Malformed strings raise ValueError naming the JID."""
    with pytest.raises(ValueError, match="invalid JID"):
        jid.parse(text)


def test_bare_drops_agent_and_device() -> None:
    """``bare`` keeps only user and server."""
    assert jid.bare("15551234567:12@s.whatsapp.net") == "15551234567@s.whatsapp.net"
    assert jid.bare("15551234567.1:7@s.whatsapp.net") == "15551234567@s.whatsapp.net"
    assert jid.bare("123@lid") == "123@lid"


def test_bare_or_none_never_raises() -> None:
    """``bare_or_none`` gives None instead of raising."""
    assert jid.bare_or_none("1555:1@s.whatsapp.net") == "1555@s.whatsapp.net"
    assert jid.bare_or_none("") is None
    assert jid.bare_or_none("x@y@z") is None


def test_user_and_server_of() -> None:
    """The user and server parts are found without parsing."""
    assert jid.user_of("15551234567:12@s.whatsapp.net") == "15551234567"
    assert jid.user_of("1555.1:2@s.whatsapp.net") == "1555"
    assert jid.server_of("123@lid") == "lid"


@pytest.mark.parametrize(
    ("text", "group", "lid", "phone", "status", "newsletter", "broadcast"),
    [
        ("120363000000000001@g.us", True, False, False, False, False, False),
        ("123456789012345@lid", False, True, False, False, False, False),
        ("15551234567:3@s.whatsapp.net", False, False, True, False, False, False),
        ("15551234567@c.us", False, False, True, False, False, False),
        ("status@broadcast", False, False, False, True, False, True),
        ("1234567890@broadcast", False, False, False, False, False, True),
        ("120363000000000099@newsletter", False, False, False, False, True, False),
        ("", False, False, False, False, False, False),
    ],
)
def test_classifiers(
    text: str,
    group: bool,
    lid: bool,
    phone: bool,
    status: bool,
    newsletter: bool,
    broadcast: bool,
) -> None:
    """Each helper recognises exactly its own kind of JID."""
    assert jid.is_group(text) is group
    assert jid.is_lid(text) is lid
    assert jid.is_phone(text) is phone
    assert jid.is_status_broadcast(text) is status
    assert jid.is_newsletter(text) is newsletter
    assert jid.is_broadcast(text) is broadcast


def test_from_proto_is_bare() -> None:
    """A device JID from neonize becomes the bare string."""
    proto = JID(User="1555", RawAgent=0, Device=12, Integrator=0, Server="s.whatsapp.net")
    assert jid.from_proto(proto) == "1555@s.whatsapp.net"


def test_from_proto_empty_is_empty_string() -> None:
    """An empty JID (IsEmpty, or nothing set) becomes ``""``."""
    empty = JID(User="", RawAgent=0, Device=0, Integrator=0, Server="", IsEmpty=True)
    assert jid.from_proto(empty) == ""
    assert jid.from_proto(JID()) == ""


def test_to_proto_builds_a_serialisable_jid() -> None:
    """``to_proto`` fills every required field and keeps the device."""
    proto = jid.to_proto("1555:3@s.whatsapp.net")
    assert (proto.User, proto.Device, proto.Server, proto.IsEmpty) == (
        "1555",
        3,
        "s.whatsapp.net",
        False,
    )
    assert JID.FromString(proto.SerializeToString()) == proto
    assert jid.from_proto(jid.to_proto("120363000000000001@g.us")) == "120363000000000001@g.us"


def test_to_proto_refuses_a_server_only_jid() -> None:
    """A JID without a user is not something to send to."""
    with pytest.raises(ValueError, match="no user"):
        jid.to_proto("s.whatsapp.net")
