"""What a tool knows about the turn it runs for: decided by the pipeline, never by the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.clock import Clock


@dataclass(frozen=True, slots=True)
class ToolContext:
    """The chat and sender a tool call acts for, and the services it may use.

    ``chat`` is the storage key of the chat; ``chat_jid`` where WhatsApp messages for it go.
    ``services`` holds shared objects by name (e.g. ``"store"``) so plugins can reach them
    without imports of globals.
    """

    chat: str
    chat_jid: str
    sender: str
    sender_name: str
    timezone: str
    clock: Clock
    services: dict[str, Any]
