"""retract_thread: every post on every platform deleted, last first, audited, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from x_fake import Fault

from bot.config import load_config
from bot.errors import BotError, TransitionError
from bot.publish.retract import Deleted, retract_thread
from bot.publish.runner import publish_due
from bot.store import Store

from .conftest import (
    THREAD_IMAGES,
    THREAD_TEXTS,
    FakeClock,
    PdsAccount,
    assert_pds_thread,
    bluesky_account_toml,
    mastodon_account_toml,
    pds_posts,
    set_secrets,
    thread_draft,
    write_config,
    x_account_toml,
)


def published(tmp_path: Path, bsky: PdsAccount, fake: Any, clock: FakeClock) -> tuple[Any, Store,
                                                                                     int]:
    config = load_config(write_config(tmp_path, bluesky_account_toml("cityhall", bsky),
                                      x_account_toml("cityhall_x", fake.base_url)))
    store = Store(config.storage_url, clock=clock)
    draft_id, _ = store.create_draft(thread_draft())
    assert publish_due(config, store, clock())[0].state == "published"
    return config, store, draft_id


@pytest.mark.pds
@pytest.mark.spec
def test_retract_deletes_every_post_last_first_and_says_which(
        tmp_path: Path, bsky: PdsAccount, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch, bsky)
    config, store, draft_id = published(tmp_path, bsky, x_clocked, clock)
    records = pds_posts(bsky)
    tweets = [t.id for t in x_clocked.thread()]

    deleted = retract_thread(config, store, draft_id, "dana")
    assert deleted == [Deleted("bluesky", n, r.uri.rsplit("/", 1)[1], r.uri)
                       for n, r in reversed(list(enumerate(records, 1)))] + [
        Deleted("x", n, t, f"https://x.com/i/web/status/{t}")
        for n, t in reversed(list(enumerate(tweets, 1)))]
    assert pds_posts(bsky) == []
    assert x_clocked.thread() == [] and x_clocked.deleted == tweets[::-1]
    assert all(r.deleted_at is not None for r in store.receipts(draft_id))
    audit = [(a.actor, a.action, a.detail) for a in store.audit(draft_id)][3:]
    assert audit == [("dana", "delete_post", f"bluesky post {n}: {r.uri}")
                     for n, r in reversed(list(enumerate(records, 1)))] + [
        ("dana", "delete_post", f"x post {n}: https://x.com/i/web/status/{t}")
        for n, t in reversed(list(enumerate(tweets, 1)))] + [
        ("dana", "retract", "deleted 10 posts")]
    assert store.get_draft(draft_id).state == "retracted"
    with pytest.raises(TransitionError) as again:
        retract_thread(config, store, draft_id, "dana")
    assert again.value.message == (
        f"draft {draft_id} is retracted: only a published, partially published or on-hold "
        "thread can be retracted")


@pytest.mark.pds
@pytest.mark.spec
def test_a_failed_deletion_stops_that_platform_and_a_second_run_finishes(
        tmp_path: Path, bsky: PdsAccount, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch, bsky)
    config, store, draft_id = published(tmp_path, bsky, x_clocked, clock)
    tweets = [t.id for t in x_clocked.thread()]
    x_clocked.fail_next("delete_tweet", Fault(status=503))  # the first deletion on X

    with pytest.raises(BotError) as caught:
        retract_thread(config, store, draft_id, "dana")
    assert caught.value.message == (
        f"draft {draft_id}: deleted 5 posts, then: x post 5 was not deleted: the deletion of "
        f"post {tweets[4]} failed: X answered 503 (try again later) (run `citycrier retract "
        f"{draft_id}` again)")
    assert pds_posts(bsky) == []  # Bluesky went on: platforms are independent
    assert [t.id for t in x_clocked.thread()] == tweets  # X kept the whole thread
    assert store.get_draft(draft_id).state == "published"
    assert store.audit(draft_id)[-1].action == "retract_incomplete"

    deleted = retract_thread(config, store, draft_id, "dana")
    assert [(d.platform, d.post) for d in deleted] == [("x", n) for n in (5, 4, 3, 2, 1)]
    assert x_clocked.thread() == []
    assert store.get_draft(draft_id).state == "retracted"


@pytest.mark.pds
@pytest.mark.spec
def test_retracting_a_partial_thread_holds_it_and_settles_unconfirmed_posts(
        tmp_path: Path, bsky: PdsAccount, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch, bsky)
    config = load_config(write_config(tmp_path, bluesky_account_toml("cityhall", bsky),
                                      x_account_toml("cityhall_x", x_clocked.base_url)))
    store = Store(config.storage_url, clock=clock)
    draft_id, _ = store.create_draft(thread_draft())
    x_clocked.fail_next("create_tweet", Fault(status=503, after_write=True))  # written, 503
    [outcome] = publish_due(config, store, clock())
    assert outcome.state == "partially_published"
    assert outcome.detail == (
        "x: post 1 of 5: the first post of a thread: X answered 503; it may or may not have "
        "been written (citycrier looks for it among the account's recent posts before writing "
        "again)")
    assert_pds_thread(pds_posts(bsky), list(THREAD_TEXTS), THREAD_IMAGES)
    assert len(x_clocked.thread()) == 1  # written, though citycrier does not know it yet
    assert [(r.post_index, r.confirmed) for r in store.receipts(draft_id, "x")] == [(0, False)]

    deleted = retract_thread(config, store, draft_id, "dana")
    lone = x_clocked.deleted[0]
    assert [(d.platform, d.post, d.remote_id) for d in deleted][-1] == ("x", 1, lone)
    assert len(deleted) == 6
    assert x_clocked.thread() == [] and pds_posts(bsky) == []
    actions = [(a.action, a.detail) for a in store.audit(draft_id)]
    assert actions[3] == ("hold", "retracting: nothing more is posted")
    assert actions[-1] == ("retract", "deleted 6 posts")
    clock.advance(hours=1)
    assert publish_due(config, store, clock()) == []  # retracted: never resumed


def test_a_draft_not_yet_published_cannot_be_retracted(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    store = Store(config.storage_url)
    draft_id, _ = store.create_draft(thread_draft())
    with pytest.raises(TransitionError) as caught:
        retract_thread(config, store, draft_id, "dana")
    assert caught.value.message == (
        f"draft {draft_id} is approved: only a published, partially published or on-hold "
        "thread can be retracted")
    store.close()


@pytest.mark.spec
def test_retract_deletes_a_mastodon_thread_last_first(
        tmp_path: Path, mastodon_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    config = load_config(write_config(
        tmp_path, mastodon_account_toml("cityhall_m", mastodon_clocked.base_url)))
    store = Store(config.storage_url, clock=clock)
    draft_id, _ = store.create_draft(thread_draft(("mastodon",)))
    assert publish_due(config, store, clock())[0].state == "published"
    ids = [s.id for s in mastodon_clocked.thread()]
    mastodon_clocked.fail_next("delete_status", Fault(status=503, body={"error": "Down"}),
                               after=1)
    with pytest.raises(BotError) as failed:
        retract_thread(config, store, draft_id, "dana")
    assert failed.value.message == (
        f"draft {draft_id}: deleted 1 post, then: mastodon post 4 was not deleted: the "
        f"deletion of post {ids[3]} failed for account 'cityhall_m': Mastodon answered 503 "
        f"(Down) (try again later) (run `citycrier retract {draft_id}` again)")
    assert [s.id for s in mastodon_clocked.thread()] == ids[:4]  # the middle is never lost

    deleted = retract_thread(config, store, draft_id, "dana")
    assert deleted == [Deleted("mastodon", n, i, f"https://city.social/@cityhall/{i}")
                       for n, i in reversed(list(enumerate(ids[:4], 1)))]
    assert mastodon_clocked.thread() == [] and mastodon_clocked.deleted == ids[::-1]
    assert store.get_draft(draft_id).state == "retracted"
