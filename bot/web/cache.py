"""Desk pages kept as drawn until the store changes, so a busy desk draws each page once.

- The store's change token says whether anything was committed since a page was drawn, by
  this process or another: on SQLite, `PRAGMA data_version` on a connection of the token's
  own that never writes (it changes with every commit by any other connection); on
  PostgreSQL, the current snapshot (`pg_current_snapshot()`), which changes whenever any
  transaction commits. It is read before the page's rows, so a page is never kept under a
  token older than what it shows. An in-memory SQLite has no token: nothing is kept.
- A page is kept under (path and query, user, role, token) with the session's CSRF token
  taken out; a hit puts the asking session's own token back. It is served until the token
  changes or the clock reaches the first moment its text depends on ("in 3 hours" turning
  into "in 2 hours", a slot passing), which the page notes while it is drawn (`note_until`).
- Files pages read besides the store (the limits a Mastodon server announced, in the state
  folder) are part of the token: their names, sizes and modification times.
- Only 200 pages are kept, and none that carries a flash message. While one request draws a
  page, the others asking for it wait for that drawing instead of drawing it too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from starlette.responses import Response

from bot.database import sqlite_path
from bot.store import Store

MAX_PAGES = 256  # drawn pages kept at once (all for the current token)
MAX_AGE = timedelta(minutes=10)  # a page that depends on no moment is redrawn this often
UNTIL = "citycrier.page_until"  # the scope key under which a page being drawn notes moments
CSRF_MARK = b"\x00csrf\x00"  # stands for the session's CSRF token in a kept page
DRAW_WAIT = 10.0  # seconds a request waits for another drawing its page, then draws it


class ChangeToken:
    """A value that differs whenever anything was committed to the store since it was read.

    None when the store cannot say (an in-memory SQLite, an unreadable file): keep nothing."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = sqlite_path(store.url) if store.dialect == "sqlite" else ""
        self._conn: sqlite3.Connection | None = None
        self._opened = 0  # a reopened connection counts data_version afresh: keep them apart
        self._lock = threading.Lock()

    def read(self) -> Hashable | None:
        if self.store.dialect == "postgresql":
            with self.store.engine.connect() as conn:
                return str(conn.execute(text("SELECT pg_current_snapshot()::text")).scalar())
        if not self.path:
            return None
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True,
                                                 isolation_level=None, check_same_thread=False)
                    self._opened += 1
                return self._opened, int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self._close()
                return None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


@dataclass(frozen=True)
class Kept:
    body: bytes  # with CSRF_MARK where the session's token was
    until: datetime


def note_until(scope: MutableMapping[str, Any], moment: datetime) -> None:
    """The page being drawn reads otherwise from `moment` on: keep it no longer."""
    until = scope.get(UNTIL)
    if until is not None and moment < until:
        scope[UNTIL] = moment


class PageCache:
    """Drawn pages and small lookups (a user's role and password stamp), for one token."""

    def __init__(self, store: Store, clock: Callable[[], datetime],
                 files: Callable[[], Hashable] = tuple) -> None:
        self.changes = ChangeToken(store)
        self.clock = clock
        self.files = files  # what pages read besides the store (a Mastodon server's limit)
        self._token: Hashable | None = None
        self._pages: dict[Hashable, Kept] = {}
        self._values: dict[Hashable, Any] = {}
        self._drawing: dict[Hashable, threading.Event] = {}  # pages being drawn now
        self._lock = threading.Lock()

    def token(self) -> Hashable | None:
        """The store's change token now; what was kept under another one is dropped."""
        store = self.changes.read()
        token = None if store is None else (store, self.files())
        with self._lock:
            if token != self._token:
                self._pages.clear()
                self._values.clear()
                self._token = token
        return token

    def remember(self, key: Hashable, token: Hashable | None, compute: Callable[[], Any]) -> Any:
        """compute(), once per token (read after `token`, so never older than it)."""
        if token is None:
            return compute()
        with self._lock:
            if (key, token) in self._values:
                return self._values[(key, token)]
        value = compute()
        with self._lock:
            if token == self._token:
                self._values[(key, token)] = value
        return value

    def page(self, scope: MutableMapping[str, Any], key: Hashable, token: Hashable | None,
             csrf: str, draw: Callable[[], Response]) -> Response:
        """The kept page under (key, token), or draw() it and keep it when it may be. While
        one request draws a page, others asking for the same one wait for it rather than
        draw it too (after a change every open queue asks at once)."""
        if token is None or "flash" in scope["session"]:
            return draw()
        now = self.clock()
        with self._lock:
            kept = self._pages.get((key, token))
            if kept is not None and now >= kept.until:
                kept = None  # what it says no longer holds
            flight = self._drawing.get((key, token)) if kept is None else None
            mine = kept is None and flight is None
            if mine:
                flight = self._drawing[(key, token)] = threading.Event()
        if flight is not None and not mine:
            flight.wait(timeout=DRAW_WAIT)
            now = self.clock()
            with self._lock:
                kept = self._pages.get((key, token))
        if kept is not None and now < kept.until:
            return Response(kept.body.replace(CSRF_MARK, csrf.encode()), media_type="text/html",
                            headers={"Cache-Control": "no-store"})
        try:
            return self._draw(scope, key, token, csrf, draw, now)
        finally:
            if mine:
                assert flight is not None
                with self._lock:
                    self._drawing.pop((key, token), None)
                flight.set()

    def _draw(self, scope: MutableMapping[str, Any], key: Hashable, token: Hashable,
              csrf: str, draw: Callable[[], Response], now: datetime) -> Response:
        scope[UNTIL] = now + MAX_AGE
        response = draw()
        until = scope.pop(UNTIL)
        if response.status_code != 200 or response.background is not None or \
                "set-cookie" in response.headers or not csrf:
            return response
        body = bytes(response.body).replace(csrf.encode(), CSRF_MARK)
        with self._lock:
            if token == self._token:
                if len(self._pages) >= MAX_PAGES:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[(key, token)] = Kept(body, until)
        return response

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._values.clear()

    def close(self) -> None:
        self.changes.close()
