"""Did anyone listen? Engagement read back after publishing.

- `store.py`: the readings (snapshots of each post's counts, never overwritten), the replies
  residents wrote (kept `retention_days`) and the accounts paused by a rate limit.
- `x.py`, `bluesky.py`, `mastodon.py`: one reader per platform (counts in batches, replies
  per post), each named in `platforms.REGISTRY`.
- `readback.py`: which posts are due a reading (1 h, 24 h, 7 d after posting, or now), one
  bounded pass over them; a failed reading writes nothing and is retried at the next pass.
- `report.py`: per recipe and platform, threads published and median counts at 24 h.

The plain data passed between them is defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Counts:
    """What a platform says about one post at one moment."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None  # X only, where the account's tier gives them

    @property
    def total(self) -> int:
        """Likes, reposts, replies and quotes together: how a thread is ranked."""
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True)
class Published:
    """One post that is out there (a confirmed, undeleted receipt)."""

    draft_id: int
    platform: str
    account: str
    post_index: int
    remote_id: str  # tweet id (X), record key (Bluesky)
    uri: str  # at:// uri (Bluesky), https://x.com/... (X)
    posted_at: datetime

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.draft_id, self.platform, self.post_index)


@dataclass(frozen=True)
class Reading:
    """One snapshot of one post's counts."""

    draft_id: int
    platform: str
    account: str
    post_index: int
    remote_id: str
    point: int | None  # seconds after posting this reading was due at; None: asked for
    taken_at: datetime
    counts: Counts


@dataclass(frozen=True)
class Reply:
    """One reply a resident wrote under one of our posts."""

    post_index: int
    remote_id: str  # at:// uri (Bluesky), tweet id (X)
    author: str  # handle
    text: str
    url: str  # where staff can answer it
    written_at: datetime
