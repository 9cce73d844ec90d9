"""X read-back against the X fake, which checks every GET /2/tweets request and answer
against the official OpenAPI spec (the fixture fails the test on any mismatch).

The X fake fixtures live in tests/publish/conftest.py; imported here, they are fixtures of this
module too (so the names are "redefined" as test parameters: F811 is off).
"""
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from x_fake import Fault, Metrics

from bot import schema as s
from bot.config import load_config
from bot.engagement import Counts, Published
from bot.engagement.readback import read_due
from bot.engagement.store import EngagementStore
from bot.engagement.x import XReader
from bot.store import Store
from tests.engagement.conftest import published_draft
from tests.publish.conftest import (  # noqa: F401 (x_clocked, clock: the fixtures)
    X_NOW,
    clock,
    set_secrets,
    write_config,
    x_account,
    x_account_toml,
    x_clocked,
    x_env,
)


def _config(tmp_path: Path, fake: Any, *, read: bool = True) -> Any:
    toml = x_account_toml("cityhall_x", fake.base_url)
    if read:
        toml += "read_metrics = true\n"
    return load_config(write_config(tmp_path, toml))


@pytest.fixture
def reading(x_clocked: Any, clock: Any, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Any:
    """(config, store) for an X account on the fake with read_metrics = true."""
    set_secrets(monkeypatch)
    config = _config(tmp_path, x_clocked)
    store = Store(config.storage_url, clock=clock)
    yield config, store
    store.close()


def _gets(fake: Any) -> list[tuple[str, str, int]]:
    return [c for c in fake.calls if c[:2] == ("GET", "/2/tweets")]


def test_counts_read_back_are_what_x_holds(x_clocked: Any) -> None:
    ids = [x_clocked.add_tweet(f"post {n}") for n in range(3)]
    x_clocked.metrics[ids[0]] = Metrics(likes=7, reposts=2, replies=1, quotes=3,
                                        impressions=410)
    x_clocked.metrics[ids[2]] = Metrics(likes=1)
    reader = XReader(x_account(x_clocked), env=x_env())
    posts = [Published(1, "x", "cityhall_x", n, i, "", X_NOW) for n, i in enumerate(ids)]
    try:
        got = reader.read_counts(posts)
    finally:
        reader.close()
    assert got == {ids[0]: Counts(7, 2, 1, 3, 410), ids[1]: Counts(0, 0, 0, 0, 0),
                   ids[2]: Counts(1, 0, 0, 0, 0)}
    assert _gets(x_clocked) == [("GET", "/2/tweets", 200)]
    assert reader.rest_until is None


def test_a_post_x_no_longer_has_is_left_out(x_clocked: Any) -> None:
    kept = x_clocked.add_tweet("kept")
    reader = XReader(x_account(x_clocked), env=x_env())
    posts = [Published(1, "x", "a", 0, kept, "", X_NOW),
             Published(1, "x", "a", 1, "1869999999999999999", "", X_NOW)]
    try:
        assert reader.read_counts(posts) == {kept: Counts(impressions=0)}
    finally:
        reader.close()


def test_250_posts_are_read_in_three_calls_of_at_most_100_ids(
        x_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    ids = [x_clocked.add_tweet(f"post {n}") for n in range(250)]
    for n, tweet_id in enumerate(ids):
        x_clocked.metrics[tweet_id] = Metrics(likes=n)
    draft = published_draft(store, "x", "cityhall_x", ids, X_NOW)
    report = read_due(config, store, X_NOW + timedelta(hours=1, minutes=1))
    assert (report.readings, report.errors) == (250, [])
    assert _gets(x_clocked) == [("GET", "/2/tweets", 200)] * 3
    readings = EngagementStore(store).readings([draft])
    assert [r.counts.likes for r in sorted(readings, key=lambda r: r.post_index)] == \
        list(range(250))
    assert {r.point for r in readings} == {3600}


def test_a_429_writes_nothing_and_pauses_the_account_until_x_says(
        x_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    ids = [x_clocked.add_tweet(f"post {n}") for n in range(150)]
    draft = published_draft(store, "x", "cityhall_x", ids, X_NOW)
    reset = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    x_clocked.fail_next("get_tweets", Fault(status=429, headers={
        "x-rate-limit-reset": str(int(reset.timestamp()))}))
    now = X_NOW + timedelta(hours=1, minutes=1)
    report = read_due(config, store, now)
    assert report.readings == 0
    assert report.paused == ["cityhall_x until 2026-03-02 16:00 UTC"]
    assert report.errors == ["reading account 'cityhall_x': x: X rate-limited reading the "
                             "counts of 100 posts; will try again at 2026-03-02 16:00 UTC"]
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.readings)).scalar() == 0
    assert store.get_draft(draft).state == "published"  # reading never touches the draft
    assert store.runs(":engagement")[0]["outcome"] == "failed"
    # before the reset: no call at all; after it, the same posts are read
    assert read_due(config, store, now + timedelta(minutes=10)).readings == 0
    assert len(_gets(x_clocked)) == 1
    assert read_due(config, store, reset + timedelta(seconds=1)).readings == 150
    assert len(_gets(x_clocked)) == 3


def test_no_calls_left_in_the_window_rests_the_account(
        x_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    ids = [x_clocked.add_tweet(f"post {n}") for n in range(150)]
    published_draft(store, "x", "cityhall_x", ids, X_NOW)
    x_clocked.remaining = 0
    report = read_due(config, store, clock.advance(hours=1))  # X's window ends at 15:45
    assert report.readings == 100  # the first call's; the second waits for the window
    assert report.paused == ["cityhall_x until 2026-03-02 15:45 UTC"]
    assert len(_gets(x_clocked)) == 1


def test_an_account_without_read_metrics_is_never_read(
        x_clocked: Any, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    config = _config(tmp_path, x_clocked, read=False)
    store = Store(config.storage_url, clock=clock)
    published_draft(store, "x", "cityhall_x", [x_clocked.add_tweet("one")], X_NOW)
    assert read_due(config, store, X_NOW + timedelta(days=2)).readings == 0
    assert _gets(x_clocked) == []
    store.close()


def _thread_with_replies(fake: Any) -> tuple[list[str], list[str]]:
    first = fake.add_tweet("first post")
    second = fake.add_tweet("second post", reply_to=first)
    t = X_NOW + timedelta(minutes=20)
    to_first = fake.add_tweet("@cityhall Is this citywide?", reply_to=first,
                              author_id="1600000000000000001", username="resident_a", at=t)
    to_second = fake.add_tweet("@cityhall Thanks & more", reply_to=second,
                               author_id="1600000000000000002", username="resident_b",
                               at=t + timedelta(minutes=5))
    fake.add_tweet("@resident_a yes", reply_to=to_first)  # the city's own answer: not kept
    fake.metrics[first] = Metrics(replies=2)  # the thread's second post and resident_a
    fake.metrics[second] = Metrics(replies=1)
    return [first, second], [to_first, to_second]


def test_replies_come_from_recent_search_by_conversation(x_clocked: Any, clock: Any,
                                                        reading: Any) -> None:
    config, store = reading
    ours, theirs = _thread_with_replies(x_clocked)
    draft = published_draft(store, "x", "cityhall_x", ours, X_NOW)
    report = read_due(config, store, clock.advance(hours=1))
    assert (report.readings, report.replies, report.errors) == (2, 2, [])
    marks = EngagementStore(store)
    assert [r.counts.replies for r in marks.readings([draft])] == [1, 1]
    replies = marks.replies(draft)
    assert [(r.author, r.text, r.url) for r in replies[("x", 0)]] == [
        ("resident_a", "@cityhall Is this citywide?",
         f"https://x.com/resident_a/status/{theirs[0]}")]
    assert [(r.author, r.text, r.written_at) for r in replies[("x", 1)]] == [
        ("resident_b", "@cityhall Thanks & more", X_NOW + timedelta(minutes=25))]
    searches = [c for c in x_clocked.calls if c[1] == "/2/tweets/search/recent"]
    assert searches == [("GET", "/2/tweets/search/recent", 200)]  # once for the thread


def test_a_tier_without_recent_search_still_reads_counts(x_clocked: Any, clock: Any,
                                                         reading: Any) -> None:
    config, store = reading
    ours, _ = _thread_with_replies(x_clocked)
    draft = published_draft(store, "x", "cityhall_x", ours, X_NOW)
    x_clocked.fail_next("search_recent", Fault(status=403))
    report = read_due(config, store, clock.advance(hours=1))
    assert (report.readings, report.replies, report.errors) == (2, 0, [])
    assert EngagementStore(store).replies(draft) == {}
