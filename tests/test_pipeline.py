"""The pipeline with realistic neonize events, real SQLite and a controllable backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.pipeline import FAILURE_TEXT, UNREADABLE_TEXT, Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.openai_client import build_client
from helpers.transcription import Transcriber
from storage.store import Store
from tests import wa_events as wa
from tests.backends import ScriptedBackend
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeTransport

ALICE = "15550001111"
BOB = "15550002222"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB_JID = f"{BOB}@s.whatsapp.net"


@pytest.fixture
def backend() -> ScriptedBackend:
    """A backend the test controls."""
    return ScriptedBackend()


@pytest.fixture
async def make_pipeline(
    make_settings: Callable[..., Settings],
    store: Store,
    transport: FakeTransport,
    backend: ScriptedBackend,
) -> AsyncIterator[Callable[..., Any]]:
    """Start pipelines on the shared store; drain them at the end."""
    started: list[Pipeline] = []

    async def make(**env: Any) -> Pipeline:
        pipeline = Pipeline(
            settings=make_settings(**env), store=store, backend=backend, transport=transport
        )
        await pipeline.start()
        started.append(pipeline)
        return pipeline

    yield make
    for pipeline in started:
        await pipeline.drain(timeout=1)
        await pipeline.close()


async def test_a_private_message_is_stored_then_answered(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """A text gets one reply to the chat, and the turn is recorded with its usage."""
    pipeline = await make_pipeline()
    pipeline.submit(to_incoming(wa.private_text("hello there", sender=ALICE, msg_id="M1")))
    await pipeline.join()
    assert [(s.to, s.text, s.quoted_id) for s in transport.sent] == [
        (ALICE_JID, "re: hello there", None)
    ]
    [stored] = await store.messages(ALICE_JID)
    assert (stored.wa_id, stored.state, stored.text) == ("M1", "answered", "hello there")
    assert [(u.mode, u.total_tokens) for u in await store.usage_rows(ALICE_JID)] == [("chat", 7)]
    assert transport.read == ["M1"]
    assert (ALICE_JID, True) in transport.typing and transport.typing[-1] == (ALICE_JID, False)


async def test_a_message_delivered_twice_is_answered_once(
    make_pipeline: Any, transport: FakeTransport
) -> None:
    """The same WhatsApp id, delivered twice, gets one reply."""
    pipeline = await make_pipeline()
    ev = wa.private_text("once please", sender=ALICE, msg_id="DUP1")
    pipeline.submit(to_incoming(ev))
    pipeline.submit(to_incoming(ev))
    await pipeline.join()
    assert transport.texts() == ["re: once please"]


async def test_dedupe_holds_across_a_restart(make_pipeline: Any, transport: FakeTransport) -> None:
    """A redelivery after a restart is not answered again."""
    ev = wa.private_text("once please", sender=ALICE, msg_id="DUP2")
    first = await make_pipeline()
    first.submit(to_incoming(ev))
    await first.join()
    await first.drain(timeout=1)
    second = await make_pipeline()
    second.submit(to_incoming(ev))
    await second.join()
    assert transport.texts() == ["re: once please"]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: wa.private_text("me", from_me=True), "from_me"),
        (lambda: wa.reaction("X1", "👍", sender=ALICE), "reaction"),
        (lambda: wa.revoke("X1", sender=ALICE), "revoke"),
        (lambda: wa.edit("X1", "new text", sender=ALICE), "edit"),
        (lambda: wa.key_distribution(sender=ALICE), "key_distribution"),
        (lambda: wa.protocol(sender=ALICE), "protocol"),
        (
            lambda: wa.private_text(
                "old", sender=ALICE, timestamp=datetime.now(UTC) - timedelta(hours=2)
            ),
            "stale",
        ),
        (lambda: wa.sticker(sender=ALICE), "unsupported:sticker"),
    ],
)
async def test_ignored_kinds_are_recorded_not_answered(
    make_pipeline: Any,
    store: Store,
    transport: FakeTransport,
    backend: ScriptedBackend,
    build: Callable[[], Any],
    reason: str,
) -> None:
    """Own messages, reactions, revokes, edits, plumbing, stale and stickers: no answer."""
    pipeline = await make_pipeline(HANDOFF_MINUTES=0)
    ev = build()
    pipeline.submit(to_incoming(ev))
    await pipeline.join()
    assert transport.sent == [] and backend.turns == []
    rows = [m for chat in (ALICE_JID, f"{wa.GROUP}@g.us") for m in await store.messages(chat)]
    assert [(m.state, m.reason) for m in rows] == [("ignored", reason)]


@pytest.mark.parametrize("build", [lambda: wa.status_broadcast(), lambda: wa.newsletter()])
async def test_status_and_newsletters_are_never_answered(
    make_pipeline: Any, transport: FakeTransport, backend: ScriptedBackend, build: Callable[[], Any]
) -> None:
    """status@broadcast and newsletter posts get nothing."""
    pipeline = await make_pipeline()
    pipeline.submit(to_incoming(build()))
    await pipeline.join()
    assert transport.sent == [] and backend.turns == []


async def test_lid_and_phone_ids_share_one_chat(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """The same person as a LID and as a phone JID is one chat with one history."""
    pipeline = await make_pipeline()
    pipeline.submit(to_incoming(wa.private_text("via lid", sender=ALICE, addressing="lid")))
    pipeline.submit(to_incoming(wa.private_text("via phone", sender=ALICE, addressing="pn")))
    await pipeline.join()
    assert len({t.chat for t in backend.turns}) == 1
    chat = backend.turns[0].chat
    assert [m.text for m in await store.messages(chat)] == ["via lid", "via phone"]
    lid_jid = f"{wa.lid_for(ALICE)}@lid"
    assert [s.to for s in transport.sent] == [lid_jid, ALICE_JID]


async def test_one_chat_is_answered_strictly_in_order(
    make_pipeline: Any, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """Later messages of a chat wait for the earlier turn; replies come out in order."""
    pipeline = await make_pipeline()
    hold = backend.hold(ALICE_JID)
    texts = [f"m{i}" for i in range(5)]
    pipeline.submit(to_incoming(wa.private_text(texts[0], sender=ALICE)))
    await backend.entered["m0"].wait()
    for text in texts[1:]:
        pipeline.submit(to_incoming(wa.private_text(text, sender=ALICE)))
    await pipeline.stored()  # all five stored while m0 is still held
    assert [t.text for t in backend.turns] == ["m0"]
    hold.set()
    await pipeline.join()
    assert [t.text for t in backend.turns] == texts
    assert transport.texts() == [f"re: {t}" for t in texts]
    assert backend.max_in_flight_per_chat == 1


async def test_a_slow_chat_does_not_delay_another(
    make_pipeline: Any, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """While Alice's turn hangs, Bob is answered."""
    pipeline = await make_pipeline()
    hold = backend.hold(ALICE_JID)
    pipeline.submit(to_incoming(wa.private_text("slow", sender=ALICE)))
    await backend.entered["slow"].wait()
    pipeline.submit(to_incoming(wa.private_text("fast", sender=BOB)))
    await asyncio.wait_for(backend.entered["fast"].wait(), timeout=5)
    await asyncio.wait_for(transport.wait_for_sends(1), timeout=5)
    assert transport.texts(BOB_JID) == ["re: fast"]
    assert transport.texts(ALICE_JID) == []
    hold.set()
    await pipeline.join()
    assert transport.texts(ALICE_JID) == ["re: slow"]


