"""Vector stores (create, retrieve, delete, files, search) and code-interpreter container files.

Ingestion is immediate: an attached file is ``completed`` unless it is empty (``failed`` with
``invalid_file``), or ``Settings.ingestion_polls`` > 0 keeps it ``in_progress`` for that many
retrievals. Search is a plain word match over the files' paragraphs, scored by the share of
query words a paragraph holds: enough to tell "found" from "not found" in a test.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .state import Core, now
from .wire import bad_request, body_of, core_of, missing, not_found, reply

_WORD = re.compile(r"[a-z0-9]+")
_STATIC = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
}


@dataclass
class VectorStore:
    """One vector store: its object and its files (file id -> vector store file object)."""

    info: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Retrievals left per file before it reports ``completed``.
    polls_left: dict[str, int] = field(default_factory=dict)


def words(text: str) -> set[str]:
    """The lower-case words of ``text``."""
    return set(_WORD.findall(text.lower()))


def search(core: Core, store_ids: list[str], query: str, limit: int) -> list[dict[str, Any]]:
    """The best paragraphs of the stores' completed files for ``query``, best first."""
    wanted = words(query)
    hits: list[dict[str, Any]] = []
    for store_id in store_ids:
        store = core.vector_stores.get(store_id)
        if store is None or not wanted:
            continue
        for file_id, vs_file in store.files.items():
            stored = core.files.get(file_id)
            if stored is None or vs_file["status"] != "completed":
                continue
            text = stored.data.decode("utf-8", "replace")
            for chunk in (c.strip() for c in re.split(r"\n\s*\n", text)):
                score = len(wanted & words(chunk)) / len(wanted)
                if chunk and score > 0:
                    hits.append(
                        {
                            "file_id": file_id,
                            "filename": stored.info["filename"],
                            "score": round(score, 4),
                            "attributes": {},
                            "content": [{"type": "text", "text": chunk}],
                        }
                    )
    hits.sort(key=lambda hit: -hit["score"])
    return hits[:limit]


def _store(request: web.Request) -> VectorStore:
    store_id = request.match_info["vector_store_id"]
    store: VectorStore | None = core_of(request).vector_stores.get(store_id)
    if store is None:
        raise not_found(f"No vector store found with id '{store_id}'.")
    return store


def _counts(store: VectorStore) -> dict[str, int]:
    counts = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0}
    for vs_file in store.files.values():
        counts[vs_file["status"]] += 1
    return {**counts, "total": len(store.files)}


def _store_object(core: Core, store: VectorStore) -> dict[str, Any]:
    used = sum(f["usage_bytes"] for f in store.files.values())
    busy = any(f["status"] == "in_progress" for f in store.files.values())
    status = "in_progress" if busy else "completed"
    return {**store.info, "file_counts": _counts(store), "usage_bytes": used, "status": status}


async def create_store(request: web.Request) -> web.Response:
    """Answer POST /v1/vector_stores (name, metadata, file_ids)."""
    core, body = core_of(request), body_of(request)
    info: dict[str, Any] = {
        "id": core.new_id("vs_", 32),
        "object": "vector_store",
        "created_at": now(),
        "name": str(body.get("name") or ""),
        "usage_bytes": 0,
        "status": "completed",
        "last_active_at": now(),
        "expires_at": None,
        "metadata": body.get("metadata") or {},
    }
    store = VectorStore(info)
    core.vector_stores[info["id"]] = store
    for file_id in body.get("file_ids") or []:
        _attach(core, store, str(file_id))
    return reply(request, _store_object(core, store), "VectorStoreObject")


async def retrieve_store(request: web.Request) -> web.Response:
    """Answer GET /v1/vector_stores/{id}."""
    return reply(request, _store_object(core_of(request), _store(request)), "VectorStoreObject")


async def delete_store(request: web.Request) -> web.Response:
    """Answer DELETE /v1/vector_stores/{id}."""
    store = _store(request)
    del core_of(request).vector_stores[store.info["id"]]
    body = {"id": store.info["id"], "object": "vector_store.deleted", "deleted": True}
    return reply(request, body, "DeleteVectorStoreResponse")


def _attach(core: Core, store: VectorStore, file_id: str) -> dict[str, Any]:
    stored = core.files.get(file_id)
    if stored is None:
        raise not_found(f"No such File object: {file_id}", param="file_id")
    error = None
    status = "completed"
    if not stored.data:
        status, error = "failed", {"code": "invalid_file", "message": "The file is empty."}
    elif core.settings.ingestion_polls > 0:
        status = "in_progress"
        store.polls_left[file_id] = core.settings.ingestion_polls
    vs_file = {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": len(stored.data),
        "created_at": now(),
        "vector_store_id": store.info["id"],
        "status": status,
        "last_error": error,
        "chunking_strategy": _STATIC,
        "attributes": {},
    }
    store.files[file_id] = vs_file
    return vs_file


