"""Settings: every key validated, every problem named at once, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import KNOWN_KEYS, Secret, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_only_a_key() -> None:
    """A key alone is a complete configuration in chat mode."""
    settings = load_settings({"OPENAI_API_KEY": "sk-abc"})
    assert settings.openai_api_mode == "chat"
    assert settings.max_conversation_history == 20
    assert settings.group_mode == "mention"
    assert settings.openai_api_key == Secret("sk-abc")


def test_base_url_without_key_is_enough() -> None:
    """OPENAI_BASE_URL alone is accepted (compatible servers may need no key)."""
    settings = load_settings({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"})
    assert settings.openai_api_key is None
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_every_problem_is_named_at_once() -> None:
    """One error lists every bad or missing key with its reason."""
    env = {
        "OPENAI_API_MODE": "assistant",
        "MAX_CONVERSATION_HISTORY": "lots",
        "OPENAI_TIMEOUT_SECONDS": "-1",
        "LOG_FORMAT": "xml",
        "WHATSAPP_PAIR_PHONE": "call me",
        "TIMEZONE": "Mars/Olympus",
        "OPENAI_BASE_URL": "ftp://x",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    problems = info.value.problems
    assert set(problems) == {
        "OPENAI_API_MODE",
        "MAX_CONVERSATION_HISTORY",
        "OPENAI_TIMEOUT_SECONDS",
        "LOG_FORMAT",
        "WHATSAPP_PAIR_PHONE",
        "TIMEZONE",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
    }
    assert "chat, assistants, responses" in problems["OPENAI_API_MODE"]
    assert "'lots'" in problems["MAX_CONVERSATION_HISTORY"]
    for key in problems:
        assert key in str(info.value)


def test_assistants_mode_needs_an_assistant_id() -> None:
    """assistants mode without OPENAI_ASSISTANT_ID is refused, naming the key."""
    with pytest.raises(ConfigError) as info:
        load_settings({"OPENAI_API_KEY": "k", "OPENAI_API_MODE": "assistants"})
    assert list(info.value.problems) == ["OPENAI_ASSISTANT_ID"]


def test_assistants_mode_uses_the_assistants_own_model_unless_told() -> None:
    """In assistants mode OPENAI_MODEL is an optional per-run override, not a default."""
    env = {"OPENAI_API_KEY": "k", "OPENAI_API_MODE": "assistants", "OPENAI_ASSISTANT_ID": "asst_1"}
    assert load_settings(env).openai_model == ""
    assert load_settings({**env, "OPENAI_MODEL": "gpt-x"}).openai_model == "gpt-x"
    assert load_settings({"OPENAI_API_KEY": "k"}).openai_model == "gpt-5.4-mini"


def test_number_lists_are_normalised() -> None:
    """Admin/allowed/blocked numbers accept +, spaces and JIDs, stored as bare digits."""
    settings = load_settings(
        {
            "OPENAI_API_KEY": "k",
            "ADMIN_NUMBERS": "+1 555 000 1111, 15550002222@s.whatsapp.net",
            "BLOCKED_NUMBERS": "123456789012345@lid",
            "GROUP_ALLOWLIST": "120363000000000001@g.us,120363000000000002",
        }
    )
    assert settings.admin_numbers == ("15550001111", "15550002222")
    assert settings.blocked_numbers == ("123456789012345",)
    assert settings.group_allowlist == ("120363000000000001@g.us", "120363000000000002@g.us")


def test_the_key_never_shows_in_repr() -> None:
    """repr/str of Settings and Secret never contain the API key."""
    settings = load_settings({"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(settings)
    assert "sk-very-secret" not in str(settings)
    assert "sk-very-secret" not in repr(settings.openai_api_key)
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.reveal() == "sk-very-secret"


def test_env_example_documents_every_key() -> None:
    """Every key the bot reads appears in .env.example with its default."""
    text = (ROOT / ".env.example").read_text()
    missing = [k for k in sorted(KNOWN_KEYS) if f"{k}=" not in text]
    assert missing == []


def test_bad_env_file_exits_2_naming_every_key(tmp_path: Path) -> None:
    """main.py refuses a bad .env with exit code 2 and names each bad key."""
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_MODE=nope\nMAX_CONCURRENT_REPLIES=0\nOPENAI_API_KEY=sk-x\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--env-file", str(env_file), "--replay", "-"],
        input="",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "OPENAI_API_MODE" in proc.stderr
    assert "MAX_CONCURRENT_REPLIES" in proc.stderr
    assert "sk-x" not in proc.stderr + proc.stdout
