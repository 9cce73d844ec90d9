"""Fixtures shared by every test module. Server fixtures live beside the tests that use
them (tests/sources/, tests/publish/, tests/web/) or below, clearly marked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"  # real data and specs, never copied into the repo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED} is absent: the real data and specs live beside "
                                   f"the project in ../shared (CI always has them)")
    for item in items:
        if "realdata" in item.keywords or "spec" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    """A loopback HTTP server that records JSON POSTs; its URL is in $CITYCRIER_WEBHOOK."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            size = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(size)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CITYCRIER_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic sample, generated once per test session."""
    from bot.sample import write_sample

    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder)
    return folder


@pytest.fixture
def project(tmp_path: Path, sample_dir: Path) -> Path:
    """A fresh copy of the project's config.toml, posts/ and templates/ in a temp folder,
    with the sample already generated (so tests do not regenerate it)."""
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "posts", tmp_path / "posts")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(sample_dir, tmp_path / "state" / "sample")
    return tmp_path


# ---- PostgreSQL (issue 6: scheduler and operations) --------------------------------------
# A real PostgreSQL (Debian's package, tests/servers/postgres.py) on 127.0.0.1: one server
# per test session, started on first use; one fresh, empty database per test. Tests that use
# it carry the `postgres` marker.


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    from tests.servers.postgres import PostgresUnavailable, run_postgres

    try:
        with run_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(f"the local PostgreSQL could not start: {exc}", pytrace=False)


@pytest.fixture
def postgres_url(postgres_server, request: pytest.FixtureRequest) -> str:  # type: ignore[no-untyped-def]
    """The URL of a new, empty database on the session's PostgreSQL."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return str(postgres_server.create_database(f"{name}_{uuid.uuid4().hex[:8]}"))
# ---- end PostgreSQL ------------------------------------------------------------------------
