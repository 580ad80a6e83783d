"""Start-up storage faults: each one is a single clear line naming DATABASE_PATH.

In-process tests open the database directly; the subprocess tests run ``main.py --replay`` and
check exit code 2, one line on stderr and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import StorageError
from storage.db import Database
from storage.migrations import MIGRATIONS, Migration
from storage.single_bot import single_bot_lock
from storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


@contextlib.contextmanager
def read_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Make ``path`` read-only for this process; yield how it was done.

    Not root: permissions. Root ignores permissions, so the file system's immutable flag is set
    (chattr +i); where that is refused, ``os.access`` is made to say read-only (fault injection).
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield "chmod"
        finally:
            path.chmod(mode)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("l", 0)))[0]
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags | FS_IMMUTABLE_FL))
    except OSError:
        os.close(fd)
        real_access = os.access

        def access(target: object, mode: int, **kw: object) -> bool:
            if Path(str(target)) == path and mode & os.W_OK:
                return False
            return real_access(target, mode, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "access", access)
        yield "fault injection"
        return
    try:
        yield "chattr +i"
    finally:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags))
        os.close(fd)


async def refused(path: Path) -> str:
    """Open the database at ``path``; return the StorageError's message (it must fail)."""
    with pytest.raises(StorageError) as caught:
        db = await Database.connect(path)
        await db.close()
    message = str(caught.value)
    assert "DATABASE_PATH" in message and str(path) in message
    assert "\n" not in message
    return message


async def test_a_folder_that_cannot_be_created_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing folder inside a read-only one cannot be created, and the message says so."""
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only(parent, monkeypatch) as how:
        if how == "fault injection":
            pytest.skip("mkdir cannot be made to fail here")
        message = await refused(parent / "data" / "bot.db")
    assert "does not exist and cannot be created" in message and "create it" in message


async def test_a_file_in_the_way_of_the_folder_is_named(tmp_path: Path) -> None:
    """A parent that is a file: the folder cannot be created, and the file is named."""
    (tmp_path / "afile").write_text("x")
    message = await refused(tmp_path / "afile" / "data" / "bot.db")
    assert "cannot be created" in message and f"{str(tmp_path / 'afile')!r} is a file" in message


async def test_a_read_only_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder the bot cannot write to (WAL needs files beside the database) is refused."""
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder, monkeypatch) as how:
        message = await refused(folder / "bot.db")
    assert "folder" in message and "read-only" in message, how


async def test_a_read_only_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing database file the bot cannot write is refused before SQLite trips on it."""
    path = tmp_path / "bot.db"
    await (await Database.connect(path)).close()
    with read_only(path, monkeypatch) as how:
        message = await refused(path)
    assert "file is read-only" in message, how


async def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    """A text file at DATABASE_PATH: 'not an SQLite database', and the file is left alone."""
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)
    message = await refused(path)
    assert "not an SQLite database" in message
    assert path.read_text().startswith("these are my notes")


def corrupt(path: Path) -> None:
    """Fill a database with rows, then overwrite the middle of its pages with junk."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("CREATE TABLE junk (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("CREATE INDEX junk_body ON junk (body)")
        rows = [(f"row {n}" * 20,) for n in range(500)]
        db.executemany("INSERT INTO junk (body) VALUES (?)", rows)
        db.commit()
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start + 100 : start + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))


async def test_a_corrupted_database_is_found_at_open(tmp_path: Path) -> None:
    """PRAGMA quick_check runs at open: a damaged file is refused with what to do."""
    path = tmp_path / "bot.db"
    corrupt(path)
    message = await refused(path)
    assert "damaged" in message and "backup" in message


async def test_a_newer_schema_names_database_path(tmp_path: Path) -> None:
    """A database migrated by a newer bot is refused, naming DATABASE_PATH and the versions."""
    path = tmp_path / "bot.db"
    db = await Database.connect(path)
    await db.migrate((*MIGRATIONS, Migration(99, "future", "CREATE TABLE future (x)")))
    await db.close()
    message = await refused(path)
    assert "newer than this bot knows" in message and "99" in message


