"""Tests for helpers.formatting: Markdown in, WhatsApp formatting out."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.formatting import markdown_to_whatsapp

GOLDEN = Path(__file__).parent / "golden"


def test_golden_model_answer() -> None:
    """A representative model answer renders exactly as the hand-checked golden file."""
    source = (GOLDEN / "markdown_input.md").read_text(encoding="utf-8")
    expected = (GOLDEN / "markdown_whatsapp.txt").read_text(encoding="utf-8")

    assert markdown_to_whatsapp(source) + "\n" == expected


@pytest.mark.parametrize("source", ["", "   ", "\n\n\t\n"])
def test_empty_input(source: str) -> None:
    """Empty or blank input gives the empty string."""
    assert markdown_to_whatsapp(source) == ""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold**", "*bold*"),
        ("__bold__", "*bold*"),
        ("*italic*", "_italic_"),
        ("_italic_", "_italic_"),
        ("~~strike~~", "~strike~"),
        ("`code`", "`code`"),
        ("***both***", "_*both*_"),
        ("**bold _italic_ ~~gone~~**", "*bold _italic_ ~gone~*"),
        ("**`code` in bold**", "*`code` in bold*"),
    ],
)
def test_inline_emphasis(source: str, expected: str) -> None:
    """Each Markdown emphasis maps onto its WhatsApp marker, nested ones included."""
    assert markdown_to_whatsapp(source) == expected


def test_emphasis_across_lines_is_wrapped_per_line() -> None:
    """Emphasis spanning a soft break is closed and re-opened on each line."""
    assert markdown_to_whatsapp("**one\ntwo**") == "*one*\n*two*"


def test_nested_same_marker_is_not_reopened() -> None:
    """Bold inside bold does not emit a second pair of asterisks."""
    assert markdown_to_whatsapp("**a **b** c**") == "*a b c*"


def test_literal_markers_in_text_are_left_alone() -> None:
    """Asterisks, underscores and tildes that are not Markdown emphasis stay as written."""
    source = "2 * 3 * 4, snake_case_name, ~5 km, and \\*escaped\\*"

    assert markdown_to_whatsapp(source) == "2 * 3 * 4, snake_case_name, ~5 km, and *escaped*"


def test_code_content_is_not_formatted() -> None:
    """Markdown inside inline code is kept verbatim."""
    assert markdown_to_whatsapp("`**not bold**`") == "`**not bold**`"


def test_fenced_code_block_drops_language_and_keeps_content() -> None:
    """A fenced block becomes a ``` block without its language tag, content untouched."""
    source = "```python\ndef f(x):\n    return x * 2  # **no**\n```"

    assert markdown_to_whatsapp(source) == "```\ndef f(x):\n    return x * 2  # **no**\n```"


def test_indented_code_block() -> None:
    """An indented code block becomes a ``` block with the indentation removed."""
    source = "Example:\n\n    a = 1\n      b = 2\n"

    assert markdown_to_whatsapp(source) == "Example:\n\n```\na = 1\n  b = 2\n```"


def test_empty_code_block_is_dropped() -> None:
    """A code block with no content produces no empty fence pair."""
    assert markdown_to_whatsapp("before\n\n```\n```\n\nafter") == "before\n\nafter"


def test_headings_become_bold_lines() -> None:
    """Headings of every level become a bold line followed by a blank line."""
    source = "# One\ntext\n### Three **bold**\n###### Six"

    assert markdown_to_whatsapp(source) == "*One*\n\ntext\n\n*Three bold*\n\n*Six*"


def test_bullet_list_with_nesting() -> None:
    """Bullets use • at the top level, ◦ deeper, and two spaces of indent per level."""
    source = "- a\n- b\n  - c\n    - d\n- e"

    assert markdown_to_whatsapp(source) == "• a\n• b\n  ◦ c\n    ◦ d\n• e"


def test_loose_list_is_rendered_compactly() -> None:
    """Blank lines between items of a loose list are not kept."""
    assert markdown_to_whatsapp("- a\n\n- b\n\n  more\n") == "• a\n• b\n  more"


def test_numbered_list_keeps_start_number() -> None:
    """Numbered lists count on from their start number."""
    assert markdown_to_whatsapp("7. seven\n8. eight\n1. nine") == "7. seven\n8. eight\n9. nine"


def test_numbered_list_with_nested_bullets() -> None:
    """Bullets nested in a numbered list are indented under their item."""
    source = "1. first\n   - detail *one*\n2. second"

    assert markdown_to_whatsapp(source) == "1. first\n  ◦ detail _one_\n2. second"


def test_code_block_inside_list_is_not_indented() -> None:
    """A code block inside a list item keeps its lines at column 0, content verbatim."""
    source = "1. Run:\n\n   ```sh\n   make test\n   ```\n2. Done"

    assert markdown_to_whatsapp(source) == "1. Run:\n```\nmake test\n```\n2. Done"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[docs](https://example.com/docs)", "docs (https://example.com/docs)"),
        ("[**bold** docs](https://example.com)", "*bold* docs (https://example.com)"),
        ("[https://example.com](https://example.com)", "https://example.com"),
        ("<https://example.com/a?b=1>", "https://example.com/a?b=1"),
        ("<me@example.com>", "me@example.com"),
        ("[write](mailto:me@example.com)", "write (me@example.com)"),
        ('[t](https://example.com "title")', "t (https://example.com)"),
        ("[](https://example.com)", "https://example.com"),
        ("![a cat](https://example.com/cat.png)", "a cat (https://example.com/cat.png)"),
        ("![](https://example.com/cat.png)", "https://example.com/cat.png"),
    ],
)
def test_links_and_images(source: str, expected: str) -> None:
    """Links read as "text (url)", collapsing to the url when the text is the url."""
    assert markdown_to_whatsapp(source) == expected


