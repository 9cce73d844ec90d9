"""Benchmark: citycrier's render_chart against a naive pyplot bar chart, in the same run.

Run from the repository root:

    .venv/bin/python bench/charts.py

Both draw the same ten ranked categories as a 1600x900 horizontal bar chart. The baseline is
what a first attempt usually looks like: pyplot figure + barh + savefig(bbox_inches="tight")
(which also changes the image size). Prints the median time per chart and the PNG size.
"""

from __future__ import annotations

import io
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/summary.py
os.environ.setdefault("MPLBACKEND", "Agg")  # pyplot, for the baseline only, on a headless box

from bot.charts import render_chart  # noqa: E402

REPS = 20
GOAL_RATIO = 0.8  # issue 10: at most 0.8x the pyplot baseline's time
MAX_KB = 150
WARMUP = 2
SOURCE = "Source: Open Baltimore, 311 Customer Service Requests, as of Oct. 21, 2019"
POINTS = [
    ("rat extermination visits", 1412),
    ("SW-Rat Rubout Proactive", 1210),
    ("potholes", 987),
    ("dirty streets and alleys", 812),
    ("bulk trash pickup", 640),
    ("street light out", 512),
    ("water leak", 430),
    ("abandoned vehicle", 301),
    ("graffiti removal", 205),
    ("tree pruning", 98),
]


def draw_citycrier() -> bytes:
    return render_chart(
        "top_requests",
        "bar",
        POINTS,
        title="Rat extermination visits led 311 requests last weekend",
        unit="requests",
        source_line=SOURCE,
        period_label="last weekend (Oct. 31–Nov. 1)",
    ).png


def draw_baseline() -> bytes:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(16, 9))
    try:
        ax = fig.add_subplot()
        labels = [label for label, _ in POINTS][::-1]
        ax.barh(labels, [value for _, value in POINTS][::-1])
        ax.set_title("Rat extermination visits led 311 requests last weekend")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)


def measure(*draws: Callable[[], bytes]) -> list[tuple[float, bytes]]:
    """Median milliseconds and the last PNG of each drawing, taken in turns (one of each per
    round), so a busy machine slows them alike."""
    for _ in range(WARMUP):
        for draw in draws:
            draw()
    times: list[list[float]] = [[] for _ in draws]
    pngs: list[bytes] = [b""] * len(draws)
    for _ in range(REPS):
        for i, draw in enumerate(draws):
            started = time.perf_counter()
            pngs[i] = draw()
            times[i].append((time.perf_counter() - started) * 1000)
    return [(statistics.median(t), png) for t, png in zip(times, pngs, strict=True)]


def main() -> None:
    (ours_ms, ours_png), (base_ms, base_png) = measure(draw_citycrier, draw_baseline)
    rows = [
        ("citycrier render_chart", ours_ms, ours_png),
        ('pyplot barh + bbox_inches="tight"', base_ms, base_png),
    ]
    print(f"bar chart, 10 categories, median of {REPS} after {WARMUP} warm-up runs, taken "
          f"in turns\n")
    print(f"{'chart':<36}{'median ms':>10}{'PNG bytes':>12}{'size':>11}")
    for label, ms, png in rows:
        width, height = struct.unpack(">II", png[16:24])
        print(f"{label:<36}{ms:>10.1f}{len(png):>12,}{f'{width}x{height}':>11}")
    (_, ours, our_png), (_, base, base_png) = rows
    print(
        f"\ntime ratio citycrier/baseline: {ours / base:.2f}x; "
        f"bytes ratio: {len(our_png) / len(base_png):.2f}x"
    )
    met = ours / base <= GOAL_RATIO and len(our_png) <= MAX_KB * 1000
    print(f"goal (issue 10): at most {GOAL_RATIO}x the baseline's time and {MAX_KB} KB: "
          f"{ours / base:.2f}x, {len(our_png) / 1000:.0f} KB, {'met' if met else 'not met'}")
    from summary import record

    record("charts: 1600x900 bar chart, median", ours, base,
           f"ratio <= {GOAL_RATIO}, PNG <= {MAX_KB} KB", met, "ms")


if __name__ == "__main__":
    main()
