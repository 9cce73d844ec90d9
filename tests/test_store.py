"""The store's contract, on SQLite and on a real PostgreSQL (tests/servers/postgres.py).

Every test takes `url`, parametrized over both backends: what one promises, the other keeps.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update

from bot import schema
from bot.errors import NotFound, StoreError, TransitionError
from bot.store import (
    APPROVED,
    PARTIAL,
    PENDING,
    PUBLISHING,
    SUPERSEDED,
    NewDraft,
    Post,
    Store,
    StoredChart,
)

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
CHI = ZoneInfo("America/Chicago")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'citycrier.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(url: str) -> Store:
    s = Store(url, clock=lambda: NOW)
    yield s
    s.close()


def new_draft(recipe: str = "weekly", period: str = "2026-W10", data: str = "h1",
              state: str = PENDING, slot: datetime = NOW, posts: int = 2) -> NewDraft:
    thread = {p: tuple(Post(f"{p} post {i + 1} of {recipe} {data}") for i in range(posts))
              for p in ("bluesky", "x")}
    return NewDraft(recipe=recipe, title="Weekly", period_key=period,
                    period_label="last week (March 2–8)", as_of=NOW, slot_at=slot,
                    approval="required", state=state, platforms=("bluesky", "x"),
                    data_hash=data, thread=thread, figures={"total": 10},
                    charts=(StoredChart("top", "bar", "Top", b"\x89PNG", "Alt text.", 800,
                                        450),),
                    history={"total": 10.0})


def set_state(store: Store, draft_id: int, state: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(schema.drafts).where(schema.drafts.c.id == draft_id).values(
            state=state))


# ------------------------------------------------------------------------------- drafts

def test_create_stores_the_draft_its_revision_charts_and_audit(store: Store) -> None:
    draft_id, created = store.create_draft(new_draft())
    assert created is True
    d = store.get_draft(draft_id)
    assert (d.recipe, d.period_key, d.state, d.revision, d.data_hash) == (
        "weekly", "2026-W10", PENDING, 1, "h1")
    assert d.slot_at == NOW and d.as_of == NOW and d.created_at == NOW
    assert d.platforms == ("bluesky", "x") and d.figures == {"total": 10}
    assert store.revision(draft_id).thread["x"] == (Post("x post 1 of weekly h1"),
                                                    Post("x post 2 of weekly h1"))
    assert store.charts(draft_id) == [StoredChart("top", "bar", "Top", b"\x89PNG",
                                                  "Alt text.", 800, 450)]
    assert [(a.action, a.detail) for a in store.audit(draft_id)] == [
        ("draft", "last week (March 2–8): waiting for review")]
    with pytest.raises(NotFound):
        store.get_draft(draft_id + 100)


def test_create_is_idempotent_for_the_same_recipe_period_and_data(store: Store) -> None:
    first = store.create_draft(new_draft())
    again = store.create_draft(new_draft())
    assert again == (first[0], False)
    assert store.count_by_state() == {PENDING: 1}


def test_newer_data_supersedes_an_open_draft_of_the_same_period(store: Store) -> None:
    old, _ = store.create_draft(new_draft(data="h1"))
    other_period, _ = store.create_draft(new_draft(period="2026-W09", data="h1"))
    new, created = store.create_draft(new_draft(data="h2"))
    assert created is True and new != old
    assert store.get_draft(old).state == SUPERSEDED
    assert store.get_draft(other_period).state == PENDING
    assert [(a.action, a.detail) for a in store.audit(old)][-1] == (
        "supersede", f"newer data: draft {new}")


def test_newer_data_leaves_an_approved_draft_alone(store: Store) -> None:
    approved, _ = store.create_draft(new_draft(data="h1", state=APPROVED))
    assert store.create_draft(new_draft(data="h2")) == (approved, False)
    assert store.count_by_state() == {APPROVED: 1}


def test_times_in_any_zone_are_stored_as_the_same_instant(store: Store) -> None:
    local = datetime(2026, 3, 9, 9, 30, tzinfo=CHI)  # 14:30 UTC (daylight time)
    draft_id, _ = store.create_draft(new_draft(slot=local))
    assert store.get_draft(draft_id).slot_at == datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    assert [d.id for d in store.claim_due(datetime(2026, 3, 9, 14, 29, tzinfo=UTC))] == []


# -------------------------------------------------------------------------- transitions

STATES = ("pending_review", "approved", "publishing", "published", "partially_published",
          "on_hold", "rejected", "expired", "superseded", "retracted")
# action -> {state it may start from: state it leads to}; every other start is refused
ALLOWED = {
    "approve": {"pending_review": "approved"},
    "reject": {"pending_review": "rejected", "approved": "rejected", "on_hold": "rejected",
               "expired": "rejected"},
    "edit": {"pending_review": "pending_review", "approved": "pending_review",
             "on_hold": "pending_review", "expired": "pending_review"},
    "expire": {"pending_review": "expired"},
    "reschedule": {"pending_review": "pending_review", "approved": "approved",
                   "on_hold": "on_hold", "expired": "pending_review",
                   "partially_published": "partially_published"},
    "supersede": {"pending_review": "superseded", "expired": "superseded"},
    "hold": {"approved": "on_hold", "partially_published": "on_hold", "publishing": "on_hold"},
    "release": {"on_hold": "approved"},
    "published": {"publishing": "published"},
    "partial": {"publishing": "partially_published"},
    "retract": {"published": "retracted", "partially_published": "retracted",
                "on_hold": "retracted"},
}


def test_every_transition_is_allowed_or_refused_as_specified(store: Store) -> None:
    later = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    outcomes = {}
    for action in ALLOWED:
        for state in STATES:
            draft_id, _ = store.create_draft(new_draft(recipe=f"{action}-{state}"))
            set_state(store, draft_id, state)
            kwargs = {"thread": {"x": (Post("edited"),)}} if action == "edit" else {}
            if action == "reschedule":
                kwargs = {"slot_at": later}
            try:
                d = store.transition(draft_id, action, "ana", "why", **kwargs)
            except TransitionError as exc:
                assert store.get_draft(draft_id).state == state  # unchanged
                assert f"draft {draft_id} is {state.replace('_', ' ')}" in str(exc)
                outcomes[action, state] = None
                continue
            outcomes[action, state] = d.state
            assert store.audit(draft_id)[-1].action == action
            if action == "edit":
                assert d.revision == 2
                assert store.revision(draft_id).thread["x"] == (Post("edited"),)
            if action == "reschedule":
                assert d.slot_at == later
    expected = {(a, s): ALLOWED[a].get(s) for a in ALLOWED for s in STATES}
    assert outcomes == expected


def test_a_stale_revision_is_refused(store: Store) -> None:
    draft_id, _ = store.create_draft(new_draft())
    store.transition(draft_id, "edit", "ana", thread={"x": (Post("one"),)})
    with pytest.raises(TransitionError, match="changed while you were looking"):
        store.transition(draft_id, "edit", "bo", thread={"x": (Post("two"),)},
                         expect_revision=1)


def approve_at_once(url: str, draft_id: int) -> list[str]:
    """Two stores (two connections) approve one draft at the same moment."""
    stores = [Store(url, clock=lambda: NOW, migrate=False) for _ in range(2)]
    gate = threading.Barrier(2)
    results: list[str] = []

    def approve(s: Store, who: str) -> None:
        gate.wait(timeout=10)
        try:
            s.transition(draft_id, "approve", who)
            results.append("ok")
        except TransitionError:
            results.append("refused")

    threads = [threading.Thread(target=approve, args=(s, f"p{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for s in stores:
        s.close()
    return results


def test_two_approvers_at_once_make_one_approval(url: str, store: Store) -> None:
    for attempt in range(5):
        draft_id, _ = store.create_draft(new_draft(recipe=f"race{attempt}"))
        assert sorted(approve_at_once(url, draft_id)) == ["ok", "refused"]
        assert [a.action for a in store.audit(draft_id)].count("approve") == 1
        assert store.get_draft(draft_id).state == APPROVED


# ----------------------------------------------------------------------------- receipts

def test_receipts_record_the_intent_then_the_confirmation(store: Store) -> None:
    draft_id, _ = store.create_draft(new_draft(state=APPROVED))
    r = store.record_intent(draft_id, "bluesky", "cityhall", 0, "rkey1")
    assert (r.key, r.confirmed, r.remote_id, r.intent_at) == ("rkey1", False, None, NOW)
    # a retry before the confirmation may change the key; after it, nothing changes
    assert store.record_intent(draft_id, "bluesky", "cityhall", 0, "rkey2").key == "rkey2"
    posted = NOW + timedelta(seconds=3)
    store.confirm_receipt(draft_id, "bluesky", 0, "rkey2", uri="at://did/x/rkey2", cid="c1",
                          posted_at=posted)
    assert store.record_intent(draft_id, "bluesky", "cityhall", 0, "rkey3").key == "rkey2"
    got = store.receipt(draft_id, "bluesky", 0)
    assert got is not None
    assert (got.remote_id, got.uri, got.cid, got.posted_at, got.confirmed) == (
        "rkey2", "at://did/x/rkey2", "c1", posted, True)
    assert store.receipt(draft_id, "bluesky", 1) is None
    with pytest.raises(StoreError, match="no intent recorded"):
        store.confirm_receipt(draft_id, "x", 0, "123")
    store.record_intent(draft_id, "x", "cityhall_x", 0, "")
    assert [(r.platform, r.post_index, r.confirmed) for r in store.receipts(draft_id)] == [
        ("bluesky", 0, True), ("x", 0, False)]
    assert store.posts_since("cityhall", NOW) == 1
    assert store.posts_since("cityhall", posted + timedelta(seconds=1)) == 0
    assert store.posts_since("cityhall_x", NOW) == 0


# ----------------------------------------------------------------------------- claiming

def test_claim_due_takes_due_approved_and_partial_drafts_once(store: Store) -> None:
    due = store.create_draft(new_draft(recipe="a", state=APPROVED,
                                       slot=NOW - timedelta(minutes=5)))[0]
    partial = store.create_draft(new_draft(recipe="b", state=APPROVED,
                                           slot=NOW - timedelta(minutes=1)))[0]
    set_state(store, partial, PARTIAL)
    future = store.create_draft(new_draft(recipe="c", state=APPROVED,
                                          slot=NOW + timedelta(minutes=1)))[0]
    store.create_draft(new_draft(recipe="d", state=PENDING, slot=NOW - timedelta(hours=1)))
    waiting = store.create_draft(new_draft(recipe="e", state=APPROVED,
                                           slot=NOW - timedelta(hours=1)))[0]
    store.transition(waiting, "reschedule", "x", retry_at=NOW + timedelta(minutes=2))

    claimed = store.claim_due(NOW, "w1")
    assert [(d.id, d.state, d.claimed_by) for d in claimed] == [
        (due, PUBLISHING, "w1"), (partial, PUBLISHING, "w1")]
    assert store.claim_due(NOW, "w2") == []
    # by slot: the one held back by its retry time is the older
    assert [d.id for d in store.claim_due(NOW + timedelta(minutes=2), "w2")] == [
        waiting, future]
    assert store.audit(due)[-1].action == "claim"


def test_claim_due_respects_the_limit_and_the_chosen_ids(store: Store) -> None:
    ids = [store.create_draft(new_draft(recipe=f"r{i}", state=APPROVED,
                                        slot=NOW - timedelta(minutes=10 - i)))[0]
           for i in range(5)]
    assert [d.id for d in store.claim_due(NOW, "w", limit=2)] == ids[:2]
    assert [d.id for d in store.claim_due(NOW, "w", draft_ids=[ids[4]])] == [ids[4]]
    assert [d.id for d in store.claim_due(NOW, "w")] == ids[2:4]


def test_an_abandoned_claim_is_taken_over_after_the_lease(store: Store) -> None:
    draft_id = store.create_draft(new_draft(state=APPROVED))[0]
    with store.engine.begin() as conn:
        conn.execute(update(schema.drafts).where(schema.drafts.c.id == draft_id).values(
            state=PUBLISHING, claimed_by="otherhost:1", claimed_at=NOW))
    assert store.claim_due(NOW + timedelta(minutes=9), "w") == []
    taken = store.claim_due(NOW + timedelta(minutes=11), "w")
    assert [(d.id, d.claimed_by) for d in taken] == [(draft_id, "w")]
    assert store.audit(draft_id)[-1].detail == "resumed after an interrupted run"


@pytest.mark.postgres
def test_claim_due_skips_rows_another_transaction_holds(postgres_url: str) -> None:
    """FOR UPDATE SKIP LOCKED on the real server: a locked row is passed over at once."""
    store = Store(postgres_url, clock=lambda: NOW)
    ids = [store.create_draft(new_draft(recipe=f"r{i}", state=APPROVED,
                                        slot=NOW - timedelta(minutes=5 - i)))[0]
           for i in range(3)]
    with store.engine.connect() as other:
        with other.begin():
            other.execute(text("SELECT id FROM drafts WHERE id = :i FOR UPDATE"), {"i": ids[0]})
            claimed = store.claim_due(NOW, "w1")
        assert [d.id for d in claimed] == ids[1:]
    assert [d.id for d in store.claim_due(NOW, "w2")] == [ids[0]]
    store.close()


@pytest.mark.postgres
def test_claimers_racing_on_postgres_split_the_drafts(postgres_url: str) -> None:
    store = Store(postgres_url, clock=lambda: NOW)
    ids = {store.create_draft(new_draft(recipe=f"r{i}", state=APPROVED))[0] for i in range(60)}
    gate = threading.Barrier(3)
    got: dict[str, list[int]] = {}

    def claim(worker: str) -> None:
        s = Store(postgres_url, clock=lambda: NOW, migrate=False)
        gate.wait(timeout=10)
        mine: list[int] = []
        while batch := s.claim_due(NOW, worker, limit=4):
            mine += [d.id for d in batch]
        got[worker] = mine
        s.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    every = [i for mine in got.values() for i in mine]
    assert sorted(every) == sorted(ids)  # each draft claimed exactly once
    store.close()


# ------------------------------------------------------------------ concurrent drafting

def _create_in_process(url: str, data: str, gate: object, out: object) -> None:
    s = Store(url, migrate=False)
    gate.wait(timeout=30)  # type: ignore[attr-defined]
    out.put(s.create_draft(new_draft(data=data, state=APPROVED)))  # type: ignore[attr-defined]
    s.close()


@pytest.mark.parametrize("datas", [("same", "same"), ("one", "two")],
                         ids=["same-data", "other-data"])
def test_two_processes_drafting_one_period_make_one_draft(url: str, store: Store,
                                                          datas: tuple[str, str]) -> None:
    """Two processes draft the same recipe and period at once (with the same figures, or
    with figures that changed in between): one approved draft comes out, never two."""
    ctx = multiprocessing.get_context("spawn")
    gate, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_create_in_process, args=(url, d, gate, out)) for d in datas]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(created for _, created in results) == [False, True]
    assert len({draft_id for draft_id, _ in results}) == 1
    assert store.count_by_state() == {APPROVED: 1}


# --------------------------------------------------------------------------------- runs

def test_runs_last_runs_failures_and_slots(store: Store) -> None:
    t0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    slot = datetime(2026, 3, 9, 8, 0, tzinfo=CHI)
    store.record_run("a", "2026-W09", t0, "drafted", "draft 1", 1)
    store.record_run("a", "2026-W10", t0 + timedelta(days=7), "failed", "portal down")
    store.record_run("b", "2026-03", t0, "skipped", "stale data")
    with store.run_slot(slot):
        store.record_run("c", "2026-W10", t0, "drafted", "draft 2", 2)
    store.record_run("d", "2026-W08", t0, "missed", "down", slot_at=slot - timedelta(days=14))
    last = store.last_runs()
    assert last["a"] == {"started_at": t0 + timedelta(days=7), "outcome": "failed",
                         "detail": "portal down", "period_key": "2026-W10", "draft_id": None,
                         "slot_at": None}
    assert last["c"]["slot_at"] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert sorted(last) == ["a", "b", "c", "d"]
    assert [(f["recipe"], f["outcome"]) for f in store.recent_failures()] == [
        ("b", "skipped"), ("a", "failed")]
    assert store.ran([("a", "2026-W09"), ("a", "2026-W11"), ("c", "2026-W10"),
                      ("b", "2026-W10")]) == {("a", "2026-W09"), ("c", "2026-W10")}
    assert store.last_run_times() == {
        "a": t0 + timedelta(days=7), "b": t0, "c": datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        "d": datetime(2026, 2, 23, 14, 0, tzinfo=UTC)}
    assert [r["outcome"] for r in store.runs(recipe="a")] == ["failed", "drafted"]
    assert [r["recipe"] for r in store.runs(outcomes=("missed",))] == ["d"]


def test_a_database_newer_than_the_code_is_refused(url: str, store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.schema_version.insert().values(version=99))
    with pytest.raises(StoreError, match="schema version 99, newer than this citycrier"):
        Store(url)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.max(schema.schema_version.c.version))).scalar() == 99


def test_desk_readers_do_not_wait_on_a_publishing_writer(tmp_path: Path) -> None:
    """SQLite: while a publisher holds the write lock (BEGIN IMMEDIATE, mid-transaction), two
    desk readers, each with its own store as a separate process would have, read the queue and
    a draft and finish; the writer then commits. A read that took the write lock would wait
    out the 30 s busy timeout and the writer would give up waiting for the readers first."""
    url = f"sqlite:///{tmp_path / 'citycrier.db'}"
    writer = Store(url, clock=lambda: NOW)
    draft_id = writer.create_draft(new_draft(state=APPROVED, slot=NOW - timedelta(minutes=1)))[0]
    readers = [Store(url, clock=lambda: NOW) for _ in range(2)]
    holding, done = threading.Event(), threading.Barrier(3, timeout=10)
    seen: list[tuple[int, str]] = []

    def read(store: Store) -> None:
        holding.wait(timeout=10)
        queue = store.list_drafts(limit=50)
        seen.append((len(queue), store.get_draft(draft_id).state))
        done.wait()

    def publish() -> None:
        with writer.engine.begin() as conn:  # the write lock, held across the readers' reads
            conn.execute(update(schema.drafts).where(schema.drafts.c.id == draft_id).values(
                state=PUBLISHING))
            holding.set()
            done.wait()  # raises BrokenBarrierError after 10 s if a reader is stuck

    threads = [threading.Thread(target=read, args=(r,)) for r in readers]
    threads.append(threading.Thread(target=publish))
    errors: list[BaseException] = []
    threading.excepthook = lambda args: errors.append(args.exc_value)  # type: ignore[assignment]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=40)
    finally:
        threading.excepthook = threading.__excepthook__
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert seen == [(1, APPROVED), (1, APPROVED)]  # the readers saw the last committed state
    assert writer.get_draft(draft_id).state == PUBLISHING
    for s in (writer, *readers):
        s.close()


def test_a_claim_is_renewed_at_most_once_a_minute(url: str) -> None:
    """renew_claim after every post: within a minute of the claim it writes nothing; later it
    moves claimed_at on; another worker's renewal takes the claim at once."""
    now = [NOW]
    store = Store(url, clock=lambda: now[0])
    draft_id = store.create_draft(new_draft(state=APPROVED, slot=NOW - timedelta(minutes=1)))[0]
    assert [d.id for d in store.claim_due(NOW, "w1")] == [draft_id]
    writes: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE"):
            writes.append(statement)

    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", count)

    def claim() -> tuple[datetime, str]:
        with store.engine.connect() as conn:
            row = conn.execute(select(schema.drafts.c.claimed_at, schema.drafts.c.claimed_by)
                               .where(schema.drafts.c.id == draft_id)).one()
        return row[0].replace(tzinfo=UTC) if row[0].tzinfo is None else row[0], row[1]

    now[0] = NOW + timedelta(seconds=50)
    store.renew_claim(draft_id, "w1")
    assert writes == [] and claim() == (NOW, "w1")
    now[0] = NOW + timedelta(seconds=61)
    store.renew_claim(draft_id, "w1")
    assert len(writes) == 1 and claim() == (NOW + timedelta(seconds=61), "w1")
    store.renew_claim(draft_id, "w2")
    assert len(writes) == 2 and claim()[1] == "w2"
    event.remove(store.engine, "before_cursor_execute", count)
    store.close()


@pytest.mark.postgres
def test_reads_on_postgresql_do_not_wait_on_row_locks(postgres_url: str) -> None:
    """A publisher's transaction holds a draft's row (FOR UPDATE, as a claim does); the desk's
    reads of that draft, its revision and the queue answer while it holds it."""
    store = Store(postgres_url, clock=lambda: NOW)
    draft_id = store.create_draft(new_draft(state=APPROVED))[0]
    reader = Store(postgres_url, clock=lambda: NOW)
    seen: list[object] = []

    def read() -> None:
        seen.extend([reader.get_draft(draft_id).state, reader.revision(draft_id).revision,
                     [d.id for d in reader.list_drafts(limit=50)]])

    with store.engine.connect() as other:
        with other.begin():
            other.execute(text("SELECT id FROM drafts WHERE id = :i FOR UPDATE"), {"i": draft_id})
            thread = threading.Thread(target=read)
            thread.start()
            thread.join(timeout=20)
            finished_while_locked = not thread.is_alive()
    thread.join(timeout=20)
    assert finished_while_locked and seen == [APPROVED, 1, [draft_id]]
    reader.close()
    store.close()
