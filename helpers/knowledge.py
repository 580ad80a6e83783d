"""The operator's knowledge base: one vector store, files identified by content hash.

``KnowledgeBase`` plans what to upload (refusing missing paths, unsupported types and files
over the server's limit before anything is sent), uploads concurrently within a bound,
attaches each file to the vector store, waits for ingestion, and replaces or removes files
whose content changed or vanished. The bot reads the same records (``store_ids``) and searches
the store for chat mode (``search``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI

from bot.settings import Settings
from storage.knowledge import KnowledgeFile
from storage.store import Store

log = structlog.get_logger("helpers.knowledge")

#: File types file_search reads (OpenAI's list of supported files).
SUPPORTED_SUFFIXES = frozenset(
    {".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json"}
    | {".md", ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt"}
)
#: The largest file the Files API takes for assistants / file_search.
MAX_FILE_BYTES = 512 * 1024**2
STORE_NAME = "whatsapp-bot knowledge"
DEFAULT_CONCURRENCY = 8
POLL_MS = 500


@dataclass(frozen=True, slots=True)
class Planned:
    """A local file to bring into the knowledge base under ``name``."""

    name: str
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one file: added, replaced, unchanged, removed or failed."""

    name: str
    action: str
    status: str
    error: str | None = None


def plan(paths: Iterable[str | Path]) -> tuple[list[Planned], list[str]]:
    """The files under ``paths`` (folders walked, names relative to them) and every problem.

    A problem is a missing path, an unsupported type or a file over the size limit; the
    caller refuses the whole command when there is any.
    """
    planned: dict[str, Planned] = {}
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            entries = [(p.relative_to(path).as_posix(), p) for p in found]
        elif path.is_file():
            entries = [(path.name, path)]
        else:
            problems.append(f"{raw}: no such file or folder")
            continue
        for name, file in entries:
            size = file.stat().st_size
            if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                problems.append(
                    f"{file}: type {file.suffix or '(none)'} is not supported by file search"
                    f" (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})"
                )
            elif size > MAX_FILE_BYTES:
                problems.append(f"{file}: {size} bytes is over the server's limit of 512 MB")
            elif name in planned:
                problems.append(f"{file}: the name {name} is given twice")
            else:
                planned[name] = Planned(name, file, size)
    return list(planned.values()), problems


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _digest(path: Path) -> tuple[str, bytes]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), data


