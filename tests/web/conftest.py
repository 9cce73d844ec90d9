"""Fixtures for the approval desk: a store on a fake clock, people with roles, drafts made
from fixed inputs, the app, and signed-in test clients."""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 and warns when it finds httpx
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from bot.config import load_config
from bot.people import add_user
from bot.settings import ApprovalConfig, Config
from bot.store import PENDING, NewDraft, Post, Store, StoredChart

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
SECRET = "test-secret-key-for-the-desk-0123456789"
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 9:00 AM in Chicago


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def tiny_png() -> bytes:
    """A valid 1x1 white PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


TEXTS = ("Baltimore's 311 line took 139 requests last weekend.",
         "The most common request was for rat extermination visits: 24 of them.")


def make_draft(store: Store, *, title: str = "Baltimore 311: the weekend in requests",
               period: str = "2026-10-31-weekend", slot_at: datetime | None = None,
               state: str = PENDING, texts: tuple[str, ...] = TEXTS,
               label: str = "rat extermination visits", reasons: tuple[str, ...] = (),
               source: dict[str, Any] | None = None, period_label: str = "last weekend",
               alt: str = "Bar chart. Rat extermination visits led with 24.",
               platforms: tuple[str, ...] = ("bluesky", "x")) -> int:
    """Store a two-post draft for X and Bluesky (or `platforms`) with one chart on post 2;
    return its id."""
    thread = {p: (Post(texts[0]), Post(texts[1], ("top_requests",))) for p in platforms}
    draft_id, created = store.create_draft(NewDraft(
        recipe="baltimore_311_weekend", title=title, period_key=period,
        period_label=period_label, as_of=T0, slot_at=slot_at or T0 + timedelta(hours=3),
        approval="required", state=state, platforms=platforms, data_hash=period,
        thread=thread, reasons=reasons, figures={"total": 139, "top": label},
        source=source if source is not None else {
            "portal": "sample", "label": "Open Baltimore", "kind": "arcgis",
            "dataset": "311_Customer_Service_Requests", "as_of": "2026-11-02",
            "link": "https://data.baltimorecity.gov/search?q=311", "synthetic": False,
            "queries": ["SRType, count(*) GROUP BY SRType"], "last_updated": None},
        charts=(StoredChart("top_requests", "bar", f"Most common: {label}", tiny_png(), alt,
                            1, 1),)), actor="citycrier")
    assert created
    return draft_id


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its cheapest settings: the same code path, a thousandth of the time
    (tests/test_people.py checks the real settings)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("bot.people._hasher", lambda: PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The project's config.toml, with its database, state and outbox in a temp folder."""
    base = load_config(ROOT / "config.toml")
    return dataclasses.replace(base, storage_url=f"sqlite:///{tmp_path / 'desk.db'}",
                               state_dir=tmp_path / "state", outbox_dir=tmp_path / "outbox",
                               accounts={})


@pytest.fixture
def store(config: Config, clock: FakeClock) -> Iterator[Store]:
    s = Store(config.storage_url, clock=clock)
    for name, role in (("ada", "approver"), ("bea", "approver"), ("eddie", "editor"),
                       ("vic", "viewer")):
        add_user(s, name, role, PASSWORD, actor="test")
    yield s
    s.close()


@pytest.fixture
def draft_id(store: Store) -> int:
    return make_draft(store)


AppFactory = Callable[..., Any]


@pytest.fixture
def make_app(config: Config, store: Store, clock: FakeClock) -> AppFactory:
    from bot.web import create_app

    def build(**changes: Any) -> Any:
        cfg = config
        if "two_person" in changes:
            cfg = dataclasses.replace(cfg, approval=ApprovalConfig(
                two_person=changes.pop("two_person")))
        if "notify" in changes:
            cfg = dataclasses.replace(cfg, notify=changes.pop("notify"))
        changes.setdefault("sweep_seconds", 0)
        return create_app(cfg, store=store, clock=clock, secret=SECRET, **changes)

    return build


@pytest.fixture
def app(make_app: AppFactory) -> Any:
    return make_app()


class Statements:
    """Counts the SQL statements the store's engine sends while the block runs (SQLAlchemy's
    before_cursor_execute), with their text for the failure message."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.seen: list[str] = []

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        from sqlalchemy import event

        self.seen = []
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)


def add_history(store: Store, draft_id: int, revisions: int, audit_rows: int) -> None:
    """Give a draft `revisions` more wordings (edits) and `audit_rows` more audit rows."""
    for i in range(revisions):
        thread = {p: (Post(f"{TEXTS[0]} (edit {i + 1})"), Post(TEXTS[1], ("top_requests",)))
                  for p in ("x", "bluesky")}
        store.transition(draft_id, "edit", "eddie", f"edit {i + 1}", thread=thread)
    for i in range(audit_rows):
        store.add_audit(draft_id, "citycrier", "note", f"note {i + 1}")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(app: Any, name: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": password,
                                    "csrf": csrf_of(page.text), "next": "/queue"})
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def signed_in(app: Any) -> Callable[[str], TestClient]:
    return lambda name: sign_in(app, name)


def post_form(client: TestClient, path: str, data: dict[str, str],
              page: str | None = None) -> Any:
    """POST a form with the CSRF token taken from `page` (default: the path's draft page)."""
    source = page or re.sub(r"/(approve|reject|reschedule|edit)$", "", path)
    token = csrf_of(client.get(source).text)
    return client.post(path, data={"csrf": token, **data})


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        server: Any = self.server
        server.texts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))[
            "text"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A loopback HTTP server taking webhook notices; CITYCRIER_TEST_HOOK points at it."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.texts = []
    monkeypatch.setenv("CITYCRIER_TEST_HOOK", f"http://127.0.0.1:{server.server_address[1]}/")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
