"""A fake Mastodon server (the few endpoints citycrier uses), on 127.0.0.1, for tests.

No Mastodon runs here (it needs Ruby, PostgreSQL, Redis and Sidekiq), so this fake keeps to
what Mastodon documents and checks every request it receives, and every answer it gives,
against the Mastodon OpenAPI description (``../shared/data/specs/mastodon-openapi.json``,
OpenAPI 3.1) with openapi-core, through the same mechanism as the X fake
(``openapi_fake.SpecFake``). Any mismatch is kept in ``fake.mismatches``; the fixture fails
the test on teardown. A request the spec does not allow is refused (401 or 400).

Endpoints: ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v2/instance`` (and
``/api/v1/instance``, for a server older than 4.0: ``MastodonFake(v2_instance=False)``
answers 404 on v2), ``POST /api/v2/media``, ``GET /api/v1/media/{id}``,
``POST /api/v1/statuses``, ``DELETE /api/v1/statuses/{id}``,
``GET /api/v1/accounts/{id}/statuses``, ``GET /api/v1/statuses/{id}`` (its counts are what a
test sets: ``fake.metrics[id] = Metrics(favourites=3)``) and
``GET /api/v1/statuses/{id}/context`` (residents' replies are put there with
``fake.add_status(text, reply_to=id, author="resident")``).

What Mastodon documents and this fake does: a Bearer token on every call (else 401
``The access token is invalid``); ``Idempotency-Key`` on a status create returns the status
first made with that key (for an hour) instead of making another; text longer than
``max_characters`` (URLs 23, mentions their username only, grapheme clusters) is 422; at
most 4 media, each finished processing (else 422); media answers 202 with ``url: null`` and
``GET /api/v1/media/{id}`` 206 until it is ready (``processing_polls`` polls), then 200; a
description longer than ``description_limit`` is 422; a status's ``content`` shows a
mention of another server's account as Mastodon renders it (``@<span>user</span>``); a
reply to a status that does not exist is 404; every answer carries
``X-RateLimit-Limit/-Remaining/-Reset`` (ISO 8601).

Spec copy, changed only where openapi-core needs it (the file on disk is never touched):
``http://127.0.0.1:{port}`` joins ``servers``; the ``OAuth2`` scheme becomes HTTP bearer
(openapi-core cannot check OAuth 2.0 and only warns, letting a request without a token
through; a bearer scheme makes it refuse one); the ``Idempotency-Key`` header's schema is
``string``, not ``object`` (a defect: its own description says "any arbitrary string");
the status body's ``oneOf`` (TextStatus | MediaStatus | PollStatus) is ``anyOf``, since a
status with text *and* media matches both TextStatus and MediaStatus, which ``oneOf``
forbids though Mastodon documents it ("if media_ids is provided, status becomes optional").
The description itself is not validated as a document (openapi-spec-validator refuses it for
defaults that break their own types, such as ``default: 'null'`` on an integer); requests and
answers are still validated against its schemas. A multipart body's file part is read as a
Latin-1 string before validation (``form_strings``), since 3.1 types it ``string``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openapi_fake import Answer, Clock, Fault, Route, SpecFake, multipart_fields

__all__ = ["SPEC_PATH", "TOKEN", "Answer", "Fault", "MastodonFake", "Metrics", "Status"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "data" / "specs" / "mastodon-openapi.json"
TOKEN = "fake-mastodon-token"
IDEMPOTENCY_WINDOW = timedelta(hours=1)
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Status:
    id: str
    text: str  # as sent
    created_at: datetime
    in_reply_to_id: str | None
    media_ids: tuple[str, ...]
    visibility: str
    language: str | None
    key: str = ""  # the Idempotency-Key it was made with
    author: str = ""  # another account's username ("" is the city's own account)


@dataclass
class Metrics:
    """A status's counts, as a test sets them."""

    favourites: int = 0
    reblogs: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass
class Media:
    id: str
    data: bytes
    description: str
    polls_left: int  # GETs answered 206 before it is ready


