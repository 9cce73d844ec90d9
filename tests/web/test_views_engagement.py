"""Engagement on the desk: a published draft's numbers per platform and post with a chart
over time, residents' replies read-only with a link, and the published tab by engagement."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.engagement import Counts, Reading, Reply
from bot.engagement.store import EngagementStore
from bot.store import Store

from .conftest import T0, Statements, make_draft


def publish(store: Store, draft_id: int, platform: str = "bluesky") -> None:
    """Mark a draft as published on `platform` with two posts, as the publisher would."""
    assert store.transition(draft_id, "approve", "ada").state == "approved"
    assert store.claim_due(T0 + timedelta(hours=4), "test:1", draft_ids=[draft_id])
    for i in range(2):
        store.record_intent(draft_id, platform, "hall", i, f"3k{i}")
        store.confirm_receipt(draft_id, platform, i, f"3k{i}",
                              uri=f"at://did:plc:hall/app.bsky.feed.post/3k{i}",
                              posted_at=T0 + timedelta(hours=3))
    store.transition(draft_id, "published", "test:1")


def read(store: Store, draft_id: int, likes: list[int], at: timedelta) -> None:
    EngagementStore(store).add_readings([
        Reading(draft_id, "bluesky", "hall", i, f"3k{i}", int(at.total_seconds()),
                T0 + timedelta(hours=3) + at, Counts(n, 1, i, 0))
        for i, n in enumerate(likes)])


def test_a_published_drafts_page_shows_its_numbers_chart_and_replies(
        store: Store, draft_id: int, signed_in: Any) -> None:
    publish(store, draft_id)
    read(store, draft_id, [2, 0], timedelta(hours=1))
    read(store, draft_id, [9, 1], timedelta(hours=24))
    EngagementStore(store).add_replies(draft_id, "bluesky", [Reply(
        0, "at://did:plc:r/app.bsky.feed.post/77", "resident.test",
        "When does <b>pickup</b> start?", "https://bsky.app/profile/resident.test/post/77",
        T0 + timedelta(hours=5))], T0 + timedelta(hours=6), T0)
    page = signed_in("vic").get(f"/drafts/{draft_id}")
    assert page.status_code == 200
    html = page.text
    row = re.search(r'<tr id="numbers-bluesky-1">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="(\w+)">(\d+)</td>', row.group(1))
    assert cells == [("likes", "9"), ("reposts", "1"), ("replies", "0"), ("quotes", "0")]
    assert 'aria-label="Likes, reposts, replies and quotes of post 1 on Bluesky over time: ' \
           '3, then 10."' in row.group(1)
    assert '<polyline points="4.0,23.6 156.0,4.0"' in row.group(1)
    assert "<strong>@resident.test</strong>" in html
    assert "When does &lt;b&gt;pickup&lt;/b&gt; start?" in html  # escaped, never markup
    assert ('<a href="https://bsky.app/profile/resident.test/post/77" rel="noopener '
            'noreferrer" target="_blank">answer on Bluesky</a>') in html
    assert "Replies are shown for 30 days, then deleted." in html
    assert "<form" not in html.split('id="engagement"')[1].split("</section>")[0]  # read-only


def test_a_draft_not_published_has_no_numbers(store: Store, draft_id: int,
                                              signed_in: Any) -> None:
    assert 'id="engagement"' not in signed_in("vic").get(f"/drafts/{draft_id}").text


def test_the_published_tab_ranks_drafts_by_engagement(store: Store, signed_in: Any) -> None:
    quiet = make_draft(store, title="Quiet thread", period="p1")
    loud = make_draft(store, title="Loud thread", period="p2")
    unread = make_draft(store, title="Unread thread", period="p3")
    for d in (quiet, loud, unread):
        publish(store, d)
    read(store, quiet, [1, 0], timedelta(hours=1))
    read(store, loud, [1, 0], timedelta(hours=1))
    read(store, loud, [20, 5], timedelta(hours=24))  # the latest reading counts
    html = signed_in("vic").get("/queue?state=published").text
    order = re.findall(r'<tr id="draft-(\d+)">', html)
    assert order == [str(loud), str(quiet), str(unread)]
    scores = re.findall(r'<td class="engagement">(\d+) ', html)
    assert scores == ["28", "4", "0"]  # 25 likes, 2 reposts, 1 reply; 1 like, 2 reposts, 1 reply
    assert "Most engaged first" in html


def test_a_published_page_costs_the_same_statements_however_many_readings(
        store: Store, signed_in: Any) -> None:
    """The numbers add three statements to a published draft's page (its posts, readings and
    replies), whether it has 2 readings or 200."""
    few, many = make_draft(store, period="few"), make_draft(store, period="many")
    for d in (few, many):
        publish(store, d)
    read(store, few, [1, 0], timedelta(hours=1))
    for n in range(100):
        read(store, many, [n, n], timedelta(hours=1 + n))
    client = signed_in("vic")
    client.get(f"/drafts/{few}")
    with Statements(store) as small:
        assert client.get(f"/drafts/{few}").status_code == 200
    with Statements(store) as large:
        html = client.get(f"/drafts/{many}").text
    assert len(small.seen) == len(large.seen), (small.seen, large.seen)
    assert html.count('<td class="likes">99</td>') == 2


def test_a_kept_draft_page_shows_the_numbers_of_a_new_reading(store: Store, draft_id: int,
                                                              signed_in: Any) -> None:
    """Desk pages are kept until the store changes: a reading written (here, as the
    read-back would) makes the next view draw the new numbers."""
    publish(store, draft_id)
    read(store, draft_id, [2, 0], timedelta(hours=1))
    client = signed_in("vic")
    first = client.get(f"/drafts/{draft_id}").text
    assert client.get(f"/drafts/{draft_id}").text == first  # kept (or drawn the same)
    assert '<td class="likes">2</td>' in first
    read(store, draft_id, [7, 0], timedelta(hours=24))
    assert '<td class="likes">7</td>' in client.get(f"/drafts/{draft_id}").text


def test_a_hostile_reply_is_text_and_its_javascript_link_is_dropped(
        store: Store, draft_id: int, signed_in: Any) -> None:
    publish(store, draft_id)
    read(store, draft_id, [1, 0], timedelta(hours=1))
    EngagementStore(store).add_replies(draft_id, "bluesky", [Reply(
        0, "at://did:plc:r/app.bsky.feed.post/66", 'x"><script>alert(1)</script>',
        "<script>alert(2)</script><img src=x onerror=alert(3)>", "javascript:alert(4)",
        T0 + timedelta(hours=5))], T0 + timedelta(hours=6), T0)
    html = signed_in("vic").get(f"/drafts/{draft_id}").text
    section = html.split('id="engagement"')[1].split("</section>")[0]
    assert "<strong>@x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</strong>" in section
    assert "<p>&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x onerror=alert(3)&gt;</p>" \
        in section
    assert "<script" not in section and "javascript:" not in section
    assert "answer on Bluesky" not in section  # no link rather than a javascript: one
