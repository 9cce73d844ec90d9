"""Publish one claimed draft to its platforms: post by post, receipts first, never twice.

For each platform (independently: one failing never stops another):

1. posts with a confirmed receipt are done; the thread continues from the last of them;
2. a thread not yet started starts only if it fits the account's caps (config.toml);
3. the account logs in before anything is written (a refused password writes nothing);
4. a post with an intent but no confirmation may or may not have been written: ask the
   platform (`find_post`) before anything else; if it cannot be settled, stop that platform
   and flag it for a person;
5. otherwise record the intent (with Bluesky's record key, or Mastodon's Idempotency-Key),
   write, and confirm the receipt.

A draft is `published` only when every post on every platform is confirmed; otherwise it is
`partially_published` with the reason (the next pass resumes it, at the platform's retry
time), or `on_hold` when every unfinished platform needs a person.

Example::

    for draft in store.claim_due(now, worker):
        outcome = publish_thread(config, store, draft, now, worker=worker)
        print(outcome.state, outcome.detail)   # published, every post confirmed on bluesky, x
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.errors import BotError, PublishError, RateLimited, UnknownOutcome
from bot.publish.base import Image, PostContent, Ref
from bot.publish.runner import Outcome, claims_since_release
from bot.settings import AccountConfig, Config
from bot.store import Draft, Receipt, Revision, Store, StoredChart

log = logging.getLogger(__name__)

DONE = "done"
PENDING = "pending"  # stopped on request: the next pass continues at once
RATE_LIMITED = "rate_limited"  # a platform's limit or an account cap: waits for retry_at
RETRY = "retry"  # a transient failure: the next pass tries again at retry_at
NEEDS_PERSON = "needs_person"  # final refusal, or an outcome nobody can settle
SETTLE_AFTER = timedelta(minutes=1)  # after an unknown outcome, ask the platform this soon
RETRY_AFTER = timedelta(minutes=5)  # after a transient failure
# These log the OAuth 1.0a header (consumer key, access token) at DEBUG: never let them.
SECRET_LOGGERS = ("oauthlib", "requests_oauthlib")


@dataclass(frozen=True)
class Delivery:
    """Where one platform's copy of a thread stands after a pass."""

    state: str  # DONE | PENDING | RATE_LIMITED | RETRY | NEEDS_PERSON
    reason: str = ""  # one line, without the platform's name
    retry_at: datetime | None = None


def account_for(config: Config, platform: str,
                names: Sequence[str] = ()) -> AccountConfig | None:
    """The account that posts on a platform: the recipe's named one (`names`, kept on the
    draft as source["accounts"]) if it names one for that platform, else the first
    configured for the platform."""
    for name in names:
        account = config.accounts.get(name)
        if account is not None and account.platform == platform:
            return account
    return next((a for a in config.accounts.values() if a.platform == platform), None)


def open_client(config: Config, account: AccountConfig) -> Any:
    """The platform client for one configured account (credentials from the environment)."""
    from bot.platforms import platform

    for name in SECRET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.WARNING))
    return platform(account.platform).open_client(config, account)


