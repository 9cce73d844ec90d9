"""Reading Mastodon back: ``GET /api/v1/statuses/{id}`` for each post's counts
(favourites, reblogs, replies, quotes where the server counts them) and
``GET /api/v1/statuses/{id}/context`` for the replies.

The reader is the account's own MastodonClient (its token, its server, the same errors; a
429 becomes RateLimited at ``X-RateLimit-Reset``, and ``X-RateLimit-Remaining: 0`` on a
successful answer makes the reader stop and rest until then). One status a call, so a
"batch" is up to BATCH calls whose readings are written together; statuses not read
because no calls remain stay due.

Replies kept are other accounts' statuses under the post, directly or through other
residents' replies; never through the city's own statuses (the thread's next post answers
its own replies).

Example::

    reader = MastodonReader.from_config(config, account)
    reader.read_counts(posts)          # {status id: Counts}
    reader.read_replies(post)          # [Reply, ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.engagement import Counts, Published, Reply
from bot.publish.mastodon import MastodonClient, parse_time, plain_text

BATCH = 20  # statuses read (one call each) before their readings are written


class MastodonReader(MastodonClient):
    """Counts and replies of one Mastodon account's posts. See the module docstring."""

    batch = BATCH

    @property
    def rest_until(self) -> datetime | None:
        """When the server said no calls remain: the end of its window."""
        return self._paused_until

    def read_counts(self, posts: Sequence[Published]) -> dict[str, Counts]:
        """Each post's counts by status id (statuses the server no longer has are left out)."""
        if not 0 < len(posts) <= BATCH:
            raise ValueError(f"read 1 to {BATCH} posts a pass, not {len(posts)}")
        out: dict[str, Counts] = {}
        for post in posts:
            rest = self.rest_until
            if rest is not None and rest > self._clock():
                break  # no calls left: the rest stay due (the pass pauses the account)
            action = f"reading post {post.post_index + 1}"
            response = self._call(action, "GET", f"/api/v1/statuses/{post.remote_id}",
                                  ok=(200, 404))
            if response.status_code == 404:
                continue  # deleted on the server
            status = self._body(response, action, dict, needs_id=True)
            out[post.remote_id] = Counts(
                likes=_count(status, "favourites_count"),
                reposts=_count(status, "reblogs_count"),
                replies=_count(status, "replies_count"),
                quotes=_count(status, "quotes_count"))
        return out

    def read_replies(self, post: Published) -> list[Reply]:
        """Other accounts' statuses under one post, oldest first."""
        if not self._account_id:
            self.login()
        action = f"reading the replies to post {post.post_index + 1}"
        context = self._body(self._call(action, "GET",
                                        f"/api/v1/statuses/{post.remote_id}/context"),
                             action, dict)
        found = context.get("descendants")
        below = {str(s["id"]): s for s in (found if isinstance(found, list) else [])
                 if isinstance(s, dict) and "id" in s}
        out = []
        for status in below.values():
            if _answers(status, post.remote_id, below, self._account_id):
                out.append(_reply(status, post.post_index))
        return sorted(out, key=lambda r: (r.written_at, r.remote_id))


def _count(status: dict[str, Any], key: str) -> int:
    """A count of the status; 0 where the server gives none (or something not a count)."""
    value = status.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _answers(status: dict[str, Any], post_id: str, below: dict[str, dict[str, Any]],
             own: str) -> bool:
    """Whether a status by someone else hangs under the post through others' statuses."""
    seen = 0
    while seen < 1000:
        if str(status.get("account", {}).get("id")) == own:
            return False
        parent = str(status.get("in_reply_to_id") or "")
        if parent == post_id:
            return True
        if parent not in below:
            return False
        status, seen = below[parent], seen + 1
    return False


def _reply(status: dict[str, Any], index: int) -> Reply:
    account = status.get("account") or {}
    written = parse_time(str(status.get("created_at", ""))) or datetime.now(UTC)
    return Reply(index, str(status["id"]), str(account.get("acct") or account.get("username")),
                 plain_text(str(status.get("content", ""))), str(status.get("url") or ""),
                 written)
