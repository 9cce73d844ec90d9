"""Posting to Bluesky with the atproto SDK, one record at a time, with our own record keys.

Each post is written with ``com.atproto.repo.createRecord`` and a record key (a TID) that
citycrier chose and stored as intent first, so after a timeout or a 5xx the PDS can be asked
(``getRecord``) whether that exact post exists before anything is written again.

The session is kept in ``STATE_DIR/sessions/bluesky-NAME.session`` (owner-only) and reused;
the app password is used again only when the PDS refuses the saved session, because
``createSession`` is rate-limited (about 30 per 5 minutes, 100 a day on bsky.social).

Example::

    client = BlueskyClient(account, state_dir)
    client.login()                                  # 'cityhall.bsky.social'
    key = client.new_key()                          # store it as intent, then:
    ref = client.create_post(PostContent("Hello"), key=key, root=None, parent=None)
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pydantic
from atproto import Client, SessionEvent, models
from atproto_client import exceptions as atx
from atproto_client.client.session import Session
from atproto_client.models.blob_ref import BlobRef
from atproto_client.models.common import XrpcError
from atproto_client.models.utils import get_response_model
from atproto_client.request import Request
from atproto_client.utils.facet_detection import detect_facets

from bot.errors import PublishError, RateLimited, UnknownOutcome
from bot.http import tls_context
from bot.publish.base import Image, PostContent, Ref, read_secret
from bot.settings import AccountConfig, Config

log = logging.getLogger(__name__)

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # the lexicon now allows 2 MB; PDSes in the wild still refuse > 1 MB
TIMEOUT = httpx.Timeout(30.0, connect=10.0)

ClientFactory = Callable[[str], Client]
T = TypeVar("T")

# -- record keys --------------------------------------------------------------------------

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable


def encode_tid(micros: int, clock_id: int) -> str:
    """The 13-character TID for a time in microseconds since the epoch and a clock id.

    >>> encode_tid(0, 0)
    '2222222222222'
    >>> encode_tid(1_700_000_000_000_000, 7)
    '3ke6kg3wk222b'
    """
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class TidClock:
    """Hands out TIDs that always increase within this process, even within a microsecond."""

    def __init__(
        self,
        clock_id: int | None = None,
        now_micros: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._clock_id = random.randrange(1024) if clock_id is None else clock_id
        self._now_micros = now_micros
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._now_micros(), self._last + 1)
            return encode_tid(self._last, self._clock_id)


_TIDS = TidClock()

# -- the saved session --------------------------------------------------------------------


class SessionFile:
    """A session string on disk, readable by its owner only (dir 0700, file 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""

    def write(self, text: str) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.path)


def default_client(service: str) -> Client:
    return Client(service, request=Request(timeout=TIMEOUT, verify=tls_context()))


# -- errors -------------------------------------------------------------------------------

_REFUSED_TOKENS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    return response.status_code if response is not None else 0


def _xrpc(exc: BaseException) -> tuple[str, str]:
    """The XRPC error name and message of a refusal, one line each."""
    response = getattr(exc, "response", None)
    content = response.content if response is not None else None
    if isinstance(content, XrpcError):
        return content.error, " ".join((content.message or "").split())
    return "", ""


def _final(what: str) -> PublishError:
    return PublishError(PLATFORM, what, final=True)


def _is_auth_refusal(exc: BaseException) -> bool:
    return isinstance(exc, atx.UnauthorizedError) or (
        isinstance(exc, atx.BadRequestError) and _xrpc(exc)[0] in _REFUSED_TOKENS
    )