class KnowledgeBase:
    """The bot's vector store and the files in it, kept in step with SQLite."""

    def __init__(self, client: AsyncOpenAI, store: Store, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    async def store_ids(self) -> list[str]:
        """The vector stores the bot answers from (empty: no knowledge to search)."""
        if self.settings.openai_vector_store_ids:
            return list(self.settings.openai_vector_store_ids)
        own = await self.store.knowledge_store_id()
        return [own] if own and await self.store.has_knowledge() else []

    async def ensure_store(self) -> str:
        """The store files are added to: the first configured one, else the bot's own
        (created on first use and remembered)."""
        if self.settings.openai_vector_store_ids:
            return self.settings.openai_vector_store_ids[0]
        own = await self.store.knowledge_store_id()
        if own is not None:
            return own
        created = await self.client.vector_stores.create(
            name=STORE_NAME, metadata={"made_by": "whatsapp-bot"}
        )
        await self.store.save_knowledge_store_id(created.id)
        log.info("knowledge.store_created", vector_store_id=created.id)
        return created.id

    async def add(
        self,
        files: Sequence[Planned],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        wait: bool = True,
        progress: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Upload new and changed files (at most ``concurrency`` at once); in input order."""
        store_id = await self.ensure_store()
        known = {f.name: f for f in await self.store.knowledge_files()}
        # Reading + uploading hold one slot (so at most `concurrency` files are in memory);
        # attaching and waiting for ingestion hold another, so the next upload starts at once.
        gates = (asyncio.Semaphore(concurrency), asyncio.Semaphore(concurrency))

        async def one(file: Planned) -> Outcome:
            outcome = await self._add_one(file, known.get(file.name), store_id, wait, gates)
            if progress is not None:
                progress(outcome)
            return outcome

        return list(await asyncio.gather(*(one(f) for f in files)))

    async def _add_one(
        self,
        file: Planned,
        old: KnowledgeFile | None,
        store_id: str,
        wait: bool,
        gates: tuple[asyncio.Semaphore, asyncio.Semaphore],
    ) -> Outcome:
        upload_gate, attach_gate = gates
        async with upload_gate:
            sha, data = await asyncio.to_thread(_digest, file.path)
            same = old is not None and old.sha256 == sha and old.vector_store_id == store_id
            if old is not None and same and old.status != "failed":
                return Outcome(file.name, "unchanged", old.status, old.error)
            size = len(data)
            try:
                uploaded = await self.client.files.create(
                    file=(file.path.name, data), purpose="assistants"
                )
            except openai.OpenAIError as exc:
                log.warning("knowledge.upload_failed", file=file.name, error=str(exc))
                return Outcome(file.name, "failed", "failed", str(exc))
            del data
        async with attach_gate:
            try:
                vs_file: Any = await self.client.vector_stores.files.create(
                    vector_store_id=store_id, file_id=uploaded.id
                )
                if wait and vs_file.status == "in_progress":
                    vs_file = await self.client.vector_stores.files.poll(
                        uploaded.id, vector_store_id=store_id, poll_interval_ms=POLL_MS
                    )
            except openai.OpenAIError as exc:
                log.warning("knowledge.attach_failed", file=file.name, error=str(exc))
                with contextlib.suppress(openai.OpenAIError):
                    await self.client.files.delete(uploaded.id)  # no orphan on the server
                return Outcome(file.name, "failed", "failed", str(exc))
        error = vs_file.last_error.message if vs_file.last_error is not None else None
        record = KnowledgeFile(
            file.name, sha, uploaded.id, store_id, size, str(vs_file.status), error
        )
        await self.store.save_knowledge_file(record)
        if old is not None and old.file_id != uploaded.id:
            await self._delete_remote(old)
        action = "failed" if vs_file.status == "failed" else "replaced" if old else "added"
        return Outcome(file.name, action, str(vs_file.status), error)

    async def remove(self, name: str) -> bool:
        """Take ``name`` out of the store and delete its file on the server; False if unknown."""
        known = {f.name: f for f in await self.store.knowledge_files()}
        old = known.get(name)
        if old is None:
            return False
        await self._delete_remote(old)
        await self.store.drop_knowledge_file(name)
        return True

    async def _delete_remote(self, old: KnowledgeFile) -> None:
        """Detach and delete ``old`` on the server; already gone is fine."""
        with contextlib.suppress(openai.NotFoundError):
            await self.client.vector_stores.files.delete(
                old.file_id, vector_store_id=old.vector_store_id
            )
        with contextlib.suppress(openai.NotFoundError):
            await self.client.files.delete(old.file_id)

    async def sync(
        self,
        files: Sequence[Planned],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        wait: bool = True,
        progress: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Make the store hold exactly ``files``: add new, replace changed, remove the rest."""
        outcomes = await self.add(files, concurrency=concurrency, wait=wait, progress=progress)
        wanted = {f.name for f in files}
        for known in await self.store.knowledge_files():
            if known.name not in wanted:
                await self.remove(known.name)
                outcomes.append(Outcome(known.name, "removed", "deleted"))
        return outcomes

    async def refresh(self) -> list[KnowledgeFile]:
        """Every file with its ingestion status as the vector store reports it now."""
        fresh = []
        for known in await self.store.knowledge_files():
            try:
                vs_file = await self.client.vector_stores.files.retrieve(
                    known.file_id, vector_store_id=known.vector_store_id
                )
            except openai.NotFoundError:
                current = KnowledgeFile(**{**_fields(known), "status": "missing"})
            else:
                error = vs_file.last_error.message if vs_file.last_error is not None else None
                current = KnowledgeFile(
                    **{**_fields(known), "status": str(vs_file.status), "error": error}
                )
                await self.store.save_knowledge_file(current)
            fresh.append(current)
        return fresh

    async def search(self, query: str) -> list[dict[str, Any]]:
        """The best chunks for ``query`` across the bot's stores, with their file names."""
        hits: list[dict[str, Any]] = []
        limit = self.settings.openai_file_search_max_results
        for store_id in await self.store_ids():
            page = await self.client.vector_stores.search(
                store_id, query=query, max_num_results=limit
            )
            async for hit in page:
                text = "\n".join(part.text for part in hit.content)
                hits.append({"file": hit.filename, "score": hit.score, "text": text})
        hits.sort(key=lambda hit: -float(hit["score"]))
        return hits[:limit]


def _fields(file: KnowledgeFile) -> dict[str, Any]:
    return {name: getattr(file, name) for name in KnowledgeFile.__slots__}
