"""Benchmark: a thread's figures pushed down to the portal, against downloading every row.

    .venv/bin/python bench/pushdown.py [--rows 1000000] [--arcgis-rows 50000] [--seed 7]

A thread needs two figures: the top 10 categories last month, and a 12-month series. The
benchmark builds a synthetic 311 dataset (category names and their rough frequencies follow the
real Baltimore 311 sample; everything else is made up), serves it from the local Socrata fake
(tests/servers/socrata_fake.py, SQLite underneath) and from a real Koop FeatureServer
(tests/servers/koop.js), and measures, in the same run:

- citycrier: `SocrataSource` / `ArcGISSource` answering the two queries (SoQL `$group` /
  `date_trunc_ym`; ArcGIS `outStatistics` and one `returnCountOnly` per month), asked
  together as `compute_figures` asks a thread's figures (`bot.figures.ask_together`: at once
  from a source that is safe to ask from threads, as the Socrata one is);
- naive: what many civic bots do: page through every row (`$limit`/`$offset` with `$order`, or
  `resultOffset` while `exceededTransferLimit`), then aggregate with pandas.

For scale, it then times each of citycrier's two Socrata aggregates alone on the fake, beside
the same two on a real PostgreSQL holding the same rows (`--no-scale` skips it): a fake that
answered faster than a real database would flatter the ratio.

Each approach runs in its own child process, so its peak resident memory (VmHWM) is its own
(citycrier's, a fraction of a second, three times, each in a new process, and its median
reported; the naive one once); the servers run in processes of their own too. Wall time
covers fetching and aggregating, not interpreter start-up; bytes are response bodies as they
came over the wire (Koop compresses with gzip, the Socrata fake does not, though the real
Socrata does). Nothing is asserted: the numbers are printed, with the ratios and whether both
approaches agreed.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import select
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "tests" / "servers"
for path in (ROOT, SERVERS, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

TZ = "America/New_York"
AS_OF = date(2026, 11, 15)  # the thread is drafted mid-November: "last month" is October
FIRST_DAY = date(2024, 11, 1)  # the data runs from here to the day before AS_OF
DATASET = "bnch-311x"
LAYER = "bench_311/FeatureServer/0"
SOCRATA_PAGE = 50_000
# Request types and counts from the real Baltimore 311 sample (names and counts are facts)
CATEGORIES = [
    ("SW-Rat Rubout Proactive", 618), ("SW-Bulk Scheduled", 276),
    ("TRS-Parking Complaint", 154), ("HCD-Sanitation Property", 137),
    ("TR-Youth Snow Program Student Application Request", 135),
    ("ECC-Information Request", 122), ("ECC-Vehicle Look Up", 94), ("BGE-StLight(s) Out", 77),
    ("TR-Youth Snow Program Resident Registration", 74), ("SW-Dirty Alley", 62),
    ("HCD-Illegal Dumping", 55), ("SW-Dirty Street", 55), ("HCD-Vacant Building", 51),
    ("TRT-Traffic Signal Repairs", 48), ("WW-Water Leak (Exterior)", 41),
    ("SW-Appliance (White Goods)", 39), ("WW-Sewer Water In Basement", 38),
    ("HLTH-Animal In Danger/Injured/Abused/Neglected", 32), ("WW-Water No Water", 29),
    ("SW-Mixed Refuse", 29)]
AGENCIES = {"SW": "Solid Waste", "TRS": "Transportation", "TR": "Transportation",
            "TRT": "Transportation", "HCD": "Housing", "ECC": "Call Center", "BGE": "BGE",
            "WW": "Water Wastewater", "HLTH": "Health"}
DISTRICTS = ["Northeastern", "Northern", "Northwestern", "Southeastern", "Western",
             "Southern", "Central", "Southwestern", "Eastern"]
STATUSES = ["Closed", "New", "Open", "Pending"]
SOCRATA_COLUMNS = [("sr_id", "text"), ("created_date", "floating_timestamp"),
                   ("category", "text"), ("agency", "text"), ("district", "text"),
                   ("status", "text"), ("latitude", "number"), ("longitude", "number")]


def thread_queries(dataset: str, date_field: str, category: str) -> tuple[Any, Any]:
    """The thread's two figures: top 10 categories last month; 12 months by month."""
    from bot.periods import day_bounds, resolve_period, series_window
    from bot.query import Query

    period = resolve_period("last_month", AS_OF, TZ)
    start, end = day_bounds(period.first_day, period.last_day, TZ)
    first, last = series_window(period, "month", 12)
    s_start, s_end = day_bounds(first, last, TZ)
    top = Query(dataset, date_field=date_field, start=start, end=end, group_by=category,
                top=10)
    series = Query(dataset, date_field=date_field, start=s_start, end=s_end, bucket="month",
                   order="key_asc")
    return top, series


