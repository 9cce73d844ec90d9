"""Start and stop a real Bluesky network with its app view (tests/servers/appview.js).

``run_appview(postgres_url, tmp)`` starts ``node appview.js`` (@atproto/dev-env's TestPlc,
TestPds and TestBsky: a PLC, a PDS and the real ``@atproto/bsky`` app view, which indexes the
PDS's firehose into PostgreSQL, in a schema of its own), waits (bounded) for its ready line
and ``GET /xrpc/_health`` on both, yields a :class:`LocalAppView`, and stops the process
group at the end. The PDS proxies ``app.bsky.*`` calls to the app view, as bsky.social does.

Example::

    with run_appview(pg.url(), tmp_path) as net:
        client = atproto.Client(net.pds)      # getPosts through the PDS reaches the app view
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pds import PdsUnavailable, _read_ready_line, _stop

SERVERS = Path(__file__).resolve().parent
SCRIPT = SERVERS / "appview.js"
START_TIMEOUT = 90.0  # seconds: the app view migrates its PostgreSQL schema first


class AppViewUnavailable(PdsUnavailable):
    """The network could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class LocalAppView:
    pds: str  # http://localhost:PORT
    appview: str
    appview_did: str
    plc: str
    startup_seconds: float


def _wait_healthy(urls: list[str], deadline: float) -> None:
    for url in urls:
        last = ""
        while True:
            try:
                if httpx.get(f"{url}/xrpc/_health", timeout=5.0).status_code == 200:
                    break
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise AppViewUnavailable(f"{url} never answered /xrpc/_health ({last})")
            time.sleep(0.05)  # harness start-up poll, not a test sleep


@contextmanager
def run_appview(postgres_url: str, tmp: Path) -> Iterator[LocalAppView]:
    """A running PLC + PDS + app view; stopped when the block ends."""
    node = shutil.which("node")
    if node is None:
        raise AppViewUnavailable("node is not installed (the app view needs Node 20)")
    if not (SERVERS / "node_modules" / "@atproto" / "dev-env").is_dir():
        raise AppViewUnavailable(f"@atproto/dev-env is not installed: run `npm ci` in {SERVERS}")
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DB_POSTGRES_URL": postgres_url, "LOG_ENABLED": "false",
           "TMPDIR": str(tmp)}
    log = tmp / "appview.log"
    started = time.monotonic()
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([node, str(SCRIPT)], cwd=SERVERS, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                start_new_session=True)
    try:
        deadline = started + START_TIMEOUT
        ready = _read_ready_line(proc, deadline, log)
        _wait_healthy([ready["pds"], ready["appview"]], deadline)
        yield LocalAppView(pds=ready["pds"], appview=ready["appview"],
                           appview_did=ready["appviewDid"], plc=ready["plc"],
                           startup_seconds=time.monotonic() - started)
    finally:
        _stop(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