def test_reference_links_resolve() -> None:
    """Reference-style links are resolved and their definitions vanish."""
    source = "See [the docs][d].\n\n[d]: https://example.com/docs"

    assert markdown_to_whatsapp(source) == "See the docs (https://example.com/docs)."


def test_block_quote_with_nested_content() -> None:
    """Quotes prefix every line with "> " and keep emphasis and lists inside."""
    source = "> **Tip:** read\n> this\n>\n> - item _one_"

    assert markdown_to_whatsapp(source) == "> *Tip:* read\n> this\n> • item _one_"


def test_nested_block_quote() -> None:
    """A quote inside a quote gets two prefixes."""
    assert markdown_to_whatsapp("> outer\n>\n> > inner") == "> outer\n> > inner"


def test_block_quote_inside_list_is_not_indented() -> None:
    """Quote lines inside a list stay at column 0 so WhatsApp still shows them as quotes."""
    assert markdown_to_whatsapp("- intro\n\n  > quoted") == "• intro\n> quoted"


@pytest.mark.parametrize("source", ["---", "***", "___", "- - -"])
def test_horizontal_rule(source: str) -> None:
    """Every thematic break becomes the same dash line."""
    assert markdown_to_whatsapp(f"above\n\n{source}\n\nbelow") == "above\n\n———\n\nbelow"


def test_table_is_a_padded_monospace_block() -> None:
    """Tables become a ``` block with padded columns, honouring alignment, markup removed."""
    source = (
        "| Name | Qty | Note |\n"
        "|------|----:|:----:|\n"
        "| **Apple** | 3 | `ok` |\n"
        "| Kiwi fruit | 12 | [x](https://x.io) |\n"
    )
    expected = (
        "```\n"
        "Name       | Qty |       Note\n"
        "-----------+-----+-----------------\n"
        "Apple      |   3 |        ok\n"
        "Kiwi fruit |  12 | x (https://x.io)\n"
        "```"
    )

    assert markdown_to_whatsapp(source) == expected


def test_table_counts_wide_characters_twice() -> None:
    """Emoji and CJK characters count as two columns when padding a table."""
    source = "| a | b |\n|---|---|\n| 🍎 | 1 |\n| 漢字 | 2 |\n"
    expected = "```\na    | b\n-----+--\n🍎   | 1\n漢字 | 2\n```"

    assert markdown_to_whatsapp(source) == expected


def test_table_with_missing_cells() -> None:
    """Short body rows are padded with empty cells."""
    source = "| a | b |\n|---|---|\n| 1 |\n"

    assert markdown_to_whatsapp(source) == "```\na | b\n--+--\n1 |\n```"


def test_soft_and_hard_breaks_become_newlines() -> None:
    """Soft breaks and both kinds of hard break end the line."""
    assert markdown_to_whatsapp("one\ntwo  \nthree\\\nfour") == "one\ntwo\nthree\nfour"


def test_html_is_passed_through_as_text() -> None:
    """Inline and block HTML reach the chat unchanged."""
    source = "a <b>bold</b> tag\n\n<div>\nblock\n</div>"

    assert markdown_to_whatsapp(source) == "a <b>bold</b> tag\n\n<div>\nblock\n</div>"


def test_entities_are_decoded() -> None:
    """HTML entities are turned into the characters they name."""
    assert markdown_to_whatsapp("fish &amp; chips &lt;3") == "fish & chips <3"


def test_paragraphs_separated_by_one_blank_line_without_trailing_whitespace() -> None:
    """Paragraphs are joined by exactly one blank line and no line ends in whitespace."""
    result = markdown_to_whatsapp("\n\n  first  \n\n\n\nsecond   \n\n")

    assert result == "first\n\nsecond"


def test_no_trailing_whitespace_anywhere_in_golden_output() -> None:
    """No rendered line of the golden answer ends in whitespace."""
    result = markdown_to_whatsapp((GOLDEN / "markdown_input.md").read_text(encoding="utf-8"))

    assert all(line == line.rstrip() for line in result.split("\n"))


def test_unclosed_emphasis_stays_literal() -> None:
    """A stray opening marker is not emphasis in Markdown, so it passes through."""
    assert markdown_to_whatsapp("**not closed and *also not") == "**not closed and *also not"


def test_deep_nesting_is_still_formatted() -> None:
    """Forty nested quotes are far beyond real answers but still render as quotes."""
    assert markdown_to_whatsapp("> " * 40 + "deep") == "> " * 40 + "deep"


@pytest.mark.parametrize("prefix", ["> ", "- ", "1. ", "> - "])
def test_pathological_nesting_loses_no_text(prefix: str) -> None:
    """Nesting past the parser's cap falls back to the raw text instead of dropping it."""
    source = prefix * 300 + "deep\n\nafter"

    assert markdown_to_whatsapp(source) == source
