"""Reading X back: ``GET /2/tweets?ids=...&tweet.fields=public_metrics``, 100 ids a call.

The reader is the account's own XClient (same OAuth 1.0a keys, same routed session, same
errors), asking tweepy for the raw response so the rate-limit headers of a *successful*
call can be heeded too: when ``x-rate-limit-remaining`` reaches 0 the reader says until when
it must rest. Reads cost money on X's pay-per-use tier, so an account reads only with
``read_metrics = true``.

Replies come from recent search, ``conversation_id:ID`` (the thread's first post), once per
thread and pass, then go to the post each one answers (its ``replied_to``); the account's own
posts are left out. Recent search covers 7 days and needs a tier that includes it: when X
refuses it (403), replies are not read for that account in that pass, and counts still are.

Example::

    reader = XReader(account)
    counts = reader.read_counts(["1860000000000000001"])   # {id: Counts}
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from bot.engagement import Counts, Published, Reply
from bot.errors import PublishError
from bot.publish.x import XClient

log = logging.getLogger(__name__)

BATCH = 100  # ids per GET /2/tweets, X's maximum
SEARCH_PAGES = 5  # of 100 replies each, per thread


class XReader(XClient):
    """Counts and replies of one X account's posts. See the module docstring."""

    batch = BATCH

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rest_until: datetime | None = None  # set when X says no calls remain
        self._conversations: dict[str, str] = {}  # tweet id -> its thread's first post
        self._threads: dict[str, list[dict[str, Any]]] = {}  # first post -> replies found
        self._search_refused = False

    def read_counts(self, posts: Sequence[Published]) -> dict[str, Counts]:
        """Each post's public metrics by tweet id (posts X no longer has are left out)."""
        ids = [p.remote_id for p in posts]
        if not 0 < len(ids) <= BATCH:
            raise ValueError(f"read 1 to {BATCH} posts a call, not {len(ids)}")
        try:
            response = self._raw(lambda c: c.get_tweets(
                ids, tweet_fields=["public_metrics", "conversation_id"], user_auth=True))
            body = response.json()
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._error(f"reading the counts of {len(ids)} posts", exc,
                              write=False) from exc
        except ValueError as exc:
            raise PublishError(self.platform, "X answered the counts with no JSON "
                               "(try again later)") from exc
        self.rest_until = _rest_until(response.headers)
        out: dict[str, Counts] = {}
        for tweet in body.get("data") or []:
            self._conversations[str(tweet["id"])] = str(tweet.get("conversation_id", tweet["id"]))
            m = tweet.get("public_metrics") or {}
            out[str(tweet["id"])] = Counts(
                likes=int(m.get("like_count", 0)), reposts=int(m.get("retweet_count", 0)),
                replies=int(m.get("reply_count", 0)), quotes=int(m.get("quote_count", 0)),
                impressions=int(m["impression_count"]) if "impression_count" in m else None)
        for error in body.get("errors") or []:
            log.info("x account %r: %s", self.account.name, error.get("detail", error))
        return out

    def _raw(self, call: Callable[[tweepy.Client], Any]) -> Any:
        """One tweepy call answered with the requests.Response (headers too, not just data)."""
        client = self._client()
        before, client.return_type = client.return_type, requests.Response
        try:
            return call(client)
        finally:
            client.return_type = before

    def read_replies(self, post: Published) -> list[Reply]:
        """Replies by others to one post, oldest first ([] when X refuses recent search)."""
        if self._search_refused:
            return []
        root = self._conversations.get(post.remote_id, post.remote_id)
        if root not in self._threads:
            try:
                self._threads[root] = self._search(root)
            except tweepy.Forbidden:
                log.info("x account %r: recent search refused (the account's tier lacks "
                         "it): replies are not read", self.account.name)
                self._search_refused = True
                return []
            except (tweepy.TweepyException, requests.RequestException) as exc:
                raise self._error(f"reading the replies to post {post.post_index + 1}", exc,
                                  write=False) from exc
        out = [_reply(t, post.post_index) for t in self._threads[root]
               if post.remote_id in _replied_to(t)]
        return sorted(out, key=lambda r: (r.written_at, r.remote_id))

    def _search(self, root: str) -> list[dict[str, Any]]:
        if not self._user_id:
            self.login()
        found: list[dict[str, Any]] = []
        token: str | None = None

        def page(client: tweepy.Client) -> Any:
            return client.search_recent_tweets(
                f"conversation_id:{root}", max_results=100, next_token=token,
                tweet_fields=["author_id", "created_at", "referenced_tweets", "conversation_id"],
                expansions=["author_id"], user_fields=["username"], user_auth=True)

        for _ in range(SEARCH_PAGES):
            body = self._raw(page).json()
            names = {u["id"]: u["username"] for u in (body.get("includes") or {}).get("users", [])}
            found += [{**t, "username": names.get(t.get("author_id", ""), "")}
                      for t in body.get("data") or [] if t.get("author_id") != self._user_id]
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
        return found


def _replied_to(tweet: dict[str, Any]) -> set[str]:
    return {str(r["id"]) for r in tweet.get("referenced_tweets") or []
            if r.get("type") == "replied_to"}


def _reply(tweet: dict[str, Any], index: int) -> Reply:
    handle = tweet["username"] or tweet.get("author_id", "")
    return Reply(index, str(tweet["id"]), handle, html.unescape(tweet.get("text", "")),
                 f"https://x.com/{handle}/status/{tweet['id']}",
                 datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")))


def _rest_until(headers: Any) -> datetime | None:
    """When no calls remain in X's window, the window's end (x-rate-limit-reset)."""
    remaining = str(headers.get("x-rate-limit-remaining", "")).strip()
    reset = str(headers.get("x-rate-limit-reset", "")).strip()
    if remaining == "0" and reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    return None
