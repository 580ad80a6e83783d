"""``python main.py google login|status|logout``: token storage, scopes, mode 0600, revoking."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.http import HttpMockSequence

import main
from bot.cli import google as cli
from bot.settings import Settings
from helpers.google.auth import load_credentials, scopes_for
from tests.google_kit import TOKEN_URI, ok, write_token

CLIENT = {
    "installed": {
        "client_id": "client.apps.googleusercontent.com",
        "client_secret": "test-secret",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
        "redirect_uris": ["http://localhost"],
    }
}


class FakeFlow:
    """Stands in for InstalledAppFlow: records how it was run, returns fixed credentials."""

    def __init__(self, secrets: str, scopes: list[str]) -> None:
        self.secrets, self.scopes = secrets, scopes
        self.ran: dict[str, Any] = {}

    def run_local_server(self, **kwargs: Any) -> Credentials:
        """What Google's flow returns after the browser sign-in."""
        self.ran = kwargs
        return Credentials(
            token="ya29.new",
            refresh_token="1//new-refresh",
            token_uri=TOKEN_URI,
            client_id="client.apps.googleusercontent.com",
            client_secret="test-secret",
            scopes=self.scopes,
        )


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    """GOOGLE_TOOLS=calendar, with the OAuth client file in the data folder."""
    (tmp_path / "google-client.json").write_text(json.dumps(CLIENT))
    return make_settings(GOOGLE_TOOLS="calendar")


def test_login_stores_the_refresh_token_with_mode_0600(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token lands beside the database, readable by the owner only, with narrow scopes."""
    flows: list[FakeFlow] = []

    def factory(secrets: str, scopes: list[str]) -> FakeFlow:
        flows.append(FakeFlow(secrets, scopes))
        return flows[-1]

    token = tmp_path / "google-token.json"
    token.write_text("old")
    token.chmod(0o644)
    assert cli.login(settings, ["calendar"], port=9999, flow_factory=factory) == 0
    [flow] = flows
    assert flow.secrets == str(tmp_path / "google-client.json")
    assert flow.scopes == ["https://www.googleapis.com/auth/calendar.events"]
    assert flow.ran["port"] == 9999 and flow.ran["access_type"] == "offline"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert load_credentials(token).refresh_token == "1//new-refresh"
    assert "ssh -L 9999:localhost:9999" in capsys.readouterr().out


def test_login_without_an_oauth_client_explains_where_to_get_one(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    """No client file: exit 2, naming the file and the Desktop-app client to create."""
    code = cli.login(make_settings(), ["gmail"], flow_factory=FakeFlow)
    assert code == 2
    assert "Desktop app" in capsys.readouterr().err


def test_the_real_flow_is_built_offline_with_the_scopes(tmp_path: Path) -> None:
    """google-auth-oauthlib's InstalledAppFlow is built from the client file, no network."""
    secrets = tmp_path / "client.json"
    secrets.write_text(json.dumps(CLIENT))
    flow = cli._installed_app_flow(str(secrets), scopes_for(["gmail"]))
    assert flow.client_config["client_id"] == "client.apps.googleusercontent.com"
    assert list(flow.oauth2session.scope) == scopes_for(["gmail"])


def test_status_says_ready_or_names_the_problem(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not signed in, signed in with too few scopes, and ready: each its own exit code."""
    settings = make_settings(GOOGLE_TOOLS="gmail,calendar")
    assert cli.status(settings) == 1
    assert "Not signed in" in capsys.readouterr().out
    write_token(tmp_path / "google-token.json", sets=["gmail"])
    assert cli.status(settings) == 1
    assert "lacks the scope(s) calendar.events" in capsys.readouterr().out
    write_token(tmp_path / "google-token.json")
    assert cli.status(settings) == 0
    out = capsys.readouterr().out
    assert "Ready" in out and "gmail.send" in out


def test_logout_revokes_at_google_and_deletes_the_file(settings: Settings, tmp_path: Path) -> None:
    """Google's revoke endpoint gets the refresh token; the token file is gone."""
    token = write_token(tmp_path / "google-token.json")
    http = HttpMockSequence([ok({})])
    assert cli.logout(settings, http=http) == 0
    [(uri, method, body, _)] = http.request_sequence
    assert (uri, method) == ("https://oauth2.googleapis.com/revoke", "POST")
    assert body == "token=1%2F%2Ftest-refresh"
    assert not token.exists()


def test_a_refused_revoke_still_deletes_and_points_to_the_permissions_page(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When Google does not revoke, the file goes anyway and the owner is told where to go."""
    token = write_token(tmp_path / "google-token.json")
    assert cli.logout(settings, http=HttpMockSequence([ok({"error": "invalid_token"}, 400)])) == 1
    assert not token.exists()
    assert "myaccount.google.com/permissions" in capsys.readouterr().err


def test_main_runs_the_google_subcommand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main.py google status` is found by the subcommand dispatch and listed by help."""
    # Logging stays as the suite has it: a configured structlog caches its loggers.
    monkeypatch.setattr("bot.logs.configure_logging", lambda *a, **k: None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "bot.db"))
    monkeypatch.setenv("GOOGLE_TOOLS", "gmail")
    assert main.main(["--env-file", str(tmp_path / "none.env"), "google", "status"]) == 1
    assert "Not signed in" in capsys.readouterr().out
    assert main.main(["help"]) == 0
    assert "google" in capsys.readouterr().out