def publish_thread(config: Config, store: Store, draft: Draft, now: datetime, *,
                   worker: str, clients: dict[str, Any] | None = None,
                   stop: Callable[[], bool] | None = None) -> Outcome:
    """Publish (or resume) every platform of one claimed draft; settle its state."""
    rev = store.revision(draft.id)
    charts = {c.name: c for c in store.charts(draft.id)}
    known = store.deliveries(draft.id)
    released = claims_since_release(store.audit(draft.id)) == 1  # a person just let it go
    states: dict[str, Delivery] = {}
    for platform in draft.platforms:
        started = [r.account for r in store.receipts(draft.id, platform)]
        account = (config.accounts.get(started[0]) if started else None) or account_for(
            config, platform, draft.source.get("accounts", ()))  # a thread keeps its account
        if account is None:
            states[platform] = Delivery(DONE, f"no {platform} account in config.toml: skipped")
            continue
        before = known.get(platform)
        if before and before["state"] == DONE:
            states[platform] = Delivery(DONE)
            continue
        if before and before["state"] == NEEDS_PERSON and not released:
            states[platform] = Delivery(NEEDS_PERSON, before["error"])
            continue
        if before and before["retry_at"] and before["retry_at"] > now:
            states[platform] = Delivery(before["state"], before["error"], before["retry_at"])
            continue
        given = (clients or {}).get(platform)
        client = None
        try:
            posts = contents(rev, charts, platform)
            client = given or open_client(config, account)
            state = _publish_platform(store, draft, platform, account, client, posts, now,
                                      worker, stop)
        except RateLimited as exc:
            state = Delivery(RATE_LIMITED, exc.what, exc.retry_at)
        except PublishError as exc:  # e.g. the login: refused (final) or unreachable
            state = (Delivery(NEEDS_PERSON, exc.what) if exc.final
                     else Delivery(RETRY, exc.what, now + RETRY_AFTER))
        except BotError as exc:  # e.g. a missing credential: a person must act
            state = Delivery(NEEDS_PERSON, exc.message)
        finally:
            if client is not None and given is None and hasattr(client, "close"):
                client.close()
        store.set_delivery(draft.id, platform, account.name, state.state, state.reason,
                           state.retry_at)
        states[platform] = state
        if state.state != DONE:
            log.warning("draft %s on %s: %s", draft.id, platform, state.reason)
    return _settle(store, draft, worker, states)


def contents(rev: Revision, charts: dict[str, StoredChart], platform: str) -> list[PostContent]:
    """The posts of one platform's thread with their charts (alt text as last edited)."""
    if platform not in rev.thread:
        raise BotError(f"the draft has no {platform} thread (edit the draft, or remove "
                       f"{platform} from the recipe's platforms)")
    posts = []
    for number, post in enumerate(rev.thread[platform], 1):
        missing = [n for n in post.charts if n not in charts]
        if missing:
            raise BotError(f"post {number} names charts the draft does not hold: "
                           f"{', '.join(missing)} (draft it again)")
        posts.append(PostContent(post.text, tuple(
            Image(charts[n].png, rev.alts.get(n, charts[n].alt), charts[n].width,
                  charts[n].height) for n in post.charts)))
    return posts


def _publish_platform(store: Store, draft: Draft, platform: str, account: AccountConfig,
                      client: Any, posts: list[PostContent], now: datetime, worker: str,
                      stop: Callable[[], bool] | None) -> Delivery:
    receipts = {r.post_index: r for r in store.receipts(draft.id, platform)}
    if all(i in receipts and receipts[i].confirmed for i in range(len(posts))):
        return Delivery(DONE)
    if not receipts:  # a thread is started only if it can finish within the caps
        capped = check_caps(store, account, len(posts), now)
        if capped:
            return capped
    client.login()  # before any intent: refused credentials write nothing
    total = len(posts)
    root: Ref | None = None
    parent: Ref | None = None
    for i, content in enumerate(posts):
        r = receipts.get(i)
        if r is not None and r.confirmed:
            parent = Ref(r.remote_id or "", r.uri or "", r.cid or "")
            root = root or parent
            continue
        if stop is not None and stop():
            return Delivery(PENDING, f"stopped before post {i + 1} of {total}: the next run "
                                     f"continues")
        if r is not None:  # intent without confirmation: was it written?
            try:
                found = client.find_post(content, key=r.key, parent=parent,
                                         since=r.intent_at - SETTLE_AFTER)
            except UnknownOutcome as exc:
                return Delivery(NEEDS_PERSON, f"post {i + 1} of {total} may or may not have "
                                              f"been posted, and {platform} could not say "
                                              f"({exc.what}): check the account, then "
                                              f"release the draft")
            if found is not None:
                _confirm(store, draft, platform, i, found)
                store.add_audit(draft.id, worker, "settle",
                                f"{platform} post {i + 1}: it had been posted "
                                f"({found.uri or found.id}); receipt completed")
                parent, root = found, root or found
                continue
        key = r.key if (r is not None and r.key) else client.new_key()
        store.record_intent(draft.id, platform, account.name, i, key)
        try:
            ref = client.create_post(content, key=key, root=root, parent=parent)
        except UnknownOutcome as exc:
            return Delivery(RETRY, f"post {i + 1} of {total}: {exc.what}", now + SETTLE_AFTER)
        except RateLimited:
            raise
        except PublishError as exc:
            if exc.final:
                return Delivery(NEEDS_PERSON, f"post {i + 1} of {total}: {exc.what}")
            return Delivery(RETRY, f"post {i + 1} of {total}: {exc.what}", now + RETRY_AFTER)
        _confirm(store, draft, platform, i, ref)
        store.renew_claim(draft.id, worker)
        parent, root = ref, root or ref
    return Delivery(DONE)


