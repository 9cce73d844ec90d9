"""Read-back scheduling with a controlled clock: snapshots at 1 h, 24 h and 7 d, one late
reading after downtime, failures that write nothing, bounded passes, replies kept and
deleted after retention_days. The platform is a reader in the test (the real readers are
tested against the X fake and the PDS in test_x.py and test_bluesky.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import schema as s
from bot.config import load_config
from bot.engagement import Counts, Published, Reading, Reply
from bot.engagement.readback import read_due
from bot.engagement.store import EngagementStore
from bot.errors import PublishError
from bot.store import Store
from tests.engagement.conftest import published_draft
from tests.publish.conftest import FakeClock

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Reader:
    """A platform as a test drives it: counts per remote id, replies per remote id."""

    platform = "bluesky"

    def __init__(self, batch: int = 25) -> None:
        self.batch = batch
        self.counts: dict[str, Counts] = {}
        self.replies: dict[str, list[Reply]] = {}
        self.calls: list[list[str]] = []
        self.fail: list[BaseException | None] = []  # per call, in order

    def read_counts(self, posts: Sequence[Published]) -> dict[str, Counts]:
        self.calls.append([p.remote_id for p in posts])
        if self.fail:
            err = self.fail.pop(0)
            if err is not None:
                raise err
        return {p.remote_id: self.counts.get(p.remote_id, Counts()) for p in posts}

    def read_replies(self, post: Published) -> list[Reply]:
        return self.replies.get(post.remote_id, [])

    def close(self) -> None:
        pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    url = "sqlite:///c.db" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    path = tmp_path / "config.toml"
    path.write_text(f'timezone = "America/Chicago"\n[storage]\nurl = "{url}"\n'
                    '[accounts.hall]\nplatform = "bluesky"\nhandle = "hall.test"\n'
                    'app_password_env = "NOPE"\n[engagement]\nper_pass = 40\n',
                    encoding="utf-8")
    config = load_config(path)
    clock = FakeClock(T0)
    store = Store(config.storage_url, clock=clock)
    yield config, store, clock
    store.close()


def _points(store: Store, draft: int) -> list[tuple[int, int | None, datetime]]:
    return [(r.post_index, r.point, r.taken_at) for r in EngagementStore(store).readings([draft])]


def test_a_post_is_read_at_1_hour_24_hours_and_7_days_and_no_more(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", ["a", "b"], T0)
    reader = Reader()
    readers = {"hall": reader}
    moments = [T0 + timedelta(minutes=59), T0 + timedelta(hours=1), T0 + timedelta(hours=2),
               T0 + timedelta(hours=24), T0 + timedelta(hours=25), T0 + timedelta(days=7),
               T0 + timedelta(days=8), T0 + timedelta(days=20)]
    done = []
    for n, now in enumerate(moments):
        reader.counts["a"] = Counts(likes=n)
        done.append(read_due(config, store, now, readers=readers).readings)
    assert done == [0, 2, 0, 2, 0, 2, 0, 0]
    h1, h24, d7 = T0 + timedelta(hours=1), T0 + timedelta(hours=24), T0 + timedelta(days=7)
    assert _points(store, draft) == [(0, 3600, h1), (1, 3600, h1), (0, 86400, h24),
                                     (1, 86400, h24), (0, 604800, d7), (1, 604800, d7)]
    # snapshots: each reading kept as it was, never overwritten
    assert [r.counts.likes for r in EngagementStore(store).readings([draft])
            if r.post_index == 0] == [1, 3, 5]


def test_after_downtime_a_post_gets_one_late_reading_not_a_burst(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", ["a"], T0)
    later = T0 + timedelta(hours=30)  # the 1 h and 24 h points both passed unread
    assert read_due(config, store, later, readers={"hall": Reader()}).readings == 1
    assert read_due(config, store, later, readers={"hall": Reader()}).readings == 0
    assert _points(store, draft) == [(0, 86400, later)]


def test_a_failed_call_writes_nothing_and_is_read_at_the_next_pass(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", [f"p{n}" for n in range(30)], T0)
    reader = Reader()
    reader.fail = [None, PublishError("bluesky", "could not reach the PDS (try again later)")]
    now = T0 + timedelta(hours=1)
    report = read_due(config, store, now, readers={"hall": reader})
    assert report.readings == 25  # the first call's batch; the second call failed whole
    assert report.errors == ["reading account 'hall': bluesky: could not reach the PDS (try "
                             "again later); tried again at the next pass"]
    assert sorted(i for i, _, _ in _points(store, draft)) == list(range(25))
    assert store.get_draft(draft).state == "published"
    assert store.runs(":engagement")[0]["detail"] == report.errors[0]
    again = read_due(config, store, now + timedelta(minutes=5), readers={"hall": reader})
    assert again.readings == 5
    assert reader.calls[-1] == [f"p{n}" for n in range(25, 30)]


def test_readings_of_one_call_are_written_all_or_none(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", ["a"], T0)
    good = Reading(draft, "bluesky", "hall", 0, "a", 3600, T0, Counts(likes=1))
    bad = Reading(draft, "bluesky", "hall", 1, "b", 3600, T0, Counts(likes=None))  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - the database's own NOT NULL error
        EngagementStore(store).add_readings([good, bad])
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.readings)).scalar() == 0


def test_a_pass_reads_at_most_per_pass_posts_the_longest_waiting_first(setup: Any) -> None:
    config, store, clock = setup
    old = published_draft(store, "bluesky", "hall", [f"o{n}" for n in range(30)], T0,
                          period_key="2026-W08")
    new = published_draft(store, "bluesky", "hall", [f"n{n}" for n in range(30)],
                          T0 + timedelta(minutes=10), period_key="2026-W09")
    reader = Reader()
    now = T0 + timedelta(hours=2)
    assert read_due(config, store, now, readers={"hall": reader}).readings == 40  # per_pass
    assert len(_points(store, old)) == 30 and len(_points(store, new)) == 10
    assert read_due(config, store, now, readers={"hall": reader}).readings == 20
    assert [len(c) for c in reader.calls] == [25, 15, 20]


def test_asked_for_a_draft_every_post_is_read_now(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", ["a", "b"], T0)
    now = T0 + timedelta(minutes=5)
    assert read_due(config, store, now, draft_ids=[draft], readers={"hall": Reader()}
                    ).readings == 2
    assert _points(store, draft) == [(0, None, now), (1, None, now)]
    # an asked-for reading does not stand in for the 1 h one
    assert read_due(config, store, T0 + timedelta(hours=1), readers={"hall": Reader()}
                    ).readings == 2


def test_replies_are_kept_once_and_deleted_after_retention_only_those(setup: Any) -> None:
    config, store, clock = setup
    draft = published_draft(store, "bluesky", "hall", ["a"], T0)
    reader = Reader()
    reader.counts["a"] = Counts(replies=2)

    def reply(n: int, at: datetime) -> Reply:
        return Reply(0, f"at://did:plc:r/app.bsky.feed.post/{n}", "resident.test",
                     f"question {n}", f"https://bsky.app/profile/resident.test/post/{n}", at)

    reader.replies["a"] = [reply(1, T0 + timedelta(minutes=5)),
                           reply(2, T0 + timedelta(minutes=50))]
    assert read_due(config, store, T0 + timedelta(hours=1), readers={"hall": reader}
                    ).replies == 2
    assert read_due(config, store, T0 + timedelta(hours=24), readers={"hall": reader}
                    ).replies == 0  # the same two again: not kept twice
    marks = EngagementStore(store)
    assert [r.text for r in marks.replies(draft)[("bluesky", 0)]] == ["question 1",
                                                                       "question 2"]
    # 30 days after the first was written (and before the second's 30 days): only the first
    report = read_due(config, store, T0 + timedelta(days=30, minutes=10),
                      readers={"hall": reader})
    assert report.deleted == 1
    assert [r.text for r in marks.replies(draft)[("bluesky", 0)]] == ["question 2"]
    report = read_due(config, store, T0 + timedelta(days=31), readers={"hall": reader})
    assert (report.deleted, marks.replies(draft)) == (1, {})
    assert len(marks.readings([draft])) == 2  # readings are kept: only replies expire


def test_posts_no_pass_reads_use_none_of_the_budget(setup: Any) -> None:
    """An X account without read_metrics, an account gone from config.toml and a paused
    account: their due posts never crowd out the ones that can be read."""
    config, store, clock = setup
    for n, account in enumerate(("gone", "paused")):
        published_draft(store, "bluesky", account, [f"{account}{i}" for i in range(40)], T0,
                        period_key=f"old{n}")
    EngagementStore(store).pause("paused", "bluesky", T0 + timedelta(days=30), "429")
    later = published_draft(store, "bluesky", "hall", ["a", "b"], T0 + timedelta(minutes=5),
                            period_key="new")
    report = read_due(config, store, T0 + timedelta(hours=2), readers={"hall": Reader()})
    assert report.readings == 2 and len(_points(store, later)) == 2
    assert report.paused == ["paused until 2026-04-01 15:00 UTC"]
