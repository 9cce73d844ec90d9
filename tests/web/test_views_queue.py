"""The queue: drafts waiting for review, nearest slot first, filtered by state, in pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.store import Store

from .conftest import T0, FakeClock, Statements, add_history, make_draft, sign_in


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="draft-(\d+)">', html)]


def test_the_queue_lists_waiting_drafts_nearest_slot_first(app: Any, store: Store) -> None:
    late = make_draft(store, period="p-late", slot_at=T0 + timedelta(days=2))
    soon = make_draft(store, period="p-soon", slot_at=T0 + timedelta(hours=1),
                      reasons=("post 2 (x) reads at grade 11, above this recipe's limit of 9",))
    done = make_draft(store, period="p-done", state="approved")
    client = sign_in(app, "vic")
    assert client.get("/").headers["location"] == "/queue"
    html = client.get("/queue").text
    assert _ids(html) == [soon, late]
    assert "Mon, Nov 2, 10:00 AM CST<div class=\"sub\">in 1 hour</div>" in html
    assert "post 2 (x) reads at grade 11, above this recipe&#39;s limit of 9" in html
    assert "No concerns" in html
    assert 'aria-current="page">Waiting for review<span class="count">2</span>' in html
    assert _ids(client.get("/queue?state=approved").text) == [done]
    assert _ids(client.get("/queue?state=all").text) == [soon, done, late]
    assert _ids(client.get("/queue?state=bogus").text) == [soon, late]


def test_an_empty_queue_says_so(app: Any) -> None:
    html = sign_in(app, "vic").get("/queue").text
    assert "Nothing is waiting for review." in html


def test_a_long_queue_comes_in_pages_of_50(app: Any, store: Store) -> None:
    ids = [make_draft(store, period=f"p{i:03d}", slot_at=T0 + timedelta(minutes=i + 1))
           for i in range(51)]
    client = sign_in(app, "vic")
    first = client.get("/queue").text
    assert _ids(first) == ids[:50]
    assert "1–50 of 51" in first
    second = client.get("/queue?page=2").text
    assert _ids(second) == ids[50:]
    assert "51–51 of 51" in second
    assert _ids(client.get("/queue?page=x").text) == ids[:50]


def test_the_queue_page_costs_the_same_statements_however_many_drafts(
        app: Any, store: Store, clock: FakeClock) -> None:
    """SQL statements for a queue page (before_cursor_execute): one grouped count for the
    badges and one query for the page, whether the store holds 3 drafts or 120 with long
    histories; the second page costs the same. Each is drawn afresh (nothing kept:
    bot.web.cache); a page kept since costs none."""
    for i in range(3):
        make_draft(store, period=f"a{i}", slot_at=T0 + timedelta(minutes=i + 1))
    client = sign_in(app, "vic")
    client.get("/queue")
    app.state.desk.pages.clear()
    with Statements(store) as few:
        client.get("/queue")
    ids = [make_draft(store, period=f"b{i:03d}", slot_at=T0 + timedelta(hours=1, minutes=i))
           for i in range(117)]
    add_history(store, ids[0], revisions=5, audit_rows=30)
    with Statements(store) as many:
        first = client.get("/queue").text
    app.state.desk.pages.clear()
    with Statements(store) as later:
        third = client.get("/queue?page=3").text
    assert len(_ids(first)) == 50 and _ids(third) == ids[97:]
    assert len(few.seen) == len(many.seen) == len(later.seen), (few.seen, many.seen)
    drafts_reads = [q for q in many.seen if "FROM drafts" in q]
    assert len(drafts_reads) == 2, many.seen  # the grouped count and the page
    clock.advance(seconds=30)  # off the whole minute to each slot: each "in N" holds 30 s
    assert _ids(client.get("/queue?page=3").text) == ids[97:]
    with Statements(store) as kept:
        assert _ids(client.get("/queue?page=3").text) == ids[97:]
    assert kept.seen == [], kept.seen


def test_the_pager_links_earlier_and_later_pages(app: Any, store: Store) -> None:
    ids = [make_draft(store, period=f"p{i:03d}", slot_at=T0 + timedelta(minutes=i + 1))
           for i in range(120)]
    client = sign_in(app, "vic")
    first = client.get("/queue").text
    assert 'href="/queue?state=pending_review&amp;page=2">Later' in first
    assert "Earlier" not in first
    middle = client.get("/queue?state=pending_review&page=2").text
    assert _ids(middle) == ids[50:100] and "51–100 of 120" in middle
    assert 'href="/queue?state=pending_review&amp;page=1">&larr; Earlier' in middle
    assert 'href="/queue?state=pending_review&amp;page=3">Later' in middle
    last = client.get("/queue?page=3").text
    assert _ids(last) == ids[100:] and "101–120 of 120" in last and "Later" not in last
    assert _ids(client.get("/queue?page=9").text) == []
    assert _ids(client.get("/queue?state=all&page=2").text) == ids[50:100]
