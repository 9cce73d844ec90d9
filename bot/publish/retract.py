"""Retract a thread: delete every post it has on every platform, last post first.

A post whose write was never confirmed (a crash or timeout between the write and its
receipt) may still exist: the platform is asked first (`find_post`), and a post found is
deleted too. A partially published draft is put on hold before anything is deleted, so no
publishing run adds posts while they are being taken down. Each deletion is audited; a
failure stops that platform (the posts before it stay, so the thread never loses its
middle) and the command can simply be run again.

Example::

    for d in retract_thread(config, store, 12, "dana"):
        print(f"deleted {d.platform} post {d.post}: {d.uri or d.remote_id}")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import BotError, PublishError, TransitionError, UnknownOutcome
from bot.publish.base import PostContent, Ref
from bot.publish.thread import SETTLE_AFTER, account_for, open_client
from bot.settings import Config
from bot.store import ON_HOLD, PARTIAL, PUBLISHED, PUBLISHING, Receipt, Store
from bot.voice import plural

RETRACTABLE = (PUBLISHED, PARTIAL, ON_HOLD)


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
    if draft.state not in RETRACTABLE:
        busy = " (a run is posting it right now: retract it when the run ends)" \
            if draft.state == PUBLISHING else ""
        raise TransitionError(f"draft {draft_id} is {draft.state.replace('_', ' ')}: only a "
                              f"published, partially published or on-hold thread can be "
                              f"retracted{busy}")
    if draft.state == PARTIAL:  # stop the publisher first: no new posts while deleting
        store.transition(draft_id, "hold", actor, "retracting: nothing more is posted")
    by_platform: dict[str, list[Receipt]] = {}
    for r in store.receipts(draft_id):
        if r.deleted_at is None:
            by_platform.setdefault(r.platform, []).append(r)
    texts = store.revision(draft_id).thread
    deleted: list[Deleted] = []
    errors: list[str] = []
    for platform, receipts in by_platform.items():
        account = config.accounts.get(receipts[0].account) or account_for(config, platform)
        if account is None:
            errors.append(f"{platform}: no account in config.toml to delete with")
            continue
        given = (clients or {}).get(platform)
        client = given or open_client(config, account)
        try:
            posted = _posted(store, draft_id, client, receipts,
                             [p.text for p in texts.get(platform, ())])
            for index, ref in reversed(posted):
                try:
                    client.delete_post(ref)
                except BotError as exc:
                    what = exc.what if isinstance(exc, PublishError) else exc.message
                    errors.append(f"{platform} post {index + 1} was not deleted: {what}")
                    break
                store.mark_deleted(draft_id, platform, index)
                store.add_audit(draft_id, actor, "delete_post",
                                f"{platform} post {index + 1}: {ref.uri or ref.id}")
                deleted.append(Deleted(platform, index + 1, ref.id, ref.uri))
        except BotError as exc:
            errors.append(exc.message)
        finally:
            if given is None and hasattr(client, "close"):
                client.close()
    if errors:
        store.add_audit(draft_id, actor, "retract_incomplete", "; ".join(errors))
        raise BotError(f"draft {draft_id}: deleted {plural(len(deleted), 'post')}, then: "
                       f"{'; '.join(errors)} (run `citycrier retract {draft_id}` again)")
    store.transition(draft_id, "retract", actor, f"deleted {plural(len(deleted), 'post')}")
    return deleted


def _posted(store: Store, draft_id: int, client: Any, receipts: list[Receipt],
            texts: list[str]) -> list[tuple[int, Ref]]:
    """(index, ref) of each post that exists, first to last; unconfirmed ones are asked."""
    out: list[tuple[int, Ref]] = []
    parent: Ref | None = None
    for r in sorted(receipts, key=lambda r: r.post_index):
        if r.confirmed:
            ref = Ref(r.remote_id or "", r.uri or "", r.cid or "")
        else:
            text = texts[r.post_index] if r.post_index < len(texts) else ""
            try:
                found = client.find_post(PostContent(text), key=r.key, parent=parent,
                                         since=r.intent_at - SETTLE_AFTER)
            except UnknownOutcome as exc:
                raise BotError(f"{r.platform} post {r.post_index + 1} may have been posted "
                               f"and {r.platform} could not say ({exc.what}): delete it by "
                               f"hand if it is there") from exc
            if found is None:
                continue  # never written: nothing to delete
            store.confirm_receipt(draft_id, r.platform, r.post_index, found.id, found.uri,
                                  found.cid)
            ref = found
        out.append((r.post_index, ref))
        parent = ref
    return out
