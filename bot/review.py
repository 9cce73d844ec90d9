"""The approval rules, enforced here for the CLI and the web desk alike.

- Only a person whose role allows it may approve, reject, edit or reschedule (see ROLES);
  when no people are registered yet, the command line acts as the single operator.
- With `approval.two_person = true`, nobody approves a draft they edited.
- An approval names the revision the approver saw: if the draft changed meanwhile, the
  approval is refused (an approver never approves words they did not read).
- Editing a draft (even an approved one) sends it back to review as a new revision.
- A draft still unapproved when its slot passes is expired; it can be rescheduled, which
  puts it back in review.
- Two approvals at once make one: the store moves a draft only from the state it expects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot import schema as s
from bot.errors import BotError, LengthError, PermissionDenied, TransitionError
from bot.settings import Config
from bot.store import PENDING, Draft, Post, Store

if TYPE_CHECKING:
    from collections.abc import Callable

ROLES = ("viewer", "editor", "approver", "admin")
CAN = {
    "view": ROLES,
    "edit": ("editor", "approver", "admin"),
    "reschedule": ("editor", "approver", "admin"),
    "approve": ("approver", "admin"),
    "reject": ("approver", "admin"),
    "retract": ("admin",),
    "manage_users": ("admin",),
}
MAX_ALT = 1000


class SlotPassed(TransitionError):
    """An approval came after the draft's slot: the draft is now expired."""

    def __init__(self, draft: Draft, timezone: str = "UTC") -> None:
        from bot.notify import local_time

        super().__init__(
            f"draft {draft.id}'s slot ({local_time(draft.slot_at, timezone)}) passed before "
            f"it was approved, so it has expired: reschedule it to a new time, then approve it")
        self.draft = draft


def may(role: str | None, action: str) -> bool:
    """Whether a role allows an action (for showing or hiding a button)."""
    return role in CAN[action]


def require_role(store: Store, actor: str, action: str) -> None:
    """Refuse `action` unless `actor` has a role that allows it."""
    from bot.people import user_role

    role = user_role(store, actor)
    if role is None:
        from bot.people import has_users

        if not has_users(store):
            return  # no desk users yet: the operator at the command line decides
        raise PermissionDenied(f"{actor!r} is not a citycrier user (add them with "
                               f"`citycrier users add {actor} --role approver`)")
    if role not in CAN[action]:
        raise PermissionDenied(f"{actor} is a {role}: only {' or '.join(CAN[action])} users "
                               f"may {action.replace('_', ' ')}")


def editors_of(store: Store, draft_id: int, up_to: int | None = None) -> set[str]:
    """Who wrote the revisions after the first (up to revision `up_to`)."""
    return {r.author for r in store.revisions(draft_id)
            if r.revision > 1 and (up_to is None or r.revision <= up_to)}


def _now(store: Store, now: datetime | None) -> datetime:
    return (now or store.clock()).astimezone(UTC)


def approve_draft(store: Store, config: Config, draft_id: int, actor: str, *,
                  expect_revision: int | None = None, now: datetime | None = None) -> Draft:
    """Approve the draft at `expect_revision` (default: its current revision).

    Raises PermissionDenied (role, two-person rule), SlotPassed (the draft expired just now)
    or TransitionError (not waiting for review, or changed since it was read)."""
    require_role(store, actor, "approve")
    draft = store.get_draft(draft_id)
    revision = expect_revision or draft.revision
    if draft.state == PENDING and draft.slot_at <= _now(store, now):
        expired = store.transition(draft_id, "expire", "citycrier",
                                   f"slot {draft.slot_at.isoformat(timespec='minutes')} "
                                   f"passed unapproved (found when {actor} approved)")
        raise SlotPassed(expired, config.timezone)
    if config.approval.two_person and actor in editors_of(store, draft_id, revision):
        raise PermissionDenied(
            f"{actor} edited draft {draft_id}; with two-person approval on, another approver "
            f"must approve it")
    return store.transition(draft_id, "approve", actor, f"revision {revision}",
                            expect_revision=revision)


def reject_draft(store: Store, draft_id: int, actor: str, reason: str) -> Draft:
    require_role(store, actor, "reject")
    if not reason.strip():
        raise BotError("a rejection needs a reason (say what is wrong, for the record)")
    if len(reason) > 2000:
        raise BotError(f"the reason is {len(reason):,} characters; keep it under 2,000")
    return store.transition(draft_id, "reject", actor, reason.strip())


