"""A fake of the few X API v2 endpoints citycrier uses, on 127.0.0.1, for tests.

No X server runs outside X, so this fake keeps to what X documents and checks every request
it receives against the official OpenAPI spec (``../shared/data/specs/x-api-v2-openapi.json``)
with openapi-core; its own answers are checked against the spec too. Any mismatch is kept in
``fake.mismatches`` and the test fixture fails the test on teardown.

Endpoints: ``POST /2/tweets``, ``DELETE /2/tweets/{id}``, ``POST /2/media/upload`` (one-shot
multipart), ``POST /2/media/metadata``, ``GET /2/users/me``, ``GET /2/users/{id}/tweets``.

Rules X documents and this fake enforces: OAuth 1.0a user context on every call (header
present *and* HMAC-SHA1 signature valid for the configured keys, else 401); weighted length
280 (twitter-text); at most 4 media ids, each one uploaded before; alt text at most 1,000
characters (the spec); the same text as a live post of the account gets X's real 403
duplicate-content answer; a reply must reply to a live post. X's habits in what it gives back:
links rewritten to t.co, a t.co link for attached media at the end, ``&<>`` as HTML entities.

Faults on demand, for one call of an operation (``create_tweet``, ``delete_tweet``,
``media_upload``, ``media_metadata``, ``get_me``, ``user_tweets``)::

    fake.fail_next("create_tweet", Fault(status=429, headers={"x-rate-limit-reset": "..."}))
    fake.fail_next("create_tweet", Fault(status=503, after_write=True))  # written, then 503
    fake.fail_next("create_tweet", Fault(drop=True, after_write=True))   # written, no answer

Spec copy, changed only where openapi-core needs it (the file on disk is never touched):
``https://api.twitter.com`` (tweepy's host) and ``http://127.0.0.1:{port}`` join ``servers``;
the OAuth 2.0 alternatives are dropped from each operation's ``security`` (openapi-core cannot
check them and would only warn, letting a request with no credentials through), so the
OAuth 1.0a ``UserToken`` requirement is enforced; that scheme's name is lower-cased to
``oauth`` since openapi-core compares it case-sensitively with the lower-cased header
(RFC 7235 scheme names are case-insensitive); ``application/problem+json`` is read as JSON.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import html
import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from openapi_fake import Answer, Clock, Fault, Route, SpecFake, multipart_fields
from twitter_text import extract_urls_with_indices, parse_tweet

__all__ = ["CREDENTIALS", "SPEC_PATH", "Answer", "Fault", "XFake"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "data" / "specs" / "x-api-v2-openapi.json"

CREDENTIALS = (
    "fake-consumer-key",
    "fake-consumer-secret",
    "fake-access-token",
    "fake-access-token-secret",
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length, "
    "see https://github.com/twitter/twitter-text."
)
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_signature",
    "oauth_timestamp",
    "oauth_nonce",
)


@dataclass
class Tweet:
    id: str
    text: str  # as X gives it back (t.co links, entities)
    sent: str  # as it was sent
    author_id: str
    created_at: datetime
    reply_to: str | None
    media_ids: tuple[str, ...]


@dataclass
class Media:
    id: str
    data: bytes
    category: str
    alt: str | None = None


@functools.cache
def spec_app() -> Any:
    """The OpenAPI object for the spec copy described in the module docstring (built once)."""
    from openapi_core import Config, OpenAPI

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    spec["servers"] = [
        {"url": "https://api.twitter.com"},
        {"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}},
        *spec.get("servers", []),
    ]
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [
                    r for r in operation["security"] if "OAuth2UserToken" not in r
                ]
    schemes = spec["components"]["securitySchemes"]
    schemes["UserToken"]["scheme"] = schemes["UserToken"]["scheme"].lower()
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(spec, config=config)


def problem(status: int, detail: str, title: str = "") -> dict[str, Any]:
    titles = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    title = title or titles.get(status, "Error")
    return {"title": title, "detail": detail or title, "type": "about:blank", "status": status}


def invalid_request(message: str, parameter: str, values: list[str]) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {parameter: values}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


class XFake(SpecFake):
    """The fake X API. Use as a context manager, or start()/stop()."""

    NAME = "x-fake"
    ERROR_TYPE = "application/problem+json"
    # A defect of the spec itself: MediaUploadResponse lists "meta" as required but defines no
    # such property, and X's documented answers carry none. Not counted as a mismatch.
    SPEC_QUIRKS: ClassVar[dict[tuple[str, str], str]] = {
        ("post", "/2/media/upload"): "'meta' is a required property"}

    def __init__(
        self,
        *,
        user_id: str = "1500000000000000001",
        username: str = "cityhall",
        credentials: tuple[str, str, str, str] = CREDENTIALS,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock)
        self.ROUTES = ROUTES
        self.user_id = user_id
        self.username = username
        self.credentials = credentials
        self.tweets: dict[str, Tweet] = {}  # live posts, in the order they were written
        self.deleted: list[str] = []
        self.media: dict[str, Media] = {}
        self.writes = 0  # posts X wrote (including those whose answer then failed)
        self._ids = itertools.count(1860000000000000001)

    def thread(self) -> list[Tweet]:
        """The live posts, oldest first."""
        return list(self.tweets.values())

    def spec(self) -> Any:
        return spec_app()

    def error_body(self, status: int, detail: str) -> Any:
        return problem(status, detail)

    def invalid_body(self, detail: str) -> Any:
        return invalid_request(detail, "body", [])

    def authenticate(self, method: str, path: str, raw_query: str, body: bytes,
                     content_type: str, host: str) -> None:
        self._check_oauth(method, f"http://{host}{path}", raw_query, self.headers, body,
                          content_type)

    def rate_headers(self) -> dict[str, str]:
        reset = int((self.clock() + timedelta(minutes=15)).timestamp())
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "99",
            "x-rate-limit-reset": str(reset),
        }

    # -- checks -------------------------------------------------------------------------

    def _check_oauth(
        self,
        method: str,
        url: str,
        raw_query: str,
        headers: Any,
        body: bytes,
        content_type: str,
    ) -> None:
        """OAuth 1.0a: every parameter there, keys known, HMAC-SHA1 signature right."""
        auth = headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            self.mismatches.append(
                f"request {method} {urlsplit(url).path}: no OAuth 1.0a "
                "Authorization header on a user-context call"
            )
            raise Answer(401, problem(401, "Unauthorized"))
        params = {
            k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(auth)
        }
        missing = [p for p in OAUTH_PARAMS if p not in params]
        if missing or params.get("oauth_signature_method") != "HMAC-SHA1":
            self.mismatches.append(
                f"request {method} {urlsplit(url).path}: OAuth header "
                f"lacks {missing or 'HMAC-SHA1'}"
            )
            raise Answer(401, problem(401, "Unauthorized"))
        ck, cs, at, ats = self.credentials
        form = body.decode() if content_type.startswith("application/x-www-form-urlencoded") else ""
        collected = oauth_signature.collect_parameters(
            uri_query=raw_query,
            body=form,
            headers={"Authorization": auth},
            exclude_oauth_signature=True,
        )
        base = oauth_signature.signature_base_string(
            method.upper(),
            oauth_signature.base_string_uri(url),
            oauth_signature.normalize_parameters(collected),
        )
        key = f"{oauth_utils.escape(cs)}&{oauth_utils.escape(ats)}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
        if (
            params["oauth_consumer_key"] != ck
            or params["oauth_token"] != at
            or not hmac.compare_digest(expected, params["oauth_signature"])
        ):
            raise Answer(401, problem(401, "Unauthorized"))

    # -- endpoints ----------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(next(self._ids))

    def _do_create_tweet(
        self, params: dict[str, str], query: Any, body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        data = json.loads(body or b"{}")
        text = data.get("text", "")
        media_ids = tuple(data.get("media", {}).get("media_ids", []))
        reply_to = data.get("reply", {}).get("in_reply_to_tweet_id")
        if parse_tweet(text).weightedLength > 280:
            raise Answer(403, problem(403, TOO_LONG))
        if not text and not media_ids:
            raise Answer(400, invalid_request("Tweet text or media is required", "text", []))
        unknown = [m for m in media_ids if m not in self.media]
        if unknown:
            raise Answer(
                400,
                invalid_request("Your media IDs are invalid.", "media.media_ids", list(unknown)),
            )
        if reply_to is not None and reply_to not in self.tweets:
            raise Answer(403, problem(403, REPLY_GONE))
        if any(t.sent == text for t in self.tweets.values()):
            raise Answer(403, problem(403, DUPLICATE))
        tweet_id = self._new_id()
        shown = x_text(text, tweet_id if media_ids else None)
        self.tweets[tweet_id] = Tweet(
            tweet_id, shown, text, self.user_id, self.clock(), reply_to, media_ids
        )
        self.writes += 1
        return 201, {"data": {"id": tweet_id, "text": shown, "edit_history_tweet_ids": [tweet_id]}}

    def _do_delete_tweet(
        self, params: dict[str, str], query: Any, body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        tweet = self.tweets.pop(params["id"], None)
        if tweet is None:
            raise Answer(404, problem(404, f"Could not find tweet with id: [{params['id']}]."))
        self.deleted.append(tweet.id)
        return 200, {"data": {"deleted": True}}

    def _do_media_upload(
        self, params: dict[str, str], query: Any, body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        parts = multipart_fields(body, content_type)
        data = parts.get("media", b"")
        if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
            raise Answer(400, invalid_request("media type unrecognized.", "media", []))
        if len(data) > 5 * 1024 * 1024:
            raise Answer(400, invalid_request("File size exceeds 5242880 bytes.", "media", []))
        media_id = self._new_id()
        category = parts.get("media_category", b"").decode()
        self.media[media_id] = Media(media_id, data, category)
        return 200, {
            "data": {
                "id": media_id,
                "media_key": f"3_{media_id}",
                "size": len(data),
                "expires_after_secs": 86400,
            }
        }

    def _do_media_metadata(
        self, params: dict[str, str], query: Any, body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        data = json.loads(body or b"{}")
        media = self.media.get(data.get("id", ""))
        if media is None:
            raise Answer(400, invalid_request("Media id not found.", "id", [data.get("id", "")]))
        alt = data.get("metadata", {}).get("alt_text", {}).get("text")
        if alt is not None:
            media.alt = alt
        return 200, {
            "data": {"id": media.id, "associated_metadata": {"alt_text": {"text": media.alt or ""}}}
        }

    def _do_get_me(
        self, params: dict[str, str], query: Any, body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        return 200, {"data": {"id": self.user_id, "name": "City Hall", "username": self.username}}

    def _do_user_tweets(
        self, params: dict[str, str], query: list[tuple[str, str]], body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        if params["id"] != self.user_id:
            return 200, {"meta": {"result_count": 0}}
        args = dict(query)
        start = args.get("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        limit = int(args.get("max_results", "10"))
        offset = int(args.get("pagination_token", "0") or 0)
        fields = set(args.get("tweet.fields", "").split(","))
        newest_first = [
            t for t in reversed(self.tweets.values()) if since is None or t.created_at >= since
        ]
        page = newest_first[offset : offset + limit]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        data = [tweet_json(t, fields) for t in page]
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if offset + limit < len(newest_first):
            meta["next_token"] = f"{offset + limit:016d}"
        return 200, {"data": data, "meta": meta}


ROUTES: list[Route] = [
    ("POST", re.compile(r"^/2/tweets$"), "create_tweet"),
    ("DELETE", re.compile(r"^/2/tweets/(?P<id>[0-9]{1,19})$"), "delete_tweet"),
    ("POST", re.compile(r"^/2/media/upload$"), "media_upload"),
    ("POST", re.compile(r"^/2/media/metadata$"), "media_metadata"),
    ("GET", re.compile(r"^/2/users/me$"), "get_me"),
    ("GET", re.compile(r"^/2/users/(?P<id>[0-9]{1,19})/tweets$"), "user_tweets"),
]


def x_text(text: str, media_tweet_id: str | None) -> str:
    """The text as X gives it back: links as t.co, a media link at the end, entities escaped."""
    for url in sorted(extract_urls_with_indices(text), key=lambda u: -u["indices"][0]):
        start, end = url["indices"]
        text = text[:start] + t_co(url["url"]) + text[end:]
    if media_tweet_id:
        text = f"{text} {t_co('media:' + media_tweet_id)}"
    return html.escape(text, quote=False)


def t_co(url: str) -> str:
    return "https://t.co/" + hashlib.sha256(url.encode()).hexdigest()[:10]


def tweet_json(tweet: Tweet, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    if "created_at" in fields:
        out["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if "referenced_tweets" in fields and tweet.reply_to:
        out["referenced_tweets"] = [{"type": "replied_to", "id": tweet.reply_to}]
    if "author_id" in fields:
        out["author_id"] = tweet.author_id
    return out