@functools.cache
def spec_app() -> Any:
    """The OpenAPI object for the spec copy described in the module docstring (built once)."""
    from openapi_core import Config, OpenAPI

    spec = copy.deepcopy(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {
        "default": "80"}}}, *spec.get("servers", [])]
    spec["components"]["securitySchemes"]["OAuth2"] = {"type": "http", "scheme": "bearer"}
    create = spec["paths"]["/api/v1/statuses"]["post"]
    for parameter in create["parameters"]:
        if parameter["name"] == "Idempotency-Key":
            parameter["schema"] = {"type": "string"}
    body = create["requestBody"]["content"]["application/json"]["schema"]
    body["anyOf"] = body.pop("oneOf")
    config = Config(spec_validator_cls=None,
                    extra_media_type_deserializers={"multipart/form-data": form_strings})
    return OpenAPI.from_dict(spec, config=config)


def form_strings(value: bytes, **parameters: str) -> dict[str, str]:
    """A multipart body's fields as strings (bytes read as Latin-1, one character a byte):
    OpenAPI 3.1 gives a file part ``type: string``, which openapi-core's own multipart reader
    leaves as bytes and its 3.1 validator then refuses as "not of type 'string'"."""
    from openapi_core.deserializing.media_types.util import data_form_loads

    return {k: v.decode("latin-1") if isinstance(v, bytes) else v
            for k, v in data_form_loads(value, **parameters).items()}


def examples() -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return {k: v["value"] for k, v in spec["components"]["examples"].items() if "value" in v}


def mastodon_length(text: str) -> int:
    """The length Mastodon's StatusLengthValidator counts (written apart from bot/ on purpose:
    the fake must not borrow the code it checks)."""
    import regex
    from twitter_text import extract_urls_with_indices

    for url in sorted(extract_urls_with_indices(text, extract_urls_without_protocol=False),
                      key=lambda u: -u["indices"][0]):
        start, end = url["indices"]
        text = text[:start] + "x" * 23 + text[end:]
    text = regex.sub(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w)?", r"@\1",
                     text, flags=regex.I)
    return len(regex.findall(r"\X", text))


MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@([\w.-]+\w)", re.I)


def status_html(text: str) -> str:
    """Plain text as Mastodon renders it: paragraphs, line breaks, links (escaped), and a
    mention of another server's account as an h-card showing its username only
    (TextFormatter#link_to_mention: ``@<span>user</span>``)."""
    def paragraph(chunk: str) -> str:
        out = html.escape(chunk, quote=False)
        out = re.sub(r"https?://[^\s<]+", lambda m: (
            f'<a href="{m.group(0)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{m.group(0).split("//")[0]}//</span>'
            f'<span class="">{m.group(0).split("//", 1)[1]}</span></a>'), out)
        out = MENTION.sub(lambda m: (
            f'<span class="h-card" translate="no"><a href="https://{m.group(2)}/@{m.group(1)}"'
            f' class="u-url mention">@<span>{m.group(1)}</span></a></span>'), out)
        return "<p>" + out.replace("\n", "<br />") + "</p>"

    return "".join(paragraph(c) for c in re.split(r"\n{2,}", text.strip()) if c)


