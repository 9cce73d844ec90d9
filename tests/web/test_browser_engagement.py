"""The engagement numbers on the desk in a real browser (Chromium via Playwright, against
`citycrier serve` as a real process): the published tab and a published draft's page.

The served desk is test_browser's `desk` fixture; this test publishes one of its drafts
in the same database and stores readings and a reply, as the read-back would."""
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import PASSWORD
from .test_browser import ARTIFACTS, chromium_page, desk  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


def _published(project: Any, draft_id: int) -> None:
    from bot.config import load_config
    from bot.engagement import Counts, Reading, Reply
    from bot.engagement.store import EngagementStore
    from bot.store import Store

    store = Store(load_config(project / "config.toml").storage_url)
    draft = store.get_draft(draft_id)
    posted = datetime.now(UTC) - timedelta(days=2)
    store.transition(draft_id, "approve", "dana")
    assert store.claim_due(max(draft.slot_at, posted), "test:1", draft_ids=[draft_id])
    for i in range(2):
        store.record_intent(draft_id, "bluesky", "hall", i, f"3k{i}")
        store.confirm_receipt(draft_id, "bluesky", i, f"3k{i}",
                              uri=f"at://did:plc:hall/app.bsky.feed.post/3k{i}",
                              posted_at=posted)
    store.transition(draft_id, "published", "test:1")
    marks = EngagementStore(store)
    marks.add_readings([Reading(draft_id, "bluesky", "hall", i, f"3k{i}", point,
                                posted + timedelta(seconds=point), Counts(likes, i, 1 - i, 0))
                        for point, likes in ((3600, 3), (86400, 12)) for i in range(2)])
    marks.add_replies(draft_id, "bluesky", [Reply(
        0, "at://did:plc:r/app.bsky.feed.post/77", "resident.test",
        "Is the rat program citywide?", "https://bsky.app/profile/resident.test/post/77",
        posted + timedelta(hours=2))], posted + timedelta(hours=3), posted)
    store.close()


def test_the_desk_shows_a_published_threads_numbers_in_a_real_browser(
        desk: dict[str, Any], project: Any) -> None:
    from playwright.sync_api import expect

    url, (draft_id, _) = desk["url"], desk["ids"]
    _published(project, draft_id)
    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, problems):
        page.goto(url + "/login")
        page.fill("#name", "dana")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(url + "/queue?state=published")
        expect(page.locator("h1")).to_have_text("Drafts: published")
        expect(page.locator(f"#draft-{draft_id} td.engagement")).to_have_text(
            "26 likes, reposts, replies, quotes")  # 12 + 1 reply, 12 + 1 repost
        page.locator(f"#draft-{draft_id} a").first.click()
        expect(page.locator("#engagement-title")).to_have_text("How residents responded")
        first = page.locator("#numbers-bluesky-1")
        expect(first.locator("td.likes")).to_have_text("12")
        expect(first.locator("td.replies")).to_have_text("1")
        expect(page.locator("#numbers-bluesky-2 td.reposts")).to_have_text("1")
        chart = first.locator("svg.spark")
        expect(chart).to_be_visible()
        assert chart.get_attribute("aria-label") == (
            "Likes, reposts, replies and quotes of post 1 on Bluesky over time: 4, then 13.")
        box = chart.bounding_box()
        assert box is not None and box["width"] == 160 and box["height"] == 36
        reply = page.get_by_role("list", name="Replies to post 1 on Bluesky")
        expect(reply).to_contain_text("@resident.test")
        expect(reply).to_contain_text("Is the rat program citywide?")
        expect(reply.get_by_role("link", name="answer on Bluesky")).to_have_attribute(
            "href", "https://bsky.app/profile/resident.test/post/77")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "desk-engagement.png"), full_page=True)
        assert [m for m in problems if not re.search(r"favicon", m)] == []
