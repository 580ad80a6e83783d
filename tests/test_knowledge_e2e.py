"""End to end, as an operator runs it: ``main.py knowledge add``, then ``main.py --replay``."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.single_bot import single_bot_lock
from tests import wa_events as wa
from tests.conftest import ASSISTANT_ID
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.test_replay_e2e import ALICE, ROOT, bot_env, replay

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.7\n% invoice total 42 EUR\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\nchart"


async def knowledge_cli(fake: FakeOpenAI, tmp_path: Path, *argv: str) -> tuple[int, str]:
    """Run ``main.py knowledge ARGV`` as a subprocess; return its exit code and stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "knowledge",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=bot_env(fake, tmp_path),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"sk-e2e-secret-key" not in out + err
    return proc.returncode or 0, out.decode()


def with_media(ev: Any, data: bytes) -> str:
    """A replay input line carrying the media bytes of ``ev``."""
    line = json.loads(wa.to_json_line(ev))
    line["mediaBase64"] = base64.b64encode(data).decode("ascii")
    return json.dumps(line)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """The operator's knowledge folder."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "hours.md").write_text("The shop opens at nine on Mondays.\n")
    (folder / "menu.txt").write_text("Coffee, tea and cake.\n")
    return folder


async def test_responses_mode_end_to_end(
    fake_openai: FakeOpenAI, tmp_path: Path, docs: Path
) -> None:
    """Knowledge cited, a PDF read, code-interpreter and generated images sent as media."""
    assert (await knowledge_cli(fake_openai, tmp_path, "add", str(docs)))[0] == 0
    code, out = await knowledge_cli(fake_openai, tmp_path, "sync", str(docs))
    assert code == 0 and "0 added, 0 replaced, 2 unchanged, 0 removed" in out
    uploads = [r for r in fake_openai.requests_to("/files", "POST") if r.path == "/v1/files"]
    assert len(uploads) == 2  # the unchanged sync uploaded nothing
    fake_openai.script(
        Text("Nine o'clock."),
        Text("The total is 42 EUR."),
        Text("Here you go.", files=[("chart.png", PNG), ("table.csv", b"a,b\n")]),
        Text("", images=[b"boat-png"]),
    )
    lines = [
        wa.to_json_line(wa.private_text("when do you open on mondays?", sender=ALICE)),
        with_media(wa.document("invoice.pdf", caption="total?", sender=ALICE), PDF),
        wa.to_json_line(wa.private_text("plot it", sender=ALICE)),
        wa.to_json_line(wa.private_text("draw a boat", sender=ALICE)),
    ]
    env = {
        "OPENAI_API_MODE": "responses",
        "OPENAI_HOSTED_TOOLS": "code_interpreter,image_generation",
    }
    code, sent, err = await replay(fake_openai, tmp_path, lines, **env)
    assert code == 0, err
    assert sent[0]["text"] == "Nine o'clock.\n\nSources:\n\n1. hours.md"
    assert sent[1]["text"] == "The total is 42 EUR."
    [pdf_id] = [
        part["file_id"]
        for r in fake_openai.requests_to("/responses", "POST")
        for item in r.json["input"]
        for part in (item.get("content") if isinstance(item.get("content"), list) else [])
        if part.get("type") == "input_file"
    ]
    assert fake_openai.file_bytes(pdf_id) == PDF
    assert sent[2]["text"] == "Here you go."
    assert [s.get("media") for s in sent[3:]] == [
        {"kind": "image", "mimetype": "image/png", "bytes": len(PNG), "file_name": "chart.png"},
        {"kind": "document", "mimetype": "text/csv", "bytes": 4, "file_name": "table.csv"},
        {"kind": "image", "mimetype": "image/png", "bytes": 8, "file_name": "image.png"},
    ]


async def test_chat_mode_end_to_end(fake_openai: FakeOpenAI, tmp_path: Path, docs: Path) -> None:
    """search_knowledge finds the file and the answer cites it; a PDF goes in as a file part."""
    assert (await knowledge_cli(fake_openai, tmp_path, "add", str(docs)))[0] == 0
    fake_openai.script(
        ToolCalls([("search_knowledge", {"query": "shop opens mondays"})]),
        Text("At nine."),
        Text("42 EUR."),
    )
    lines = [
        wa.to_json_line(wa.private_text("when do you open?", sender=ALICE)),
        with_media(wa.document("invoice.pdf", caption="total?", sender=ALICE), PDF),
    ]
    code, sent, err = await replay(fake_openai, tmp_path, lines, OPENAI_API_MODE="chat")
    assert code == 0, err
    assert [s["text"] for s in sent] == ["At nine.\n\nSources:\n\n1. hours.md", "42 EUR."]
    last = fake_openai.requests_to("/chat/completions")[-1].json["messages"][-1]["content"]
    data = base64.b64encode(PDF).decode("ascii")
    assert last[1]["file"]["file_data"] == f"data:application/pdf;base64,{data}"


async def test_assistants_mode_end_to_end(
    fake_openai: FakeOpenAI, tmp_path: Path, docs: Path
) -> None:
    """The knowledge store reaches the thread and is cited; a PDF is attached for file_search."""
    assert (await knowledge_cli(fake_openai, tmp_path, "add", str(docs)))[0] == 0
    lines = [
        wa.to_json_line(wa.private_text("when does the shop open on mondays?", sender=ALICE)),
        with_media(wa.document("invoice.pdf", caption="total?", sender=ALICE), PDF),
    ]
    env = {"OPENAI_API_MODE": "assistants", "OPENAI_ASSISTANT_ID": ASSISTANT_ID}
    code, sent, err = await replay(fake_openai, tmp_path, lines, **env)
    assert code == 0, err
    assert sent[0]["text"].endswith("Sources:\n\n1. hours.md")
    assert "【" not in sent[0]["text"]
    [thread] = fake_openai.assistants_store.threads.values()
    [pdf_message] = [m for m in thread.messages if m["attachments"]]
    [attachment] = pdf_message["attachments"]
    assert attachment["tools"] == [{"type": "file_search"}]
    assert fake_openai.file_bytes(attachment["file_id"]) == PDF


async def test_the_knowledge_command_works_while_a_bot_holds_the_database(
    fake_openai: FakeOpenAI, tmp_path: Path, docs: Path
) -> None:
    """A running bot's lock on the database does not stop `knowledge add` (a separate process)."""
    with single_bot_lock(tmp_path / "bot.db"):
        code, out = await knowledge_cli(fake_openai, tmp_path, "add", str(docs))
    assert code == 0 and "2 added" in out
