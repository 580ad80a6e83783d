"""Which incoming messages the bot answers: pure functions, decided before any reply work."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import jid, junk
from bot.messages import NON_USER_KINDS, BotIdentity, IncomingMessage, MessageKind
from bot.settings import Settings

#: Kinds the bot can turn into a user turn (with text, a caption, or media it can read).
ANSWERABLE_KINDS = frozenset(
    {
        MessageKind.TEXT,
        MessageKind.IMAGE,
        MessageKind.VIDEO,
        MessageKind.DOCUMENT,
        MessageKind.VOICE,
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to answer a message, and if not, why (recorded as the ignore reason)."""

    answer: bool
    reason: str | None = None

    @classmethod
    def ignore(cls, reason: str) -> Verdict:
        """A verdict to record the message as ignored for ``reason``."""
        return cls(False, reason)


ANSWER = Verdict(True)


def _user(value: str | None) -> str:
    return jid.bare(value).partition("@")[0] if value else ""


def mentions_bot(msg: IncomingMessage, me: BotIdentity) -> bool:
    """Whether ``msg`` mentions the bot by its phone-number JID or its LID."""
    mine = me.users()
    return any(_user(m) in mine for m in msg.mentions)


def replies_to_bot(msg: IncomingMessage, me: BotIdentity, sent_ids: AbstractSet[str]) -> bool:
    """Whether ``msg`` quotes one of the bot's own messages."""
    if msg.quoted_id and msg.quoted_id in sent_ids:
        return True
    return bool(msg.quoted_sender) and _user(msg.quoted_sender) in me.users()


def triggered_by_prefix(msg: IncomingMessage, prefix: str | None) -> bool:
    """Whether ``msg`` starts with the configured trigger prefix (case-insensitive)."""
    return bool(prefix) and msg.text.lstrip().lower().startswith(prefix.lower())  # type: ignore[union-attr]


def is_command(msg: IncomingMessage, command_prefix: str) -> bool:
    """Whether ``msg`` is a bot command such as ``/help``."""
    text = msg.text.lstrip()
    return (
        text.startswith(command_prefix)
        and len(text) > len(command_prefix)
        and (text[len(command_prefix)].isalpha())
    )


def classify(
    msg: IncomingMessage,
    *,
    me: BotIdentity,
    settings: Settings,
    not_before: datetime,
    sent_ids: AbstractSet[str] = frozenset(),
) -> Verdict:
    """Decide from the message alone whether the bot takes it up (storage-free rules)."""
    if (reason := junk.ignore_reason(msg)) is not None:
        return Verdict.ignore(reason)
    if msg.is_from_me:
        return Verdict.ignore("from_me")
    if jid.is_status_broadcast(msg.chat_jid) or jid.is_broadcast(msg.chat_jid):
        return Verdict.ignore("broadcast")
    if jid.is_newsletter(msg.chat_jid):
        return Verdict.ignore("newsletter")
    if msg.kind in NON_USER_KINDS:
        return Verdict.ignore(str(msg.kind))
    if msg.timestamp < not_before:
        return Verdict.ignore("stale")
    if msg.kind not in ANSWERABLE_KINDS:
        return Verdict.ignore(f"unsupported:{msg.kind}")
    if msg.is_group:
        return _group_verdict(msg, me=me, settings=settings, sent_ids=sent_ids)
    return ANSWER


def _group_verdict(
    msg: IncomingMessage,
    *,
    me: BotIdentity,
    settings: Settings,
    sent_ids: AbstractSet[str],
) -> Verdict:
    if settings.group_mode == "off":
        return Verdict.ignore("group_off")
    if settings.group_allowlist and msg.chat_jid not in settings.group_allowlist:
        return Verdict.ignore("group_not_allowed")
    if settings.group_mode == "all":
        return ANSWER
    if (
        mentions_bot(msg, me)
        or replies_to_bot(msg, me, sent_ids)
        or triggered_by_prefix(msg, settings.bot_trigger_prefix)
        or is_command(msg, settings.bot_command_prefix)
    ):
        return ANSWER
    return Verdict.ignore("group_not_addressed")


def not_before(started_at: datetime, grace_seconds: float) -> datetime:
    """Messages sent before this moment are too old to answer."""
    return started_at - timedelta(seconds=grace_seconds)


def access_verdict(users: AbstractSet[str], verdict: Verdict, settings: Settings) -> Verdict:
    """Apply BLOCKED_NUMBERS / ALLOWED_NUMBERS to ``users``, every id the sender is known by.

    ``users`` are user parts (digits) of phone-number JIDs and LIDs alike, as
    ``bot.people.person_users`` gives them; a rule naming any of them names the person.
    """
    if not verdict.answer:
        return verdict
    if not users.isdisjoint(settings.blocked_numbers):
        return Verdict.ignore("blocked")
    allowed = {*settings.allowed_numbers, *settings.admin_numbers}
    if settings.allowed_numbers and users.isdisjoint(allowed):
        return Verdict.ignore("not_allowed")
    return verdict


def names_people(settings: Settings) -> bool:
    """Whether any access rule names people (else ``access_verdict`` needs no ids)."""
    return bool(settings.blocked_numbers or settings.allowed_numbers)
