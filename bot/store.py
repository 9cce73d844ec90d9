"""The store: drafts, their revisions and charts, receipts, runs, users and the audit trail.

One module owns the database (SQLite by default, PostgreSQL for several processes). Every
state change is a conditional UPDATE (`... WHERE id = ? AND state IN (...)`) in the same
transaction as its audit row, so two people approving at once produce one approval, and a
change that lost the race is told so. Rows are never deleted; edits add revisions.
"""

from __future__ import annotations

import json
import os
import socket
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot import schema as s
from bot.database import (
    FOLDER_SETTING,
    database_keeps,
    explain_errors,
    postgres_connect_args,
    refuse_foreign_file,
    sqlite_path,
)
from bot.errors import NotFound, TransitionError
from bot.folders import ensure_folder
from bot.ledger import Ledger
from bot.records import (  # noqa: F401  (re-exported: the store's public names)
    APPROVED,
    EXPIRED,
    ON_HOLD,
    OPEN_STATES,
    PARTIAL,
    PENDING,
    PUBLISHED,
    PUBLISHING,
    REJECTED,
    RETRACTED,
    STATES,
    SUPERSEDED,
    TRANSITIONS,
    AuditRow,
    Draft,
    NewDraft,
    Post,
    Receipt,
    Revision,
    StoredChart,
    _draft,
    _revision,
    _thread_json,
    utc,
)

