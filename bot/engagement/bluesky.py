"""Reading Bluesky back: ``app.bsky.feed.getPosts`` (25 uris a call) for the counts and
``app.bsky.feed.getPostThread`` for the replies, through the account's PDS, which proxies
``app.bsky.*`` calls to its app view.

The reader is the account's own BlueskyClient (saved session, same errors, a 429 becomes
RateLimited with the PDS's reset time); when a successful answer says no calls remain
(``ratelimit-remaining: 0``), the reader says until when it must rest.

A thread's own posts reply to one another, so the replies kept are those by other accounts;
a resident's reply to a reply is kept too, but the walk never descends through the city's
own posts (their replies belong to those posts).

Example::

    reader = BlueskyReader(account, state_dir)
    reader.read_counts(posts)          # {record key: Counts}
    reader.read_replies(post)          # [Reply, ...]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from atproto import Client, models
from atproto_client.models.utils import get_response_model

from bot.engagement import Counts, Published, Reply
from bot.publish.bluesky import BlueskyClient

BATCH = 25  # uris per getPosts, the lexicon's maximum
DEPTH = 6  # levels of replies fetched under each post


class BlueskyReader(BlueskyClient):
    """Counts and replies of one Bluesky account's posts. See the module docstring."""

    batch = BATCH

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rest_until: datetime | None = None  # set when the PDS says no calls remain

    def read_counts(self, posts: Sequence[Published]) -> dict[str, Counts]:
        """Each post's counts by record key (posts the app view no longer has are left out)."""
        if not 0 < len(posts) <= BATCH:
            raise ValueError(f"read 1 to {BATCH} posts a call, not {len(posts)}")
        keys = {p.uri: p.remote_id for p in posts}
        params = models.AppBskyFeedGetPosts.Params(uris=list(keys))
        response = self._call(f"read the counts of {len(posts)} posts", lambda c: c.invoke_query(
            "app.bsky.feed.getPosts", params=params, output_encoding="application/json"),
            write=False)
        self.rest_until = rest_until(response.headers)
        answer = get_response_model(response, models.AppBskyFeedGetPosts.Response)
        return {keys[view.uri]: Counts(likes=view.like_count or 0,
                                       reposts=view.repost_count or 0,
                                       replies=view.reply_count or 0,
                                       quotes=view.quote_count or 0)
                for view in answer.posts if view.uri in keys}

    def read_replies(self, post: Published) -> list[Reply]:
        """The replies by other accounts under one post, oldest first."""
        params = models.AppBskyFeedGetPostThread.Params(uri=post.uri, depth=DEPTH,
                                                        parent_height=0)

        def fetch(client: Client) -> Any:
            return client.app.bsky.feed.get_post_thread(params)

        answer = self._call(f"read the replies to post {post.post_index + 1}", fetch,
                            write=False)
        out: list[Reply] = []
        _walk(answer.thread, self._did, post.post_index, out)
        return sorted(out, key=lambda r: (r.written_at, r.remote_id))


def rest_until(headers: Mapping[str, str]) -> datetime | None:
    """When no calls remain in the PDS's window (``ratelimit-remaining: 0``), its end.

    >>> rest_until({"ratelimit-remaining": "0", "ratelimit-reset": "1767225600"})
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> rest_until({"ratelimit-remaining": "12", "ratelimit-reset": "1767225600"}) is None
    True
    """
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    reset = lower.get("ratelimit-reset", "")
    if lower.get("ratelimit-remaining") == "0" and reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    return None


def _walk(node: Any, own_did: str, index: int, out: list[Reply]) -> None:
    for child in getattr(node, "replies", None) or []:
        view = getattr(child, "post", None)
        if view is None:  # a reply not found or blocked
            continue
        if view.author.did == own_did:
            continue  # the thread's next post: its replies are its own
        out.append(_reply(view, index))
        _walk(child, own_did, index, out)


def _reply(view: Any, index: int) -> Reply:
    handle = view.author.handle
    rkey = view.uri.rsplit("/", 1)[-1]
    return Reply(index, view.uri, handle, getattr(view.record, "text", "") or "",
                 f"https://bsky.app/profile/{handle}/post/{rkey}",
                 _moment(getattr(view.record, "created_at", "") or view.indexed_at))


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
