"""Each Google tool against the client library's own HTTP mocks: requests, answers, errors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from helpers.google import google_tools
from helpers.google.client import GoogleClient
from helpers.google.files import MemoryRecentFiles
from helpers.google.service import GoogleTools
from helpers.tools.registry import ToolCall, ToolRegistry
from storage.store import Store
from tests.fakes import FakeClock
from tests.google_kit import (
    OWNER_JID,
    context,
    error,
    expired_credentials,
    make_google,
    ok,
    query,
    requests,
    write_token,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
REGISTRY = ToolRegistry(google_tools(["gmail", "calendar"]))


@pytest.fixture
def clock() -> FakeClock:
    """A clock at NOW."""
    return FakeClock(NOW)


async def call(
    google: GoogleTools, clock: FakeClock, name: str, timezone: str = "Europe/Berlin", **args: Any
) -> Any:
    """Run one tool call through the registry (arguments as the model sends them)."""
    ctx = context(google, clock, timezone=timezone)
    [result] = await REGISTRY.execute([ToolCall("c1", name, json.dumps(args))], ctx, timeout=5)
    return json.loads(result.output)


def b64(text: str) -> str:
    """Gmail's base64url body encoding."""
    return base64.urlsafe_b64encode(text.encode()).decode()


HEADERS = [
    {"name": "From", "value": "Anna <anna@example.com>"},
    {"name": "To", "value": "owner@example.com"},
    {"name": "Subject", "value": "Invoice"},
    {"name": "Date", "value": "Mon, 30 Nov 2026 07:00:00 +0000"},
]


async def test_read_emails_searches_with_gmail_syntax_and_lists_each_mail(
    store: Store, clock: FakeClock
) -> None:
    """The query goes to Gmail as is; each hit has sender, subject, date, snippet and id."""
    google, http = make_google(
        store,
        clock,
        [
            ok({"messages": [{"id": "m1", "threadId": "t1"}]}),
            ok({"id": "m1", "snippet": "Please find &amp; pay", "payload": {"headers": HEADERS}}),
        ],
    )
    out = await call(google, clock, "read_emails", query="from:anna is:unread", max_results=3)
    assert out == {
        "emails": [
            {
                "id": "m1",
                "from": "Anna <anna@example.com>",
                "subject": "Invoice",
                "date": "Mon, 30 Nov 2026 07:00:00 +0000",
                "snippet": "Please find & pay",
            }
        ]
    }
    first = requests(http)[0][1]
    assert query(first)["q"] == ["from:anna is:unread"] and query(first)["maxResults"] == ["3"]
    assert query(requests(http)[1][1])["format"] == ["metadata"]


async def test_read_email_gives_the_body_as_text_and_lists_attachments(
    store: Store, clock: FakeClock
) -> None:
    """The plain-text part is decoded; attachments are named with type and size, not read."""
    payload = {
        "mimeType": "multipart/mixed",
        "headers": HEADERS,
        "parts": [
            {
                "mimeType": "multipart/alternative",
                "parts": [
                    {"mimeType": "text/html", "body": {"data": b64("<p>Hi <b>you</b></p>")}},
                    {"mimeType": "text/plain", "body": {"data": b64("Hi you, pay by Friday.")}},
                ],
            },
            {
                "mimeType": "application/pdf",
                "filename": "invoice.pdf",
                "body": {"attachmentId": "a1", "size": 1234},
            },
        ],
    }
    google, http = make_google(store, clock, [ok({"id": "m1", "payload": payload})])
    out = await call(google, clock, "read_email", id="m1")
    assert out["body"] == "Hi you, pay by Friday."
    assert out["subject"] == "Invoice" and out["from"].startswith("Anna")
    assert out["attachments"] == [
        {"name": "invoice.pdf", "mimetype": "application/pdf", "size": 1234}
    ]
    assert requests(http)[0][1].startswith("/gmail/v1/users/me/messages/m1?format=full")


