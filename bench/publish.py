"""Publishing a 6-post thread with 4 charts to a local Bluesky PDS: citycrier's own time
beside the time spent waiting on the PDS, and a baseline measured in the same run.

    python bench/publish.py [N]        # N runs of each (default 5); prints medians

citycrier: ``publish_due`` on a stored draft (receipts written before and after every post,
record keys chosen up front, charts uploaded, facets computed, the draft settled).
Baseline: the same six posts sent with the bare atproto SDK (``send_images``/``send_post``
chained by reply refs), no store, no receipts. Each run uses a fresh account on the PDS, and
each side logs in once with the password, as a first run would.

"Waiting on the PDS" is the wall time inside the SDK's HTTP calls (atproto's
``Request._send_request``, wrapped), so it includes httpx's own work on each request; the
rest of the total is the publisher's own time.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "servers"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # bench/summary.py

PASSWORD_ENV = "CITYCRIER_BENCH_BSKY_PASSWORD"
TEXTS = (
    "📊 Baton Rouge — 311 calls last week: 1,204. Data: https://data.brla.gov/d/7ixm-mnvx",
    "Most common: potholes (212), missed trash pickups (180), streetlights out (95).",
    "Calls per day: the busiest was Monday with 231, the quietest Sunday with 88.",
    "By district: District 2 had the most calls, about 1 in 4.",
    "That is up 12% from the week before, the third weekly rise in a row.",
    "Questions about a request? Call 311 or use the app. #BatonRouge",
)
CHARTS_ON = ((0,), (1,), (2, 3), (), (), ())  # post -> chart numbers: 4 charts on 3 posts


@dataclass
class Run:
    total: float
    waiting: float
    calls: int


class Waiting:
    """Sums the wall time spent inside atproto's HTTP calls while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    @contextmanager
    def installed(self) -> Iterator[Waiting]:
        from atproto_client.request import Request

        original = Request._send_request

        def timed(request: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(request, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        Request._send_request = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            Request._send_request = original  # type: ignore[method-assign]


def draw_charts() -> list[Any]:
    from bot.charts import render_chart

    points = [("Potholes", 212.0), ("Trash", 180.0), ("Lights", 95.0), ("Signs", 61.0)]
    days = [(d, v) for d, v in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
                                   (231.0, 198.0, 187.0, 176.0, 169.0, 120.0, 88.0),
                                   strict=True)]
    kinds = (("top", "bar", points), ("daily", "column", days), ("trend", "line", days),
             ("district", "bar", points[:3]))
    return [render_chart(name, kind, pts, title=f"Chart {name}", unit="calls",
                         source_line="Source: a benchmark", period_label="last week")
            for name, kind, pts in kinds]


def new_account(pds: Any, prefix: str) -> tuple[str, str, str]:
    import secrets

    import httpx

    handle = f"{prefix}{secrets.token_hex(4)}.test"
    password = secrets.token_urlsafe(16)
    r = httpx.post(f"{pds.url}/xrpc/com.atproto.server.createAccount",
                   json={"handle": handle, "email": f"{handle}@example.test",
                         "password": password}, timeout=30)
    r.raise_for_status()
    return handle, str(r.json()["did"]), password


def publish_thread(work: Path, platform: str, charts: list[Any], waiting: Any) -> Run:
    """Publish the bench thread (TEXTS, with `charts` on CHARTS_ON) to `platform` through
    citycrier's runner, with the project in `work` (its config.toml already written), timing
    the whole pass and, through `waiting`, the time spent waiting on the server."""
    from bot.config import load_config
    from bot.publish.runner import publish_due
    from bot.store import NewDraft, Post, Store, StoredChart

    config = load_config(work / "config.toml")
    store = Store(config.storage_url)
    now = datetime.now(UTC)
    posts = tuple(Post(t, tuple(charts[i].name for i in on))
                  for t, on in zip(TEXTS, CHARTS_ON, strict=True))
    store.create_draft(NewDraft(
        recipe="bench", title="Bench", period_key="k", period_label="last week", as_of=now,
        slot_at=now, approval="auto", state="approved", platforms=(platform,), data_hash="h",
        thread={platform: posts},
        charts=tuple(StoredChart(c.name, c.kind, c.title, c.png, c.alt, c.width, c.height)
                     for c in charts)))
    with waiting.installed():
        started = time.perf_counter()
        [outcome] = publish_due(config, store, now)
        total = time.perf_counter() - started
    assert outcome.state == "published", outcome
    store.close()
    return Run(total, waiting.seconds, waiting.calls)


def citycrier_run(pds: Any, charts: list[Any], work: Path) -> Run:
    import os

    handle, _, password = new_account(pds, "bench")
    os.environ[PASSWORD_ENV] = password
    (work / "config.toml").write_text(
        'timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///state/citycrier.db"\n'
        f'[accounts.cityhall]\nplatform = "bluesky"\nhandle = "{handle}"\n'
        f'service = "{pds.url}"\napp_password_env = "{PASSWORD_ENV}"\n')
    return publish_thread(work, "bluesky", charts, Waiting())


def baseline_run(pds: Any, charts: list[Any]) -> Run:
    from atproto import Client, models

    handle, did, password = new_account(pds, "base")
    waiting = Waiting()
    with waiting.installed():
        started = time.perf_counter()
        client = Client(pds.url)
        client.login(handle, password, fetch_bsky_profile=False)
        root = parent = None
        for text, on in zip(TEXTS, CHARTS_ON, strict=True):
            reply = None
            if parent is not None:
                reply = models.AppBskyFeedPost.ReplyRef(root=root, parent=parent)
            if on:
                sent = client.send_images(
                    text, images=[charts[i].png for i in on],
                    image_alts=[charts[i].alt for i in on],
                    image_aspect_ratios=[models.AppBskyEmbedDefs.AspectRatio(
                        width=charts[i].width, height=charts[i].height) for i in on],
                    reply_to=reply, profile_identify=did)
            else:
                sent = client.send_post(text, reply_to=reply, profile_identify=did)
            parent = models.create_strong_ref(sent)
            root = root or parent
        total = time.perf_counter() - started
        client.request.close()
    return Run(total, waiting.seconds, waiting.calls)


GOAL_SHARE = 0.10  # issue 10: citycrier's own share of publishing the thread


def median(runs: list[Run], pick: Callable[[Run], float]) -> float:
    return statistics.median(pick(r) for r in runs)


def main() -> None:
    import pds as pds_server

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK's upload_blob
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    charts = draw_charts()
    size = sum(len(c.png) for c in charts)
    ours: list[Run] = []
    base: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, pds_server.run_pds(Path(tmp) / "pds") as pds:
        citycrier_run(pds, charts, Path(tempfile.mkdtemp(dir=tmp)))  # warm-up, not counted
        baseline_run(pds, charts)
        for _ in range(n):
            base.append(baseline_run(pds, charts))
            ours.append(citycrier_run(pds, charts, Path(tempfile.mkdtemp(dir=tmp))))
    print(f"publish a 6-post thread with 4 charts ({size / 1000:.0f} kB of PNG) to a local "
          f"PDS, median of {n} runs")
    print(f"  {'':34} {'total':>8} {'waiting on PDS':>15} {'own time':>9} {'HTTP calls':>11}")
    for label, runs in (("citycrier publish_due (receipts)", ours),
                        ("baseline: bare atproto SDK", base)):
        total, wait = median(runs, lambda r: r.total), median(runs, lambda r: r.waiting)
        own = median(runs, lambda r: r.total - r.waiting)
        print(f"  {label:34} {total:7.3f}s {wait:14.3f}s {own:8.3f}s "
              f"{statistics.median(r.calls for r in runs):11.0f}")
    total = median(ours, lambda r: r.total)
    own = median(ours, lambda r: r.total - r.waiting)
    share = own / total
    print(f"  goal (issue 10): citycrier's own time at most {GOAL_SHARE:.0%} of the thread's: "
          f"{share:.1%}, {'met' if share <= GOAL_SHARE else 'not met'}")
    from summary import record

    record("publish: own time, 6 posts, 4 charts (vs bare SDK)", own,
           median(base, lambda r: r.total - r.waiting),
           f"own / total <= {GOAL_SHARE:.0%} (is {share:.1%})", share <= GOAL_SHARE, "s")


if __name__ == "__main__":
    main()