# -- data ----------------------------------------------------------------------------------

def synthetic_rows(n: int, seed: int) -> Any:
    """(sr_id, local ISO time, category, agency, district, status, lat, lon) tuples."""
    rng = random.Random(seed)
    names = [c for c, _ in CATEGORIES]
    categories = rng.choices(names, weights=[w for _, w in CATEGORIES], k=n)
    span = (AS_OF - FIRST_DAY).days * 86400
    base = datetime.combine(FIRST_DAY, clock_time(0))
    for i, category in enumerate(categories):
        when = base + timedelta(seconds=rng.randrange(span))
        yield (f"{when.year % 100:02d}-{i:08d}", when.strftime("%Y-%m-%dT%H:%M:%S.000"),
               category, AGENCIES[category.split("-")[0]], rng.choice(DISTRICTS),
               rng.choice(STATUSES), round(39.2 + rng.random() * 0.2, 6),
               round(-76.7 + rng.random() * 0.2, 6))


def make_socrata_db(path: Path, rows: int, seed: int) -> None:
    from socrata_fake import SocrataFake

    fake = SocrataFake(path)
    fake.add_dataset(DATASET, SOCRATA_COLUMNS, synthetic_rows(rows, seed),
                     name="Bench 311 (synthetic)", indexes=("created_date",))
    fake.conn.close()


