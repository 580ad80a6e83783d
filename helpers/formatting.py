"""Render the Markdown that OpenAI models write as WhatsApp-formatted chat text.

The text is parsed with markdown-it-py (CommonMark plus GFM tables and strikethrough) and the
syntax tree is rendered block by block. WhatsApp knows *bold*, _italic_, ~strike~, `code`,
```monospace blocks``` and "> " quotes; everything else becomes plain, line-oriented text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

__all__ = ["markdown_to_whatsapp"]

# The nesting cap also bounds our recursion; CommonMark keeps raw HTML as text tokens.
_MAX_NESTING = 100
_PARSER = MarkdownIt("commonmark", {"maxNesting": _MAX_NESTING}).enable(["table", "strikethrough"])

_BULLETS = ("•", "◦")
_INDENT = "  "
_RULE = "———"
_FENCE = "```"
_MARKERS = {"strong": "*", "em": "_", "s": "~"}


@dataclass(frozen=True, slots=True)
class _Line:
    """One output line; anchored lines (code, quotes, tables) are never indented by lists."""

    text: str
    anchored: bool = False


def markdown_to_whatsapp(md: str) -> str:
    """Convert Markdown text to WhatsApp formatting; empty or blank input gives ""."""
    if not md.strip():
        return ""
    tokens = _PARSER.parse(md)
    if any(token.level >= _MAX_NESTING - 2 for token in tokens):
        # markdown-it silently drops blocks nested past the cap; send such text unformatted.
        return "\n".join(line.rstrip() for line in md.strip().split("\n"))
    root = SyntaxTreeNode(tokens)
    lines = _stack([_render_block(node, 0) for node in root.children], blank=True)
    return "\n".join(line.text.rstrip() for line in lines).strip("\n")


def _stack(blocks: Sequence[list[_Line]], *, blank: bool) -> list[_Line]:
    """Concatenate non-empty blocks, with a blank line between them when `blank` is set."""
    out: list[_Line] = []
    for block in blocks:
        if not block:
            continue
        if out and blank:
            out.append(_Line(""))
        out.extend(block)
    return out


def _text_lines(text: str) -> list[_Line]:
    """Split rendered inline text into plain lines."""
    return [_Line(part) for part in text.split("\n")] if text.strip() else []


def _render_block(node: SyntaxTreeNode, depth: int) -> list[_Line]:
    """Render one block-level node; `depth` is the list nesting level."""
    kind = node.type
    if kind == "paragraph":
        return _text_lines(_render_inline(node.children[0].children))
    if kind == "heading":
        text = _render_inline(node.children[0].children, frozenset("*"))
        return _text_lines(_wrap(text, "*"))
    if kind in ("fence", "code_block"):
        return _code_block(node.content)
    if kind == "hr":
        return [_Line(_RULE)]
    if kind == "html_block":
        return _text_lines(node.content.rstrip("\n"))
    if kind == "blockquote":
        inner = _stack([_render_block(child, depth) for child in node.children], blank=False)
        return [_Line(f"> {line.text}" if line.text else ">", anchored=True) for line in inner]
    if kind in ("bullet_list", "ordered_list"):
        return _render_list(node, depth)
    if kind == "table":
        return _render_table(node)
    # Anything a future parser rule adds: keep its children, or failing that its text.
    if node.children:
        return _stack([_render_block(child, depth) for child in node.children], blank=True)
    return _text_lines(node.content)


def _code_block(content: str) -> list[_Line]:
    """Fence code verbatim in a WhatsApp monospace block; the language tag is dropped."""
    body = content.rstrip("\n")
    if not body.strip():
        return []
    return [_Line(text, anchored=True) for text in (_FENCE, *body.split("\n"), _FENCE)]


def _render_list(node: SyntaxTreeNode, depth: int) -> list[_Line]:
    """Render a bullet or numbered list; nested lines are indented two spaces per level."""
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1))
    out: list[_Line] = []
    for index, item in enumerate(node.children):
        marker = f"{start + index}." if ordered else _BULLETS[min(depth, 1)]
        body = _stack([_render_block(child, depth + 1) for child in item.children], blank=False)
        if not body:
            out.append(_Line(marker))
            continue
        out.append(_Line(f"{marker} {body[0].text}"))
        for line in body[1:]:
            indented = line.anchored or not line.text
            out.append(line if indented else _Line(_INDENT + line.text))
    return out


def _render_table(node: SyntaxTreeNode) -> list[_Line]:
    """Render a table as a padded monospace block with a rule under the header row."""
    rows: list[list[str]] = []
    aligns: list[str] = []
    for section in node.children:
        for row in section.children:
            cells = [_render_inline(cell.children[0].children, plain=True) for cell in row.children]
            rows.append([" ".join(cell.split()) for cell in cells])
            if not aligns:
                aligns = [str(cell.attrs.get("style", "")) for cell in row.children]
    columns = max(len(row) for row in rows)
    rows = [row + [""] * (columns - len(row)) for row in rows]
    aligns += [""] * (columns - len(aligns))
    widths = [max(1, *(_width(row[col]) for row in rows)) for col in range(columns)]
    lines = [" | ".join(map(_pad, row, widths, aligns)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return [_Line(text, anchored=True) for text in (_FENCE, *lines, _FENCE)]


def _width(text: str) -> int:
    """Approximate monospace display width: wide East Asian characters and emoji take two."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or char in "\u200d\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    """Pad a table cell to `width` display columns following its CSS text-align style."""
    gap = width - _width(text)
    if align.endswith("right"):
        return " " * gap + text
    if align.endswith("center"):
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _render_inline(
    nodes: Sequence[SyntaxTreeNode], active: frozenset[str] = frozenset(), *, plain: bool = False
) -> str:
    """Render inline nodes; `active` holds the markers already open, `plain` drops all markup."""
    parts: list[str] = []
    for node in nodes:
        kind = node.type
        if kind in ("text", "html_inline"):
            parts.append(node.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" " if plain else "\n")
        elif kind == "code_inline":
            parts.append(node.content if plain else f"`{node.content}`")
        elif kind in _MARKERS:
            marker = _MARKERS[kind]
            inner = _render_inline(node.children, active | {marker}, plain=plain)
            # Re-opening a marker that is already open would close it early in WhatsApp.
            parts.append(inner if plain or marker in active else _wrap(inner, marker))
        elif kind == "link":
            parts.append(_link(node, active, plain=plain))
        elif kind == "image":
            alt = _render_inline(node.children, plain=True)
            src = str(node.attrs["src"])
            parts.append(f"{alt} ({src})" if alt.strip() else src)
        else:
            parts.append(_render_inline(node.children, active, plain=plain) or node.content)
    return "".join(parts)


def _link(node: SyntaxTreeNode, active: frozenset[str], *, plain: bool) -> str:
    """Render a link as "text (url)", or as the bare url when the text already is the url."""
    href = str(node.attrs["href"])
    shown = href.removeprefix("mailto:")
    text_only = _render_inline(node.children, plain=True)
    if node.markup == "autolink":
        return text_only
    if not text_only.strip() or text_only in (href, shown):
        return shown
    return f"{_render_inline(node.children, active, plain=plain)} ({shown})"


def _wrap(text: str, marker: str) -> str:
    """Wrap each non-blank line in `marker`, keeping edge whitespace outside so WhatsApp sees it."""
    lines = []
    for line in text.split("\n"):
        core = line.strip()
        if core:
            lead = line[: len(line) - len(line.lstrip())]
            trail = line[len(line.rstrip()) :]
            line = f"{lead}{marker}{core}{marker}{trail}"
        lines.append(line)
    return "\n".join(lines)
