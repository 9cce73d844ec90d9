"""Publish what is due: claim approved drafts whose slot has come, and post them.

With no platform accounts configured, threads go to the outbox (a folder of pages). With
accounts, each platform publishes the thread independently, post by post, writing a receipt
*before* each remote write (intent) and completing it after, so a crash is resolved by asking
the platform, never by posting again (see thread.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import BotError
from bot.settings import Config
from bot.store import Store, worker_id

log = logging.getLogger(__name__)


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
    outcomes = []
    wrote_outbox = False
    grace = timedelta(minutes=config.approval.missed_slot_grace_minutes)
    for draft in store.claim_due(now, worker, limit=limit, draft_ids=draft_ids):
        if stop is not None and stop():
            store.transition(draft.id, "partial" if store.receipts(draft.id) else "hold",
                             worker, "stopped before starting: will resume")
            break
        if now - draft.slot_at > grace and not any(r.confirmed for r in
                                                   store.receipts(draft.id)):
            d = store.transition(
                draft.id, "hold", "citycrier",
                f"missed its slot {draft.slot_at:%Y-%m-%d %H:%M %Z} by more than "
                f"{config.approval.missed_slot_grace_minutes} minutes: not posted late in a "
                f"burst; release or reschedule it", error="missed slot: waiting for a person")
            outcomes.append(Outcome(d.id, d.recipe, d.state, d.error))
            continue
        if not config.accounts:
            try:
                page = outbox.write_thread(config, store, draft)
            except (BotError, OSError) as exc:
                d = store.transition(draft.id, "partial", worker, f"outbox failed: {exc}",
                                     error=str(exc))
                outcomes.append(Outcome(d.id, d.recipe, d.state, str(exc)))
                continue
            d = store.transition(draft.id, "published", worker, f"to the outbox: {page}",
                                 error="")
            wrote_outbox = True
            outcomes.append(Outcome(d.id, d.recipe, d.state, str(page)))
            continue
        from bot.publish.thread import publish_thread

        outcomes.append(publish_thread(config, store, draft, now, worker=worker,
                                       clients=clients, stop=stop))
    if wrote_outbox:
        outbox.write_index(config)
    return outcomes
