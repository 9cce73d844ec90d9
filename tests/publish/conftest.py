"""Fixtures for the platform clients: a real local PDS (session-wide) and the X fake."""

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
