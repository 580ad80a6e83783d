"""What every OpenAI reply backend shares: its dependencies, /reset, /forget, closing."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI

from bot.clock import Clock
from bot.settings import Settings
from bot.transport import Transport
from helpers.backends.base import Turn
from helpers.backends.chat_files import forget_files, sweep_forever, upload_documents
from helpers.backends.models import ShutdownWatch, check_at_start, models_in_use
from helpers.knowledge import KnowledgeBase
from helpers.openai_client import OPENAI_DEFAULT_BASE_URL, is_openai, is_openai_or_azure
from helpers.tools.box import ToolBox
from storage.store import Store

log = structlog.get_logger("helpers.backends.common")


def attributed(entry_text: str, sender_name: str, *, is_group: bool) -> str:
    """A user message's text as the model sees it: prefixed with the sender in groups."""
    return f"{sender_name or 'someone'}: {entry_text}" if is_group else entry_text


def alternate(messages: list[dict[str, Any]], text_part: str = "text") -> list[dict[str, Any]]:
    """Messages where user and assistant strictly take turns, user first.

    Strict chat templates (Mistral-style, on vLLM and others) refuse anything else:
    consecutive messages of one role (debounced turns) are joined into one, and answers
    before the first user message (left over by /reset or the history limit) are dropped.
    ``text_part`` is the content-part type a joined text becomes beside images.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if not out and message["role"] == "assistant":
            continue
        if out and out[-1]["role"] == message["role"]:
            joined = _join(out[-1]["content"], message["content"], text_part)
            out[-1] = {**out[-1], "content": joined}
        else:
            out.append(message)
    return out


def _join(first: Any, second: Any, text_part: str) -> Any:
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n{second}"

    def parts(content: Any) -> list[Any]:
        return [{"type": text_part, "text": content}] if isinstance(content, str) else content

    return [*parts(first), *parts(second)]


async def delete_remote_contexts(client: AsyncOpenAI, store: Store, chat: str) -> None:
    """Delete on the server every thread, conversation and chained response stored for
    ``chat``, active or retired (by /reset or a mode switch); failures are logged, never raised."""
    for response_id in await store.chained_responses(chat):
        try:
            await client.responses.delete(response_id)
        except openai.NotFoundError:
            pass  # expired or already gone
        except Exception as exc:
            log.warning("response.delete_failed", response_id=response_id, error=str(exc))
    await store.drop_response_chain(chat)
    for backend, remote in await store.all_threads(chat):
        try:
            if backend == "responses":
                await client.conversations.delete(remote)
            elif backend == "assistants":
                await client.beta.threads.delete(remote)
        except openai.NotFoundError:
            pass  # already gone
        except Exception as exc:
            log.warning("thread.delete_failed", backend=backend, remote_id=remote, error=str(exc))
    await store.retire_threads(chat)


class OpenAIBackend:
    """Base of the reply backends: one AsyncOpenAI client, the store, settings and tools."""

    mode: str = ""

    def __init__(
        self, client: AsyncOpenAI, store: Store, settings: Settings, tools: ToolBox | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.tools = tools
        self.knowledge = KnowledgeBase(client, store, settings)

    @property
    def base_url(self) -> str:
        """The server this backend talks to, for messages to the operator."""
        return self.settings.openai_base_url or OPENAI_DEFAULT_BASE_URL

    async def preflight(self) -> None:
        """Check the key and every model the bot will use (``StartupError`` if hopeless)."""
        await self.check_models()

    async def check_models(self, assistant_model: str | None = None) -> None:
        """``GET /models/{id}`` for each model in use: a refused key, an unknown model or
        one already shut down raise ``StartupError``; a server without /models passes."""
        uses = models_in_use(self.settings, assistant_model)
        # Azure lists base models, not the deployment names OPENAI_MODEL holds there.
        azure = not is_openai(self.settings) and is_openai_or_azure(self.settings)
        await check_at_start(self.client, uses, base=self.base_url, unknown_is_fatal=not azure)

    #: Extra fields for the ``bot.ready`` log line (what the preflight found out).
    ready_fields: dict[str, str] = {}  # noqa: RUF012 (replaced per instance, never mutated)

    def shutdown_watch(
        self, transport: Callable[[], Transport | None], clock: Clock
    ) -> ShutdownWatch:
        """The daily look at the models' shutdown dates, to run while the bot serves."""
        return ShutdownWatch(
            self.client,
            settings=self.settings,
            store=self.store,
            transport=transport,
            clock=clock,
            base=self.base_url,
        )

    async def reset(self, chat: str) -> None:
        """Retire the chat's server-side contexts; the next turn starts a fresh one (and a
        later switch to a server-side mode does not revive an old one)."""
        await self.store.retire_threads(chat)
        await self.store.end_response_chain(chat)

    async def forget(self, chat: str) -> None:
        """Delete every thread / conversation ever made for ``chat``, in any mode, and the
        files uploaded for it."""
        await delete_remote_contexts(self.client, self.store, chat)
        await forget_files(self.client, self.store, chat)

    async def upload_documents(self, turn: Turn, purpose: str) -> list[str]:
        """Upload the turn's documents for its chat; their file ids, in order."""
        if not turn.documents:
            return []
        return await upload_documents(
            self.client,
            self.store,
            turn.chat,
            turn.documents,
            purpose=purpose,
            now=datetime.now(UTC),
        )

    def file_sweeper(self, clock: Clock) -> Coroutine[Any, Any, None]:
        """The loop deleting chat files past FILE_RETENTION_DAYS, to run while the bot serves."""
        return sweep_forever(self.client, self.store, clock, self.settings.file_retention_days)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
