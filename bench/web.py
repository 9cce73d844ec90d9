"""Benchmark: the approval desk under concurrent load with 10,000 drafts in the store.

Builds a temp project, drafts one real thread (with its chart) from the synthetic sample,
copies its rows into 9,999 more drafts, starts `citycrier serve` on 127.0.0.1 (a port the OS
picks), signs in, and drives each page from client threads (httpx): requests per second and
p50/p95 latency, beside a baseline measured in the same run (/healthz and a static file).
Printed, not asserted. The client and the server share this machine's cores.

    .venv/bin/python bench/web.py [--threads 8] [--requests 300] [--drafts 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdefghij"
PASSWORD = "bench password 123"


def build_store(folder: Path, total: int) -> tuple[Path, int, int]:
    """A project with `total` drafts; returns (config path, a charted draft, a copied one)."""
    from sqlalchemy import insert, select

    from bot import schema as s
    from bot.config import load_config, load_recipe
    from bot.drafting import draft_recipe
    from bot.people import add_user
    from bot.sample import SAMPLE_AS_OF, ensure_sample
    from bot.store import Store

    for name in ("config.toml",):
        shutil.copy(ROOT / name, folder / name)
    for name in ("posts", "templates"):
        shutil.copytree(ROOT / name, folder / name)
    config = load_config(folder / "config.toml")
    recipe = load_recipe(config, "baltimore_311_weekend")
    ensure_sample(config.portals[recipe.source.portal].path)
    store = Store(config.storage_url)
    as_of = datetime.combine(SAMPLE_AS_OF, clock_time(6), ZoneInfo(config.timezone))
    first = draft_recipe(config, recipe, store, as_of).draft_id
    add_user(store, "bench", "approver", PASSWORD)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        row = conn.execute(select(s.drafts).where(s.drafts.c.id == first)).mappings().one()
        rev = conn.execute(select(s.revisions).where(
            s.revisions.c.draft_id == first)).mappings().one()
        base = {k: v for k, v in row.items() if k != "id"}
        drafts = [{**base, "period_key": f"bench-{i:05d}", "data_hash": f"bench-{i:05d}",
                   "slot_at": row["slot_at"] + timedelta(minutes=i)} for i in range(1, total)]
        conn.execute(insert(s.drafts), drafts)
        ids = [r[0] for r in conn.execute(select(s.drafts.c.id).where(
            s.drafts.c.id != first).order_by(s.drafts.c.id))]
        revision = {k: v for k, v in rev.items() if k not in ("id", "draft_id")}
        conn.execute(insert(s.revisions), [{**revision, "draft_id": i} for i in ids])
    print(f"store: {total:,} drafts ({time.perf_counter() - started:.1f} s to copy "
          f"{total - 1:,} rows); draft {first} has the real chart")
    store.close()
    return folder / "config.toml", first, ids[len(ids) // 2]


def start_desk(config_path: Path) -> tuple[subprocess.Popen[str], str]:
    citycrier = Path(sys.executable).parent / "citycrier"
    proc = subprocess.Popen([str(citycrier), "serve", "--config", str(config_path), "--port",
                             "0"], cwd=config_path.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "CITYCRIER_SECRET_KEY": SECRET})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(timeout=30)
    found = re.search(r"http://127\.0\.0\.1:\d+", lines[0] if lines else "")
    if not found:
        proc.kill()
        raise SystemExit("citycrier serve did not start within 30 s")
    return proc, found.group(0)


def sign_in(url: str) -> httpx.Cookies:
    with httpx.Client(base_url=url) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token})
        assert r.status_code == 303, r.text
        return client.cookies


def load(url: str, path: str, cookies: httpx.Cookies, threads: int,
         requests: int) -> dict[str, float]:
    """`requests` GETs of `path` spread over `threads` clients; rps and latency quantiles."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    each = requests // threads

    def run() -> None:
        mine = []
        with httpx.Client(base_url=url, cookies=cookies) as client:
            client.get(path)  # warm the connection
            for _ in range(each):
                t = time.perf_counter()
                r = client.get(path)
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50": q[49] * 1000,
            "p95": q[94] * 1000, "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citycrier-bench-") as tmp:
        config_path, charted, copied = build_store(Path(tmp), args.drafts)
        proc, url = start_desk(config_path)
        try:
            cookies = sign_in(url)
            pages = [("baseline: /healthz (no session, one SELECT 1)", "/healthz"),
                     ("baseline: /static/desk.css (static file)", "/static/desk.css"),
                     ("queue: /queue (first 50 of 10,000 waiting)", "/queue"),
                     ("queue: /queue?page=100 (drafts 4,951-5,000)", "/queue?page=100"),
                     (f"draft page with its chart: /drafts/{charted}", f"/drafts/{charted}"),
                     (f"draft page (copy): /drafts/{copied}", f"/drafts/{copied}"),
                     (f"chart PNG: /drafts/{charted}/charts/0.png",
                      f"/drafts/{charted}/charts/0.png")]
            print(f"desk: {url}, {args.threads} client threads, {args.requests} requests per "
                  f"page, {os.cpu_count()} cores shared by client and server\n")
            print(f"{'page':<52} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
            results = {}
            for label, path in pages:
                r = load(url, path, cookies, args.threads, args.requests)
                results[path] = r
                print(f"{label:<52} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                      f"{r['errors']:>7.0f}")
            if args.json:
                print(json.dumps(results, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            proc.stdout.close()  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