def _confirm(store: Store, draft: Draft, platform: str, index: int, ref: Ref) -> None:
    store.confirm_receipt(draft.id, platform, index, ref.id, ref.uri, ref.cid)


CAP_WINDOWS = ((timedelta(hours=1), "posts_per_hour", "an hour", "hour"),
               (timedelta(days=1), "posts_per_day", "a day", "24 hours"))


def check_caps(store: Store, account: AccountConfig, needed: int,
               now: datetime) -> Delivery | None:
    """None if a thread of `needed` posts fits the account's caps now; else why it waits.

    A thread longer than a cap can never fit: it waits for a person. Otherwise it waits
    until enough of the account's posts have left the window (to the minute)."""
    for window, key, label, span in CAP_WINDOWS:
        cap: int = getattr(account, key)
        if needed > cap:
            return Delivery(NEEDS_PERSON, f"the thread has {needed} posts but account "
                                          f"{account.name!r} may post {cap} {label} ({key} in "
                                          f"config.toml): raise {key} or shorten the thread")
        used = store.posts_since(account.name, now - window)
        if used + needed > cap:
            at = _cap_frees(store, account.name, window, cap - needed, now)
            return Delivery(RATE_LIMITED, f"account {account.name!r} may post {cap} posts "
                                          f"{label} ({key} in config.toml) and posted {used} "
                                          f"in the last {span}; this thread needs {needed}: "
                                          f"it waits until {at:%Y-%m-%d %H:%M %Z}", at)
    return None


def _cap_frees(store: Store, account: str, window: timedelta, allowed: int,
               now: datetime) -> datetime:
    """The first whole minute after `now` when at most `allowed` posts are in the window."""
    lo, hi = 1, int(window.total_seconds() // 60)
    while lo < hi:
        mid = (lo + hi) // 2
        if store.posts_since(account, now + timedelta(minutes=mid) - window) <= allowed:
            hi = mid
        else:
            lo = mid + 1
    return now + timedelta(minutes=lo)


def _settle(store: Store, draft: Draft, worker: str, states: dict[str, Delivery]) -> Outcome:
    if all(s.state == DONE for s in states.values()):
        posted = [p for p, s in states.items() if not s.reason]
        notes = "; ".join(f"{p}: {s.reason}" for p, s in states.items() if s.reason)
        if not posted:
            d = store.transition(draft.id, "hold", worker, notes, error=notes)
            return Outcome(d.id, d.recipe, d.state, notes)
        detail = "every post confirmed on " + ", ".join(posted) + (
            f" ({notes})" if notes else "")
        d = store.transition(draft.id, "published", worker, detail, error="")
        return Outcome(d.id, d.recipe, d.state, detail)
    unfinished = {p: s for p, s in states.items() if s.state != DONE}
    problems = "; ".join(f"{p}: {s.reason}" for p, s in unfinished.items())
    if all(s.state == NEEDS_PERSON for s in unfinished.values()):
        d = store.transition(draft.id, "hold", worker, problems, error=problems)
    else:
        waits = [s.retry_at for s in unfinished.values()
                 if s.state != NEEDS_PERSON and s.retry_at is not None]
        pending = any(s.state == PENDING for s in unfinished.values())
        retry_at = None if pending or not waits else min(waits)
        d = store.transition(draft.id, "partial", worker, problems, error=problems,
                             retry_at=retry_at)
    return Outcome(d.id, d.recipe, d.state, problems)


def confirmed_refs(receipts: list[Receipt]) -> list[Ref]:
    return [Ref(r.remote_id or "", r.uri or "", r.cid or "") for r in receipts if r.confirmed]
