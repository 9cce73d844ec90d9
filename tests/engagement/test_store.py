"""The engagement tables on SQLite and a real PostgreSQL: snapshots kept in order, drafts
ranked by their posts' latest numbers, rate-limit pauses replaced, not duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.engagement import Counts, Reading
from bot.engagement.store import EngagementStore
from bot.store import Store
from tests.engagement.conftest import published_draft

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    url = f"sqlite:///{tmp_path / 'e.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    s = Store(url)
    yield s
    s.close()


def _read(draft: int, index: int, likes: int, hours: int) -> Reading:
    return Reading(draft, "bluesky", "a", index, f"{draft}-{index}", hours * 3600,
                   T0 + timedelta(hours=hours), Counts(likes, 1, 0, 0))


def test_drafts_rank_by_their_posts_latest_readings(store: Store) -> None:
    a = published_draft(store, "bluesky", "a", ["a0", "a1"], T0, period_key="A")
    b = published_draft(store, "bluesky", "a", ["b0"], T0, period_key="B")
    c = published_draft(store, "bluesky", "a", ["c0"], T0, period_key="C")  # never read
    marks = EngagementStore(store)
    marks.add_readings([_read(a, 0, 50, 1), _read(a, 0, 2, 24), _read(a, 1, 3, 1),
                        _read(b, 0, 1, 1), _read(b, 0, 9, 24)])
    # a: latest 2+1 and 3+1 = 7; b: latest 9+1 = 10; c: 0 (the newest of equals first)
    assert marks.ranked_drafts() == [(b, 10), (a, 7), (c, 0)]
    assert marks.ranked_drafts(limit=1, offset=1) == [(a, 7)]
    assert [r.counts.likes for r in marks.readings([a]) if r.post_index == 0] == [50, 2]
    assert marks.latest_points([a, b, c]) == {(a, "bluesky", 0): 86400,
                                              (a, "bluesky", 1): 3600,
                                              (b, "bluesky", 0): 86400}


def test_a_pause_is_replaced_and_ends(store: Store) -> None:
    marks = EngagementStore(store)
    marks.pause("a", "x", T0 + timedelta(minutes=15), "429")
    marks.pause("a", "x", T0 + timedelta(minutes=30), "429 again")
    assert marks.paused(T0) == {"a": T0 + timedelta(minutes=30)}
    assert marks.paused(T0 + timedelta(minutes=30)) == {}
