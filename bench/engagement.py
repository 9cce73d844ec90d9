"""Benchmark: engagement read-back and the report on a store with a year of threads, on
SQLite, beside baselines measured in the same run. Prints; asserts nothing.

    .venv/bin/python bench/engagement.py

Set-up (not timed): 1,460 published threads (4 a day for a year) of 5 posts on Bluesky and
X (14,600 posts), each post with its 1 h, 24 h and 7 d readings (43,800 rows), and 50
threads posted an hour ago, so that a pass has `per_pass` (500) posts due.

Measured:
- one read pass (`read_due`): find the due posts, read them with an instant stand-in reader
  (25 a call on Bluesky, 100 on X), write the readings. Baseline: the bare database work,
  the same number of reading rows inserted in the same number of transactions.
  Goal: under 1 s for 500 posts.
- the report over 30 days and over 365 days (`build_report` + `report_text`). Baseline: one
  SELECT of every readings row. Goal: under 2 s for a year.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bot import schema as s  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.engagement import Counts  # noqa: E402
from bot.engagement.readback import read_due  # noqa: E402
from bot.engagement.report import build_report, report_text  # noqa: E402
from bot.store import Store  # noqa: E402

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
THREADS, POSTS, FRESH = 1460, 5, 50  # FRESH threads x 5 posts x 2 platforms = 500 posts due
POINTS = (3600, 86400, 604800)


class Instant:
    """A platform that answers at once: every post has 3 likes."""

    def __init__(self, platform: str, batch: int) -> None:
        self.platform, self.batch, self.calls = platform, batch, 0

    def read_counts(self, posts: Any) -> dict[str, Counts]:
        self.calls += 1
        return {p.remote_id: Counts(3, 1, 0, 0) for p in posts}

    def read_replies(self, post: Any) -> list[Any]:
        return []

    def close(self) -> None:
        pass


def build(root: Path) -> tuple[Any, Store]:
    (root / "config.toml").write_text(
        'timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///bench.db"\n'
        '[accounts.b]\nplatform = "bluesky"\nhandle = "b.test"\napp_password_env = "N"\n'
        '[accounts.x]\nplatform = "x"\nconsumer_key_env = "N"\nconsumer_secret_env = "N"\n'
        'access_token_env = "N"\naccess_token_secret_env = "N"\nread_metrics = true\n',
        encoding="utf-8")
    config = load_config(root / "config.toml")
    store = Store(config.storage_url)
    drafts, receipts, readings = [], [], []
    rid = 0
    for n in range(THREADS + FRESH):
        posted = (NOW - timedelta(hours=6 * (n - FRESH) + 6)) if n >= FRESH else \
            NOW - timedelta(minutes=61 + n)
        drafts.append({"id": n + 1, "recipe": f"r{n % 7}", "title": "t", "period_key": f"p{n}",
                       "period_label": f"period {n}", "as_of": posted, "slot_at": posted,
                       "state": "published", "approval": "auto", "platforms": '["bluesky","x"]',
                       "data_hash": str(n), "revision": 1, "reasons": "[]", "figures": "{}",
                       "source": "{}", "error": "", "created_at": posted, "updated_at": posted})
        for platform, account in (("bluesky", "b"), ("x", "x")):
            for i in range(POSTS):
                rid += 1
                receipts.append({"draft_id": n + 1, "platform": platform, "account": account,
                                 "post_index": i, "key": "", "intent_at": posted,
                                 "remote_id": str(rid), "uri": f"at://d/app.bsky.feed.post/{rid}",
                                 "cid": "", "posted_at": posted})
                if n >= FRESH:
                    readings += [{"draft_id": n + 1, "platform": platform, "account": account,
                                  "post_index": i, "remote_id": str(rid), "point": p,
                                  "taken_at": posted + timedelta(seconds=p), "likes": i,
                                  "reposts": 1, "replies": 0, "quotes": 0, "impressions": None}
                                 for p in POINTS]
    with store.engine.begin() as conn:
        conn.execute(insert(s.drafts), drafts)
        conn.execute(insert(s.receipts), receipts)
        conn.execute(insert(s.readings), readings)
    return config, store


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def every_reading(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(s.readings)).all())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config, store = build(Path(tmp))
        readers = {"b": Instant("bluesky", 25), "x": Instant("x", 100)}
        seconds, report = timed(lambda: read_due(config, store, NOW, readers=readers))
        calls = readers["b"].calls + readers["x"].calls
        rows = [{"draft_id": 1, "platform": "bluesky", "account": "b", "post_index": 0,
                 "remote_id": "1", "point": None, "taken_at": NOW, "likes": 1, "reposts": 0,
                 "replies": 0, "quotes": 0, "impressions": None}] * (report.readings // calls)

        def bare() -> None:
            for _ in range(calls):
                with store.engine.begin() as conn:
                    conn.execute(insert(s.readings), rows)

        base, _ = timed(bare)
        print(f"read pass: {report.readings} posts due read in {calls} calls: {seconds:.3f} s "
              f"(baseline, the bare inserts in {calls} transactions: {base:.3f} s; goal < 1 s)")
        for days in (30, 365):
            took, text = timed(lambda d=days: report_text(
                build_report(store, NOW, timedelta(days=d)), config.timezone))
            base, _ = timed(lambda: every_reading(store))
            print(f"report over {days} days ({len(text.splitlines())} lines): {took:.3f} s "
                  f"(baseline, one SELECT of every reading: {base:.3f} s; goal < 2 s)")
        store.close()


if __name__ == "__main__":
    main()
