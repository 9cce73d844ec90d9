"""Signing in and out: sessions (signed, HTTP-only, expiring, revoked), CSRF tokens, and the
limits on failed sign-ins per account and per address."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from bot.people import set_password
from bot.store import Store

from .conftest import PASSWORD, FakeClock, csrf_of, post_form, sign_in


def _try(client: TestClient, name: str, password: str) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf": csrf_of(page.text), "next": "/queue"})


def test_signing_in_sets_a_signed_http_only_samesite_cookie_with_an_expiry(app: Any) -> None:
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    r = _try(client, "ada", PASSWORD)
    assert r.status_code == 303
    assert r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("citycrier_session=")
    assert "; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https adds it
    page = client.get("/queue")
    assert page.status_code == 200
    assert "Signed in as <strong>ada</strong>" in page.text


def test_the_cookie_is_secure_over_https(app: Any) -> None:
    client = TestClient(app, base_url="https://desk.example", follow_redirects=False)
    assert _try(client, "ada", PASSWORD).headers["set-cookie"].endswith("; Secure")


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    for name in ("ada", "nobody"):
        r = _try(client, name, "wrong password")
        assert r.status_code == 401
        assert "That name and password do not match. Check them and try again." in r.text
    assert client.get("/queue").status_code == 303


def test_a_forged_cookie_is_ignored(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    client.cookies.set("citycrier_session", "eyJ1c2VyIjoiYWRhIn0.forged")
    assert client.get("/queue").status_code == 303


def test_signing_out_revokes_the_session_even_if_the_cookie_is_replayed(app: Any) -> None:
    client = sign_in(app, "ada")
    stolen = client.cookies.get("citycrier_session")
    r = post_form(client, "/logout", {}, page="/queue")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?bye=1"
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert "You are signed out." in client.get("/login?bye=1").text
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set("citycrier_session", stolen)
    assert replay.get("/queue").status_code == 303


def test_a_session_ends_after_session_hours(app: Any, clock: FakeClock) -> None:
    client = sign_in(app, "ada")
    clock.advance(hours=11, minutes=59)
    assert client.get("/queue").status_code == 200
    clock.advance(minutes=1, seconds=1)
    r = client.get("/queue")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fqueue"


def test_a_password_change_signs_that_person_out(app: Any, store: Store) -> None:
    client = sign_in(app, "ada")
    set_password(store, "ada", "a brand new password")
    assert client.get("/queue").status_code == 303


def test_sign_in_without_its_csrf_token_is_refused(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    r = client.post("/login", data={"name": "ada", "password": PASSWORD})
    assert r.status_code == 403
    assert "The sign-in form had expired. Please sign in again." in r.text
    assert client.get("/queue").status_code == 303


def test_next_only_goes_to_a_page_of_this_site(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login?next=//evil.example/")
    r = client.post("/login", data={"name": "ada", "password": PASSWORD,
                                    "csrf": csrf_of(page.text), "next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_failed_sign_ins_are_limited_per_account(app: Any, clock: FakeClock) -> None:
    client = TestClient(app, follow_redirects=False)
    for _ in range(5):
        assert _try(client, "ada", "wrong password").status_code == 401
    r = _try(client, "ada", PASSWORD)  # even the right password waits now
    assert r.status_code == 429
    assert "Too many failed sign-ins. Please wait 15 minutes and try again." in r.text
    other = TestClient(app, follow_redirects=False)
    assert _try(other, "bea", PASSWORD).status_code == 303  # other accounts are not locked
    clock.advance(minutes=15)
    assert _try(client, "ada", PASSWORD).status_code == 303


def test_failed_sign_ins_are_limited_per_address(app: Any, clock: FakeClock) -> None:
    client = TestClient(app, follow_redirects=False)
    for i in range(20):
        assert _try(client, f"guess{i}", "wrong password").status_code == 401
        clock.advance(seconds=10)
    r = _try(client, "ada", PASSWORD)
    assert r.status_code == 429
    assert "Please wait 12 minutes" in r.text
    other = TestClient(app, follow_redirects=False, client=("10.0.0.9", 5000))
    assert _try(other, "ada", PASSWORD).status_code == 303
