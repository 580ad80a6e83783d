"""Files (upload, retrieve, content, delete) and audio transcriptions."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .script import Fail
from .state import StoredFile
from .vector_stores import slow_upload
from .wire import ApiError, body_of, core_of, files_of, missing, not_found, reply

_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def _stored(request: web.Request) -> StoredFile:
    """Return the file named in the path or raise OpenAI's 404."""
    file_id = request.match_info["file_id"]
    stored = core_of(request).files.get(file_id)
    if stored is None:
        raise not_found(f"No such File object: {file_id}", param="id")
    return stored


async def upload_file(request: web.Request) -> web.Response:
    """Answer POST /v1/files (multipart `file` and `purpose`)."""
    fields, files = body_of(request), files_of(request)
    if "file" not in files:
        raise missing("file")
    purpose = fields.get("purpose")
    if not purpose:
        raise missing("purpose")
    if purpose not in _PURPOSES:
        raise ApiError(
            400,
            f"'{purpose}' is not one of {list(_PURPOSES)} - 'purpose'",
            param="purpose",
        )
    filename, _, data = files["file"]
    await slow_upload(core_of(request))
    info = core_of(request).store_file(data, filename or "upload", str(purpose))
    return reply(request, info, "OpenAIFile")


async def retrieve_file(request: web.Request) -> web.Response:
    """Answer GET /v1/files/{file_id}."""
    return reply(request, _stored(request).info, "OpenAIFile")


async def file_content(request: web.Request) -> web.Response:
    """Answer GET /v1/files/{file_id}/content with the stored bytes."""
    return web.Response(body=_stored(request).data, content_type="application/octet-stream")


async def delete_file(request: web.Request) -> web.Response:
    """Answer DELETE /v1/files/{file_id}."""
    stored = _stored(request)
    del core_of(request).files[stored.info["id"]]
    body = {"id": stored.info["id"], "object": "file", "deleted": True}
    return reply(request, body, "DeleteFileResponse")


async def transcribe(request: web.Request) -> web.Response:
    """Answer POST /v1/audio/transcriptions: a scripted transcript or 'transcript of N bytes'."""
    core, fields, files = core_of(request), body_of(request), files_of(request)
    if "file" not in files:
        raise missing("file")
    if not fields.get("model"):
        raise missing("model")
    scripted = core.brain.transcripts.pop()
    if isinstance(scripted, Fail):
        if scripted.delay:
            await asyncio.sleep(scripted.delay)
        raise ApiError.from_fail(scripted)
    data = files["file"][2]
    text = scripted if isinstance(scripted, str) else f"transcript of {len(data)} bytes"
    if fields.get("response_format") == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    body = {"text": text, "usage": {"type": "duration", "seconds": max(1, len(data) // 2000)}}
    return reply(request, body, "CreateTranscriptionResponseJson")


def add_routes(app: web.Application) -> None:
    """Register the file and audio routes."""
    app.router.add_post("/v1/files", upload_file)
    app.router.add_get("/v1/files/{file_id}", retrieve_file)
    app.router.add_delete("/v1/files/{file_id}", delete_file)
    app.router.add_get("/v1/files/{file_id}/content", file_content)
    app.router.add_post("/v1/audio/transcriptions", transcribe)
