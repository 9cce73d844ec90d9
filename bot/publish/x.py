"""Posting to X: tweepy 4.17 for posts, the v2 media endpoints for images.

tweepy's ``Client.create_tweet`` writes each post (``in_reply_to_tweet_id`` chains the
thread). tweepy 4.17's own media upload still calls the retired v1.1 host, so images go
through ``POST /2/media/upload`` and ``POST /2/media/metadata`` (alt text), signed with
tweepy's OAuth 1.0a handler. tweepy hard-codes ``https://api.twitter.com``; a small
requests session sends its calls to ``account.api_base`` instead (same code path, any host)
and adds a timeout, which tweepy does not set.

X takes no client-chosen key, so after an unknown outcome (timeout, 5xx, dropped connection)
``find_post`` looks for the post among the account's recent posts: same text (compared with
links masked, since X rewrites them to t.co) replying to the same parent. When that cannot be
settled it raises UnknownOutcome again: never guess.

Example::

    client = XClient(account)
    client.login()                                  # 'cityhall'
    first = client.create_post(PostContent("Hello"), key="", root=None, parent=None)
"""

from __future__ import annotations

import html
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from twitter_text import extract_urls_with_indices, parse_tweet

from bot.errors import PublishError, RateLimited, UnknownOutcome
from bot.publish.base import Image, PostContent, Ref, read_secret
from bot.settings import AccountConfig, Config

log = logging.getLogger(__name__)

PLATFORM = "x"
TWEEPY_HOST = "https://api.twitter.com"  # what tweepy 4.17 puts before every route
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_CHARS = 1000
MAX_WEIGHTED_LENGTH = 280
TIMEOUT = (10.0, 30.0)  # connect, read (seconds)
LOOKUP_PAGES = 5  # of 100 posts each
LOOKUP_MARGIN = timedelta(minutes=2)  # clock skew between us and X
DUPLICATE = "duplicate content"

Clock = Callable[[], datetime]


class RoutedSession(requests.Session):
    """A requests session that sends tweepy's ``https://api.twitter.com`` calls to ``base``.

    >>> RoutedSession("http://127.0.0.1:8000").route("https://api.twitter.com/2/tweets")
    'http://127.0.0.1:8000/2/tweets'
    """

    def __init__(self, base: str, timeout: tuple[float, float] = TIMEOUT) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def route(self, url: str) -> str:
        return self.base + url[len(TWEEPY_HOST) :] if url.startswith(TWEEPY_HOST) else url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, self.route(url), *args, **kwargs)


