"""``assistants`` mode with the knowledge base and documents, against the fake's Assistants API."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli.knowledge import parser, run
from bot.settings import Settings
from helpers.backends.assistants import AssistantsBackend
from helpers.backends.base import Turn, TurnDocument
from helpers.openai_client import build_client
from storage.store import Store
from tests.conftest import ASSISTANT_ID
from tests.fake_openai import FakeOpenAI

CHAT = "15550001111@s.whatsapp.net"
PDF = b"%PDF-1.7\n%%EOF\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def turn(text: str, **extra: Any) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="Ann", text=text, **extra)


@pytest.fixture(params=["true", "false"], ids=["streamed", "polled"])
def settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> Settings:
    """Assistants-mode settings on the fake, streamed and polled."""
    return make_settings(
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_MODE="assistants",
        OPENAI_ASSISTANT_ID=ASSISTANT_ID,
        OPENAI_MAX_RETRIES="0",
        OPENAI_POLL_INTERVAL_MS="10",
        OPENAI_STREAM=str(request.param),
    )


@pytest.fixture
async def backend(settings: Settings, store: Store) -> AsyncIterator[AssistantsBackend]:
    """An assistants backend on the test store."""
    made = AssistantsBackend(build_client(settings), store, settings, None)
    yield made
    await made.aclose()


async def test_the_knowledge_store_is_given_to_the_thread_and_its_file_cited(
    fake_openai: FakeOpenAI, settings: Settings, backend: AssistantsBackend, tmp_path: Path
) -> None:
    """Once the CLI added files: the thread gets the store, runs get file_search, and the
    【…†source】 citation becomes the file's name in the Sources list."""
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "hours.md").write_text("The shop opens at nine on Mondays.\n")
    (tmp_path / "kb" / "menu.txt").write_text("Coffee and cake.\n")
    out, err = io.StringIO(), io.StringIO()
    assert await run(parser().parse_args(["add", str(tmp_path / "kb")]), settings, out, err) == 0
    reply = await backend.reply(turn("when does the shop open on mondays?"))
    thread_id = await backend.store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    store_id = await backend.store.knowledge_store_id()
    thread = fake_openai.assistants_store.thread(thread_id).thread
    assert thread["tool_resources"] == {"file_search": {"vector_store_ids": [store_id]}}
    run_body = fake_openai.requests_to("/runs", "POST")[0].json
    assert {"type": "file_search"} in run_body["tools"]
    assert "【" not in reply.text
    assert reply.text.endswith("\n\nSources:\n1. hours.md")


async def test_documents_are_attached_with_the_fitting_tool_and_forget_deletes_them(
    fake_openai: FakeOpenAI, backend: AssistantsBackend
) -> None:
    """A PDF goes to file_search, a spreadsheet to code_interpreter; /forget deletes both."""
    pdf = TurnDocument(PDF, "application/pdf", "invoice.pdf")
    sheet = TurnDocument(b"PK-sheet", XLSX, "numbers.xlsx")
    await backend.reply(turn("sum these", documents=(pdf, sheet)))
    thread_id = await backend.store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    [message] = [m for m in fake_openai.thread_messages(thread_id) if m["role"] == "user"]
    [a, b] = message["attachments"]
    assert a["tools"] == [{"type": "file_search"}] and fake_openai.file_bytes(a["file_id"]) == PDF
    assert b["tools"] == [{"type": "code_interpreter"}]
    assert fake_openai.core.files[a["file_id"]].info["purpose"] == "assistants"
    tools = {t["type"] for t in fake_openai.requests_to("/runs", "POST")[0].json["tools"]}
    assert {"file_search", "code_interpreter"} <= tools
    await backend.forget(CHAT)
    assert a["file_id"] not in fake_openai.core.files
    assert b["file_id"] not in fake_openai.core.files