class BlueskyClient:
    """One Bluesky account. See the module docstring."""

    platform = PLATFORM

    def __init__(
        self,
        account: AccountConfig,
        state_dir: Path,
        *,
        env: Mapping[str, str] = os.environ,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.account = account
        self._env = env
        self._factory = client_factory or default_client
        self._session_file = SessionFile(state_dir / "sessions" / f"bluesky-{account.name}.session")
        self._client: Client | None = None
        self._did = ""
        self._handle = ""

    @classmethod
    def from_config(cls, config: Config, account: AccountConfig) -> BlueskyClient:
        """The client for one configured account (its session kept under state_dir)."""
        return cls(account, config.state_dir)

    def _password(self) -> str:
        purpose = f"bluesky account {self.account.name!r}"
        return read_secret(self._env, self.account.app_password_env, purpose)

    @property
    def _who(self) -> str:
        return f"account {self.account.name!r} ({self.account.handle or 'no handle'})"

    # -- logging in ---------------------------------------------------------------------

    def login(self) -> str:
        """Reuse the saved session if the PDS accepts it, else log in with the app password."""
        password = self._password()
        saved = self._session_file.read()
        if saved:
            client = self._new_client()
            try:
                client.login(session_string=saved, fetch_bsky_profile=False)
                session = client.com.atproto.server.get_session()
            except (atx.AtProtocolError, ValueError) as exc:
                client.request.close()
                if (
                    isinstance(exc, atx.RequestErrorBase)
                    and not _is_auth_refusal(exc)
                    and (exc.response is None or _status(exc) >= 429)
                ):
                    raise self._error("check the saved session", exc, write=False) from exc
                log.info(
                    "bluesky %s: the saved session was refused (%s); logging in again",
                    self._who,
                    _xrpc(exc)[0] or type(exc).__name__,
                )
            else:
                return self._use(client, session.did, session.handle)
        return self._login_with_password(password)

    def _login_with_password(self, password: str) -> str:
        if not self.account.handle:
            raise _final(f"account {self.account.name!r} has no handle (set it in config.toml)")
        client = self._new_client()
        try:
            client.login(self.account.handle, password, fetch_bsky_profile=False)
        except atx.AtProtocolError as exc:
            client.request.close()
            if _is_auth_refusal(exc) or isinstance(exc, atx.BadRequestError):
                raise _final(
                    f"{self._who}: {self.account.service} refused the handle or app password "
                    f"(check {self.account.app_password_env}: it must be an app password "
                    f"of {self.account.handle}, made under Settings > Privacy and security "
                    "> App passwords)"
                ) from exc
            raise self._error("log in", exc, write=False) from exc
        session = Session.decode(client.export_session_string())
        log.info("bluesky %s: logged in with the app password", self._who)
        return self._use(client, session.did, session.handle)

    def _new_client(self) -> Client:
        client = self._factory(self.account.service)
        client.on_session_change(self._save_session)
        return client

    def _save_session(self, event: SessionEvent, session: Session) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self._session_file.write(session.export())
            log.debug("bluesky %s: session saved (%s)", self._who, event.value)

    def _use(self, client: Client, did: str, handle: str) -> str:
        self.close()
        self._client, self._did, self._handle = client, did, handle
        return handle

    def close(self) -> None:
        """Close the SDK client's connections (a later call logs in again)."""
        if self._client is not None:
            self._client.request.close()
            self._client = None

    def _call(self, action: str, fn: Callable[[Client], T], *, write: bool) -> T:
        """Run one SDK call; after a refused session log in again once and retry."""
        if self._client is None:
            self.login()
        assert self._client is not None
        try:
            return fn(self._client)
        except atx.AtProtocolError as exc:
            if not _is_auth_refusal(exc):
                raise self._error(action, exc, write=write) from exc
            log.info("bluesky %s: session refused during %s; logging in again", self._who, action)
        self._login_with_password(self._password())
        try:
            return fn(self._client)
        except atx.AtProtocolError as exc:
            if _is_auth_refusal(exc):
                raise _final(
                    f"{self._who}: the PDS refused to {action} even after a fresh login "
                    "(check the account's status on its PDS)"
                ) from exc
            raise self._error(action, exc, write=write) from exc

    def _error(self, action: str, exc: BaseException, *, write: bool) -> PublishError:
        """Turn an SDK exception into one BotError saying what happened and what to do."""
        name, message = _xrpc(exc)
        detail = f"{name}: {message}" if message else name
        status = _status(exc)
        if isinstance(exc, atx.RateLimitExceededError):
            retry_at = exc.reset_at or datetime.now(UTC) + timedelta(minutes=5)
            return RateLimited(
                PLATFORM, retry_at, f"rate-limited by the PDS while trying to {action}"
            )
        if isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout):
            return PublishError(  # the request never left: safe to try again
                PLATFORM, f"could not reach {self.account.service} to {action} (try again later)"
            )
        if (
            isinstance(exc, atx.InvokeTimeoutError)
            or status >= 500
            or (isinstance(exc, atx.NetworkError) and exc.response is None)
        ):
            why = f"server error {status}" if status else "the connection failed"
            if isinstance(exc, atx.InvokeTimeoutError):
                why = "no answer in time"
            if write:
                return UnknownOutcome(
                    PLATFORM,
                    f"{action}: {why}; it may or may not have been "
                    "written (citycrier asks the PDS before writing again)",
                )
            return PublishError(
                PLATFORM, f"could not {action} on {self.account.service}: {why} (try again later)"
            )
        if status and status < 500:
            return _final(
                f"the PDS refused to {action}: {detail or status} "
                "(fix the post or the account, then publish again)"
            )
        return PublishError(PLATFORM, f"could not {action}: {exc} (try again later)")

    # -- posting ------------------------------------------------------------------------

    def new_key(self) -> str:
        """A fresh TID: the record key the next post will be written under."""
        return _TIDS.next()

    def create_post(
        self, content: PostContent, *, key: str, root: Ref | None, parent: Ref | None
    ) -> Ref:
        """Write one post under record key ``key``; a reply when ``parent`` is given."""
        check_content(content)
        if not key:
            raise _final("no record key was given for the post (a bug in citycrier: report it)")
        embed = self._upload_images(content.images) if content.images else None
        try:
            record = models.AppBskyFeedPost.Record(
                created_at=datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                text=content.text,
                facets=detect_facets(content.text) or None,
                embed=embed,
                reply=reply_ref(root, parent),
            )
        except pydantic.ValidationError as exc:
            raise _final(
                f"post {key} is not a valid Bluesky post ({exc.error_count()} problem(s), "
                "e.g. text over 3,000 characters): shorten it"
            ) from exc
        response = self._call(
            f"post {key}",
            lambda c: c.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=self._did, collection=POST_COLLECTION, rkey=key, record=record
                )
            ),
            write=True,
        )
        log.info("bluesky %s: posted %s", self._who, response.uri)
        return Ref(id=key, uri=response.uri, cid=response.cid)

    def _upload_images(self, images: tuple[Image, ...]) -> models.AppBskyEmbedImages.Main:
        embedded = []
        for number, image in enumerate(images, 1):
            uploaded = self._call(f"upload image {number}", upload_blob(image.png), write=False)
            embedded.append(
                models.AppBskyEmbedImages.Image(
                    alt=image.alt,
                    image=uploaded,
                    aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(
                        width=image.width, height=image.height
                    ),
                )
            )
        return models.AppBskyEmbedImages.Main(images=embedded)

    def find_post(
        self, content: PostContent, *, key: str, parent: Ref | None, since: datetime
    ) -> Ref | None:
        """Ask the PDS whether the record ``key`` exists: its Ref, or None if it does not."""
        if not key:
            raise UnknownOutcome(
                PLATFORM,
                "no record key was stored for the post, so the PDS "
                "cannot be asked (check the account's posts by hand)",
            )
        params = models.ComAtprotoRepoGetRecord.Params(
            repo=self._did or self.account.handle, collection=POST_COLLECTION, rkey=key
        )

        def fetch(c: Client) -> models.ComAtprotoRepoGetRecord.Response | None:
            try:
                return c.com.atproto.repo.get_record(params)
            except atx.BadRequestError as exc:
                if _xrpc(exc)[0] == "RecordNotFound":
                    return None
                raise

        try:
            found = self._call(f"check post {key}", fetch, write=False)
        except RateLimited:
            raise
        except PublishError as exc:
            raise UnknownOutcome(
                PLATFORM,
                f"could not check whether post {key} was written "
                f"({exc.what}); a person must check the account's posts",
            ) from exc
        if found is None:
            return None
        return Ref(id=key, uri=found.uri, cid=found.cid or "")

    def delete_post(self, ref: Ref) -> None:
        """Delete the record ``ref.id``; a record that is already gone is fine."""
        self._call(
            f"delete post {ref.id}",
            lambda c: c.com.atproto.repo.delete_record(
                models.ComAtprotoRepoDeleteRecord.Data(
                    repo=self._did, collection=POST_COLLECTION, rkey=ref.id
                )
            ),
            write=False,
        )
        log.info("bluesky %s: deleted %s", self._who, ref.uri or ref.id)


