"""Read-only queries the desk needs and the Store does not offer (chart metadata without the
PNG bytes, one chart's PNG, the database's health). They read bot/schema.py's tables directly."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from bot import schema as s
from bot.store import Store

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
    c = s.charts.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.name, c.kind, c.title, c.alt, c.width, c.height).where(
            c.draft_id == draft_id).order_by(c.id)).all()
    return [ChartInfo(i, r.name, r.kind, r.title, r.alt, r.width, r.height)
            for i, r in enumerate(rows)]


def chart_png(store: Store, draft_id: int, index: int) -> bytes | None:
    """The PNG of a draft's chart number `index` (from 0), or None."""
    if index < 0:
        return None
    c = s.charts.c
    with store.engine.connect() as conn:
        row = conn.execute(select(c.png).where(c.draft_id == draft_id).order_by(c.id).offset(
            index).limit(1)).first()
    return bytes(row[0]) if row else None


def database_ok(store: Store) -> bool:
    """`citycrier doctor`'s database check (bot/health.py), through the desk's engine."""
    from bot.health import check_database

    check = check_database(store.url, store)
    if not check.ok:
        log.warning("healthz: %s", check)
    return check.ok
