"""One published draft's numbers as plain data: per platform, per post, every reading (for
the small chart over time), the latest, and the replies. The desk's draft page and
`citycrier engagement show` both show this.

Example::

    numbers = draft_numbers(store, 12)
    numbers["platforms"][0]["posts"][0]["latest"]["likes"]
"""

from __future__ import annotations

from typing import Any

from bot.engagement import Counts, Reading, Reply
from bot.engagement.store import EngagementStore
from bot.store import Store


def draft_numbers(store: Store, draft_id: int) -> dict[str, Any]:
    """The draft's posts with their readings and replies, platforms in a stable order."""
    marks = EngagementStore(store)
    posts = marks.published_posts(draft_ids=[draft_id])
    readings: dict[tuple[str, int], list[Reading]] = {}
    for r in marks.readings([draft_id]):
        readings.setdefault((r.platform, r.post_index), []).append(r)
    replies = marks.replies(draft_id)
    platforms: dict[str, list[dict[str, Any]]] = {}
    for post in sorted(posts, key=lambda p: (p.platform, p.post_index)):
        series = readings.get((post.platform, post.post_index), [])
        platforms.setdefault(post.platform, []).append({
            "index": post.post_index,
            "posted_at": post.posted_at.isoformat(),
            "series": [_counts(r.counts) | {"taken_at": r.taken_at.isoformat()}
                       for r in series],
            "latest": (_counts(series[-1].counts) | {"taken_at": series[-1].taken_at.isoformat()}
                       if series else None),
            "replies": [_reply(r) for r in replies.get((post.platform, post.post_index), [])]})
    total = sum(p["latest"]["total"] for ps in platforms.values() for p in ps if p["latest"])
    return {"draft_id": draft_id, "total": total,
            "platforms": [{"platform": name, "posts": ps} for name, ps in platforms.items()]}


def _counts(c: Counts) -> dict[str, Any]:
    return {"likes": c.likes, "reposts": c.reposts, "replies": c.replies, "quotes": c.quotes,
            "impressions": c.impressions, "total": c.total}


def _reply(r: Reply) -> dict[str, Any]:
    return {"author": r.author, "text": r.text, "url": r.url,
            "written_at": r.written_at.isoformat()}
