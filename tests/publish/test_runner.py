"""publish_due: what is due, claimed one at a time; missed slots; a person's release."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.publish.base import PostContent
from bot.publish.runner import publish_due
from bot.publish.x import XClient
from bot.store import Store

from .conftest import (
    THREAD_IMAGES,
    THREAD_TEXTS,
    X_NOW,
    FakeClock,
    assert_x_thread,
    closed_port,
    set_secrets,
    thread_draft,
    write_config,
    x_account,
    x_account_toml,
    x_env,
)

NOW = X_NOW
MISSED = ("missed its slot 2026-03-02 11:30 UTC by more than 60 minutes: not posted late in a "
          "burst; release or reschedule it")


def setup(tmp_path: Path, base_url: str, clock: FakeClock) -> tuple[Path, Any, Store]:
    path = write_config(tmp_path, x_account_toml("cityhall_x", base_url))
    config = load_config(path)
    return path, config, Store(config.storage_url, clock=clock)


@pytest.mark.spec
def test_a_missed_slot_waits_for_a_person_and_shows_in_the_queue(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    path, config, store = setup(tmp_path, x_clocked.base_url, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",), slot_at=NOW - timedelta(hours=3)))

    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("on_hold", "missed slot: waiting for a person")
    assert x_clocked.calls == []  # nothing sent, not even a login
    assert store.audit(draft_id)[-1].detail == MISSED
    result = CliRunner().invoke(main, ["queue", "--config", str(path)])
    assert (result.exit_code, result.stdout) == (0, (
        f"{draft_id:>5}  on_hold              Mon Mar 02 05:30  calls: last week\n"
        "       missed slot: waiting for a person\n"))
    clock.advance(hours=1)
    assert publish_due(config, store, clock()) == []  # it stays on hold

    # a person releases it: it posts now, late but on purpose
    store.transition(draft_id, "release", "dana", "post it anyway")
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on x")
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)


@pytest.mark.spec
def test_within_the_grace_a_late_slot_still_posts(tmp_path: Path, x_clocked: Any,
                                                 clock: FakeClock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    _, config, store = setup(tmp_path, x_clocked.base_url, clock)
    store.create_draft(thread_draft(("x",), slot_at=NOW - timedelta(minutes=60)))
    [outcome] = publish_due(config, store, clock())
    assert outcome.state == "published"


@pytest.mark.spec
def test_a_retry_long_overdue_with_nothing_posted_waits_for_a_person(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    down = f"http://127.0.0.1:{closed_port()}"
    _, config, store = setup(tmp_path, down, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))
    assert publish_due(config, store, clock())[0].state == "partially_published"  # X is down

    clock.advance(hours=3)  # citycrier itself was down past the retry time
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("on_hold", "missed slot: waiting for a person")
    assert store.audit(draft_id)[-1].detail == (
        "missed its retry time 2026-03-02 14:35 UTC by more than 60 minutes: not posted late "
        "in a burst; release or reschedule it")


@pytest.mark.spec
def test_a_thread_already_begun_is_finished_however_late(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    _, config, store = setup(tmp_path, x_clocked.base_url, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))

    stopped = iter([False, False, False, True])  # stop after two posts (draft check + 2 posts)
    [outcome] = publish_due(config, store, clock(), stop=lambda: next(stopped, True))
    assert (outcome.state, outcome.detail) == (
        "partially_published", "x: stopped before post 3 of 5: the next run continues")
    clock.advance(hours=5)
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on x")
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES)


@pytest.mark.spec
def test_releasing_a_hold_retries_the_platform_that_needed_a_person_once(
        tmp_path: Path, x_clocked: Any, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    _, config, store = setup(tmp_path, x_clocked.base_url, clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))
    other = XClient(x_account(x_clocked), env=x_env())
    clash = other.create_post(PostContent(THREAD_TEXTS[1]), key="", root=None, parent=None)
    assert publish_due(config, store, clock())[0].state == "on_hold"  # duplicate of post 2

    store.transition(draft_id, "release", "dana", "released before fixing anything")
    [outcome] = publish_due(config, store, clock())  # tried once more: still a duplicate
    assert outcome.state == "on_hold"
    assert publish_due(config, store, clock()) == []

    other.delete_post(clash)  # the person removes the clashing post, then releases
    store.transition(draft_id, "release", "dana", "removed the clashing post")
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("published", "every post confirmed on x")
    assert_x_thread(x_clocked, list(THREAD_TEXTS), THREAD_IMAGES, others=1)  # and the clash
    assert [a.action for a in store.audit(draft_id)] == [
        "draft", "claim", "hold", "release", "claim", "hold", "release", "claim", "published"]


class Watching(XClient):
    """An XClient that notes, at each post, the state of every draft in the store."""

    def __init__(self, fake: Any, store: Store) -> None:
        super().__init__(x_account(fake), env=x_env())
        self.store, self.seen = store, []

    def create_post(self, content: Any, *, key: str, root: Any, parent: Any) -> Any:
        self.seen.append(tuple(d.state for d in self.store.list_drafts()))
        return super().create_post(content, key=key, root=root, parent=parent)


@pytest.mark.spec
def test_drafts_are_claimed_one_at_a_time(tmp_path: Path, x_clocked: Any, clock: FakeClock,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    _, config, store = setup(tmp_path, x_clocked.base_url, clock)
    first, _ = store.create_draft(thread_draft(("x",)))
    second, _ = store.create_draft(thread_draft(
        ("x",), texts=tuple(f"{t} (2)" for t in THREAD_TEXTS), period_key="next"))
    watching = Watching(x_clocked, store)
    outcomes = publish_due(config, store, clock(), clients={"x": watching})
    assert [(o.draft_id, o.state) for o in outcomes] == [(first, "published"),
                                                         (second, "published")]
    # while the first thread posts, the second is not claimed (no lease runs out unused)
    assert watching.seen == [("publishing", "approved")] * 5 + [("published", "publishing")] * 5


class Exploding(XClient):
    def __init__(self, fake: Any) -> None:
        super().__init__(x_account(fake), env=x_env())
        self.posts = 0

    def create_post(self, content: Any, *, key: str, root: Any, parent: Any) -> Any:
        self.posts += 1
        if self.posts == 1:
            raise RuntimeError("boom")
        return super().create_post(content, key=key, root=root, parent=parent)


@pytest.mark.spec
def test_a_bug_in_one_draft_does_not_stop_the_others(
        tmp_path: Path, x_clocked: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    set_secrets(monkeypatch)
    _, config, store = setup(tmp_path, x_clocked.base_url, clock)
    first, _ = store.create_draft(thread_draft(("x",)))
    second, _ = store.create_draft(thread_draft(
        ("x",), texts=tuple(f"{t} (2)" for t in THREAD_TEXTS), period_key="next"))
    outcomes = publish_due(config, store, clock(), clients={"x": Exploding(x_clocked)})
    why = ("publishing stopped on an unexpected RuntimeError: boom (a bug in citycrier: report "
           "it); the receipts are kept and the next run resumes")
    assert [(o.draft_id, o.state, o.detail) for o in outcomes] == [
        (first, "partially_published", why),
        (second, "published", "every post confirmed on x")]
    assert store.get_draft(first).retry_at == NOW + timedelta(minutes=5)
    assert "draft 1: publishing failed unexpectedly" in caplog.text

    clock.advance(minutes=5)  # the intent of post 1 is settled first: it was never written
    [outcome] = publish_due(config, store, clock())
    assert (outcome.draft_id, outcome.state) == (first, "published")
    assert [t.sent for t in x_clocked.thread()] == [f"{t} (2)" for t in THREAD_TEXTS] + list(
        THREAD_TEXTS)


def test_stop_before_claiming_leaves_every_draft_as_it_was(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    _, config, store = setup(tmp_path, "http://127.0.0.1:9", clock)
    draft_id, _ = store.create_draft(thread_draft(("x",)))
    assert publish_due(config, store, clock(), stop=lambda: True) == []
    assert store.get_draft(draft_id).state == "approved"


class Recorder:
    """A platform client that only records what it is asked to post (thread-safe)."""

    platform = "x"

    def __init__(self) -> None:
        import threading

        self.sent: list[str] = []
        self._lock = threading.Lock()

    def login(self) -> str:
        return "cityhall"

    def new_key(self) -> str:
        return ""

    def create_post(self, content: Any, *, key: str, root: Any, parent: Any) -> Any:
        from bot.publish.base import Ref

        with self._lock:
            self.sent.append(content.text)
            return Ref(str(len(self.sent)))

    def find_post(self, content: Any, *, key: str, parent: Any, since: Any) -> Any:
        raise AssertionError("no post is left unconfirmed here")


@pytest.mark.postgres
def test_two_publishers_on_one_postgres_post_each_thread_once(
        tmp_path: Path, postgres_url: str, clock: FakeClock) -> None:
    import dataclasses

    config = dataclasses.replace(load_config(write_config(tmp_path, x_account_toml(
        "cityhall_x", "http://127.0.0.1:9", posts_per_hour=1000, posts_per_day=1000))),
        storage_url=postgres_url)
    store = Store(postgres_url, clock=clock)
    try:
        run_two_publishers(config, store, postgres_url, clock)
    finally:
        store.close()


def run_two_publishers(config: Any, store: Store, postgres_url: str, clock: FakeClock) -> None:
    """Round after round, one new thread and two publishers let go at the same moment."""
    import threading

    from sqlalchemy import event

    own = [Store(postgres_url, clock=clock) for _ in range(2)]  # as two processes would
    claiming = [threading.Barrier(2)]

    def both_look_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Hold each claim between its SELECT of due drafts and its UPDATE until the other
        publisher has looked too: the moment two claims can both win a draft."""
        if statement.startswith("SELECT") and "drafts.slot_at <=" in statement:
            try:
                claiming[0].wait(timeout=2)
            except threading.BrokenBarrierError:
                pass  # the other publisher found nothing due: nothing to race with

    for mine in own:
        event.listen(mine.engine, "after_cursor_execute", both_look_first)
    try:
        for n in range(10):
            posts = tuple(f"thread {n}, post {i}" for i in range(1, 6))
            draft_id, _ = store.create_draft(thread_draft(("x",), texts=posts,
                                                          period_key=f"p{n}"))
            recorder, start, done = Recorder(), threading.Barrier(2), []
            claiming[0] = threading.Barrier(2)

            def publisher(name: str, mine: Store, start: Any = start, done: Any = done,
                          recorder: Recorder = recorder, draft_id: int = draft_id) -> None:
                start.wait(timeout=30)
                done.extend(publish_due(config, mine, clock(), worker=name,
                                        draft_ids=[draft_id], clients={"x": recorder}))

            workers = [threading.Thread(target=publisher, args=(name, mine))
                       for name, mine in zip(("ada", "bea"), own, strict=True)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=60)
            assert recorder.sent == list(posts), f"round {n}"
            assert [(o.draft_id, o.state) for o in done] == [(draft_id, "published")]
    finally:
        for s in own:
            s.close()


