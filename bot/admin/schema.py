"""The records API: a GraphQL schema (strawberry) over ``Records`` and ``Operations``.

``python main.py schema`` prints it; ``docs/schema.graphql`` is that output, checked by tests.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from bot.admin.config import Price
from storage.records import ChatRecord, EntryRecord, UsageGroup

T = TypeVar("T")

if TYPE_CHECKING:
    from bot.admin.ops import Operations


@strawberry.enum
class UsageGroupBy(enum.Enum):
    """How usage is grouped."""

    DAY = "DAY"
    PERSON = "PERSON"
    MODEL = "MODEL"


@strawberry.type
class PageInfo:
    """Where a page ends and whether another follows."""

    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class Chat:
    """One chat: a person or a group."""

    id: str
    kind: str
    title: str
    last_message_at: datetime | None
    mode: str
    thread_id: str | None
    paused: bool
    message_count: int

    @classmethod
    def of(cls, r: ChatRecord) -> Chat:
        """From a record."""
        return cls(
            id=r.chat, kind=r.kind, title=r.title, last_message_at=r.last_message_at,
            mode=r.mode, thread_id=r.thread_id, paused=r.paused, message_count=r.message_count,
        )  # fmt: skip


@strawberry.type
class ChatPage:
    """A page of chats."""

    nodes: list[Chat]
    page_info: PageInfo


@strawberry.type
class ToolCall:
    """One tool call made for a reply."""

    tool: str
    duration_ms: float
    ok: bool
    error: str | None


@strawberry.type
class Message:
    """One message of a conversation: in (from a person) or out (from the bot)."""

    id: int
    direction: str
    at: datetime
    sender: str
    sender_name: str
    kind: str
    text: str
    state: str
    reason: str | None
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[ToolCall]

    @classmethod
    def of(cls, e: EntryRecord) -> Message:
        """From a record."""
        return cls(
            id=e.id, direction=e.direction, at=e.at, sender=e.sender, sender_name=e.sender_name,
            kind=e.kind, text=e.text, state=e.state, reason=e.reason,
            prompt_tokens=e.prompt_tokens, completion_tokens=e.completion_tokens,
            tool_calls=[ToolCall(tool=t.tool, duration_ms=t.duration_ms, ok=t.ok, error=t.error)
                        for t in e.tool_calls],
        )  # fmt: skip


@strawberry.type
class MessagePage:
    """A page of a conversation, newest first."""

    nodes: list[Message]
    page_info: PageInfo


@strawberry.type
class Usage:
    """Token totals of one group, with the estimated cost (null: a model has no price)."""

    key: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    estimated_cost_usd: float | None


@strawberry.type
class Status:
    """The running bot."""

    connected: bool
    jid: str | None
    lid: str | None
    mode: str
    model: str
    uptime_seconds: float
    intake_queue: int
    chat_queue: int
    turns_in_flight: int
    paused: bool
    storage_failing: bool
    reconnects: int


@strawberry.type
class AskResult:
    """What a message run through the pipeline got."""

    state: str
    reason: str | None
    reply: str


def estimated_cost(group: UsageGroup, prices: tuple[Price, ...]) -> float | None:
    """Dollars for ``group``'s tokens, or None if one of its models has no price."""
    table = {p.model: p for p in prices}
    total = 0.0
    for model, (prompt, completion) in group.by_model.items():
        price = table.get(model)
        if price is None:
            return None
        total += (prompt * price.input + completion * price.output) / 1_000_000
    return round(total, 6)


def _copy(cls: type[T], source: object, **extra: Any) -> T:
    """An API type filled from a record's fields of the same names (plus ``extra``): the
    records keep their own shape, the API shows what it declares, no field-by-field copies."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    values = {n: getattr(source, n) for n in names if n not in extra}
    return cls(**values, **extra)


def _ops(info: Info[Any, None]) -> Operations:
    ops: Operations = info.context["ops"]
    return ops


def _page(cursor: str | None) -> PageInfo:
    return PageInfo(end_cursor=cursor, has_next_page=cursor is not None)


@strawberry.type
class Query:
    """What the records API answers."""

    @strawberry.field
    def ping(self) -> str:
        """Always "pong"."""
        return "pong"

    @strawberry.field
    async def chats(
        self, info: Info[Any, None], first: int = 20, after: str | None = None, search: str = ""
    ) -> ChatPage:
        """Chats in key order, paged; ``search`` matches a chat id or a person's name."""
        page = await _ops(info).records.chats(first, after, search)
        return ChatPage(nodes=[Chat.of(c) for c in page.items], page_info=_page(page.end_cursor))

    @strawberry.field
    async def messages(
        self, info: Info[Any, None], chat: str, first: int = 50, after: str | None = None
    ) -> MessagePage:
        """One chat's messages in and out, newest first, paged."""
        page = await _ops(info).records.messages(chat, first, after)
        return MessagePage(
            nodes=[Message.of(e) for e in page.items], page_info=_page(page.end_cursor)
        )

    @strawberry.field
    async def usage(
        self,
        info: Info[Any, None],
        group_by: UsageGroupBy = UsageGroupBy.DAY,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[Usage]:
        """Token totals and estimated cost (USAGE_PRICES) per day, person or model."""
        ops = _ops(info)
        until = to or datetime.now(UTC) + timedelta(seconds=1)
        since = from_ or until - timedelta(days=30)
        settings = ops.bot.settings
        groups = await ops.records.usage(since, until, group_by.value, settings.timezone)
        return [
            _copy(Usage, g, estimated_cost_usd=estimated_cost(g, settings.usage_prices))
            for g in groups
        ]

    @strawberry.field
    def turns_in_flight(self, info: Info[Any, None]) -> int:
        """Chats whose turn is being answered now."""
        return _ops(info).bot.pipeline.load()[2]

    @strawberry.field
    async def status(self, info: Info[Any, None]) -> Status:
        """Connection, identity, mode, uptime, queues, storage."""
        return _copy(Status, await _ops(info).status())


@strawberry.type
class Mutation:
    """What the operator can do."""

    @strawberry.mutation
    async def ask(self, info: Info[Any, None], sender: str, text: str) -> AskResult:
        """Run ``text`` through the pipeline as a private message from ``sender``."""
        ops = _ops(info)
        result = await ops.ask(sender, text, ops.bot.settings.openai_timeout_seconds * 2 + 30)
        return _copy(AskResult, result)

    @strawberry.mutation
    async def pause(self, info: Info[Any, None], chat: str | None = None) -> str:
        """Pause one chat, or the whole bot without ``chat``; returns what was paused."""
        return await _ops(info).pause(chat)

    @strawberry.mutation
    async def resume(self, info: Info[Any, None], chat: str | None = None) -> str:
        """Resume one chat, or the whole bot without ``chat``."""
        return await _ops(info).resume(chat)

    @strawberry.mutation
    async def reset(self, info: Info[Any, None], chat: str) -> str:
        """Start a fresh conversation in ``chat`` (history kept, not used)."""
        return await _ops(info).reset(chat)

    @strawberry.mutation
    async def send(self, info: Info[Any, None], chat: str, text: str) -> list[str]:
        """Write to ``chat`` as the owner; the bot steps back for HANDOFF_MINUTES."""
        return await _ops(info).send(chat, text)


schema = strawberry.Schema(query=Query, mutation=Mutation)


def schema_text() -> str:
    """The schema in GraphQL SDL, as ``docs/schema.graphql`` holds it."""
    return schema.as_str() + "\n"
