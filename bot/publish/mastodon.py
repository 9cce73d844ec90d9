"""Posting to Mastodon (any server speaking the Mastodon API): httpx, JSON, a bearer token.

Not Mastodon.py: the Mastodon OpenAPI description takes ``POST /api/v1/statuses`` as JSON
only (an array ``media_ids``, a boolean ``sensitive``), and Mastodon.py 2.3 sends it
form-encoded (``media_ids[]``, ``sensitive=0``); it also folds every network failure into
one error, so "never sent" (safe to retry) cannot be told from "answer lost" (maybe written).

- **Login** ``GET /api/v1/accounts/verify_credentials``, then the server's limits from
  ``GET /api/v2/instance`` (``/api/v1/instance`` on servers before 4.0): ``max_characters``
  (500 if unsaid), ``max_media_attachments`` (4), ``description_limit`` (1,500). They are
  kept for the session and saved to ``state/limits-ACCOUNT.json`` for the desk and ``check``.
- **A thread**: each status replies to the one before (``in_reply_to_id``); the first is
  ``visibility`` (public), replies ``reply_visibility`` (unlisted), ``language`` if set.
- **Images**: ``POST /api/v2/media`` with ``description`` as alt text; while the server
  answers 202 (still processing) ``GET /api/v1/media/{id}`` is polled (206 until ready),
  for at most ``POLL_SECONDS``.
- **Never twice**: every status create sends ``Idempotency-Key`` (the receipt's stored
  key): a retry within Mastodon's hour returns the first status. After an unknown outcome
  ``find_post`` looks among the account's own recent statuses (same text, a mention that
  Mastodon resolved shown as @user; same parent) and
  raises UnknownOutcome rather than guess.
- **Limits**: ``X-RateLimit-Remaining`` at 0 stops writing until ``X-RateLimit-Reset``; a
  429 raises RateLimited (the rest of the thread is rescheduled). 401, 403, 404 and 422 are
  final, one line naming the account and the post.

Example::

    client = MastodonClient(account, state_dir)
    client.login()                                  # 'cityhall'
    first = client.create_post(PostContent("Hello"), key=client.new_key(), root=None,
                               parent=None)
"""

from __future__ import annotations

import html
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.errors import PublishError, RateLimited, UnknownOutcome
from bot.platforms import REGISTRY, read_limits, save_limits, short_mentions
from bot.publish.base import Image, PostContent, Ref, read_secret
from bot.settings import AccountConfig, Config

log = logging.getLogger(__name__)

PLATFORM = "mastodon"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
POLL_SECONDS = 60.0  # how long an image may stay "processing" before the post is retried
POLL_WAITS = (0.2, 0.5, 1.0, 2.0)  # then 2 s each
LOOKUP_PAGES = 5  # of 40 statuses each
LOOKUP_MARGIN = timedelta(minutes=2)  # clock skew between us and the server
DEFAULTS = {"max_characters": REGISTRY[PLATFORM].limit, "max_media_attachments": 4,
            "description_limit": REGISTRY[PLATFORM].max_alt_chars}
