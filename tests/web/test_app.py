"""The desk as a whole: every route refuses anonymous requests, security headers, /healthz,
escaping of hostile data everywhere, no secrets in pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.errors import BotError
from bot.store import Store
from bot.web.app import secret_key

from .conftest import SECRET, make_draft, post_form, sign_in

PUBLIC = {"/login", "/healthz", "/static/platforms.css"}  # the last: static, like /static
EXPECTED_ROUTES = {
    ("/", "GET"), ("/queue", "GET"), ("/drafts/{draft_id:int}", "GET"),
    ("/drafts/{draft_id:int}/charts/{index:int}.png", "GET"),
    ("/drafts/{draft_id:int}/edit", "GET"), ("/drafts/{draft_id:int}/edit", "POST"),
    ("/drafts/{draft_id:int}/approve", "POST"), ("/drafts/{draft_id:int}/reject", "POST"),
    ("/drafts/{draft_id:int}/reschedule", "POST"), ("/logout", "POST"),
}
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _protected(app: Any) -> set[tuple[str, str]]:
    return {(r.path, m) for r in app.routes if isinstance(r, Route) and r.path not in PUBLIC
            for m in (r.methods or ()) if m != "HEAD"}


def test_every_route_but_login_refuses_an_anonymous_request(app: Any, draft_id: int) -> None:
    assert _protected(app) == EXPECTED_ROUTES  # a new route must be added here, and checked
    client = TestClient(app, follow_redirects=False)
    for path, method in sorted(_protected(app)):
        url = path.replace("{draft_id:int}", str(draft_id)).replace("{index:int}", "0")
        r = client.request(method, url, data={"reason": "x", "slot": "2026-12-01T09:00"})
        if method == "GET":
            assert r.status_code == 303, url
            assert r.headers["location"].startswith("/login?next=%2F"), url
        else:
            assert r.status_code == 403, url
            assert "Please sign in" in r.text
        assert "Baltimore 311" not in r.text
    assert client.get("/static/desk.css").status_code == 200  # the sign-in page needs it


def test_healthz_needs_no_session_and_reports_the_database(app: Any) -> None:
    r = TestClient(app).get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_every_response_carries_the_security_headers(app: Any, draft_id: int) -> None:
    client = sign_in(app, "ada")
    for url in ("/login", "/healthz", "/queue", f"/drafts/{draft_id}",
                f"/drafts/{draft_id}/charts/0.png", "/static/desk.js", "/nope"):
        h = client.get(url).headers
        assert h["content-security-policy"] == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"), url
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"


def test_unknown_pages_get_a_plain_404(app: Any) -> None:
    r = sign_in(app, "ada").get("/drafts/999999")
    assert r.status_code == 404
    assert "No such draft" in r.text
    assert TestClient(app).get("/nope").status_code == 404


def test_hostile_labels_data_and_edits_come_out_escaped(app: Any, store: Store) -> None:
    draft_id = make_draft(
        store, title=f"Title {XSS}", period_label=f"period {XSS}", label=XSS,
        texts=(f"Top category: {XSS}", "Second post."), reasons=(f"guard {XSS}",),
        alt=f"Bar chart of {XSS}",
        source={"label": f"portal {XSS}", "kind": XSS, "dataset": f"ds {XSS}",
                "as_of": XSS, "last_updated": XSS, "link": "javascript:alert(1)",
                "queries": [f"q {XSS}"]})
    client = sign_in(app, "ada")
    pages = [client.get("/queue").text, client.get(f"/drafts/{draft_id}").text,
             client.get(f"/drafts/{draft_id}/edit").text]
    r = post_form(client, f"/drafts/{draft_id}/edit",
                  {"revision": "1", "text-x-1": f"Edited {XSS}", "alt-0": f"Alt {XSS}"},
                  page=f"/drafts/{draft_id}/edit")
    assert r.status_code == 303
    pages.append(client.get(f"/drafts/{draft_id}").text)
    too_long = post_form(client, f"/drafts/{draft_id}/edit",
                         {"revision": "2", "text-x-0": XSS * 20},
                         page=f"/drafts/{draft_id}/edit")
    assert too_long.status_code == 422
    pages.append(too_long.text)
    for html in pages:
        assert "<script>alert" not in html
        assert ESCAPED in html
        assert 'href="javascript:' not in html
    draft_page = pages[3]
    for shown in (f"Title {ESCAPED}", f"period {ESCAPED}", f"guard {ESCAPED}",
                  f"portal {ESCAPED}", f"ds {ESCAPED}", f"q {ESCAPED}", f"Edited {ESCAPED}",
                  f"Alt {ESCAPED}"):
        assert shown in draft_page, shown
    scripts = re.findall(r"<script[^>]*>", "".join(pages))
    assert set(scripts) == {'<script src="/static/desk.js">'}


def test_secrets_never_appear_in_a_page(app: Any, draft_id: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYCRIER_WEBHOOK_URL", "https://hooks.example/T000/SECRETHOOK")
    client = sign_in(app, "ada")
    html = "".join(client.get(u).text for u in ("/queue", f"/drafts/{draft_id}",
                                               f"/drafts/{draft_id}/edit", "/login"))
    assert SECRET not in html
    assert "SECRETHOOK" not in html
    assert "$argon2" not in html


def test_the_secret_must_be_set_and_long(monkeypatch: pytest.MonkeyPatch,
                                         config: Any) -> None:
    monkeypatch.delenv("CITYCRIER_SECRET_KEY", raising=False)
    with pytest.raises(BotError) as missing:
        secret_key(config)
    assert missing.value.message == (
        "CITYCRIER_SECRET_KEY is not set: the desk signs its session cookies with it. Set it "
        "to a long random string, e.g. export CITYCRIER_SECRET_KEY=\"$(python3 -c 'import "
        "secrets; print(secrets.token_urlsafe(32))')\" (or put it in .env)")
    monkeypatch.setenv("CITYCRIER_SECRET_KEY", "short")
    with pytest.raises(BotError, match="is 5 characters long"):
        secret_key(config)
    monkeypatch.setenv("CITYCRIER_SECRET_KEY", SECRET)
    assert secret_key(config) == SECRET


def test_an_oversized_form_is_refused_before_it_is_read(app: Any, draft_id: int) -> None:
    client = sign_in(app, "ada")
    r = client.post(f"/drafts/{draft_id}/reject", content=b"reason=" + b"x" * 1_000_001,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert "That was too much to send" in r.text
