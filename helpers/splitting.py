"""Split a WhatsApp-formatted reply into messages that fit WhatsApp's length limit.

Cuts go at the best boundary inside each window of `limit` characters: a blank line, then a line
break, then a sentence end, then any space, and only then a hard cut. ``` blocks are never cut,
except a block longer than the limit, which is first re-fenced into blocks that each fit.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["CUT_NOTE", "MIN_LIMIT", "cap_parts", "split_message"]

MIN_LIMIT = 20
"""The smallest `limit` accepted; a re-fenced code block needs room for its fences."""
CUT_NOTE = "[… reply cut]"
"""How the last part allowed by `max_parts` ends when the reply had more."""

_FENCE = "```"
_PARAGRAPH, _LINE, _SENTENCE, _WORD = range(4)
_WHITESPACE_RUN = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]*_~]*\Z")
# Characters that belong to the character before them: cutting in front of one breaks a glyph.
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


@dataclass(frozen=True, slots=True)
class _Cut:
    """A place where a part may end: `position` starts a whitespace run of rank `rank`."""

    position: int
    rank: int


def split_message(text: str, limit: int = 4000, max_parts: int | None = None) -> list[str]:
    """Split `text` into stripped, non-empty parts of at most `limit` characters each
    (and at most `max_parts` of them, the last saying the reply was cut)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")
    parts = _split(text, limit)
    return parts if max_parts is None else cap_parts(parts, max_parts, limit)


def cap_parts(parts: list[str], max_parts: int, limit: int) -> list[str]:
    """Keep at most `max_parts` parts; if some are dropped, the last kept one ends with
    `CUT_NOTE` and still fits in `limit` characters."""
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    if len(parts) <= max_parts:
        return parts
    last = parts[max_parts - 1]
    room = limit - len(CUT_NOTE) - 2
    if len(last) > room:
        last = last[: _hard_cut(last, 0, room)].rstrip()
    return [*parts[: max_parts - 1], f"{last}\n\n{CUT_NOTE}"]


def _split(text: str, limit: int) -> list[str]:
    """`split_message` without the parts cap."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    text = _refence_long_blocks(text, limit)
    # A block still too long had an absurd fence line; the prose rules may cut through it.
    cuts = _cuts(text, [span for span in _code_spans(text) if span[1] - span[0] <= limit])
    positions = [cut.position for cut in cuts]
    parts: list[str] = []
    start = 0
    while start < len(text):
        if len(text) - start <= limit:
            parts.append(text[start:].strip())
            break
        first = bisect.bisect_right(positions, start)
        last = bisect.bisect_right(positions, start + limit)
        window = cuts[first:last]
        if window:
            best = min(window, key=lambda cut: (cut.rank, -cut.position))
            end = best.position
        else:
            end = _hard_cut(text, start, start + limit)
        parts.append(text[start:end].strip())
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
    return parts


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of each closed ``` block that opens on a line of its own."""
    spans: list[tuple[int, int]] = []
    offset = 0
    opened: int | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if opened is None:
            if stripped.startswith(_FENCE) and stripped.count(_FENCE) == 1:
                opened = offset
        elif _FENCE in line:
            spans.append((opened, offset + len(line.rstrip())))
            opened = None
        offset += len(line)
    return spans


def _cuts(text: str, spans: list[tuple[int, int]]) -> list[_Cut]:
    """List every whitespace run outside code blocks as a possible cut, ranked by preference."""
    starts = [span[0] for span in spans]
    cuts: list[_Cut] = []
    for match in _WHITESPACE_RUN.finditer(text):
        position = match.start()
        index = bisect.bisect_right(starts, position) - 1
        if index >= 0 and position < spans[index][1]:
            continue
        newlines = match.group().count("\n")
        if newlines >= 2:
            rank = _PARAGRAPH
        elif newlines == 1:
            rank = _LINE
        elif _SENTENCE_END.search(text, max(0, position - 8), position):
            rank = _SENTENCE
        else:
            rank = _WORD
        cuts.append(_Cut(position, rank))
    return cuts


def _hard_cut(text: str, start: int, end: int) -> int:
    """Back a hard cut off combining marks, joiners and skin tones so no glyph is torn apart."""
    cut = end
    while cut > start + 1 and _glued(text[cut - 1], text[cut]):
        cut -= 1
    return cut if cut > start + 1 else end


def _glued(before: str, after: str) -> bool:
    """Tell whether `after` must stay in the same part as `before`."""
    if before == "\u200d" or after in _JOINERS or unicodedata.combining(after):
        return True
    is_skin_tone = "\U0001f3fb" <= after <= "\U0001f3ff"
    is_tag = "\U000e0020" <= after <= "\U000e007f"
    return is_skin_tone or is_tag


def _refence_long_blocks(text: str, limit: int) -> str:
    """Rewrite every ``` block longer than `limit` as consecutive blocks that each fit."""
    pieces: list[str] = []
    done = 0
    for start, end in _code_spans(text):
        if end - start <= limit:
            continue
        block = text[start:end].split("\n")
        opening, body, closing = block[0], block[1:-1], block[-1]
        budget = limit - len(opening) - max(len(closing), len(_FENCE)) - 2
        if budget < 1:
            continue
        pieces.append(text[done:start])
        chunks = _chunk_lines(body, budget)
        closings = [_FENCE] * (len(chunks) - 1) + [closing]
        blocks = zip(chunks, closings, strict=True)
        pieces.append("\n".join(f"{opening}\n{chunk}\n{fence}" for chunk, fence in blocks))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _chunk_lines(lines: list[str], budget: int) -> list[str]:
    """Pack lines greedily into chunks of at most `budget` characters; cut longer lines."""
    pieces: list[str] = []
    for line in lines:
        while len(line) > budget:
            cut = _hard_cut(line, 0, budget)
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    chunks: list[str] = []
    current: list[str] = []
    size = -1
    for piece in pieces:
        if current and size + 1 + len(piece) > budget:
            chunks.append("\n".join(current))
            current, size = [], -1
        current.append(piece)
        size += 1 + len(piece)
    chunks.append("\n".join(current))
    return chunks
