"""The whole bot (``main.py --replay``) against each server profile of the fake: it answers,
or it refuses to start with exit 2 and a message saying what to change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.test_replay_e2e import ALICE, replay

pytestmark = pytest.mark.slow

ADMIN = "15559990000"


def say(*texts: str) -> list[str]:
    """Replay lines: Alice says each text."""
    return [wa.to_json_line(wa.private_text(text, sender=ALICE)) for text in texts]


def events(err: str, name: str) -> list[dict[str, Any]]:
    """The JSON log lines named ``name`` on stderr."""
    found = []
    for line in err.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name:
            found.append(entry)
    return found


def day(offset: int) -> str:
    """Today (UTC) plus ``offset`` days, as YYYY-MM-DD."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


# --- responses mode --------------------------------------------------------------------------


async def test_no_conversations_api_chains_responses_and_keeps_context(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """No /conversations (404): auto chains previous_response_id, says so in bot.ready, and the
    context survives a restart."""
    fake_openai.profile(conversations_enabled=False)
    env = {"OPENAI_API_MODE": "responses"}
    code, sent, err = await replay(fake_openai, tmp_path, say("I like tea"), **env)
    assert code == 0, err
    [ready] = events(err, "bot.ready")
    assert ready["responses_state"] == "previous_response"
    code, sent, err = await replay(fake_openai, tmp_path, say("what do I like?"), **env)
    assert code == 0, err
    assert [s["text"] for s in sent] == ["echo: what do I like?"]
    assert ("user", "I like tea") in fake_openai.calls[-1].messages
    assert fake_openai.requests_to("/responses", "POST")[-1].json["previous_response_id"]


async def test_a_stateless_responses_server_is_answered_from_local_history(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """No /conversations and no chaining (Ollama-like): answers come from local history."""
    fake_openai.profile(conversations_enabled=False, chaining=False)
    env = {"OPENAI_API_MODE": "responses"}
    code, sent, err = await replay(fake_openai, tmp_path, say("remember 42"), **env)
    assert code == 0, err
    code, sent, err = await replay(fake_openai, tmp_path, say("what number?"), **env)
    assert code == 0, err
    assert [s["text"] for s in sent] == ["echo: what number?"]
    assert ("user", "remember 42") in fake_openai.calls[-1].messages
    assert events(err, "responses.state_fallback")
    assert fake_openai.requests_to("/responses", "POST")[-1].json["store"] is False


# --- chat mode -------------------------------------------------------------------------------


async def test_a_server_without_tools_answers_without_them(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """vLLM without --enable-auto-tool-choice: the turn is answered, one warning."""
    fake_openai.profile(tools_refusal="vllm")
    code, sent, err = await replay(fake_openai, tmp_path, say("hello", "again"))
    assert code == 0, err
    assert sorted(s["text"] for s in sent) == ["echo: again", "echo: hello"]
    [warning] = events(err, "chat.tools_unsupported")
    assert "enable-auto-tool-choice" in warning["server_said"]


async def test_a_strict_template_gets_strictly_alternating_turns(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Mistral-style alternation: debounced messages and /reset never break a turn."""
    fake_openai.profile(strict_alternation=True)
    code, sent, err = await replay(fake_openai, tmp_path, say("hi", "/reset", "one", "two"))
    assert code == 0, err
    assert not [s for s in sent if s["text"].startswith("Sorry")]
    assert all(r.status == 200 for r in fake_openai.requests_to("/chat/completions"))


async def test_list_typed_schemas_refused_tools_still_work(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Gemini refuses `"type": [..]` in tool schemas: the bot's schemas avoid it, so a tool
    with an optional argument is offered and runs (needs the pydantic branch's schemas)."""
    fake_openai.profile(list_types_refused=True)
    fake_openai.script(ToolCalls([("current_datetime", {})]), Text("It is now."))
    code, sent, err = await replay(fake_openai, tmp_path, say("what time is it?"))
    assert code == 0, err
    assert [s["text"] for s in sent] == ["It is now."]
    assert [r.status for r in fake_openai.requests_to("/chat/completions")] == [200, 200]
    assert events(err, "chat.tools_unsupported") == []


async def test_tool_arguments_as_objects_run_the_tool(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Tool-call arguments sent as a JSON object (Ollama): the tool runs, the bot answers."""
    fake_openai.profile(tool_arguments_as_objects=True)
    fake_openai.script(
        ToolCalls([("current_datetime", {"timezone": "Asia/Tokyo"})]), Text("Tokyo time sent.")
    )
    code, sent, err = await replay(fake_openai, tmp_path, say("time in Tokyo?"))
    assert code == 0, err
    assert [s["text"] for s in sent] == ["Tokyo time sent."]
    assert events(err, "tool.failed") == []


# --- start-up --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["chat", "responses"])
async def test_a_server_without_models_starts_and_answers(
    fake_openai: FakeOpenAI, tmp_path: Path, mode: str
) -> None:
    """No /models at all: the check is skipped with one debug line and the bot answers."""
    fake_openai.profile(models_enabled=False)
    env = {"OPENAI_API_MODE": mode, "LOG_LEVEL": "DEBUG"}
    code, sent, err = await replay(fake_openai, tmp_path, say("hello"), **env)
    assert code == 0, err
    assert [s["text"] for s in sent] == ["echo: hello"]
    assert [e["level"] for e in events(err, "models.unlisted")] == ["debug"]


@pytest.mark.parametrize("mode", ["chat", "responses"])
async def test_a_refused_key_exits_2_naming_openai_api_key(
    fake_openai: FakeOpenAI, tmp_path: Path, mode: str
) -> None:
    """A key the server refuses: exit 2 before any message, naming OPENAI_API_KEY (the
    assistants mode's preflight did so already)."""
    fake_openai.settings.api_key = "sk-another-key"
    code, sent, err = await replay(
        fake_openai, tmp_path, say("hello"), OPENAI_API_MODE=mode, OPENAI_ASSISTANT_ID="asst_test"
    )
    assert (code, sent) == (2, [])
    assert "OPENAI_API_KEY was refused" in err
    assert "sk-e2e-secret-key" not in err


async def test_an_unknown_model_exits_2_naming_the_setting(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """/models/{id} 404 for the configured model: exit 2 naming OPENAI_MODEL."""
    fake_openai.profile(models_strict=True, models={"gpt-transcribe": None})
    code, sent, err = await replay(fake_openai, tmp_path, say("hello"), OPENAI_MODEL="gpt-typo")
    assert (code, sent) == (2, [])
    assert "OPENAI_MODEL: " in err and "'gpt-typo'" in err


async def test_a_model_shut_down_exits_2_with_the_date(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """shutdown_date in the past: exit 2 naming the setting and the date."""
    fake_openai.profile(models={"gpt-transcribe": day(-3)})
    code, sent, err = await replay(fake_openai, tmp_path, say("hello"))
    assert (code, sent) == (2, [])
    assert f"OPENAI_TRANSCRIPTION_MODEL: gpt-transcribe was shut down on {day(-3)}" in err


async def test_a_model_shutting_down_soon_warns_and_tells_the_admins_once(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """shutdown_date within 60 days: the bot answers, warns, and tells ADMIN_NUMBERS once."""
    fake_openai.profile(models={"gpt-soon": day(20)})
    env = {"OPENAI_MODEL": "gpt-soon", "ADMIN_NUMBERS": ADMIN}
    code, sent, err = await replay(fake_openai, tmp_path, say("hello"), **env)
    assert code == 0, err
    notice = f"⚠️ OPENAI_MODEL gpt-soon shuts down on {day(20)}; set another model in .env."
    assert {"to": f"{ADMIN}@s.whatsapp.net", "text": notice, "quoted_id": None} in sent
    assert "echo: hello" in [s["text"] for s in sent]
    assert events(err, "model.shutdown_soon")
    code, sent, err = await replay(fake_openai, tmp_path, say("again"), **env)
    assert code == 0, err
    assert [s["text"] for s in sent] == ["echo: again"]  # told once, not at every start
    assert events(err, "model.shutdown_soon")
