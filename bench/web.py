"""Benchmark: the approval desk with 10,000 drafts, at 1 and at 50 concurrent clients.

Builds a temp project, drafts one real thread (with its chart) from the synthetic sample,
copies its rows into 9,999 more drafts with realistic histories (every 50th draft has 20
revisions, 50 audit rows and a chart; the others 1 revision and 2 audit rows), starts
`citycrier serve` on 127.0.0.1 (a port the OS picks), signs in, and requests each page from
1 client and then from 50 concurrent clients (HTTP/1.1 on asyncio streams, one keep-alive
connection each, each sending its next request when the last one answered): p50/p95/p99
latency and response bytes, beside the baseline measured in the same run, /healthz (no
session, one SELECT 1). About 2,000 requests in all. Printed, not asserted. The client and
the server share this machine's cores. The desk keeps pages as drawn until the store changes
(bot/web/cache.py), so the queue and draft pages are then asked again while another
connection commits 10 times a second: each commit has them drawn afresh.

    .venv/bin/python bench/web.py [--clients 50] [--requests 250] [--drafts 10000]

Goal (issue 10): queue and draft pages p95 at most 50 ms at 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

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
        chart = {k: v for k, v in conn.execute(select(s.charts).where(
            s.charts.c.draft_id == first)).mappings().one().items() if k not in ("id",
                                                                                 "draft_id")}
        long = [first] + ids[49::50]  # 20 revisions, 50 audit rows and a chart each
        short = [i for i in ids if i not in set(long)]
        conn.execute(insert(s.revisions), [{**revision, "draft_id": i} for i in ids])
        conn.execute(insert(s.revisions), [
            {**revision, "draft_id": i, "revision": n, "author": "editor"}
            for i in long for n in range(2, 21)])
        conn.execute(s.drafts.update().where(s.drafts.c.id.in_(long)).values(revision=20))
        conn.execute(insert(s.charts), [{**chart, "draft_id": i} for i in long[1:]])
        at = row["created_at"]
        conn.execute(insert(s.audit), [
            {"draft_id": i, "at": at, "actor": "editor", "action": "edit",
             "detail": f"note {n}"} for i in long for n in range(49)])
        conn.execute(insert(s.audit), [
            {"draft_id": i, "at": at, "actor": "citycrier", "action": action, "detail": ""}
            for i in short for action in ("draft", "claim")])
    print(f"store: {total:,} drafts ({time.perf_counter() - started:.1f} s to copy rows); "
          f"{len(long)} with 20 revisions and 50 audit rows; draft {first} has the real "
          f"chart")
    store.close()
    return folder / "config.toml", long[len(long) // 2], short[len(short) // 2]


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


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               request: bytes) -> tuple[int, int]:
    """One keep-alive HTTP/1.1 GET on an open connection: (status, body bytes)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status, length


def load(url: str, path: str, cookies: httpx.Cookies, clients: int,
         requests: int) -> dict[str, float]:
    """`requests` GETs of `path` from `clients` concurrent clients, each on its own
    keep-alive connection, each sending its next request as soon as the last one answered.

    The clients speak HTTP/1.1 on bare asyncio streams: an HTTP library's own work (httpx
    spends about a millisecond a request) would take the cores the server needs."""
    host, port = url.removeprefix("http://").split(":")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
               f"Accept-Encoding: identity\r\n\r\n").encode()
    latencies: list[float] = []
    sizes: list[int] = []
    errors = [0]
    each = max(1, requests // clients)

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            await _get(reader, writer, request)  # warm the connection
            for _ in range(each):
                t = time.perf_counter()
                status, size = await _get(reader, writer, request)
                latencies.append(time.perf_counter() - t)
                sizes.append(size)
                if status != 200:
                    errors[0] += 1
        finally:
            writer.close()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started

    wall = asyncio.run(run())
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50": q[49] * 1000,
            "p95": q[94] * 1000, "p99": q[98] * 1000, "bytes": statistics.median(sizes),
            "errors": errors[0]}


