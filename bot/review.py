"""The approval rules, enforced here for the CLI and the web desk alike.

- Only a person whose role allows it may approve, reject, edit or reschedule (see ROLES);
  when no people are registered yet, the command line acts as the single operator.
- With `approval.two_person = true`, nobody approves a draft they edited.
- Editing a draft (even an approved one) sends it back to review as a new revision.
- A draft still unapproved when its slot passes is expired; it can be rescheduled.
"""

from __future__ import annotations

from datetime import datetime

from bot.errors import BotError, LengthError, PermissionDenied
from bot.settings import Config
from bot.store import PENDING, Draft, Post, Store

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


def editors_of(store: Store, draft_id: int) -> set[str]:
    return {r.author for r in store.revisions(draft_id) if r.revision > 1}


def approve_draft(store: Store, config: Config, draft_id: int, actor: str) -> Draft:
    require_role(store, actor, "approve")
    if config.approval.two_person and actor in editors_of(store, draft_id):
        raise PermissionDenied(
            f"{actor} edited draft {draft_id}; with two-person approval on, another approver "
            f"must approve it")
    return store.transition(draft_id, "approve", actor)


def reject_draft(store: Store, draft_id: int, actor: str, reason: str) -> Draft:
    require_role(store, actor, "reject")
    if not reason.strip():
        raise BotError("a rejection needs a reason (say what is wrong, for the record)")
    return store.transition(draft_id, "reject", actor, reason.strip())


def edit_draft(store: Store, draft_id: int, actor: str, *,
               texts: dict[str, list[str]] | None = None, alts: dict[str, str] | None = None,
               expect_revision: int | None = None) -> Draft:
    """Store edited post texts (platform -> texts, same count) and chart alt texts as a new
    revision; the draft returns to review. Every post is re-measured first."""
    from bot.limits import measure_post

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
            m = measure_post(text, platform)
            if not m.ok:
                raise LengthError(draft.recipe, i, platform, m.length, m.limit, m.unit)
            if not text:
                raise BotError(f"post {i} ({platform}) is empty: write something or reject "
                               f"the draft")
            posts.append(Post(text, post.charts))
        thread[platform] = tuple(posts)
    for name, alt in (alts or {}).items():
        if not alt.strip():
            raise BotError(f"chart {name!r} needs alt text: describe what it shows")
        if len(alt) > 1000:
            raise BotError(f"alt text for chart {name!r} is {len(alt)} characters; the limit "
                           f"is 1,000")
    changed = [p for p in thread if thread[p] != current.thread.get(p)]
    detail = "edited " + ", ".join(changed) if changed else "edited alt text"
    return store.transition(draft_id, "edit", actor, detail, thread=thread,
                            alts={k: v.strip() for k, v in (alts or {}).items()},
                            expect_revision=expect_revision)


def reschedule_draft(store: Store, draft_id: int, actor: str, slot_at: datetime) -> Draft:
    require_role(store, actor, "reschedule")
    return store.transition(draft_id, "reschedule", actor,
                            f"new slot {slot_at.isoformat(timespec='minutes')}",
                            slot_at=slot_at)


def expire_overdue(store: Store, now: datetime) -> list[int]:
    """Expire drafts still waiting for review after their slot; return their ids."""
    expired = []
    for d in store.list_drafts(states=(PENDING,)):
        if d.slot_at <= now:
            try:
                store.transition(d.id, "expire", "citycrier",
                                 f"slot {d.slot_at.isoformat(timespec='minutes')} passed "
                                 f"unapproved")
                expired.append(d.id)
            except BotError:
                continue  # approved or edited meanwhile
    return expired
