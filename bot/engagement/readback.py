"""Which posts are due a reading, and one bounded pass that reads them.

A post is read at each point of ``[engagement] read_after`` (1 h, 24 h and 7 d after it was
posted, by default). A pass reads each post once, for the latest point that has come and has
no reading yet, so after downtime a post gets one late reading, never a burst of them. At most
``per_pass`` posts are read in one pass, the longest-waiting first.

Posts are read per account, in the platform's batches (X 100 ids a call, Bluesky 25 uris,
Mastodon 20 statuses of one call each).
A batch's readings are written in one transaction after the call answered; a call that fails
writes nothing, is logged and recorded (``citycrier status``), and the same posts are due
again at the next pass. A rate limit (the platform's 429, or a successful answer saying no
calls remain: X's ``x-rate-limit-remaining: 0``, Bluesky's ``ratelimit-remaining: 0``)
pauses the account's reading until the time the platform gives. Reading never touches
a draft. Replies are fetched with each reading of a post that has any, kept
``retention_days`` after they were written, then deleted.

Example::

    report = read_due(config, store, datetime.now(UTC))   # what the scheduler runs
    report = read_due(config, store, now, draft_ids=[12])  # `citycrier engagement read 12`
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.engagement import Counts, Published, Reading
from bot.engagement.store import EngagementStore
from bot.errors import BotError, RateLimited
from bot.settings import AccountConfig, Config
from bot.store import Store

log = logging.getLogger(__name__)

READ_RUNS = ":engagement"  # the runs table's name for failed readings

LOOK_BACK = timedelta(days=7)  # a post whose last point passed longer ago is not read again


@dataclass
class ReadReport:
    """What one pass did."""

    readings: int = 0
    replies: int = 0  # new replies kept
    deleted: int = 0  # replies deleted after retention_days
    paused: list[str] = field(default_factory=list)  # accounts resting under a rate limit
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"readings": self.readings, "replies": self.replies, "deleted": self.deleted,
                "paused": self.paused, "errors": self.errors}


def due_posts(posts: Iterable[Published], latest: Mapping[tuple[int, str, int], int],
              now: datetime, points: Sequence[timedelta]) -> list[tuple[Published, int]]:
    """(post, point in seconds) for each post due a reading, the longest-waiting first.

    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 2, 12, tzinfo=UTC)
    >>> p = Published(1, "x", "a", 0, "9", "", t)
    >>> hours = [timedelta(hours=1), timedelta(hours=24)]
    >>> [point for _, point in due_posts([p], {}, t + timedelta(hours=30), hours)]
    [86400]
    >>> due_posts([p], {(1, "x", 0): 86400}, t + timedelta(hours=30), hours)
    []
    """
    out: list[tuple[datetime, Published, int]] = []
    for post in posts:
        passed = [p for p in points if post.posted_at + p <= now]
        if not passed:
            continue
        point = int(max(passed).total_seconds())
        if latest.get(post.key, -1) < point:
            out.append((post.posted_at + timedelta(seconds=point), post, point))
    out.sort(key=lambda t: (t[0], t[1].key))
    return [(post, point) for _, post, point in out]


def reads(account: AccountConfig) -> bool:
    """Whether an account's posts are read back: its platform has a reader, and on X only
    with ``read_metrics = true`` (reads cost money there). See platforms.REGISTRY."""
    from bot.platforms import REGISTRY

    found = REGISTRY.get(account.platform)
    return found is not None and found.reads(account)


def reader_for(config: Config, account: AccountConfig) -> Any:
    """The reader of one account, or None when the account does not read (see `reads`)."""
    if not reads(account):
        return None
    from bot.platforms import REGISTRY

    return REGISTRY[account.platform].open_reader(config, account)


def _reads(config: Config, name: str, readers: Mapping[str, Any] | None) -> bool:
    """Whether an account's posts are read: a reader given for it, or a configured account
    that reads (Bluesky; X with read_metrics = true)."""
    if readers is not None and name in readers:
        return True
    account = config.accounts.get(name)
    return account is not None and reads(account)


def read_due(config: Config, store: Store, now: datetime, *,
             draft_ids: Iterable[int] | None = None, limit: int | None = None,
             readers: Mapping[str, Any] | None = None) -> ReadReport:
    """Read the posts due now (or, with `draft_ids`, every post of those drafts, at once);
    delete replies past retention. Never raises for a platform's failure: see the report."""
    settings = config.engagement
    marks = EngagementStore(store)
    todo: list[tuple[Published, int | None]]
    if draft_ids is not None:
        posts = marks.published_posts(draft_ids=draft_ids)
        todo = [(p, None) for p in posts]
    else:
        posts = marks.published_posts(since=now - max(settings.read_after) - LOOK_BACK)
        latest = marks.latest_points({p.draft_id for p in posts})
        todo = list(due_posts(posts, latest, now, settings.read_after))
    last = _last_posts(posts)
    report = ReadReport()
    paused = marks.paused(now)
    report.paused = [f"{name} until {paused[name]:%Y-%m-%d %H:%M %Z}"
                     for name in sorted({p.account for p, _ in todo} & set(paused))]
    # posts no pass will read (paused, not opted in, no longer configured) use no budget
    todo = [(p, point) for p, point in todo if p.account not in paused
            and _reads(config, p.account, readers)][:limit or settings.per_pass]
    by_account: dict[str, list[tuple[Published, int | None]]] = {}
    for post, point in todo:
        by_account.setdefault(post.account, []).append((post, point))
    for name, items in by_account.items():
        given = (readers or {}).get(name)
        reader = given or reader_for(config, config.accounts[name])
        if reader is None:
            continue
        try:
            _read_account(config, store, marks, reader, name, items, now, report, last)
        finally:
            if given is None:
                reader.close()
    report.deleted = marks.delete_replies(now - timedelta(days=settings.retention_days))
    return report


