"""Start and stop the real Bluesky PDS (tests/servers/pds.js) for the test suite.

``run_pds(tmp)`` starts ``node pds.js`` with temporary data and blob directories, waits
(bounded) for its ready line and ``GET /xrpc/_health``, creates the account
``cityhall.test``, yields a :class:`LocalPds`, and stops the whole process group at the end.
The npm packages come from ``npm ci`` in tests/servers (package.json, package-lock.json).

Example::

    with run_pds(tmp_path) as pds:
        client = atproto.Client(pds.url)
        client.login(pds.handle, pds.password, fetch_bsky_profile=False)
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVERS = Path(__file__).resolve().parent
SCRIPT = SERVERS / "pds.js"
START_TIMEOUT = 60.0  # seconds, for node to print its ready line
STOP_TIMEOUT = 10.0
HANDLE = "cityhall.test"


class PdsUnavailable(RuntimeError):
    """The PDS could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class LocalPds:
    url: str  # http://localhost:PORT (the URL the PDS puts in DID documents)
    plc_url: str
    handle: str
    did: str
    password: str  # the account password (works as an app password for createSession)
    jwt_secret: str  # signs the PDS's session tokens (lets a test forge an expired one)
    startup_seconds: float  # from spawning node to a healthy PDS with the account made


def _read_ready_line(proc: subprocess.Popen[bytes], deadline: float, log: Path) -> dict:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    try:
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PdsUnavailable(
                    f"the PDS did not start within {START_TIMEOUT:.0f} s (see {log})"
                )
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise PdsUnavailable(
                    f"the PDS exited with status {proc.wait()} before it was ready: "
                    f"{log.read_text(errors='replace')[-1500:]}"
                )
            buffer += chunk
    finally:
        selector.close()
    return json.loads(buffer.split(b"\n", 1)[0])


def _wait_healthy(url: str, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/xrpc/_health", timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.05)  # harness start-up poll, not a test sleep
    raise PdsUnavailable(f"the PDS at {url} never answered /xrpc/_health ({last})")


def _create_account(url: str, password: str) -> str:
    response = httpx.post(
        f"{url}/xrpc/com.atproto.server.createAccount",
        json={"handle": HANDLE, "email": "cityhall@example.test", "password": password},
        timeout=30.0,
    )
    if response.status_code != 200:
        raise PdsUnavailable(f"the PDS refused to create {HANDLE}: {response.text}")
    return str(response.json()["did"])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the group node leads (start_new_session)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        proc.wait(timeout=STOP_TIMEOUT)


@contextmanager
def run_pds(tmp: Path) -> Iterator[LocalPds]:
    """A running PDS with the account ``cityhall.test``; stopped when the block ends."""
    node = shutil.which("node")
    if node is None:
        raise PdsUnavailable("node is not installed (the PDS needs Node 20)")
    if not (SERVERS / "node_modules" / "@atproto" / "pds").is_dir():
        raise PdsUnavailable(f"@atproto/pds is not installed: run `npm ci` in {SERVERS}")
    data, blobs = tmp / "pds-data", tmp / "pds-blobs"
    data.mkdir(parents=True, exist_ok=True)
    blobs.mkdir(parents=True, exist_ok=True)
    jwt_secret = secrets.token_hex(16)
    env = {
        **os.environ,
        "PDS_DATA_DIRECTORY": str(data),
        "PDS_BLOBSTORE_DISK_LOCATION": str(blobs),
        "PDS_JWT_SECRET": jwt_secret,
        "PDS_ADMIN_PASSWORD": secrets.token_hex(16),
        "LOG_ENABLED": "false",
    }
    log = tmp / "pds.log"
    started = time.monotonic()
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=SERVERS,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = started + START_TIMEOUT
        ready = _read_ready_line(proc, deadline, log)
        _wait_healthy(ready["pds"], deadline)
        password = secrets.token_urlsafe(16)
        did = _create_account(ready["pds"], password)
        yield LocalPds(
            url=ready["pds"],
            plc_url=ready["plc"],
            handle=HANDLE,
            did=did,
            password=password,
            jwt_secret=jwt_secret,
            startup_seconds=time.monotonic() - started,
        )
    finally:
        _stop(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