REFUSALS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            422: "Unprocessable Entity"}

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 time as Mastodon writes it ("2026-03-02T14:35:00.000Z"); None if not one.

    >>> parse_time("2026-03-02T14:35:00.000Z")
    datetime.datetime(2026, 3, 2, 14, 35, tzinfo=datetime.timezone.utc)
    """
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plain_text(content: str) -> str:
    """A status's HTML ``content`` as comparable plain text (tags gone, space collapsed).

    >>> plain_text('<p>Up 12% &amp; <a href="https://x.org/a"><span class="invisible">'
    ...            'https://</span><span class="">x.org/a</span></a></p><p>Next<br />line</p>')
    'Up 12% & https://x.org/a Next line'
    """
    text = re.sub(r"<br\s*/?>|</p>\s*<p>", " ", content)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


class MastodonClient:
    """One Mastodon account. See the module docstring."""

    platform = PLATFORM

    def __init__(self, account: AccountConfig, state_dir: Path, *,
                 env: Mapping[str, str] = os.environ, clock: Clock | None = None,
                 sleep: Sleep = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        self.account = account
        self._state_dir = state_dir
        self._env = env
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._transport = transport
        self._http: httpx.Client | None = None
        self._account_id = ""
        self._limits = {**DEFAULTS, **read_limits(state_dir, account.name)}
        self._paused_until: datetime | None = None  # X-RateLimit-Remaining reached 0

    @classmethod
    def from_config(cls, config: Config, account: AccountConfig) -> MastodonClient:
        """The client for one configured account (its token from the environment)."""
        return cls(account, config.state_dir)

    @property
    def limits(self) -> dict[str, int]:
        """The server's limits as last read (defaults until the first login)."""
        return dict(self._limits)

    def _client(self) -> httpx.Client:
        if self._http is None:
            token = read_secret(self._env, self.account.access_token_env,
                                f"mastodon account {self.account.name!r}")
            self._http = httpx.Client(
                base_url=self.account.api_base.rstrip("/"), timeout=TIMEOUT,
                transport=self._transport,
                headers={"Authorization": f"Bearer {token}", "User-Agent": "citycrier"})
        return self._http

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- one call -------------------------------------------------------------------------

    def _call(self, action: str, method: str, path: str, *, write: bool = False,
              ok: tuple[int, ...] = (200,), of_post: bool = True,
              **kwargs: Any) -> httpx.Response:
        """One request; every failure becomes one PublishError naming account and action.

        ``of_post`` False (the login, the server's limits): a refusal is about the account
        or the server, never the post."""
        who = f"account {self.account.name!r}"
        try:
            response = self._client().request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PublishError(PLATFORM, f"could not reach {self.account.api_base} for "
                                         f"{action} (try again later)") from exc
        except httpx.TransportError as exc:
            why = "no answer in time" if isinstance(exc, httpx.TimeoutException) \
                else "connection lost"
            if write:
                raise UnknownOutcome(PLATFORM, f"{action}: {why}; it may or may not have been "
                                               f"written (the retry sends the same "
                                               f"Idempotency-Key)") from exc
            raise PublishError(PLATFORM, f"{action} failed for {who}: {why} "
                                         f"(try again later)") from exc
        self._note_rate(response.headers)
        status = response.status_code
        if status in ok:
            return response
        said = _error_text(response)
        if status == 429:
            retry_at = self._reset_time(response.headers)
            raise RateLimited(PLATFORM, retry_at, f"Mastodon rate-limited {action} for {who}")
        if status == 401:
            raise PublishError(PLATFORM, f"Mastodon refused the access token of {who} (401 "
                                         f"Unauthorized: {said}) during {action}: check "
                                         f"{self.account.access_token_env} (a token with read "
                                         f"and write scopes)", final=True)
        if status in REFUSALS:
            fix = "fix the post or the account, then publish again" if of_post else (
                f"check that api_base ({self.account.api_base}) is the Mastodon server and "
                f"that the account may post, then try again")
            raise PublishError(PLATFORM, f"Mastodon refused {action} for {who} ({status} "
                                         f"{REFUSALS[status]}: {said}): {fix}", final=True)
        if status >= 500 and write:
            raise UnknownOutcome(PLATFORM, f"{action}: Mastodon answered {status}; it may or "
                                           f"may not have been written")
        raise PublishError(PLATFORM, f"{action} failed for {who}: Mastodon answered {status} "
                                     f"({said}) (try again later)", final=status < 500)

    def _body(self, response: httpx.Response, action: str, want: type, *,
              needs_id: bool = False, write: bool = False) -> Any:
        """The JSON answer (an object, with an ``id`` if ``needs_id``, or a list); an answer
        that is not the Mastodon API's (an HTML page: api_base is some other site) is one
        line, and after a write (``write``) an unknown outcome."""
        try:
            data = response.json()
        except ValueError:
            data = None
        has_id = isinstance(data, dict) and "id" in data
        if isinstance(data, want) and (has_id or not needs_id):
            return data
        what = (f"{action}: {self.account.api_base} answered {response.status_code} with "
                f"something that is not the Mastodon API's answer")
        if write:
            raise UnknownOutcome(PLATFORM, f"{what}; it may or may not have been written")
        raise PublishError(PLATFORM, f"{what} (check that api_base is the Mastodon server)",
                           final=True)

    def _note_rate(self, headers: httpx.Headers) -> None:
        remaining = headers.get("X-RateLimit-Remaining", "").strip()
        if remaining.isdigit() and int(remaining) == 0:
            self._paused_until = self._reset_time(headers)
            log.info("mastodon account %r: rate limit used up until %s", self.account.name,
                     self._paused_until)

    def _reset_time(self, headers: httpx.Headers) -> datetime:
        reset = parse_time(headers.get("X-RateLimit-Reset", ""))
        return reset if reset and reset > self._clock() else self._clock() + timedelta(
            minutes=5)

    def _check_pause(self, action: str) -> None:
        if self._paused_until is not None and self._paused_until > self._clock():
            raise RateLimited(PLATFORM, self._paused_until,
                              f"the Mastodon rate limit of account {self.account.name!r} is "
                              f"used up before {action}")

    # -- the PlatformClient contract ----------------------------------------------------

    def login(self) -> str:
        """Confirm the token; read and save the server's limits. Return the account name."""
        me = self._body(self._call("the login", "GET", "/api/v1/accounts/verify_credentials",
                                   of_post=False), "the login", dict, needs_id=True)
        self._account_id = str(me["id"])
        self._read_instance()
        return str(me.get("acct") or me.get("username"))

    def _read_instance(self) -> None:
        response = self._call("reading the server's limits", "GET", "/api/v2/instance",
                              ok=(200, 404, 410), of_post=False)
        if response.status_code != 200:  # before Mastodon 4.0
            response = self._call("reading the server's limits", "GET", "/api/v1/instance",
                                  of_post=False)
        conf = self._body(response, "reading the server's limits", dict).get(
            "configuration") or {}
        found = {"max_characters": (conf.get("statuses") or {}).get("max_characters"),
                 "max_media_attachments": (conf.get("statuses") or {}).get(
                     "max_media_attachments"),
                 "description_limit": (conf.get("media_attachments") or {}).get(
                     "description_limit")}
        self._limits = {k: v if isinstance(v, int) and v > 0 else DEFAULTS[k]
                        for k, v in found.items()}
        save_limits(self._state_dir, self.account.name, self._limits)

    def limits_line(self) -> str:
        """The limits, in words, for ``citycrier accounts check``."""
        lim = self._limits
        return (f"posts up to {lim['max_characters']} characters, "
                f"{lim['max_media_attachments']} images, alt text up to "
                f"{lim['description_limit']} characters")

    def new_key(self) -> str:
        """The Idempotency-Key of the next status, stored as the receipt's intent."""
        return f"citycrier-{uuid.uuid4().hex}"

    def create_post(self, content: PostContent, *, key: str, root: Ref | None,
                    parent: Ref | None) -> Ref:
        """Upload the images, then make the status (a reply to ``parent`` when given)."""
        self._check_content(content)
        action = f"the reply to {parent.id}" if parent else "the first post of a thread"
        self._check_pause(action)
        media = [self._upload(image, n) for n, image in enumerate(content.images, 1)]
        body: dict[str, Any] = {"status": content.text, "visibility": (
            self.account.reply_visibility if parent else self.account.visibility)}
        if media:
            body["media_ids"] = media
        if parent:
            body["in_reply_to_id"] = parent.id
        if self.account.language:
            body["language"] = self.account.language
        status = self._body(self._call(action, "POST", "/api/v1/statuses", write=True,
                                       json=body,
                                       headers={"Idempotency-Key": key or self.new_key()}),
                            action, dict, needs_id=True, write=True)
        log.info("mastodon account %r: posted %s", self.account.name, status["id"])
        return Ref(id=str(status["id"]), uri=str(status.get("url") or status["uri"]))

    def _check_content(self, content: PostContent) -> None:
        """Refuse, before anything is uploaded, what the server would refuse."""
        m = REGISTRY[PLATFORM].measure(content.text, self._limits["max_characters"])
        if not m.ok:
            raise PublishError(PLATFORM, f"a post is {m.length} characters as Mastodon counts "
                                         f"them; this server allows {m.limit} (shorten it, or "
                                         f"split the post)", final=True)
        most = self._limits["max_media_attachments"]
        if len(content.images) > most:
            raise PublishError(PLATFORM, f"a post has {len(content.images)} images; this "
                                         f"server takes at most {most} (move the rest to "
                                         f"another post)", final=True)
        for number, image in enumerate(content.images, 1):
            limit = self._limits["description_limit"]
            if not image.alt.strip() or len(image.alt) > limit:
                raise PublishError(PLATFORM, f"image {number} has {len(image.alt)} characters "
                                             f"of alt text; this server needs 1 to {limit} "
                                             f"(rewrite the alt text)", final=True)

    def _upload(self, image: Image, number: int) -> str:
        """``POST /api/v2/media``, then poll while it is processing: the media id."""
        action = f"the upload of image {number}"
        response = self._call(action, "POST", "/api/v2/media", ok=(200, 202),
                              files={"file": (f"chart{number}.png", image.png, "image/png")},
                              data={"description": image.alt})
        media_id = str(self._body(response, action, dict, needs_id=True)["id"])
        waited, tries = 0.0, 0
        while response.status_code != 200:
            if waited >= POLL_SECONDS:
                raise PublishError(PLATFORM, f"image {number} was still processing on the "
                                             f"server after {POLL_SECONDS:.0f} s (try again "
                                             f"later)")
            pause = POLL_WAITS[min(tries, len(POLL_WAITS) - 1)]
            self._sleep(pause)
            waited, tries = waited + pause, tries + 1
            response = self._call(f"the processing of image {number}", "GET",
                                  f"/api/v1/media/{media_id}", ok=(200, 206))
        return media_id

    def find_post(self, content: PostContent, *, key: str, parent: Ref | None,
                  since: datetime) -> Ref | None:
        """Look among the account's statuses since ``since`` for this text replying to
        ``parent``; UnknownOutcome when that cannot be settled."""
        want = " ".join(content.text.split())
        matches: list[dict[str, Any]] = []
        try:
            if not self._account_id:
                self.login()
            params: dict[str, Any] = {"limit": 40}
            for _ in range(LOOKUP_PAGES):
                page: list[dict[str, Any]] = self._body(self._call(
                    "the lookup of recent posts", "GET",
                    f"/api/v1/accounts/{self._account_id}/statuses", params=params),
                    "the lookup of recent posts", list)
                matches += [s for s in page if _is_same(s, want, parent)]
                times = [parse_time(str(s.get("created_at", ""))) for s in page]
                oldest = min((t for t in times if t), default=None)
                if not page or (oldest and oldest < since - LOOKUP_MARGIN):
                    break
                params = {"limit": 40, "max_id": page[-1]["id"]}
            else:
                raise UnknownOutcome(PLATFORM, "too many recent posts to look through")
        except RateLimited:
            raise
        except PublishError as exc:
            raise UnknownOutcome(PLATFORM, f"could not settle whether a post was written "
                                           f"({exc.what}); a person must check the account's "
                                           f"recent posts") from exc
        if len(matches) > 1:
            ids = ", ".join(str(s["id"]) for s in matches)
            raise UnknownOutcome(PLATFORM, f"{len(matches)} recent posts ({ids}) match the "
                                           f"post; a person must check which one belongs to "
                                           f"the thread")
        if not matches:
            return None
        found = matches[0]
        return Ref(id=str(found["id"]), uri=str(found.get("url") or found["uri"]))

    def delete_post(self, ref: Ref) -> None:
        """``DELETE /api/v1/statuses/{id}``; a status that is already gone is fine."""
        response = self._call(f"the deletion of post {ref.id}", "DELETE",
                              f"/api/v1/statuses/{ref.id}", ok=(200, 404))
        if response.status_code == 404:
            log.info("mastodon account %r: post %s was already gone", self.account.name, ref.id)
            return
        log.info("mastodon account %r: deleted %s", self.account.name, ref.id)


def _is_same(status: dict[str, Any], want: str, parent: Ref | None) -> bool:
    """Whether a status is the post: its text (a mention Mastodon resolved shows as @user
    only) and its parent."""
    replied = status.get("in_reply_to_id")
    shown = short_mentions(plain_text(str(status.get("content", ""))))
    return shown == short_mentions(want) and replied == (parent.id if parent else None)


def _error_text(response: httpx.Response) -> str:
    try:
        said = response.json().get("error", "")
    except (ValueError, AttributeError):
        said = ""
    return " ".join(str(said or response.reason_phrase).split())[:300]