def make_geojson(folder: Path, rows: int, seed: int) -> None:
    zone, utc = ZoneInfo(TZ), ZoneInfo("UTC")
    features = []
    for n, (sr_id, local, category, agency, district, status, lat, lon) in enumerate(
            synthetic_rows(rows, seed), start=1):
        moment = datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(utc)
        features.append({"type": "Feature", "geometry": {"type": "Point",
                                                         "coordinates": [lon, lat]},
                         "properties": {"OBJECTID": n, "SRRecordID": sr_id, "SRType": category,
                                        "Agency": agency, "PoliceDistrict": district,
                                        "SRStatus": status, "CreatedDate":
                                        moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")}})
    fields = [{"name": "OBJECTID", "type": "Integer"}, {"name": "SRRecordID", "type": "String"},
              {"name": "SRType", "type": "String"}, {"name": "Agency", "type": "String"},
              {"name": "PoliceDistrict", "type": "String"},
              {"name": "SRStatus", "type": "String"}, {"name": "CreatedDate", "type": "Date"}]
    body = {"type": "FeatureCollection", "features": features, "metadata": {
        "name": "Bench 311 (synthetic)", "idField": "OBJECTID", "maxRecordCount": 2000,
        "fields": fields}}
    (folder / "bench_311.geojson").write_text(json.dumps(body), encoding="utf-8")


# -- the two approaches (each in a child process) -------------------------------------------

def run_citycrier(kind: str, url: str) -> dict[str, Any]:
    from bot.settings import PortalConfig

    if kind == "socrata":
        from bot.sources.socrata import SocrataSource

        src: Any = SocrataSource(PortalConfig("bench", "socrata", "Bench", url=url,
                                              timeout_seconds=300), TZ, progress=False)
        top_q, series_q = thread_queries(DATASET, "created_date", "category")
    else:
        from bot.sources.arcgis import ArcGISSource

        src = ArcGISSource(PortalConfig("bench", "arcgis", "Bench", url=url,
                                        timeout_seconds=300), TZ, progress=False)
        top_q, series_q = thread_queries(LAYER, "CreatedDate", "SRType")
    from bot.figures import ask_together

    started = time.perf_counter()
    top, series = ask_together(src, [top_q, series_q])  # as compute_figures asks them
    wall = time.perf_counter() - started
    return {"wall": wall, "bytes": src.http.bytes_received, "requests": src.http.requests_sent,
            "top": [list(r) for r in top.rows], "series": [list(r) for r in series.rows],
            "pushed_down": top.pushed_down and series.pushed_down}


def run_naive(kind: str, url: str) -> dict[str, Any]:
    import httpx
    import pandas as pd

    rows: list[dict[str, Any]] = []
    sent = received = 0
    started = time.perf_counter()
    with httpx.Client(timeout=300) as client:
        offset = 0
        while True:
            if kind == "socrata":
                r = client.get(f"{url}/resource/{DATASET}.json", params={
                    "$limit": SOCRATA_PAGE, "$offset": offset, "$order": ":id"})
                page = r.json()
                more = len(page) == SOCRATA_PAGE
            else:
                r = client.get(f"{url}/{LAYER}/query", params={
                    "where": "1=1", "outFields": "*", "returnGeometry": "false",
                    "orderByFields": "OBJECTID", "resultOffset": offset,
                    "resultRecordCount": 2000, "f": "json"})
                body = r.json()
                page = [f["attributes"] for f in body.get("features", [])]
                more = bool(body.get("exceededTransferLimit"))
            sent += 1
            received += r.num_bytes_downloaded
            rows += page
            offset += len(page)
            if not more:
                break
    frame = pd.DataFrame(rows)
    if kind == "socrata":
        category = "category"
        when = pd.to_datetime(frame["created_date"]).dt.tz_localize(
            TZ, ambiguous=True, nonexistent="shift_forward")
    else:
        category = "SRType"
        when = pd.to_datetime(frame["CreatedDate"], unit="ms", utc=True).dt.tz_convert(TZ)
    top_q, series_q = thread_queries("", "", "")
    in_month = (when >= pd.Timestamp(top_q.start)) & (when < pd.Timestamp(top_q.end))
    counts = frame.loc[in_month, category].value_counts()
    top = sorted(((str(k), float(v)) for k, v in counts.items()), key=lambda r: (-r[1], r[0]))
    in_year = (when >= pd.Timestamp(series_q.start)) & (when < pd.Timestamp(series_q.end))
    months = when[in_year].dt.strftime("%Y-%m-01").value_counts()
    series = sorted((str(k), float(v)) for k, v in months.items())
    wall = time.perf_counter() - started
    return {"wall": wall, "bytes": received, "requests": sent, "rows": len(rows),
            "top": [list(r) for r in top[:10]], "series": [list(r) for r in series]}


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the process image, so
    it does not inherit the parent's peak across fork and exec as `ru_maxrss` does."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(approach: str, kind: str, url: str) -> None:
    result = run_citycrier(kind, url) if approach == "citycrier" else run_naive(kind, url)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def in_child(approach: str, kind: str, url: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--worker", approach, kind, url],
                          capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    if done.returncode:
        raise SystemExit(f"{approach} on {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- running and reporting -------------------------------------------------------------------

def start_socrata(db: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, str(SERVERS / "socrata_fake.py"), str(db)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    if not ready:
        process.kill()
        raise SystemExit("the Socrata fake did not start within 60 seconds")
    port = json.loads(process.stdout.readline())["port"]
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"  # pragma: no cover


def report(title: str, ours: dict[str, Any], naive: dict[str, Any]) -> float:
    print(f"\n{title}")
    print(f"  {'':27}{'wall':>10}{'requests':>10}{'bytes':>14}{'peak RSS':>12}")
    for name, r in (("citycrier (pushed down)", ours), ("naive (every row, pandas)", naive)):
        print(f"  {name:27}{r['wall']:>9.2f}s{r['requests']:>10}{human_bytes(r['bytes']):>14}"
              f"{r['peak_rss_mb']:>9.0f} MB")
    ratio = {k: naive[k] / ours[k] if ours[k] else float("inf")
             for k in ("wall", "bytes", "peak_rss_mb", "requests")}
    print(f"  {'naive / citycrier':27}{ratio['wall']:>9.1f}x{ratio['requests']:>9.1f}x"
          f"{ratio['bytes']:>13,.0f}x{ratio['peak_rss_mb']:>11.1f}x")
    same = ours["top"] == naive["top"] and ours["series"] == naive["series"]
    print(f"  naive downloaded {naive['rows']:,} rows; citycrier pushed everything down: "
          f"{'yes' if ours['pushed_down'] else 'no'}; same figures: {'yes' if same else 'NO'}")
    print(f"  top 3 last month: {', '.join(f'{k} {v:,.0f}' for k, v in ours['top'][:3])}")
    return ratio["wall"]


def fake_query_times(db: Path) -> dict[str, float]:
    """Seconds the fake takes to answer each of citycrier's two aggregates alone (best of
    3): the requests citycrier sends, recorded once, then run one at a time."""
    from socrata_fake import SocrataFake

    with SocrataFake(db) as fake:
        run_citycrier("socrata", fake.url)
        asked = [r.params for r in fake.requests if r.path.startswith("/resource/")]
        ds = fake.dataset(DATASET)
        assert ds is not None
        spent: dict[str, float] = {}
        for params in asked:
            name = "series" if "date_trunc" in params.get("$group", "") else "top"
            for _ in range(3):
                started = time.perf_counter()
                fake.run(ds, params)
                spent[name] = min(spent.get(name, 9e9), time.perf_counter() - started)
    return spent


PG_QUERIES = {  # the same two aggregates as PostgreSQL writes them
    "top": "SELECT category, count(*) AS n FROM t WHERE created_date >= %s AND created_date "
           "< %s GROUP BY category ORDER BY n DESC, category LIMIT 11",
    "series": "SELECT date_trunc('month', created_date), count(*) FROM t WHERE created_date "
              ">= %s AND created_date < %s GROUP BY 1 ORDER BY 1"}


def postgres_query_times(db: Path) -> dict[str, float] | str:
    """For scale: the same rows in a real PostgreSQL (the database Socrata's own store is
    built on), with an index on every column; each aggregate's best of 5, in seconds."""
    import sqlite3

    import psycopg
    from postgres import PostgresUnavailable, run_postgres

    top_q, series_q = thread_queries("", "", "")
    windows = {"top": (top_q.start, top_q.end), "series": (series_q.start, series_q.end)}
    source = sqlite3.connect(db)
    try:
        with run_postgres() as pg, psycopg.connect(pg.create_database("bench"),
                                                   autocommit=True) as conn:
            columns = ", ".join(f"{name} {'timestamp' if kind.endswith('timestamp') else kind}"
                                for name, kind in SOCRATA_COLUMNS).replace(" number", " numeric")
            conn.execute(f"CREATE TABLE t ({columns})")
            with conn.cursor().copy("COPY t FROM STDIN") as copy:
                for row in source.execute(f'SELECT * FROM "t_{DATASET}"'):
                    copy.write_row(row)
            for name, _ in SOCRATA_COLUMNS:
                conn.execute(f"CREATE INDEX ON t ({name})")
            conn.execute("VACUUM ANALYZE t")
            spent = {}
            for name, sql in PG_QUERIES.items():
                bounds = tuple(m.replace(tzinfo=None) for m in windows[name])
                for _ in range(5):
                    started = time.perf_counter()
                    conn.execute(sql, bounds).fetchall()
                    spent[name] = min(spent.get(name, 9e9), time.perf_counter() - started)
            return spent
    except PostgresUnavailable as exc:
        return f"PostgreSQL could not start ({exc})"
    finally:
        source.close()


def report_scale(fake: dict[str, float], real: dict[str, float] | str) -> None:
    print("\n  For scale, each aggregate alone on the server (best of 3 to 5):")
    if isinstance(real, str):
        print(f"  fake: top {fake['top'] * 1000:.0f} ms, series {fake['series'] * 1000:.0f} ms;"
              f" {real}")
        return
    for name, label in (("top", "top 10 last month"), ("series", "12 months by month")):
        print(f"  {label:20} Socrata fake (SQLite) {fake[name] * 1000:6.0f} ms   PostgreSQL 15,"
              f" an index per column {real[name] * 1000:6.0f} ms")


CITYCRIER_RUNS = 3  # a fifth of a second is easily disturbed on a shared machine: the median
GOAL_RATIO = 50.0  # issue 10: a thread's figures in at most 1/50 of the naive time


def main(argv: list[str]) -> int:
    from summary import record

    if argv[:1] == ["--worker"]:
        worker(*argv[1:4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--arcgis-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-scale", dest="scale", action="store_false",
                        help="Skip timing the two aggregates on a real PostgreSQL for scale.")
    args = parser.parse_args(argv)
    from koop import start_koop

    top_q, series_q = thread_queries("", "", "")
    print(f"Figures for a thread drafted on {AS_OF}: top 10 categories "
          f"{top_q.start:%Y-%m-%d} to {top_q.end:%Y-%m-%d}, and monthly counts "
          f"{series_q.start:%Y-%m-%d} to {series_q.end:%Y-%m-%d}.")
    with tempfile.TemporaryDirectory(prefix="citycrier-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        make_socrata_db(folder / "socrata.sqlite", args.rows, args.seed)
        print(f"Socrata fake: {args.rows:,} synthetic rows generated into SQLite in "
              f"{time.perf_counter() - started:.1f}s")
        server, url = start_socrata(folder / "socrata.sqlite")
        try:
            runs = [in_child("citycrier", "socrata", url) for _ in range(CITYCRIER_RUNS)]
            naive = in_child("naive", "socrata", url)
        finally:
            stop(server)
        ours = sorted(runs, key=lambda r: float(r["wall"]))[len(runs) // 2]
        ratio = report(f"Socrata ({args.rows:,} rows, local fake on 127.0.0.1)", ours, naive)
        walls = ", ".join(f"{float(r['wall']):.2f}s" for r in runs)
        print(f"  citycrier's {len(runs)} runs (each in a new process; the median is shown): "
              f"{walls}")
        print(f"  goal (issue 10): citycrier in at most 1/{GOAL_RATIO:.0f} of the naive time: "
              f"{ratio:.1f}x, {'met' if ratio >= GOAL_RATIO else 'not met'}")
        record(f"pushdown: Socrata {args.rows:,} rows, wall", ours["wall"], naive["wall"],
               f"naive/citycrier >= {GOAL_RATIO:.0f}x", ratio >= GOAL_RATIO, "s", ratio=ratio)
        if args.scale:
            report_scale(fake_query_times(folder / "socrata.sqlite"),
                         postgres_query_times(folder / "socrata.sqlite"))
        started = time.perf_counter()
        (folder / "koop").mkdir()
        make_geojson(folder / "koop", args.arcgis_rows, args.seed)
        print(f"\nKoop: {args.arcgis_rows:,} synthetic features written as GeoJSON in "
              f"{time.perf_counter() - started:.1f}s")
        with start_koop(folder / "koop") as koop:
            ours, naive = (in_child("citycrier", "arcgis", koop.services),
                           in_child("naive", "arcgis", koop.services))
        report(f"ArcGIS ({args.arcgis_rows:,} rows, real Koop FeatureServer on 127.0.0.1)",
               ours, naive)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
