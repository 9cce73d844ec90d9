"""A draft on the desk: its page, editing, approving, rejecting, rescheduling, and the rules
(roles, CSRF, two-person, edit-after-approval, expiry, stale pages) as the desk applies them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.settings import NotifyConfig
from bot.store import Store

from .conftest import (
    T0,
    TEXTS,
    FakeClock,
    Statements,
    add_history,
    csrf_of,
    make_draft,
    post_form,
    sign_in,
)


def test_the_draft_page_shows_both_platforms_lengths_grades_charts_and_data(
        app: Any, draft_id: int) -> None:
    html = sign_in(app, "ada").get(f"/drafts/{draft_id}").text
    assert html.count('<article class="post x"') == 2
    assert html.count('<article class="post bluesky"') == 2
    assert "52 / 280 characters" in html  # TEXTS[0] on X
    assert "52 / 300 characters" in html  # and on Bluesky
    assert "Reading grade" in html
    assert (f'<img src="/drafts/{draft_id}/charts/0.png" alt="Bar chart. Rat extermination '
            f'visits led with 24." width="1" height="1">') in html
    assert "Bar chart. Rat extermination visits led with 24.</figcaption>" in html
    for fact in ("Open Baltimore", "311_Customer_Service_Requests", "Mon, Nov 2, 2026",
                 'href="https://data.baltimorecity.gov/search?q=311"',
                 "SRType, count(*) GROUP BY SRType"):
        assert fact in html, fact
    assert "posts Mon, Nov 2, 12:00 PM CST (in 3 hours)" in html
    assert "Approve for posting" in html


def test_a_chart_is_served_as_png_from_the_store(app: Any, draft_id: int) -> None:
    client = sign_in(app, "ada")
    r = client.get(f"/drafts/{draft_id}/charts/0.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    assert client.get(f"/drafts/{draft_id}/charts/1.png").status_code == 404


def test_approving_records_who_and_which_revision(app: Any, store: Store, draft_id: int) -> None:
    client = sign_in(app, "ada")
    r = post_form(client, f"/drafts/{draft_id}/approve", {"revision": "1"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/drafts/{draft_id}"
    page = client.get(f"/drafts/{draft_id}").text
    assert "Approved. It will be posted Mon, Nov 2, 12:00 PM CST (in 3 hours)." in page
    assert store.get_draft(draft_id).state == "approved"
    last = store.audit(draft_id)[-1]
    assert (last.actor, last.action, last.detail) == ("ada", "approve", "revision 1")


def test_a_form_without_its_csrf_token_is_refused(app: Any, store: Store,
                                                  draft_id: int) -> None:
    client = sign_in(app, "ada")
    for data in ({"revision": "1"}, {"revision": "1", "csrf": "not-the-token"}):
        r = client.post(f"/drafts/{draft_id}/approve", data=data)
        assert r.status_code == 403
        assert "did not carry the desk&#39;s security token" in r.text
    r = client.post(f"/drafts/{draft_id}/reject", data={"reason": "no"})
    assert r.status_code == 403
    assert store.get_draft(draft_id).state == "pending_review"


def test_a_csrf_token_from_another_session_is_refused(app: Any, store: Store,
                                                      draft_id: int) -> None:
    token = csrf_of(sign_in(app, "bea").get("/queue").text)
    r = sign_in(app, "ada").post(f"/drafts/{draft_id}/approve",
                                 data={"revision": "1", "csrf": token})
    assert r.status_code == 403
    assert store.get_draft(draft_id).state == "pending_review"


def test_a_viewer_cannot_approve_edit_or_reject(app: Any, store: Store, draft_id: int) -> None:
    client = sign_in(app, "vic")
    page = client.get(f"/drafts/{draft_id}").text
    assert "Approve for posting" not in page
    assert "You can read drafts; editors and approvers act on them." in page
    r = post_form(client, f"/drafts/{draft_id}/approve", {"revision": "1"})
    assert r.status_code == 403
    assert "vic is a viewer: only approver or admin users may approve." in r.text
    assert post_form(client, f"/drafts/{draft_id}/reject", {"reason": "x"}).status_code == 403
    assert client.get(f"/drafts/{draft_id}/edit").status_code == 403
    assert store.get_draft(draft_id).state == "pending_review"
    assert [a.action for a in store.audit(draft_id)] == ["draft"]


def test_an_editor_can_edit_but_not_approve(app: Any, store: Store, draft_id: int) -> None:
    client = sign_in(app, "eddie")
    assert "Only approvers can approve. You are an editor." in client.get(
        f"/drafts/{draft_id}").text
    r = post_form(client, f"/drafts/{draft_id}/approve", {"revision": "1"})
    assert r.status_code == 403
    assert store.get_draft(draft_id).state == "pending_review"


def test_an_edit_is_a_new_revision_and_the_old_one_stays(app: Any, store: Store,
                                                         draft_id: int) -> None:
    client = sign_in(app, "eddie")
    r = post_form(client, f"/drafts/{draft_id}/edit",
                  {"revision": "1", "text-x-0": "Baltimore's 311 line took 139 requests.",
                   "alt-0": "Bar chart of requests."}, page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 303
    assert "Saved as revision 2." in client.get(f"/drafts/{draft_id}").text
    revs = store.revisions(draft_id)
    assert [r.revision for r in revs] == [1, 2]
    assert revs[0].thread["x"][0].text == TEXTS[0]
    assert revs[1].thread["x"][0].text == "Baltimore's 311 line took 139 requests."
    assert revs[1].thread["bluesky"][0].text == TEXTS[0]
    assert revs[1].alts == {"top_requests": "Bar chart of requests."}
    assert revs[1].author == "eddie"
    old = client.get(f"/drafts/{draft_id}?revision=1").text
    assert "You are looking at an earlier wording: revision 1" in old
    assert "Baltimore&#39;s 311 line took 139 requests last weekend." in old


def test_an_edit_over_the_x_limit_is_refused_and_keeps_the_text(app: Any, store: Store,
                                                                draft_id: int) -> None:
    client = sign_in(app, "eddie")
    long_text = "A" * 281
    r = post_form(client, f"/drafts/{draft_id}/edit", {"revision": "1", "text-x-1": long_text},
                  page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 422
    assert ("Post 2 is too long for X: 281 characters, and the limit is 280. Shorten it and "
            "save again. Nothing was saved.") in r.text
    assert f'class="bad" aria-invalid="true">{long_text}</textarea>' in r.text
    assert store.get_draft(draft_id).revision == 1


def test_saving_nothing_new_makes_no_revision(app: Any, store: Store, draft_id: int) -> None:
    client = sign_in(app, "eddie")
    r = post_form(client, f"/drafts/{draft_id}/edit", {"revision": "1"},
                  page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 303
    assert "Nothing changed, so no new revision was saved." in client.get(
        f"/drafts/{draft_id}").text
    assert store.get_draft(draft_id).revision == 1


def test_editing_an_approved_draft_sends_it_back_to_review(app: Any, store: Store,
                                                           draft_id: int) -> None:
    ada = sign_in(app, "ada")
    post_form(ada, f"/drafts/{draft_id}/approve", {"revision": "1"})
    eddie = sign_in(app, "eddie")
    assert "Saving an edit sends it back to review" in eddie.get(
        f"/drafts/{draft_id}/edit").text
    r = post_form(eddie, f"/drafts/{draft_id}/edit", {"revision": "1", "text-bluesky-0": "New."},
                  page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 303
    assert ("Saved as revision 2. An edited draft goes back to review: it needs a new "
            "approval.") in eddie.get(f"/drafts/{draft_id}").text
    d = store.get_draft(draft_id)
    assert (d.state, d.revision) == ("pending_review", 2)
    assert post_form(ada, f"/drafts/{draft_id}/approve", {"revision": "2"}).status_code == 303


def test_approving_a_page_that_changed_meanwhile_is_refused(app: Any, store: Store,
                                                            draft_id: int) -> None:
    ada = sign_in(app, "ada")
    token_page = ada.get(f"/drafts/{draft_id}").text  # ada reads revision 1 ...
    eddie = sign_in(app, "eddie")
    post_form(eddie, f"/drafts/{draft_id}/edit", {"revision": "1", "text-x-0": "Changed."},
              page=f"/drafts/{draft_id}/edit")  # ... eddie saves revision 2 ...
    token = csrf_of(token_page)
    r = ada.post(f"/drafts/{draft_id}/approve", data={"csrf": token, "revision": "1"})
    assert r.status_code == 409  # ... so ada's approval of revision 1 does not count
    assert ("draft 1 changed while you were looking at it (now revision 2): reload it and try "
            "again.") in r.text
    assert store.get_draft(draft_id).state == "pending_review"


def test_two_person_rule_an_editor_of_a_draft_cannot_approve_it(
        make_app: Any, store: Store, draft_id: int) -> None:
    app = make_app(two_person=True)
    ada = sign_in(app, "ada")
    post_form(ada, f"/drafts/{draft_id}/edit", {"revision": "1", "text-x-0": "Ada's words."},
              page=f"/drafts/{draft_id}/edit")
    page = ada.get(f"/drafts/{draft_id}").text
    assert "You edited this draft. With two-person approval, another approver must approve " \
           "it." in page
    r = ada.post(f"/drafts/{draft_id}/approve",
                 data={"csrf": csrf_of(page), "revision": "2"})
    assert r.status_code == 403
    assert ("ada edited draft 1; with two-person approval on, another approver must approve "
            "it.") in r.text
    assert store.get_draft(draft_id).state == "pending_review"
    bea = sign_in(app, "bea")
    assert post_form(bea, f"/drafts/{draft_id}/approve", {"revision": "2"}).status_code == 303
    assert store.get_draft(draft_id).state == "approved"


def test_a_draft_whose_slot_passed_expires_and_can_be_rescheduled(
        app: Any, store: Store, clock: FakeClock, draft_id: int) -> None:
    ada = sign_in(app, "ada")
    clock.advance(hours=3)  # the slot, T0 + 3 h, has come
    page = ada.get(f"/drafts/{draft_id}").text
    assert "Its posting time has passed without an approval" in page
    r = post_form(ada, f"/drafts/{draft_id}/approve", {"revision": "1"})
    assert r.status_code == 409
    assert ("draft 1&#39;s slot (Mon, Nov 2, 12:00 PM CST) passed before it was approved, so "
            "it has expired: reschedule it to a new time, then approve it.") in r.text
    assert store.get_draft(draft_id).state == "expired"
    assert [(a.actor, a.action) for a in store.audit(draft_id)][-1] == ("citycrier", "expire")
    r = post_form(ada, f"/drafts/{draft_id}/reschedule", {"slot": "2026-11-02T11:00"})
    assert r.status_code == 400  # 11:00 Chicago is 17:00 UTC: still in the past
    assert "is not in the future: pick a later time." in r.text
    r = post_form(ada, f"/drafts/{draft_id}/reschedule", {"slot": "2026-11-03T09:30"})
    assert r.status_code == 303
    assert ("Rescheduled to Tue, Nov 3, 9:30 AM CST. It is back in review: it needs an "
            "approval before then.") in ada.get(f"/drafts/{draft_id}").text
    d = store.get_draft(draft_id)
    assert (d.state, d.slot_at) == ("pending_review", T0 + timedelta(hours=24, minutes=30))
    assert post_form(ada, f"/drafts/{draft_id}/approve", {"revision": "1"}).status_code == 303


def test_rejecting_needs_a_reason(app: Any, store: Store, draft_id: int) -> None:
    ada = sign_in(app, "ada")
    r = post_form(ada, f"/drafts/{draft_id}/reject", {"reason": "  "})
    assert r.status_code == 400
    assert "a rejection needs a reason (say what is wrong, for the record)." in r.text
    r = post_form(ada, f"/drafts/{draft_id}/reject", {"reason": "The total looks wrong."})
    assert r.status_code == 303
    page = ada.get(f"/drafts/{draft_id}").text
    assert "Rejected. It will not be posted; your reason is in the history." in page
    assert "<td>ada</td><td>Rejected</td><td>The total looks wrong.</td>" in page
    assert store.get_draft(draft_id).state == "rejected"
    assert "Nothing to decide: this draft is rejected." in page


def test_published_posts_link_to_each_post(app: Any, store: Store, clock: FakeClock) -> None:
    draft_id = make_draft(store, state="approved")
    clock.advance(hours=3)
    assert [d.id for d in store.claim_due(clock.now, "w1")] == [draft_id]
    store.record_intent(draft_id, "x", "cityhall_x", 0, "")
    store.confirm_receipt(draft_id, "x", 0, "1850000000000000001",
                          uri="https://x.com/i/web/status/1850000000000000001")
    store.record_intent(draft_id, "bluesky", "cityhall_bsky", 0, "3kabc")
    store.confirm_receipt(draft_id, "bluesky", 0, "3kabc",
                          uri="at://did:plc:abc123/app.bsky.feed.post/3kabc", cid="bafy")
    store.record_intent(draft_id, "bluesky", "cityhall_bsky", 1, "3kdef")
    html = sign_in(app, "vic").get(f"/drafts/{draft_id}").text
    assert '<a href="https://x.com/i/web/status/1850000000000000001"' in html
    assert '<a href="https://bsky.app/profile/did:plc:abc123/post/3kabc"' in html
    assert "being posted (not confirmed yet)" in html


def test_the_desk_sends_notices_when_a_draft_waits_again_or_expires(
        make_app: Any, store: Store, clock: FakeClock, webhook: Any) -> None:
    app = make_app(notify=NotifyConfig(webhook_url_env="CITYCRIER_TEST_HOOK"))
    first, second = make_draft(store, period="a"), make_draft(store, period="b")
    ada = sign_in(app, "ada")
    post_form(ada, f"/drafts/{first}/approve", {"revision": "1"})
    post_form(ada, f"/drafts/{first}/edit", {"revision": "1", "text-x-0": "New words."},
              page=f"/drafts/{first}/edit")  # approved -> back to review: a notice
    post_form(ada, f"/drafts/{second}/edit", {"revision": "1", "text-x-0": "New words."},
              page=f"/drafts/{second}/edit")  # it was waiting already: no notice
    clock.advance(hours=3)
    post_form(ada, f"/drafts/{second}/approve", {"revision": "2"})  # too late: expired
    post_form(ada, f"/drafts/{second}/reschedule", {"slot": "2026-11-03T09:00"})
    assert [t.split(":")[0] for t in webhook.texts] == [
        "Draft 1 is waiting for review", "Draft 2 expired unapproved",
        "Draft 2 is waiting for review"]


def test_the_sweep_expires_overdue_drafts_with_a_notice(
        config: Any, store: Store, clock: FakeClock, webhook: Any) -> None:
    import dataclasses

    from bot.review import expire_overdue

    waiting = make_draft(store, period="a")
    later = make_draft(store, period="b", slot_at=T0 + timedelta(days=1))
    clock.advance(hours=3)
    cfg = dataclasses.replace(config, notify=NotifyConfig(webhook_url_env="CITYCRIER_TEST_HOOK"))
    assert expire_overdue(store, clock.now, config=cfg) == [waiting]
    assert store.get_draft(later).state == "pending_review"
    assert [t.split(":")[0] for t in webhook.texts] == ["Draft 1 expired unapproved"]


def test_the_app_starts_and_stops_its_sweep(make_app: Any) -> None:
    from .conftest import TestClient

    with TestClient(make_app(sweep_seconds=3600)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_the_draft_page_costs_the_same_statements_however_long_its_history(
        app: Any, store: Store, clock: FakeClock) -> None:
    """SQL statements for a draft page (before_cursor_execute): the same for a fresh draft
    and for one with 20 revisions and 60 audit rows among 40 more drafts, each drawn afresh
    (nothing kept: bot.web.cache); a page kept since costs none."""
    fresh, long = make_draft(store, period="fresh"), make_draft(store, period="long")
    client = sign_in(app, "ada")
    client.get(f"/drafts/{fresh}")
    app.state.desk.pages.clear()
    with Statements(store) as before:
        assert client.get(f"/drafts/{fresh}").status_code == 200
    for i in range(40):
        make_draft(store, period=f"more-{i}")
    add_history(store, long, revisions=20, audit_rows=60)
    with Statements(store) as after:
        html = client.get(f"/drafts/{long}").text
    assert "revision 21 of 21" in html
    assert len(after.seen) == len(before.seen) <= 12, (before.seen, after.seen)
    app.state.desk.pages.clear()
    with Statements(store) as older:
        html = client.get(f"/drafts/{long}?history=4").text
    assert len(older.seen) == len(before.seen), older.seen
    assert "Newest first: 61–80 of 81 entries." in html
    clock.advance(seconds=30)  # off the whole minute to the slot: "in 3 hours" for 30 s
    assert client.get(f"/drafts/{long}").status_code == 200
    with Statements(store) as kept:
        assert "revision 21 of 21" in client.get(f"/drafts/{long}").text
    assert kept.seen == [], kept.seen


def test_the_history_comes_in_pages_of_20_newest_first(app: Any, store: Store,
                                                       draft_id: int) -> None:
    add_history(store, draft_id, revisions=0, audit_rows=44)  # 45 rows with the "draft" one
    client = sign_in(app, "vic")
    first = client.get(f"/drafts/{draft_id}").text
    assert "Newest first: 1–20 of 45 entries." in first
    notes = re.findall(r"<td>note (\d+)</td>", first)
    assert notes == [str(n) for n in range(44, 24, -1)]
    assert f'href="/drafts/{draft_id}?history=2#history-title">Older' in first
    assert "Newer" not in first
    last = client.get(f"/drafts/{draft_id}?history=3").text
    assert "Newest first: 41–45 of 45 entries." in last
    assert re.findall(r"<td>note (\d+)</td>", last) == ["4", "3", "2", "1"]
    assert "<td>Drafted</td>" in last and "Older" not in last
    assert f'href="/drafts/{draft_id}?history=2#history-title">&larr; Newer' in last
    short = client.get(f"/drafts/{make_draft(store, period='short')}").text
    assert "Newest first." in short and 'aria-label="History pages"' not in short


def test_a_chart_is_cached_by_url_and_revalidated_by_its_etag(app: Any,
                                                              draft_id: int) -> None:
    client = sign_in(app, "ada")
    page = client.get(f"/drafts/{draft_id}").text
    assert "base64" not in page and f'src="/drafts/{draft_id}/charts/0.png"' in page
    r = client.get(f"/drafts/{draft_id}/charts/0.png")
    assert r.headers["cache-control"] == "private, max-age=86400"
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    again = client.get(f"/drafts/{draft_id}/charts/0.png", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = client.get(f"/drafts/{draft_id}/charts/0.png", headers={"If-None-Match": '"x"'})
    assert other.status_code == 200 and other.content == r.content


def test_a_platform_in_the_registry_alone_gets_its_card_counter_and_colour(
        telegraph: Any, app: Any, store: Store) -> None:
    """A fourth platform registered in bot/platforms.py and nowhere else: the draft page
    shows its card, the edit page its rule text and the live counter's rules (from its
    registry entry), the stylesheet its colour, and saving checks its length."""
    draft_id = make_draft(store, platforms=("x", "telegraph"))
    client = sign_in(app, "eddie")
    page = client.get(f"/drafts/{draft_id}").text
    assert page.count('<article class="post telegraph" data-platform="telegraph"') == 2
    assert '<span class="logo telegraph">T</span><span>On Telegraph' in page
    assert "52 / 120 characters" in page

    edit = client.get(f"/drafts/{draft_id}/edit").text
    assert ("Each post must fit its platform: X allows 280 characters (a link counts as 23, "
            "an emoji as 2), Telegraph 120 (a link counts as 10). The counts are checked "
            "again when you save.") in edit
    assert ('<textarea id="text-telegraph-0" name="text-telegraph-0" data-measure="telegraph" '
            'data-limit="120" data-unit="characters" data-count="graphemes" '
            'data-urls="protocol" data-url-weight="10" data-mentions="full" '
            'data-max-bytes="0" ') in edit
    assert ('data-measure="x" data-limit="280" data-unit="characters" data-count="weighted" '
            'data-urls="any" data-url-weight="23" data-mentions="full" data-max-bytes="0" '
            ) in edit
    # one alt text goes everywhere: the strictest platform's limit (Telegraph 400, X 1000)
    assert 'data-measure="alt" data-limit="400" maxlength="400"' in edit
    assert "/ 400 characters</div>" in edit

    css = client.get("/static/platforms.css")
    assert css.headers["content-type"].startswith("text/css")
    assert (".logo.telegraph, .post.telegraph .avatar { background: #aa5500; }\n"
            ".post.telegraph { border-color: color-mix(in srgb, #aa5500 25%, #fff); }\n"
            ) in css.text

    r = post_form(client, f"/drafts/{draft_id}/edit",
                  {"revision": "1", "text-telegraph-0": "T" * 121},
                  page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 422
    assert ("Post 1 is too long for Telegraph: 121 characters, and the limit is 120. Shorten "
            "it and save again. Nothing was saved.") in r.text
