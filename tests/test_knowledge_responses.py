"""``responses`` mode with knowledge and hosted tools, through the real SDK against the fake."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli.knowledge import parser, run
from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.responses import ResponsesBackend
from helpers.citations import strip_markers, with_sources
from helpers.openai_client import build_client
from storage.store import Store
from tests.backend_kit import toolbox
from tests.fake_openai import FakeOpenAI, Text, ToolCalls

CHAT = "15550001111@s.whatsapp.net"
PNG = b"\x89PNG\r\n\x1a\nfake-chart"

Make = Callable[..., ResponsesBackend]


def turn(text: str) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="Ann", text=text)


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The JSON bodies of every POST /responses, oldest first."""
    return [r.json for r in fake.requests_to("/responses", "POST")]


@pytest.fixture
def settings_for(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> Callable[..., Settings]:
    """Responses-mode settings on the fake, with overrides."""

    def build(**env: Any) -> Settings:
        return make_settings(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_API_MODE="responses",
            OPENAI_MAX_RETRIES="0",
            **env,
        )

    return build


@pytest.fixture
async def make_backend(settings_for: Callable[..., Settings], store: Store) -> AsyncIterator[Make]:
    """Responses backends on the test store; closed after."""
    made: list[ResponsesBackend] = []

    def make(tools: Any = None, **env: Any) -> ResponsesBackend:
        settings = settings_for(**env)
        backend = ResponsesBackend(build_client(settings), store, settings, tools)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


async def add_knowledge(settings: Settings, folder: Path) -> None:
    """``main.py knowledge add FOLDER``, as the operator runs it."""
    out, err = io.StringIO(), io.StringIO()
    code = await run(parser().parse_args(["add", str(folder)]), settings, out, err)
    assert code == 0, err.getvalue()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """Two knowledge files: opening hours and returns."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "hours.md").write_text("Opening hours\n\nThe shop opens at nine on Mondays.\n")
    (folder / "returns.txt").write_text("Returns are accepted within 30 days of purchase.\n")
    return folder


def test_sources_are_numbered_distinct_and_markers_are_removed() -> None:
    """Markers go; sources are listed once each, numbered, after the text."""
    assert strip_markers("Nine o'clock【4:0†hours.md】.") == "Nine o'clock."
    text = with_sources("Nine【1:2†source】", ["hours.md", "hours.md", "faq.txt"])
    assert text == "Nine\n\nSources:\n1. hours.md\n2. faq.txt"
    assert with_sources("Plain.", []) == "Plain."
    assert with_sources("", ["https://a.example"]) == "Sources:\n1. https://a.example"


async def test_a_knowledge_file_added_by_the_cli_is_found_and_cited(
    fake_openai: FakeOpenAI, settings_for: Callable[..., Settings], make_backend: Make, docs: Path
) -> None:
    """file_search carries the store's id once it has files; the answer cites the file name."""
    backend = make_backend()
    await backend.reply(turn("hello"))
    assert "tools" not in bodies(fake_openai)[0]  # an empty knowledge base: no file_search
    await add_knowledge(settings_for(), docs)
    reply = await backend.reply(turn("When does the shop open on Mondays?"))
    body = bodies(fake_openai)[1]
    [search] = [t for t in body["tools"] if t["type"] == "file_search"]
    assert search["vector_store_ids"][0].startswith("vs_")
    assert reply.text.endswith("\n\nSources:\n1. hours.md")
    assert "returns.txt" not in reply.text
    assert [c.tool for c in reply.tool_calls] == ["file_search"]


async def test_configured_vector_store_ids_are_searched_without_local_files(
    fake_openai: FakeOpenAI, make_backend: Make
) -> None:
    """OPENAI_VECTOR_STORE_IDS: those stores go into file_search as they are."""
    await make_backend(OPENAI_VECTOR_STORE_IDS="vs_one,vs_two").reply(turn("hi"))
    [search] = bodies(fake_openai)[0]["tools"]
    assert search["vector_store_ids"] == ["vs_one", "vs_two"]


async def test_code_interpreter_files_arrive_as_media_with_the_text(
    fake_openai: FakeOpenAI, make_backend: Make
) -> None:
    """A chart and a CSV the code wrote are downloaded from the container, in order."""
    fake_openai.script(Text("Here is the chart.", files=[("chart.png", PNG), ("data.csv", b"a,b")]))
    reply = await make_backend(OPENAI_HOSTED_TOOLS="code_interpreter").reply(turn("plot it"))
    tool = bodies(fake_openai)[0]["tools"][0]
    assert tool == {"type": "code_interpreter", "container": {"type": "auto"}}
    assert reply.text == "Here is the chart."
    assert [(m.kind, m.mimetype, m.file_name, m.data) for m in reply.media] == [
        ("image", "image/png", "chart.png", PNG),
        ("document", "text/csv", "data.csv", b"a,b"),
    ]
    assert [c.tool for c in reply.tool_calls] == ["code_interpreter"]


async def test_a_generated_image_arrives_and_the_next_turn_edits_it_in_the_conversation(
    fake_openai: FakeOpenAI, make_backend: Make
) -> None:
    """image_generation's base64 result becomes an image; the conversation keeps it."""
    backend = make_backend(OPENAI_HOSTED_TOOLS="image_generation", OPENAI_IMAGE_MODEL="img-x")
    fake_openai.script(Text("A red boat.", images=[PNG]), Text("Now blue.", images=[b"blue"]))
    first = await backend.reply(turn("draw a boat"))
    second = await backend.reply(turn("make it blue"))
    assert [(m.kind, m.data) for m in first.media] == [("image", PNG)]
    assert [(m.kind, m.data) for m in second.media] == [("image", b"blue")]
    body = bodies(fake_openai)[1]
    assert body["tools"] == [{"type": "image_generation", "model": "img-x"}]
    conversation = body["conversation"]
    kinds = [item["type"] for item in fake_openai.conversation_items(conversation)]
    assert kinds.count("image_generation_call") == 2


async def test_web_search_urls_become_the_sources(
    fake_openai: FakeOpenAI, make_backend: Make
) -> None:
    """url_citation annotations are listed as numbered URLs."""
    fake_openai.script(Text("It rains.", web=[("https://w.example/today", "Weather")]))
    reply = await make_backend(OPENAI_HOSTED_TOOLS="web_search").reply(turn("weather?"))
    assert reply.text == "It rains.\n\nSources:\n1. https://w.example/today"
    assert [c.tool for c in reply.tool_calls] == ["web_search"]


async def test_function_and_hosted_tools_mix_in_one_turn(
    fake_openai: FakeOpenAI, make_backend: Make
) -> None:
    """A function call round, then a hosted-tool answer: both recorded, both offered."""
    fake_openai.script(
        ToolCalls([("add", {"a": 2, "b": 3})]),
        Text("5, searched.", web=[("https://x.example", "X")]),
    )
    reply = await make_backend(toolbox(), OPENAI_HOSTED_TOOLS="web_search").reply(turn("2+3?"))
    names = [t.get("name", t["type"]) for t in bodies(fake_openai)[0]["tools"]]
    assert "add" in names and "web_search" in names
    assert [c.tool for c in reply.tool_calls] == ["add", "web_search"]
    assert reply.text.endswith("1. https://x.example")
