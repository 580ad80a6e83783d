"""What the ``assistants`` and ``responses`` backends share: one remote context per chat.

The remote id (``thread_...`` or ``conv_...``) is created on a chat's first turn, stored with
the backend that made it, and reused across restarts. A chat that already has local history
(say it was in ``chat`` mode before) gets that history seeded into its new remote context.
"""

from __future__ import annotations

import openai
import structlog

from helpers.backends.base import Turn
from helpers.backends.common import OpenAIBackend
from storage.store import ContextEntry

log = structlog.get_logger("helpers.backends.server_side")

#: At most this many earlier messages are copied into a new thread / conversation
#: (the Conversations API takes at most 20 items in one create call).
SEED_LIMIT = 20


def vanished(exc: BaseException, remote_id: str) -> bool:
    """Whether ``exc`` is the server saying the thread / conversation ``remote_id`` is gone."""
    return isinstance(exc, openai.NotFoundError) and remote_id in (exc.message or "")


class ServerSideBackend(OpenAIBackend):
    """Base for backends whose conversation lives on the server."""

    mode: str = ""

    async def _create_remote(self, seed: list[ContextEntry], turn: Turn) -> str:
        """Create the thread / conversation for ``turn.chat``, seeded with ``seed``."""
        raise NotImplementedError

    async def remote_id(self, turn: Turn) -> str:
        """The chat's thread / conversation id, creating (and seeding) it on first use."""
        existing = await self.store.thread_for(turn.chat, self.mode)
        if existing is not None:
            return existing
        return await self._new_remote(turn)

    async def replace_remote(self, turn: Turn, gone: str) -> str:
        """A new thread / conversation for a chat whose old one vanished from the server.

        Without this a server that lost its state (a restart of a self-hosted server, a thread
        deleted elsewhere) would fail every later turn of the chat until ``/reset``.
        """
        log.warning("thread.vanished", backend=self.mode, remote_id=gone)
        return await self._new_remote(turn)

    async def _new_remote(self, turn: Turn) -> str:
        # Empty texts (a media message without caption) are refused as message content.
        seed = [e for e in await self.store.context(turn.chat, SEED_LIMIT) if e.text.strip()]
        remote = await self._create_remote(seed, turn)
        await self.store.save_thread(turn.chat, self.mode, remote)
        log.info("thread.created", backend=self.mode, remote_id=remote, seeded=len(seed))
        return remote