async def test_read_email_falls_back_to_html_without_a_plain_part(
    store: Store, clock: FakeClock
) -> None:
    """An HTML-only mail is read as text with the tags removed."""
    payload = {"mimeType": "text/html", "body": {"data": b64("<p>Tea &amp; cake</p>")}}
    google, _ = make_google(store, clock, [ok({"id": "m2", "payload": payload})])
    out = await call(google, clock, "read_email", id="m2")
    assert out["body"] == "Tea & cake"


async def test_send_email_only_asks_and_stores_the_mail_with_its_attachment(
    store: Store, clock: FakeClock
) -> None:
    """Nothing reaches Gmail; the pending action holds the recipients and the chat's file."""
    files = MemoryRecentFiles()
    files.add(OWNER_JID, b"%PDF-1.7 fake", "image/jpeg", NOW)
    google, http = make_google(store, clock, [], files=files)
    out = await call(
        google,
        clock,
        "send_email",
        to=["anna@example.com"],
        subject="The photo",
        body="Here it is.",
        attach_recent_files=["photo-1.jpg"],
    )
    assert out["status"] == "waiting_for_confirmation"
    assert out["would_do"] == 'send "The photo" to anna@example.com with photo-1.jpg'
    assert "yes" in out["note"] and "5 minutes" in out["note"]
    assert requests(http) == []
    pending = await store.pending_action(OWNER_JID, OWNER_JID)
    assert pending is not None and pending.tool == "send_email"
    assert pending.expires_at == datetime(2026, 11, 30, 8, 5, tzinfo=UTC)
    assert base64.b64decode(pending.arguments["files"][0]["data"]) == b"%PDF-1.7 fake"


async def test_send_email_names_the_recent_files_when_one_is_unknown(
    store: Store, clock: FakeClock
) -> None:
    """An attachment name the chat never sent is an error that lists the names there are."""
    files = MemoryRecentFiles()
    files.add(OWNER_JID, b"jpeg", "image/jpeg", NOW)
    google, _ = make_google(store, clock, [], files=files)
    out = await call(
        google,
        clock,
        "send_email",
        to=["anna@example.com"],
        subject="s",
        body="b",
        attach_recent_files=["report.pdf"],
    )
    assert "report.pdf" in out["error"] and "photo-1.jpg" in out["error"]
    assert await store.pending_action(OWNER_JID, OWNER_JID) is None


async def test_send_email_refuses_an_address_without_at(store: Store, clock: FakeClock) -> None:
    """A recipient that is not an email address is refused before anything is stored."""
    google, _ = make_google(store, clock, [])
    out = await call(google, clock, "send_email", to=["anna"], subject="s", body="b")
    assert "not an email address: anna" in out["error"]


EVENT = {
    "id": "ev1",
    "summary": "Dentist",
    "start": {"dateTime": "2026-12-01T14:00:00Z"},
    "end": {"dateTime": "2026-12-01T15:00:00Z"},
}


async def test_list_events_reads_local_times_in_timezone_and_answers_in_it(
    store: Store, clock: FakeClock
) -> None:
    """A time without offset is Europe/Berlin (TIMEZONE); events come back in that zone."""
    google, http = make_google(store, clock, [ok({"items": [EVENT]})])
    out = await call(
        google, clock, "list_events", time_min="2026-12-01T00:00", time_max="2026-12-02"
    )
    sent = query(requests(http)[0][1])
    assert sent["timeMin"] == ["2026-12-01T00:00:00+01:00"]
    assert sent["timeMax"] == ["2026-12-02T00:00:00+01:00"]
    assert sent["singleEvents"] == ["true"] and sent["orderBy"] == ["startTime"]
    assert out["timezone"] == "Europe/Berlin"
    assert out["events"][0]["start"] == "2026-12-01T15:00:00+01:00"
    assert out["events"][0]["id"] == "ev1"


async def test_list_events_uses_the_zone_the_user_names(store: Store, clock: FakeClock) -> None:
    """A zone given in the call wins over TIMEZONE, both ways; no time_min means now."""
    google, http = make_google(store, clock, [ok({"items": [EVENT]})])
    out = await call(google, clock, "list_events", timezone="America/New_York")
    assert query(requests(http)[0][1])["timeMin"] == [NOW.isoformat()]
    assert out["events"][0]["start"] == "2026-12-01T09:00:00-05:00"


