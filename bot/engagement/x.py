"""Reading X back: ``GET /2/tweets?ids=...&tweet.fields=public_metrics``, 100 ids a call.

The reader is the account's own XClient (same OAuth 1.0a keys, same routed session, same
errors), asking tweepy for the raw response so the rate-limit headers of a *successful*
call can be heeded too: when ``x-rate-limit-remaining`` reaches 0 the reader says until when
it must rest. Reads cost money on X's pay-per-use tier, so an account reads only with
``read_metrics = true``.

Example::

    reader = XReader(account)
    counts = reader.read_counts(["1860000000000000001"])   # {id: Counts}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from bot.engagement import Counts, Published, Reply
from bot.errors import PublishError
from bot.publish.x import XClient

log = logging.getLogger(__name__)

BATCH = 100  # ids per GET /2/tweets, X's maximum


class XReader(XClient):
    """Counts of one X account's posts. See the module docstring."""

    batch = BATCH

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rest_until: datetime | None = None  # set when X says no calls remain

    def read_counts(self, posts: Sequence[Published]) -> dict[str, Counts]:
        """Each post's public metrics by tweet id (posts X no longer has are left out)."""
        ids = [p.remote_id for p in posts]
        if not 0 < len(ids) <= BATCH:
            raise ValueError(f"read 1 to {BATCH} posts a call, not {len(ids)}")
        client = self._client()
        client.return_type = requests.Response  # the headers too, not just the data
        try:
            response = client.get_tweets(ids, tweet_fields=["public_metrics"], user_auth=True)
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
            m = tweet.get("public_metrics") or {}
            out[str(tweet["id"])] = Counts(
                likes=int(m.get("like_count", 0)), reposts=int(m.get("retweet_count", 0)),
                replies=int(m.get("reply_count", 0)), quotes=int(m.get("quote_count", 0)),
                impressions=int(m["impression_count"]) if "impression_count" in m else None)
        for error in body.get("errors") or []:
            log.info("x account %r: %s", self.account.name, error.get("detail", error))
        return out

    def read_replies(self, post: Published) -> list[Reply]:
        """Not read on X: recent search by conversation_id needs a paid tier (see README)."""
        return []


def _rest_until(headers: Any) -> datetime | None:
    """When no calls remain in X's window, the window's end (x-rate-limit-reset)."""
    remaining = str(headers.get("x-rate-limit-remaining", "")).strip()
    reset = str(headers.get("x-rate-limit-reset", "")).strip()
    if remaining == "0" and reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    return None
