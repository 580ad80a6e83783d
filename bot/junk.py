"""Junk input: messages with malformed ids, and turns too long to send to the model.

A message whose chat or sender id is not a well-formed WhatsApp JID did not come from a real
WhatsApp chat (a fuzzed or hand-edited replay line, a broken event). It is stored, as ignored,
under ``QUARANTINE_CHAT``: one key that is never a valid JID, so junk never shares a chat, a
context, a quota or an identity with a real person; nothing filed there is ever answered.
"""

from __future__ import annotations

import uuid

from bot import jid
from bot.messages import IncomingMessage

#: The chat key (and sender key) every malformed message is filed under.
QUARANTINE_CHAT = "quarantine:malformed"
#: The ignore reason of a message whose chat, sender or alternative id is malformed.
MALFORMED_JID = "malformed_jid"
#: The ignore reason of a message without a usable WhatsApp message id.
MALFORMED_ID = "malformed_id"
#: Ignore reasons whose messages go to the quarantine.
QUARANTINED = frozenset({MALFORMED_JID, MALFORMED_ID})
#: The ignore reason of a turn longer than MAX_INPUT_CHARS.
TOO_LONG = "too_long"

_CHAT_SERVERS = jid.PERSON_SERVERS | {jid.BROADCAST_SERVER, jid.NEWSLETTER_SERVER}
_GROUP_SERVERS = frozenset({jid.GROUP_SERVER})
_CHANNEL_SENDERS = jid.PERSON_SERVERS | {jid.NEWSLETTER_SERVER}


def malformed(msg: IncomingMessage) -> tuple[str, str] | None:
    """``(field, problem)`` for the first malformed id of ``msg``, or None if all are fine."""
    if not msg.id or not msg.id.isprintable():
        return "id", "empty" if not msg.id else "bad_characters"
    chat_servers = _GROUP_SERVERS if msg.is_group else _CHAT_SERVERS
    checks = [("chat", msg.chat_jid, chat_servers)]
    # Channel posts come from the channel itself (or no one); everything else from a person.
    if not jid.is_newsletter(msg.chat_jid):
        checks.append(("sender", msg.sender_jid, jid.PERSON_SERVERS))
    elif msg.sender_jid:
        checks.append(("sender", msg.sender_jid, _CHANNEL_SENDERS))
    if msg.sender_alt_jid is not None:
        checks.append(("sender_alt", msg.sender_alt_jid, jid.PERSON_SERVERS))
    if msg.chat_alt_jid is not None:
        checks.append(("chat_alt", msg.chat_alt_jid, jid.PERSON_SERVERS))
    for field, value, servers in checks:
        problem = jid.problem(value, servers, bare=True)  # the edge hands over bare JIDs
        if problem is not None:
            return field, problem
    return None


def ignore_reason(msg: IncomingMessage) -> str | None:
    """The quarantine reason for ``msg`` (``malformed_id`` or ``malformed_jid``), or None."""
    found = malformed(msg)
    if found is None:
        return None
    return MALFORMED_ID if found[0] == "id" else MALFORMED_JID


def storage_id(msg: IncomingMessage) -> str:
    """The id to store a quarantined ``msg`` under (a fresh one when it came without)."""
    return msg.id or f"missing-{uuid.uuid4().hex}"


def too_long(text: str, max_chars: int) -> bool:
    """Whether a turn's text is over MAX_INPUT_CHARS and must not go to the model."""
    return len(text) > max_chars


def too_long_notice(max_chars: int) -> str:
    """The short notice a person gets instead of an answer to an over-long turn."""
    return (
        f"Sorry, that is too long for me to read (the limit is {max_chars:,} characters). "
        "Could you send a shorter message?"
    )
