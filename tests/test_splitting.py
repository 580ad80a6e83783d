"""Tests for helpers.splitting: long replies cut into WhatsApp-sized parts."""

from __future__ import annotations

import random
import unicodedata

import pytest

from helpers.splitting import MIN_LIMIT, split_message


def _fence_lines(part: str) -> int:
    """Count the lines of `part` that open or close a ``` block."""
    return sum(1 for line in part.split("\n") if line.strip().startswith("```"))


def _ink(text: str) -> str:
    """Return `text` with all whitespace removed, to compare content across splits."""
    return "".join(text.split())


def test_limit_below_minimum_is_refused() -> None:
    """A limit under MIN_LIMIT raises ValueError naming the limit."""
    with pytest.raises(ValueError, match="got 19"):
        split_message("text", MIN_LIMIT - 1)


def test_minimum_limit_is_accepted() -> None:
    """MIN_LIMIT itself is a valid limit."""
    assert split_message("a" * 25, MIN_LIMIT) == ["a" * 20, "a" * 5]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_blank_text_gives_no_parts(text: str) -> None:
    """Empty or blank text gives an empty list, never an empty part."""
    assert split_message(text) == []


def test_short_text_is_untouched() -> None:
    """Text within the limit comes back as the single, unchanged part."""
    text = "*Hello!*\n\nThis is _short_.\n```\ncode\n```"

    assert split_message(text) == [text]


def test_short_text_is_stripped() -> None:
    """Surrounding whitespace is dropped even when no split is needed."""
    assert split_message("\n  hello  \n") == ["hello"]


def test_text_of_exactly_the_limit_is_one_part() -> None:
    """A text exactly `limit` characters long is not split."""
    text = "word " * 7 + "end!"

    assert len(text) == 39
    assert split_message(text, 39) == [text]


def test_text_one_over_the_limit_is_split() -> None:
    """One character more than the limit forces a split at the last space."""
    text = "word " * 7 + "end!!"

    assert split_message(text, 39) == ["word " * 6 + "word", "end!!"]


def test_paragraphs_are_packed_greedily() -> None:
    """Whole paragraphs are packed into as few parts as fit."""
    text = "aaaaaaaa\n\nbbbbbbbb\n\ncccccccc"

    assert split_message(text, 20) == ["aaaaaaaa\n\nbbbbbbbb", "cccccccc"]


def test_paragraph_boundary_beats_later_line_boundary() -> None:
    """A blank line is preferred even when a plain line break would fill the part better."""
    text = "First paragraph.\n\nSecond para line one\nline two goes on"

    assert split_message(text, 40) == [
        "First paragraph.",
        "Second para line one\nline two goes on",
    ]


def test_line_boundary_beats_sentence_boundary() -> None:
    """Without a blank line, a line break is preferred over a later sentence end."""
    text = "A list:\n• one. Two. Three. Four. Five. Six."

    assert split_message(text, 30) == ["A list:", "• one. Two. Three. Four. Five.", "Six."]


def test_sentence_boundary_beats_later_word_boundary() -> None:
    """A sentence end is preferred over a later space inside the next sentence."""
    text = "One sentence here. Two sentence here. Three."

    assert split_message(text, 25) == ["One sentence here.", "Two sentence here. Three."]


@pytest.mark.parametrize("end", ["!", "?", "…", '."', ".)", ".*", "?_"])
def test_sentence_ends_with_closers(end: str) -> None:
    """Sentence ends followed by quotes, brackets or WhatsApp markers count as boundaries."""
    text = f"Short one{end} then a second sentence that is long"

    assert split_message(text, 40)[0] == f"Short one{end}"


def test_word_boundary_when_no_sentence_ends() -> None:
    """Prose without sentence ends is cut at the last space that fits."""
    text = "alpha beta gamma delta epsilon zeta eta theta"

    assert split_message(text, 20) == ["alpha beta gamma", "delta epsilon zeta", "eta theta"]


def test_very_long_word_is_hard_cut() -> None:
    """A word longer than the limit is cut into limit-sized pieces."""
    word = "".join(chr(ord("a") + i % 26) for i in range(50))

    assert split_message(f"go {word}", 20) == ["go", word[:20], word[20:40], word[40:]]


def test_code_block_is_kept_whole() -> None:
    """A code block that fits is never cut, even when cutting inside would fill a part."""
    code = "```\nline one\n\nline two\n```"
    text = f"Intro sentence here.\n{code}\nOutro."

    assert split_message(text, 30) == ["Intro sentence here.", code, "Outro."]


def test_code_block_kept_with_neighbours_when_it_fits() -> None:
    """A code block shares a part with the text around it when all of it fits."""
    text = "Run:\n```\nmake\n```\nthen wait.\n\n" + "x" * 30

    assert split_message(text, 40) == ["Run:\n```\nmake\n```\nthen wait.", "x" * 30]


