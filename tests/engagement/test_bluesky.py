"""Bluesky read-back against a real app view: @atproto/dev-env's PLC, PDS and @atproto/bsky
(tests/servers/appview.js). The city publishes a thread through the real publisher; a second
account likes, reposts, quotes and replies; getPosts and getPostThread, read through the
city's PDS, give back exactly what was done."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from atproto import Client, models
from atproto_client.exceptions import BadRequestError

from bot.config import load_config
from bot.engagement import Counts, Published, Reply
from bot.engagement.bluesky import BlueskyReader, rest_until
from bot.engagement.readback import read_due
from bot.engagement.store import EngagementStore
from bot.publish.runner import publish_due
from bot.store import Store
from tests.publish.conftest import (
    BSKY_ENV,
    PdsAccount,
    bluesky_account_toml,
    thread_draft,
    write_config,
)

BOUND = 30.0  # seconds the app view may take to index what was just written


def _account(net: Any, prefix: str) -> tuple[PdsAccount, Client]:
    """A new account on the network's PDS, logged in once the app view has indexed it."""
    handle = f"{prefix}{secrets.token_hex(3)}.test"
    password = secrets.token_urlsafe(16)
    response = httpx.post(f"{net.pds}/xrpc/com.atproto.server.createAccount", json={
        "handle": handle, "email": f"{handle}@example.test", "password": password},
        timeout=30.0)
    assert response.status_code == 200, response.text
    client = Client(net.pds)
    client.login(handle, password, fetch_bsky_profile=False)
    started = time.monotonic()
    while True:  # bounded: a new account's profile reaches the app view in about a second
        try:
            client.me = client.get_profile(handle)
            break
        except BadRequestError:
            assert time.monotonic() - started < BOUND, "the app view never indexed " + handle
            time.sleep(0.1)
    return PdsAccount(net.pds, handle, str(response.json()["did"]), password), client


def test_counts_and_the_reply_read_back_equal_what_a_resident_did(
        appview: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    city, city_client = _account(appview, "hall")
    resident_account, resident = _account(appview, "resident")
    city_client.request.close()
    config = load_config(write_config(tmp_path, bluesky_account_toml("hall", city)))
    monkeypatch.setenv(BSKY_ENV, city.password)
    store = Store(config.storage_url)
    now = datetime.now(UTC)
    draft_id, _ = store.create_draft(thread_draft(("bluesky",), slot_at=now))
    [outcome] = publish_due(config, store, now)
    assert outcome.state == "published", outcome.detail
    receipts = store.receipts(draft_id, "bluesky")
    first, second = receipts[0], receipts[1]
    first_ref = models.ComAtprotoRepoStrongRef.Main(uri=first.uri, cid=first.cid)

    resident.like(first.uri, first.cid)
    resident.repost(first.uri, first.cid)
    resident.like(second.uri, second.cid)
    question = resident.send_post("Will the new schedule be online?", reply_to=
                                  models.AppBskyFeedPost.ReplyRef(parent=first_ref,
                                                                  root=first_ref))
    resident.send_post("Worth a read", embed=models.AppBskyEmbedRecord.Main(record=first_ref))
    resident.request.close()

    reader = BlueskyReader(config.accounts["hall"], config.state_dir)
    posts = [Published(draft_id, "bluesky", "hall", r.post_index, r.remote_id, r.uri or "",
                       r.posted_at or now) for r in receipts]
    started = time.monotonic()
    while True:  # bounded: the app view indexes the resident's writes from the firehose
        seen = reader.read_counts(posts)
        if seen.get(first.remote_id) == Counts(1, 1, 2, 1) and \
                seen.get(second.remote_id) == Counts(1, 0, 1, 0):
            break
        assert time.monotonic() - started < BOUND, f"never indexed: {seen}"
        time.sleep(0.2)
    reader.close()

    report = read_due(config, store, datetime.now(UTC), draft_ids=[draft_id])
    assert (report.readings, report.replies, report.errors) == (5, 1, [])
    readings = {r.post_index: r.counts for r in EngagementStore(store).readings([draft_id])}
    # replies counted are the residents': the thread's own next post is not one of them
    assert readings == {0: Counts(1, 1, 1, 1), 1: Counts(1, 0, 0, 0), 2: Counts(),
                        3: Counts(), 4: Counts()}
    [reply] = EngagementStore(store).replies(draft_id)[("bluesky", 0)]
    rkey = question.uri.rsplit("/", 1)[1]
    assert reply == Reply(0, question.uri, resident_account.handle,
                          "Will the new schedule be online?",
                          f"https://bsky.app/profile/{resident_account.handle}/post/{rkey}",
                          reply.written_at)
    assert abs((reply.written_at - now).total_seconds()) < 120
    assert EngagementStore(store).replies(draft_id).keys() == {("bluesky", 0)}
    store.close()


def test_no_calls_left_says_until_when_to_rest() -> None:
    import doctest

    from bot.engagement import bluesky

    assert rest_until({"RateLimit-Remaining": "0", "RateLimit-Reset": "1767225600"}) == \
        datetime(2026, 1, 1, tzinfo=UTC)
    assert rest_until({"ratelimit-remaining": "1", "ratelimit-reset": "1767225600"}) is None
    assert rest_until({}) is None
    assert doctest.testmod(bluesky).failed == 0
