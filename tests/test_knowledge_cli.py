"""``main.py knowledge``: the operator's knowledge base, against the fake OpenAI (in a thread)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import main
from bot.cli.knowledge import parser, run
from bot.settings import Settings
from storage.store import Store
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A spec-validating fake OpenAI on its own thread (the CLI runs its own event loop)."""
    with FakeOpenAI.in_thread(validate=True, seed=3) as server:
        yield server
        assert server.schema_violations == []


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake: FakeOpenAI) -> Settings:
    """Settings pointing at the fake."""
    return make_settings(OPENAI_BASE_URL=fake.base_url)


def knowledge(settings: Settings, *argv: str) -> tuple[int, str, str]:
    """Run ``knowledge ARGV`` and return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = asyncio.run(run(parser().parse_args(list(argv)), settings, out, err))
    return code, out.getvalue(), err.getvalue()


def files_on(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, status, file id) of every knowledge file recorded in the database."""

    async def read() -> list[tuple[str, str, str]]:
        async with Store.open(settings.database_path) as store:
            return [(f.name, f.status, f.file_id) for f in await store.knowledge_files()]

    return asyncio.run(read())


def uploads(fake: FakeOpenAI) -> int:
    """How many files were uploaded to the fake."""
    return sum(r.path == "/v1/files" for r in fake.requests_to("/files", "POST"))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder with two small knowledge files (and a hidden one to skip)."""
    folder = tmp_path / "docs"
    (folder / "faq").mkdir(parents=True)
    (folder / "hours.md").write_text("Opening hours\n\nThe shop opens at nine on Mondays.\n")
    (folder / "faq" / "returns.txt").write_text("Returns are accepted within 30 days.\n")
    (folder / ".secret.txt").write_text("not for the bot")
    return folder


def test_add_uploads_a_folder_into_one_store_and_skips_unchanged_files(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """A folder's files land in one vector store, completed; adding again uploads nothing."""
    code, out, _ = knowledge(settings, "add", str(docs))
    assert code == 0, out
    names = [(name, status) for name, status, _ in files_on(settings)]
    assert names == [("faq/returns.txt", "completed"), ("hours.md", "completed")]
    assert len(fake.requests_to("/vector_stores", "POST")) == 1
    assert uploads(fake) == 2
    code, out, _ = knowledge(settings, "add", str(docs))
    assert code == 0 and uploads(fake) == 2
    assert "0 added, 0 replaced, 2 unchanged" in out


def test_a_changed_file_replaces_the_old_one_and_deletes_it_on_the_server(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """Changed content: a new upload, the old file detached and deleted on the server."""
    knowledge(settings, "add", str(docs / "hours.md"))
    [(_, _, old_id)] = files_on(settings)
    (docs / "hours.md").write_text("The shop now opens at ten.\n")
    code, out, _ = knowledge(settings, "add", str(docs / "hours.md"))
    [(_, _, new_id)] = files_on(settings)
    assert code == 0 and "replaced" in out and new_id != old_id
    assert old_id not in fake.core.files
    assert fake.requests_to(f"/files/{old_id}", "DELETE")


def test_sync_mirrors_a_folder_and_an_unchanged_rerun_uploads_nothing(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """sync adds new files, removes deleted ones; a second sync makes no upload."""
    knowledge(settings, "sync", str(docs))
    (docs / "hours.md").unlink()
    (docs / "prices.md").write_text("A coffee costs two euros.\n")
    code, out, _ = knowledge(settings, "sync", str(docs))
    assert code == 0, out
    assert [n for n, _, _ in files_on(settings)] == ["faq/returns.txt", "prices.md"]
    assert "removed" in out
    before = uploads(fake)
    code, out, _ = knowledge(settings, "sync", str(docs))
    assert code == 0 and uploads(fake) == before
    assert "0 added, 0 replaced, 2 unchanged, 0 removed" in out


def test_unsupported_missing_and_oversized_paths_are_refused_before_any_upload(
    settings: Settings, fake: FakeOpenAI, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every problem is listed, nothing is uploaded, exit 2."""
    (docs / "photo.png").write_bytes(b"\x89PNG")
    monkeypatch.setattr("helpers.knowledge.MAX_FILE_BYTES", 40)
    code, _, err = knowledge(settings, "add", str(docs), str(docs / "nope.md"))
    assert code == 2
    assert "photo.png: type .png is not supported" in err
    assert "nope.md: no such file or folder" in err
    assert "hours.md" in err and "over the server's limit" in err
    assert uploads(fake) == 0 and fake.requests == []


def test_a_file_the_store_cannot_ingest_is_listed_with_the_reason_and_exits_1(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """A failed ingestion shows the server's reason; the others still land."""
    (docs / "empty.txt").write_text("")
    code, out, err = knowledge(settings, "add", str(docs))
    assert code == 1
    assert "failed    failed      empty.txt (The file is empty.)" in out
    assert "Failed: empty.txt" in err
    assert ("hours.md", "completed") in [(n, s) for n, s, _ in files_on(settings)]


def test_no_wait_leaves_ingestion_running_and_status_reports_it_later(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """--no-wait records in_progress; `status` asks the store and shows completed."""
    fake.profile(ingestion_polls=1)
    code, out, _ = knowledge(settings, "add", "--no-wait", str(docs / "hours.md"))
    assert code == 0 and "in_progress" in out
    code, out, _ = knowledge(settings, "status")
    assert code == 0 and "completed   hours.md" in out
    assert files_on(settings)[0][1] == "completed"


def test_remove_deletes_the_file_and_list_shows_what_is_left(
    settings: Settings, fake: FakeOpenAI, docs: Path
) -> None:
    """remove NAME deletes the server file; list names the store and the rest."""
    knowledge(settings, "add", str(docs))
    [_, (_, _, hours_id)] = files_on(settings)
    code, _, _ = knowledge(settings, "remove", "hours.md")
    assert code == 0 and hours_id not in fake.core.files
    code, out, _ = knowledge(settings, "list")
    assert code == 0 and "faq/returns.txt" in out and "hours.md" not in out
    assert "vector store(s): vs_" in out
    code, _, err = knowledge(settings, "remove", "hours.md")
    assert code == 1 and "not in the knowledge base" in err


def test_main_runs_the_knowledge_subcommand_and_refuses_bad_usage_with_2(
    fake: FakeOpenAI, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`main.py knowledge add` works from the command line; a missing action exits 2."""
    # Logging is configured once per process and caches loggers: keep this one's setup.
    monkeypatch.setattr("bot.cli.CliContext.configure_logging", lambda *a, **k: None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.db"))
    env_file = str(tmp_path / "none.env")
    assert main.main(["--env-file", env_file, "knowledge", "add", str(docs)]) == 0
    assert uploads(fake) == 2
    assert main.main(["--env-file", env_file, "knowledge"]) == 2