def edit_draft(store: Store, draft_id: int, actor: str, *,
               texts: dict[str, list[str]] | None = None, alts: dict[str, str] | None = None,
               expect_revision: int | None = None,
               limits: dict[str, int] | None = None) -> Draft:
    """Store edited post texts (platform -> texts, same count) and chart alt texts as a new
    revision; the draft returns to review. Every post is re-measured first (against
    `limits`, platform -> length, where a server sets its own: platforms.post_limits).

    Raises LengthError (a post over its platform's limit), BotError (an empty post or alt
    text, a wrong count), TransitionError (the draft changed since `expect_revision`)."""
    from bot.limits import measure_post
    from bot.platforms import label

    require_role(store, actor, "edit")
    draft = store.get_draft(draft_id)
    current = store.revision(draft_id)
    thread = dict(current.thread)
    for platform, new_texts in (texts or {}).items():
        old = current.thread.get(platform)
        if old is None:
            raise BotError(f"draft {draft_id} has no {platform} thread")
        if len(new_texts) != len(old):
            raise BotError(f"draft {draft_id}: {platform} has {len(old)} posts, the edit gave "
                           f"{len(new_texts)}")
        posts = []
        for i, (text, post) in enumerate(zip(new_texts, old, strict=True), start=1):
            text = text.replace("\r\n", "\n").strip()
            if not text:
                raise BotError(f"post {i} ({platform}) is empty: write something or reject "
                               f"the draft")
            m = measure_post(text, platform, (limits or {}).get(platform))
            if not m.ok:
                raise LengthError(draft.recipe, i, platform, m.length, m.limit, m.unit)
            posts.append(Post(text, post.charts))
        thread[platform] = tuple(posts)
    names = {c.name for c in store.charts(draft_id)} | set(current.alts)
    for name, alt in (alts or {}).items():
        if name not in names:
            raise BotError(f"draft {draft_id} has no chart {name!r}")
        if not alt.strip():
            raise BotError(f"chart {name!r} needs alt text: describe what it shows")
        if len(alt.strip()) > MAX_ALT:
            raise BotError(f"alt text for chart {name!r} is {len(alt.strip()):,} characters; "
                           f"the limit is {MAX_ALT:,}")
    changed = [label(p) for p in thread if thread[p] != current.thread.get(p)]
    parts = [f"the {' and '.join(changed)} posts"] if changed else []
    if alts:
        parts.append("alt text")
    detail = "edited " + " and ".join(parts or ["nothing"])
    return store.transition(draft_id, "edit", actor, detail, thread=thread,
                            alts={k: v.strip() for k, v in (alts or {}).items()},
                            expect_revision=expect_revision)


def reschedule_draft(store: Store, draft_id: int, actor: str, slot_at: datetime, *,
                     now: datetime | None = None) -> Draft:
    """Give a draft a new slot (an expired draft goes back to review)."""
    require_role(store, actor, "reschedule")
    if slot_at.tzinfo is None:
        raise BotError("the new slot needs a time zone (this is a bug in the caller)")
    if slot_at <= _now(store, now):
        raise BotError(f"the new slot {slot_at:%Y-%m-%d %H:%M %Z} is not in the future: "
                       f"pick a later time")
    return store.transition(draft_id, "reschedule", actor,
                            f"new slot {slot_at.isoformat(timespec='minutes')}",
                            slot_at=slot_at)


def overdue_ids(store: Store, now: datetime) -> list[int]:
    """Drafts waiting for review whose slot has passed (one indexed query)."""
    d = s.drafts.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(d.id).where(
            d.state == PENDING, d.slot_at <= now.astimezone(UTC)).order_by(d.slot_at)).all()
    return [int(r[0]) for r in rows]


def expire_overdue(store: Store, now: datetime, *, config: Config | None = None,
                   on_expired: Callable[[Draft], object] | None = None) -> list[int]:
    """Expire drafts still waiting for review after their slot; return their ids.

    With `config`, a notice goes out for each (see bot.notify); `on_expired` is called with
    each expired draft as well."""
    expired = []
    for draft_id in overdue_ids(store, now):
        try:
            d = store.get_draft(draft_id)
            if d.state != PENDING or d.slot_at > now:
                continue  # rescheduled or approved meanwhile
            d = store.transition(draft_id, "expire", "citycrier",
                                 f"slot {d.slot_at.isoformat(timespec='minutes')} passed "
                                 f"unapproved")
        except BotError:
            continue  # approved or edited meanwhile
        expired.append(draft_id)
        if config is not None:
            from bot.notify import notify_expired

            notify_expired(config, d)
        if on_expired is not None:
            on_expired(d)
    return expired
