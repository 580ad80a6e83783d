"""The reply-backend interface: one implementation per ``OPENAI_API_MODE``.

The pipeline builds a ``Turn`` and asks the backend for a ``Reply``; it never learns which
OpenAI API answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.messages import OutgoingMedia


@dataclass(frozen=True, slots=True)
class TurnImage:
    """An image the user sent in this turn."""

    data: bytes = field(repr=False)
    mimetype: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class TurnDocument:
    """A document the user sent in this turn (PDF, DOCX, CSV...), its type already checked."""

    data: bytes = field(repr=False)
    mimetype: str
    file_name: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One user turn: what the person said (one or more debounced messages) and who said it."""

    chat: str
    chat_jid: str
    sender: str
    sender_name: str
    text: str
    is_group: bool = False
    #: Storage row ids of the incoming messages this turn answers, in order.
    message_ids: tuple[int, ...] = ()
    images: tuple[TurnImage, ...] = ()
    documents: tuple[TurnDocument, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent by one OpenAI request."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    #: Prompt tokens served from the server's prompt cache (OpenAI reports them).
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call made while answering a turn."""

    tool: str
    duration_ms: float
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a backend answers for a turn."""

    text: str
    media: tuple[OutgoingMedia, ...] = ()
    usage: tuple[Usage, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()


class ReplyBackend(Protocol):
    """Produces replies for turns. Implementations raise ``ReplyError`` on failure."""

    mode: str

    async def preflight(self) -> None:
        """Check once at start-up that the server can serve this mode; raise ``StartupError``."""
        ...

    async def reply(self, turn: Turn) -> Reply:
        """Answer one turn of one chat. Turns of one chat are never run concurrently."""
        ...

    async def reset(self, chat: str) -> None:
        """Start a fresh context for ``chat`` (``/reset``)."""
        ...

    async def forget(self, chat: str) -> None:
        """Delete any server-side state kept for ``chat`` (``/forget``)."""
        ...

    async def aclose(self) -> None:
        """Release the backend's resources."""
        ...
