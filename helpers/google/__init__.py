"""Gmail and Google Calendar as an optional built-in tool set (GOOGLE_TOOLS), for the owner.

``google_tools(sets)`` lists the tools of the enabled sets; ``build_google`` checks the sign-in
offline and builds the run-time services the tools reach through ``ctx.services["google"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.errors import StartupError
from helpers.google.auth import LOGIN_HINT, check_token, load_credentials
from helpers.google.client import GoogleClient
from helpers.google.files import RecentFiles
from helpers.google.service import TOOL_NAMES, GoogleTools
from helpers.tools.registry import Tool, get_tool

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.settings import Settings
    from storage.store import Store

__all__ = ["TOOL_NAMES", "GoogleTools", "build_google", "google_tools"]


def google_tools(sets: Iterable[str]) -> list[Tool]:
    """The tools of the enabled sets (``gmail``, ``calendar``), in a fixed order."""
    from helpers.google import calendar, gmail

    chosen = set(sets)
    fns = [
        *(gmail.TOOLS if "gmail" in chosen else ()),
        *(calendar.TOOLS if "calendar" in chosen else ()),
    ]
    return [spec for fn in fns if (spec := get_tool(fn)) is not None]


def build_google(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    http: Any = None,
    files: RecentFiles | None = None,
) -> GoogleTools:
    """Check the token file (``StartupError`` naming ``google login``) and build the services.

    Offline: the access token is fetched on the first tool call, so the bot starts when
    Google is unreachable.
    """
    from helpers.google import calendar, gmail

    path = check_token(settings)
    try:
        credentials = load_credentials(path)
    except (OSError, ValueError, KeyError) as exc:
        raise StartupError(
            f"the Google token file {path} is incomplete ({exc}); {LOGIN_HINT}"
        ) from None
    service = GoogleTools(
        GoogleClient(credentials, http=http, token_path=path),
        store,
        clock,
        users=settings.google_tools_users or settings.admin_numbers,
        confirm_minutes=settings.google_confirm_minutes,
        files=files,
    )
    if "gmail" in settings.google_tools:
        service.executors.update(gmail.EXECUTORS)
    if "calendar" in settings.google_tools:
        service.executors.update(calendar.EXECUTORS)
    return service
