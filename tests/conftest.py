"""Fixtures shared by every test module. Server fixtures live beside the tests that use
them (tests/sources/, tests/publish/, tests/web/) or below, clearly marked."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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


class Telegraph:
    """A fourth platform that exists only in tests: what bot/platforms.py's registry entry
    for a new network would hold, and nothing anywhere else (tests/test_config.py and
    tests/web/test_views_draft.py show config and the desk take it as it is)."""

    name, label, limit, unit = "telegraph", "Telegraph", 120, "characters"
    max_images, max_alt_chars = 1, 400
    account_keys = ("relay_url", "token_env")
    account_settings = {"relay_url": (str, ""), "token_env": (str, ""), "max_hops": (int, 3)}
    rules = "Telegraph 120 (a link counts as 10)"
    colour = "#aa5500"
    counter = {"count": "graphemes", "urls": "protocol", "url_weight": 10,
               "mentions": "full", "max_bytes": 0}
    client = ""  # open_client below: nothing to import
    reader = ""
    reads_unasked = True

    def measure(self, text: str, limit: int | None = None) -> Any:
        from bot.platforms import Measurement, count_graphemes

        bound = limit or self.limit
        n = count_graphemes(text)
        return Measurement(self.name, n, bound, self.unit, 0 < n <= bound)

    def fits(self, text: str, reserve: int, limit: int | None = None) -> bool:
        return bool(self.measure(text).length + reserve <= (limit or self.limit))

    def post_url(self, remote_id: str, uri: str) -> str:
        return ""

    def open_client(self, config: Any, account: Any) -> Any:
        raise NotImplementedError("a test platform posts nowhere")

    def reads(self, account: Any) -> bool:
        return False

    def open_reader(self, config: Any, account: Any) -> Any:
        raise NotImplementedError("a test platform reads nothing")


@pytest.fixture
def telegraph(monkeypatch: pytest.MonkeyPatch) -> Telegraph:
    """The registry with the test-only fourth platform in it (after X, Bluesky, Mastodon)."""
    from bot import platforms

    entry = Telegraph()
    monkeypatch.setitem(platforms.REGISTRY, entry.name, entry)
    return entry