def _read_account(config: Config, store: Store, marks: EngagementStore, reader: Any,
                  name: str, items: list[tuple[Published, int | None]], now: datetime,
                  report: ReadReport, last: Mapping[tuple[int, str], int]) -> None:
    keep_from = now - timedelta(days=config.engagement.retention_days)
    for start in range(0, len(items), reader.batch):
        batch = items[start:start + reader.batch]
        try:
            counts = {p.remote_id: c for p, c in _by_residents(
                batch, reader.read_counts([p for p, _ in batch]), last)}
        except RateLimited as exc:
            marks.pause(name, reader.platform, exc.retry_at, str(exc))
            report.paused.append(f"{name} until {exc.retry_at:%Y-%m-%d %H:%M %Z}")
            _failed(store, report, now, f"reading account {name!r}: {exc}")
            return
        except BotError as exc:
            _failed(store, report, now, f"reading account {name!r}: {exc}; "
                    "tried again at the next pass")
            return
        rows = [Reading(p.draft_id, p.platform, p.account, p.post_index, p.remote_id, point,
                        now, counts[p.remote_id]) for p, point in batch if p.remote_id in counts]
        marks.add_readings(rows)
        report.readings += len(rows)
        for post, _ in batch:
            if post.remote_id in counts and counts[post.remote_id].replies:
                report.replies += _read_replies(store, marks, reader, post, now, keep_from,
                                                report)
        rest = getattr(reader, "rest_until", None)
        if rest is not None and rest > now:
            marks.pause(name, reader.platform, rest, "no calls left in the platform's window")
            report.paused.append(f"{name} until {rest:%Y-%m-%d %H:%M %Z}")
            return


def _last_posts(posts: Iterable[Published]) -> dict[tuple[int, str], int]:
    """The index of each thread's last post, per draft and platform."""
    last: dict[tuple[int, str], int] = {}
    for p in posts:
        last[(p.draft_id, p.platform)] = max(p.post_index, last.get((p.draft_id, p.platform), 0))
    return last


def _by_residents(batch: Sequence[tuple[Published, int | None]], counts: Mapping[str, Counts],
                  last: Mapping[tuple[int, str], int]) -> list[tuple[Published, Counts]]:
    """Each post's counts without the thread's own next post, which the platforms count as
    a reply to it (every post of a thread but the last has one)."""
    out = []
    for post, _ in batch:
        c = counts.get(post.remote_id)
        if c is None:
            continue
        if post.post_index < last.get((post.draft_id, post.platform), 0):
            c = replace(c, replies=max(0, c.replies - 1))
        out.append((post, c))
    return out


def _read_replies(store: Store, marks: EngagementStore, reader: Any, post: Published,
                  now: datetime, keep_from: datetime, report: ReadReport) -> int:
    try:
        replies = reader.read_replies(post)
    except BotError as exc:
        _failed(store, report, now, f"reading the replies to draft {post.draft_id} post "
                f"{post.post_index + 1} on {post.platform}: {exc}; tried again at its next "
                "reading")
        return 0
    return marks.add_replies(post.draft_id, post.platform, replies, now, keep_from)


def _failed(store: Store, report: ReadReport, now: datetime, detail: str) -> None:
    log.warning("%s", detail)
    report.errors.append(detail)
    try:
        store.record_run(READ_RUNS, "", now, "failed", detail)
    except Exception as exc:  # the database is down (a BotError: one line) or a bug
        log.error("the failed reading could not be recorded: %s", exc,
                  exc_info=not isinstance(exc, BotError))
