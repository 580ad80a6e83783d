"""The confirmation flow: only the same person's "yes" in the same chat, in time, runs it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands import Commands
from bot.confirmations import Confirmations, answer_word
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.google import google_tools
from helpers.google.files import MemoryRecentFiles
from helpers.google.service import GoogleTools
from helpers.tools.registry import ToolCall, ToolRegistry
from storage.store import Store
from tests import wa_events as wa
from tests.backends import ScriptedBackend
from tests.fakes import FakeClock, FakeTransport
from tests.google_kit import (
    OTHER,
    OTHER_JID,
    OWNER,
    OWNER_JID,
    context,
    error,
    make_google,
    ok,
    requests,
    sent_mail,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
GROUP = "120363000000000001@g.us"
REGISTRY = ToolRegistry(google_tools(["gmail", "calendar"]))
MAIL = {"to": ["anna@example.com"], "subject": "The photo", "body": "Here it is."}


@pytest.fixture
def clock() -> FakeClock:
    """A clock at NOW."""
    return FakeClock(NOW)


async def ask(
    google: GoogleTools, clock: FakeClock, name: str, chat: str = OWNER_JID, **args: Any
) -> Any:
    """The owner's model calls ``name`` in ``chat``; returns the tool's output."""
    ctx = context(google, clock, chat=chat)
    [result] = await REGISTRY.execute([ToolCall("c1", name, json.dumps(args))], ctx, timeout=5)
    return json.loads(result.output)


def test_yes_and_no_are_read_whole_and_loosely() -> None:
    """Case, punctuation and spacing do not matter; a longer sentence is not an answer."""
    said = ("Yes!", " yes ", "YES.", "No", "cancel", "yes, but", "@15550000000 yes")
    assert [answer_word(t) for t in said] == [
        "yes",
        "yes",
        "yes",
        "no",
        "no",
        None,
        "yes",
    ]


async def test_yes_sends_the_prepared_mail_with_its_attachment_and_records_it(
    store: Store, clock: FakeClock
) -> None:
    """The owner's yes sends exactly the stored mail; the action is recorded with Gmail's id."""
    files = MemoryRecentFiles()
    files.add(OWNER_JID, b"\xff\xd8jpeg-bytes", "image/jpeg", NOW)
    google, http = make_google(store, clock, [ok({"id": "sent-1"})], files=files)
    await ask(google, clock, "send_email", **MAIL, attach_recent_files=["latest"])
    assert requests(http) == []
    handled = await Confirmations(google, clock).answer(OWNER_JID, OWNER_JID, "yes")
    assert handled is not None
    assert handled.text == 'Sent "The photo" to anna@example.com.'
    assert [(t.tool, t.ok) for t in handled.tool_calls] == [("send_email", True)]
    [(method, path, body)] = requests(http)
    assert (method, path.split("?")[0]) == ("POST", "/gmail/v1/users/me/messages/send")
    mail = sent_mail(body)
    assert mail["To"] == "anna@example.com" and mail["Subject"] == "The photo"
    [attachment] = [p for p in mail.walk() if p.get_filename()]
    assert attachment.get_filename() == "photo-1.jpg"
    assert attachment.get_payload(decode=True) == b"\xff\xd8jpeg-bytes"
    [record] = await store.actions_since(OWNER_JID, NOW)
    assert (record.tool, record.result_id, record.ok) == ("send_email", "sent-1", True)
    assert await store.pending_action(OWNER_JID, OWNER_JID) is None


async def test_no_cancels_and_nothing_reaches_google(store: Store, clock: FakeClock) -> None:
    """A no drops the pending mail; a later yes has nothing to confirm."""
    google, http = make_google(store, clock, [])
    await ask(google, clock, "send_email", **MAIL)
    confirmations = Confirmations(google, clock)
    handled = await confirmations.answer(OWNER_JID, OWNER_JID, "no")
    assert handled is not None and handled.text.startswith("OK, cancelled")
    assert await confirmations.answer(OWNER_JID, OWNER_JID, "yes") is None
    assert requests(http) == [] and await store.actions_since(OWNER_JID, NOW) == []


async def test_a_late_yes_does_nothing(store: Store, clock: FakeClock) -> None:
    """After GOOGLE_CONFIRM_MINUTES the yes is told the request expired; nothing is sent."""
    google, http = make_google(store, clock, [])
    await ask(google, clock, "send_email", **MAIL)
    await clock.advance(5 * 60 + 1)
    handled = await Confirmations(google, clock).answer(OWNER_JID, OWNER_JID, "yes")
    assert handled is not None and "expired" in handled.text
    assert requests(http) == []
    assert await store.pending_action(OWNER_JID, OWNER_JID) is None


async def test_a_pending_action_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    """Asked before a restart, confirmed after it: the new process sends the mail."""
    path = tmp_path / "restart.db"
    async with Store.open(path) as first:
        google, _ = make_google(first, clock, [])
        await ask(google, clock, "send_email", **MAIL)
    await clock.advance(60)
    async with Store.open(path) as second:
        google, http = make_google(second, clock, [ok({"id": "sent-2"})])
        handled = await Confirmations(google, clock).answer(OWNER_JID, OWNER_JID, "Yes")
        assert handled is not None and handled.text.startswith("Sent")
        assert len(requests(http)) == 1


async def test_someone_elses_yes_does_not_confirm(store: Store, clock: FakeClock) -> None:
    """In a group, another member's yes goes on to the model; the owner's yes then works."""
    google, http = make_google(store, clock, [ok({"id": "ev9"})])
    await ask(
        google,
        clock,
        "create_event",
        chat=GROUP,
        summary="Lunch",
        start="2026-12-02T12:00",
        end="2026-12-02T13:00",
        attendees=["anna@example.com"],
    )
    confirmations = Confirmations(google, clock)
    assert await confirmations.answer(GROUP, OTHER_JID, "yes") is None
    assert await confirmations.answer(OWNER_JID, OWNER_JID, "yes") is None  # another chat
    assert requests(http) == []
    handled = await confirmations.answer(GROUP, OWNER_JID, "yes")
    assert handled is not None and handled.tool_calls[0].tool == "create_event"
    [(method, path, body)] = requests(http)
    assert method == "POST" and "sendUpdates=all" in path
    assert json.loads(body)["attendees"] == [{"email": "anna@example.com"}]


async def test_a_yes_with_nothing_pending_is_left_to_the_model(
    store: Store, clock: FakeClock
) -> None:
    """Without a pending action, "yes" is an ordinary message."""
    google, _ = make_google(store, clock, [])
    assert await Confirmations(google, clock).answer(OWNER_JID, OWNER_JID, "yes") is None


async def test_a_confirmed_delete_that_google_refuses_is_said_and_recorded(
    store: Store, clock: FakeClock
) -> None:
    """A failing action answers honestly and is recorded as failed, with the reason."""
    event = {"id": "ev1", "summary": "Dentist", "start": {"date": "2026-12-01"}}
    google, _ = make_google(store, clock, [ok(event), error(404, "Not Found", "notFound")])
    await ask(google, clock, "delete_event", event_id="ev1")
    handled = await Confirmations(google, clock).answer(OWNER_JID, OWNER_JID, "yes")
    assert handled is not None and handled.text.startswith("Sorry, that did not work")
    assert [(t.tool, t.ok) for t in handled.tool_calls] == [("delete_event", False)]
    [record] = await store.actions_since(OWNER_JID, NOW)
    assert not record.ok and "not found" in (record.error or "")


@pytest.fixture
async def pipeline_with(
    make_settings: Callable[..., Settings], store: Store, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    """A pipeline wired with confirmations, as the app does when GOOGLE_TOOLS is set."""
    made: list[Pipeline] = []

    async def make(
        google: GoogleTools, backend: ScriptedBackend, transport: FakeTransport
    ) -> Pipeline:
        settings = make_settings(ADMIN_NUMBERS=OWNER, GOOGLE_TOOLS="gmail")
        pipeline = Pipeline(
            settings=settings,
            store=store,
            backend=backend,
            transport=transport,
            clock=clock,
            commands=Commands(
                settings=settings, store=store, backend=backend, clock=clock, started_at=NOW
            ),
            confirmations=Confirmations(google, clock),
            recent_files=google.files,
        )
        await pipeline.start()
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        await pipeline.drain(timeout=1)
        await pipeline.close()


async def test_the_pipeline_answers_a_yes_without_openai(
    pipeline_with: Callable[..., Any], store: Store, clock: FakeClock
) -> None:
    """The owner's yes is answered from the action; the model is not asked; /stats shows it."""
    google, http = make_google(store, clock, [ok({"id": "sent-3"})])
    await ask(google, clock, "send_email", **MAIL)
    backend, transport = ScriptedBackend(), FakeTransport()
    pipeline = await pipeline_with(google, backend, transport)
    pipeline.submit(to_incoming(wa.private_text("yes", sender=OWNER, timestamp=NOW)))
    await pipeline.join()
    assert backend.turns == []
    assert transport.texts() == ['Sent "The photo" to anna@example.com.']
    assert len(requests(http)) == 1
    [message] = await store.messages(OWNER_JID)
    assert message.state == "answered"
    assert [(t.tool, t.ok) for t in await store.tool_call_rows(OWNER_JID)] == [("send_email", True)]
    pipeline.submit(to_incoming(wa.private_text("/stats", sender=OWNER, timestamp=NOW)))
    await pipeline.join()
    assert "Google actions this month: 1" in transport.texts()[-1]
    assert 'send_email: send "The photo" to anna@example.com (id sent-3)' in transport.texts()[-1]


