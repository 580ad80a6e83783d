"""Documents people send on WhatsApp reach the model; their uploads are deleted by /forget."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.backends.factory import build_backend
from storage.store import Store
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI
from tests.harness import harness

USER = "15550001111"
USER_JID = f"{USER}@s.whatsapp.net"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def settings_for(
    make_settings: Callable[..., Settings], fake: FakeOpenAI, mode: str, **env: Any
) -> Settings:
    """Settings for ``mode`` on the fake."""
    return make_settings(
        OPENAI_BASE_URL=fake.base_url, OPENAI_API_MODE=mode, OPENAI_MAX_RETRIES="0", **env
    )


def with_bytes(ev: Any, data: bytes, downloads: dict[str, bytes]) -> Any:
    """Register ``data`` as the media of ``ev`` on the fake transport."""
    downloads[to_incoming(ev).id] = data
    return ev


async def test_responses_a_pdf_is_uploaded_as_user_data_and_forget_deletes_it(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """The PDF goes in as an input_file with its caption; /forget deletes it on the server."""
    settings = settings_for(make_settings, fake_openai, "responses")
    backend = build_backend(settings, store, None)
    async with harness(settings, store, backend=backend) as h:  # type: ignore[arg-type]
        ev = wa.document("invoice.pdf", caption="what is the total?", sender=USER)
        await h.send(with_bytes(ev, PDF, h.transport.downloads))
        [body] = [r.json for r in fake_openai.requests_to("/responses", "POST")]
        content = body["input"][0]["content"]
        assert content[0] == {"type": "input_text", "text": "what is the total?"}
        file_id = content[1]["file_id"]
        assert content[1]["type"] == "input_file"
        assert fake_openai.file_bytes(file_id) == PDF
        assert fake_openai.core.files[file_id].info["purpose"] == "user_data"
        assert await store.chat_files(USER_JID) == [file_id]
        await h.send(wa.private_text("/forget", sender=USER))
        await h.send(wa.private_text("/forget confirm", sender=USER))
        assert file_id not in fake_openai.core.files
        assert await store.chat_files(USER_JID) == []
    await backend.aclose()


async def test_chat_a_pdf_is_a_file_part_and_a_csv_is_inlined(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """Chat Completions gets the PDF as file_data and a CSV's text; nothing is uploaded."""
    settings = settings_for(make_settings, fake_openai, "chat")
    backend = build_backend(settings, store, None)
    async with harness(settings, store, backend=backend) as h:  # type: ignore[arg-type]
        pdf = wa.document("invoice.pdf", caption="total?", sender=USER)
        await h.send(with_bytes(pdf, PDF, h.transport.downloads))
        csv = wa.document("data.csv", mimetype="text/csv", sender=USER)
        await h.send(with_bytes(csv, b"a,b\n1,2\n", h.transport.downloads))
    await backend.aclose()
    first, second = [r.json for r in fake_openai.requests_to("/chat/completions")]
    part = first["messages"][-1]["content"][1]
    assert part["type"] == "file" and part["file"]["filename"] == "invoice.pdf"
    assert part["file"]["file_data"] == "data:application/pdf;base64," + base64.b64encode(
        PDF
    ).decode("ascii")
    texts = [p["text"] for p in second["messages"][-1]["content"]]
    assert texts == ["(file)", "[File data.csv]\na,b\n1,2\n"]
    assert fake_openai.requests_to("/files", "POST") == []


async def test_too_large_and_unsupported_documents_get_a_short_notice_without_openai(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """Over MAX_DOCUMENT_MB or of an unknown type: the person is told; no model call."""
    settings = settings_for(make_settings, fake_openai, "responses", MAX_DOCUMENT_MB="1")
    backend = build_backend(settings, store, None)
    async with harness(settings, store, backend=backend) as h:  # type: ignore[arg-type]
        await h.send(wa.document("big.pdf", size=3 * 1024**2, sender=USER))
        zipped = wa.document("x.zip", mimetype="application/zip", sender=USER)
        await h.send(with_bytes(zipped, b"PK", h.transport.downloads))
        assert h.transport.texts() == [
            "big.pdf is too large for me to read (the limit is 1 MB).",
            "I can't read x.zip: that type of file isn't supported.",
        ]
    await backend.aclose()
    assert fake_openai.requests_to("/responses") == []


async def test_files_past_the_retention_are_deleted_and_newer_ones_kept(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """The sweep deletes chat files older than FILE_RETENTION_DAYS on the server."""
    from helpers.backends.chat_files import sweep

    now = datetime.now(UTC)
    old = fake_openai.core.store_file(b"old", "old.pdf", "user_data")["id"]
    new = fake_openai.core.store_file(b"new", "new.pdf", "user_data")["id"]
    await store.add_chat_file(USER_JID, old, "user_data", now - timedelta(days=8))
    await store.add_chat_file(USER_JID, new, "user_data", now - timedelta(days=1))
    backend = build_backend(settings_for(make_settings, fake_openai, "responses"), store, None)
    assert await sweep(backend.client, store, now, 7) == 1  # type: ignore[attr-defined]
    await backend.aclose()
    assert old not in fake_openai.core.files and new in fake_openai.core.files
    assert await store.chat_files(USER_JID) == [new]


async def test_an_upload_that_cannot_be_recorded_is_deleted_again(
    fake_openai: FakeOpenAI, store: Store
) -> None:
    """An uploaded file whose record fails (disk full) is taken back on the server: unrecorded,
    neither /forget nor the retention sweep could ever find it."""
    import sqlite3

    import openai
    import pytest

    from helpers.backends.base import TurnDocument
    from helpers.backends.chat_files import upload_documents

    async def full(*args: Any, **kw: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    store.add_chat_file = full  # type: ignore[method-assign]
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0)
    document = TurnDocument(data=PDF, mimetype="application/pdf", file_name="a.pdf")
    with pytest.raises(sqlite3.OperationalError):
        await upload_documents(
            client, store, USER_JID, [document], purpose="user_data", now=datetime.now(UTC)
        )
    await client.close()
    assert fake_openai.requests_to("/files", "POST")  # it was uploaded...
    assert fake_openai.core.files == {}  # ...and deleted again
