"""The store's tables (SQLAlchemy Core) and the migrations that build them, step by step.

A database records its schema version in `schema_version`. `migrate()` applies every step
after that version in one transaction each, so an old database upgrades with its rows intact;
a new one is built by running all the steps from zero. Add a step, never edit an old one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC. SQLite keeps no offset, so an aware time in another zone
    would be stored as its wall-clock reading; this converts it to UTC first, and reads
    naive values back as UTC. PostgreSQL stores it as `timestamp with time zone`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


metadata = MetaData()
TS = UTCDateTime()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

drafts = Table(
    "drafts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipe", String(200), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("period_key", String(100), nullable=False),
    Column("period_label", Text, nullable=False, default=""),
    Column("as_of", TS, nullable=False),
    Column("slot_at", TS, nullable=False),
    Column("state", String(40), nullable=False),
    Column("approval", String(40), nullable=False),
    Column("platforms", Text, nullable=False),  # JSON list
    Column("data_hash", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("reasons", Text, nullable=False, default="[]"),  # JSON list of guard reasons
    Column("figures", Text, nullable=False, default="{}"),  # JSON
    Column("source", Text, nullable=False, default="{}"),  # JSON: portal, dataset, query, ...
    Column("error", Text, nullable=False, default=""),
    Column("retry_at", TS, nullable=True),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_at", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("recipe", "period_key", "data_hash", name="uq_drafts_recipe_period_data"),
)
Index("ix_drafts_state_slot", drafts.c.state, drafts.c.slot_at)
Index("ix_drafts_slot", drafts.c.slot_at, drafts.c.id)  # step 3: the queue's "all" pages
Index("ix_drafts_recipe_period", drafts.c.recipe, drafts.c.period_key, drafts.c.state)  # step 3

revisions = Table(
    "revisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", Integer, ForeignKey("drafts.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("thread", Text, nullable=False),  # JSON: {platform: [{"text", "charts": [names]}]}
    Column("alts", Text, nullable=False, default="{}"),  # JSON: {chart name: alt text}
    Column("author", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("draft_id", "revision", name="uq_revisions_draft_revision"),
)

charts = Table(
    "charts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", Integer, ForeignKey("drafts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("png", LargeBinary, nullable=False),
    Column("alt", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    UniqueConstraint("draft_id", "name", name="uq_charts_draft_name"),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", Integer, nullable=True),
    Column("at", TS, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
Index("ix_audit_draft", audit.c.draft_id)

receipts = Table(
    "receipts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", Integer, ForeignKey("drafts.id"), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("account", String(200), nullable=False),
    Column("post_index", Integer, nullable=False),
    Column("key", String(100), nullable=False, default=""),  # bluesky rkey chosen before write
    Column("intent_at", TS, nullable=False),
    Column("remote_id", String(200), nullable=True),
    Column("uri", Text, nullable=True),
    Column("cid", String(200), nullable=True),
    Column("posted_at", TS, nullable=True),
    Column("deleted_at", TS, nullable=True),
    UniqueConstraint("draft_id", "platform", "post_index", name="uq_receipts_post"),
)
Index("ix_receipts_account_posted", receipts.c.account, receipts.c.posted_at)  # step 3

deliveries = Table(  # one row per draft per platform: platforms publish independently
    "deliveries", metadata,
    Column("draft_id", Integer, ForeignKey("drafts.id"), primary_key=True),
    Column("platform", String(20), primary_key=True),
    Column("account", String(200), nullable=False),
    Column("state", String(40), nullable=False),  # pending|done|failed|rate_limited|needs_person
    Column("error", Text, nullable=False, default=""),
    Column("retry_at", TS, nullable=True),
    Column("updated_at", TS, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipe", String(200), nullable=False),
    Column("period_key", String(100), nullable=False, default=""),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    # drafted | unchanged | skipped | failed | missed (the scheduler was down at the slot)
    Column("outcome", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("draft_id", Integer, nullable=True),
    Column("slot_at", TS, nullable=True),  # step 2: the cron time the run was for
)
Index("ix_runs_recipe", runs.c.recipe, runs.c.started_at)
Index("ix_runs_recipe_period", runs.c.recipe, runs.c.period_key)  # step 2

users = Table(
    "users", metadata,
    Column("name", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

history = Table(  # figures of past drafts, for the unusual-change guard
    "history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipe", String(200), nullable=False),
    Column("period_key", String(100), nullable=False),
    Column("figure", String(200), nullable=False),
    Column("value", Text, nullable=False),
    UniqueConstraint("recipe", "period_key", "figure", name="uq_history"),
)


# The first form of each table a later step changed, frozen: step 1 must keep building the
# first schema, whatever the live definitions above have become since.
_v1 = MetaData()
_runs_v1 = Table(
    "runs", _v1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipe", String(200), nullable=False),
    Column("period_key", String(100), nullable=False, default=""),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("draft_id", Integer, nullable=True),
)
Index("ix_runs_recipe", _runs_v1.c.recipe, _runs_v1.c.started_at)


_LATER_INDEXES = {"ix_drafts_slot", "ix_drafts_recipe_period", "ix_receipts_account_posted"}
for _table in (drafts, receipts):  # their columns are as first written; step 3 added indexes
    _copy = _table.to_metadata(_v1)
    for _index in [i for i in _copy.indexes if i.name in _LATER_INDEXES]:
        _copy.indexes.discard(_index)


def _step1(conn: Connection) -> None:
    """The first schema: every table as it was first written."""
    _v1.create_all(conn, tables=[_v1.tables["drafts"]])
    metadata.create_all(conn, tables=[revisions, charts, audit, deliveries, users, history])
    _v1.create_all(conn, tables=[_v1.tables["receipts"], _runs_v1])


def _step2(conn: Connection) -> None:
    """runs.slot_at (the cron time a run was for, so missed slots can be reported) and an
    index on runs (recipe, period_key) for the scheduler's "was this period drafted?"."""
    kind = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE runs ADD COLUMN slot_at {kind}"))
    conn.execute(text("CREATE INDEX ix_runs_recipe_period ON runs (recipe, period_key)"))


