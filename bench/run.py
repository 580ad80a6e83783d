"""Run the benchmarks: ``python -m bench.run [--only NAME ...] [--quick] [--out FILE]``.

Each scenario runs in a fresh interpreter (so one scenario's memory, caches and threads do not
colour the next), then one table is printed and every figure, with the machine it was taken on,
is written to a JSON file. The exit code is 0 when every scenario ran (targets missed or not),
1 when one crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from bench.scenarios.common import ROOT, Metric, ScenarioResult, fmt, machine_info

#: Scenario modules, in the issue's order.
SCENARIOS = (
    "overhead",
    "concurrency",
    "delivery",
    "storage",
    "memory",
    "startup",
    "toolcall",
    "knowledge",
)
SIZES = ("full", "quick", "tiny")
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"


def scenario_module(name: str) -> ModuleType:
    """The module of scenario ``name``."""
    return importlib.import_module(f"bench.scenarios.{name}")


def run_here(name: str, size: str) -> ScenarioResult:
    """Run one scenario in this process, logging as production does (into /dev/null)."""
    from bench.scenarios.common import production_logging

    production_logging()
    module = scenario_module(name)
    began = time.perf_counter()
    result: ScenarioResult = asyncio.run(module.run(getattr(module, size.upper())))
    result.seconds = time.perf_counter() - began
    return result


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all CPUs) so far."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


def _own_children_cpu_seconds() -> float:
    """CPU seconds used by this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(name: str, size: str) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter; return its result as data.

    Also notes how much CPU other processes used meanwhile: on a shared machine that is the
    first thing to check when a figure looks off.
    """
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "bench.run", "--child", name, "--size", size]
        busy, own = _busy_cpu_seconds(), _own_children_cpu_seconds()
        began = time.perf_counter()
        proc = subprocess.run([*command, "--out", str(out)], cwd=ROOT, check=False)
        wall = time.perf_counter() - began
        busy, own = _busy_cpu_seconds() - busy, _own_children_cpu_seconds() - own
        environment = {
            "wall_s": round(wall, 1),
            "own_cpu_s": round(own, 1),
            "other_processes_cpu_s": round(max(0.0, busy - own), 1),
            "other_processes_cpus_avg": round(max(0.0, busy - own) / wall, 2),
        }
        if proc.returncode != 0 or not out.exists():
            return {
                "name": name,
                "error": f"exited {proc.returncode}",
                "seconds": round(wall, 1),
                "metrics": [],
                "environment": environment,
            }
        data: dict[str, Any] = json.loads(out.read_text())
        data["environment"] = environment
        return data


def table(results: Sequence[dict[str, Any]], *, markdown: bool = False) -> str:
    """The results as one table: scenario, metric, value, target, pass/miss."""
    rows = [("scenario", "metric", "value", "target", "result")]
    for result in results:
        if result.get("error"):
            rows.append((result["name"], "(crashed)", result["error"], "-", "ERROR"))
        for data in result["metrics"]:
            metric = Metric(**{k: v for k, v in data.items() if k != "passed"})
            value = f"{fmt(metric.value)} {metric.unit}".rstrip()
            verdict = {True: "pass", False: "MISS", None: "-"}[metric.passed]
            rows.append((result["name"], metric.name, value, metric.target_text(), verdict))
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "| --- | --- | ---: | --- | --- |")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i == 2 and number else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def source_version() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_files": changed}


def report(
    results: Sequence[dict[str, Any]], size: str, seconds: float, source: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document: machine, source, every scenario's figures, and a summary."""
    verdicts = [m["passed"] for r in results for m in r["metrics"] if m["passed"] is not None]
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size,
        "seconds": round(seconds, 1),
        "machine": machine_info(),
        "source": source,
        "load_average_after": list(os.getloadavg()),
        "summary": {
            "targets": len(verdicts),
            "passed": sum(verdicts),
            "missed": len(verdicts) - sum(verdicts),
            "crashed": [r["name"] for r in results if r.get("error")],
        },
        "scenarios": list(results),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, metavar="NAME", help="run these")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--child", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=SIZES, default="full", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios, print the table, write the JSON file."""
    args = parse_args(argv)
    if args.child:
        args.out.write_text(json.dumps(run_here(args.child, args.size).to_dict(), indent=1))
        return 0
    size = "quick" if args.quick else args.size
    names = args.only or list(SCENARIOS)
    source = source_version()  # before running: the tree may change during a long run
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    for name in names:
        print(f"bench: {name} ({size}) ...", file=sys.stderr, flush=True)
        result = run_child(name, size)
        print(f"bench: {name} done in {result['seconds']:.1f} s", file=sys.stderr, flush=True)
        results.append(result)
    document = report(results, size, time.perf_counter() - began, source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(table(results, markdown=args.markdown))
    for result in results:
        others = result.get("environment", {}).get("other_processes_cpus_avg", 0.0)
        if others >= 0.1:
            print(
                f"note: other processes kept {others:.2f} CPUs busy on average during "
                f"{result['name']}; its figures are pessimistic"
            )
    cpu = document["machine"]
    print(
        f"\n{cpu['cpu_model']}, {cpu['logical_cpus']} CPUs, {cpu['ram_gb']} GB, "
        f"Python {cpu['python']}; {document['seconds']} s; results in {args.out}"
    )
    return 1 if document["summary"]["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
