"""publish_thread: whole threads on the real PDS, the X fake and the Mastodon fake, platform
by platform.

Every outcome here is asserted exactly: the draft's state, the one-line reason, what each
platform holds afterwards, and what the store recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from atproto import Client, models
from click.testing import CliRunner
from x_fake import Fault

from bot.cli import main
from bot.config import load_config
from bot.publish.runner import publish_due
from bot.publish.x import XClient
from bot.store import Store

from .conftest import (
    BSKY_ENV,
    THREAD_IMAGES,
    THREAD_TEXTS,
    X_NOW,
    FakeClock,
    PdsAccount,
    assert_mastodon_thread,
    assert_pds_thread,
    assert_x_thread,
    bluesky_account_toml,
    closed_port,
    mastodon_account_toml,
    pds_posts,
    set_secrets,
    thread_draft,
    write_config,
    x_account,
    x_account_toml,
    x_env,
)
from .test_bluesky import expire

NOW = X_NOW  # 2026-03-02 14:30 UTC, the X fake's clock too


def open_store(config: Any, clock: FakeClock) -> Store:
    return Store(config.storage_url, clock=clock)


# -- a demo thread, drafted from a recipe, through `citycrier publish` ---------------------

# The copied config's sample portal gets a label with "—" (3 bytes in UTF-8) and a dataset
# link, so the thread's last post carries a link facet whose byte offsets differ from its
# character offsets. (The label then no longer says "synthetic": this PDS is a test's own.)
LABEL = 'label = "citycrier synthetic sample"\nsynthetic = true\n'
LINKED = ('label = "Baton Rouge — sample"\nsynthetic = false\n'
          'dataset_link = "https://data.brla.gov/d/{dataset}"\n')
DEMO_LAST = ("Data: Baton Rouge — sample, as of Monday, Nov. 2. "
             "https://data.brla.gov/d/baton_rouge_crime\n\n5/5")


@pytest.mark.pds
@pytest.mark.spec
def test_demo_thread_reaches_the_pds_whole_through_citycrier_publish(
        project: Path, bsky: PdsAccount, x_live: Any, mastodon_live: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = project / "config.toml"
    text = config_path.read_text(encoding="utf-8")
    assert LABEL in text
    config_path.write_text(text.replace(LABEL, LINKED) + "\n" + bluesky_account_toml(
        "cityhall_bluesky", bsky) + "\n" + x_account_toml("cityhall_x", x_live.base_url)
        + "\n" + mastodon_account_toml("cityhall_m", mastodon_live.base_url),
        encoding="utf-8")
    set_secrets(monkeypatch, bsky)
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, [*args, "--config", str(config_path)])
        return result.exit_code, result.stdout + result.stderr

    assert cli("draft", "baton_rouge_crime_monthly", "--as-of", "2026-11-02") == (
        0, "drafted draft 1 (approved)\n")
    config = load_config(config_path)
    store = Store(config.storage_url)
    store.transition(1, "reschedule", "dana", "post it now", slot_at=datetime.now(UTC))
    assert cli("publish") == (
        0, "draft 1 (baton_rouge_crime_monthly): published: every post confirmed on "
           "bluesky, x, mastodon\n")

    rev = store.revision(1)
    charts = {c.name: c for c in store.charts(1)}
    texts = [p.text for p in rev.thread["bluesky"]]
    assert texts[-1] == DEMO_LAST
    assert_mastodon_thread(mastodon_live, [p.text for p in rev.thread["mastodon"]],
                           [0, 1, 1, 0, 0])
    records = pds_posts(bsky)
    assert_pds_thread(records, texts, [0, 1, 1, 0, 0])

    # every post as the PDS holds it: getRecord answers each with the cid we were given
    reader = Client(bsky.url)
    try:
        for record in records:
            got = reader.com.atproto.repo.get_record(models.ComAtprotoRepoGetRecord.Params(
                repo=bsky.did, collection="app.bsky.feed.post",
                rkey=record.uri.rsplit("/", 1)[1]))
            assert (got.uri, got.cid) == (record.uri, record.cid)
    finally:
        reader.request.close()

    # the charts: alt text as drafted, the PNG's own size as aspect ratio, the bytes uploaded
    shown = [(i.alt, i.aspect_ratio.width, i.aspect_ratio.height, i.image.size)
             for r in records if r.value.embed for i in r.value.embed.images]
    assert shown == [(charts[n].alt, 1600, 900, len(charts[n].png))
                     for n in ("monthly", "by_district")]
    assert shown[0][0].startswith("Column chart. Baton Rouge recorded 931 incidents in October.")

    # the link facet: UTF-8 byte offsets ("—" is 3 bytes, one character)
    last = records[-1].value
    [facet] = last.facets
    assert (facet.index.byte_start, facet.index.byte_end) == (52, 93)
    assert last.text.encode()[52:93] == b"https://data.brla.gov/d/baton_rouge_crime"
    assert last.text.index("https://") == 50  # characters: two fewer than bytes
    assert facet.features[0].uri == "https://data.brla.gov/d/baton_rouge_crime"
    assert all(r.value.facets is None for r in records[:-1])

    # the store: one confirmed receipt per post per platform, matching what was written
    receipts = store.receipts(1, "bluesky")
    assert [(r.post_index, r.remote_id, r.uri, r.cid) for r in receipts] == [
        (i, r.uri.rsplit("/", 1)[1], r.uri, r.cid) for i, r in enumerate(records)]
    assert all(r.confirmed and r.account == "cityhall_bluesky" for r in receipts)
    x_texts = [p.text for p in rev.thread["x"]]
    assert_x_thread(x_live, x_texts, [0, 1, 1, 0, 0])
    assert [r.remote_id for r in store.receipts(1, "x")] == [t.id for t in x_live.thread()]
    assert [x_live.media[m].alt for t in x_live.thread() for m in t.media_ids] == [
        charts["monthly"].alt, charts["by_district"].alt]
    assert [mastodon_live.media[m].description for s in mastodon_live.thread()
            for m in s.media_ids] == [charts["monthly"].alt, charts["by_district"].alt]
    assert [r.remote_id for r in store.receipts(1, "mastodon")] == [
        s.id for s in mastodon_live.thread()]
    assert {p: d["state"] for p, d in store.deliveries(1).items()} == {
        "bluesky": "done", "x": "done", "mastodon": "done"}
    draft = store.get_draft(1)
    assert (draft.state, draft.error) == ("published", "")
    assert [(a.action, a.detail) for a in store.audit(1)][1:] == [
        ("reschedule", "post it now"),
        ("claim", "publishing (approved)"),
        ("published", "every post confirmed on bluesky, x, mastodon"),
    ]
    store.close()


# -- platforms are independent ----------------------------------------------------------


@pytest.mark.pds
@pytest.mark.spec
def test_x_down_while_bluesky_succeeds_then_the_next_pass_finishes_x_only(
        tmp_path: Path, bsky: PdsAccount, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch, bsky)
    down = f"http://127.0.0.1:{closed_port()}"
    bluesky_table = bluesky_account_toml("cityhall", bsky)
    config = load_config(write_config(tmp_path, bluesky_table, x_account_toml("cityhall_x", down)))
    store = open_store(config, clock)
    draft_id, _ = store.create_draft(thread_draft())

    [outcome] = publish_due(config, store, clock())
    why = f"x: could not reach {down} for the login (try again later)"
    assert (outcome.state, outcome.detail) == ("partially_published", why)
    assert_pds_thread(pds_posts(bsky), list(THREAD_TEXTS), THREAD_IMAGES)
    assert store.deliveries(draft_id) == {
        "bluesky": {"account": "cityhall", "state": "done", "error": "", "retry_at": None},
        "x": {"account": "cityhall_x", "state": "retry", "error": why[3:],
              "retry_at": NOW + timedelta(minutes=5)}}
    draft = store.get_draft(draft_id)
    assert (draft.error, draft.retry_at) == (why, NOW + timedelta(minutes=5))
    assert store.receipts(draft_id, "x") == []

    clock.advance(minutes=4)
    assert publish_due(config, store, clock()) == []  # X's retry time has not come

    clock.advance(minutes=1)  # X is back
    config = load_config(write_config(tmp_path, bluesky_table,
                                      x_account_toml("cityhall_x", x_clocked.base_url)))
    bluesky_records = pds_posts(bsky)
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on bluesky, x")
    assert pds_posts(bsky) == bluesky_records  # Bluesky was not touched again
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)
    assert [a.action for a in store.audit(draft_id)] == [
        "draft", "claim", "partial", "claim", "published"]


@pytest.mark.pds
@pytest.mark.spec
def test_three_platforms_one_fails_the_others_finish_and_the_next_pass_completes_it(
        tmp_path: Path, bsky: PdsAccount, x_clocked: Any, mastodon_clocked: Any,
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch, bsky)
    config = load_config(write_config(
        tmp_path, bluesky_account_toml("cityhall", bsky),
        x_account_toml("cityhall_x", x_clocked.base_url),
        mastodon_account_toml("cityhall_m", mastodon_clocked.base_url)))
    store = open_store(config, clock)
    draft_id, _ = store.create_draft(thread_draft(("bluesky", "x", "mastodon")))
    # Mastodon's third status: the server fails (503) before writing it
    mastodon_clocked.fail_next("create_status", Fault(status=503, body={
        "error": "Unavailable"}), after=2)

    [outcome] = publish_due(config, store, clock())
    second = mastodon_clocked.thread()[1].id
    why = (f"mastodon: post 3 of 5: the reply to {second}: Mastodon answered 503; it may or "
           f"may not have been written")
    assert (outcome.state, outcome.detail) == ("partially_published", why)
    assert_pds_thread(pds_posts(bsky), list(THREAD_TEXTS), THREAD_IMAGES)
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)
    assert [s.text for s in mastodon_clocked.thread()] == list(THREAD_TEXTS[:2])
    assert {p: d["state"] for p, d in store.deliveries(draft_id).items()} == {
        "bluesky": "done", "x": "done", "mastodon": "retry"}
    assert [(r.post_index, r.confirmed) for r in store.receipts(draft_id, "mastodon")] == [
        (0, True), (1, True), (2, False)]

    clock.advance(minutes=1)  # the retry time after an unknown outcome
    bluesky_records, x_writes = pds_posts(bsky), x_clocked.writes
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == (
        "published", "every post confirmed on bluesky, x, mastodon")
    assert pds_posts(bsky) == bluesky_records and x_clocked.writes == x_writes
    assert_mastodon_thread(mastodon_clocked, list(THREAD_TEXTS), THREAD_IMAGES)
    assert [a.action for a in store.audit(draft_id)] == [
        "draft", "claim", "partial", "claim", "published"]


@pytest.mark.pds
@pytest.mark.spec
def test_bluesky_down_does_not_stop_x(tmp_path: Path, x_clocked: Any, clock: FakeClock,
                                      pds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    down = PdsAccount(f"http://127.0.0.1:{closed_port()}", "gone.test", "did:plc:x", "pw")
    set_secrets(monkeypatch, down)
    config = load_config(write_config(tmp_path, bluesky_account_toml("cityhall", down),
                                      x_account_toml("cityhall_x", x_clocked.base_url)))
    store = open_store(config, clock)
    store.create_draft(thread_draft())
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == (
        "partially_published", f"bluesky: could not reach {down.url} to log in (try again later)")
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)


# -- Bluesky sessions and passwords -----------------------------------------------------


@pytest.mark.pds
def test_expired_saved_session_means_one_login_and_the_thread_posts(
        tmp_path: Path, bsky: PdsAccount, clock: FakeClock, sdk: Any, pds: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.publish.bluesky as bluesky_module

    monkeypatch.setattr(bluesky_module, "default_client", sdk)  # counts every XRPC call
    set_secrets(monkeypatch, bsky)
    config = load_config(write_config(tmp_path, bluesky_account_toml("cityhall", bsky)))
    store = open_store(config, clock)
    store.create_draft(thread_draft(("bluesky",)))
    saved = config.state_dir / "sessions" / "bluesky-cityhall.session"
    bluesky_module.BlueskyClient(config.accounts["cityhall"], config.state_dir).login()
    assert sdk.count("com.atproto.server.createSession") == 1
    handle, did, access, refresh, endpoint = saved.read_text().split(":::")
    past = int(datetime.now(UTC).timestamp()) - 3600
    stale = [expire(access, pds.jwt_secret, past), expire(refresh, pds.jwt_secret, past)]
    saved.write_text(":::".join([handle, did, *stale, endpoint]))

    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on bluesky")
    assert sdk.count("com.atproto.server.refreshSession") == 1  # the SDK tried the refresh
    assert sdk.count("com.atproto.server.createSession") == 2  # then exactly one login
    assert sdk.count("com.atproto.repo.createRecord") == 5
    assert_pds_thread(pds_posts(bsky), list(THREAD_TEXTS), THREAD_IMAGES)
    assert stale[0] not in saved.read_text()


@pytest.mark.pds
def test_wrong_password_posts_nothing_and_waits_for_a_person(
        tmp_path: Path, bsky: PdsAccount, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BSKY_ENV, "not-the-password")
    config_path = write_config(tmp_path, bluesky_account_toml("cityhall", bsky))
    config = load_config(config_path)
    store = open_store(config, clock)
    draft_id, _ = store.create_draft(thread_draft(("bluesky",)))
    why = (f"bluesky: account 'cityhall' ({bsky.handle}): {bsky.url} refused the handle or app "
           f"password (check {BSKY_ENV}: it must be an app password of {bsky.handle}, made "
           "under Settings > Privacy and security > App passwords)")

    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("on_hold", why)
    assert "not-the-password" not in why
    assert pds_posts(bsky) == []
    assert store.receipts(draft_id) == []  # no intent either: the login came first
    assert store.get_draft(draft_id).error == why
    assert store.deliveries(draft_id)["bluesky"]["state"] == "needs_person"
    clock.advance(hours=1)
    assert publish_due(config, store, clock()) == []  # on hold: never retried by itself


# -- X: rate limits and duplicates ------------------------------------------------------


class FaultOnPost(XClient):
    """An XClient whose n-th post meets a fault the X fake serves (once)."""

    def __init__(self, fake: Any, n: int, fault: Fault) -> None:
        super().__init__(x_account(fake), env=x_env())
        self.fake, self.n, self.fault, self.posts = fake, n, fault, 0

    def create_post(self, content: Any, *, key: str, root: Any, parent: Any) -> Any:
        self.posts += 1
        if self.posts == self.n:
            self.fake.fail_next("create_tweet", self.fault)
        return super().create_post(content, key=key, root=root, parent=parent)


@pytest.mark.spec
def test_429_reschedules_the_rest_of_the_thread_for_the_reset_time(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    config = load_config(write_config(tmp_path, x_account_toml("cityhall_x", x_clocked.base_url)))
    store = open_store(config, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))
    reset = NOW + timedelta(minutes=20)
    day_reset = NOW + timedelta(hours=3)
    limited = FaultOnPost(x_clocked, 3, Fault(status=429, headers={
        "x-rate-limit-reset": str(int(reset.timestamp())),
        "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(day_reset.timestamp()))}))

    [outcome] = publish_due(config, store, clock(), clients={"x": limited})
    second = x_clocked.thread()[1].id
    why = f"x: X rate-limited the reply to {second}; will try again at 2026-03-02 17:30 UTC"
    assert (outcome.state, outcome.detail) == ("partially_published", why)
    assert len(x_clocked.thread()) == 2
    assert store.deliveries(draft_id)["x"] == {
        "account": "cityhall_x", "state": "rate_limited", "error": why[3:],
        "retry_at": day_reset}
    assert store.get_draft(draft_id).retry_at == day_reset
    assert [(r.post_index, r.confirmed) for r in store.receipts(draft_id)] == [
        (0, True), (1, True), (2, False)]

    clock.now = reset  # the 15-minute window reset, but the 24-hour cap had not
    assert publish_due(config, store, clock(), clients={"x": limited}) == []
    clock.now = day_reset
    [outcome] = publish_due(config, store, clock(), clients={"x": limited})
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on x")
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)
    assert [c for c in x_clocked.calls if c[:2] == ("POST", "/2/tweets")] == [
        ("POST", "/2/tweets", 201)] * 2 + [("POST", "/2/tweets", 429)] + [
        ("POST", "/2/tweets", 201)] * 3


@pytest.mark.spec
def test_duplicate_content_is_final_and_never_retried(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    config = load_config(write_config(tmp_path, x_account_toml("cityhall_x", x_clocked.base_url)))
    store = open_store(config, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))
    earlier = FaultOnPost(x_clocked, 0, Fault())
    from bot.publish.base import PostContent

    earlier.create_post(PostContent(THREAD_TEXTS[1]), key="", root=None, parent=None)

    [outcome] = publish_due(config, store, clock())
    first = x_clocked.thread()[1].id
    why = (f"x: post 2 of 5: X refused the reply to {first} as duplicate content (a recent "
           "post has the same text): not retried; change the text to post it")
    assert (outcome.state, outcome.detail) == ("on_hold", why)
    assert store.deliveries(draft_id)["x"]["state"] == "needs_person"
    tweets = [c for c in x_clocked.calls if c[:2] == ("POST", "/2/tweets")]
    assert tweets == [("POST", "/2/tweets", 201)] * 2 + [("POST", "/2/tweets", 403)]
    for _ in range(3):
        clock.advance(hours=1)
        assert publish_due(config, store, clock()) == []
    assert [c for c in x_clocked.calls if c[:2] == ("POST", "/2/tweets")] == tweets
    assert store.get_draft(draft_id).state == "on_hold"


# -- per-account caps -------------------------------------------------------------------


# The caps are the same mechanism on every platform: one test per platform, through the runner.
CAPPED = {"x": ("x_clocked", "cityhall_x", x_account_toml),
          "mastodon": ("mastodon_clocked", "cityhall_m", mastodon_account_toml)}


def capped_account(request: pytest.FixtureRequest, tmp_path: Path, platform: str,
                   grace_minutes: int = 60, **caps: int) -> tuple[Any, str, Any]:
    """(the platform's fake, the account's name, the config) for one capped account."""
    fixture, name, toml = CAPPED[platform]
    fake = request.getfixturevalue(fixture)
    config = load_config(write_config(tmp_path, toml(name, fake.base_url, **caps),
                                      grace_minutes=grace_minutes))
    return fake, name, config


def sent_texts(fake: Any) -> list[str]:
    """What the fake holds, oldest first (the X fake's tweets or the Mastodon fake's
    statuses)."""
    return [getattr(t, "sent", None) or t.text for t in fake.thread()]


@pytest.mark.spec
@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_a_thread_longer_than_a_cap_waits_for_a_person(
        tmp_path: Path, request: pytest.FixtureRequest, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    set_secrets(monkeypatch)
    fake, name, config = capped_account(request, tmp_path, platform, posts_per_hour=4)
    store = open_store(config, clock)
    store.create_draft(thread_draft((platform,)))
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == (
        "on_hold", f"{platform}: the thread has 5 posts but account '{name}' may post 4 an "
                   f"hour (posts_per_hour in config.toml): raise posts_per_hour or shorten "
                   f"the thread")
    assert fake.calls == []  # not even a login


@pytest.mark.spec
@pytest.mark.parametrize("platform", ["x", "mastodon"])
@pytest.mark.parametrize(("caps", "later", "label", "until"), [
    ({"posts_per_hour": 8}, timedelta(minutes=10), "8 posts an hour (posts_per_hour in "
     "config.toml) and posted 5 in the last hour", datetime(2026, 3, 2, 15, 31, tzinfo=UTC)),
    ({"posts_per_day": 8}, timedelta(hours=2), "8 posts a day (posts_per_day in config.toml) "
     "and posted 5 in the last 24 hours", datetime(2026, 3, 3, 14, 31, tzinfo=UTC)),
], ids=["per-hour", "per-day"])
def test_a_thread_over_the_cap_waits_until_enough_posts_leave_the_window(
        tmp_path: Path, request: pytest.FixtureRequest, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, caps: dict[str, int], later: timedelta, label: str,
        until: datetime, platform: str) -> None:
    set_secrets(monkeypatch)
    fake, name, config = capped_account(request, tmp_path, platform, grace_minutes=60 * 48,
                                        **caps)
    store = open_store(config, clock)
    store.create_draft(thread_draft((platform,)))
    assert publish_due(config, store, clock())[0].state == "published"

    clock.advance(seconds=later.total_seconds())
    other = tuple(f"{t} (again)" for t in THREAD_TEXTS)
    second, _ = store.create_draft(thread_draft((platform,), texts=other, slot_at=clock(),
                                                period_key="next"))
    calls = len(fake.calls)
    [outcome] = publish_due(config, store, clock())
    why = (f"{platform}: account '{name}' may post {label}; this thread needs 5: it waits "
           f"until {until:%Y-%m-%d %H:%M} UTC")
    assert (outcome.state, outcome.detail) == ("partially_published", why)
    assert store.get_draft(second).retry_at == until
    assert len(fake.thread()) == 5 and len(fake.calls) == calls  # the server was not asked

    clock.now = until - timedelta(minutes=1)
    assert publish_due(config, store, clock()) == []
    clock.now = until
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", f"every post confirmed on "
                                                            f"{platform}")
    assert sent_texts(fake) == list(THREAD_TEXTS) + list(other)

