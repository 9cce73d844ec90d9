"""Start and stop a real PostgreSQL (Debian's `postgresql` package) for the test suite.

``run_postgres()`` runs ``initdb`` into a fresh temporary folder, starts ``postgres`` on
127.0.0.1 with a port the OS chose and its unix socket inside that folder, waits (bounded)
until it accepts connections, yields a :class:`LocalPostgres`, and stops it (fast shutdown,
then SIGKILL if it lingers) when the block ends. PostgreSQL refuses to run as root: when the
tests run as root, the server runs as the ``postgres`` user and owns the folder.

Example::

    with run_postgres() as pg:
        url = pg.create_database("t1")     # postgresql://postgres@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 30.0  # seconds for the server to accept connections
STOP_TIMEOUT = 15.0
USER = "postgres"  # the superuser initdb creates (trust auth on loopback only)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started; the message says why and what to do."""


class ServerProcess:
    """One postgres process on a data folder; it can be stopped and started again on the
    same port (a test of what citycrier says when its database goes away)."""

    def __init__(self, bin_dir: Path, data: Path, sockets: Path, log: Path) -> None:
        self.bin_dir, self.data, self.sockets, self.log = bin_dir, data, sockets, log
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int | None = None) -> None:
        self.port = port or self.port
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
                 "-p", str(self.port), "-k", str(self.sockets), "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=32MB"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                **_as_user())  # type: ignore[call-overload]
        try:
            _wait_ready(self.proc, self.port, time.monotonic() + START_TIMEOUT, self.log)
        except PostgresUnavailable:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@dataclass(frozen=True)
class LocalPostgres:
    host: str
    port: int
    socket_dir: Path
    startup_seconds: float
    process: ServerProcess | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Stop the server (fast shutdown); `start()` brings it back with its databases."""
        assert self.process is not None
        self.process.stop()

    def start(self) -> None:
        assert self.process is not None
        self.process.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def find_bin_dir() -> Path:
    """The newest installed /usr/lib/postgresql/VERSION/bin that has initdb."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("PostgreSQL is not installed: run scripts/install-test-deps.sh "
                              "(Debian package postgresql)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> dict[str, object]:
    """Popen arguments that drop root to the postgres user (no-op when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user to run "
                                  "the server as (install the postgresql package)") from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(USER)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float,
                log: Path) -> None:
    import psycopg

    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PostgresUnavailable(f"postgres exited with status {proc.returncode}: "
                                      f"{log.read_text(errors='replace')[-1500:]}")
        try:
            with psycopg.connect(f"postgresql://{USER}@127.0.0.1:{port}/postgres",
                                 connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            last = str(exc).strip()
        time.sleep(0.05)  # harness start-up poll, not a test sleep
    raise PostgresUnavailable(f"postgres did not accept connections within "
                              f"{START_TIMEOUT:.0f} s ({last}; see {log})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # "fast" shutdown
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


@contextmanager
def run_postgres() -> Iterator[LocalPostgres]:
    """A running PostgreSQL on 127.0.0.1 (OS-chosen port); stopped when the block ends."""
    bin_dir = find_bin_dir()
    started = time.monotonic()
    # not under pytest's tmp_path: that is mode 0700 for root, unreadable to postgres
    base = Path(tempfile.mkdtemp(prefix="citycrier-pg-"))
    data, sockets, log = base / "data", base / "sock", base / "postgres.log"
    server = ServerProcess(bin_dir, data, sockets, log)
    try:
        sockets.mkdir()
        log.touch()
        _chown_tree(base)
        init = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            capture_output=True, timeout=120, **_as_user())  # type: ignore[call-overload]
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.decode(errors='replace')}")
        for attempt in range(3):  # the port could be taken between choosing and binding
            try:
                server.start(_free_port())
                break
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        yield LocalPostgres("127.0.0.1", server.port, sockets, time.monotonic() - started,
                            server)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
