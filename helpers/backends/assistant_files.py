"""What the assistants backend does with files: documents attached to messages, the knowledge
store given to threads, and cited files named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import openai
import structlog
from openai import AsyncOpenAI

from helpers.backends.base import Turn
from helpers.documents import TABLE_TYPES
from helpers.knowledge import KnowledgeBase
from storage.store import Store

if TYPE_CHECKING:
    from helpers.backends.assistants import _RunState

log = structlog.get_logger("helpers.backends.assistants")


class AssistantsFilesMixin:
    """Files for ``AssistantsBackend`` (its client, store, knowledge and assistant id)."""

    client: AsyncOpenAI
    store: Store
    knowledge: KnowledgeBase
    assistant_id: str
    _assistant_stores: list[str] | None
    _attached: set[str]

    if TYPE_CHECKING:

        async def upload_documents(self, turn: Turn, purpose: str) -> list[str]:
            """Provided by ``OpenAIBackend``."""

    async def _attachments(self, turn: Turn, state: _RunState) -> list[dict[str, Any]]:
        """The turn's documents, uploaded, as message attachments with the fitting tool."""
        file_ids = await self.upload_documents(turn, "assistants")
        attachments = []
        for document, file_id in zip(turn.documents, file_ids, strict=True):
            tool = "code_interpreter" if document.mimetype in TABLE_TYPES else "file_search"
            state.needs.add(tool)
            attachments.append({"file_id": file_id, "tools": [{"type": tool}]})
        return attachments

    async def _attach_knowledge(self, state: _RunState) -> None:
        """Give the thread the knowledge store unless the assistant has it (assistant sync)."""
        stores = await self.knowledge.store_ids()
        if not stores:
            return
        state.needs.add("file_search")
        if self._assistant_stores is None:
            assistant = await self.client.beta.assistants.retrieve(self.assistant_id)
            self._assistant_stores = assistant_stores(assistant)
        # Threads and assistants take one vector store each: the first is the bot's.
        wanted = stores[:1]
        if set(wanted) <= set(self._assistant_stores) or state.thread_id in self._attached:
            return
        resources = {"file_search": {"vector_store_ids": wanted}}
        await self.client.beta.threads.update(
            state.thread_id,
            tool_resources=resources,  # type: ignore[arg-type]
        )
        self._attached.add(state.thread_id)

    async def _file_names(self, file_ids: list[str]) -> list[str]:
        """The names of cited files: knowledge files by their stored name, others asked for."""
        known = {f.file_id: f.name for f in await self.store.knowledge_files()}
        names = []
        for file_id in dict.fromkeys(file_ids):
            if file_id in known:
                names.append(known[file_id])
                continue
            try:
                names.append((await self.client.files.retrieve(file_id)).filename)
            except openai.OpenAIError:
                log.info("assistants.cited_file_unknown", file_id=file_id)
        return names


def assistant_stores(assistant: Any) -> list[str]:
    """The vector stores the assistant's own file_search reads."""
    resources = getattr(assistant, "tool_resources", None)
    search = getattr(resources, "file_search", None) if resources is not None else None
    return list(getattr(search, "vector_store_ids", None) or [])