def retry_time(headers: Mapping[str, str], now: datetime) -> datetime:
    """When a rate-limited call may be tried again, from X's headers (Unix seconds).

    ``x-rate-limit-reset`` ends the 15-minute window; a 24-hour cap whose ``-remaining`` is 0
    (user or app) ends at its own ``-reset``; the latest of these wins. Without any header:
    15 minutes from ``now``.

    >>> retry_time({"x-rate-limit-reset": "1767225600"}, datetime(2026, 1, 1, tzinfo=UTC))
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    lower = {k.lower(): v for k, v in headers.items()}
    names = ["x-rate-limit-reset"]
    for scope in ("user", "app"):
        if lower.get(f"x-{scope}-limit-24hour-remaining", "").strip() == "0":
            names.append(f"x-{scope}-limit-24hour-reset")
    stamps = [int(lower[n]) for n in names if lower.get(n, "").strip().isdigit()]
    if not stamps:
        return now + timedelta(minutes=15)
    return datetime.fromtimestamp(max(stamps), UTC)


def comparable_text(text: str) -> str:
    """A post's text as it can be compared with what X gives back for it.

    X rewrites links (and bare domains) to t.co, may add a t.co link to attached media,
    escapes ``&<>`` as HTML entities and may put reply mentions first; so links and leading
    mentions are dropped, entities undone, whitespace collapsed.

    >>> comparable_text("Up 12% — see data.brla.gov/d/x &amp; more https://t.co/AbC")
    'Up 12% — see & more'
    """
    text = html.unescape(unicodedata.normalize("NFC", text))
    for url in sorted(extract_urls_with_indices(text), key=lambda u: -u["indices"][0]):
        start, end = url["indices"]
        text = text[:start] + " " + text[end:]
    text = re.sub(r"^(?:@\w+\s+)+", "", text.strip())
    return " ".join(text.split())


def check_content(content: PostContent) -> None:
    """Refuse, before anything is uploaded, what X would refuse: length, images, alt text."""
    length = parse_tweet(content.text).weightedLength
    if length > MAX_WEIGHTED_LENGTH:
        raise PublishError(
            PLATFORM,
            f"a post is {length} characters as X counts them; X allows {MAX_WEIGHTED_LENGTH} "
            "(shorten it, or split the post)",
            final=True,
        )
    if len(content.images) > MAX_IMAGES:
        raise PublishError(
            PLATFORM,
            f"a post has {len(content.images)} images; X takes at most {MAX_IMAGES} "
            "(move the rest to another post)",
            final=True,
        )
    for number, image in enumerate(content.images, 1):
        if len(image.png) > MAX_IMAGE_BYTES:
            raise PublishError(
                PLATFORM,
                f"image {number} is {len(image.png):,} bytes; X takes at most "
                f"{MAX_IMAGE_BYTES:,} (draw the chart smaller)",
                final=True,
            )
        if not image.alt.strip() or len(image.alt) > MAX_ALT_CHARS:
            raise PublishError(
                PLATFORM,
                f"image {number} has {len(image.alt)} characters of alt text; X needs "
                f"1 to {MAX_ALT_CHARS} (rewrite the alt text)",
                final=True,
            )


def raise_for_status(response: requests.Response) -> None:
    """Raise the tweepy exception tweepy itself would raise for this response."""
    status = response.status_code
    errors: dict[int, type[tweepy.HTTPException]] = {
        400: tweepy.BadRequest,
        401: tweepy.Unauthorized,
        403: tweepy.Forbidden,
        404: tweepy.NotFound,
        429: tweepy.TooManyRequests,
    }
    if status in errors:
        raise errors[status](response)
    if status >= 500:
        raise tweepy.TwitterServerError(response)
    if not 200 <= status < 300:
        raise tweepy.HTTPException(response)


class XClient:
    """One X account. See the module docstring."""

    platform = PLATFORM

    def __init__(
        self,
        account: AccountConfig,
        *,
        env: Mapping[str, str] = os.environ,
        api_base: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.account = account
        self._env = env
        self._base = (api_base or account.api_base).rstrip("/")
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tweepy: tweepy.Client | None = None
        self._media_auth: Any = None
        self._user_id = ""
        self._username = ""

    @classmethod
    def from_config(cls, config: Config, account: AccountConfig) -> XClient:
        """The client for one configured account (credentials from the environment)."""
        return cls(account)

    @property
    def _variables(self) -> tuple[str, str, str, str]:
        a = self.account
        return (
            a.consumer_key_env,
            a.consumer_secret_env,
            a.access_token_env,
            a.access_token_secret_env,
        )

    def _client(self) -> tweepy.Client:
        if self._tweepy is None:
            purpose = f"x account {self.account.name!r}"
            ck, cs, at, ats = (read_secret(self._env, v, purpose) for v in self._variables)
            client = tweepy.Client(
                consumer_key=ck,
                consumer_secret=cs,
                access_token=at,
                access_token_secret=ats,
                wait_on_rate_limit=False,
            )
            client.session = RoutedSession(self._base)
            self._media_auth = tweepy.OAuth1UserHandler(ck, cs, at, ats).apply_auth()
            self._tweepy = client
        return self._tweepy

    def _error(self, action: str, exc: Exception, *, write: bool) -> PublishError:
        """Turn a tweepy or requests exception into one BotError: what happened, what to do."""
        if isinstance(exc, tweepy.TooManyRequests):
            retry_at = retry_time(exc.response.headers, self._clock())
            return RateLimited(PLATFORM, retry_at, f"X rate-limited {action}")
        if isinstance(exc, tweepy.Unauthorized):
            return PublishError(
                PLATFORM,
                f"X refused the credentials of account {self.account.name!r} (401 Unauthorized) "
                f"during {action}: check the four X credentials {', '.join(self._variables)} "
                "(keys and tokens of the same app, with read and write permission)",
                final=True,
            )
        if isinstance(exc, tweepy.TwitterServerError):
            why = f"X answered {exc.response.status_code}"
        elif isinstance(exc, tweepy.HTTPException):
            said = " ".join(" ".join(str(m) for m in exc.api_messages).split())
            said = said or f"{exc.response.status_code} {exc.response.reason}"
            if DUPLICATE in said:
                return PublishError(
                    PLATFORM,
                    f"X refused {action} as duplicate content (a recent post has the same "
                    "text): not retried; change the text to post it",
                    final=True,
                )
            return PublishError(
                PLATFORM,
                f"X refused {action}: {said} (fix the post or the account, then publish again)",
                final=True,
            )
        elif _never_sent(exc):
            return PublishError(
                PLATFORM, f"could not reach {self._base} for {action} (try again later)"
            )
        else:
            why = "no answer in time" if isinstance(exc, requests.Timeout) else "connection lost"
        if write:
            return UnknownOutcome(
                PLATFORM,
                f"{action}: {why}; it may or may not have been written (citycrier looks for "
                "it among the account's recent posts before writing again)",
            )
        return PublishError(PLATFORM, f"{action} failed: {why} (try again later)")

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        if self._tweepy is not None:
            self._tweepy.session.close()
            self._tweepy = None

    # -- the PlatformClient contract ----------------------------------------------------

    def login(self) -> str:
        """Confirm the credentials with ``GET /2/users/me``; return the username."""
        try:
            me = self._client().get_me(user_auth=True)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._error("the login", exc, write=False) from exc
        self._user_id, self._username = str(me.data.id), me.data.username
        return self._username

    def new_key(self) -> str:
        """X takes no client-chosen key: always ""."""
        return ""

    def create_post(
        self, content: PostContent, *, key: str, root: Ref | None, parent: Ref | None
    ) -> Ref:
        """Upload the images, then write the post (a reply to ``parent`` when given)."""
        check_content(content)
        client = self._client()
        media_ids = [self._upload(image, number) for number, image in enumerate(content.images, 1)]
        action = f"the reply to {parent.id}" if parent else "the first post of a thread"
        try:
            response = client.create_tweet(
                text=content.text,
                media_ids=media_ids or None,
                in_reply_to_tweet_id=parent.id if parent else None,
                user_auth=True,
            )
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._error(action, exc, write=True) from exc
        tweet_id = str(response.data["id"])
        log.info("x account %r: posted %s", self.account.name, tweet_id)
        return Ref(id=tweet_id, uri=f"https://x.com/i/web/status/{tweet_id}")

    def _upload(self, image: Image, number: int) -> str:
        """``POST /2/media/upload`` then ``POST /2/media/metadata`` (alt text): the media id."""
        session = self._client().session
        action = f"the upload of image {number}"
        try:
            response = session.post(
                f"{self._base}/2/media/upload",
                files={"media": (f"image{number}.png", image.png, "image/png")},
                data={"media_category": "tweet_image"},
                auth=self._media_auth,
            )
            raise_for_status(response)
            media_id = str(response.json()["data"]["id"])
            response = session.post(
                f"{self._base}/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": image.alt}}},
                auth=self._media_auth,
            )
            raise_for_status(response)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._error(action, exc, write=False) from exc
        except (ValueError, KeyError, TypeError) as exc:
            what = f"X gave no media id for {action} (try again later)"
            raise PublishError(PLATFORM, what) from exc
        return media_id

    def find_post(
        self, content: PostContent, *, key: str, parent: Ref | None, since: datetime
    ) -> Ref | None:
        """Look among the account's posts since ``since`` for this text replying to ``parent``."""
        want = comparable_text(content.text)
        matches: list[str] = []
        try:
            if not self._user_id:
                self.login()
            token = None
            for _ in range(LOOKUP_PAGES):
                page = self._client().get_users_tweets(
                    self._user_id,
                    start_time=since.astimezone(UTC) - LOOKUP_MARGIN,
                    max_results=100,
                    tweet_fields=["created_at", "referenced_tweets"],
                    pagination_token=token,
                    user_auth=True,
                )
                matches += [str(t.id) for t in page.data or [] if _is_same(t, want, parent)]
                token = page.meta.get("next_token")
                if not token:
                    break
            else:
                raise UnknownOutcome(PLATFORM, "too many recent posts to look through")
        except RateLimited:
            raise  # the lookup itself can be asked again at retry_at
        except (tweepy.TweepyException, requests.RequestException, PublishError) as exc:
            err = (
                exc
                if isinstance(exc, PublishError)
                else self._error("the lookup of recent posts", exc, write=False)
            )
            raise UnknownOutcome(
                PLATFORM,
                f"could not settle whether a post was written ({err.what}); "
                "a person must check the account's recent posts",
            ) from exc
        if len(matches) > 1:
            raise UnknownOutcome(
                PLATFORM,
                f"{len(matches)} recent posts ({', '.join(matches)}) match the post; "
                "a person must check which one belongs to the thread",
            )
        if not matches:
            return None
        return Ref(id=matches[0], uri=f"https://x.com/i/web/status/{matches[0]}")

    def delete_post(self, ref: Ref) -> None:
        """``DELETE /2/tweets/{id}``; a post that is already gone is fine."""
        try:
            self._client().delete_tweet(ref.id, user_auth=True)
        except tweepy.NotFound:
            log.info("x account %r: post %s was already gone", self.account.name, ref.id)
            return
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise self._error(f"the deletion of post {ref.id}", exc, write=False) from exc
        log.info("x account %r: deleted %s", self.account.name, ref.id)


def _is_same(tweet: tweepy.Tweet, want: str, parent: Ref | None) -> bool:
    """Whether a post X gave back has the wanted text and replies to ``parent`` (or nothing)."""
    replied_to = [str(r.id) for r in tweet.referenced_tweets or [] if r.type == "replied_to"]
    return comparable_text(tweet.text) == want and replied_to == ([parent.id] if parent else [])


def _never_sent(exc: Exception) -> bool:
    """Whether a requests failure happened before the request could reach X."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return "NewConnectionError" in type(reason).__name__ or "NameResolution" in str(reason)
    return False
