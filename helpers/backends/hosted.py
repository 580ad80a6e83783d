"""Hosted tools of the Responses API: what a request carries, and what a response brings back.

A request gets ``file_search`` over the knowledge stores (when they hold files) and the
``OPENAI_HOSTED_TOOLS`` the operator turned on. A finished response becomes WhatsApp text with
a "Sources:" list (file names, web URLs), the files code interpreter wrote (downloaded from
its container) and the images ``image_generation`` made, as media in order, and a record of
each hosted call.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI

from bot.messages import OutgoingMedia
from bot.settings import Settings
from helpers.backends.base import ToolCallRecord
from helpers.citations import with_sources

log = structlog.get_logger("helpers.backends.hosted")

#: Output item type -> the tool it records.
CALL_TYPES = {
    "file_search_call": "file_search",
    "web_search_call": "web_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
}
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


def hosted_tools(settings: Settings, store_ids: list[str]) -> list[dict[str, Any]]:
    """The hosted tool definitions for one request."""
    tools: list[dict[str, Any]] = []
    if store_ids:
        tools.append(
            {
                "type": "file_search",
                "vector_store_ids": store_ids,
                "max_num_results": settings.openai_file_search_max_results,
            }
        )
    for name in settings.openai_hosted_tools:
        if name == "code_interpreter":
            tools.append({"type": "code_interpreter", "container": {"type": "auto"}})
        elif name == "image_generation":
            image: dict[str, Any] = {"type": "image_generation"}
            if settings.openai_image_model:
                image["model"] = settings.openai_image_model
            tools.append(image)
        else:
            tools.append({"type": name})
    return tools


@dataclass(frozen=True, slots=True)
class Finished:
    """A final response as WhatsApp text, media and hosted-call records."""

    text: str
    media: tuple[OutgoingMedia, ...]
    calls: tuple[ToolCallRecord, ...]


async def finish(client: AsyncOpenAI, response: Any) -> Finished:
    """Read the final response: text with its sources, files and images, hosted calls."""
    sources: list[str] = []
    wanted: list[tuple[str, str, str]] = []  # (container, file id, name)
    media: list[OutgoingMedia] = []
    for item in response.output:
        if item.type == "image_generation_call" and item.result:
            data = base64.b64decode(item.result)
            media.append(OutgoingMedia("image", data, "image/png", file_name="image.png"))
        if item.type != "message":
            continue
        for part in item.content:
            for note in getattr(part, "annotations", None) or []:
                if note.type == "file_citation":
                    sources.append(note.filename or note.file_id)
                elif note.type == "url_citation":
                    sources.append(note.url)
                elif note.type == "container_file_citation":
                    key = (note.container_id, note.file_id, note.filename)
                    if key not in wanted:
                        wanted.append(key)
    for container, file_id, name in wanted:
        fetched = await _container_file(client, container, file_id, name)
        if fetched is not None:
            media.append(fetched)
    text = with_sources(response.output_text, sources)
    return Finished(text, tuple(media), hosted_calls(response))


def hosted_calls(response: Any) -> tuple[ToolCallRecord, ...]:
    """A record of each hosted tool the response used (the server ran it: no duration)."""
    calls = []
    for item in response.output:
        if item.type in CALL_TYPES:
            ok = item.status == "completed"
            calls.append(ToolCallRecord(CALL_TYPES[item.type], 0.0, ok, None if ok else "failed"))
    return tuple(calls)


async def _container_file(
    client: AsyncOpenAI, container: str, file_id: str, name: str
) -> OutgoingMedia | None:
    """A file code interpreter wrote, as an image or a document (None: it expired)."""
    try:
        content = await client.containers.files.content.retrieve(file_id, container_id=container)
    except openai.OpenAIError as exc:
        log.warning("hosted.container_file_failed", file_id=file_id, error=str(exc))
        return None
    data = content.content
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mimetype in IMAGE_TYPES:
        return OutgoingMedia("image", data, mimetype, file_name=name)
    return OutgoingMedia("document", data, mimetype, file_name=name)
