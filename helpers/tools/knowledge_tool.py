"""The built-in ``search_knowledge`` tool: the knowledge base for chat mode.

Chat Completions has no hosted file search, so the vector store's own search endpoint
(``POST /vector_stores/{id}/search``) is offered as a function tool; the best chunks come back
with their file names, which the chat backend lists as the answer's sources.
"""

from __future__ import annotations

from typing import Any

from bot.errors import ToolError
from helpers.tools.context import ToolContext
from helpers.tools.registry import tool

#: Characters of one chunk handed to the model.
CHUNK_CHARS = 2000


@tool
async def search_knowledge(ctx: ToolContext, query: str) -> dict[str, Any]:
    """Search the operator's knowledge base (their documents) and return the best passages.

    Args:
        query: What to look for, in a few words, e.g. "opening hours on Mondays".
    """
    knowledge = ctx.services.get("knowledge")
    if knowledge is None:
        raise ToolError("the knowledge base is not available right now")
    if not query.strip():
        raise ToolError("the query is empty")
    hits = await knowledge.search(query.strip())
    results = [
        {"file": h["file"], "score": round(float(h["score"]), 3), "text": h["text"][:CHUNK_CHARS]}
        for h in hits
    ]
    return {"results": results} if results else {"results": [], "note": "nothing found"}
