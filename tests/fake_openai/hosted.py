"""Hosted tools of the Responses API: the output items and annotations a turn gets.

``file_search`` really searches the named vector stores for the last user text;
``web_search``, ``code_interpreter`` and ``image_generation`` play back what the scripted
``Text`` step carries (``web``, ``files``, ``images``).
"""

from __future__ import annotations

import base64
from typing import Any

from .script import Text
from .state import Core
from .vector_stores import search


def _tool(tools: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((t for t in tools if t.get("type") == kind), None)


def hosted_output(
    core: Core, tools: list[dict[str, Any]], step: Text, query: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The hosted-tool items before the message, the message's annotations, and its text."""
    items: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    text = step.text
    file_search = _tool(tools, "file_search")
    if file_search is not None:
        store_ids = [str(i) for i in file_search.get("vector_store_ids") or []]
        limit = int(file_search.get("max_num_results") or 5)
        hits = search(core, store_ids, query, limit)
        items.append(
            {
                "id": core.new_id("fs_", 48),
                "type": "file_search_call",
                "status": "completed",
                "queries": [query],
                "results": None,
            }
        )
        seen: set[str] = set()
        for hit in hits:
            if hit["file_id"] in seen:
                continue
            seen.add(hit["file_id"])
            notes.append(
                {
                    "type": "file_citation",
                    "file_id": hit["file_id"],
                    "filename": hit["filename"],
                    "index": len(text),
                }
            )
    if step.web and _tool(tools, "web_search") is not None:
        items.append(
            {
                "id": core.new_id("ws_", 48),
                "type": "web_search_call",
                "status": "completed",
                "action": {"type": "search", "query": query},
            }
        )
        for url, title in step.web:
            end = len(text)
            notes.append(
                {
                    "type": "url_citation",
                    "url": url,
                    "title": title,
                    "start_index": 0,
                    "end_index": end,
                }
            )
    if step.files and _tool(tools, "code_interpreter") is not None:
        container = core.new_id("cntr_", 32)
        items.append(
            {
                "id": core.new_id("ci_", 48),
                "type": "code_interpreter_call",
                "status": "completed",
                "container_id": container,
                "code": "# the fake ran no code",
                "outputs": None,
            }
        )
        for name, data in step.files:
            file_id = core.new_id("cfile_", 32)
            core.container_files[(container, file_id)] = (name, data)
            notes.append(
                {
                    "type": "container_file_citation",
                    "container_id": container,
                    "file_id": file_id,
                    "filename": name,
                    "start_index": 0,
                    "end_index": len(text),
                }
            )
    if step.images and _tool(tools, "image_generation") is not None:
        for image in step.images:
            items.append(
                {
                    "id": core.new_id("ig_", 48),
                    "type": "image_generation_call",
                    "status": "completed",
                    "result": base64.b64encode(image).decode("ascii"),
                }
            )
    return items, notes, text
