"""End to end in each mode: the fake model calls a Google tool, the bot asks, "yes" runs it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.confirmations import Confirmations
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.backends.factory import build_backend
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from storage.store import Store
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock, FakeTransport
from tests.google_kit import OWNER, OWNER_JID, make_google, ok, requests, sent_mail
from tests.test_tools_all_modes import submitted_outputs

MODES = ["chat", "responses", "assistants"]
QUESTION = 'I would send "Hi" to anna@example.com. Reply yes within 5 minutes to send it.'
MAIL = {"to": ["anna@example.com"], "subject": "Hi", "body": "See you at 3."}


@pytest.fixture
async def bot_for(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> AsyncIterator[Callable[..., Any]]:
    """A pipeline wired like the app's, against the fake server and Google's HTTP mock."""
    started: list[Pipeline] = []

    async def make(mode: str, answers: list[Any]) -> tuple[Pipeline, FakeTransport, Any]:
        settings = make_settings(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_MAX_RETRIES=0,
            OPENAI_ASSISTANT_ID="asst_test",
            OPENAI_API_MODE=mode,
            GOOGLE_TOOLS="gmail,calendar",
            ADMIN_NUMBERS=OWNER,
        )
        clock = FakeClock()
        google, http = make_google(store, clock, answers)
        box = ToolBox(
            build_registry(settings),
            clock=clock,
            timezone="UTC",
            timeout=5,
            max_rounds=3,
            services={"store": store, "google": google},
            audiences=google.audiences(),
        )
        backend = build_backend(settings, store, box)
        await backend.preflight()
        transport = FakeTransport()
        pipeline = Pipeline(
            settings=settings,
            store=store,
            backend=backend,
            transport=transport,
            clock=clock,
            confirmations=Confirmations(google, clock, tell_model=mode != "chat"),
            recent_files=google.files,
        )
        await pipeline.start()
        started.append(pipeline)
        return pipeline, transport, http

    yield make
    for pipeline in started:
        await pipeline.drain(timeout=1)
        await pipeline.close()
        await pipeline.backend.aclose()  # type: ignore[attr-defined]


async def say(pipeline: Pipeline, text: str) -> None:
    """The owner writes ``text`` in their private chat; wait for the answer."""
    pipeline.submit(to_incoming(wa.private_text(text, sender=OWNER)))
    await pipeline.join()


@pytest.mark.parametrize("mode", MODES)
async def test_send_email_asks_then_sends_on_yes(
    mode: str, bot_for: Callable[..., Any], fake_openai: FakeOpenAI, store: Store
) -> None:
    """The model's send_email becomes a question; the owner's yes sends without the model."""
    fake_openai.script(ToolCalls([("send_email", MAIL)]), Text(QUESTION))
    pipeline, transport, http = await bot_for(mode, [ok({"id": "sent-1"})])
    await say(pipeline, "mail Anna: see you at 3, subject Hi")
    assert transport.texts() == [QUESTION]
    assert requests(http) == []
    [[output]] = submitted_outputs(mode, fake_openai)
    assert json.loads(output)["would_do"] == 'send "Hi" to anna@example.com'
    calls_before = len(fake_openai.calls)
    await say(pipeline, "yes")
    assert len(fake_openai.calls) == calls_before  # no OpenAI call for the yes
    assert transport.texts()[-1] == 'Sent "Hi" to anna@example.com.'
    [(_, path, body)] = requests(http)
    assert path.startswith("/gmail/v1/users/me/messages/send")
    assert sent_mail(body)["To"] == "anna@example.com"
    [record] = await store.actions_since(OWNER_JID, pipeline.clock.now().replace(day=1, hour=0))
    assert (record.tool, record.result_id) == ("send_email", "sent-1")


@pytest.mark.parametrize("mode", MODES)
async def test_the_model_cannot_confirm_by_itself(
    mode: str, bot_for: Callable[..., Any], fake_openai: FakeOpenAI
) -> None:
    """A model that asks and then claims the user said yes sends nothing; the tool said wait."""
    fake_openai.script(
        ToolCalls([("delete_event", {"event_id": "ev1"})]),
        ToolCalls([("delete_event", {"event_id": "ev1"})]),
        Text("The user said yes, so it is deleted."),
    )
    event = {"id": "ev1", "summary": "Dentist", "start": {"date": "2026-12-01"}}
    pipeline, transport, http = await bot_for(mode, [ok(event), ok(event)])
    await say(pipeline, "delete the dentist")
    assert [m for m, _, _ in requests(http)] == ["GET", "GET"]  # looked up, never deleted
    outputs = [json.loads(o) for batch in submitted_outputs(mode, fake_openai) for o in batch]
    assert outputs and {o["status"] for o in outputs} == {"waiting_for_confirmation"}
    assert await pipeline.store.pending_action(OWNER_JID, OWNER_JID) is not None
    assert transport.texts() == ["The user said yes, so it is deleted."]


@pytest.mark.parametrize("mode", MODES)
async def test_the_next_turn_knows_what_the_yes_did(
    mode: str, bot_for: Callable[..., Any], fake_openai: FakeOpenAI
) -> None:
    """Server-side conversations get a note of the yes and its result; chat mode has it in
    its history. Either way the model's next request shows the mail was sent."""
    fake_openai.script(ToolCalls([("send_email", MAIL)]), Text(QUESTION), Text("Anything else?"))
    pipeline, _, _ = await bot_for(mode, [ok({"id": "sent-1"})])
    await say(pipeline, "mail Anna: see you at 3, subject Hi")
    await say(pipeline, "yes")
    await say(pipeline, "thanks")
    assert fake_openai.calls[-1].last_user_text.endswith("thanks")
    path = {"chat": "/chat/completions", "responses": "/responses", "assistants": "/messages"}
    said = json.dumps(fake_openai.requests_to(path[mode], method="POST")[-1].body)
    assert 'Sent \\"Hi\\" to anna@example.com.' in said
