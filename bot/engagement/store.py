"""The engagement tables: readings, replies and read pauses (schema step 4).

A reading is inserted, never updated: a post's numbers over time are its rows in `taken_at`
order. A pass writes all the readings of one platform call in one transaction, so a call that
fails part-way leaves no partial row. Replies are kept until `retention_days` after they were
written, then deleted; nothing here ever touches a draft.

Example::

    marks = EngagementStore(store)
    marks.add_readings([reading])               # one transaction
    marks.readings(draft_id)                    # oldest first
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update

from bot import schema as s
from bot.engagement import Counts, Published, Reading, Reply
from bot.records import PARTIAL, PUBLISHED
from bot.store import Store


class EngagementStore:
    """Engagement rows in one citycrier store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # ---------------------------------------------------------------------------- posts

    def published_posts(self, since: datetime | None = None,
                        draft_ids: Iterable[int] | None = None) -> list[Published]:
        """Confirmed, undeleted posts of published (or partly published) drafts, posted at
        or after `since`, oldest first."""
        r, d = s.receipts.c, s.drafts.c
        q = select(s.receipts).join(s.drafts, d.id == r.draft_id).where(
            r.posted_at.is_not(None), r.deleted_at.is_(None), r.remote_id.is_not(None),
            d.state.in_((PUBLISHED, PARTIAL)))
        if since is not None:
            q = q.where(r.posted_at >= since)
        if draft_ids is not None:
            q = q.where(r.draft_id.in_(tuple(draft_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(r.posted_at, r.draft_id, r.platform,
                                           r.post_index)).all()
        return [Published(row.draft_id, row.platform, row.account, row.post_index,
                          row.remote_id, row.uri or "", row.posted_at) for row in rows]

    def thread_labels(self, draft_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """(recipe, period label) of each of these drafts."""
        d = s.drafts.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(d.id, d.recipe, d.period_label).where(
                d.id.in_(tuple(draft_ids)))).all()
        return {int(i): (r, label) for i, r, label in rows}

    def latest_points(self, draft_ids: Iterable[int]) -> dict[tuple[int, str, int], int]:
        """The latest scheduled point read for each post of these drafts."""
        c = s.readings.c
        ids = tuple(draft_ids)
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.draft_id, c.platform, c.post_index,
                                       func.max(c.point)).where(
                c.draft_id.in_(ids), c.point.is_not(None)).group_by(
                c.draft_id, c.platform, c.post_index)).all()
        return {(a, b, i): int(p) for a, b, i, p in rows}

    # ------------------------------------------------------------------------- readings

    def add_readings(self, readings: Sequence[Reading]) -> None:
        """Insert every reading, in one transaction: all of them or none."""
        if not readings:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(s.readings), [
                {"draft_id": r.draft_id, "platform": r.platform, "account": r.account,
                 "post_index": r.post_index, "remote_id": r.remote_id, "point": r.point,
                 "taken_at": r.taken_at, "likes": r.counts.likes,
                 "reposts": r.counts.reposts, "replies": r.counts.replies,
                 "quotes": r.counts.quotes, "impressions": r.counts.impressions}
                for r in readings])

    def readings(self, draft_ids: Iterable[int] | None = None,
                 from_point: int | None = None) -> list[Reading]:
        """Every reading (of these drafts; due at `from_point` or later, or asked for),
        oldest first."""
        c = s.readings.c
        q = select(s.readings)
        if draft_ids is not None:
            q = q.where(c.draft_id.in_(tuple(draft_ids)))
        if from_point is not None:
            q = q.where(or_(c.point.is_(None), c.point >= from_point))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(c.taken_at, c.id)).all()
        return [Reading(r.draft_id, r.platform, r.account, r.post_index, r.remote_id,
                        r.point, r.taken_at,
                        Counts(r.likes, r.reposts, r.replies, r.quotes, r.impressions))
                for r in rows]

    def ranked_drafts(self, states: Iterable[str] = (PUBLISHED, PARTIAL), limit: int = 50,
                      offset: int = 0) -> list[tuple[int, int]]:
        """(draft id, engagement) of drafts in these states, most engaged first: each post's
        latest likes + reposts + replies + quotes, summed over the thread's posts and
        platforms; the newest slot first among equals."""
        c = s.readings.c
        latest = select(c.draft_id, c.platform, c.post_index, func.max(c.id).label("id")
                        ).group_by(c.draft_id, c.platform, c.post_index).subquery()
        total = (c.likes + c.reposts + c.replies + c.quotes)
        score = select(c.draft_id, func.sum(total).label("score")).join(
            latest, latest.c.id == c.id).group_by(c.draft_id).subquery()
        d = s.drafts.c
        q = select(d.id, func.coalesce(score.c.score, 0)).outerjoin(
            score, score.c.draft_id == d.id).where(d.state.in_(tuple(states))).order_by(
            func.coalesce(score.c.score, 0).desc(), d.slot_at.desc(), d.id.desc()
        ).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [(int(i), int(n)) for i, n in conn.execute(q).all()]

    # -------------------------------------------------------------------------- replies

    def add_replies(self, draft_id: int, platform: str, replies: Sequence[Reply],
                    fetched_at: datetime, keep_from: datetime) -> int:
        """Keep the replies not seen before and written at or after `keep_from`; return how
        many were new."""
        c = s.replies.c
        fresh = [r for r in replies if r.written_at >= keep_from]
        if not fresh:
            return 0
        with self.engine.begin() as conn:
            seen = set(conn.execute(select(c.remote_id).where(
                c.platform == platform, c.remote_id.in_([r.remote_id for r in fresh]))
            ).scalars())
            new = [r for r in fresh if r.remote_id not in seen]
            if new:
                conn.execute(insert(s.replies), [
                    {"draft_id": draft_id, "platform": platform, "post_index": r.post_index,
                     "remote_id": r.remote_id, "author": r.author, "text": r.text,
                     "url": r.url, "written_at": r.written_at, "fetched_at": fetched_at}
                    for r in new])
        return len(new)

    def replies(self, draft_id: int) -> dict[tuple[str, int], list[Reply]]:
        """The kept replies of one draft by (platform, post index), oldest first."""
        c = s.replies.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.replies).where(c.draft_id == draft_id).order_by(
                c.platform, c.post_index, c.written_at, c.id)).all()
        out: dict[tuple[str, int], list[Reply]] = {}
        for r in rows:
            out.setdefault((r.platform, r.post_index), []).append(
                Reply(r.post_index, r.remote_id, r.author, r.text, r.url, r.written_at))
        return out

    def reply_counts(self, draft_id: int) -> dict[tuple[str, int], int]:
        c = s.replies.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.platform, c.post_index, func.count()).where(
                c.draft_id == draft_id).group_by(c.platform, c.post_index)).all()
        return {(p, int(i)): int(n) for p, i, n in rows}

    def delete_replies(self, written_before: datetime) -> int:
        """Delete the replies written before this moment; return how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(s.replies).where(
                s.replies.c.written_at < written_before)).rowcount)

    # --------------------------------------------------------------------------- pauses

    def pause(self, account: str, platform: str, until: datetime, reason: str) -> None:
        """No reading for `account` before `until` (a platform's rate limit)."""
        p = s.read_pauses.c
        with self.engine.begin() as conn:
            done = conn.execute(update(s.read_pauses).where(p.account == account).values(
                platform=platform, until=until, reason=reason)).rowcount
            if not done:
                conn.execute(insert(s.read_pauses).values(
                    account=account, platform=platform, until=until, reason=reason))

    def paused(self, now: datetime) -> dict[str, datetime]:
        """Accounts that may not be read yet, with the time they may."""
        p = s.read_pauses.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(p.account, p.until).where(and_(p.until > now))).all()
        return {a: u for a, u in rows}
