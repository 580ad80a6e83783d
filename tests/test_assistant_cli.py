"""``main.py assistant sync|show`` against the fake's Assistants API."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import pytest

import main
from bot.cli import assistant as cli
from bot.cli.knowledge import parser as knowledge_parser
from bot.cli.knowledge import run as knowledge_run
from bot.settings import Settings
from tests.fake_openai import FakeOpenAI


async def assistant(settings: Settings, *argv: str) -> tuple[int, str, str]:
    """Run ``assistant ARGV``; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = await cli.run(cli.parser().parse_args(list(argv)), settings, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_sync_creates_the_assistant_from_the_settings_and_prints_its_id(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """No OPENAI_ASSISTANT_ID: a new assistant with the prompt, model, tools and knowledge."""
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_MODEL="gpt-test",
        AI_SYSTEM_PROMPT="Be brief.",
        OPENAI_HOSTED_TOOLS="code_interpreter,web_search",
    )
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("knowledge\n")
    args = knowledge_parser().parse_args(["add", str(tmp_path / "kb")])
    assert await knowledge_run(args, settings, io.StringIO(), io.StringIO()) == 0
    code, out, _ = await assistant(settings, "sync")
    assert code == 0
    new_id = out.split()[1].rstrip(":")
    assert f"put OPENAI_ASSISTANT_ID={new_id} in .env" in out
    made = fake_openai.assistants_store.assistant(new_id)
    assert (made["name"], made["instructions"], made["model"]) == (
        "WhatsApp bot",
        "Be brief.",
        "gpt-test",
    )
    kinds = [t.get("function", {}).get("name", t["type"]) for t in made["tools"]]
    assert kinds[:2] == ["file_search", "code_interpreter"] and "set_reminder" in kinds
    assert "web_search" not in kinds  # not an Assistants tool
    store_id = made["tool_resources"]["file_search"]["vector_store_ids"][0]
    assert store_id.startswith("vs_")


async def test_show_lists_differences_and_sync_updates_the_assistant(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    """show names what differs (exit 1); after sync the server matches (exit 0)."""
    asst = fake_openai.add_assistant(model="old-model", instructions="Old.")
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_ASSISTANT_ID=asst,
        OPENAI_API_MODE="assistants",
        OPENAI_MODEL="gpt-new",
        AI_SYSTEM_PROMPT="New.",
    )
    code, out, _ = await assistant(settings, "show")
    assert code == 1
    assert "model: server 'old-model', settings 'gpt-new'" in out
    assert "instructions: server 'Old.', settings 'New.'" in out
    code, out, _ = await assistant(settings, "sync")
    assert code == 0 and out.strip() == f"updated {asst}"
    code, out, _ = await assistant(settings, "show")
    assert code == 0 and "matches the settings" in out


async def test_show_without_an_assistant_id_is_bad_usage(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    """show needs an id: exit 2 pointing at sync."""
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url)
    code, _, err = await assistant(settings, "show")
    assert code == 2 and "assistant sync" in err


async def test_main_creates_an_assistant_while_assistants_mode_has_no_id_yet(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`main.py assistant sync` with OPENAI_API_MODE=assistants and no id: created, exit 0."""
    # Logging is configured once per process and caches loggers: keep this one's setup.
    monkeypatch.setattr("bot.cli.CliContext.configure_logging", lambda *a, **k: None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_MODE", "assistants")
    monkeypatch.delenv("OPENAI_ASSISTANT_ID", raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "a.db"))
    before = set(fake_openai.assistants_store.assistants)
    argv = ["--env-file", str(tmp_path / "none.env"), "assistant", "sync"]
    assert await asyncio.to_thread(main.main, argv) == 0
    assert len(set(fake_openai.assistants_store.assistants) - before) == 1
