"""The one table `make bench` prints at the end: each benchmark's headline figures beside their
baselines and goals.

A benchmark calls `record(...)` for each headline figure; when the environment variable
CITYCRIER_BENCH_SUMMARY names a file (make bench sets it), the row is appended there as a JSON
line. `python bench/summary.py FILE` prints the table. Nothing is asserted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ENV = "CITYCRIER_BENCH_SUMMARY"


def record(figure: str, value: float, baseline: float | None, goal: str, met: bool | None,
           unit: str = "", ratio: float | None = None) -> None:
    """One row: the project's `value` (in `unit`), the baseline measured in the same run, their
    ratio (value / baseline unless given, e.g. baseline / value where the goal is a speed-up),
    the goal as words, and whether it was met (None: no goal, shown for reference)."""
    if ratio is None and baseline:
        ratio = value / baseline
    path = os.environ.get(ENV)
    if not path:
        return
    row = {"figure": figure, "value": value, "baseline": baseline, "ratio": ratio,
           "goal": goal, "met": met, "unit": unit}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get(ENV, ""))
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
        if path.is_file() else []
    print("\nsummary (timings on a shared 2-core machine are noisy; nothing is asserted)")
    print(f"{'figure':<52}{'citycrier':>13}{'baseline':>13}{'ratio':>8}  {'goal':<36}met")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        met = "-" if r["met"] is None else "yes" if r["met"] else "NO"
        print(f"{r['figure']:<52}{_number(r['value'], r['unit']):>13}"
              f"{_number(r['baseline'], r['unit']):>13}{ratio:>8}  {r['goal']:<36}{met}")
    goals = [r for r in rows if r["met"] is not None]
    print(f"{sum(1 for r in goals if r['met'])} of {len(goals)} goals met")


if __name__ == "__main__":
    main()
