"""What every OpenAI reply backend shares: its dependencies, /reset, /forget, closing."""

from __future__ import annotations

import openai
import structlog
from openai import AsyncOpenAI

from bot.settings import Settings
from helpers.tools.box import ToolBox
from storage.store import Store

log = structlog.get_logger("helpers.backends.common")


def attributed(entry_text: str, sender_name: str, *, is_group: bool) -> str:
    """A user message's text as the model sees it: prefixed with the sender in groups."""
    return f"{sender_name or 'someone'}: {entry_text}" if is_group else entry_text


async def delete_remote_contexts(client: AsyncOpenAI, store: Store, chat: str) -> None:
    """Delete on the server every thread and conversation stored for ``chat``, active or
    retired (by /reset or a mode switch); failures are logged, never raised."""
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

    async def preflight(self) -> None:
        """Nothing to check by default."""

    async def reset(self, chat: str) -> None:
        """Retire the chat's server-side contexts; the next turn starts a fresh one (and a
        later switch to a server-side mode does not revive an old one)."""
        await self.store.retire_threads(chat)

    async def forget(self, chat: str) -> None:
        """Delete every thread / conversation ever made for ``chat``, in any mode."""
        await delete_remote_contexts(self.client, self.store, chat)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
