"""``chat`` mode answers from the knowledge base through the built-in ``search_knowledge``."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli.knowledge import parser, run
from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.chat import ChatBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from storage.store import Store
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock

CHAT = "15550001111@s.whatsapp.net"


def turn(text: str) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="Ann", text=text)


def tool_names(body: dict[str, Any]) -> list[str]:
    """Names of the function tools a Chat Completions request offered."""
    return [t["function"]["name"] for t in body.get("tools", [])]


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake_openai: FakeOpenAI) -> Settings:
    """Chat-mode settings on the fake."""
    return make_settings(OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MAX_RETRIES="0")


@pytest.fixture
async def backend(settings: Settings, store: Store) -> AsyncIterator[ChatBackend]:
    """A chat backend with the built-in tools, wired as the app wires them."""
    services: dict[str, Any] = {"store": store}
    tools = ToolBox(
        build_registry(settings),
        clock=FakeClock(),
        timezone="UTC",
        timeout=5,
        max_rounds=3,
        services=services,
    )
    made = ChatBackend(build_client(settings), store, settings, tools)
    services["knowledge"] = made.knowledge
    yield made
    await made.aclose()


async def test_search_knowledge_finds_the_file_and_the_answer_cites_it(
    fake_openai: FakeOpenAI, settings: Settings, backend: ChatBackend, tmp_path: Path
) -> None:
    """Offered once the store has files; its chunks reach the model; the file is a source."""
    await backend.reply(turn("hello"))
    assert "search_knowledge" not in tool_names(
        fake_openai.requests_to("/chat/completions")[0].json
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "hours.md").write_text("The shop opens at nine on Mondays.\n")
    (tmp_path / "docs" / "menu.txt").write_text("Coffee and cake.\n")
    code = await run(
        parser().parse_args(["add", str(tmp_path / "docs")]), settings, io.StringIO(), io.StringIO()
    )
    assert code == 0
    fake_openai.script(
        ToolCalls([("search_knowledge", {"query": "when does the shop open on mondays"})]),
        Text("At nine."),
    )
    reply = await backend.reply(turn("When do you open on Monday?"))
    first, second = [r.json for r in fake_openai.requests_to("/chat/completions")[1:]]
    assert "search_knowledge" in tool_names(first)
    output = json.loads(second["messages"][-1]["content"])
    assert output["results"][0]["file"] == "hours.md"
    assert "nine on Mondays" in output["results"][0]["text"]
    assert reply.text == "At nine.\n\nSources:\n1. hours.md"
    assert [c.tool for c in reply.tool_calls] == ["search_knowledge"]
    searches = fake_openai.requests_to("/search", "POST")
    assert searches and searches[0].json["query"] == "when does the shop open on mondays"


def test_search_knowledge_is_a_chat_mode_builtin_only(
    make_settings: Callable[..., Settings],
) -> None:
    """chat mode registers search_knowledge; responses and assistants use file_search."""
    assert "search_knowledge" in build_registry(make_settings())
    assert "search_knowledge" not in build_registry(make_settings(OPENAI_API_MODE="responses"))
