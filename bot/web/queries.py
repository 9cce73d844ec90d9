"""Read-only queries the desk needs and the Store does not offer (chart metadata without the
PNG bytes, one chart's PNG and its ETag, everything a draft page shows in one connection, a
the database's health). They read bot/schema.py's tables directly.

A draft page costs the same few statements however long the draft's history is: the wording
list comes without the threads, the history (audit rows) one page at a time with its count.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from bot import schema as s
from bot.errors import NotFound
from bot.records import (
    AuditRow,
    Receipt,
    Revision,
    _audit_row,
    _delivery,
    _receipt,
    _revision,
    utc,
)
from bot.store import Store

HISTORY_PAGE = 20  # audit rows per page of a draft's history, newest first

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChartInfo:
    index: int  # position among the draft's charts: the PNG's address on the desk
    name: str
    kind: str
    title: str
    alt: str  # as drawn; a revision's alts may replace it
    width: int
    height: int


def chart_infos(store: Store, draft_id: int) -> list[ChartInfo]:
    """A draft's charts in drawing order, without their PNG bytes."""
    with store.engine.connect() as conn:
        return _chart_infos(conn, draft_id)


def _chart_infos(conn: Connection, draft_id: int) -> list[ChartInfo]:
    c = s.charts.c
    return [ChartInfo(i, r.name, r.kind, r.title, r.alt, r.width, r.height)
            for i, r in enumerate(conn.execute(select(
                c.name, c.kind, c.title, c.alt, c.width, c.height).where(
                c.draft_id == draft_id).order_by(c.id)))]


@dataclass(frozen=True)
class Wording:
    revision: int
    author: str


@dataclass(frozen=True)
class DraftRows:
    """What a draft page shows besides the draft itself."""

    shown: Revision
    latest: int
    wordings: list[Wording]  # every revision, oldest first, without its thread
    charts: list[ChartInfo]
    audit: list[AuditRow]  # one page of the history, newest first
    audit_total: int
    receipts: list[Receipt]
    deliveries: dict[str, dict[str, Any]]

    @property
    def editors(self) -> set[str]:
        """Who wrote the revisions after the first (as bot.review.editors_of says)."""
        return {w.author for w in self.wordings if w.revision > 1}


def draft_rows(store: Store, draft_id: int, revision: int | None = None,
               history_page: int = 1) -> DraftRows:
    """A draft page's rows in seven statements on one connection (one read transaction).
    NotFound when the draft has no such revision."""
    r, a = s.revisions.c, s.audit.c
    with store.engine.connect() as conn:
        wordings = [Wording(int(x.revision), x.author) for x in conn.execute(
            select(r.revision, r.author).where(r.draft_id == draft_id).order_by(r.revision))]
        if not wordings:
            raise NotFound(f"draft {draft_id} has no revisions")
        wanted = revision or wordings[-1].revision
        row = conn.execute(select(s.revisions).where(r.draft_id == draft_id,
                                                     r.revision == wanted)).first()
        if row is None:
            raise NotFound(f"draft {draft_id} has no revision {wanted}")
        charts = _chart_infos(conn, draft_id)
        total = int(conn.execute(select(func.count()).select_from(s.audit).where(
            a.draft_id == draft_id)).scalar_one())
        audit = [_audit_row(x) for x in conn.execute(select(s.audit).where(
            a.draft_id == draft_id).order_by(a.id.desc()).offset(
            (history_page - 1) * HISTORY_PAGE).limit(HISTORY_PAGE))]
        receipts = [_receipt(x) for x in conn.execute(select(s.receipts).where(
            s.receipts.c.draft_id == draft_id).order_by(s.receipts.c.platform,
                                                        s.receipts.c.post_index))]
        deliveries = {x.platform: _delivery(x) for x in conn.execute(select(
            s.deliveries).where(s.deliveries.c.draft_id == draft_id))}
    return DraftRows(_revision(row), wordings[-1].revision, wordings, charts, audit, total,
                     receipts, deliveries)


@dataclass(frozen=True)
class QueueRow:
    """What a row of the queue shows of a draft (not its figures, source or thread)."""

    id: int
    recipe: str
    title: str
    period_label: str
    slot_at: datetime
    state: str
    error: str
    reasons: tuple[str, ...]


def queue_rows(store: Store, states: tuple[str, ...] | None, limit: int,
               offset: int) -> tuple[dict[str, int], list[QueueRow]]:
    """The count of drafts in each state (one grouped query, for the badges) and one page of
    drafts in `states` (all when None), nearest slot first: two statements, one connection,
    each read through an index on (state, slot_at) or (slot_at, id)."""
    d = s.drafts.c
    q = select(d.id, d.recipe, d.title, d.period_label, d.slot_at, d.state, d.error,
               d.reasons)
    if states is not None:
        q = q.where(d.state.in_(states))
    with store.engine.connect() as conn:
        counts = {state: int(n) for state, n in conn.execute(
            select(d.state, func.count()).group_by(d.state))}
        rows = [QueueRow(r.id, r.recipe, r.title, r.period_label, utc(r.slot_at),  # type: ignore[arg-type]
                         r.state, r.error, tuple(json.loads(r.reasons)))
                for r in conn.execute(q.order_by(d.slot_at, d.id).offset(offset).limit(limit))]
    return counts, rows


def chart_png(store: Store, draft_id: int, index: int) -> tuple[bytes, str] | None:
    """The PNG of a draft's chart number `index` (from 0) and its ETag, or None.

    The ETag is a digest of the bytes: a browser that has them is answered 304, no bytes
    sent (a chart never changes once drawn: edits add revisions, not charts)."""
    if index < 0:
        return None
    c = s.charts.c
    with store.engine.connect() as conn:
        row = conn.execute(select(c.png).where(c.draft_id == draft_id).order_by(c.id).offset(
            index).limit(1)).first()
    if row is None:
        return None
    png = bytes(row[0])
    return png, '"' + hashlib.blake2b(png, digest_size=12).hexdigest() + '"'


def database_ok(store: Store) -> bool:
    """`citycrier doctor`'s database check (bot/health.py), through the desk's engine."""
    from bot.health import check_database

    check = check_database(store.url, store)
    if not check.ok:
        log.warning("healthz: %s", check)
    return check.ok
