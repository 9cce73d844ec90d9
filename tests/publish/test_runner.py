"""publish_due: what is due, claimed one at a time; missed slots; a person's release."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from x_fake import CREDENTIALS

from bot.cli import main
from bot.config import load_config
from bot.publish.base import PostContent
from bot.publish.runner import publish_due
from bot.publish.x import XClient
from bot.store import Store

from .conftest import (
    THREAD_IMAGES,
    THREAD_TEXTS,
    X_ENVS,
    X_NOW,
    FakeClock,
    assert_x_thread,
    thread_draft,
    write_config,
    x_account_toml,
)
from .test_thread import closed_port, load_account, set_secrets

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
    other = XClient(load_account(x_clocked), env=dict(zip(X_ENVS, CREDENTIALS, strict=True)))
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
        super().__init__(load_account(fake), env=dict(zip(X_ENVS, CREDENTIALS, strict=True)))
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
        super().__init__(load_account(fake), env=dict(zip(X_ENVS, CREDENTIALS, strict=True)))
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
