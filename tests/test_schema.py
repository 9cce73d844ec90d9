"""Migrations: a database built by the previous schema upgrades with every row intact, on
SQLite and on a real PostgreSQL; processes starting together migrate once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot import schema
from bot.store import Store

T = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

# One row for every table of schema version 1, written with the columns version 1 had.
V1_ROWS: dict[str, list[dict[str, object]]] = {
    "drafts": [
        {"id": 1, "recipe": "weekly", "title": "Weekly", "period_key": "2026-W09",
         "period_label": "last week", "as_of": T, "slot_at": T, "state": "published",
         "approval": "required", "platforms": '["bluesky"]', "data_hash": "h1",
         "revision": 2, "reasons": "[]", "figures": '{"total": 3}', "source": "{}",
         "error": "", "retry_at": None, "claimed_by": "host:1", "claimed_at": T,
         "created_at": T, "updated_at": T},
        {"id": 2, "recipe": "weekly", "title": "Weekly", "period_key": "2026-W10",
         "period_label": "last week", "as_of": T, "slot_at": T, "state": "pending_review",
         "approval": "required", "platforms": '["x"]', "data_hash": "h2", "revision": 1,
         "reasons": '["long"]', "figures": "{}", "source": "{}", "error": "",
         "retry_at": T, "claimed_by": None, "claimed_at": None, "created_at": T,
         "updated_at": T}],
    "revisions": [
        {"id": 1, "draft_id": 1, "revision": 1, "thread": '{"bluesky": []}', "alts": "{}",
         "author": "citycrier", "created_at": T},
        {"id": 2, "draft_id": 1, "revision": 2, "thread": '{"bluesky": []}',
         "alts": '{"c": "alt"}', "author": "ana", "created_at": T}],
    "charts": [{"id": 1, "draft_id": 1, "name": "c", "kind": "bar", "title": "C",
                "png": b"\x89PNG\r\n", "alt": "alt", "width": 800, "height": 450}],
    "audit": [{"id": 1, "draft_id": 1, "at": T, "actor": "ana", "action": "approve",
               "detail": ""},
              {"id": 2, "draft_id": None, "at": T, "actor": "citycrier", "action": "note",
               "detail": "x"}],
    "receipts": [{"id": 1, "draft_id": 1, "platform": "bluesky", "account": "cityhall",
                  "post_index": 0, "key": "rk", "intent_at": T, "remote_id": "rk",
                  "uri": "at://d/app.bsky.feed.post/rk", "cid": "c", "posted_at": T,
                  "deleted_at": None}],
    "deliveries": [{"draft_id": 1, "platform": "bluesky", "account": "cityhall",
                    "state": "done", "error": "", "retry_at": None, "updated_at": T}],
    "runs": [{"id": 1, "recipe": "weekly", "period_key": "2026-W09", "started_at": T,
              "finished_at": T, "outcome": "drafted", "detail": "draft 1", "draft_id": 1},
             {"id": 2, "recipe": "weekly", "period_key": "2026-W10", "started_at": T,
              "finished_at": None, "outcome": "failed", "detail": "portal down",
              "draft_id": None}],
    "users": [{"name": "ana", "role": "approver", "password_hash": "$argon2id$x",
               "created_at": T, "active": True}],
    "history": [{"id": 1, "recipe": "weekly", "period_key": "2026-W09", "figure": "total",
                 "value": "3"}],
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def build_v1(url: str) -> None:
    """A database as citycrier's schema version 1 made it, with a row in every table."""
    engine = _engine(url)
    with engine.begin() as conn:
        assert schema.migrate(conn, schema.MIGRATIONS[:1]) == [1]
        for table, rows in V1_ROWS.items():
            cols = list(rows[0])
            sql = text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                       f"({', '.join(':' + c for c in cols)})")
            for row in rows:
                conn.execute(sql, {k: (v.replace(tzinfo=None) if isinstance(v, datetime)
                                       and engine.dialect.name == "sqlite" else v)
                                   for k, v in row.items()})
        if engine.dialect.name == "postgresql":  # the rows above named their ids
            for table, rows in V1_ROWS.items():
                if "id" in rows[0]:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', "
                                      f"'id'), (SELECT max(id) FROM {table}))"))
    engine.dispose()


