"""The desk in a real browser: Debian's Chromium, driven headless by Playwright, against
`citycrier serve` running as a real process on 127.0.0.1 on a port the OS picked.

Saves a screenshot of the draft page to test-artifacts/desk-draft.png (git-ignored)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import PASSWORD, SECRET

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOO_LONG = ("Baltimore's 311 line took 139 requests last weekend, Oct. 31–Nov. 1. That is down "
            "12% from the weekend before. Most were about rats, trash and alleys, and every one "
            "of them was logged by a city worker who answered the phone, wrote it down and sent "
            "it on to the right team the same day.")
MORE = 59  # drafts beyond the two real ones: 61 waiting, a second page of the queue
FIXED = "Baltimore's 311 line took 139 requests last weekend. That is 12% fewer than the " \
        "weekend before."


@contextmanager
def chromium_page(**page_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page in Debian's Chromium (headless, loopback only), and the console errors it logs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.set_default_timeout(20_000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            yield page, problems
        finally:
            browser.close()


@pytest.fixture
def desk(project: Path) -> Iterator[dict[str, Any]]:
    """Two real drafts waiting and 59 more after them, one approver, and `citycrier serve
    --port 0` running."""
    from bot.config import load_config, load_recipe
    from bot.drafting import draft_recipe
    from bot.people import add_user
    from bot.sample import SAMPLE_AS_OF
    from bot.store import NewDraft, Post, Store

    config = load_config(project / "config.toml")
    store = Store(config.storage_url)
    as_of = datetime.combine(SAMPLE_AS_OF, time(6), ZoneInfo(config.timezone))
    ids = [draft_recipe(config, load_recipe(config, name), store, as_of).draft_id
           for name in ("baltimore_311_weekend", "housing_recovery_progress")]
    assert [store.get_draft(i).state for i in ids] == ["pending_review", "pending_review"]
    last = max(store.get_draft(i).slot_at for i in ids)
    for n in range(1, MORE + 1):  # later drafts, so the queue has a second page
        store.create_draft(NewDraft(
            recipe="baltimore_311_weekend", title=f"Later draft {n}", period_key=f"more-{n}",
            period_label=f"more {n}", as_of=last, slot_at=last + timedelta(hours=n),
            approval="required", state="pending_review", platforms=("x",),
            data_hash=f"more-{n}", thread={"x": (Post(f"Later post {n}."),)}))
    add_user(store, "dana", "approver", PASSWORD)
    store.close()
    citycrier = Path(sys.executable).parent / "citycrier"
    log = (project / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(citycrier), "serve", "--config", str(project / "config.toml"), "--port", "0"],
        cwd=project, stdout=subprocess.PIPE, stderr=log, text=True,
        env={**os.environ, "CITYCRIER_SECRET_KEY": SECRET})
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout],  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    try:
        try:
            first = lines.get(timeout=30)
        except queue.Empty:
            pytest.fail("citycrier serve did not start within 30 s: "
                        + (project / "serve.log").read_text())
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert found, first
        yield {"url": found.group(0).rstrip("/"), "ids": ids, "log": project / "serve.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        reader.join(timeout=15)
        proc.stdout.close()  # type: ignore[union-attr]
        log.close()


def test_sign_in_review_edit_and_approve_in_a_real_browser(desk: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    url, (draft_id, other_id) = desk["url"], desk["ids"]
    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, problems):

        page.goto(url + "/")
        expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
        page.fill("#name", "dana")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text("Drafts waiting for review")
        expect(page.locator(f"#draft-{draft_id}")).to_be_visible()

        page.locator(f"#draft-{draft_id} a").click()
        expect(page.locator("h1")).to_have_text("Baltimore 311: the weekend in requests")
        # three cards per post, side by side: X, Bluesky, Mastodon
        for card in ("x", "bluesky", "mastodon"):
            expect(page.locator(f"article.post.{card}")).to_have_count(4)
        rows = page.locator(".post-row")
        expect(rows).to_have_count(4)
        for n in range(4):
            expect(rows.nth(n).locator("article.post")).to_have_count(3)
            tops = {round(b["y"]) for b in rows.nth(n).locator("article.post").evaluate_all(
                "cards => cards.map(c => c.getBoundingClientRect().toJSON())")}
            assert len(tops) == 1, tops  # one row: the cards stand beside each other
        expect(page.locator(".thread-head .platform")).to_have_text([
            re.compile("^XOn X"), re.compile("^BOn Bluesky"),
            re.compile("^MOn Mastodon")])
        expect(page.locator("article.post.x .length").first).to_contain_text(
            "110 / 280 characters")
        expect(page.locator("article.post.bluesky .length").first).to_contain_text(
            "110 / 300 characters")
        # Mastodon's card measures against the instance's limit (500: none read yet)
        expect(page.locator("article.post.mastodon .length").first).to_contain_text(
            "110 / 500 characters")
        chart = page.locator("article.post.x img").first
        expect(chart).to_be_visible()
        assert chart.evaluate("img => img.complete && img.naturalWidth > 600")
        assert chart.get_attribute("alt", timeout=5_000).startswith("Bar chart.")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "desk-draft.png"), full_page=True)

        page.get_by_role("button", name="Edit wording or alt text").click()
        page.fill("#text-x-0", TOO_LONG)
        expect(page.locator("#text-x-0-count")).to_have_text(
            "285 / 280 characters · too long")  # the live counter
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#edit-error")).to_have_text(
            "Post 1 is too long for X: 285 characters, and the limit is 280. Shorten it "
            "and save again. Nothing was saved.")
        expect(page.locator("#text-x-0")).to_have_value(TOO_LONG)
        page.fill("#text-mastodon-0", TOO_LONG)
        expect(page.locator("#text-mastodon-0-count")).to_have_text(
            "285 / 500 characters")  # the same text fits Mastodon
        page.fill("#text-mastodon-0", TOO_LONG + " @cityhall@city.social " + "x" * 200)
        expect(page.locator("#text-mastodon-0-count")).to_have_text(
            "496 / 500 characters")  # the mention counts as @cityhall (9)
        page.fill("#text-mastodon-0", FIXED)
        page.fill("#text-x-0", FIXED)
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".flash")).to_have_text("Saved as revision 2.")
        expect(page.locator("article.post.x .text").first).to_have_text(FIXED)

        page.get_by_role("button", name="Approve for posting").click()
        expect(page.locator(".flash")).to_contain_text("Approved. It will be posted")
        expect(page.locator(".badge").first).to_have_text("Approved")

        page.get_by_role("link", name="Back to the queue").click()
        expect(page.locator(f"#draft-{other_id}")).to_be_visible()
        expect(page.locator(f"#draft-{draft_id}")).to_have_count(0)
        expect(page.locator("table.queue tbody tr")).to_have_count(50)
        expect(page.locator(".pager span")).to_have_text("1–50 of 60")

        page.get_by_role("link", name="Later →").click()  # the queue's next page
        expect(page).to_have_url(re.compile(r"/queue\?state=pending_review&page=2$"))
        expect(page.locator(".pager span")).to_have_text("51–60 of 60")
        expect(page.locator("table.queue tbody tr")).to_have_count(10)
        expect(page.locator("table.queue tbody tr").last).to_contain_text(
            f"Later draft {MORE}")
        page.get_by_role("link", name="← Earlier").click()
        expect(page.locator(f"#draft-{other_id}")).to_be_visible()
        # the refused edit answers 422, which Chromium notes; nothing else may go wrong
        # (a script error or a CSP violation would show here)
        assert problems == ["Failed to load resource: the server responded with a status "
                            "of 422 (Unprocessable Entity)"], problems


def test_the_live_counter_counts_a_new_platform_from_the_page_alone(
        telegraph: Any, app: Any, store: Any) -> None:
    """desk.js, unchanged, counts the test-only fourth platform (tests/conftest.py) by the
    rules the edit page carries from its registry entry: graphemes, a link 10, limit 120."""
    from playwright.sync_api import expect

    from .conftest import make_draft, sign_in

    draft_id = make_draft(store, platforms=("x", "telegraph"))
    html = sign_in(app, "eddie").get(f"/drafts/{draft_id}/edit").text
    with chromium_page() as (page, _):
        page.set_content(html.replace('<script src="/static/desk.js"></script>', ""))
        page.add_script_tag(path=str(ROOT / "bot" / "web" / "static" / "desk.js"))
        page.fill("#text-telegraph-0", "Read https://data.example.org/a/very/long/path now")
        expect(page.locator("#text-telegraph-0-count")).to_have_text(
            "19 / 120 characters")  # "Read " and " now" (9) and the link (10)
        page.fill("#text-telegraph-0", "T" * 121)
        expect(page.locator("#text-telegraph-0-count")).to_have_text(
            "121 / 120 characters · too long")
        page.fill("#text-x-0", "東京 https://data.example.org/a/very/long/path")
        expect(page.locator("#text-x-0-count")).to_have_text(
            "28 / 280 characters")  # X's own rules beside it: CJK 2, a link 23
        page.fill("#alt-0", "Bar chart.")
        expect(page.locator("#alt-0-count")).to_have_text("10 / 400 characters")
