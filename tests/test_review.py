"""The approval rules in the library, as the CLI and the desk both meet them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.errors import BotError, LengthError, PermissionDenied, TransitionError
from bot.people import add_user
from bot.review import (
    SlotPassed,
    approve_draft,
    edit_draft,
    expire_overdue,
    overdue_ids,
    reject_draft,
    require_role,
    reschedule_draft,
)
from bot.settings import ApprovalConfig, Config
from bot.store import NewDraft, Post, Store, StoredChart

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr("bot.people._hasher", lambda: PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return dataclasses.replace(load_config(ROOT / "config.toml"),
                               storage_url=f"sqlite:///{tmp_path / 'review.db'}")


@pytest.fixture
def store(config: Config, clock: Clock) -> Any:
    s = Store(config.storage_url, clock=clock)
    yield s
    s.close()


def _people(store: Store) -> None:
    for name, role in (("ada", "approver"), ("bea", "approver"), ("eddie", "editor"),
                       ("vic", "viewer")):
        add_user(store, name, role, "correct horse battery")


def _draft(store: Store, period: str = "p1", hours: float = 3, state: str = "pending_review",
           chart: bool = True) -> int:
    thread = {p: (Post("One."), Post("Two.", ("c",) if chart else ())) for p in ("x", "bluesky")}
    charts = (StoredChart("c", "bar", "Chart", b"png", "Bar chart.", 1, 1),) if chart else ()
    draft_id, _ = store.create_draft(NewDraft(
        recipe="r", title="T", period_key=period, period_label="last week", as_of=T0,
        slot_at=T0 + timedelta(hours=hours), approval="required", state=state,
        platforms=("x", "bluesky"), data_hash=period, thread=thread, charts=charts))
    return draft_id


def test_with_no_people_the_command_line_is_the_operator(store: Store, config: Config) -> None:
    draft_id = _draft(store)
    assert approve_draft(store, config, draft_id, "root").state == "approved"


def test_roles_decide_who_does_what(store: Store, config: Config) -> None:
    _people(store)
    draft_id = _draft(store)
    with pytest.raises(PermissionDenied) as refused:
        approve_draft(store, config, draft_id, "vic")
    assert refused.value.message == "vic is a viewer: only approver or admin users may approve"
    with pytest.raises(PermissionDenied):
        approve_draft(store, config, draft_id, "eddie")
    with pytest.raises(PermissionDenied) as stranger:
        require_role(store, "mallory", "view")
    assert stranger.value.message == ("'mallory' is not a citycrier user (add them with "
                                      "`citycrier users add mallory --role approver`)")
    edit_draft(store, draft_id, "eddie", texts={"x": ["Uno.", "Dos."]})
    assert approve_draft(store, config, draft_id, "ada").state == "approved"


def test_two_person_rule_an_approver_cannot_approve_what_they_edited(
        store: Store, config: Config) -> None:
    _people(store)
    two = dataclasses.replace(config, approval=ApprovalConfig(two_person=True))
    draft_id = _draft(store)
    edit_draft(store, draft_id, "ada", alts={"c": "A clearer description."})
    with pytest.raises(PermissionDenied) as refused:
        approve_draft(store, two, draft_id, "ada")
    assert refused.value.message == ("ada edited draft 1; with two-person approval on, another "
                                     "approver must approve it")
    assert approve_draft(store, config, draft_id, "ada").state == "approved"  # rule off: ok
    other = _draft(store, period="p2")
    edit_draft(store, other, "ada", texts={"bluesky": ["Uno.", "Dos."]})
    assert approve_draft(store, two, other, "bea").state == "approved"


def test_an_edit_is_a_new_revision_and_sends_an_approved_draft_back(
        store: Store, config: Config) -> None:
    _people(store)
    draft_id = _draft(store)
    approve_draft(store, config, draft_id, "ada")
    d = edit_draft(store, draft_id, "eddie", texts={"x": ["One, edited.", "Two."]},
                   alts={"c": "  Bar chart of requests.  "}, expect_revision=1)
    assert (d.state, d.revision) == ("pending_review", 2)
    first, second = store.revisions(draft_id)
    assert first.thread["x"][0].text == "One."
    assert second.thread["x"] == (Post("One, edited."), Post("Two.", ("c",)))
    assert second.alts == {"c": "Bar chart of requests."}
    assert [(a.actor, a.action, a.detail) for a in store.audit(draft_id)][-2:] == [
        ("ada", "approve", "revision 1"), ("eddie", "edit", "edited the X posts and alt text")]


def test_an_approval_names_the_revision_it_read(store: Store, config: Config) -> None:
    _people(store)
    draft_id = _draft(store)
    edit_draft(store, draft_id, "eddie", texts={"x": ["Changed.", "Two."]})
    with pytest.raises(TransitionError) as stale:
        approve_draft(store, config, draft_id, "ada", expect_revision=1)
    assert stale.value.message == ("draft 1 changed while you were looking at it (now "
                                   "revision 2): reload it and try again")
    assert approve_draft(store, config, draft_id, "ada", expect_revision=2).revision == 2


def test_edits_are_measured_and_checked(store: Store) -> None:
    _people(store)
    draft_id = _draft(store)
    with pytest.raises(LengthError) as long:
        edit_draft(store, draft_id, "eddie", texts={"x": ["One.", "é" * 141 + "東" * 70]})
    assert (long.value.post, long.value.platform, long.value.length, long.value.limit) == \
        (2, "x", 281, 280)
    cases = [({"texts": {"x": ["One.", "   "]}}, "post 2 (x) is empty: write something or "
                                                 "reject the draft"),
             ({"texts": {"x": ["Only one."]}}, "draft 1: x has 2 posts, the edit gave 1"),
             ({"texts": {"mastodon": ["a", "b"]}}, "draft 1 has no mastodon thread"),
             ({"alts": {"c": " "}}, "chart 'c' needs alt text: describe what it shows"),
             ({"alts": {"c": "a" * 1001}}, "alt text for chart 'c' is 1,001 characters; the "
                                           "limit is 1,000"),
             ({"alts": {"nope": "text"}}, "draft 1 has no chart 'nope'")]
    for kwargs, message in cases:
        with pytest.raises(BotError) as refused:
            edit_draft(store, draft_id, "eddie", **kwargs)
        assert refused.value.message == message
    assert store.get_draft(draft_id).revision == 1
    assert edit_draft(store, draft_id, "eddie",
                      texts={"bluesky": ["é" * 141 + "東" * 70, "Two."]}).revision == 2


def test_an_unapproved_draft_expires_when_its_slot_passes(
        store: Store, config: Config, clock: Clock) -> None:
    soon, later = _draft(store, "p1", hours=1), _draft(store, "p2", hours=5)
    approved = _draft(store, "p3", hours=1, state="approved")
    clock.now = T0 + timedelta(hours=1)
    assert overdue_ids(store, clock.now.astimezone(CHICAGO)) == [soon]  # any zone compares
    assert expire_overdue(store, clock.now) == [soon]
    assert [store.get_draft(i).state for i in (soon, later, approved)] == [
        "expired", "pending_review", "approved"]
    assert expire_overdue(store, clock.now) == []
    seen: list[int] = []
    clock.now = T0 + timedelta(hours=6)
    assert expire_overdue(store, clock.now, on_expired=lambda d: seen.append(d.id)) == [later]
    assert seen == [later]


def test_approving_after_the_slot_expires_the_draft_instead(
        store: Store, config: Config, clock: Clock) -> None:
    draft_id = _draft(store, hours=1)
    clock.now = T0 + timedelta(hours=1)
    with pytest.raises(SlotPassed) as late:
        approve_draft(store, config, draft_id, "ada")
    assert late.value.message == (
        "draft 1's slot (Mon, Nov 2, 10:00 AM CST) passed before it was approved, so it has "
        "expired: reschedule it to a new time, then approve it")
    assert late.value.draft.state == "expired"
    new_slot = datetime(2026, 11, 3, 9, 0, tzinfo=CHICAGO)
    d = reschedule_draft(store, draft_id, "ada", new_slot)
    assert (d.state, d.slot_at) == ("pending_review", new_slot.astimezone(UTC))
    assert approve_draft(store, config, draft_id, "ada").state == "approved"


def test_a_new_slot_must_be_in_the_future(store: Store, clock: Clock) -> None:
    draft_id = _draft(store)
    with pytest.raises(BotError) as past:
        reschedule_draft(store, draft_id, "ada", datetime(2026, 11, 2, 8, 0, tzinfo=CHICAGO))
    assert past.value.message == ("the new slot 2026-11-02 08:00 CST is not in the future: "
                                  "pick a later time")
    with pytest.raises(BotError, match="needs a time zone"):
        reschedule_draft(store, draft_id, "ada", datetime(2026, 11, 3, 8, 0))


def test_a_rejection_needs_a_reason(store: Store) -> None:
    draft_id = _draft(store)
    with pytest.raises(BotError, match="a rejection needs a reason"):
        reject_draft(store, draft_id, "ada", " ")
    d = reject_draft(store, draft_id, "ada", "  Wrong total.  ")
    assert d.state == "rejected"
    assert store.audit(draft_id)[-1].detail == "Wrong total."
    with pytest.raises(TransitionError):
        reject_draft(store, draft_id, "ada", "again")
