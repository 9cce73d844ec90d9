"""Publish one claimed draft to its platforms: post by post, receipts first, never twice.

For each platform (independently: one failing never stops another):

1. posts with a confirmed receipt are done; the thread continues from the last of them;
2. a post with an intent but no confirmation may or may not have been written: ask the
   platform (`find_post`) before anything else; if it cannot be settled, stop that platform
   and flag it for a person;
3. otherwise record the intent (with Bluesky's record key), write, and confirm the receipt.

A draft is `published` only when every post on every platform is confirmed; otherwise it is
`partially_published` with the reason, and the next pass resumes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.errors import BotError, PublishError, RateLimited, UnknownOutcome
from bot.publish.base import Image, PostContent, Ref
from bot.publish.runner import Outcome
from bot.settings import AccountConfig, Config
from bot.store import Draft, Receipt, Store

log = logging.getLogger(__name__)

DONE = "done"
PENDING = "pending"
RATE_LIMITED = "rate_limited"
RETRY = "retry"  # a transient failure: the next pass tries again
NEEDS_PERSON = "needs_person"  # final refusal, or an outcome nobody can settle
SETTLE_AFTER = timedelta(minutes=1)
RETRY_AFTER = timedelta(minutes=5)


def account_for(config: Config, platform: str) -> AccountConfig | None:
    """The configured account for a platform (the first, if several)."""
    return next((a for a in config.accounts.values() if a.platform == platform), None)


def open_client(config: Config, account: AccountConfig) -> Any:
    if account.platform == "bluesky":
        from bot.publish.bluesky import BlueskyClient

        return BlueskyClient(account, config.state_dir)
    from bot.publish.x import XClient

    return XClient(account)


def publish_thread(config: Config, store: Store, draft: Draft, now: datetime, *,
                   worker: str, clients: dict[str, Any] | None = None,
                   stop: Callable[[], bool] | None = None) -> Outcome:
    """Publish (or resume) every platform of one claimed draft; settle its state."""
    rev = store.revision(draft.id)
    charts = {c.name: c for c in store.charts(draft.id)}
    states: dict[str, tuple[str, str, datetime | None]] = {}
    for platform in draft.platforms:
        account = account_for(config, platform)
        if account is None:
            states[platform] = (DONE, f"no {platform} account in config.toml: skipped", None)
            continue
        known = store.deliveries(draft.id).get(platform)
        if known and known["state"] == DONE:
            states[platform] = (DONE, "", None)
            continue
        if known and known["state"] == NEEDS_PERSON:
            states[platform] = (NEEDS_PERSON, known["error"], None)
            continue
        if known and known["retry_at"] and known["retry_at"] > now:
            states[platform] = (known["state"], known["error"], known["retry_at"])
            continue
        posts = [PostContent(p.text, tuple(
            Image(charts[n].png, rev.alts.get(n, charts[n].alt), charts[n].width,
                  charts[n].height) for n in p.charts if n in charts))
            for p in rev.thread[platform]]
        given = (clients or {}).get(platform)
        client = None
        try:
            client = given or open_client(config, account)
            state = _publish_platform(store, draft, platform, account, client, posts, now,
                                      stop)
        except RateLimited as exc:
            state = (RATE_LIMITED, exc.message, exc.retry_at)
        except BotError as exc:  # e.g. a missing credential: a person must act
            state = (NEEDS_PERSON, exc.message, None)
        finally:
            if client is not None and given is None and hasattr(client, "close"):
                client.close()
        store.set_delivery(draft.id, platform, account.name, state[0], state[1], state[2])
        states[platform] = state
        if state[0] != DONE:
            log.warning("draft %s on %s: %s", draft.id, platform, state[1])
    return _settle(store, draft, worker, states)


def _publish_platform(store: Store, draft: Draft, platform: str, account: AccountConfig,
                      client: Any, posts: list[PostContent], now: datetime,
                      stop: Callable[[], bool] | None) -> tuple[str, str, datetime | None]:
    receipts = {r.post_index: r for r in store.receipts(draft.id, platform)}
    left = sum(1 for i in range(len(posts)) if not (receipts.get(i) and
                                                   receipts[i].confirmed))
    if left and not receipts:  # a thread is started only if it can finish within the caps
        capped = _over_cap(store, account, left, now)
        if capped:
            return capped
    root: Ref | None = None
    parent: Ref | None = None
    for i, content in enumerate(posts):
        r = receipts.get(i)
        if r is not None and r.confirmed:
            parent = Ref(r.remote_id or "", r.uri or "", r.cid or "")
            root = root or parent
            continue
        if stop is not None and stop():
            return (PENDING, f"stopped after post {i} of {len(posts)}: the next run "
                             f"continues", None)
        if r is not None:  # intent without confirmation: was it written?
            try:
                found = client.find_post(content, key=r.key, parent=parent,
                                         since=r.intent_at - SETTLE_AFTER)
            except UnknownOutcome as exc:
                return (NEEDS_PERSON, f"post {i + 1} may or may not have been posted, and "
                                      f"{platform} could not say ({exc.what}): check the "
                                      f"account, then release the draft", None)
            if found is not None:
                _confirm(store, draft, platform, i, found)
                parent, root = found, root or found
                continue
        key = r.key if (r is not None and r.key) else client.new_key()
        store.record_intent(draft.id, platform, account.name, i, key)
        try:
            ref = client.create_post(content, key=key, root=root, parent=parent)
        except UnknownOutcome as exc:
            return (RETRY, f"post {i + 1}: {exc.what}; the next pass asks {platform} whether "
                           f"it was posted before writing again", now + SETTLE_AFTER)
        except RateLimited:
            raise
        except PublishError as exc:
            if exc.final:
                return (NEEDS_PERSON, f"post {i + 1}: {exc.what}", None)
            return (RETRY, f"post {i + 1}: {exc.what}", now + RETRY_AFTER)
        _confirm(store, draft, platform, i, ref)
        store.renew_claim(draft.id)
        parent, root = ref, root or ref
    return (DONE, "", None)


def _confirm(store: Store, draft: Draft, platform: str, index: int, ref: Ref) -> None:
    store.confirm_receipt(draft.id, platform, index, ref.id, ref.uri, ref.cid)


def _over_cap(store: Store, account: AccountConfig, needed: int,
              now: datetime) -> tuple[str, str, datetime | None] | None:
    for window, cap, label in ((timedelta(hours=1), account.posts_per_hour, "an hour"),
                               (timedelta(days=1), account.posts_per_day, "a day")):
        used = store.posts_since(account.name, now - window)
        if used + needed > cap:
            return (RATE_LIMITED, f"account {account.name!r} may post {cap} posts {label} "
                                  f"(config.toml); {used} used, this thread needs {needed}: "
                                  f"it waits", now + window / 12)
    return None


def _settle(store: Store, draft: Draft, worker: str,
            states: dict[str, tuple[str, str, datetime | None]]) -> Outcome:
    if all(s[0] == DONE for s in states.values()):
        notes = "; ".join(s[1] for s in states.values() if s[1])
        d = store.transition(draft.id, "published", worker,
                             "every post confirmed" + (f" ({notes})" if notes else ""),
                             error="")
        return Outcome(d.id, d.recipe, d.state, "every post confirmed on " +
                       ", ".join(p for p, s in states.items() if not s[1]))
    problems = "; ".join(f"{p}: {s[1]}" for p, s in states.items() if s[0] != DONE)
    waits = [s[2] for s in states.values() if s[0] != DONE and s[2] is not None]
    retry_at = min(waits) if waits else None
    if any(s[0] == NEEDS_PERSON for s in states.values()) and not waits:
        d = store.transition(draft.id, "hold", worker, problems, error=problems)
    else:
        d = store.transition(draft.id, "partial", worker, problems, error=problems,
                             retry_at=retry_at)
    return Outcome(d.id, d.recipe, d.state, problems)


def confirmed_refs(receipts: list[Receipt]) -> list[Ref]:
    return [Ref(r.remote_id or "", r.uri or "", r.cid or "") for r in receipts if r.confirmed]
