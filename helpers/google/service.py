"""The Google tool set at run time: who may use it, and actions that wait for a "yes".

``GoogleTools`` is the one object the Google tools reach through ``ctx.services["google"]``:
the API client, the store (pending and executed actions), the clock, the recent files of each
chat, and the people allowed to use the tools. Actions that send mail or invitations, or
delete, are never run by a tool: the tool stores them as pending and tells the model to ask
the person; ``bot.confirmations`` runs them on that person's "yes" in that chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from bot.clock import Clock
from bot.errors import ToolError
from bot.people import person_users
from helpers.google.client import GoogleClient
from helpers.google.files import MemoryRecentFiles, RecentFiles

if TYPE_CHECKING:
    from helpers.backends.base import Turn
    from helpers.tools.context import ToolContext
    from storage.store import Store

log = structlog.get_logger(__name__)

#: Every tool of each set, by model-visible name.
TOOL_NAMES: dict[str, tuple[str, ...]] = {
    "gmail": ("read_emails", "read_email", "send_email"),
    "calendar": ("list_events", "create_event", "update_event", "delete_event"),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an executed action produced: the id Google gave it and a sentence for the user."""

    result_id: str | None
    text: str


#: Runs one confirmed action: (tools, arguments) -> outcome; raises ToolError on failure.
Executor = Callable[["GoogleTools", dict[str, Any]], Awaitable[Outcome]]


class GoogleTools:
    """The run-time services of the Google tools (``ctx.services["google"]``)."""

    def __init__(
        self,
        client: GoogleClient,
        store: Store,
        clock: Clock,
        *,
        users: Collection[str],
        confirm_minutes: float,
        files: RecentFiles | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.users = frozenset(users)
        self.confirm_window = timedelta(minutes=confirm_minutes)
        self.files: RecentFiles = files if files is not None else MemoryRecentFiles()
        self.executors: dict[str, Executor] = {}

    def audiences(self) -> dict[str, Callable[[Turn], Awaitable[bool]]]:
        """Every Google tool name -> this set's audience check (for ``ToolBox``)."""
        return {name: self.offered_to for names in TOOL_NAMES.values() for name in names}

    async def offered_to(self, turn: Turn) -> bool:
        """Whether the turn's sender is one of GOOGLE_TOOLS_USERS, under any id they have."""
        if not self.users:
            return False
        return not (await person_users(self.store, turn.sender)).isdisjoint(self.users)

    async def ask_first(
        self, ctx: ToolContext, tool: str, arguments: dict[str, Any], summary: str
    ) -> dict[str, Any]:
        """Store ``tool(arguments)`` as pending for this person and chat; nothing runs now."""
        now = self.clock.now()
        minutes = round(self.confirm_window.total_seconds() / 60)
        await self.store.add_pending_action(
            chat=ctx.chat,
            sender=ctx.sender,
            tool=tool,
            arguments=arguments,
            summary=summary,
            created_at=now,
            expires_at=now + self.confirm_window,
        )
        log.info("google.confirmation_asked", tool=tool)
        return {
            "status": "waiting_for_confirmation",
            "would_do": summary,
            "note": (
                "Nothing has happened yet. Tell the user exactly what would happen and ask them "
                f'to reply "yes" within {minutes} minutes to go ahead, or "no" to cancel. Only '
                "their reply can confirm; do not say it is done."
            ),
        }

    async def execute(self, tool: str, arguments: dict[str, Any]) -> Outcome:
        """Run a confirmed action now (called only by ``bot.confirmations``)."""
        executor = self.executors.get(tool)
        if executor is None:
            raise ToolError(f"{tool} is not enabled any more")
        return await executor(self, arguments)

    async def record(
        self, chat: str, sender: str, tool: str, summary: str, outcome: Outcome | ToolError
    ) -> None:
        """Record an executed (or failed) action for /stats and the turn's records."""
        ok = isinstance(outcome, Outcome)
        await self.store.record_action(
            chat=chat,
            sender=sender,
            tool=tool,
            summary=summary,
            result_id=outcome.result_id if isinstance(outcome, Outcome) else None,
            ok=ok,
            error=None if ok else str(outcome),
            executed_at=self.clock.now(),
        )
        log.info("google.action", tool=tool, ok=ok)


def google(ctx: ToolContext) -> GoogleTools:
    """The Google services of this bot, or a ToolError when they are not set up."""
    service = ctx.services.get("google")
    if not isinstance(service, GoogleTools):
        raise ToolError("Google tools are not available right now")
    return service