GOAL_MS = 50.0
CHANGES_PER_SECOND = 10  # far busier than a city's desk: a change every few minutes


@contextmanager
def changing(config_path: Path, per_second: int) -> Iterator[None]:
    """Commit an audit row `per_second` times a second through a store of its own (as the
    scheduler or the CLI would, from another process) while the block runs."""
    from bot.config import load_config
    from bot.store import Store

    store = Store(load_config(config_path).storage_url)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.wait(1 / per_second):
            n += 1
            store.add_audit(None, "bench", "note", f"change {n}")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join(timeout=10)
        store.close()


def main() -> None:
    from summary import record

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=250,
                        help="Requests per page at --clients (a fifth of it from 1 client).")
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citycrier-bench-") as tmp:
        config_path, long, short = build_store(Path(tmp), args.drafts)
        proc, url = start_desk(config_path)
        try:
            cookies = sign_in(url)
            pages = [("baseline: /healthz (one SELECT 1)", "/healthz"),
                     ("queue: /queue (first 50 of 10,000)", "/queue"),
                     ("queue: /queue?page=100 (4,951-5,000)", "/queue?page=100"),
                     (f"draft, 20 revisions, 50 audit rows: /drafts/{long}",
                      f"/drafts/{long}"),
                     (f"draft, 1 revision: /drafts/{short}", f"/drafts/{short}"),
                     (f"chart PNG: /drafts/{long}/charts/0.png",
                      f"/drafts/{long}/charts/0.png")]
            print(f"desk: {url}, {os.cpu_count()} cores shared by client and server\n")
            print(f"{'page':<52}{'clients':>8}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
                  f"{'p99 ms':>8}{'bytes':>9}{'errors':>7}")
            results: dict[str, dict[str, float]] = {}
            for clients, requests in ((1, max(1, args.requests // 5)),
                                      (args.clients, args.requests)):
                for label, path in pages:
                    r = load(url, path, cookies, clients, requests)
                    results[f"{path} x{clients}"] = r
                    print(f"{label:<52}{clients:>8}{r['rps']:>8.1f}{r['p50']:>8.1f}"
                          f"{r['p95']:>8.1f}{r['p99']:>8.1f}{r['bytes']:>9,.0f}"
                          f"{r['errors']:>7.0f}")
                print()
            with changing(config_path, CHANGES_PER_SECOND):  # every change: pages redrawn
                for clients, requests in ((1, max(1, args.requests // 5)),
                                          (args.clients, args.requests)):
                    for label, path in (("queue, the store changing: /queue", "/queue"), (
                            f"draft, the store changing: /drafts/{long}", f"/drafts/{long}")):
                        r = load(url, path, cookies, clients, requests)
                        print(f"{label:<52}{clients:>8}{r['rps']:>8.1f}{r['p50']:>8.1f}"
                              f"{r['p95']:>8.1f}{r['p99']:>8.1f}{r['bytes']:>9,.0f}"
                              f"{r['errors']:>7.0f}")
            print(f"(the store changing: another connection commits {CHANGES_PER_SECOND} times "
                  f"a second, so the kept pages are drawn again after each)\n")
            n = args.clients
            base = results[f"/healthz x{n}"]["p95"]
            for name, path in (("queue", "/queue"), ("draft", f"/drafts/{long}")):
                p95 = results[f"{path} x{n}"]["p95"]
                record(f"web: {name} page p95 at {n} clients", p95, base,
                       f"p95 <= {GOAL_MS:.0f} ms", p95 <= GOAL_MS, "ms")
                print(f"{name} page p95 at {n} clients: {p95:.1f} ms (goal {GOAL_MS:.0f} ms: "
                      f"{'met' if p95 <= GOAL_MS else 'not met'}); /healthz p95 {base:.1f} ms")
            if args.json:
                print(json.dumps(results, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            proc.stdout.close()  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