@pytest.mark.postgres
def test_a_slow_publisher_keeps_its_thread_when_its_lease_runs_out(
        tmp_path: Path, postgres_url: str, clock: FakeClock) -> None:
    import dataclasses

    from bot.publish.runner import publishing_alone

    config = dataclasses.replace(load_config(write_config(tmp_path, x_account_toml(
        "cityhall_x", "http://127.0.0.1:9"))), storage_url=postgres_url)
    store, other = Store(postgres_url, clock=clock), Store(postgres_url, clock=clock)
    try:
        draft_id, _ = store.create_draft(thread_draft(("x",)))
        assert [d.id for d in store.claim_due(clock(), "ada")] == [draft_id]
        with publishing_alone(store, draft_id) as alone:  # ada is posting the thread, slowly
            assert alone
            clock.advance(minutes=11)  # past the claim's 10-minute lease
            recorder = Recorder()
            assert publish_due(config, other, clock(), worker="bea",
                               clients={"x": recorder}) == []
            assert recorder.sent == []  # bea took the claim over, but not the thread
    finally:
        store.close()
        other.close()


def test_a_recipe_chooses_its_account(tmp_path: Path, clock: FakeClock) -> None:
    import dataclasses

    config = load_config(write_config(tmp_path, x_account_toml("cityhall_x", "http://127.0.0.1:9"),
                                      x_account_toml("parks_x", "http://127.0.0.1:9")))
    store = Store(config.storage_url, clock=clock)
    chosen = dataclasses.replace(thread_draft(("x",)), source={"accounts": ["parks_x"]})
    default = thread_draft(("x",), period_key="2026-W10")
    first, _ = store.create_draft(chosen)
    second, _ = store.create_draft(default)
    outcomes = publish_due(config, store, clock(), clients={"x": Recorder()})
    assert [(o.draft_id, o.state) for o in outcomes] == [(first, "published"),
                                                         (second, "published")]
    assert {r.account for r in store.receipts(first)} == {"parks_x"}
    assert {r.account for r in store.receipts(second)} == {"cityhall_x"}