class MastodonFake(SpecFake):
    """The fake Mastodon server."""

    NAME = "mastodon-fake"

    def __init__(self, *, username: str = "cityhall", domain: str = "city.social",
                 token: str = TOKEN, max_characters: int = 500,
                 description_limit: int = 1500, processing_polls: int = 1,
                 v2_instance: bool = True, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.ROUTES = ROUTES
        self.username = username
        self.domain = domain
        self.account_id = "109000000000000001"
        self.token = token
        self.max_characters = max_characters
        self.description_limit = description_limit
        self.processing_polls = processing_polls
        self.v2_instance = v2_instance
        self.statuses: dict[str, Status] = {}  # live, in the order they were made
        self.deleted: list[str] = []
        self.media: dict[str, Media] = {}
        self.writes = 0  # statuses made (including those whose answer then failed)
        self.remaining = 300  # X-RateLimit-Remaining of the next answer
        self.metrics: dict[str, Metrics] = {}  # by status id; absent: all zero
        self._ids = itertools.count(110000000000000001)
        self._examples = examples()

    # -- what SpecFake asks ---------------------------------------------------------------

    def spec(self) -> Any:
        return spec_app()

    def authenticate(self, method: str, path: str, raw_query: str, body: bytes,
                     content_type: str, host: str) -> None:
        if self.headers.get("Authorization", "") != f"Bearer {self.token}":
            raise Answer(401, {"error": "The access token is invalid"})

    def rate_headers(self) -> dict[str, str]:
        reset = self.clock() + timedelta(minutes=5)
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.000Z")}

    def response_headers(self, status: int, headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k.lower().startswith("x-ratelimit")}

    # -- what a test reads ----------------------------------------------------------------

    def thread(self) -> list[Status]:
        """The live statuses, oldest first."""
        return list(self.statuses.values())

    # -- entities ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(next(self._ids))

    def account_id_of(self, author: str) -> str:
        """The account id of the city ("") or of another account, by username."""
        if not author:
            return self.account_id
        return str(109000000000000100 + int(hashlib.sha256(author.encode()).hexdigest()[:6], 16))

    def account_json(self, credential: bool = False, author: str = "") -> dict[str, Any]:
        made = "2022-11-01T00:00:00.000Z"
        name = author or self.username
        out: dict[str, Any] = {
            "id": self.account_id_of(author), "username": name,
            "acct": f"{author}@elsewhere.social" if author else self.username,
            "display_name": "City Hall", "locked": False, "bot": True, "group": False,
            "discoverable": True, "indexable": True, "created_at": made,
            "note": "<p>News from City Hall</p>", "url": f"https://{self.domain}/@{name}",
            "uri": f"https://{self.domain}/users/{name}",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "avatar_static": f"https://{self.domain}/avatars/original/missing.png",
            "header": f"https://{self.domain}/headers/original/missing.png",
            "header_static": f"https://{self.domain}/headers/original/missing.png",
            "followers_count": 10, "following_count": 0, "statuses_count": len(self.statuses),
            "last_status_at": None, "emojis": [], "fields": [],
        }
        if credential:
            out["source"] = {"privacy": "public", "sensitive": False, "language": "en",
                             "note": "News from City Hall", "fields": [],
                             "follow_requests_count": 0, "indexable": True}
            out["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "",
                           "highlighted": False}
        return out

    def media_json(self, media: Media) -> dict[str, Any]:
        ready = media.polls_left <= 0
        base = f"https://{self.domain}/system/media_attachments/files/{media.id}"
        return {"id": media.id, "type": "image",
                "url": f"{base}/original/chart.png" if ready else None,
                "preview_url": f"{base}/small/chart.png", "remote_url": None,
                "description": media.description or None, "blurhash": None,
                "meta": {"original": {"width": 4, "height": 3, "size": "4x3", "aspect": 1.33}}}

    def status_json(self, status: Status, deleted: bool = False) -> dict[str, Any]:
        metrics = self.metrics.get(status.id, Metrics())
        out: dict[str, Any] = {
            "id": status.id, "created_at": status.created_at.strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": self.account_id_of(
                self.statuses[status.in_reply_to_id].author)
            if status.in_reply_to_id in self.statuses else None,
            "sensitive": False, "spoiler_text": "", "visibility": status.visibility,
            "language": status.language,
            "uri": f"https://{self.domain}/users/{status.author or self.username}/statuses/"
                   f"{status.id}",
            "url": f"https://{self.domain}/@{status.author or self.username}/{status.id}",
            "replies_count": metrics.replies, "reblogs_count": metrics.reblogs,
            "favourites_count": metrics.favourites, "quotes_count": metrics.quotes,
            "content": "" if deleted else status_html(status.text), "reblog": None,
            "account": self.account_json(author=status.author),
            "media_attachments": [self.media_json(self.media[m]) for m in status.media_ids
                                  if m in self.media],
            "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        }
        if deleted:
            out["text"] = status.text
        return out

    # -- endpoints --------------------------------------------------------------------------

    def _do_verify_credentials(self, params: dict[str, str], query: Any, body: bytes,
                               content_type: str) -> tuple[int, Any]:
        return 200, self.account_json(credential=True)

    def _instance_limits(self, configuration: dict[str, Any]) -> None:
        configuration.setdefault("statuses", {})
        configuration["statuses"].update({"max_characters": self.max_characters,
                                          "max_media_attachments": 4,
                                          "characters_reserved_per_url": 23})
        configuration.setdefault("media_attachments", {})
        configuration["media_attachments"]["description_limit"] = self.description_limit

    def _do_instance_v2(self, params: dict[str, str], query: Any, body: bytes,
                        content_type: str) -> tuple[int, Any]:
        if not self.v2_instance:
            raise Answer(404, {"error": "Record not found"})
        out = copy.deepcopy(self._examples["Instance200Example"])
        out["domain"] = self.domain
        self._instance_limits(out["configuration"])
        return 200, out

    def _do_instance_v1(self, params: dict[str, str], query: Any, body: bytes,
                        content_type: str) -> tuple[int, Any]:
        out = copy.deepcopy(self._examples["V1Instance200Example"])
        out["uri"] = self.domain
        # the spec's own example breaks its schema here: completed as the schema requires
        out["configuration"].setdefault("accounts", {"max_featured_tags": 10,
                                                     "max_pinned_statuses": 5})
        out["rules"] = [{**rule, "hint": rule.get("hint", "")} for rule in out["rules"]]
        out["contact_account"] = self.account_json()
        self._instance_limits(out["configuration"])
        out["configuration"]["media_attachments"].pop("description_limit")  # v2 only
        return 200, out

    def _do_upload_media(self, params: dict[str, str], query: Any, body: bytes,
                         content_type: str) -> tuple[int, Any]:
        fields = multipart_fields(body, content_type)
        data = fields.get("file", b"")
        description = fields.get("description", b"").decode()
        if not data.startswith(PNG):
            raise Answer(422, {"error": "Validation failed: File content type is invalid"})
        if len(description) > self.description_limit:
            raise Answer(422, {"error": "Validation failed: Description is too long "
                                        f"(maximum is {self.description_limit} characters)"})
        media = Media(self._new_id(), data, description, self.processing_polls)
        self.media[media.id] = media
        return (202 if media.polls_left > 0 else 200), self.media_json(media)

    def _do_get_media(self, params: dict[str, str], query: Any, body: bytes,
                      content_type: str) -> tuple[int, Any]:
        media = self.media.get(params["id"])
        if media is None:
            raise Answer(404, {"error": "Record not found"})
        if media.polls_left > 0:
            media.polls_left -= 1
            return 206, b""  # the spec's 206 carries no body
        return 200, self.media_json(media)

    def _do_create_status(self, params: dict[str, str], query: Any, body: bytes,
                          content_type: str) -> tuple[int, Any]:
        key = self.headers.get("Idempotency-Key", "")
        now = self.clock()
        if key:
            for status in self.statuses.values():
                if status.key == key and now - status.created_at < IDEMPOTENCY_WINDOW:
                    return 200, self.status_json(status)
        data = json.loads(body or b"{}")
        text = data.get("status", "")
        media_ids = tuple(data.get("media_ids", []))
        reply_to = data.get("in_reply_to_id")
        if not text.strip() and not media_ids:
            raise Answer(422, {"error": "Validation failed: Text can't be blank"})
        if mastodon_length(text) > self.max_characters:
            raise Answer(422, {"error": "Validation failed: Text character limit of "
                                        f"{self.max_characters} exceeded"})
        if len(media_ids) > 4:
            raise Answer(422, {"error": "Validation failed: Media attachments is too long"})
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None:
                raise Answer(422, {"error": "Validation failed: Media attachments is invalid"})
            if media.polls_left > 0:
                raise Answer(422, {"error": "Cannot attach files that have not finished "
                                            "processing. Try again in a moment!"})
        if reply_to is not None and reply_to not in self.statuses:
            raise Answer(404, {"error": "Record not found"})
        status = Status(self._new_id(), text, now, reply_to, media_ids,
                        data.get("visibility", "public"), data.get("language"), key)
        self.statuses[status.id] = status
        self.writes += 1
        return 200, self.status_json(status)

    def add_status(self, text: str, *, reply_to: str | None = None, author: str = "",
                   at: datetime | None = None) -> str:
        """Put a status there without an API call (another account's reply); its id."""
        status = Status(self._new_id(), text, at or self.clock(), reply_to, (), "public", "en",
                        author=author)
        self.statuses[status.id] = status
        return status.id

    def _do_get_status(self, params: dict[str, str], query: Any, body: bytes,
                       content_type: str) -> tuple[int, Any]:
        status = self.statuses.get(params["id"])
        if status is None:
            raise Answer(404, {"error": "Record not found"})
        return 200, self.status_json(status)

    def _do_status_context(self, params: dict[str, str], query: Any, body: bytes,
                           content_type: str) -> tuple[int, Any]:
        status = self.statuses.get(params["id"])
        if status is None:
            raise Answer(404, {"error": "Record not found"})
        ancestors = []
        parent = status.in_reply_to_id
        while parent in self.statuses and len(ancestors) < 1000:
            ancestors.insert(0, self.statuses[parent])
            parent = self.statuses[parent].in_reply_to_id
        below = {status.id}
        descendants = []
        for other in self.statuses.values():  # in the order made: parents before children
            if other.in_reply_to_id in below:
                below.add(other.id)
                descendants.append(other)
        return 200, {"ancestors": [self.status_json(a) for a in ancestors],
                     "descendants": [self.status_json(d) for d in descendants]}

    def _do_delete_status(self, params: dict[str, str], query: Any, body: bytes,
                          content_type: str) -> tuple[int, Any]:
        status = self.statuses.pop(params["id"], None)
        if status is None:
            raise Answer(404, {"error": "Record not found"})
        self.deleted.append(status.id)
        return 200, self.status_json(status, deleted=True)

    def _do_account_statuses(self, params: dict[str, str], query: list[tuple[str, str]],
                             body: bytes, content_type: str) -> tuple[int, Any, dict[str, str]]:
        if params["id"] != self.account_id:
            raise Answer(404, {"error": "Record not found"})
        args = dict(query)
        limit = min(int(args.get("limit", "20")), 40)
        max_id = args.get("max_id")
        newest_first = [s for s in reversed(self.statuses.values())
                        if max_id is None or int(s.id) < int(max_id)]
        page = newest_first[:limit]
        headers = {}
        if len(newest_first) > limit:
            url = (f"{self.base_url}/api/v1/accounts/{self.account_id}/statuses"
                   f"?limit={limit}&max_id={page[-1].id}")
            headers["Link"] = f'<{url}>; rel="next"'
        return 200, [self.status_json(s) for s in page], headers


ROUTES: list[Route] = [
    ("GET", re.compile(r"^/api/v1/accounts/verify_credentials$"), "verify_credentials"),
    ("GET", re.compile(r"^/api/v2/instance$"), "instance_v2"),
    ("GET", re.compile(r"^/api/v1/instance$"), "instance_v1"),
    ("POST", re.compile(r"^/api/v2/media$"), "upload_media"),
    ("GET", re.compile(r"^/api/v1/media/(?P<id>[0-9]+)$"), "get_media"),
    ("POST", re.compile(r"^/api/v1/statuses$"), "create_status"),
    ("DELETE", re.compile(r"^/api/v1/statuses/(?P<id>[0-9]+)$"), "delete_status"),
    ("GET", re.compile(r"^/api/v1/statuses/(?P<id>[0-9]+)$"), "get_status"),
    ("GET", re.compile(r"^/api/v1/statuses/(?P<id>[0-9]+)/context$"), "status_context"),
    ("GET", re.compile(r"^/api/v1/accounts/(?P<id>[0-9]+)/statuses$"), "account_statuses"),
]
