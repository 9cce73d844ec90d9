"""Benchmark: a 12-month series on a Socrata *fixed* timestamp, counted by the portal.

    .venv/bin/python bench/fixed_series.py [--rows 300000] [--seed 7]

Until issue 9, a series bucketed on a fixed timestamp (UTC instants, bucketed by local days)
was fetched as raw rows and counted here: `$select=designation_date ... $limit=50000`, page
after page. Now the portal counts it, `date_trunc_ym(to_floating_timestamp(col, 'ZONE'))`.
This serves synthetic rows from the local Socrata fake (SQLite underneath) and measures, in
the same run and process, the pushed-down query (citycrier) against the raw-row path it
replaced (the baseline, still used for text date columns), checking that both agree.

Goal: one request and a few hundred bytes whatever the row count, the same months.
Nothing is asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "tests" / "servers"
for path in (ROOT, SERVERS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

TZ = "America/Chicago"
AS_OF = date(2026, 11, 15)
DATASET = "fixd-ts01"


def rows(n: int, seed: int) -> Any:
    rng = random.Random(seed)
    base = datetime(2024, 11, 1, tzinfo=ZoneInfo("UTC"))
    span = int((datetime(2026, 11, 15, tzinfo=ZoneInfo("UTC")) - base).total_seconds())
    for i in range(n):
        moment = base + timedelta(seconds=rng.randrange(span))
        yield (moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"), f"site {i}")


def measure(label: str, run: Any, src: Any) -> tuple[float, Any]:
    sent, got = src.http.requests_sent, src.http.bytes_received
    started = time.perf_counter()
    found = run()
    wall = time.perf_counter() - started
    print(f"  {label:34}{wall:>8.2f}s{src.http.requests_sent - sent:>10}"
          f"{src.http.bytes_received - got:>14,}")
    return wall, found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    from socrata_fake import SocrataFake

    from bot.periods import day_bounds, resolve_period, series_window
    from bot.query import Query
    from bot.settings import PortalConfig
    from bot.sources.socrata import SocrataSource

    period = resolve_period("last_month", AS_OF, TZ)
    first, last = series_window(period, "month", 12)
    start, end = day_bounds(first, last, TZ)
    q = Query(DATASET, date_field="designation_date", start=start, end=end, bucket="month",
              order="key_asc")
    with tempfile.TemporaryDirectory(prefix="citycrier-bench-") as tmp:
        fake = SocrataFake(Path(tmp) / "fixed.sqlite")
        fake.add_dataset(DATASET, [("designation_date", "fixed_timestamp"), ("name", "text")],
                         rows(args.rows, args.seed), indexes=("designation_date",))
        with fake:
            src = SocrataSource(PortalConfig("bench", "socrata", "Bench", url=fake.url,
                                             timeout_seconds=300), TZ, progress=False)
            types = src._view(DATASET)["columns"]  # the metadata, fetched once
            print(f"A 12-month series {first} to {last} on a fixed timestamp, "
                  f"{args.rows:,} synthetic rows (Socrata fake on 127.0.0.1):")
            print(f"  {'':34}{'wall':>9}{'requests':>10}{'bytes':>14}")
            ours_wall, ours = measure("citycrier (pushed down)", lambda: src.fetch(q), src)
            base_wall, base = measure("baseline (raw rows, counted here)",
                                      lambda: src._aggregate_locally(q, types), src)
    print(f"  baseline / citycrier: {base_wall / ours_wall:.1f}x the time; same months: "
          f"{ours.rows == base}; pushed down: {ours.pushed_down}")
    print("  goal: 1 request and a few hundred bytes whatever the row count")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
