"""Publish what is due: claim approved drafts whose slot has come, and post them.

With no platform accounts configured, threads go to the outbox (a folder of pages). With
accounts, each platform publishes the thread independently, post by post, writing a receipt
*before* each remote write (intent) and completing it after, so a crash is resolved by asking
the platform, never by posting again (see thread.py).

Drafts are claimed one at a time, just before each is posted, so a claim never sits unused
while earlier threads post (another process could take it over once its lease ran out).

A thread whose slot (or planned retry) passed more than `approval.missed_slot_grace_minutes`
ago, and of which nothing is posted yet, is not posted late in a burst: it goes on hold for a
person, unless a person has just released it.

Example::

    for outcome in publish_due(config, store, datetime.now(UTC)):
        print(outcome.draft_id, outcome.state, outcome.detail)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from bot.errors import BotError
from bot.settings import Config
from bot.store import (
    APPROVED,
    ON_HOLD,
    PARTIAL,
    PUBLISHED,
    PUBLISHING,
    AuditRow,
    Draft,
    Store,
    worker_id,
)

log = logging.getLogger(__name__)
AFTER_A_BUG = timedelta(minutes=5)
PUBLISH_LOCK = 7_424_202  # PostgreSQL advisory lock space: (this, draft id) while publishing


@dataclass(frozen=True)
class Outcome:
    draft_id: int
    recipe: str
    state: str
    detail: str


def publish_due(config: Config, store: Store, now: datetime, *, worker: str | None = None,
                limit: int = 50, draft_ids: list[int] | None = None,
                clients: dict[str, object] | None = None,
                stop: Callable[[], bool] | None = None) -> list[Outcome]:
    """Publish every due draft (or only `draft_ids`); return what happened to each."""
    from bot.publish import outbox

    worker = worker or worker_id()
    outcomes: list[Outcome] = []
    wrote_outbox = False
    for candidate in due_ids(store, now, draft_ids):
        if len(outcomes) >= limit or (stop is not None and stop()):
            break
        claimed = store.claim_due(now, worker, limit=1, draft_ids=[candidate])
        if not claimed:
            continue  # another process took it, or it is no longer due
        with publishing_alone(store, candidate) as alone:
            draft = store.get_draft(candidate)
            if not alone or draft.state != PUBLISHING or draft.claimed_by != worker:
                continue  # another process is publishing it (see publishing_alone)
            outcome = _publish_claimed(config, store, draft, now, worker, clients, stop)
        outcomes.append(outcome)
        _notify_failure(config, store, draft, outcome)
        wrote_outbox |= outcome.state == PUBLISHED and not config.accounts
    if wrote_outbox:
        outbox.write_index(config)
    return outcomes


def _notify_failure(config: Config, store: Store, claimed: Draft, outcome: Outcome) -> None:
    """Tell people when a thread needs them (on hold), or first fails to publish; a retry
    that fails again in the next minutes does not send the notice again."""
    if outcome.state == PUBLISHED or (outcome.state != ON_HOLD and claimed.error):
        return
    if outcome.state == PUBLISHING:
        return  # stopped by a signal: not a failure
    from bot.notify import notify_failed

    notify_failed(config, store.get_draft(claimed.id), outcome.detail)


def _publish_claimed(config: Config, store: Store, draft: Draft, now: datetime, worker: str,
                     clients: dict[str, object] | None,
                     stop: Callable[[], bool] | None) -> Outcome:
    from bot.publish import outbox

    late = missed_slot(config, store, draft, now)
    if late:
        d = store.transition(draft.id, "hold", "citycrier", late,
                             error="missed slot: waiting for a person")
        return Outcome(d.id, d.recipe, d.state, d.error)
    if not config.accounts:
        try:
            page = outbox.write_thread(config, store, draft)
        except (BotError, OSError) as exc:
            d = store.transition(draft.id, "partial", worker, f"outbox failed: {exc}",
                                 error=str(exc))
            return Outcome(d.id, d.recipe, d.state, str(exc))
        d = store.transition(draft.id, "published", worker, f"to the outbox: {page}", error="")
        return Outcome(d.id, d.recipe, d.state, str(page))
    from bot.publish.thread import publish_thread

    try:
        return publish_thread(config, store, draft, now, worker=worker, clients=clients,
                              stop=stop)
    except Exception as exc:  # a bug: keep it from stopping the other drafts
        log.exception("draft %s: publishing failed unexpectedly", draft.id)
        what = (f"publishing stopped on an unexpected {type(exc).__name__}: {exc} (a bug in "
                f"citycrier: report it); the receipts are kept and the next run resumes")
        d = store.transition(draft.id, "partial", worker, what, error=what,
                             retry_at=now + AFTER_A_BUG)
        return Outcome(d.id, d.recipe, d.state, what)


@contextmanager
def publishing_alone(store: Store, draft_id: int) -> Iterator[bool]:
    """Whether this process alone may publish the draft now (True on SQLite).

    The claim itself is exclusive (`Store.claim_due`); this is a second guard for
    PostgreSQL, where several processes share the database: a session advisory lock on the
    draft, held for the whole thread and released with the connection if the process dies.
    A publisher that is slow but alive keeps its lock even when its lease has run out and
    another process took its claim over: the newcomer does not get the lock and leaves the
    thread alone. Whoever holds the lock also checks that the claim is still its own.
    """
    if store.dialect != "postgresql":
        yield True
        return
    key = {"space": PUBLISH_LOCK, "id": draft_id}
    with store.engine.connect() as conn:
        alone = bool(conn.execute(text("SELECT pg_try_advisory_lock(:space, :id)"),
                                  key).scalar_one())
        conn.commit()
        try:
            yield alone
        finally:
            if alone:
                conn.execute(text("SELECT pg_advisory_unlock(:space, :id)"), key)
                conn.commit()


def due_ids(store: Store, now: datetime, only: Sequence[int] | None = None) -> list[int]:
    """Drafts that may be due, interrupted ones first, then by slot (claiming decides)."""
    drafts = store.list_drafts((PUBLISHING, APPROVED, PARTIAL))
    if only is not None:
        drafts = [d for d in drafts if d.id in set(only)]
    stale = [d.id for d in drafts if d.state == PUBLISHING]
    due = [d.id for d in drafts if d.state != PUBLISHING and d.slot_at <= now
           and (d.retry_at is None or d.retry_at <= now)]
    return stale + due


def missed_slot(config: Config, store: Store, draft: Draft, now: datetime) -> str:
    """Why a claimed draft must wait for a person because it is too late, or ""."""
    grace = timedelta(minutes=config.approval.missed_slot_grace_minutes)
    planned = max(draft.slot_at, draft.retry_at) if draft.retry_at else draft.slot_at
    if now - planned <= grace:
        return ""
    if any(r.confirmed for r in store.receipts(draft.id)):
        return ""  # a thread already begun is finished, never left half-posted
    if claims_since_release(store.audit(draft.id)) is not None:
        return ""  # a person released it after the hold: they want it posted now
    what = "slot" if planned == draft.slot_at else "retry time"
    return (f"missed its {what} {planned:%Y-%m-%d %H:%M %Z} by more than "
            f"{config.approval.missed_slot_grace_minutes} minutes: not posted late in a burst; "
            f"release or reschedule it")


def claims_since_release(audit: list[AuditRow]) -> int | None:
    """How many times the draft was claimed since a person released it from a hold (by
    `release`, or by approving it again after an edit); None if it was not released.

    >>> from datetime import UTC, datetime
    >>> def rows(*actions): return [AuditRow(datetime.now(UTC), "p", a, "", 1) for a in actions]
    >>> claims_since_release(rows("draft", "claim", "hold", "release", "claim"))
    1
    >>> claims_since_release(rows("draft", "approve", "claim")) is None
    True
    """
    held = False
    since: int | None = None
    for row in audit:
        if row.action == "hold":
            held, since = True, None
        elif row.action in ("release", "approve") and held:
            since = 0
        elif row.action == "claim" and since is not None:
            since += 1
    return since
