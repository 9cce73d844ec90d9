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


# ---- a real Bluesky app view (tests/servers/appview.js), for the whole session -----------

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

import tests.publish.conftest  # noqa: E402,F401 (puts tests/servers on sys.path)


@pytest.fixture(scope="session")
def appview(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """PLC + PDS + the real @atproto/bsky app view, indexing into the session's PostgreSQL."""
    import appview as appview_server

    try:
        with appview_server.run_appview(postgres_server.url(),
                                        tmp_path_factory.mktemp("appview")) as net:
            yield net
    except appview_server.AppViewUnavailable as exc:
        pytest.fail(f"the local app view could not start: {exc}", pytrace=False)
