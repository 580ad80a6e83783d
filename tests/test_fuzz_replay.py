"""A small fuzz run in the suite: junk lines through ``main.py --replay`` are never answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.fuzz.replay import generate, run_replay, summarize

pytestmark = pytest.mark.slow


async def test_a_fuzzed_replay_answers_real_lines_once_and_junk_never(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """300 mixed lines: every real text answered once, no junk answered, no traceback."""
    plan = generate(300, seed=11, senders=20)
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(plan.lines) + b"\n")
    code, sent, err = await run_replay(fake_openai.base_url, path, tmp_path)
    summary = summarize(plan, code, sent, err)
    assert min(plan.kinds[k] for k in ("real", "junk_id", "invalid_utf8", "nul")) > 0
    assert summary["exit_code"] == 0, err
    assert summary["replies_to_junk"] == 0
    assert summary["missing_answers"] == 0 and summary["answered_twice"] == 0
    assert summary["input_cap_notices"] == summary["expected_notices"]
    assert summary["bad_lines"] == plan.surely_bad
    assert summary["tracebacks"] == 0 and summary["intake_failures"] == 0
