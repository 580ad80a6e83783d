"""Settings: every key validated, every problem named at once, secrets never shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import KNOWN_KEYS, load_settings, unknown_key_hints

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_only_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key alone is a complete configuration in chat mode; nothing but the mapping is read."""
    monkeypatch.setenv("OPENAI_MODEL", "from-the-environment")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MAX_CONVERSATION_HISTORY=3\n")
    settings = load_settings({"OPENAI_API_KEY": "sk-abc"})
    assert settings.openai_model == "gpt-5.4-mini"
    assert settings.openai_api_mode == "chat"
    assert settings.max_conversation_history == 20
    assert settings.group_mode == "mention"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-abc"


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
    assert problems["OPENAI_TIMEOUT_SECONDS"] == "must be between 0 and 3600, got -1"
    for key in problems:
        assert key in str(info.value)
    for jargon in ("input_value", "Input should", "type=", "pydantic", "Value error"):
        assert jargon not in str(info.value)


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("OPENAI_STREAM", "maybe", "must be true or false, got 'maybe'"),
        ("DEBOUNCE_SECONDS", "inf", "must be a finite number, got 'inf'"),
        ("HANDOFF_MINUTES", "soon", "must be a number, got 'soon'"),
        ("MAX_REPLY_PARTS", "1000", "must be between 1 and 100, got 1000"),
        ("RATE_LIMIT_PER_MINUTE", "-3", "must be >= 0, got -3"),
        ("LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got 'loud'"),
        ("ADMIN_NUMBERS", "15550001111, abc", "'abc' is not a phone number, LID or JID"),
    ],
)
def test_each_kind_of_mistake_is_worded_plainly(key: str, raw: str, reason: str) -> None:
    """Booleans, numbers, ranges, choices and lists: one plain sentence per bad key."""
    with pytest.raises(ConfigError) as info:
        load_settings({"OPENAI_API_KEY": "k", key: raw})
    assert info.value.problems == {key: reason}


def test_settings_are_frozen() -> None:
    """A built Settings cannot be changed."""
    settings = load_settings({"OPENAI_API_KEY": "k"})
    with pytest.raises(ValueError, match="frozen"):
        settings.openai_model = "other"  # type: ignore[misc]


def test_a_misspelled_key_that_looks_like_ours_gets_a_suggestion() -> None:
    """OPENAI_APIKEY -> OPENAI_API_KEY; other people's variables are left alone."""
    env = {"OPENAI_APIKEY": "sk-x", "MAX_INPUT_CHAR": "9", "PATH": "/bin", "HOME": "/root"}
    assert unknown_key_hints(env) == {
        "OPENAI_APIKEY": "OPENAI_API_KEY",
        "MAX_INPUT_CHAR": "MAX_INPUT_CHARS",
    }
    assert unknown_key_hints({"OPENAI_API_KEY": "k", "OPENAI_ORG_ID": "x"}) == {}


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
    settings = load_settings(
        {"OPENAI_API_KEY": "sk-very-secret", "WHATSAPP_SESSION": "postgres://bot:hunter2@db/wa"}
    )
    assert "hunter2" not in repr(settings) and "postgres://bot:***@db/wa" in repr(settings)
    assert "sk-very-secret" not in repr(settings)
    assert "sk-very-secret" not in str(settings)
    assert "sk-very-secret" not in repr(settings.openai_api_key)
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"


def test_env_example_documents_every_key() -> None:
    """Every key the bot reads appears in .env.example with its default."""
    text = (ROOT / ".env.example").read_text()
    missing = [k for k in sorted(KNOWN_KEYS) if f"{k}=" not in text]
    assert missing == []


def test_bad_env_file_exits_2_naming_every_key(tmp_path: Path) -> None:
    """main.py refuses a bad .env with exit code 2 and names each bad key."""
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_MODE=nope\nMAX_CONCURRENT_REPLIES=0\nOPENAI_APIKEY=sk-x\n")
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
    assert "OPENAI_APIKEY is not a setting: did you mean OPENAI_API_KEY?" in proc.stderr
    assert "sk-x" not in proc.stderr + proc.stdout


def test_a_good_start_warns_once_about_a_misspelled_key(tmp_path: Path) -> None:
    """main.py starts despite OPENAI_APIKEY and logs one settings.unknown_key suggestion."""
    env = {
        "PATH": "/usr/bin:/bin",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_APIKEY": "sk-typo-key-never-shown",
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "LOG_FORMAT": "json",
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--env-file", os.devnull, "--replay", "-"],
        input="",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [
        json.loads(line) for line in proc.stderr.splitlines() if '"settings.unknown_key"' in line
    ]
    assert [(w["key"], w["did_you_mean"], w["level"]) for w in warnings] == [
        ("OPENAI_APIKEY", "OPENAI_API_KEY", "warning")
    ]
    assert "sk-typo-key-never-shown" not in proc.stderr + proc.stdout
