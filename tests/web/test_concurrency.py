"""Two approvers approving the same draft at the same moment make one approval and one
publish, whether they come through the library (two stores, as two processes would) or
through the desk."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

from bot.errors import TransitionError
from bot.publish.runner import publish_due
from bot.review import approve_draft
from bot.settings import Config
from bot.store import Store

from .conftest import T0, FakeClock, csrf_of, make_draft, sign_in

DUE = T0 + timedelta(hours=3, minutes=1)


def _race(*jobs: Any) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_two_approvals_at_once_make_one_approval_and_one_publish(
        config: Config, store: Store, clock: FakeClock) -> None:
    for round_no in range(5):
        draft_id = make_draft(store, period=f"race-{round_no}")
        start = threading.Barrier(2)
        results: list[str] = []
        published: list[int] = []

        def approve_and_publish(name: str, draft_id: int = draft_id,
                                start: threading.Barrier = start,
                                results: list[str] = results,
                                published: list[int] = published) -> None:
            own = Store(config.storage_url, clock=clock)  # as a second process would
            try:
                start.wait(timeout=30)
                try:
                    approve_draft(own, config, draft_id, name, expect_revision=1)
                    results.append("approved")
                except TransitionError as exc:
                    results.append(exc.message)
                outcomes = publish_due(config, own, DUE, worker=name, draft_ids=[draft_id])
                published.extend(o.draft_id for o in outcomes if o.state == "published")
            finally:
                own.close()

        _race(lambda: approve_and_publish("ada"), lambda: approve_and_publish("bea"))
        assert len(results) == 2 and results.count("approved") == 1
        loser = next(r for r in results if r != "approved")  # the winner may be publishing
        assert re.fullmatch(rf"draft {draft_id} is (approved|publishing|published): it cannot "
                            rf"be approved \(it can be from: pending_review\)", loser), loser
        actions = [a.action for a in store.audit(draft_id)]
        assert actions.count("approve") == 1
        assert actions.count("published") == 1
        assert published == [draft_id]
        assert store.get_draft(draft_id).state == "published"
    folders = sorted(p.name for p in config.outbox_dir.iterdir() if p.is_dir())
    assert folders == [f"{i:05d}-baltimore_311_weekend-race-{i - 1}" for i in range(1, 6)]


def test_two_approvals_at_once_on_the_desk_make_one(app: Any, store: Store) -> None:
    draft_id = make_draft(store)
    clients = {name: sign_in(app, name) for name in ("ada", "bea")}
    tokens = {name: csrf_of(c.get(f"/drafts/{draft_id}").text) for name, c in clients.items()}
    start = threading.Barrier(2)
    statuses: list[int] = []

    def approve(name: str) -> None:
        start.wait(timeout=30)
        r = clients[name].post(f"/drafts/{draft_id}/approve",
                               data={"csrf": tokens[name], "revision": "1"})
        statuses.append(r.status_code)

    _race(lambda: approve("ada"), lambda: approve("bea"))
    assert sorted(statuses) == [303, 409]
    assert [a.action for a in store.audit(draft_id)].count("approve") == 1