def _rows(url: str, table: str, columns: list[str]) -> list[dict[str, object]]:
    engine = _engine(url)
    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        rows = conn.execute(t.select().order_by(*t.primary_key.columns)).mappings().all()
    engine.dispose()
    return [{c: r[c] for c in columns} for r in rows]


def test_a_version_1_database_upgrades_with_every_row_intact(url: str) -> None:
    build_v1(url)
    store = Store(url)  # migrates
    with store.engine.connect() as conn:
        assert schema.current_version(conn) == schema.LATEST == 3
        cols = {c["name"] for c in inspect(conn).get_columns("runs")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("runs")}
        draft_indexes = {i["name"] for i in inspect(conn).get_indexes("drafts")}
        receipt_indexes = {i["name"] for i in inspect(conn).get_indexes("receipts")}
    assert "slot_at" in cols and "ix_runs_recipe_period" in indexes
    assert {"ix_drafts_slot", "ix_drafts_recipe_period"} <= draft_indexes
    assert "ix_receipts_account_posted" in receipt_indexes
    for table, rows in V1_ROWS.items():
        assert _rows(url, table, list(rows[0])) == rows, table
    assert [r["slot_at"] for r in _rows(url, "runs", ["slot_at"])] == [None, None]
    # the store reads the old rows and writes new ones beside them
    assert store.get_draft(1).state == "published"
    assert store.revision(1).alts == {"c": "alt"}
    assert store.last_runs()["weekly"]["outcome"] == "failed"
    store.record_run("weekly", "2026-W11", T, "missed", "down", slot_at=T)
    assert [r["outcome"] for r in store.runs("weekly")] == ["missed", "failed", "drafted"]
    assert store.migrate() == []  # nothing left to do
    store.close()


def test_an_upgraded_database_has_the_schema_the_code_describes(url: str) -> None:
    build_v1(url)
    Store(url).close()
    engine = _engine(url)
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            assert [c["name"] for c in inspect(conn).get_columns(name)] == \
                [c.name for c in table.columns], name
            have = {i["name"] for i in inspect(conn).get_indexes(name)}
            assert {str(i.name) for i in table.indexes} <= have, name
    engine.dispose()


@pytest.mark.postgres
def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        gate.wait(timeout=10)
        try:
            Store(postgres_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    engine = _engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version ORDER BY version")
                            ).scalars().all() == [1, 2, 3]
    engine.dispose()


def test_a_version_2_database_gains_the_queue_indexes(url: str) -> None:
    """Step 3 on a database built by steps 1 and 2 (rows in it): the new indexes, the rows
    intact, and the queue's first page read through them."""
    engine = _engine(url)
    with engine.begin() as conn:
        assert schema.migrate(conn, schema.MIGRATIONS[:2]) == [1, 2]
        before = {i["name"] for i in inspect(conn).get_indexes("drafts")}
    engine.dispose()
    assert "ix_drafts_slot" not in before and "ix_drafts_recipe_period" not in before
    store = Store(url, clock=lambda: T)
    with store.engine.begin() as conn:
        assert schema.migrate(conn) == []
    with store.engine.connect() as conn:
        assert schema.current_version(conn) == 3
        have = {i["name"] for i in inspect(conn).get_indexes("drafts")}
        if store.dialect == "sqlite":
            plan = " ".join(str(r[3]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM drafts ORDER BY slot_at, id LIMIT 50")))
            assert "ix_drafts_slot" in plan, plan
    assert {"ix_drafts_slot", "ix_drafts_recipe_period"} <= have
    store.close()