def upload_blob(png: bytes) -> Callable[[Client], BlobRef]:
    """An SDK call uploading a PNG; the blob reference to put in the post.

    The SDK's own ``upload_blob`` hands the bytes to httpx as ``data=``, which httpx
    deprecates; the same XRPC call with ``content=`` does not.
    """

    def call(client: Client) -> BlobRef:
        response = client.invoke_procedure(
            "com.atproto.repo.uploadBlob",
            content=png,
            headers={"Content-Type": "image/png"},
            output_encoding="application/json",
        )
        return get_response_model(response, models.ComAtprotoRepoUploadBlob.Response).blob

    return call


def check_content(content: PostContent) -> None:
    """Refuse, before anything is uploaded, what Bluesky would refuse about the images."""
    if len(content.images) > MAX_IMAGES:
        raise _final(
            f"a post has {len(content.images)} images; Bluesky takes at most {MAX_IMAGES} "
            "(move the rest to another post)"
        )
    for number, image in enumerate(content.images, 1):
        if len(image.png) > MAX_IMAGE_BYTES:
            raise _final(
                f"image {number} is {len(image.png):,} bytes; Bluesky takes at most "
                f"{MAX_IMAGE_BYTES:,} (draw the chart smaller)"
            )
        if not image.alt.strip():
            raise _final(f"image {number} has no alt text (every image needs one)")
        if image.width < 1 or image.height < 1:
            raise _final(f"image {number} has no size ({image.width}x{image.height})")


def reply_ref(root: Ref | None, parent: Ref | None) -> models.AppBskyFeedPost.ReplyRef | None:
    """The reply field of a post: both root and parent as uri + cid (root defaults to parent)."""
    if parent is None:
        return None
    root = root or parent
    return models.AppBskyFeedPost.ReplyRef(
        root=models.ComAtprotoRepoStrongRef.Main(uri=root.uri, cid=root.cid),
        parent=models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid),
    )
