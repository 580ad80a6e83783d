"""Citations as WhatsApp text: a short numbered "Sources:" list, never raw markers."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Assistants-style citation markers such as ``【4:0†source】`` (and ``[4:0†source]``).
MARKER = re.compile(r"\s?[【\[]\d+(?::\d+)?†[^】\]]*[】\]]")
SOURCES_SHOWN = 5


def strip_markers(text: str) -> str:
    """``text`` without file-search citation markers."""
    return MARKER.sub("", text)


def with_sources(text: str, sources: Iterable[str]) -> str:
    """``text`` followed by a numbered list of distinct sources (at most five)."""
    unique = list(dict.fromkeys(s.strip() for s in sources if s and s.strip()))
    clean = strip_markers(text)
    if not unique:
        return clean
    lines = [f"{n}. {source}" for n, source in enumerate(unique[:SOURCES_SHOWN], 1)]
    listed = "Sources:\n" + "\n".join(lines)
    clean = clean.rstrip()
    return f"{clean}\n\n{listed}" if clean else listed
