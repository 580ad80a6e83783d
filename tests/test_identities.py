"""Identity storage: what moves with a person when two of their keys turn out to be one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from storage.identities import notice_flag
from storage.store import Store

PN = "15550009999@s.whatsapp.net"
LID = "100015550009999@lid"


async def test_a_merge_keeps_the_stronger_pause_and_hand_off(store: Store) -> None:
    """Merged keys keep a pause set on either and the later hand-off end; the merge is logged."""
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    later = soon + timedelta(minutes=25)
    await store.canonical_sender([PN])
    await store.update_chat_state(PN, handoff_until=soon, forget_asked_at=soon)
    await store.canonical_sender([LID])
    await store.update_chat_state(LID, paused=True, handoff_until=later)
    with capture_logs() as logs:
        assert await store.canonical_sender([LID, PN]) == PN  # the older key wins
    assert {"event": "identity.merged", "key": PN, "merged": LID, "log_level": "info"} in logs
    merged = await store.chat_state(PN)
    assert (merged.paused, merged.handoff_until, merged.forget_asked_at) == (True, later, soon)
    assert await store.chat_state(LID) == type(merged)()


async def test_a_merge_moves_the_limit_notice_unless_the_person_has_one(store: Store) -> None:
    """A limit notice given under the younger key moves to the older one; the older one's stays."""
    await store.canonical_sender([PN])
    await store.canonical_sender([LID])
    await store.set_flag(notice_flag(LID), "2026-01-01T00:00:00+00:00")
    await store.canonical_sender([LID, PN])
    assert await store.get_flag(notice_flag(PN)) == "2026-01-01T00:00:00+00:00"
    assert await store.get_flag(notice_flag(LID)) is None
    other = "15550008888@s.whatsapp.net"
    other_lid = "100015550008888@lid"
    await store.canonical_sender([other])
    await store.set_flag(notice_flag(other), "older key's notice")
    await store.canonical_sender([other_lid])
    await store.set_flag(notice_flag(other_lid), "younger key's notice")
    await store.canonical_sender([other, other_lid])
    assert await store.get_flag(notice_flag(other)) == "older key's notice"
    assert await store.get_flag(notice_flag(other_lid)) is None


async def test_known_key_looks_up_without_recording(store: Store) -> None:
    """known_key finds the person's key by any alias, in the order asked, and records nothing."""
    assert await store.known_key([PN, LID]) is None
    assert await store.aliases(PN) == []
    await store.canonical_sender([PN, LID])
    assert await store.known_key(["1@s.whatsapp.net", LID]) == PN
    assert await store.known_key([]) is None