LEASE = timedelta(minutes=10)  # a publishing claim older than this, unrefreshed, is abandoned
RENEW_AFTER = timedelta(minutes=1)  # renew_claim writes at most this often per claim


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_dead(claimed_by: str | None) -> bool:
    """True when the claim belongs to a process on this host that no longer runs."""
    if not claimed_by or ":" not in claimed_by:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Store(Ledger):
    """The database behind citycrier. `Store(url)` migrates it to the latest schema."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None,
                 migrate: bool = True) -> None:
        self.url = url
        self.clock = clock or (lambda: datetime.now(UTC))
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        self.dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        if self.dialect == "sqlite":
            path = sqlite_path(url)
            if path:  # a wrong or damaged file is refused before anything writes to it
                ensure_folder(Path(path).parent, database_keeps(path), FOLDER_SETTING)
                refuse_foreign_file(path)
            # pool_size: the desk draws up to 8 pages at once (bot.web.app.PAGE_THREADS);
            # a connection past the pool is opened and closed per use, pragmas and all
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30},
                                                pool_size=10)
            self.engine._connection_cls = _ReadingConnection  # type: ignore[misc]
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True,
                                        connect_args=postgres_connect_args(url))
        explain_errors(self.engine, self.url)  # operational failures: one line each
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.engine.dispose()  # leave no connection open behind a refused store
                raise

    def migrate(self) -> list[int]:
        with self.engine.begin() as conn:
            return s.migrate(conn)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------ drafts

    def create_draft(self, new: NewDraft, actor: str = "citycrier") -> tuple[int, bool]:
        """Insert a draft unless one exists for the same recipe, period and data.

        Returns (id, created). An older open draft for the same recipe and period with other
        data is superseded; a published one is left alone and no new draft is made."""
        now = self.clock()
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":  # one drafter per (recipe, period) at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                             {"k": _lock_key(new.recipe, new.period_key)})
            same = conn.execute(select(s.drafts.c.id).where(
                s.drafts.c.recipe == new.recipe, s.drafts.c.period_key == new.period_key,
                s.drafts.c.data_hash == new.data_hash)).first()
            if same:
                return int(same[0]), False
            done = conn.execute(select(s.drafts.c.id).where(
                s.drafts.c.recipe == new.recipe, s.drafts.c.period_key == new.period_key,
                s.drafts.c.state.in_((APPROVED, PUBLISHING, PUBLISHED, PARTIAL, ON_HOLD))
            )).first()
            if done:
                return int(done[0]), False
            try:
                with conn.begin_nested():
                    draft_id = conn.execute(insert(s.drafts).values(
                        recipe=new.recipe, title=new.title, period_key=new.period_key,
                        period_label=new.period_label, as_of=new.as_of, slot_at=new.slot_at,
                        state=new.state, approval=new.approval,
                        platforms=json.dumps(list(new.platforms)), data_hash=new.data_hash,
                        revision=1, reasons=json.dumps(list(new.reasons)),
                        figures=json.dumps(new.figures, default=str),
                        source=json.dumps(new.source, default=str), error="",
                        created_at=now, updated_at=now)
                    ).inserted_primary_key[0]  # type: ignore[index]
            except IntegrityError:  # another process drafted the same thing just now
                row = conn.execute(select(s.drafts.c.id).where(
                    s.drafts.c.recipe == new.recipe, s.drafts.c.period_key == new.period_key,
                    s.drafts.c.data_hash == new.data_hash)).first()
                if row is None:
                    raise
                return int(row[0]), False
            conn.execute(insert(s.revisions).values(
                draft_id=draft_id, revision=1, thread=_thread_json(new.thread),
                alts=json.dumps({c.name: c.alt for c in new.charts}), author=actor,
                created_at=now))
            for c in new.charts:
                conn.execute(insert(s.charts).values(
                    draft_id=draft_id, name=c.name, kind=c.kind, title=c.title, png=c.png,
                    alt=c.alt, width=c.width, height=c.height))
            older = conn.execute(select(s.drafts.c.id).where(
                s.drafts.c.recipe == new.recipe, s.drafts.c.period_key == new.period_key,
                s.drafts.c.id != draft_id, s.drafts.c.state.in_((PENDING, EXPIRED)))).all()
            for (old_id,) in older:
                conn.execute(update(s.drafts).where(s.drafts.c.id == old_id).values(
                    state=SUPERSEDED, updated_at=now))
                self._audit(conn, old_id, actor, "supersede", f"newer data: draft {draft_id}")
            for figure, value in new.history.items():
                conn.execute(s.history.delete().where(
                    s.history.c.recipe == new.recipe, s.history.c.period_key == new.period_key,
                    s.history.c.figure == figure))
                conn.execute(insert(s.history).values(
                    recipe=new.recipe, period_key=new.period_key, figure=figure,
                    value=json.dumps(value)))
            how = "born approved (approval: auto)" if new.state == APPROVED else \
                "waiting for review"
            reasons = "; ".join(new.reasons)
            self._audit(conn, draft_id, actor, "draft",
                        f"{new.period_label}: {how}" + (f"; guards: {reasons}" if reasons
                                                        else ""))
        return int(draft_id), True

    def get_draft(self, draft_id: int) -> Draft:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.drafts).where(s.drafts.c.id == draft_id)).first()
        if row is None:
            raise NotFound(f"no draft {draft_id} (see `citycrier queue` for the drafts there are)")
        return _draft(row)

    def list_drafts(self, states: Iterable[str] | None = None, recipe: str | None = None,
                    limit: int | None = None, offset: int = 0) -> list[Draft]:
        q = select(s.drafts)
        if states:
            q = q.where(s.drafts.c.state.in_(tuple(states)))
        if recipe:
            q = q.where(s.drafts.c.recipe == recipe)
        q = q.order_by(s.drafts.c.slot_at, s.drafts.c.id).offset(offset)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_draft(r) for r in conn.execute(q)]

    def count_by_state(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.drafts.c.state, func.count()).group_by(
                s.drafts.c.state)).all()
        return {state: int(n) for state, n in rows}

    def revision(self, draft_id: int, revision: int | None = None) -> Revision:
        q = select(s.revisions).where(s.revisions.c.draft_id == draft_id)
        q = q.where(s.revisions.c.revision == revision) if revision else q.order_by(
            s.revisions.c.revision.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"draft {draft_id} has no revision {revision or ''}".strip())
        return _revision(row)

    def revisions(self, draft_id: int) -> list[Revision]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.revisions).where(
                s.revisions.c.draft_id == draft_id).order_by(s.revisions.c.revision)).all()
        return [_revision(r) for r in rows]

    def charts(self, draft_id: int) -> list[StoredChart]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.charts).where(
                s.charts.c.draft_id == draft_id).order_by(s.charts.c.id)).all()
        return [StoredChart(r.name, r.kind, r.title, bytes(r.png), r.alt, r.width, r.height)
                for r in rows]

    def figure_history(self, recipe: str, figure: str, before_key: str) -> list[float]:
        """Past values of one figure for a recipe (periods keyed before `before_key`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.history.c.value).where(
                s.history.c.recipe == recipe, s.history.c.figure == figure,
                s.history.c.period_key != before_key)).all()
        return [float(json.loads(v)) for (v,) in rows]

    # ------------------------------------------------------------------------- transitions

    def transition(self, draft_id: int, action: str, actor: str, detail: str = "", *,
                   thread: dict[str, tuple[Post, ...]] | None = None,
                   alts: dict[str, str] | None = None, slot_at: datetime | None = None,
                   error: str | None = None, retry_at: datetime | None = None,
                   expect_revision: int | None = None) -> Draft:
        """Move a draft by `action` if its state allows; write the audit row with it."""
        allowed, to_state = TRANSITIONS[action]
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(s.drafts).where(s.drafts.c.id == draft_id)).first()
            if row is None:
                raise NotFound(f"no draft {draft_id}")
            values: dict[str, Any] = {"updated_at": now}
            if to_state:
                values["state"] = to_state
            if slot_at is not None:
                values["slot_at"] = slot_at
            if error is not None:
                values["error"] = error
            if action in ("reschedule", "release", "approve") or retry_at is not None:
                values["retry_at"] = retry_at
            if action == "reschedule" and row.state == EXPIRED:
                values["state"] = PENDING
            cond = [s.drafts.c.id == draft_id, s.drafts.c.state.in_(allowed)]
            if expect_revision is not None:
                cond.append(s.drafts.c.revision == expect_revision)
            if thread is not None:
                values["revision"] = s.drafts.c.revision + 1
            done = conn.execute(update(s.drafts).where(*cond).values(**values)).rowcount
            if done != 1:
                current = conn.execute(select(s.drafts.c.state, s.drafts.c.revision).where(
                    s.drafts.c.id == draft_id)).first()
                assert current is not None
                if expect_revision is not None and current.revision != expect_revision:
                    raise TransitionError(
                        f"draft {draft_id} changed while you were looking at it (now revision "
                        f"{current.revision}): reload it and try again")
                raise TransitionError(
                    f"draft {draft_id} is {current.state.replace('_', ' ')}: it cannot be "
                    f"{_past(action)} (it can be from: {', '.join(allowed)})")
            if thread is not None:
                # read after the UPDATE: a concurrent edit may have moved it on meanwhile
                rev = int(conn.execute(select(s.drafts.c.revision).where(
                    s.drafts.c.id == draft_id)).scalar_one())
                prev = conn.execute(select(s.revisions.c.alts).where(
                    s.revisions.c.draft_id == draft_id,
                    s.revisions.c.revision == rev - 1)).scalar_one()
                merged = {**json.loads(prev), **(alts or {})}
                conn.execute(insert(s.revisions).values(
                    draft_id=draft_id, revision=rev, thread=_thread_json(thread),
                    alts=json.dumps(merged), author=actor, created_at=now))
            self._audit(conn, draft_id, actor, action, detail)
            new = conn.execute(select(s.drafts).where(s.drafts.c.id == draft_id)).first()
        assert new is not None
        return _draft(new)

    def set_error(self, draft_id: int, error: str, retry_at: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(s.drafts).where(s.drafts.c.id == draft_id).values(
                error=error, retry_at=retry_at, updated_at=self.clock()))

    # ---------------------------------------------------------------------------- claiming

    def claim_due(self, now: datetime, worker: str | None = None, limit: int = 10,
                  draft_ids: Iterable[int] | None = None) -> list[Draft]:
        """Claim drafts due for publishing: approved or partially published, slot come,
        retry time passed; also publishing drafts whose claimant died or went silent.

        On PostgreSQL rows are taken with FOR UPDATE SKIP LOCKED, so processes sharing the
        database never claim the same draft; on SQLite the write lock serialises claims."""
        worker = worker or worker_id()
        d = s.drafts.c
        due = and_(d.state.in_((APPROVED, PARTIAL)), d.slot_at <= now,
                   or_(d.retry_at.is_(None), d.retry_at <= now))
        # interrupted claims first: those past their lease, or (maybe) of a dead local process
        stale = select(s.drafts).where(d.state == PUBLISHING, or_(
            d.claimed_at.is_(None), d.claimed_at < now - LEASE,
            d.claimed_by.like(socket.gethostname() + ":%")))
        fresh = select(s.drafts).where(due)
        if draft_ids is not None:
            stale = stale.where(d.id.in_(tuple(draft_ids)))
            fresh = fresh.where(d.id.in_(tuple(draft_ids)))
        stale = stale.order_by(d.slot_at, d.id)
        fresh = fresh.order_by(d.slot_at, d.id)
        if self.dialect == "postgresql":  # lock only the rows taken; others stay free
            stale = stale.with_for_update(skip_locked=True)
            fresh = fresh.with_for_update(skip_locked=True)
        claimed: list[int] = []
        with self.engine.begin() as conn:
            rows = [r for r in conn.execute(stale).all()
                    if r.claimed_at is None or r.claimed_at < now - LEASE
                    or _owner_dead(r.claimed_by)]
            if len(rows) < limit:
                rows += conn.execute(fresh.limit(limit - len(rows))).all()
            for row in rows[:limit]:
                took = conn.execute(update(s.drafts).where(  # unchanged since read, or skip
                    d.id == row.id, d.state == row.state,
                    d.claimed_at.is_(None) if row.claimed_at is None
                    else d.claimed_at == row.claimed_at).values(
                    state=PUBLISHING, claimed_by=worker, claimed_at=now, updated_at=now))
                if took.rowcount != 1:
                    continue
                self._audit(conn, row.id, worker, "claim",
                            "resumed after an interrupted run" if row.state == PUBLISHING
                            else f"publishing ({row.state.replace('_', ' ')})")
                claimed.append(row.id)
        return [self.get_draft(i) for i in claimed]

    def renew_claim(self, draft_id: int, worker: str | None = None) -> None:
        """Keep a publishing claim alive. A claim this worker took or renewed less than
        RENEW_AFTER ago is left as it is, without a write: the publisher renews after every
        post, and each write to SQLite waits for the disk."""
        worker = worker or worker_id()
        now = self.clock()
        d = s.drafts.c
        with self.engine.connect() as conn:
            row = conn.execute(select(d.state, d.claimed_at, d.claimed_by).where(
                d.id == draft_id)).first()
        if row is None or row.state != PUBLISHING or (
                row.claimed_by == worker and row.claimed_at is not None
                and now - utc(row.claimed_at) < RENEW_AFTER):  # type: ignore[operator]
            return
        with self.engine.begin() as conn:
            conn.execute(update(s.drafts).where(d.id == draft_id, d.state == PUBLISHING).values(
                claimed_at=now, claimed_by=worker))

def _lock_key(*parts: str) -> int:
    """A stable 32-bit advisory-lock key for a tuple of strings."""
    return zlib.crc32("\x1f".join(parts).encode()) - 2**31


class _ReadingConnection(Connection):
    """A connection that knows how its transaction began. `engine.begin()` (and an explicit
    `conn.begin()`) is a write: on SQLite it takes the write lock at once (BEGIN IMMEDIATE),
    so a read-then-write never fails half-way on a lock. A transaction begun implicitly by
    the first statement on `engine.connect()` is a read: a deferred BEGIN, which in WAL mode
    never waits on a writer nor makes one wait."""

    reading = False

    def _autobegin(self) -> None:
        self.reading = True
        try:
            super()._autobegin()
        finally:
            self.reading = False


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN" if getattr(conn, "reading", False) else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _past(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "edit": "edited",
            "expire": "expired", "reschedule": "rescheduled", "supersede": "superseded",
            "hold": "put on hold", "release": "released", "published": "marked published",
            "partial": "marked partially published", "retract": "retracted"}.get(action, action)

