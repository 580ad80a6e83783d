"""One person, one set of rules: every id the bot knows a sender by, phone number or LID.

WhatsApp addresses a person by a phone-number JID or by a LID, and an event may carry either
or both. Storage links the ids it has seen together under one key (``canonical_sender``);
every rule that names people (BLOCKED_NUMBERS, ALLOWED_NUMBERS, ADMIN_NUMBERS) is checked
against all of them, so a rule given for either id matches the person under both.
"""

from __future__ import annotations

from bot import jid
from storage.store import Store


async def person_users(store: Store, key: str, *seen: str | None) -> frozenset[str]:
    """The user parts (digits) of every id of the person filed under ``key``.

    That is ``key``, the aliases storage has linked to it, and ``seen`` (the ids the current
    event carries, in case storage has not recorded them). One indexed query.
    """
    ids = {key, *(s for s in seen if s), *await store.aliases(key)}
    return frozenset(jid.user_of(i) for i in ids if i)


async def chat_key_named(store: Store, name: str) -> str:
    """The stored chat key an operator's ``name`` means: a JID, or bare digits that may be
    a phone number or a LID (the one the bot knows wins)."""
    if "@" in name:
        return name if name.endswith("@g.us") else await store.canonical_sender([name])
    digits = "".join(ch for ch in name if ch.isdigit())
    phone = f"{digits}@s.whatsapp.net"
    return await store.known_key([phone, f"{digits}@lid"]) or await store.canonical_sender([phone])