async def attach_file(request: web.Request) -> web.Response:
    """Answer POST /v1/vector_stores/{id}/files (attach an uploaded file)."""
    body = body_of(request)
    if not body.get("file_id"):
        raise missing("file_id")
    vs_file = _attach(core_of(request), _store(request), str(body["file_id"]))
    return reply(request, vs_file, "VectorStoreFileObject")


def _vs_file(request: web.Request) -> tuple[VectorStore, dict[str, Any]]:
    store = _store(request)
    file_id = request.match_info["file_id"]
    vs_file = store.files.get(file_id)
    if vs_file is None:
        raise not_found(f"No file found with id '{file_id}' in vector store.")
    return store, vs_file


async def retrieve_file(request: web.Request) -> web.Response:
    """Answer GET /v1/vector_stores/{id}/files/{file_id}; ingestion advances per retrieval."""
    store, vs_file = _vs_file(request)
    left = store.polls_left.get(vs_file["id"], 0)
    if vs_file["status"] == "in_progress":
        if left <= 1:
            vs_file["status"] = "completed"
            store.polls_left.pop(vs_file["id"], None)
        else:
            store.polls_left[vs_file["id"]] = left - 1
    return reply(request, vs_file, "VectorStoreFileObject")


async def list_files(request: web.Request) -> web.Response:
    """Answer GET /v1/vector_stores/{id}/files (one page, oldest first)."""
    data = list(_store(request).files.values())
    body = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }
    return reply(request, body, "ListVectorStoreFilesResponse")


async def detach_file(request: web.Request) -> web.Response:
    """Answer DELETE /v1/vector_stores/{id}/files/{file_id} (the file itself stays)."""
    store, vs_file = _vs_file(request)
    del store.files[vs_file["id"]]
    body = {"id": vs_file["id"], "object": "vector_store.file.deleted", "deleted": True}
    return reply(request, body, "DeleteVectorStoreFileResponse")


async def search_store(request: web.Request) -> web.Response:
    """Answer POST /v1/vector_stores/{id}/search with word-matched paragraphs."""
    store, body = _store(request), body_of(request)
    query = body.get("query")
    if not query:
        raise missing("query")
    queries = [query] if isinstance(query, str) else [str(q) for q in query]
    limit = int(body.get("max_num_results") or 10)
    if not 1 <= limit <= 50:
        raise bad_request("max_num_results must be between 1 and 50", param="max_num_results")
    hits = search(core_of(request), [store.info["id"]], " ".join(queries), limit)
    page = {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": hits,
        "has_more": False,
        "next_page": None,
    }
    return reply(request, page, "VectorStoreSearchResultsPage")


async def container_file_content(request: web.Request) -> web.Response:
    """Answer GET /v1/containers/{container_id}/files/{file_id}/content with the bytes."""
    key = (request.match_info["container_id"], request.match_info["file_id"])
    found = core_of(request).container_files.get(key)
    if found is None:
        raise not_found(f"Container file {key[1]} not found.")
    return web.Response(body=found[1], content_type="application/octet-stream")


async def slow_upload(core: Core) -> None:
    """The upload latency the benchmark asks for (``Settings.upload_latency``)."""
    if core.settings.upload_latency > 0:
        await asyncio.sleep(core.settings.upload_latency)


def add_routes(app: web.Application) -> None:
    """Register the vector store and container file routes."""
    app.router.add_post("/v1/vector_stores", create_store)
    app.router.add_get("/v1/vector_stores/{vector_store_id}", retrieve_store)
    app.router.add_delete("/v1/vector_stores/{vector_store_id}", delete_store)
    app.router.add_post("/v1/vector_stores/{vector_store_id}/files", attach_file)
    app.router.add_get("/v1/vector_stores/{vector_store_id}/files", list_files)
    app.router.add_get("/v1/vector_stores/{vector_store_id}/files/{file_id}", retrieve_file)
    app.router.add_delete("/v1/vector_stores/{vector_store_id}/files/{file_id}", detach_file)
    app.router.add_post("/v1/vector_stores/{vector_store_id}/search", search_store)
    app.router.add_get(
        "/v1/containers/{container_id}/files/{file_id}/content", container_file_content
    )
