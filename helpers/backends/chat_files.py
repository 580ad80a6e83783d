"""Files the bot uploads on a chat's behalf: recorded, deleted by /forget and after retention."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import openai
import structlog
from openai import AsyncOpenAI

from bot.clock import Clock
from helpers.backends.base import TurnDocument
from storage.store import Store

log = structlog.get_logger("helpers.backends.chat_files")

#: How often the running bot looks for files past FILE_RETENTION_DAYS.
SWEEP_INTERVAL_SECONDS = 3600.0


async def upload_documents(
    client: AsyncOpenAI,
    store: Store,
    chat: str,
    documents: Sequence[TurnDocument],
    *,
    purpose: str,
    now: datetime,
) -> list[str]:
    """Upload ``documents`` for ``chat``, each recorded before use so /forget finds it (one that
    cannot be recorded is deleted again)."""
    ids = []
    for document in documents:
        uploaded = await client.files.create(
            file=(document.file_name, document.data, document.mimetype),
            purpose=purpose,  # type: ignore[arg-type]
        )
        try:
            await store.add_chat_file(chat, uploaded.id, purpose, now)
        except BaseException:
            # Unrecorded, /forget and the retention sweep would never find it: take it back.
            with contextlib.suppress(Exception):
                await client.files.delete(uploaded.id)
            raise
        log.info("file.uploaded", file_id=uploaded.id, purpose=purpose, bytes=len(document.data))
        ids.append(uploaded.id)
    return ids


async def delete_files(client: AsyncOpenAI, store: Store, file_ids: Sequence[str]) -> int:
    """Delete files on the server (gone already counts) and forget them; failures are
    logged and kept for the next try. Returns how many went."""
    deleted = 0
    for file_id in file_ids:
        try:
            with contextlib.suppress(openai.NotFoundError):
                await client.files.delete(file_id)
        except openai.OpenAIError as exc:
            log.warning("file.delete_failed", file_id=file_id, error=str(exc))
            continue
        await store.drop_chat_file(file_id)
        deleted += 1
    return deleted


async def forget_files(client: AsyncOpenAI, store: Store, chat: str) -> int:
    """Delete every file uploaded for ``chat`` (``/forget``)."""
    return await delete_files(client, store, await store.chat_files(chat))


async def sweep(client: AsyncOpenAI, store: Store, now: datetime, days: float) -> int:
    """Delete the chat files uploaded more than ``days`` ago (0: keep them)."""
    if days <= 0:
        return 0
    old = await store.chat_files_before(now - timedelta(days=days))
    deleted = await delete_files(client, store, [file_id for _, file_id in old])
    if deleted:
        log.info("file.retention_sweep", deleted=deleted, days=days)
    return deleted


async def sweep_forever(client: AsyncOpenAI, store: Store, clock: Clock, days: float) -> None:
    """Sweep now and every hour while the bot runs (cancel to stop)."""
    while True:
        try:
            await sweep(client, store, clock.now(), days)
        except Exception as exc:  # a storage hiccup must not end the loop
            log.warning("file.retention_sweep_failed", error=str(exc))
        await clock.sleep(SWEEP_INTERVAL_SECONDS)
