"""The store's ledgers: receipts (one per post per platform), deliveries (one per draft per
platform), the audit trail and the runs of each recipe. A mixin of `bot.store.Store`, which
provides `engine` and `clock`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from bot import schema as s
from bot.errors import StoreError
from bot.records import AuditRow, Receipt, _audit_row, _delivery, _moment, _receipt, _run, utc

# the cron time a run is for, while the scheduler drafts it (see Ledger.run_slot)
_RUN_SLOT: ContextVar[datetime | None] = ContextVar("citycrier_run_slot", default=None)


class Ledger:
    engine: Engine
    clock: Callable[[], datetime]

    # ---------------------------------------------------------------------------- receipts

    def record_intent(self, draft_id: int, platform: str, account: str, post_index: int,
                      key: str) -> Receipt:
        """Write the intent to post before the remote call; keep an existing one."""
        now = self.clock()
        mine = (s.receipts.c.draft_id == draft_id, s.receipts.c.platform == platform,
                s.receipts.c.post_index == post_index)
        with self.engine.begin() as conn:
            existing = conn.execute(select(s.receipts).where(*mine)).first()
            if existing is None:
                conn.execute(insert(s.receipts).values(
                    draft_id=draft_id, platform=platform, account=account,
                    post_index=post_index, key=key, intent_at=now))
            elif existing.posted_at is None and existing.key != key:
                conn.execute(update(s.receipts).where(s.receipts.c.id == existing.id).values(
                    key=key, intent_at=now))
            else:
                return _receipt(existing)
            return _receipt(conn.execute(select(s.receipts).where(*mine)).one())

    def confirm_receipt(self, draft_id: int, platform: str, post_index: int, remote_id: str,
                        uri: str = "", cid: str = "", posted_at: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(update(s.receipts).where(
                s.receipts.c.draft_id == draft_id, s.receipts.c.platform == platform,
                s.receipts.c.post_index == post_index).values(
                remote_id=remote_id, uri=uri, cid=cid,
                posted_at=posted_at or self.clock())).rowcount
            if n != 1:
                raise StoreError(f"no intent recorded for draft {draft_id} {platform} post "
                                 f"{post_index + 1}")

    def mark_deleted(self, draft_id: int, platform: str, post_index: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(s.receipts).where(
                s.receipts.c.draft_id == draft_id, s.receipts.c.platform == platform,
                s.receipts.c.post_index == post_index).values(deleted_at=self.clock()))

    def receipt(self, draft_id: int, platform: str, post_index: int) -> Receipt | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.receipts).where(
                s.receipts.c.draft_id == draft_id, s.receipts.c.platform == platform,
                s.receipts.c.post_index == post_index)).first()
        return _receipt(row) if row else None

    def receipts(self, draft_id: int, platform: str | None = None) -> list[Receipt]:
        q = select(s.receipts).where(s.receipts.c.draft_id == draft_id)
        if platform:
            q = q.where(s.receipts.c.platform == platform)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(s.receipts.c.platform,
                                           s.receipts.c.post_index)).all()
        return [_receipt(r) for r in rows]

    def posts_since(self, account: str, since: datetime) -> int:
        """Confirmed posts by an account since a moment (for per-account caps)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.receipts).where(
                s.receipts.c.account == account, s.receipts.c.posted_at >= since)).scalar_one())

    # -------------------------------------------------------------------------- deliveries

    def set_delivery(self, draft_id: int, platform: str, account: str, state: str,
                     error: str = "", retry_at: datetime | None = None) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            n = conn.execute(update(s.deliveries).where(
                s.deliveries.c.draft_id == draft_id, s.deliveries.c.platform == platform
            ).values(account=account, state=state, error=error, retry_at=retry_at,
                     updated_at=now)).rowcount
            if n == 0:
                conn.execute(insert(s.deliveries).values(
                    draft_id=draft_id, platform=platform, account=account, state=state,
                    error=error, retry_at=retry_at, updated_at=now))

    def deliveries(self, draft_id: int) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.deliveries).where(
                s.deliveries.c.draft_id == draft_id)).all()
        return {r.platform: _delivery(r) for r in rows}

    # ---------------------------------------------------------------------------- audit, runs

    def _audit(self, conn: Any, draft_id: int | None, actor: str, action: str,
               detail: str) -> None:
        conn.execute(insert(s.audit).values(draft_id=draft_id, at=self.clock(), actor=actor,
                                            action=action, detail=detail))

    def add_audit(self, draft_id: int | None, actor: str, action: str, detail: str = "") -> None:
        with self.engine.begin() as conn:
            self._audit(conn, draft_id, actor, action, detail)

    def audit(self, draft_id: int | None = None, limit: int | None = None) -> list[AuditRow]:
        q = select(s.audit)
        if draft_id is not None:
            q = q.where(s.audit.c.draft_id == draft_id)
        q = q.order_by(s.audit.c.id)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_audit_row(r) for r in conn.execute(q)]

    def record_run(self, recipe: str, period_key: str, started_at: datetime, outcome: str,
                   detail: str = "", draft_id: int | None = None,
                   slot_at: datetime | None = None) -> None:
        """Record one drafting run. `slot_at` (the cron time it was for) defaults to the one
        set by `run_slot` around the call, so code that drafts need not know about slots."""
        with self.engine.begin() as conn:
            conn.execute(insert(s.runs).values(
                recipe=recipe, period_key=period_key, started_at=started_at,
                finished_at=self.clock(), outcome=outcome, detail=detail, draft_id=draft_id,
                slot_at=slot_at if slot_at is not None else _RUN_SLOT.get()))

    @contextmanager
    def run_slot(self, slot_at: datetime) -> Iterator[None]:
        """Runs recorded inside this block (in this thread) are for the cron time `slot_at`.

        Example::

            with store.run_slot(fire_time):
                draft_recipe(config, recipe, store, fire_time)   # its run row gets slot_at
        """
        token = _RUN_SLOT.set(slot_at)
        try:
            yield
        finally:
            _RUN_SLOT.reset(token)

    def ran(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (recipe, period_key) pairs have a run recorded, whatever its outcome."""
        wanted = set(pairs)
        keys = sorted({k for _, k in wanted})
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                rows = conn.execute(select(s.runs.c.recipe, s.runs.c.period_key).where(
                    s.runs.c.period_key.in_(keys[i:i + 500])).distinct()).all()
                found.update((r, k) for r, k in rows if (r, k) in wanted)
        return found

    def last_run_times(self) -> dict[str, datetime]:
        """For each recipe, the latest moment a run covered: its slot, else its start."""
        moment = func.coalesce(s.runs.c.slot_at, s.runs.c.started_at)
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.runs.c.recipe, func.max(moment).label("at")).group_by(
                s.runs.c.recipe)).all()
        return {r.recipe: _moment(r.at) for r in rows}

    def runs(self, recipe: str | None = None, outcomes: Iterable[str] | None = None,
             limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first (of one recipe, of some outcomes)."""
        q = select(s.runs)
        if recipe is not None:
            q = q.where(s.runs.c.recipe == recipe)
        if outcomes is not None:
            q = q.where(s.runs.c.outcome.in_(tuple(outcomes)))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(s.runs.c.id.desc()).limit(limit)).all()
        return [_run(r) for r in rows]

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The latest run of each recipe."""
        with self.engine.connect() as conn:
            latest = select(s.runs.c.recipe, func.max(s.runs.c.id).label("id")).group_by(
                s.runs.c.recipe).subquery()
            rows = conn.execute(select(s.runs).join(latest, s.runs.c.id == latest.c.id)).all()
        return {r.recipe: {"started_at": utc(r.started_at), "outcome": r.outcome,
                           "detail": r.detail, "period_key": r.period_key,
                           "draft_id": r.draft_id, "slot_at": utc(r.slot_at)} for r in rows}

    def recent_failures(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.runs).where(s.runs.c.outcome.in_(
                ("failed", "skipped"))).order_by(s.runs.c.id.desc()).limit(limit)).all()
        return [{"recipe": r.recipe, "at": utc(r.started_at), "outcome": r.outcome,
                 "detail": r.detail} for r in rows]
