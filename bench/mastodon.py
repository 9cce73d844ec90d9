"""Publishing a 6-post thread with 4 charts to the Mastodon fake: citycrier's own time beside
the time spent waiting on the server, and a baseline measured in the same run.

    python bench/mastodon.py [N]       # N runs of each (default 5); prints medians

citycrier: ``publish_due`` on a stored draft (a receipt written before and after every
status, the login and instance limits, images uploaded and polled, the draft settled).
Baseline: the same six statuses and four images sent with bare httpx (the same requests,
Idempotency-Key included), no store, no receipts, no limits read. Both talk to the same
fake, which checks every request and answer against the Mastodon OpenAPI description, so
"waiting on the server" (the wall time inside ``httpx.Client.send``) is mostly the fake's
validation; the rest of the total is the publisher's own time. The goal: citycrier's own
time under 0.25 s for the thread. Profiled (cProfile), it is mostly SQLite commits (about 23
per thread: an intent committed before every status and its receipt after, the price of
never posting twice) and httpx building its TLS context once per client (about 60 ms).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from publish import CHARTS_ON, TEXTS, Run, draw_charts, publish_thread  # bench/publish.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "servers"))
sys.path.insert(0, str(ROOT))

TOKEN_ENV = "CITYCRIER_BENCH_MASTODON_TOKEN"


class Waiting:
    """Sums the wall time spent inside httpx's sends while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    @contextmanager
    def installed(self) -> Iterator[Waiting]:
        import httpx

        original = httpx.Client.send

        def timed(client: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(client, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        httpx.Client.send = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            httpx.Client.send = original  # type: ignore[method-assign]


def citycrier_run(fake: Any, charts: list[Any], work: Path) -> Run:
    import os

    from mastodon_fake import TOKEN

    os.environ[TOKEN_ENV] = TOKEN
    (work / "config.toml").write_text(
        'timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///state/citycrier.db"\n'
        f'[accounts.cityhall]\nplatform = "mastodon"\napi_base = "{fake.base_url}"\n'
        f'access_token_env = "{TOKEN_ENV}"\n')
    return publish_thread(work, "mastodon", charts, Waiting())


def baseline_run(fake: Any, charts: list[Any]) -> Run:
    import httpx
    from mastodon_fake import TOKEN

    waiting = Waiting()
    with waiting.installed():
        started = time.perf_counter()
        with httpx.Client(base_url=fake.base_url,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            parent = None
            for text, on in zip(TEXTS, CHARTS_ON, strict=True):
                media = []
                for i in on:
                    r = client.post("/api/v2/media", data={"description": charts[i].alt},
                                    files={"file": ("c.png", charts[i].png, "image/png")})
                    media.append(r.json()["id"])
                body: dict[str, Any] = {"status": text,
                                        "visibility": "unlisted" if parent else "public"}
                if media:
                    body["media_ids"] = media
                if parent:
                    body["in_reply_to_id"] = parent
                r = client.post("/api/v1/statuses", json=body,
                                headers={"Idempotency-Key": uuid.uuid4().hex})
                parent = r.json()["id"]
        total = time.perf_counter() - started
    return Run(total, waiting.seconds, waiting.calls)


def main() -> None:
    import mastodon_fake

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    charts = draw_charts()
    size = sum(len(c.png) for c in charts)
    ours: list[Run] = []
    base: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, \
            mastodon_fake.MastodonFake(processing_polls=0) as fake:
        citycrier_run(fake, charts, Path(tempfile.mkdtemp(dir=tmp)))  # warm-up, not counted
        baseline_run(fake, charts)
        for _ in range(n):
            base.append(baseline_run(fake, charts))
            ours.append(citycrier_run(fake, charts, Path(tempfile.mkdtemp(dir=tmp))))
    assert fake.mismatches == [], fake.mismatches
    print(f"publish a 6-post thread with 4 charts ({size / 1000:.0f} kB of PNG) to the "
          f"Mastodon fake, median of {n} runs")
    print(f"  {'':34} {'total':>8} {'waiting on server':>18} {'own time':>9} "
          f"{'HTTP calls':>11}")
    for label, runs in (("citycrier publish_due (receipts)", ours),
                        ("baseline: bare httpx", base)):
        total = statistics.median(r.total for r in runs)
        wait = statistics.median(r.waiting for r in runs)
        own = statistics.median(r.total - r.waiting for r in runs)
        print(f"  {label:34} {total:7.3f}s {wait:17.3f}s {own:8.3f}s "
              f"{statistics.median(r.calls for r in runs):11.0f}")


if __name__ == "__main__":
    main()
