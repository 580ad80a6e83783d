"""WhatsApp JIDs as strings: parse ``user[.agent][:device]@server``, format, classify, convert.

The rest of the bot handles JIDs as plain strings without the agent/device part
(``15551234567@s.whatsapp.net``, ``123456789012345@lid``, ``120363...@g.us``). This module is
the one place that knows the grammar (it follows whatsmeow's ``types.ParseJID`` and
``JID.String``) and the one place that turns strings into neonize ``JID`` protobufs and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neonize.proto.Neonize_pb2 import JID as JIDProto

#: Phone-number users.
PHONE_SERVER = "s.whatsapp.net"
#: The old phone-number server, still seen in some payloads.
LEGACY_PHONE_SERVER = "c.us"
#: Hidden-user ids (LIDs).
LID_SERVER = "lid"
#: Groups.
GROUP_SERVER = "g.us"
#: Broadcast lists and status updates.
BROADCAST_SERVER = "broadcast"
#: Channels.
NEWSLETTER_SERVER = "newsletter"
#: Business accounts hosted by Meta (phone number and LID forms).
HOSTED_SERVER = "hosted"
HOSTED_LID_SERVER = "hosted.lid"
#: The chat that status updates arrive in; never answer it.
STATUS_BROADCAST = "status@broadcast"

#: Servers a person (a message's sender, a private chat) can be on.
PERSON_SERVERS = frozenset(
    {PHONE_SERVER, LEGACY_PHONE_SERVER, LID_SERVER, HOSTED_SERVER, HOSTED_LID_SERVER}
)
#: Every server the bot knows; anything else is junk.
KNOWN_SERVERS = PERSON_SERVERS | {GROUP_SERVER, BROADCAST_SERVER, NEWSLETTER_SERVER}
# User parts per server, ASCII only (str.isdigit would take "²" and other scripts' digits).
# Old groups are "<creator>-<timestamp>"; "status" is the one non-numeric broadcast user.
_DIGITS = re.compile(r"[0-9]{1,32}")
_USER_FORMS = {
    GROUP_SERVER: re.compile(r"[0-9]{1,32}(?:-[0-9]{1,32})?"),
    BROADCAST_SERVER: re.compile(r"status|[0-9]{1,32}"),
}


@dataclass(frozen=True, slots=True)
class Jid:
    """A parsed JID: ``user[.agent][:device]@server`` (agent and device 0 when absent)."""

    user: str
    server: str
    agent: int = 0
    device: int = 0

    def __str__(self) -> str:
        """The canonical string, as whatsmeow writes it."""
        if self.agent > 0:
            return f"{self.user}.{self.agent}:{self.device}@{self.server}"
        if self.device > 0:
            return f"{self.user}:{self.device}@{self.server}"
        if self.user:
            return f"{self.user}@{self.server}"
        return self.server

    def bare(self) -> Jid:
        """The same JID without agent and device (the person or chat, not one device)."""
        return Jid(self.user, self.server)


def _number(part: str, what: str, jid: str) -> int:
    """Parse one numeric component of a JID, or explain why not."""
    if not part.isdigit():
        raise ValueError(f"invalid JID {jid!r}: {what} {part!r} is not a number")
    return int(part)


def parse(jid: str) -> Jid:
    """Parse a JID string; a string without ``@`` is a server-only JID. Raises ``ValueError``."""
    if not isinstance(jid, str) or not jid:
        raise ValueError(f"invalid JID {jid!r}: empty")
    user, at, server = jid.partition("@")
    if not at:
        return Jid("", jid)
    if "@" in server or not server:
        raise ValueError(f"invalid JID {jid!r}: expected exactly one '@' and a server")
    agent = device = 0
    if "." in user:
        user, _, ad = user.partition(".")
        if "." in ad:
            raise ValueError(f"invalid JID {jid!r}: unexpected number of dots")
        agent_part, colon, device_part = ad.partition(":")
        if ":" in device_part:
            raise ValueError(f"invalid JID {jid!r}: unexpected number of colons")
        agent = _number(agent_part, "agent", jid)
        if colon:
            device = _number(device_part, "device", jid)
    elif ":" in user:
        user, _, device_part = user.partition(":")
        device = _number(device_part, "device", jid)
    return Jid(user, server, agent, device)


def problem(jid: str, servers: frozenset[str] = KNOWN_SERVERS, *, bare: bool = False) -> str | None:
    """Why ``jid`` is not a well-formed ``user[.agent][:device]@server`` on one of ``servers``.

    ``None`` means it is fine. Stricter than ``parse``: a user part is required, it must have
    the form its server uses (digits for people), the server must be one in ``servers``, the
    string must be written as whatsmeow writes it, and with ``bare`` carry no agent or device.
    """
    if not jid:
        return "empty"
    if not jid.isascii() or not jid.isprintable() or any(c.isspace() for c in jid):
        return "bad_characters"
    try:
        parsed = parse(jid)
    except ValueError:
        return "bad_syntax"
    if not parsed.user:
        return "no_user"
    if str(parsed) != jid:
        return "not_canonical"
    if bare and (parsed.agent or parsed.device):
        return "not_bare"
    if parsed.server not in KNOWN_SERVERS:
        return "unknown_server"
    if parsed.server not in servers:
        return "wrong_server"
    if not _USER_FORMS.get(parsed.server, _DIGITS).fullmatch(parsed.user):
        return "bad_user"
    return None


def bare(jid: str) -> str:
    """``jid`` without agent and device: ``1555:12@s.whatsapp.net`` -> ``1555@s.whatsapp.net``."""
    return str(parse(jid).bare())


def user_of(jid: str) -> str:
    """The user part (digits for people) of a JID string; never raises."""
    return jid.partition("@")[0].partition(":")[0].partition(".")[0]


def server_of(jid: str) -> str:
    """The server part of a JID string (the whole string if it has no ``@``); never raises."""
    return jid.rpartition("@")[2]


def is_group(jid: str) -> bool:
    """True for a group chat (``...@g.us``)."""
    return server_of(jid) == GROUP_SERVER


def is_lid(jid: str) -> bool:
    """True for a hidden-user id (``...@lid``)."""
    return server_of(jid) == LID_SERVER


def is_phone(jid: str) -> bool:
    """True for a phone-number user (``...@s.whatsapp.net`` or the legacy ``...@c.us``)."""
    return server_of(jid) in (PHONE_SERVER, LEGACY_PHONE_SERVER)


def is_status_broadcast(jid: str) -> bool:
    """True for ``status@broadcast``, where status updates arrive."""
    return bare_or_none(jid) == STATUS_BROADCAST


def is_newsletter(jid: str) -> bool:
    """True for a channel (``...@newsletter``)."""
    return server_of(jid) == NEWSLETTER_SERVER


def is_broadcast(jid: str) -> bool:
    """True for any ``...@broadcast`` JID: broadcast lists and ``status@broadcast``."""
    return server_of(jid) == BROADCAST_SERVER


def bare_or_none(jid: str) -> str | None:
    """``bare(jid)``, or ``None`` for an empty or malformed string; never raises."""
    try:
        return bare(jid)
    except ValueError:
        return None


def from_proto(jid: JIDProto) -> str:
    """A neonize ``JID`` as a bare string (no agent/device); an empty JID gives ``""``."""
    if jid.IsEmpty or (not jid.User and not jid.Server):
        return ""
    return str(Jid(jid.User, jid.Server))


def to_proto(jid: str) -> JIDProto:
    """A JID string as a neonize ``JID`` protobuf, agent and device kept. Raises ``ValueError``."""
    from neonize.proto.Neonize_pb2 import JID as JIDProto

    parsed = parse(jid)
    if not parsed.user:
        raise ValueError(f"invalid JID {jid!r}: no user part")
    return JIDProto(
        User=parsed.user,
        RawAgent=parsed.agent,
        Device=parsed.device,
        Integrator=0,
        Server=parsed.server,
        IsEmpty=False,
    )
