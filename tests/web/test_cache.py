"""Kept desk pages (bot/web/cache.py): drawn once per store change and person, and never
stale: a change made through the desk, through another connection or by another process
shows on the very next page; so does the clock passing what a page says."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from bot.review import approve_draft
from bot.settings import Config
from bot.store import Store
from bot.web.cache import ChangeToken

from .conftest import ROOT, FakeClock, Statements, csrf_of, make_draft, sign_in


def _row(html: str, draft_id: int) -> str:
    start = html.index(f'<tr id="draft-{draft_id}">')
    return html[start:html.index("</tr>", start)]


def _kept(store: Store, client: Any, path: str) -> str:
    """The page, asserting it came kept (no SQL statement sent for it)."""
    with Statements(store) as seen:
        page = client.get(path)
    assert page.status_code == 200 and seen.seen == [], seen.seen
    return str(page.text)


def test_a_kept_queue_shows_an_approval_through_the_desk_at_once(
        app: Any, store: Store, clock: FakeClock) -> None:
    draft_id = make_draft(store)
    clock.advance(seconds=30)  # "in 2 hours" holds until the next whole minute to the slot
    ada = sign_in(app, "ada")
    first = ada.get("/queue?state=all").text
    assert "Waiting for review</span>" in _row(first, draft_id)
    assert _kept(store, ada, "/queue?state=all") == first
    page = ada.get(f"/drafts/{draft_id}").text
    assert _kept(store, ada, f"/drafts/{draft_id}") == page
    done = ada.post(f"/drafts/{draft_id}/approve",
                    data={"csrf": csrf_of(page), "revision": "1"}, follow_redirects=False)
    assert done.status_code == 303
    after = ada.get(f"/drafts/{draft_id}").text  # with the flash: drawn, not kept
    assert "Approved. It will be posted" in after and "Approve for posting" not in after
    again = ada.get(f"/drafts/{draft_id}").text
    assert "Approved. It will be posted" not in again and "Approve for posting" not in again
    assert '<span class="badge approved">Approved</span>' in _row(
        ada.get("/queue?state=all").text, draft_id)


def test_a_change_through_another_connection_shows_at_once(
        app: Any, store: Store, config: Config, clock: FakeClock) -> None:
    draft_id = make_draft(store)
    clock.advance(seconds=30)
    vic = sign_in(app, "vic")
    vic.get("/queue?state=all")
    assert "Waiting for review</span>" in _row(_kept(store, vic, "/queue?state=all"), draft_id)
    other = Store(config.storage_url, clock=clock)  # its own engine and connections
    try:
        approve_draft(other, config, draft_id, "bea", expect_revision=1)
        assert "Approved</span>" in _row(vic.get("/queue?state=all").text, draft_id)
        other.set_error(draft_id, "Bluesky said: rate limit")  # no audit row: still seen
        assert "Bluesky said: rate limit" in _row(vic.get("/queue?state=all").text, draft_id)
    finally:
        other.close()


def test_a_change_by_another_process_shows_at_once(
        app: Any, store: Store, config: Config, clock: FakeClock) -> None:
    draft_id = make_draft(store)
    clock.advance(seconds=30)
    ada = sign_in(app, "ada")
    page = ada.get(f"/drafts/{draft_id}").text
    assert _kept(store, ada, f"/drafts/{draft_id}") == page and "Approve for posting" in page
    code = ("import sys; from bot.store import Store; s = Store(sys.argv[1]); "
            "s.transition(int(sys.argv[2]), 'reject', 'bea', 'wrong week'); s.close()")
    subprocess.run([sys.executable, "-c", code, config.storage_url, str(draft_id)],
                   check=True, cwd=ROOT, timeout=60)
    after = ada.get(f"/drafts/{draft_id}").text
    assert '<span class="badge rejected">Rejected</span>' in after
    assert "wrong week" in after and "Approve for posting" not in after


def test_a_kept_page_is_drawn_again_when_its_words_about_time_change(
        app: Any, store: Store, clock: FakeClock) -> None:
    draft_id = make_draft(store)  # its slot: 3 hours after T0
    clock.advance(seconds=30)
    ada = sign_in(app, "ada")
    ada.get(f"/drafts/{draft_id}")
    clock.advance(seconds=29)  # 2 h 59 min 1 s before the slot: the same words
    _kept(store, ada, f"/drafts/{draft_id}")
    clock.advance(seconds=2)  # past the whole minute: drawn again
    with Statements(store) as seen:
        ada.get(f"/drafts/{draft_id}")
    assert seen.seen
    clock.advance(hours=3)  # the slot passed: the page says so, kept or not
    page = ada.get(f"/drafts/{draft_id}").text
    assert "Its posting time has passed without an approval" in page
    assert "30 seconds" not in page and "(1 minute ago)" in page


def test_each_session_gets_its_own_csrf_token_and_each_role_its_own_page(
        app: Any, store: Store, clock: FakeClock) -> None:
    draft_id = make_draft(store)
    clock.advance(seconds=30)
    phone, laptop, vic = sign_in(app, "ada"), sign_in(app, "ada"), sign_in(app, "vic")
    first = phone.get(f"/drafts/{draft_id}").text
    kept = _kept(store, laptop, f"/drafts/{draft_id}")
    assert csrf_of(kept) != csrf_of(first)
    assert kept.replace(csrf_of(kept), "TOKEN") == first.replace(csrf_of(first), "TOKEN")
    viewer = vic.get(f"/drafts/{draft_id}").text
    assert "Approve for posting" in first and "Approve for posting" not in viewer
    assert "Signed in as <strong>vic</strong>" in viewer
    done = laptop.post(f"/drafts/{draft_id}/approve",
                       data={"csrf": csrf_of(kept), "revision": "1"}, follow_redirects=False)
    assert done.status_code == 303


def test_the_change_token_moves_with_every_commit_and_only_then(
        store: Store, config: Config) -> None:
    token = ChangeToken(store)
    before = token.read()
    assert before is not None and token.read() == before
    other = Store(config.storage_url)
    try:
        other.add_audit(None, "test", "note", "a commit by another connection")
    finally:
        other.close()
    moved = token.read()
    assert moved != before and token.read() == moved
    store.add_audit(None, "test", "note", "a commit by the desk's own store")
    assert token.read() != moved
    token.close()
    assert ChangeToken(Store("sqlite:///:memory:")).read() is None  # nothing to watch


@pytest.mark.postgres
def test_the_change_token_on_postgresql(postgres_url: str) -> None:
    store, other = Store(postgres_url), Store(postgres_url)
    try:
        token = ChangeToken(store)
        before = token.read()
        assert before is not None and token.read() == before
        other.add_audit(None, "test", "note", "a commit by another connection")
        assert token.read() != before
    finally:
        store.close()
        other.close()



def test_a_saved_server_limit_moves_the_token(store: Store, config: Config,
                                               clock: FakeClock) -> None:
    """A draft page measures Mastodon posts against the limit the server announced, kept in
    the state folder: saving a new one has kept pages drawn again."""
    from bot.platforms import limits_stamp, save_limits
    from bot.web.cache import PageCache

    pages = PageCache(store, clock, lambda: limits_stamp(config.state_dir))
    before = pages.token()
    assert before is not None and pages.token() == before
    save_limits(config.state_dir, "city", {"max_characters": 1000})
    moved = pages.token()
    assert moved != before and pages.token() == moved
    save_limits(config.state_dir, "city", {"max_characters": 50000})
    assert pages.token() != moved
    pages.close()


def test_requests_for_a_page_being_drawn_wait_for_that_drawing(
        store: Store, clock: FakeClock) -> None:
    """After a change every open queue asks at once: one request draws, the others wait and
    are served what it drew, each with its own CSRF token."""
    import threading
    import time

    from starlette.middleware.sessions import Session
    from starlette.responses import HTMLResponse

    from bot.web.cache import PageCache

    pages = PageCache(store, clock)
    token = pages.token()
    drawn: list[int] = []
    start = threading.Barrier(5)
    bodies: dict[str, bytes] = {}

    def draw(csrf: str) -> HTMLResponse:
        drawn.append(1)
        time.sleep(0.3)  # long enough for the other four to arrive meanwhile
        return HTMLResponse(f'<input name="csrf" value="{csrf}">')

    def ask(csrf: str) -> None:
        start.wait(timeout=10)
        scope: dict[str, Any] = {"session": Session()}
        bodies[csrf] = bytes(pages.page(scope, ("/queue", ""), token, csrf,
                                        lambda: draw(csrf)).body)

    threads = [threading.Thread(target=ask, args=(f"token-{n}",)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(drawn) == 1
    assert bodies == {f"token-{n}": f'<input name="csrf" value="token-{n}">'.encode()
                      for n in range(5)}
    pages.close()