async def test_a_failing_turn_is_honest_and_leaves_context_clean(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """OpenAI failing: the user is told, the turn is failed, the next turn still works."""
    pipeline = await make_pipeline()
    backend.failing.add("break")
    pipeline.submit(to_incoming(wa.private_text("break", sender=ALICE)))
    pipeline.submit(to_incoming(wa.private_text("after", sender=ALICE)))
    await pipeline.join()
    assert transport.texts() == [FAILURE_TEXT, "re: after"]
    assert transport.typing[:2] == [(ALICE_JID, True), (ALICE_JID, False)]  # cleared on error
    states = [(m.text, m.state, m.reason) for m in await store.messages(ALICE_JID)]
    assert states == [("break", "failed", "server_error"), ("after", "answered", None)]
    assert [(e.role, e.text) for e in await store.context(ALICE_JID, 10)] == [
        ("user", "after"),
        ("assistant", "re: after"),
    ]


async def test_a_crash_loses_nothing(
    make_settings: Callable[..., Settings], store: Store, transport: FakeTransport
) -> None:
    """A message stored before a crash is answered by the next start."""
    stuck = ScriptedBackend()
    stuck.hold(ALICE_JID)
    first = Pipeline(settings=make_settings(), store=store, backend=stuck, transport=transport)
    await first.start()
    first.submit(to_incoming(wa.private_text("are you there?", sender=ALICE, msg_id="C1")))
    await stuck.entered["are you there?"].wait()
    for task in [first._intake_task, *first._workers.values()]:  # a crash: no drain, no answer
        assert task is not None
        task.cancel()
    assert transport.sent == []

    fresh = ScriptedBackend()
    second = Pipeline(settings=make_settings(), store=store, backend=fresh, transport=transport)
    assert await second.start() == 1
    await second.join()
    assert transport.texts() == ["re: are you there?"]
    [stored] = await store.messages(ALICE_JID)
    assert stored.state == "answered"
    await second.drain(timeout=1)
    await second.close()


async def test_shutdown_finishes_replies_in_flight_and_defers_new_ones(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """drain(): the reply in flight is sent; a message arriving meanwhile is kept for later."""
    pipeline = await make_pipeline()
    hold = backend.hold(ALICE_JID)
    pipeline.submit(to_incoming(wa.private_text("in flight", sender=ALICE)))
    await backend.entered["in flight"].wait()
    draining = asyncio.create_task(pipeline.drain(timeout=30))
    pipeline.submit(to_incoming(wa.private_text("late", sender=BOB, msg_id="LATE")))
    await asyncio.sleep(0)
    hold.set()
    assert await draining is True
    await pipeline.stored()
    assert transport.texts() == ["re: in flight"]
    [late] = await store.messages(BOB_JID)
    assert late.state == "received"


async def test_shutdown_gives_up_after_its_timeout(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """A hung reply is abandoned at the deadline and stays received for the next start."""
    pipeline = await make_pipeline()
    backend.hold(ALICE_JID)
    pipeline.submit(to_incoming(wa.private_text("hung", sender=ALICE)))
    await backend.entered["hung"].wait()
    assert await pipeline.drain(timeout=0.01) is False
    [msg] = await store.messages(ALICE_JID)
    assert msg.state == "received"
    assert transport.sent == []


async def test_a_voice_note_gets_a_polite_notice_not_silence(
    make_pipeline: Any, store: Store, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """Media the bot cannot read is answered with a short notice and not sent to the model."""
    pipeline = await make_pipeline()
    pipeline.submit(to_incoming(wa.voice_note(seconds=4, sender=ALICE)))
    await pipeline.join()
    assert backend.turns == []
    assert transport.texts() == [UNREADABLE_TEXT]
    [stored] = await store.messages(ALICE_JID)
    assert (stored.kind, stored.state, stored.reason) == ("voice", "ignored", "unreadable")


async def test_a_voice_note_is_transcribed_and_answered(
    make_settings: Any, store: Store, transport: FakeTransport, fake_openai: FakeOpenAI
) -> None:
    """A voice note is downloaded, transcribed, answered like text and kept as its text."""
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url)
    assert settings.openai_transcription_model is not None
    transcriber = Transcriber(build_client(settings), settings.openai_transcription_model)
    backend = ScriptedBackend()
    pipeline = Pipeline(
        settings=settings,
        store=store,
        backend=backend,
        transport=transport,
        transcriber=transcriber,
    )
    await pipeline.start()
    note = wa.voice_note(seconds=3, sender=ALICE, msg_id="VOICE1")
    transport.downloads["VOICE1"] = b"OggS" + bytes(200)
    fake_openai.script_transcripts("please remind me to buy milk")
    pipeline.submit(to_incoming(note))
    await pipeline.join()
    await pipeline.drain(timeout=1)
    await pipeline.close()
    await transcriber.aclose()
    assert [t.text for t in backend.turns] == ["please remind me to buy milk"]
    assert transport.texts() == ["re: please remind me to buy milk"]
    [stored] = await store.messages(ALICE_JID)
    assert (stored.kind, stored.text, stored.state) == (
        "voice",
        "please remind me to buy milk",
        "answered",
    )
    [upload] = fake_openai.requests_to("/audio/transcriptions")
    assert upload.body["model"] == settings.openai_transcription_model == "gpt-transcribe"


async def test_giving_up_waiting_for_the_pipeline_does_not_cancel_replies(
    make_pipeline: Any, transport: FakeTransport, backend: ScriptedBackend
) -> None:
    """A caller that stops waiting on ``join()`` (a timeout, a signal) leaves the turn in
    flight to finish: its reply still goes out."""
    pipeline = await make_pipeline()
    hold = backend.hold(ALICE_JID)
    pipeline.submit(to_incoming(wa.private_text("slow", sender=ALICE)))
    await backend.entered["slow"].wait()
    waiter = asyncio.create_task(pipeline.join())
    await asyncio.sleep(0)  # let it start waiting on the worker
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    hold.set()
    await pipeline.join()
    assert transport.texts(ALICE_JID) == ["re: slow"]
