"""The data officer's report: per recipe and platform, threads published, median likes,
reposts and replies 24 hours after posting, and the best and worst thread.

A thread's numbers at 24 h are, for each of its posts, the first reading taken 24 hours or
more after the post went out, summed over the thread's posts. A thread published but not
yet read at 24 h counts as published and stays out of the medians (``read`` says how many
are in them). Best and worst rank by likes + reposts + replies + quotes; among equals the
newer thread is best and the older worst.

With ``[engagement] digest = "weekly"`` the same report, over the week before, goes to
``[notify]`` once a week (Mondays at 09:00 in the city's time, or the first pass after it);
a run recorded under ``:digest`` with the week's key makes it once, across processes too.

Example::

    report = build_report(store, now, since=timedelta(days=30))
    print(report_text(report, "America/Chicago"))
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.engagement import Counts, Reading
from bot.engagement.store import EngagementStore
from bot.settings import Config
from bot.store import Store

AT = timedelta(hours=24)  # the report's moment after posting
DIGEST_AT = "0 9 * * 1"  # the weekly digest: Mondays at 09:00, local time
DIGEST_RUNS = ":digest"  # the runs table's name for digests sent


@dataclass(frozen=True)
class Thread:
    """One draft on one platform, with its numbers at 24 h (None: not read then yet)."""

    draft_id: int
    recipe: str
    period_label: str
    platform: str
    posted_at: datetime
    counts: Counts | None


@dataclass(frozen=True)
class Row:
    recipe: str
    platform: str
    threads: int
    read: int  # threads with numbers at 24 h
    likes: float | None  # medians at 24 h
    reposts: float | None
    replies: float | None
    best: Thread | None
    worst: Thread | None


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    rows: tuple[Row, ...]


def build_report(store: Store, now: datetime, since: timedelta) -> Report:
    """The report over threads whose first post went out in [now - since, now)."""
    start = now - since
    marks = EngagementStore(store)
    posts = [p for p in marks.published_posts(since=start) if p.posted_at < now]
    labels = marks.thread_labels({p.draft_id for p in posts})
    readings: dict[tuple[int, str, int], list[Reading]] = {}
    # a scheduled reading taken 24 h or more after posting is due at 24 h or later
    for r in marks.readings(labels, from_point=int(AT.total_seconds())):
        readings.setdefault((r.draft_id, r.platform, r.post_index), []).append(r)
    threads: dict[tuple[int, str], list[Counts | None]] = {}
    first: dict[tuple[int, str], datetime] = {}
    for p in posts:
        at24 = next((r.counts for r in readings.get(p.key, [])
                     if r.taken_at >= p.posted_at + AT), None)
        threads.setdefault((p.draft_id, p.platform), []).append(at24)
        first[(p.draft_id, p.platform)] = min(first.get((p.draft_id, p.platform), p.posted_at),
                                              p.posted_at)
    grouped: dict[tuple[str, str], list[Thread]] = {}
    for (draft_id, platform), counts in threads.items():
        recipe, period_label = labels[draft_id]
        read = [c for c in counts if c is not None]
        total = Counts(sum(c.likes for c in read), sum(c.reposts for c in read),
                       sum(c.replies for c in read), sum(c.quotes for c in read)) if read else None
        grouped.setdefault((recipe, platform), []).append(
            Thread(draft_id, recipe, period_label, platform, first[(draft_id, platform)],
                   total))
    rows = [_row(recipe, platform, ts) for (recipe, platform), ts in sorted(grouped.items())]
    return Report(start, now, tuple(rows))


def _row(recipe: str, platform: str, threads: list[Thread]) -> Row:
    read = [t for t in threads if t.counts is not None]

    def median(name: str) -> float | None:
        values = [getattr(t.counts, name) for t in read]
        return float(statistics.median(values)) if values else None

    by_total = sorted(read, key=lambda t: (t.counts.total if t.counts else 0, t.posted_at,
                                           t.draft_id))
    return Row(recipe, platform, len(threads), len(read), median("likes"), median("reposts"),
               median("replies"), by_total[-1] if by_total else None,
               by_total[0] if by_total else None)


def report_text(report: Report, timezone: str) -> str:
    """The report as the terminal (and the weekly digest) shows it."""
    tz = ZoneInfo(timezone)
    lines = [f"Engagement of threads published {report.since.astimezone(tz):%Y-%m-%d} to "
             f"{report.until.astimezone(tz):%Y-%m-%d} ({span_words(report.until - report.since)}"
             "); medians 24 hours after "
             "posting"]
    if not report.rows:
        return lines[0] + "\n  no threads published in that time\n"
    width = max(len("recipe"), *(len(r.recipe) for r in report.rows))
    lines.append(f"  {'recipe':<{width}}  {'platform':<8}  threads  read  likes  reposts  "
                 "replies")
    for r in report.rows:
        lines.append(f"  {r.recipe:<{width}}  {r.platform:<8}  {r.threads:>7}  {r.read:>4}  "
                     f"{_num(r.likes):>5}  {_num(r.reposts):>7}  {_num(r.replies):>7}")
    for r in report.rows:
        if r.best is None or r.worst is None:
            continue
        lines.append(f"  {r.recipe} on {r.platform}: best {_thread(r.best)}; "
                     f"worst {_thread(r.worst)}")
    return "\n".join(lines) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    def thread(t: Thread | None) -> dict[str, Any] | None:
        if t is None or t.counts is None:
            return None
        return {"draft_id": t.draft_id, "period": t.period_label,
                "posted_at": t.posted_at.isoformat(), "likes": t.counts.likes,
                "reposts": t.counts.reposts, "replies": t.counts.replies,
                "quotes": t.counts.quotes, "total": t.counts.total}

    return {"since": report.since.isoformat(), "until": report.until.isoformat(),
            "at_hours": AT / timedelta(hours=1),
            "rows": [{"recipe": r.recipe, "platform": r.platform, "threads": r.threads,
                      "read_at_24h": r.read, "median_likes": r.likes,
                      "median_reposts": r.reposts, "median_replies": r.replies,
                      "best": thread(r.best), "worst": thread(r.worst)} for r in report.rows]}


def report_chart(report: Report, timezone: str) -> Any:
    """A bar chart (house style, alt text) of each recipe and platform's median likes +
    reposts + replies at 24 h; None when no thread was read at 24 h."""
    points = [(f"{r.recipe} ({r.platform})",
               (r.likes or 0) + (r.reposts or 0) + (r.replies or 0))
              for r in report.rows if r.read]
    if not points:
        return None
    from bot.charts import render_chart

    tz = ZoneInfo(timezone)
    points.sort(key=lambda p: -p[1])
    return render_chart(
        "engagement", "bar", points, title="Median likes, reposts and replies a day after posting",
        unit="likes, reposts and replies",
        source_line="Source: citycrier's readings of the city's own posts",
        period_label=f"threads published {report.since.astimezone(tz):%b} "
                     f"{report.since.astimezone(tz).day} to {report.until.astimezone(tz):%b} "
                     f"{report.until.astimezone(tz).day}")


def send_digest(config: Config, store: Store, now: datetime) -> str | None:
    """Send this week's digest if it is due and not sent yet; return what happened (None
    when nothing was due)."""
    if config.engagement.digest != "weekly":
        return None
    from bot.notify import send_notice
    from bot.schedule import cron_trigger, last_fire

    slot = last_fire(cron_trigger(DIGEST_AT, config.timezone), now)
    if slot is None:
        return None
    key = f"{slot.astimezone(ZoneInfo(config.timezone)):%G-W%V}"
    if store.ran([(DIGEST_RUNS, key)]):
        return None
    text = report_text(build_report(store, slot, timedelta(days=7)), config.timezone)
    sent = send_notice(config.notify, f"citycrier: engagement, the week to {slot:%b} "
                       f"{slot.day}", text)
    detail = ("digest sent by " + " and ".join(sent) if sent else
              "digest not sent: no [notify] channel took it (check [notify] in config.toml)")
    store.record_run(DIGEST_RUNS, key, now, "sent" if sent else "failed", detail, slot_at=slot)
    return detail


def span_words(span: timedelta) -> str:
    """ "30 days", "1 day", "36 hours": whole days as days, anything else in hours.

    >>> span_words(timedelta(days=30)), span_words(timedelta(hours=5)), span_words(AT)
    ('30 days', '5 hours', '1 day')
    """
    hours = round(span / timedelta(hours=1))
    if hours % 24 == 0:
        return _count(hours // 24, "day")
    return _count(hours, "hour")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _thread(t: Thread) -> str:
    assert t.counts is not None
    c = t.counts
    return (f"draft {t.draft_id} ({t.period_label}): {_count(c.likes, 'like')}, "
            f"{_count(c.reposts, 'repost')}, {_count(c.replies, 'reply', 'replies')}")


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