def _step3(conn: Connection) -> None:
    """Indexes for a store with years of drafts: the queue's pages in slot order (all states;
    one state already has ix_drafts_state_slot), a recipe's drafts by period and state (the
    drafter's "already drafted or published?"), and an account's posts since a moment (the
    per-account caps)."""
    conn.execute(text("CREATE INDEX ix_drafts_slot ON drafts (slot_at, id)"))
    conn.execute(text(
        "CREATE INDEX ix_drafts_recipe_period ON drafts (recipe, period_key, state)"))
    conn.execute(text(
        "CREATE INDEX ix_receipts_account_posted ON receipts (account, posted_at)"))


# (version, description, step). Add new steps at the end; never edit an old one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "drafts, revisions, charts, audit, receipts, deliveries, runs, users, history",
     _step1),
    (2, "runs.slot_at and an index on runs (recipe, period_key)", _step2),
    (3, "indexes on drafts (slot_at, id), drafts (recipe, period_key, state) and receipts "
        "(account, posted_at)", _step3),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    row = conn.execute(text("SELECT max(version) FROM schema_version")).first()
    return int(row[0]) if row and row[0] is not None else 0


MIGRATION_LOCK = 7_424_201  # PostgreSQL advisory lock id: one process migrates at a time


def migrate(conn: Connection, steps: list[tuple[int, str, Callable[[Connection], None]]]
            | None = None) -> list[int]:
    """Apply the steps after the database's version; return the versions applied.

    `steps` defaults to MIGRATIONS (a test passes an older list to build an old database).
    On PostgreSQL a transaction-scoped advisory lock makes processes starting together
    migrate one after the other; SQLite's BEGIN IMMEDIATE does the same there."""
    steps = MIGRATIONS if steps is None else steps
    latest = steps[-1][0]
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
    if not inspect(conn).has_table("schema_version"):
        schema_version.create(conn)
    have = current_version(conn)
    if have > latest:
        from bot.errors import StoreError

        raise StoreError(f"the database has schema version {have}, newer than this citycrier "
                         f"knows ({latest}): upgrade citycrier")
    applied = []
    for version, _description, step in steps:
        if version > have:
            step(conn)
            conn.execute(schema_version.insert().values(version=version))
            applied.append(version)
    return applied
