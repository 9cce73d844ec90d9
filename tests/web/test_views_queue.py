"""The queue: drafts waiting for review, nearest slot first, filtered by state, in pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.store import Store

from .conftest import T0, make_draft, sign_in


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