async def test_an_unknown_zone_is_a_tool_error(store: Store, clock: FakeClock) -> None:
    """A zone name that is not IANA is an error the model reads, and nothing is asked."""
    google, http = make_google(store, clock, [])
    out = await call(google, clock, "list_events", timezone="Mars/Olympus")
    assert "unknown timezone" in out["error"] and requests(http) == []


async def test_create_event_without_attendees_runs_at_once_and_is_recorded(
    store: Store, clock: FakeClock
) -> None:
    """No invitations, no question: inserted in the zone given, with sendUpdates=none."""
    google, http = make_google(store, clock, [ok({**EVENT, "id": "new1"})])
    out = await call(
        google,
        clock,
        "create_event",
        summary="Dentist",
        start="2026-12-01T15:00",
        end="2026-12-01T16:00",
    )
    assert out["created"] == "new1"
    method, path, body = requests(http)[0]
    assert method == "POST" and "sendUpdates=none" in path
    sent = json.loads(body)
    assert sent["start"] == {"dateTime": "2026-12-01T15:00:00+01:00", "timeZone": "Europe/Berlin"}
    [record] = await store.actions_since(OWNER_JID, NOW)
    assert (record.tool, record.result_id, record.ok) == ("create_event", "new1", True)


async def test_create_event_with_attendees_waits_for_a_yes(store: Store, clock: FakeClock) -> None:
    """Invitations are emails: the event is only stored as pending, nothing reaches Google."""
    google, http = make_google(store, clock, [])
    out = await call(
        google,
        clock,
        "create_event",
        summary="Lunch",
        start="2026-12-02T12:00",
        end="2026-12-02T13:00",
        attendees=["anna@example.com"],
    )
    assert out["status"] == "waiting_for_confirmation"
    assert "invitations to anna@example.com" in out["would_do"]
    assert requests(http) == []


async def test_update_event_patches_only_what_is_given(store: Store, clock: FakeClock) -> None:
    """Moving an event sends start and end only, without notifying anyone."""
    google, http = make_google(store, clock, [ok({**EVENT, "id": "ev1"})])
    out = await call(
        google,
        clock,
        "update_event",
        event_id="ev1",
        start="2026-12-04T15:00",
        end="2026-12-04T16:00",
    )
    assert out["updated"] == "ev1"
    method, path, body = requests(http)[0]
    assert method == "PATCH" and "/events/ev1" in path and "sendUpdates=none" in path
    assert set(json.loads(body)) == {"start", "end"}


async def test_delete_event_looks_it_up_then_waits_for_a_yes(
    store: Store, clock: FakeClock
) -> None:
    """Deleting is asked first, naming the event in local time; only a GET reaches Google."""
    google, http = make_google(store, clock, [ok(EVENT)])
    out = await call(google, clock, "delete_event", event_id="ev1")
    assert out["would_do"] == 'delete "Dentist" (2026-12-01T15:00:00+01:00)'
    assert [m for m, _, _ in requests(http)] == ["GET"]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (error(404, "Not Found", "notFound"), "not found"),
        (error(403, "Quota exceeded for quota metric", "quotaExceeded"), "usage limit"),
        (error(429, "Too many requests", "rateLimitExceeded"), "usage limit"),
        (error(401, "Invalid Credentials", "authError"), "google login"),
        (error(403, "Insufficient Permission", "insufficientPermissions"), "does not allow"),
        (error(500, "Backend Error", "backendError"), "server error"),
    ],
)
async def test_google_errors_become_short_honest_tool_errors(
    store: Store, clock: FakeClock, answer: tuple[dict[str, str], str], words: str
) -> None:
    """Quota, sign-in, permission, not found and server errors each read plainly."""
    google, _ = make_google(store, clock, [answer])
    out = await call(google, clock, "read_email", id="m9")
    assert words in out["error"]
    assert len(out["error"]) < 200


