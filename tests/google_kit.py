"""Offline Google for tests: a token file, and the client library's own HTTP mocks.

Google's answers come from ``googleapiclient.http.HttpMockSequence`` and the services are
built from the discovery documents the library ships, so nothing touches the network.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from google.oauth2.credentials import Credentials
from googleapiclient.http import HttpMockSequence

from helpers.backends.base import Turn
from helpers.google.auth import scopes_for
from helpers.google.client import GoogleClient
from helpers.google.files import MemoryRecentFiles
from helpers.google.service import GoogleTools
from helpers.tools.context import ToolContext
from storage.store import Store
from tests.fakes import FakeClock

OWNER = "15550001111"
OWNER_JID = f"{OWNER}@s.whatsapp.net"
OTHER = "15550002222"
OTHER_JID = f"{OTHER}@s.whatsapp.net"
TOKEN_URI = "https://oauth2.googleapis.com/token"


def write_token(path: Path, sets: Sequence[str] = ("gmail", "calendar"), **extra: Any) -> Path:
    """A token file like ``google login`` writes, holding the scopes of ``sets``."""
    info = {
        "token": "ya29.test-access",
        "refresh_token": "1//test-refresh",
        "token_uri": TOKEN_URI,
        "client_id": "client.apps.googleusercontent.com",
        "client_secret": "test-secret",
        "scopes": scopes_for(sets),
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def ok(body: Any, status: int = 200) -> tuple[dict[str, str], str]:
    """One HTTP answer for ``HttpMockSequence``."""
    return {"status": str(status)}, json.dumps(body)


def error(status: int, message: str, reason: str = "") -> tuple[dict[str, str], str]:
    """A Google API error answer."""
    details = [{"reason": reason, "message": message}] if reason else []
    return ok({"error": {"code": status, "message": message, "errors": details}}, status)


def expired_credentials() -> Credentials:
    """Credentials whose access token has expired: the next request refreshes first."""
    return Credentials(
        token="ya29.old",
        refresh_token="1//revoked",
        token_uri=TOKEN_URI,
        client_id="client.apps.googleusercontent.com",
        client_secret="test-secret",
        scopes=scopes_for(("gmail", "calendar")),
        expiry=datetime(2020, 1, 1),  # google-auth compares naive UTC
    )


def make_google(
    store: Store,
    clock: FakeClock,
    answers: Sequence[tuple[dict[str, str], str]] = (),
    *,
    users: Sequence[str] = (OWNER,),
    credentials: Credentials | None = None,
    files: MemoryRecentFiles | None = None,
    confirm_minutes: float = 5,
) -> tuple[GoogleTools, HttpMockSequence]:
    """GoogleTools over an ``HttpMockSequence`` with ``answers``, every executor enabled."""
    from helpers.google import calendar, gmail

    http = HttpMockSequence(list(answers))
    service = GoogleTools(
        GoogleClient(credentials, http=http),
        store,
        clock,
        users=users,
        confirm_minutes=confirm_minutes,
        files=files or MemoryRecentFiles(),
    )
    service.executors.update(gmail.EXECUTORS)
    service.executors.update(calendar.EXECUTORS)
    return service, http


def context(
    google: GoogleTools | None,
    clock: FakeClock,
    *,
    chat: str = OWNER_JID,
    sender: str = OWNER_JID,
    timezone: str = "Europe/Berlin",
) -> ToolContext:
    """The context a tool call of ``sender`` in ``chat`` runs in."""
    return ToolContext(
        chat=chat,
        chat_jid=chat,
        sender=sender,
        sender_name="Owner",
        timezone=timezone,
        clock=clock,
        services={"google": google},
    )


def turn(sender: str = OWNER_JID, chat: str | None = None, text: str = "hi") -> Turn:
    """A turn of ``sender`` (in a private chat unless ``chat`` is a group)."""
    chat = chat or sender
    return Turn(
        chat=chat,
        chat_jid=chat,
        sender=sender,
        sender_name="Someone",
        text=text,
        is_group=chat.endswith("@g.us"),
    )


def requests(http: HttpMockSequence) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every request the mock answered (path with its query)."""
    seen = []
    for uri, method, body, _ in http.request_sequence:
        parsed = urlparse(uri)
        seen.append((method, parsed.path + (f"?{parsed.query}" if parsed.query else ""), body))
    return seen


def query(uri_path: str) -> dict[str, list[str]]:
    """The query parameters of a recorded request path."""
    return parse_qs(urlparse(uri_path).query)


def sent_mail(body: str | bytes) -> Message:
    """The MIME message in a ``messages.send`` request body."""
    raw = json.loads(body)["raw"]
    return message_from_bytes(base64.urlsafe_b64decode(raw))


def epoch(seconds: float = 0) -> datetime:
    """A UTC moment."""
    return datetime.fromtimestamp(seconds, UTC)
