"""The fake's "brain": scripted steps that model calls consume, and what each call saw."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

DEFAULT_FAIL_MESSAGE = "The server had an error while processing your request. Sorry about that!"


@dataclass(frozen=True)
class Citation:
    """A `file_citation` annotation on `marker`, a piece of a Text reply (Assistants only)."""

    marker: str
    file_id: str | None = None  # None: the fake stores a small source file and cites that


@dataclass(frozen=True)
class Text:
    """A plain reply; Assistants also get its citations and images (as `image_file` parts).

    Responses with hosted tools: `images` come back as `image_generation_call` results (with
    the `image_generation` tool), `files` (name, bytes) as code-interpreter container files
    (with `code_interpreter`), `web` (url, title) as `url_citation`s (with `web_search`).
    """

    text: str
    citations: Sequence[Citation] = ()
    images: Sequence[bytes] = ()
    delay: float = 0.0
    files: Sequence[tuple[str, bytes]] = ()
    web: Sequence[tuple[str, str]] = ()

    def __post_init__(self) -> None:
        """Accept lists for the tuple fields; every citation marker must occur in the text."""
        object.__setattr__(self, "citations", tuple(self.citations))
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "web", tuple(self.web))
        for citation in self.citations:
            if citation.marker not in self.text:
                raise ValueError(f"citation marker {citation.marker!r} is not in the text")


@dataclass(frozen=True)
class ToolCalls:
    """One or several (parallel) function calls: `ToolCalls([("name", {"arg": 1}), ...])`."""

    calls: Sequence[tuple[str, Mapping[str, Any] | str]]
    delay: float = 0.0

    def __post_init__(self) -> None:
        """Freeze the calls; arguments given as a str are sent verbatim (even if not JSON)."""
        frozen = tuple((str(name), args) for name, args in self.calls)
        if not frozen:
            raise ValueError("ToolCalls needs at least one call")
        object.__setattr__(self, "calls", frozen)

    def arguments(self, index: int) -> str:
        """Return the JSON arguments string of call `index`."""
        args = self.calls[index][1]
        return args if isinstance(args, str) else json.dumps(dict(args))


@dataclass(frozen=True)
class Fail:
    """Answer the model call with an HTTP error carrying OpenAI's error body."""

    status: int = 500
    code: str | None = None
    message: str = DEFAULT_FAIL_MESSAGE
    type: str = "server_error"
    param: str | None = None
    retry_after: float | None = None  # seconds, sent as `retry-after-ms`
    delay: float = 0.0


RunEndStatus: TypeAlias = Literal["failed", "cancelled", "expired", "incomplete"]


@dataclass(frozen=True)
class RunEnds:
    """End a run (or a response: failed/incomplete) in a non-completed state."""

    status: RunEndStatus = "failed"
    last_error: Mapping[str, str] | None = None
    incomplete_details: Mapping[str, str] | None = None
    delay: float = 0.0


Step: TypeAlias = Text | ToolCalls | Fail | RunEnds
ApiName: TypeAlias = Literal["chat", "responses", "assistants"]


@dataclass(frozen=True)
class ModelCall:
    """What one model call saw: the API, model, instructions, context, tools and the step used."""

    api: ApiName
    model: str
    instructions: str | None
    messages: tuple[tuple[str, str], ...]  # (role, text) after truncation
    tools: tuple[str, ...]
    step: Step | None  # None: the default echo reply
    prompt_tokens: int = 0

    @property
    def last_user_text(self) -> str:
        """Return the text of the last user message in the context ('' if none)."""
        for role, text in reversed(self.messages):
            if role == "user":
                return text
        return ""


class StepQueue:
    """A thread-safe FIFO of scripted items."""

    def __init__(self) -> None:
        """Start empty."""
        self._items: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()

    def push(self, *items: Any) -> None:
        """Append items to the end of the queue."""
        with self._lock:
            self._items.extend(items)

    def pop(self) -> Any | None:
        """Remove and return the first item, or None when the queue is empty."""
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        """Drop every queued item."""
        with self._lock:
            self._items.clear()

    def pending(self) -> list[Any]:
        """Return a copy of the queued items."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        """Return how many items are queued."""
        return len(self._items)


@dataclass
class FailRule:
    """Fail the next `times` requests (whose path contains `path`) with `fail`."""

    fail: Fail
    times: int
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Tell whether this rule applies to a request."""
        if self.path is not None and self.path not in path:
            return False
        return self.method is None or self.method.upper() == method


class Gate:
    """Hold model calls until released, so tests can act while a call is in flight."""

    def __init__(self) -> None:
        """Create a closed gate (bind to the server loop at first use)."""
        self._open: asyncio.Event | None = None
        self._changed: asyncio.Condition | None = None
        self.waiting = 0
        self.entered_total = 0

    def _ensure(self) -> tuple[asyncio.Event, asyncio.Condition]:
        if self._open is None or self._changed is None:
            self._open = asyncio.Event()
            self._changed = asyncio.Condition()
        return self._open, self._changed

    async def pass_through(self) -> None:
        """Wait (inside the server) until the gate is released."""
        opened, changed = self._ensure()
        async with changed:
            self.waiting += 1
            self.entered_total += 1
            changed.notify_all()
        try:
            await opened.wait()
        finally:
            self.waiting -= 1

    async def entered(self, count: int = 1) -> None:
        """Wait until `count` model calls in total have reached the gate."""
        _, changed = self._ensure()
        async with changed:
            await changed.wait_for(lambda: self.entered_total >= count)

    def release(self) -> None:
        """Let every held (and future) model call through."""
        opened, _ = self._ensure()
        opened.set()


@dataclass
class Brain:
    """The scripted steps, the failure rules and the record of model calls."""

    steps: StepQueue = field(default_factory=StepQueue)
    transcripts: StepQueue = field(default_factory=StepQueue)
    fail_rules: list[FailRule] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    gate: Gate | None = None

    def take_failure(self, method: str, path: str) -> Fail | None:
        """Consume and return an injected failure for this request, if one applies."""
        for rule in self.fail_rules:
            if rule.times > 0 and rule.matches(method, path):
                rule.times -= 1
                return rule.fail
        return None


def echo_reply(messages: Iterable[tuple[str, str]]) -> str:
    """Return the default reply for a context: 'echo: <last user text>'."""
    last = ""
    for role, text in messages:
        if role == "user":
            last = text
    return f"echo: {last}"


_WORD = re.compile(r"\S+\s*|\s+")


def count_tokens(*texts: str) -> int:
    """Estimate tokens deterministically: whitespace-separated words, at least one per text."""
    return sum(max(1, len(text.split())) for text in texts if text is not None)


def split_deltas(text: str) -> list[str]:
    """Split a reply into stream deltas: one word (with its trailing space) each."""
    return _WORD.findall(text) or [""]
