"""Google's own API client, kept off the event loop, with its errors made short and honest.

``googleapiclient`` and ``httplib2`` block: every request runs in a worker thread
(``asyncio.to_thread``), one at a time (an ``httplib2.Http`` is not thread-safe). The services
are built from the discovery documents the library ships (``static_discovery=True``), so
building them needs no network. Google's failures become ``ToolError`` texts the model reads;
a refused token refresh (revoked, expired) also logs one warning, not one per call.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from bot.errors import ToolError
from helpers.google.auth import LOGIN_HINT

log = structlog.get_logger(__name__)

#: (service name, version) of each API the tools use.
APIS = {"gmail": ("gmail", "v1"), "calendar": ("calendar", "v3")}
#: Seconds one HTTP request to Google may take.
HTTP_TIMEOUT = 20
#: A Google tool may take one request and one retry after a token reload (tools' own timeout).
TOOL_TIMEOUT = 2 * HTTP_TIMEOUT + 5


class GoogleClient:
    """The Gmail and Calendar services for one signed-in account."""

    def __init__(
        self, credentials: Credentials | None, *, http: Any = None, token_path: Path | None = None
    ) -> None:
        """``http`` is an ``httplib2.Http``-like object (tests pass ``HttpMockSequence``);
        with ``credentials`` it is wrapped so every request carries, and refreshes, the token.
        ``token_path``: where the credentials came from; a refused refresh re-reads it when a
        new ``google login`` has replaced it, so no restart is needed."""
        self.credentials = credentials
        self._http = http
        self.token_path = token_path
        self._token_stamp = _stamp(token_path)
        self._services: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        # httplib2 is not thread-safe, and a call whose tool timed out goes on in its thread:
        # the next call waits for it here, not only on the (released) asyncio lock.
        self._thread_lock = threading.Lock()
        #: Whether the refusal of a refresh has been logged already.
        self.refresh_refused = False

    def _authorized_http(self) -> Any:
        import httplib2

        base = self._http if self._http is not None else httplib2.Http(timeout=HTTP_TIMEOUT)
        if self.credentials is None:
            return base
        from google_auth_httplib2 import AuthorizedHttp

        return AuthorizedHttp(self.credentials, http=base)

    def service(self, api: str) -> Any:
        """The built service for ``api`` (``gmail`` or ``calendar``); built once, offline."""
        if api not in self._services:
            name, version = APIS[api]
            self._services[api] = build(
                name,
                version,
                http=self._authorized_http(),
                static_discovery=True,
                cache_discovery=False,
            )
        return self._services[api]

    def _execute(self, api: str, request: Callable[[Any], Any]) -> Any:
        """Build and run one request (in a worker thread), one at a time."""
        with self._thread_lock:
            return request(self.service(api)).execute()

    async def call(self, api: str, request: Callable[[Any], Any], *, what: str) -> Any:
        """Build a request from ``api``'s service and execute it in a thread; ``what`` names
        the action in errors. Google's failures are raised as ``ToolError``."""
        async with self._lock:
            try:
                try:
                    return await asyncio.to_thread(self._execute, api, request)
                except RefreshError:
                    if not await asyncio.to_thread(self._reload):
                        raise
                    log.info("google.token_reloaded")
                    return await asyncio.to_thread(self._execute, api, request)
            except HttpError as exc:
                raise ToolError(http_error_text(exc, what)) from None
            except RefreshError as exc:
                if not self.refresh_refused:
                    self.refresh_refused = True
                    log.warning("google.refresh_refused", error=type(exc).__name__)
                raise ToolError(
                    "Google refused the saved sign-in (revoked or expired); the owner must "
                    f"{LOGIN_HINT}"
                ) from None
            except (TransportError, OSError) as exc:
                log.warning("google.unreachable", what=what, error=type(exc).__name__)
                raise ToolError(f"could not reach Google to {what}; try again later") from None

    def _reload(self) -> bool:
        """Re-read the token file if a new sign-in replaced it; True when it did."""
        stamp = _stamp(self.token_path)
        if self.token_path is None or stamp is None or stamp == self._token_stamp:
            return False
        from helpers.google.auth import load_credentials

        try:
            self.credentials = load_credentials(self.token_path)
        except (OSError, ValueError, KeyError):
            return False
        self._token_stamp = stamp
        self._services.clear()
        self.refresh_refused = False
        return True


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """(mtime, size) of the token file, or None: enough to notice a new sign-in."""
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def http_error_text(exc: HttpError, what: str) -> str:
    """A short honest sentence for an error Google answered with."""
    status = int(getattr(exc.resp, "status", 0) or 0)
    reason = _reason(exc)
    if status == 401:
        return f"Google refused the sign-in while trying to {what}; the owner must {LOGIN_HINT}"
    limited = any(word in reason.lower() for word in ("quota", "rate limit"))
    if (status == 403 and limited) or status == 429:
        return f"Google's usage limit was reached while trying to {what}; try again later"
    if status == 403:
        return f"Google does not allow this ({what}): {reason}"
    if status == 404:
        return f"not found at Google ({what}): check the id"
    if status == 410:
        return f"already gone at Google ({what})"
    if status >= 500:
        return f"Google had a server error while trying to {what}; try again later"
    return f"Google refused to {what} ({status}): {reason}"


def _reason(exc: HttpError) -> str:
    """Google's own error message from the response body, shortened."""
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        message = str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = str(getattr(exc.resp, "reason", "") or "error")
    return message[:160]
