"""Retract a published thread: delete every confirmed post on every platform, last first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import BotError, TransitionError
from bot.publish.base import Ref
from bot.publish.thread import account_for, open_client
from bot.settings import Config
from bot.store import PARTIAL, PUBLISHED, Store


@dataclass(frozen=True)
class Deleted:
    platform: str
    post: int  # 1-based
    remote_id: str
    uri: str


def retract_thread(config: Config, store: Store, draft_id: int, actor: str,
                   clients: dict[str, Any] | None = None) -> list[Deleted]:
    """Delete the draft's posts on every platform, last post first; audit each deletion."""
    draft = store.get_draft(draft_id)
    if draft.state not in (PUBLISHED, PARTIAL):
        raise TransitionError(f"draft {draft_id} is {draft.state.replace('_', ' ')}: only a "
                              f"published or partially published thread can be retracted")
    deleted: list[Deleted] = []
    errors = []
    by_platform: dict[str, list] = {}
    for r in store.receipts(draft_id):
        if r.confirmed and r.deleted_at is None:
            by_platform.setdefault(r.platform, []).append(r)
    for platform, receipts in by_platform.items():
        account = account_for(config, platform)
        if account is None:
            errors.append(f"{platform}: no account in config.toml to delete with")
            continue
        client = (clients or {}).get(platform) or open_client(config, account)
        for r in sorted(receipts, key=lambda r: r.post_index, reverse=True):
            try:
                client.delete_post(Ref(r.remote_id or "", r.uri or "", r.cid or ""))
            except BotError as exc:
                errors.append(f"{platform} post {r.post_index + 1}: {exc.message}")
                break
            store.mark_deleted(draft_id, platform, r.post_index)
            store.add_audit(draft_id, actor, "delete_post",
                            f"{platform} post {r.post_index + 1}: {r.uri or r.remote_id}")
            deleted.append(Deleted(platform, r.post_index + 1, r.remote_id or "", r.uri or ""))
    if errors:
        store.add_audit(draft_id, actor, "retract_incomplete", "; ".join(errors))
        raise BotError(f"draft {draft_id}: deleted {len(deleted)} posts, then: "
                       f"{'; '.join(errors)} (run `citycrier retract {draft_id}` again)")
    store.transition(draft_id, "retract", actor, f"deleted {len(deleted)} posts")
    return deleted