async def test_the_pipeline_passes_a_strangers_yes_to_the_model(
    pipeline_with: Callable[..., Any], store: Store, clock: FakeClock
) -> None:
    """Another person's yes is an ordinary turn; the owner's pending mail stays unsent."""
    google, http = make_google(store, clock, [])
    await ask(google, clock, "send_email", **MAIL)
    backend, transport = ScriptedBackend(), FakeTransport()
    pipeline = await pipeline_with(google, backend, transport)
    pipeline.submit(to_incoming(wa.private_text("yes", sender=OTHER, timestamp=NOW)))
    await pipeline.join()
    assert [t.text for t in backend.turns] == ["yes"]
    assert transport.texts(OTHER_JID) == ["re: yes"]
    assert requests(http) == []
    assert await store.pending_action(OWNER_JID, OWNER_JID) is not None


async def test_the_pipeline_keeps_the_photos_a_chat_sends_for_attaching(
    pipeline_with: Callable[..., Any], store: Store, clock: FakeClock
) -> None:
    """A photo the pipeline downloads becomes photo-1.jpg among the chat's recent files."""
    google, _ = make_google(store, clock, [])
    backend, transport = ScriptedBackend(), FakeTransport()
    pipeline = await pipeline_with(google, backend, transport)
    event = wa.image("look", sender=OWNER, timestamp=NOW)
    transport.downloads[event.Info.ID] = b"jpeg!"
    pipeline.submit(to_incoming(event))
    await pipeline.join()
    [photo] = await google.files.recent(OWNER_JID, NOW + timedelta(minutes=1))
    assert (photo.name, photo.mimetype, photo.data) == ("photo-1.jpg", "image/jpeg", b"jpeg!")


async def test_forget_deletes_the_chats_pending_and_executed_actions(
    store: Store, clock: FakeClock
) -> None:
    """/forget leaves no pending mail (bodies, attachments) and no action record of the chat."""
    google, _ = make_google(store, clock, [ok({"id": "new1"})])
    await ask(google, clock, "send_email", **MAIL)
    await ask(google, clock, "create_event", summary="Gym", start="2026-12-01", end="2026-12-02")
    assert len(await store.actions_since(OWNER_JID, NOW)) == 1
    await store.forget_chat(OWNER_JID)
    assert await store.pending_action(OWNER_JID, OWNER_JID) is None
    assert await store.actions_since(OWNER_JID, NOW) == []