async def test_a_refused_refresh_is_a_tool_error_and_one_warning(
    store: Store, clock: FakeClock
) -> None:
    """Google refusing the refresh token (revoked) answers each call plainly, warns once."""
    refused = ok({"error": "invalid_grant", "error_description": "Token has been revoked."}, 400)
    google, http = make_google(store, clock, [refused, refused], credentials=expired_credentials())
    with capture_logs() as logs:
        first = await call(google, clock, "list_events")
        second = await call(google, clock, "read_emails")
    for out in (first, second):
        assert "revoked or expired" in out["error"] and "google login" in out["error"]
    assert [r[1].split("?")[0] for r in requests(http)] == ["/token", "/token"]
    assert [e["event"] for e in logs if e["event"] == "google.refresh_refused"] == [
        "google.refresh_refused"
    ]


async def test_a_new_sign_in_is_picked_up_without_a_restart(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    """After a refused refresh, a token file replaced by `google login` is read and used."""
    token = write_token(tmp_path / "token.json", refresh_token="1//revoked")
    refused = ok({"error": "invalid_grant"}, 400)
    google, http = make_google(
        store,
        clock,
        [
            refused,
            refused,
            ok({"access_token": "ya29.new", "expires_in": 3600}),
            ok({"items": [EVENT]}),
        ],
        credentials=expired_credentials(),
    )
    google.client = GoogleClient(expired_credentials(), http=http, token_path=token)
    assert "google login" in (await call(google, clock, "list_events"))["error"]
    write_token(token, refresh_token="1//fresh-after-login")
    out = await call(google, clock, "list_events")
    assert out["events"][0]["id"] == "ev1"
    [*_, (_, path, body), _] = requests(http)
    assert path == "/token" and "fresh-after-login" in str(body)
    assert google.client.credentials is not None
    assert google.client.credentials.refresh_token == "1//fresh-after-login"


async def test_a_call_cut_by_its_timeout_still_holds_the_http_object_until_it_ends() -> None:
    """httplib2 is not thread-safe: a call whose tool timed out goes on in its thread, and the
    HTTP object stays held until that thread ends, so the next call cannot share it."""
    import asyncio
    import threading

    from helpers.google.client import GoogleClient

    client = GoogleClient(None, http=object())
    client._services["gmail"] = object()  # built once; the requests below ignore it
    running, release = threading.Event(), threading.Event()

    class Blocking:
        """A request that blocks in its thread until released."""

        def execute(self) -> str:
            running.set()
            release.wait(10)
            return "late"

    class Quick:
        """A request that answers at once."""

        def execute(self) -> str:
            return "done"

    slow = asyncio.create_task(client.call("gmail", lambda _: Blocking(), what="first"))
    await asyncio.to_thread(running.wait, 10)
    slow.cancel()  # the tool's timeout: the coroutine goes, its thread does not
    await asyncio.gather(slow, return_exceptions=True)
    assert client._thread_lock.locked()  # still held by the thread of the cut call
    release.set()
    assert await client.call("gmail", lambda _: Quick(), what="second") == "done"


def test_recent_files_stay_within_their_memory_bound() -> None:
    """Expired files are dropped, and past the byte bound the least recent chats go first."""
    from datetime import UTC, datetime, timedelta

    from helpers.google.files import MemoryRecentFiles

    files = MemoryRecentFiles(keep=2, keep_for=timedelta(hours=1), max_bytes=25)
    t0 = datetime(2026, 11, 30, 9, tzinfo=UTC)
    files.add("old", b"x" * 10, "image/jpeg", t0)
    files.add("a", b"x" * 10, "image/jpeg", t0 + timedelta(minutes=1))
    files.add("a", b"x" * 10, "image/jpeg", t0 + timedelta(minutes=2))
    files.add("b", b"x" * 10, "image/jpeg", t0 + timedelta(minutes=3))  # 40 bytes > 25
    assert list(files._files) == ["b"] and files._bytes == 10
    files.add("b", b"y" * 5, "image/jpeg", t0 + timedelta(hours=2))  # the first one expired
    assert [len(f.data) for f in files._files["b"]] == [5] and files._bytes == 5
