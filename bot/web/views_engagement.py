"""Engagement on the desk: a published draft's numbers per platform and post, with a small
chart over time and the residents' replies (read-only, with a link to answer on the
platform), and the queue's published drafts ranked by engagement.

The chart is inline SVG drawn here from the readings (no script, so the page's CSP holds);
its label says the same numbers in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.engagement.desk import draft_numbers
from bot.engagement.store import EngagementStore
from bot.platforms import label
from bot.store import PARTIAL, PUBLISHED, Draft, Receipt
from bot.web.pages import Desk, post_url
from bot.web.queries import QueueRow, queue_rows

SPARK_W, SPARK_H, SPARK_PAD = 160, 36, 4


def engagement_of(desk: Desk, draft: Draft, receipts: list[Receipt]) -> dict[str, Any] | None:
    """What the draft page shows under "How residents responded"; None before publishing."""
    if draft.state not in (PUBLISHED, PARTIAL):  # a retracted thread's posts are gone
        return None
    numbers = draft_numbers(desk.store, draft.id)
    if not numbers["platforms"]:
        return None
    numbers["retention_days"] = desk.config.engagement.retention_days
    links = {(r.platform, r.post_index): post_url(r) for r in receipts}
    for platform in numbers["platforms"]:
        name = label(platform["platform"])
        platform["name"] = name
        platform["impressions"] = any(
            p["latest"] and p["latest"]["impressions"] is not None for p in platform["posts"])
        for post in platform["posts"]:
            post["link"] = links.get((platform["platform"], post["index"]), "")
            post["spark"] = sparkline(post["series"], f"post {post['index'] + 1} on {name}")
            for reply in post["replies"]:
                reply["written"] = datetime.fromisoformat(reply["written_at"])
    return numbers


def sparkline(series: list[dict[str, Any]], what: str) -> dict[str, Any] | None:
    """An SVG polyline of likes + reposts + replies + quotes over time, and its words.

    >>> s = sparkline([{"taken_at": "2026-03-02T16:00:00+00:00", "total": 1},
    ...                {"taken_at": "2026-03-03T15:00:00+00:00", "total": 5}], "post 1")
    >>> s["points"], s["label"]
    ('4.0,32.0 156.0,4.0', 'Likes, reposts, replies and quotes of post 1 over time: 1, then 5.')
    """
    if not series:
        return None
    times = [datetime.fromisoformat(r["taken_at"]).timestamp() for r in series]
    totals = [int(r["total"]) for r in series]
    span = (times[-1] - times[0]) or 1.0
    top = max(totals) or 1
    w, h = SPARK_W - 2 * SPARK_PAD, SPARK_H - 2 * SPARK_PAD
    xs = [SPARK_PAD + (t - times[0]) / span * w if len(times) > 1 else SPARK_W / 2 for t in times]
    ys = [SPARK_PAD + h - v / top * h for v in totals]
    words = ", then ".join(str(v) for v in totals)
    return {"points": " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True)),
            "last": (round(xs[-1], 1), round(ys[-1], 1)), "width": SPARK_W, "height": SPARK_H,
            "label": f"Likes, reposts, replies and quotes of {what} over time: {words}."}


def ranked_published(desk: Desk, limit: int, offset: int
                     ) -> tuple[dict[str, int], list[QueueRow], dict[int, int]]:
    """The queue's counts, one page of published drafts most engaged first, and each one's
    engagement (likes + reposts + replies + quotes at their latest readings)."""
    ranked = EngagementStore(desk.store).ranked_drafts((PUBLISHED,), limit, offset)
    counts, rows = queue_rows(desk.store, (PUBLISHED,), limit, 0, ids=[i for i, _ in ranked])
    by_id = {r.id: r for r in rows}
    return counts, [by_id[i] for i, _ in ranked if i in by_id], dict(ranked)
