"""The store's data: draft states and the transitions between them, and the plain records
the store hands out (drafts, revisions, charts, receipts, audit rows).

`bot.store` re-exports every name here, so `from bot.store import Draft` keeps working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PENDING = "pending_review"
APPROVED = "approved"
PUBLISHING = "publishing"
PUBLISHED = "published"
PARTIAL = "partially_published"
ON_HOLD = "on_hold"  # approved, but its slot passed long ago: waits for a person
REJECTED = "rejected"
EXPIRED = "expired"
SUPERSEDED = "superseded"
RETRACTED = "retracted"
STATES = (PENDING, APPROVED, PUBLISHING, PUBLISHED, PARTIAL, ON_HOLD, REJECTED, EXPIRED,
          SUPERSEDED, RETRACTED)
OPEN_STATES = (PENDING, APPROVED, PUBLISHING, PARTIAL, ON_HOLD, EXPIRED)

# action -> (states it may start from, state it leads to); None keeps the state
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "approve": ((PENDING,), APPROVED),
    "reject": ((PENDING, APPROVED, ON_HOLD, EXPIRED), REJECTED),
    "edit": ((PENDING, APPROVED, ON_HOLD, EXPIRED), PENDING),
    "expire": ((PENDING,), EXPIRED),
    "reschedule": ((PENDING, APPROVED, ON_HOLD, EXPIRED, PARTIAL), None),
    "supersede": ((PENDING, EXPIRED), SUPERSEDED),
    "hold": ((APPROVED, PARTIAL, PUBLISHING), ON_HOLD),
    "release": ((ON_HOLD,), APPROVED),
    "published": ((PUBLISHING,), PUBLISHED),
    "partial": ((PUBLISHING,), PARTIAL),
    "retract": ((PUBLISHED, PARTIAL, ON_HOLD), RETRACTED),
}


def utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class Post:
    text: str
    charts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    id: int
    recipe: str
    title: str
    period_key: str
    period_label: str
    as_of: datetime
    slot_at: datetime
    state: str
    approval: str
    platforms: tuple[str, ...]
    data_hash: str
    revision: int
    reasons: tuple[str, ...]
    figures: dict[str, Any]
    source: dict[str, Any]
    error: str
    retry_at: datetime | None
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = None


@dataclass(frozen=True)
class Revision:
    revision: int
    thread: dict[str, tuple[Post, ...]]  # platform -> posts
    alts: dict[str, str]  # chart name -> alt text as edited
    author: str
    created_at: datetime


@dataclass(frozen=True)
class StoredChart:
    name: str
    kind: str
    title: str
    png: bytes
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    detail: str
    draft_id: int | None


@dataclass(frozen=True)
class Receipt:
    draft_id: int
    platform: str
    account: str
    post_index: int
    key: str
    intent_at: datetime
    remote_id: str | None
    uri: str | None
    cid: str | None
    posted_at: datetime | None
    deleted_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.posted_at is not None


@dataclass(frozen=True)
class NewDraft:
    recipe: str
    title: str
    period_key: str
    period_label: str
    as_of: datetime
    slot_at: datetime
    approval: str
    state: str  # PENDING or APPROVED
    platforms: tuple[str, ...]
    data_hash: str
    thread: dict[str, tuple[Post, ...]]
    reasons: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    charts: tuple[StoredChart, ...] = ()
    history: dict[str, float] = field(default_factory=dict)  # figure -> value, for guards


def _moment(value: Any) -> datetime:
    """max() over a datetime column comes back untyped on SQLite: parse it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return utc(value)  # type: ignore[return-value]


def _run(r: Any) -> dict[str, Any]:
    return {"recipe": r.recipe, "period_key": r.period_key, "started_at": utc(r.started_at),
            "finished_at": utc(r.finished_at), "outcome": r.outcome, "detail": r.detail,
            "draft_id": r.draft_id, "slot_at": utc(r.slot_at)}



def _thread_json(thread: dict[str, tuple[Post, ...]]) -> str:
    return json.dumps({p: [{"text": x.text, "charts": list(x.charts)} for x in posts]
                       for p, posts in thread.items()}, ensure_ascii=False)


def _draft(r: Any) -> Draft:
    return Draft(
        id=r.id, recipe=r.recipe, title=r.title, period_key=r.period_key,
        period_label=r.period_label, as_of=utc(r.as_of), slot_at=utc(r.slot_at),  # type: ignore[arg-type]
        state=r.state, approval=r.approval, platforms=tuple(json.loads(r.platforms)),
        data_hash=r.data_hash, revision=r.revision, reasons=tuple(json.loads(r.reasons)),
        figures=json.loads(r.figures), source=json.loads(r.source), error=r.error,
        retry_at=utc(r.retry_at), created_at=utc(r.created_at),  # type: ignore[arg-type]
        updated_at=utc(r.updated_at), claimed_by=r.claimed_by)  # type: ignore[arg-type]


def _revision(r: Any) -> Revision:
    raw = json.loads(r.thread)
    thread = {p: tuple(Post(x["text"], tuple(x.get("charts", ()))) for x in posts)
              for p, posts in raw.items()}
    return Revision(r.revision, thread, json.loads(r.alts), r.author, utc(r.created_at))  # type: ignore[arg-type]


def _audit_row(r: Any) -> AuditRow:
    return AuditRow(utc(r.at), r.actor, r.action, r.detail, r.draft_id)  # type: ignore[arg-type]


def _delivery(r: Any) -> dict[str, Any]:
    return {"account": r.account, "state": r.state, "error": r.error,
            "retry_at": utc(r.retry_at)}


def _receipt(r: Any) -> Receipt:
    return Receipt(r.draft_id, r.platform, r.account, r.post_index, r.key, utc(r.intent_at),  # type: ignore[arg-type]
                   r.remote_id, r.uri, r.cid, utc(r.posted_at), utc(r.deleted_at))
