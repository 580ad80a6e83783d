"""Start-up with GOOGLE_TOOLS: the token file is checked offline; a bad one stops with exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import main
from bot.app import wire
from bot.errors import StartupError
from bot.settings import Settings
from helpers.google.auth import scopes_for, token_file, token_problem
from helpers.google.service import GoogleTools
from tests.fake_openai import FakeOpenAI
from tests.google_kit import OWNER, write_token

NEEDED = scopes_for(["gmail", "calendar"])


def test_the_scopes_are_the_narrowest_for_each_set() -> None:
    """Gmail reads and sends (no delete, no settings); Calendar changes events only."""
    assert scopes_for(["gmail"]) == [
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.send",
    ]
    assert scopes_for(["calendar"]) == ["https://www.googleapis.com/auth/calendar.events"]


def test_a_good_token_file_has_no_problem(tmp_path: Path) -> None:
    """A file with a refresh token and every needed scope passes."""
    assert token_problem(write_token(tmp_path / "t.json"), NEEDED) is None


def test_each_bad_token_file_is_named(tmp_path: Path) -> None:
    """Missing, not JSON, without refresh token, or lacking a scope: each said plainly."""
    assert "no Google sign-in" in (token_problem(tmp_path / "none.json", NEEDED) or "")
    (tmp_path / "junk.json").write_text("{not json")
    assert "not readable JSON" in (token_problem(tmp_path / "junk.json", NEEDED) or "")
    path = write_token(tmp_path / "norefresh.json", refresh_token="")
    assert "no refresh token" in (token_problem(path, NEEDED) or "")
    path = write_token(tmp_path / "gmailonly.json", sets=["gmail"])
    assert "lacks the scope(s) calendar.events" in (token_problem(path, NEEDED) or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_token_file_is_named(tmp_path: Path) -> None:
    """A token file this user cannot read is named as such."""
    path = write_token(tmp_path / "t.json")
    path.chmod(0)
    assert "cannot be read" in (token_problem(path, NEEDED) or "")


def test_the_token_file_defaults_to_the_data_folder(make_settings: Callable[..., Settings]) -> None:
    """Without GOOGLE_TOKEN_FILE the token lives beside the database."""
    settings = make_settings(GOOGLE_TOOLS="gmail")
    assert token_file(settings) == settings.database_path.parent / "google-token.json"


async def test_start_up_without_a_sign_in_stops_naming_google_login(
    make_settings: Callable[..., Settings],
) -> None:
    """wire() refuses GOOGLE_TOOLS without a token file, before anything connects."""
    settings = make_settings(GOOGLE_TOOLS="calendar", ADMIN_NUMBERS=OWNER)
    with pytest.raises(StartupError) as info:
        async with wire(settings):
            pass
    assert "google login" in str(info.value) and "google-token.json" in str(info.value)


def test_main_exits_2_when_the_sign_in_lacks_a_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The process exits 2 with one clear line when the token misses an enabled set's scope."""
    # Logging stays as the suite has it: a configured structlog caches its loggers.
    monkeypatch.setattr("bot.logs.configure_logging", lambda *a, **k: None)
    token = write_token(tmp_path / "token.json", sets=["gmail"])
    replay = tmp_path / "in.jsonl"
    replay.write_text("")
    for key, value in {
        "OPENAI_API_KEY": "sk-x",
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "GOOGLE_TOOLS": "gmail,calendar",
        "GOOGLE_TOKEN_FILE": str(token),
        "LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(key, value)
    assert main.main(["--env-file", str(tmp_path / "none.env"), "--replay", str(replay)]) == 2
    err = capsys.readouterr().err
    assert "calendar.events" in err and "python main.py google login" in err


async def test_the_bot_starts_offline_with_a_good_sign_in(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """A valid token file is enough: no request to Google at start-up; the tools are wired."""
    token = write_token(tmp_path / "token.json")
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url,
        GOOGLE_TOOLS="gmail,calendar",
        GOOGLE_TOKEN_FILE=str(token),
        ADMIN_NUMBERS=OWNER,
    )
    async with wire(settings) as bot:
        google = bot.tools.services["google"]
        assert isinstance(google, GoogleTools)
        assert google.client.credentials is not None
        assert (
            google.client.credentials.refresh_token
            == json.loads(token.read_text())["refresh_token"]
        )
        assert "send_email" in bot.tools.registry.names()
        assert bot.pipeline.confirmations is not None


async def test_a_token_file_without_the_client_is_a_startup_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A token file missing its client id stops start-up with google login, not a traceback."""
    token = write_token(tmp_path / "token.json", client_id=None)
    settings = make_settings(GOOGLE_TOOLS="gmail", GOOGLE_TOKEN_FILE=str(token))
    with pytest.raises(StartupError) as info:
        async with wire(settings):
            pass
    assert "incomplete (no OAuth client id" in str(info.value)
    assert "google login" in str(info.value)