async def test_a_newer_user_version_is_refused(tmp_path: Path) -> None:
    """PRAGMA user_version beyond what this bot knows also counts as a newer schema."""
    path = tmp_path / "bot.db"
    await (await Database.connect(path)).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 1000")
    message = await refused(path)
    assert "newer than this bot knows" in message and "1000" in message


async def test_a_second_bot_on_the_same_database_is_refused(tmp_path: Path) -> None:
    """The single-bot lock is held by one bot; a second one gets a clear error."""
    path = tmp_path / "bot.db"
    with single_bot_lock(path):
        with pytest.raises(StorageError) as caught, single_bot_lock(path):
            pass
        message = str(caught.value)
        assert "another bot is already running" in message and "DATABASE_PATH" in message
        assert f"pid {os.getpid()}" in message
    with single_bot_lock(path):  # released when the first bot ends
        pass


async def test_operator_tools_open_the_database_while_a_bot_runs(tmp_path: Path) -> None:
    """The lock is the bot's own step: a plain Store.open still works while it is held."""
    path = tmp_path / "bot.db"
    with single_bot_lock(path):
        async with Store.open(path) as bot_store, Store.open(path) as tool_store:
            assert await bot_store.db.schema_version() == await tool_store.db.schema_version()


async def run_main(tmp_path: Path, database: Path, *args: str) -> tuple[int, str, str]:
    """Run ``main.py --replay`` as a subprocess; return exit code, stdout and stderr."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENAI_API_KEY": "sk-startup-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "DATABASE_PATH": str(database),
        "LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--env-file",
        str(tmp_path / "absent.env"),
        "--replay",
        *(args or ("-",)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode if proc.returncode is not None else -1, out.decode(), err.decode()


def one_clear_line(stderr: str) -> str:
    """The whole of stderr is one line without a traceback; return it."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow
async def test_main_exits_2_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """main.py: a non-database file at DATABASE_PATH gives exit 2 and one line naming it."""
    path = tmp_path / "bot.db"
    path.write_text("not sqlite\n" * 200)
    code, out, err = await run_main(tmp_path, path)
    line = one_clear_line(err)
    assert code == 2 and out == ""
    assert "DATABASE_PATH" in line and "not an SQLite database" in line


@pytest.mark.slow
async def test_main_exits_2_when_the_folder_cannot_be_created(tmp_path: Path) -> None:
    """main.py: a folder that cannot be created gives exit 2 and one line naming DATABASE_PATH."""
    (tmp_path / "afile").write_text("x")
    code, out, err = await run_main(tmp_path, tmp_path / "afile" / "bot.db")
    line = one_clear_line(err)
    assert code == 2 and out == ""
    assert "DATABASE_PATH" in line and "cannot be created" in line


@pytest.mark.slow
async def test_main_exits_2_when_another_bot_holds_the_database(tmp_path: Path) -> None:
    """main.py: a database another running bot holds gives exit 2 and one line saying so."""
    path = tmp_path / "bot.db"
    with single_bot_lock(path):
        code, out, err = await run_main(tmp_path, path)
    line = one_clear_line(err)
    assert code == 2 and out == ""
    assert "DATABASE_PATH" in line and "another bot is already running" in line


@pytest.mark.slow
async def test_main_exits_2_on_a_missing_replay_file(tmp_path: Path) -> None:
    """main.py --replay FILE that does not exist: exit 2, one line, nothing created."""
    database = tmp_path / "data" / "bot.db"
    code, out, err = await run_main(tmp_path, database, str(tmp_path / "nope.jsonl"))
    line = one_clear_line(err)
    assert code == 2 and out == ""
    assert "nope.jsonl" in line and "does not exist" in line
    assert not database.parent.exists()
