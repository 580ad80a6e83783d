"""Google sign-in: the narrowest scopes for the enabled tools, and the token file on disk.

The token file is google-auth's "authorized user" JSON (client id and secret, refresh token,
scopes), written by ``python main.py google login`` with mode 0600. Everything here is offline
except ``revoke``: start-up only reads the file, so the bot starts when Google is unreachable.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from google.oauth2.credentials import Credentials

from bot.errors import StartupError
from bot.settings import Settings

#: The narrowest scopes that serve each tool set: read and send mail (no delete, no
#: settings); read and write events (not calendars, sharing or settings).
SCOPES: dict[str, tuple[str, ...]] = {
    "gmail": (
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.send",
    ),
    "calendar": ("https://www.googleapis.com/auth/calendar.events",),
}
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
LOGIN_HINT = "run `python main.py google login` to sign in"


def scopes_for(tool_sets: Iterable[str]) -> list[str]:
    """The scopes the enabled tool sets need, sorted, without duplicates."""
    return sorted({scope for name in tool_sets for scope in SCOPES[name]})


def token_file(settings: Settings) -> Path:
    """GOOGLE_TOKEN_FILE, or ``google-token.json`` in the data folder (beside the database)."""
    return settings.google_token_file or settings.database_path.parent / "google-token.json"


def client_secrets_file(settings: Settings) -> Path:
    """GOOGLE_CLIENT_SECRETS_FILE, or ``google-client.json`` in the data folder."""
    return (
        settings.google_client_secrets_file or settings.database_path.parent / "google-client.json"
    )


def token_problem(path: Path, needed: Sequence[str]) -> str | None:
    """Why the token file at ``path`` cannot serve ``needed`` scopes, or None (offline)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"there is no Google sign-in at {path}"
    except PermissionError:
        return f"the Google token file {path} cannot be read by this user"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"the Google token file {path} is not readable JSON ({type(exc).__name__})"
    if not isinstance(info, dict) or not info.get("refresh_token"):
        return f"the Google token file {path} holds no refresh token"
    if not info.get("client_id") or not info.get("client_secret"):
        return f"the Google token file {path} is incomplete (no OAuth client id or secret)"
    granted = set(_scope_list(info.get("scopes")))
    missing = [scope for scope in needed if scope not in granted]
    if missing:
        names = ", ".join(scope.rsplit("/", 1)[-1] for scope in missing)
        return f"the Google sign-in in {path} lacks the scope(s) {names} that GOOGLE_TOOLS needs"
    return None


def check_token(settings: Settings) -> Path:
    """At start-up: the token file exists, is readable and holds the scopes the tools need.

    Raises ``StartupError`` (exit code 2) naming the file and ``google login``.
    """
    path = token_file(settings)
    problem = token_problem(path, scopes_for(settings.google_tools))
    if problem is not None:
        raise StartupError(
            f"GOOGLE_TOOLS={','.join(settings.google_tools)}: {problem}; {LOGIN_HINT}"
        )
    return path


def load_credentials(path: Path) -> Credentials:
    """The stored credentials (no network: the access token is fetched on first use)."""
    info = json.loads(path.read_text(encoding="utf-8"))
    creds: Credentials = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
        info, _scope_list(info["scopes"])
    )
    return creds


def save_credentials(path: Path, creds: Credentials) -> None:
    """Write ``creds`` to ``path`` with mode 0600, atomically (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".google-token-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(creds.to_json())  # type: ignore[no-untyped-call]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def revoke(creds: Credentials, http: Any) -> bool:
    """Ask Google to revoke the refresh token (blocking); True when Google accepted."""
    token = creds.refresh_token or creds.token
    response, _ = http.request(
        REVOKE_URL,
        "POST",
        body=urlencode({"token": token}),  # in the body: URLs end up in proxy logs
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    return int(response.status) == 200


def _scope_list(value: object) -> list[str]:
    """Scopes stored as a list or as one space-separated string."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []
