"""Fixtures for the platform clients: a real local PDS (session-wide), the X fake and the
Mastodon fake."""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

SERVERS = Path(__file__).resolve().parents[1] / "servers"
if str(SERVERS) not in sys.path:
    sys.path.insert(0, str(SERVERS))

import mastodon_fake  # noqa: E402
import pds as pds_server  # noqa: E402
import x_fake  # noqa: E402

from bot.publish.bluesky import default_client  # noqa: E402

_STARTUP: list[float] = []
X_NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # the X fake's clock: posts are made "now"


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pds_server.LocalPds]:
    """The real PDS with the account cityhall.test, for the whole test session."""
    try:
        with pds_server.run_pds(tmp_path_factory.mktemp("pds")) as server:
            _STARTUP.append(server.startup_seconds)
            yield server
    except pds_server.PdsUnavailable as exc:
        pytest.fail(f"the local PDS could not start: {exc}", pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for seconds in _STARTUP:
        terminalreporter.write_line(
            f"local PDS start-up (node + PLC + PDS + account): {seconds:.2f} s"
        )


@pytest.fixture
def x_fake_server() -> Iterator[x_fake.XFake]:
    """The X fake; the test fails on teardown if any request or answer broke the spec."""
    if not x_fake.SPEC_PATH.is_file():
        pytest.skip(f"needs the official X API spec at {x_fake.SPEC_PATH} (../shared/data)")
    with x_fake.XFake(clock=lambda: X_NOW) as fake:
        yield fake
    if fake.mismatches:
        pytest.fail(
            "the X fake saw requests or answers that break the spec:\n"
            + "\n".join(fake.mismatches),
            pytrace=False,
        )


class SdkCounter:
    """A client_factory for BlueskyClient that counts XRPC calls by NSID (and can break one).

    ``fail_after_create`` makes the next createRecord reach the PDS and then raise the SDK's
    timeout error, as if the answer was lost. Every client it made is closed by the fixture.
    """

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.fail_after_create = False
        self.clients: list[Any] = []

    def count(self, nsid: str) -> int:
        return self.calls.get(nsid, 0)

    def __call__(self, service: str) -> Any:
        from atproto_client.exceptions import InvokeTimeoutError

        client = default_client(service)
        self.clients.append(client)
        for kind in ("invoke_query", "invoke_procedure"):
            original = getattr(client, kind)

            def counted(nsid: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.calls[nsid] = self.calls.get(nsid, 0) + 1
                result = _original(nsid, *args, **kwargs)
                if nsid == "com.atproto.repo.createRecord" and self.fail_after_create:
                    self.fail_after_create = False
                    raise InvokeTimeoutError()
                return result

            setattr(client, kind, counted)
        return client


@pytest.fixture
def sdk() -> Iterator[SdkCounter]:
    counter = SdkCounter()
    yield counter
    for client in counter.clients:
        client.request.close()


@pytest.fixture
def png() -> Any:
    """``png(width, height, pad_to=0)``: PNG bytes (see _png)."""
    return _png


def _png(width: int, height: int, pad_to: int = 0) -> bytes:
    """A real RGB PNG of the given size; ``pad_to`` adds a private chunk to reach that size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes([30, 90, 160]) * width for _ in range(height))
    head = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    )
    body = chunk(b"IDAT", zlib.compress(rows))
    tail = chunk(b"IEND", b"")
    size = len(head) + len(body) + len(tail)
    if pad_to > size:
        body += chunk(b"zzZz", b"\x00" * (pad_to - size - 12))
    return head + body + tail


# ---- issue 4: publishing orchestration (thread, runner, crash, retract, CLI) -------------
# Helpers shared by test_thread.py, test_runner.py, test_crash.py, test_retract.py and
# tests/test_cli_platforms.py (import them with `from tests.publish.conftest import ...`).

from dataclasses import dataclass  # noqa: E402

from atproto import Client  # noqa: E402

BSKY_ENV = "CITYCRIER_TEST_ORCH_BSKY_PASSWORD"
MASTODON_ENV = "CITYCRIER_TEST_ORCH_MASTODON_TOKEN"
X_ENVS = (
    "CITYCRIER_TEST_ORCH_X_CONSUMER_KEY",
    "CITYCRIER_TEST_ORCH_X_CONSUMER_SECRET",
    "CITYCRIER_TEST_ORCH_X_ACCESS_TOKEN",
    "CITYCRIER_TEST_ORCH_X_ACCESS_TOKEN_SECRET",
)


class FakeClock:
    """A clock a test moves by hand: ``clock()`` is now; ``clock.advance(minutes=5)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class PdsAccount:
    """A fresh account on the session's PDS (its own repo: records of other tests absent)."""

    url: str
    handle: str
    did: str
    password: str


def create_pds_account(pds: Any, prefix: str = "t") -> PdsAccount:
    """A new account on the local PDS, named ``PREFIX`` + 8 random hex digits ``.test``."""
    import secrets

    import httpx

    handle = f"{prefix}{secrets.token_hex(4)}.test"
    password = secrets.token_urlsafe(16)
    response = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createAccount",
        json={"handle": handle, "email": f"{handle}@example.test", "password": password},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return PdsAccount(pds.url, handle, str(response.json()["did"]), password)


def pds_posts(account: PdsAccount) -> list[Any]:
    """Every post record in the account's repo, oldest first (TID record keys sort by time)."""
    from atproto import models

    client = Client(account.url)
    try:
        page = client.com.atproto.repo.list_records(
            models.ComAtprotoRepoListRecords.Params(
                repo=account.did, collection="app.bsky.feed.post", limit=100
            )
        )
    finally:
        client.request.close()
    return sorted(page.records, key=lambda r: r.uri.rsplit("/", 1)[1])


def assert_pds_thread(records: list[Any], texts: list[str], images: list[int]) -> None:
    """The records are exactly the thread: these texts in order, each reply pointing at the
    first post as root and at the one before as parent (uri and cid), with these image counts."""
    assert [r.value.text for r in records] == texts
    assert records[0].value.reply is None
    for record, before in zip(records[1:], records, strict=False):
        reply = record.value.reply
        assert (reply.root.uri, reply.root.cid) == (records[0].uri, records[0].cid)
        assert (reply.parent.uri, reply.parent.cid) == (before.uri, before.cid)
    assert [len(r.value.embed.images) if r.value.embed else 0 for r in records] == images


def assert_x_thread(fake: Any, texts: list[str], images: list[int], others: int = 0) -> None:
    """The fake holds exactly this thread, chained reply by reply, and wrote nothing else
    (but ``others`` posts the test wrote itself)."""
    tweets = fake.thread()
    assert [t.sent for t in tweets] == texts
    assert [t.reply_to for t in tweets] == [None] + [t.id for t in tweets[:-1]]
    assert [len(t.media_ids) for t in tweets] == images
    assert fake.writes == len(texts) + others


def bluesky_account_toml(name: str, account: PdsAccount, *, password_env: str = BSKY_ENV,
                         **extra: Any) -> str:
    """An [accounts.NAME] table for a PDS account (``extra``: e.g. posts_per_hour=4)."""
    lines = [f"[accounts.{name}]", 'platform = "bluesky"', f'handle = "{account.handle}"',
             f'service = "{account.url}"', f'app_password_env = "{password_env}"']
    return "\n".join(lines + [f"{k} = {v!r}" for k, v in extra.items()]) + "\n"


def x_account_toml(name: str, base_url: str, *, envs: tuple[str, ...] = X_ENVS,
                   **extra: Any) -> str:
    """An [accounts.NAME] table for the X fake at ``base_url``."""
    keys = ("consumer_key_env", "consumer_secret_env", "access_token_env",
            "access_token_secret_env")
    lines = [f"[accounts.{name}]", 'platform = "x"', 'handle = "cityhall"',
             f'api_base = "{base_url}"'] + [f'{k} = "{v}"' for k, v in zip(keys, envs,
                                                                          strict=True)]
    return "\n".join(lines + [f"{k} = {v!r}" for k, v in extra.items()]) + "\n"


def write_config(folder: Path, *accounts: str, grace_minutes: int = 60) -> Path:
    """A config.toml in ``folder`` (store and state inside it) with these [accounts] tables."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        'timezone = "America/Chicago"\n\n[storage]\nurl = "sqlite:///state/citycrier.db"\n'
        'state_dir = "state"\noutbox_dir = "outbox"\n\n'
        f"[approval]\nmissed_slot_grace_minutes = {grace_minutes}\n\n" + "\n".join(accounts),
        encoding="utf-8",
    )
    return path


def secrets_env(bsky_password: str = "", x_credentials: tuple[str, ...] = (),
                mastodon_token: str = "") -> dict[str, str]:
    """The environment variables holding the test accounts' credentials."""
    env = {BSKY_ENV: bsky_password} if bsky_password else {}
    env.update(zip(X_ENVS, x_credentials, strict=False))
    if mastodon_token:
        env[MASTODON_ENV] = mastodon_token
    return env


def mastodon_account_toml(name: str, base_url: str, *, token_env: str = MASTODON_ENV,
                          **extra: Any) -> str:
    """An [accounts.NAME] table for the Mastodon fake at ``base_url``."""
    lines = [f"[accounts.{name}]", 'platform = "mastodon"', 'handle = "cityhall@city.social"',
             f'api_base = "{base_url}"', f'access_token_env = "{token_env}"']
    return "\n".join(lines + [f"{k} = {v!r}" for k, v in extra.items()]) + "\n"


def mastodon_account(fake: Any, name: str = "cityhall_m", **extra: Any) -> Any:
    """The AccountConfig of a Mastodon account on ``fake``, its token named by MASTODON_ENV."""
    from bot.settings import AccountConfig

    return AccountConfig(name=name, platform="mastodon", api_base=fake.base_url,
                         access_token_env=MASTODON_ENV, **extra)


def mastodon_env() -> dict[str, str]:
    return {MASTODON_ENV: mastodon_fake.TOKEN}


def assert_mastodon_thread(fake: Any, texts: list[str], images: list[int],
                           others: int = 0) -> None:
    """The fake holds exactly this thread, chained reply by reply, first post public and
    replies unlisted, alt text on every image, and made nothing else (but ``others``)."""
    statuses = fake.thread()
    assert [s.text for s in statuses] == texts
    assert [s.in_reply_to_id for s in statuses] == [None] + [s.id for s in statuses[:-1]]
    assert [len(s.media_ids) for s in statuses] == images
    assert [s.visibility for s in statuses] == ["public"] + ["unlisted"] * (len(texts) - 1)
    assert all(fake.media[m].description for s in statuses for m in s.media_ids)
    assert fake.writes == len(texts) + others


# 📊 is 4 bytes in UTF-8 and one character, "—" is 3 bytes: byte offsets differ from indices.
THREAD_TEXTS = (
    "📊 Baton Rouge — 311 calls last week: 1,204. Data: https://data.brla.gov/d/7ixm-mnvx",
    "Most common: potholes (212), missed trash pickups (180), streetlights out (95).",
    "That is up 12% from the week before, the third weekly rise in a row.",
    "By district: District 2 had the most calls, about 1 in 4.",
    "Questions about a request? Call 311 or use the app. #BatonRouge",
)
THREAD_CHARTS = ((("top", 4, 3), ("daily", 6, 2)), (("rank", 5, 5),), (), (("map", 3, 4),), ())


def thread_draft(platforms: tuple[str, ...] = ("bluesky", "x"), *, texts: tuple[str, ...] =
                 THREAD_TEXTS, slot_at: datetime | None = None, period_key: str = "2026-W09",
                 state: str = "approved") -> Any:
    """A 5-post approved thread with four small charts (on posts 1, 2 and 4)."""
    from bot.store import NewDraft, Post, StoredChart

    slot = slot_at or X_NOW
    charts = tuple(
        StoredChart(name, "bar", f"Chart {name}", _png(w, h), f"Alt text of {name}: {w}x{h}",
                    w, h)
        for post in THREAD_CHARTS for name, w, h in post
    )
    posts = tuple(Post(text, tuple(n for n, _, _ in c)) for text, c in
                  zip(texts, THREAD_CHARTS, strict=True))
    return NewDraft(
        recipe="calls", title="311 calls: the week", period_key=period_key,
        period_label="last week", as_of=slot, slot_at=slot, approval="auto", state=state,
        platforms=platforms, data_hash=period_key, thread={p: posts for p in platforms},
        charts=charts,
    )


THREAD_IMAGES = [len(c) for c in THREAD_CHARTS]


def closed_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def set_secrets(monkeypatch: pytest.MonkeyPatch, bsky: PdsAccount | None = None) -> None:
    """Put the test accounts' credentials in the environment (the X fake's four keys and
    the Mastodon fake's token)."""
    if bsky is not None:
        monkeypatch.setenv(BSKY_ENV, bsky.password)
    for name, value in zip(X_ENVS, x_fake.CREDENTIALS, strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(MASTODON_ENV, mastodon_fake.TOKEN)


def x_account(fake: Any, name: str = "cityhall_x") -> Any:
    """The AccountConfig of an X account on ``fake``, credentials named by X_ENVS."""
    from bot.settings import AccountConfig

    return AccountConfig(name=name, platform="x", api_base=fake.base_url,
                         consumer_key_env=X_ENVS[0], consumer_secret_env=X_ENVS[1],
                         access_token_env=X_ENVS[2], access_token_secret_env=X_ENVS[3])


def x_env() -> dict[str, str]:
    return dict(zip(X_ENVS, x_fake.CREDENTIALS, strict=True))


@pytest.fixture
def clock() -> FakeClock:
    """Now, for the store, the runner and the X fake alike (starts at X_NOW)."""
    return FakeClock(X_NOW)


def _checked_fake(clock: Any) -> Iterator[Any]:
    if not x_fake.SPEC_PATH.is_file():
        pytest.fail(f"needs the official X API spec at {x_fake.SPEC_PATH} (../shared/data)",
                    pytrace=False)
    with x_fake.XFake(clock=clock) as fake:
        yield fake
    if fake.mismatches:
        pytest.fail("the X fake saw requests or answers that break the spec:\n"
                    + "\n".join(fake.mismatches), pytrace=False)


def _checked_mastodon(clock: Any, **options: Any) -> Iterator[Any]:
    if not mastodon_fake.SPEC_PATH.is_file():
        pytest.fail(f"needs the Mastodon OpenAPI description at {mastodon_fake.SPEC_PATH} "
                    f"(../shared/data)", pytrace=False)
    with mastodon_fake.MastodonFake(clock=clock, **options) as fake:
        yield fake
    if fake.mismatches:
        pytest.fail("the Mastodon fake saw requests or answers that break the spec:\n"
                    + "\n".join(fake.mismatches), pytrace=False)


@pytest.fixture
def mastodon_clocked(clock: FakeClock) -> Iterator[Any]:
    """The Mastodon fake on the test's clock; fails the test on any spec mismatch."""
    yield from _checked_mastodon(clock)


@pytest.fixture
def mastodon_live() -> Iterator[Any]:
    """The Mastodon fake on the real clock, for child processes that use the real clock."""
    yield from _checked_mastodon(None)


@pytest.fixture
def x_clocked(clock: FakeClock) -> Iterator[Any]:
    """The X fake on the test's clock (so its posts' times match the store's)."""
    yield from _checked_fake(clock)


@pytest.fixture
def x_live() -> Iterator[Any]:
    """The X fake on the real clock, for child processes that use the real clock too."""
    yield from _checked_fake(None)


@pytest.fixture
def bsky(pds: Any) -> PdsAccount:
    """A fresh account (and repo) on the session's PDS."""
    return create_pds_account(pds)
# ---- end issue 4 -------------------------------------------------------------------------
