"""Helpers for the engagement tests: a draft published with given remote ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store import Store
from tests.publish.conftest import thread_draft


def published_draft(store: Store, platform: str, account: str, remote_ids: Sequence[str],
                    posted_at: datetime, *, period_key: str = "2026-W09",
                    uris: Sequence[str] = (), recipe: str = "calls") -> int:
    """A draft that went out on `platform` as posts with these remote ids at `posted_at`."""
    from dataclasses import replace

    new = replace(thread_draft((platform,), slot_at=posted_at, period_key=period_key),
                  recipe=recipe)
    draft_id, _ = store.create_draft(new)
    assert store.claim_due(posted_at, "test:1", draft_ids=[draft_id])
    for index, remote_id in enumerate(remote_ids):
        store.record_intent(draft_id, platform, account, index, remote_id)
        store.confirm_receipt(draft_id, platform, index, remote_id,
                              uri=uris[index] if uris else "", posted_at=posted_at)
    store.transition(draft_id, "published", "test:1")
    return draft_id
