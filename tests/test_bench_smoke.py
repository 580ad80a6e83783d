"""Each benchmark scenario runs at a tiny size and gives well-formed results (no timing checks)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import run as bench_run
from bench.scenarios.common import Metric, ScenarioResult, percentile


@pytest.mark.parametrize("name", bench_run.SCENARIOS)
async def test_scenario_runs_at_tiny_size(name: str) -> None:
    """The scenario finishes and reports named, finite figures that serialise to JSON."""
    module = bench_run.scenario_module(name)
    result = await module.run(module.TINY)
    assert isinstance(result, ScenarioResult)
    assert result.name == name
    assert result.metrics
    for metric in result.metrics:
        assert metric.name and metric.unit is not None
        assert math.isfinite(metric.value), metric
        assert metric.passed in (True, False, None)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["details"]
    assert {m["name"] for m in data["metrics"]} == {m.name for m in result.metrics}


def test_table_and_report_are_well_formed(tmp_path: Path) -> None:
    """The table shows one row per metric with its verdict; the report sums the verdicts."""
    result = ScenarioResult("demo", "Demo")
    result.metrics += [
        Metric("fast", 1.5, "ms", 2.0),
        Metric("slow", 12.0, "ms", 10.0),
        Metric("ratio", 30.0, "x", 20.0, better="higher"),
        Metric("info", 7.0, "MB"),
    ]
    results = [result.to_dict(), {"name": "boom", "error": "exited 1", "metrics": []}]
    text = bench_run.table(results)
    assert "MISS" in text and "pass" in text and "ERROR" in text
    assert len(text.splitlines()) == 2 + 4 + 1
    assert bench_run.table(results, markdown=True).startswith("| scenario |")
    document = bench_run.report(results, "tiny", 1.0, bench_run.source_version())
    assert document["summary"] == {"targets": 3, "passed": 2, "missed": 1, "crashed": ["boom"]}
    assert document["machine"]["logical_cpus"]
    json.dumps(document)


def test_percentile_interpolates() -> None:
    """Percentiles interpolate between ranks; no values give NaN."""
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
