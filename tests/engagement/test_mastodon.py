"""Mastodon read-back against the Mastodon fake, which checks every request and answer
against the Mastodon OpenAPI description (the fixture fails the test on any mismatch):
GET /api/v1/statuses/{id} for the counts, GET /api/v1/statuses/{id}/context for replies.

The fake's fixtures live in tests/publish/conftest.py; imported here, they are fixtures of
this module too (so the names are "redefined" as test parameters: F811 is off).
"""
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mastodon_fake import Fault, Metrics

from bot.config import load_config
from bot.engagement import Counts
from bot.engagement.mastodon import MastodonReader
from bot.engagement.readback import read_due
from bot.engagement.store import EngagementStore
from bot.store import Store
from tests.engagement.conftest import published_draft
from tests.publish.conftest import (  # noqa: F401 (mastodon_clocked, clock: the fixtures)
    MASTODON_ENV,
    X_NOW,
    clock,
    mastodon_account_toml,
    mastodon_clocked,
    mastodon_fake,
    write_config,
)
from tests.test_cli_platforms import web_page  # noqa: F401 (a fixture)


@pytest.fixture
def reading(mastodon_clocked: Any, clock: Any, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(MASTODON_ENV, mastodon_fake.TOKEN)
    config = load_config(write_config(tmp_path, mastodon_account_toml(
        "hall_m", mastodon_clocked.base_url)))
    store = Store(config.storage_url, clock=clock)
    yield config, store
    store.close()


def _gets(fake: Any, suffix: str = "") -> int:
    return sum(1 for method, path, _ in fake.calls
               if method == "GET" and path.startswith("/api/v1/statuses/")
               and path.endswith(suffix) and (suffix or not path.endswith("/context")))


def test_counts_and_replies_read_back_are_what_the_server_holds(
        mastodon_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    fake = mastodon_clocked
    first = fake.add_status("First post of the thread")
    second = fake.add_status("Second post", reply_to=first)
    later = X_NOW + timedelta(minutes=30)
    asked = fake.add_status("@cityhall Is this citywide?", reply_to=first, author="resident",
                            at=later)
    fake.add_status("@resident Me too", reply_to=asked, author="neighbour",
                    at=later + timedelta(minutes=1))
    answer = fake.add_status("@resident Yes, every district", reply_to=asked)  # the city's
    fake.add_status("@cityhall Thanks", reply_to=answer, author="resident")  # under the city's
    fake.metrics[first] = Metrics(favourites=4, reblogs=2, replies=2, quotes=1)
    fake.metrics[second] = Metrics(favourites=1)
    draft = published_draft(store, "mastodon", "hall_m", [first, second], X_NOW)
    report = read_due(config, store, clock.advance(hours=1))
    assert (report.readings, report.replies, report.errors) == (2, 2, [])
    marks = EngagementStore(store)
    # replies counted are the residents': the thread's second post is not one
    assert [r.counts for r in marks.readings([draft])] == [Counts(4, 2, 1, 1), Counts(1)]
    kept = marks.replies(draft)
    assert list(kept) == [("mastodon", 0)]
    assert [(r.author, r.text, r.url, r.written_at) for r in kept[("mastodon", 0)]] == [
        ("resident@elsewhere.social", "@cityhall Is this citywide?",
         f"https://city.social/@resident/{asked}", later),
        ("neighbour@elsewhere.social", "@resident Me too",
         f"https://city.social/@neighbour/{int(asked) + 1}", later + timedelta(minutes=1))]
    assert (_gets(fake), _gets(fake, "/context")) == (2, 1)


def test_a_429_writes_nothing_and_pauses_until_the_servers_reset(
        mastodon_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    ids = [mastodon_clocked.add_status(f"post {n}") for n in range(3)]
    published_draft(store, "mastodon", "hall_m", ids, X_NOW)
    reset = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    mastodon_clocked.fail_next("get_status", Fault(status=429, headers={
        "X-RateLimit-Reset": "2026-03-02T16:00:00.000Z"}))
    # the reader on the test's clock, so the server's reset is in its future
    reader = MastodonReader(config.accounts["hall_m"], config.state_dir, clock=clock)
    report = read_due(config, store, clock.advance(hours=1), readers={"hall_m": reader})
    reader.close()
    assert report.readings == 0
    assert report.paused == ["hall_m until 2026-03-02 16:00 UTC"]
    assert EngagementStore(store).paused(clock()) == {"hall_m": reset}
    assert EngagementStore(store).readings() == []


def test_a_status_the_server_no_longer_has_is_left_out(
        mastodon_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    kept = mastodon_clocked.add_status("still here")
    draft = published_draft(store, "mastodon", "hall_m", [kept, "110999999999999999"], X_NOW)
    report = read_due(config, store, clock.advance(hours=1))
    assert (report.readings, report.errors) == (1, [])
    assert [r.remote_id for r in EngagementStore(store).readings([draft])] == [kept]


def test_no_calls_left_stops_the_batch_and_rests_the_account(
        mastodon_clocked: Any, clock: Any, reading: Any) -> None:
    config, store = reading
    ids = [mastodon_clocked.add_status(f"post {n}") for n in range(3)]
    draft = published_draft(store, "mastodon", "hall_m", ids, X_NOW)
    mastodon_clocked.remaining = 0  # the first answer says so
    reader = MastodonReader(config.accounts["hall_m"], config.state_dir, clock=clock)
    report = read_due(config, store, clock.advance(hours=1), readers={"hall_m": reader})
    reader.close()
    assert (report.readings, report.errors) == (1, [])
    assert report.paused == ["hall_m until 2026-03-02 15:35 UTC"]  # the fake's reset: +5 min
    assert _gets(mastodon_clocked) == 1
    mastodon_clocked.remaining = 300
    later = read_due(config, store, clock.advance(minutes=6))
    assert later.readings == 2  # the two left, at the next pass after the reset
    assert len(EngagementStore(store).readings([draft])) == 3


def test_a_site_that_is_not_mastodon_is_one_failed_reading_and_no_row(
        tmp_path: Path, web_page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTODON_ENV, "some-token")
    config = load_config(write_config(tmp_path, mastodon_account_toml("hall_m", web_page)))
    store = Store(config.storage_url)
    draft = published_draft(store, "mastodon", "hall_m", ["101", "102"], X_NOW)
    before = store.get_draft(draft)
    report = read_due(config, store, X_NOW + timedelta(hours=2))
    assert report.errors == [
        f"reading account 'hall_m': mastodon: reading post 1: {web_page} answered 200 with "
        "something that is not the Mastodon API's answer (check that api_base is the "
        "Mastodon server); tried again at the next pass"]
    assert (report.readings, EngagementStore(store).readings()) == (0, [])
    assert store.get_draft(draft) == before  # reading never touches the draft
    store.close()