def test_oversized_code_block_is_refenced() -> None:
    """A block longer than the limit is split between lines, each part a closed block."""
    lines = [f"print({i})" for i in range(10)]
    text = "Code:\n\n```\n" + "\n".join(lines) + "\n```\n\nDone."

    parts = split_message(text, 40)

    assert parts == [
        "Code:",
        "```\nprint(0)\nprint(1)\nprint(2)\n```",
        "```\nprint(3)\nprint(4)\nprint(5)\n```",
        "```\nprint(6)\nprint(7)\nprint(8)\n```",
        "```\nprint(9)\n```\n\nDone.",
    ]


def test_oversized_code_block_reopens_with_its_own_fence() -> None:
    """Each re-opened part reuses the original opening fence line."""
    text = "```py\n" + "\n".join(["x = 1"] * 12) + "\n```"

    parts = split_message(text, 30)

    assert len(parts) > 1
    assert all(part.startswith("```py\n") and part.endswith("\n```") for part in parts)
    assert sum(part.count("x = 1") for part in parts) == 12


def test_oversized_code_line_is_cut_inside_fences() -> None:
    """A single code line too long for any part is hard-cut, every piece still fenced."""
    line = "0123456789" * 5
    parts = split_message(f"```\n{line}\n```", 30)

    assert parts == [f"```\n{line[i : i + 22]}\n```" for i in range(0, 50, 22)]


def test_code_block_indentation_is_preserved_across_parts() -> None:
    """Leading spaces of code lines survive stripping because each part starts with a fence."""
    text = "```\n" + "\n".join(["    indented"] * 6) + "\n```"

    parts = split_message(text, 40)

    assert all(line == "    indented" for part in parts for line in part.split("\n")[1:-1])


def test_unclosed_fence_is_treated_as_prose() -> None:
    """A ``` with no closing fence does not stop cuts, and no fence is invented."""
    text = "```\n" + "word " * 20

    parts = split_message(text, 30)

    assert _ink("".join(parts)) == _ink(text)
    assert sum(part.count("```") for part in parts) == 1


def test_emoji_are_counted_as_characters() -> None:
    """Each emoji code point counts as one character towards the limit."""
    assert split_message("👍" * 45, 20) == ["👍" * 20, "👍" * 20, "👍" * 5]


def test_hard_cut_keeps_skin_tone_with_its_emoji() -> None:
    """A hard cut is moved back so a skin-tone modifier stays with its emoji."""
    parts = split_message("👍🏽" * 15, 21)

    assert parts == ["👍🏽" * 10, "👍🏽" * 5]


def test_hard_cut_keeps_combining_mark_with_its_letter() -> None:
    """A hard cut never leaves a combining accent at the start of a part."""
    text = "x" + "e\u0301" * 15

    parts = split_message(text, 20)

    assert parts == [text[:19], text[19:]]
    assert not any(unicodedata.combining(part[0]) for part in parts)


def test_parts_are_stripped_and_not_empty() -> None:
    """No part is empty or starts or ends with whitespace, however much whitespace there is."""
    text = "  one  \n\n\n\n   two   \n\n\n   three  " + " " * 50 + "\n\nfour"

    parts = split_message(text, 20)

    assert parts == ["one  \n\n\n\n   two", "three", "four"]


def _random_text(rng: random.Random) -> str:
    """Build a random WhatsApp-style reply from prose, lists, emoji and code blocks."""
    words = ["a", "chat", "*bold*", "_it_", "über", "👍", "🇩🇪", "e\u0301t\u00e9", "x" * 45, "ok."]
    blocks: list[str] = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.random()
        if kind < 0.2:
            body = "\n".join(
                " " * rng.randint(0, 4) + "y" * rng.randint(0, 70) for _ in range(rng.randint(1, 9))
            )
            blocks.append(f"```\n{body}\n```")
        elif kind < 0.35:
            blocks.append("\n".join(f"• {rng.choice(words)}" for _ in range(rng.randint(1, 6))))
        else:
            sentence_count = rng.randint(1, 6)
            sentences = [
                " ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + rng.choice(".!? ")
                for _ in range(sentence_count)
            ]
            blocks.append(rng.choice([" ", "\n"]).join(sentences))
    return rng.choice(["\n\n", "\n", "\n\n\n"]).join(blocks)


def test_random_texts_keep_every_invariant() -> None:
    """Across seeded random replies, parts fit, are clean, keep content and keep fences closed."""
    rng = random.Random(20240601)
    for _ in range(600):
        text = _random_text(rng)
        limit = rng.randint(MIN_LIMIT, 160)

        parts = split_message(text, limit)

        assert parts, text
        assert all(0 < len(part) <= limit for part in parts), (limit, text)
        assert all(part == part.strip() for part in parts), (limit, text)
        assert all(_fence_lines(part) % 2 == 0 for part in parts), (limit, text)
        joined = "".join(parts)
        if joined.count("```") == text.count("```"):
            assert _ink(joined) == _ink(text), (limit, text)
        else:
            # Re-fencing only ever adds fences; with them removed the content is identical.
            assert _ink(joined.replace("```", "")) == _ink(text.replace("```", "")), (limit, text)
        if len(text.strip()) <= limit:
            assert parts == [text.strip()]
