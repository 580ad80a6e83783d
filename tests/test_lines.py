"""Input lines for replay and console: a line that is not text is one bad line, not the end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.lines import BadLine, LineReader, decode_line


async def read_all(path: Path) -> list[str | tuple[int, str]]:
    """Every line of ``path``; a bad line as ``(number, reason)``."""
    reader = LineReader(str(path))
    stop = asyncio.Event()
    out: list[str | tuple[int, str]] = []
    while True:
        try:
            line = await reader.next(stop)
        except BadLine as bad:
            out.append((bad.number, bad.reason))
            continue
        if line is None:
            return out
        out.append(line)


async def test_invalid_utf8_and_nul_lines_are_bad_lines_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    """Invalid UTF-8 and NUL lines come back as BadLine with their numbers; nothing is lost."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"one\n\xff\xfe broken\nthree \xe2\x9c\x93\nfour\x00nul\n\x00\nsix")
    assert await read_all(path) == [
        "one\n",
        (2, "invalid UTF-8 at byte 0"),
        "three ✓\n",
        (4, "NUL byte"),
        (5, "NUL byte"),
        "six",
    ]


async def test_a_missing_file_is_still_an_os_error(tmp_path: Path) -> None:
    """A file that cannot be opened raises OSError from next(), as before."""
    reader = LineReader(str(tmp_path / "nope.jsonl"))
    with pytest.raises(OSError, match=r"nope\.jsonl"):
        await reader.next(asyncio.Event())


def test_decode_line_keeps_valid_text() -> None:
    """Valid UTF-8 without NUL decodes unchanged, line ending included."""
    assert decode_line("héllo 👋\r\n".encode(), 1) == "héllo 👋\r\n"
