"""MastodonClient against the Mastodon fake, which checks every request and every answer
against the Mastodon OpenAPI description (tests/servers/mastodon_fake.py)."""

from __future__ import annotations

import doctest
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastodon_fake import TOKEN, Fault, MastodonFake

from bot.errors import CredentialError, PublishError, RateLimited, UnknownOutcome
from bot.platforms import limits_file, post_limits
from bot.publish import mastodon as mastodon_module
from bot.publish.base import Image, PostContent
from bot.publish.mastodon import MastodonClient

from .conftest import MASTODON_ENV, X_NOW, FakeClock, _png, mastodon_account

WITH_LINK = "📊 Up 12% & more: https://data.brla.gov/d/abcd-1234 #BatonRouge"


def client_for(fake: MastodonFake, tmp_path: Path, clock: Any = None, **account: Any
               ) -> MastodonClient:
    return MastodonClient(mastodon_account(fake, **account), tmp_path,
                          env={MASTODON_ENV: TOKEN}, clock=clock or fake.clock,
                          sleep=lambda s: None)


def image(alt: str = "A bar chart of calls by type") -> Image:
    return Image(_png(4, 3), alt, 4, 3)


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(mastodon_module).failed == 0


def test_login_reads_and_saves_the_instance_limits(tmp_path: Path, clock: FakeClock) -> None:
    with MastodonFake(clock=clock, max_characters=1000, description_limit=900) as fake:
        client = client_for(fake, tmp_path)
        assert client.limits == {"max_characters": 500, "max_media_attachments": 4,
                                 "description_limit": 1500}  # offline: the defaults
        assert client.login() == "cityhall"
        client.close()
    assert fake.mismatches == []
    assert client.limits == {"max_characters": 1000, "max_media_attachments": 4,
                             "description_limit": 900}
    assert json.loads(limits_file(tmp_path, "cityhall_m").read_text()) == client.limits
    assert [c[:2] for c in fake.calls] == [("GET", "/api/v1/accounts/verify_credentials"),
                                          ("GET", "/api/v2/instance")]


def test_login_falls_back_to_the_v1_instance(tmp_path: Path, clock: FakeClock) -> None:
    with MastodonFake(clock=clock, max_characters=700, v2_instance=False) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        client.close()
    assert fake.mismatches == []
    assert client.limits == {"max_characters": 700, "max_media_attachments": 4,
                             "description_limit": 1500}
    assert [c for c in fake.calls][1:] == [("GET", "/api/v2/instance", 404),
                                          ("GET", "/api/v1/instance", 200)]


def test_a_thread_chains_with_images_visibility_and_language(
        tmp_path: Path, clock: FakeClock, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path, language="en")
    client.login()
    first = client.create_post(PostContent(WITH_LINK, (image(), image("Daily calls"))),
                               key="k1", root=None, parent=None)
    second = client.create_post(PostContent("Second."), key="k2", root=first, parent=first)
    client.close()
    one, two = mastodon_clocked.thread()
    assert (one.id, one.text, one.visibility, one.language, one.in_reply_to_id) == (
        first.id, WITH_LINK, "public", "en", None)
    assert (two.id, two.visibility, two.in_reply_to_id) == (second.id, "unlisted", first.id)
    assert [mastodon_clocked.media[m].description for m in one.media_ids] == [
        "A bar chart of calls by type", "Daily calls"]
    assert first.uri == f"https://city.social/@cityhall/{first.id}"
    # each image answered 202, was polled once (206), then was ready (200)
    media_calls = [c for c in mastodon_clocked.calls if "media" in c[1]]
    assert [(c[0], c[2]) for c in media_calls] == [("POST", 202), ("GET", 206), ("GET", 200)] * 2


def test_the_same_idempotency_key_returns_the_first_status(
        tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    a = client.create_post(PostContent("Once."), key="same", root=None, parent=None)
    b = client.create_post(PostContent("Once."), key="same", root=None, parent=None)
    client.close()
    assert a == b
    assert mastodon_clocked.writes == 1


def test_a_lost_answer_is_unknown_and_the_retry_makes_nothing_new(
        tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    mastodon_clocked.fail_next("create_status", Fault(drop=True, after_write=True))
    with pytest.raises(UnknownOutcome, match="may or may not have been written"):
        client.create_post(PostContent("Lost."), key="k-lost", root=None, parent=None)
    again = client.create_post(PostContent("Lost."), key="k-lost", root=None, parent=None)
    client.close()
    assert mastodon_clocked.writes == 1
    assert [s.id for s in mastodon_clocked.thread()] == [again.id]


def test_find_post_looks_among_recent_statuses(
        tmp_path: Path, clock: FakeClock, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    first = client.create_post(PostContent(WITH_LINK), key="a", root=None, parent=None)
    reply = client.create_post(PostContent("Line one.\n\nLine two & more."), key="b",
                               root=first, parent=first)
    since = X_NOW - timedelta(minutes=1)
    assert client.find_post(PostContent(WITH_LINK), key="a", parent=None, since=since) == first
    assert client.find_post(PostContent("Line one.\n\nLine two & more."), key="b",
                            parent=first, since=since) == reply
    assert client.find_post(PostContent("Never sent."), key="c", parent=reply,
                            since=since) is None
    client.close()


def test_find_post_pages_back_and_refuses_to_guess(
        tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    for n in range(45):  # more than one page of 40
        client.create_post(PostContent(f"Post {n}."), key=f"k{n}", root=None, parent=None)
    since = X_NOW - timedelta(minutes=1)
    found = client.find_post(PostContent("Post 0."), key="k0", parent=None, since=since)
    assert found is not None and found.id == mastodon_clocked.thread()[0].id
    mastodon_clocked.fail_next("account_statuses", Fault(status=503))
    with pytest.raises(UnknownOutcome, match="could not settle whether a post was written"):
        client.find_post(PostContent("Post 1."), key="k1", parent=None, since=since)
    client.close()


def test_a_429_reschedules_at_the_servers_reset(
        tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    reset = "2026-03-02T15:00:00.000Z"
    mastodon_clocked.fail_next("create_status", Fault(status=429, headers={
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        body={"error": "Too many requests"}))
    with pytest.raises(RateLimited) as caught:
        client.create_post(PostContent("Hi."), key="k", root=None, parent=None)
    client.close()
    assert caught.value.retry_at.isoformat() == "2026-03-02T15:00:00+00:00"
    assert mastodon_clocked.writes == 0


def test_remaining_zero_stops_before_the_next_write(
        tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    mastodon_clocked.remaining = 0
    client.create_post(PostContent("Last one allowed."), key="a", root=None, parent=None)
    with pytest.raises(RateLimited, match="rate limit of account 'cityhall_m' is used up"):
        client.create_post(PostContent("Waits."), key="b", root=None, parent=None)
    client.close()
    assert mastodon_clocked.writes == 1


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "Mastodon refused the access token of account 'cityhall_m' (401 Unauthorized: "
           "The access token is invalid) during the first post of a thread: check "
           "CITYCRIER_TEST_ORCH_MASTODON_TOKEN (a token with read and write scopes)"),
     (403, "Mastodon refused the first post of a thread for account 'cityhall_m' (403 "
           "Forbidden: This action is not allowed): fix the post or the account, then "
           "publish again"),
     (404, "Mastodon refused the first post of a thread for account 'cityhall_m' (404 Not "
           "Found: Record not found): fix the post or the account, then publish again"),
     (422, "Mastodon refused the first post of a thread for account 'cityhall_m' (422 "
           "Unprocessable Entity: Validation failed: Text character limit of 500 exceeded): "
           "fix the post or the account, then publish again")])
def test_refusals_are_final_and_one_line(tmp_path: Path, clock: FakeClock, status: int,
                                         words: str) -> None:
    said = {401: "The access token is invalid", 403: "This action is not allowed",
            404: "Record not found", 422: "Validation failed: Text character limit of 500 "
                                          "exceeded"}[status]
    with MastodonFake(clock=clock) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        fake.fail_next("create_status", Fault(status=status, body={"error": said}))
        with pytest.raises(PublishError) as caught:
            client.create_post(PostContent("Hi."), key="k", root=None, parent=None)
        client.close()
    assert (caught.value.what, caught.value.final) == (words, True)
    assert "\n" not in str(caught.value)
    # Mastodon answers 403 for a suspended or read-only account; the description lists no
    # 403 for this operation, which the fake records (and only that)
    assert fake.mismatches == ([] if status != 403 else [
        "response 403 to POST /api/v1/statuses: Unknown response http status: 403"])


def test_the_server_refuses_text_over_its_limit(tmp_path: Path, clock: FakeClock) -> None:
    """The client checks first; the server's 422 is the same verdict (a fake of 50)."""
    with MastodonFake(clock=clock, max_characters=50) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        with pytest.raises(PublishError, match="a post is 51 characters as Mastodon counts "
                                               "them; this server allows 50"):
            client.create_post(PostContent("x" * 51), key="k", root=None, parent=None)
        # a URL counts 23 whatever its length: 27 + 23 = 50 fits
        long_url = "https://data.brla.gov/d/" + "a" * 80
        client.create_post(PostContent("y" * 26 + " " + long_url), key="k2", root=None,
                           parent=None)
        client.close()
    assert fake.writes == 1 and fake.mismatches == []


def test_alt_text_over_the_servers_limit_is_refused_before_upload(
        tmp_path: Path, clock: FakeClock) -> None:
    with MastodonFake(clock=clock, description_limit=20) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        with pytest.raises(PublishError, match="image 1 has 28 characters of alt text; this "
                                               "server needs 1 to 20"):
            client.create_post(PostContent("Hi.", (image(),)), key="k", root=None,
                               parent=None)
        client.close()
    assert [c for c in fake.calls if "media" in c[1]] == []


def test_media_still_processing_is_bounded(tmp_path: Path, clock: FakeClock) -> None:
    with MastodonFake(clock=clock, processing_polls=10_000) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        with pytest.raises(PublishError, match="image 1 was still processing on the server "
                                               "after 60 s"):
            client.create_post(PostContent("Hi.", (image(),)), key="k", root=None,
                               parent=None)
        client.close()
    polls = [c for c in fake.calls if c[0] == "GET" and "media" in c[1]]
    assert 25 <= len(polls) <= 40 and fake.writes == 0


def test_delete_last_and_already_gone(tmp_path: Path, mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    ref = client.create_post(PostContent("Bye."), key="k", root=None, parent=None)
    client.delete_post(ref)
    client.delete_post(ref)  # already gone: fine
    client.close()
    assert mastodon_clocked.deleted == [ref.id] and mastodon_clocked.thread() == []


def test_a_missing_token_names_the_variable(tmp_path: Path,
                                            mastodon_clocked: MastodonFake) -> None:
    client = MastodonClient(mastodon_account(mastodon_clocked), tmp_path, env={})
    with pytest.raises(CredentialError, match="CITYCRIER_TEST_ORCH_MASTODON_TOKEN"):
        client.login()


def test_an_unreachable_server_is_transient(tmp_path: Path) -> None:
    from bot.settings import AccountConfig

    from .conftest import closed_port

    account = AccountConfig(name="cityhall_m", platform="mastodon",
                            api_base=f"http://127.0.0.1:{closed_port()}",
                            access_token_env=MASTODON_ENV)
    client = MastodonClient(account, tmp_path, env={MASTODON_ENV: TOKEN})
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("Hi."), key="k", root=None, parent=None)
    assert not isinstance(caught.value, UnknownOutcome) and not caught.value.final
    assert caught.value.what.startswith("could not reach http://127.0.0.1:")


def test_desk_limits_come_from_the_saved_instance_limits(tmp_path: Path,
                                                         clock: FakeClock) -> None:
    from bot.settings import Config

    with MastodonFake(clock=clock, max_characters=1000) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        client.close()
        config = Config(path=tmp_path / "config.toml", root=tmp_path, timezone="UTC",
                        posts_dir=tmp_path, templates_dir=tmp_path, storage_url="sqlite://",
                        state_dir=tmp_path, outbox_dir=tmp_path,
                        portals={}, accounts={"cityhall_m": mastodon_account(fake)})
    assert post_limits(config) == {"x": 280, "bluesky": 300, "mastodon": 1000}
    assert post_limits(None)["mastodon"] == 500


def test_a_request_the_spec_does_not_allow_is_refused_and_recorded(clock: FakeClock) -> None:
    """What Mastodon.py 2.3 sends (form fields, ``media_ids[]``, ``sensitive=0``) is not
    what the description allows (JSON only): the fake answers 400 and records it."""
    with MastodonFake(clock=clock) as fake:
        response = httpx.post(f"{fake.base_url}/api/v1/statuses",
                              headers={"Authorization": f"Bearer {TOKEN}"},
                              data={"status": "Hi", "sensitive": "0"})
        no_token = httpx.get(f"{fake.base_url}/api/v1/accounts/verify_credentials")
        wrong_type = httpx.post(f"{fake.base_url}/api/v1/statuses",
                                headers={"Authorization": f"Bearer {TOKEN}"},
                                json={"status": "Hi", "sensitive": "0"})
    assert (response.status_code, no_token.status_code, wrong_type.status_code) == (
        400, 401, 400)
    assert fake.writes == 0
    assert any("mimetype not found: application/x-www-form-urlencoded" in m
               for m in fake.mismatches)
    assert any(m.startswith("request GET /api/v1/accounts/verify_credentials: "
                            "SecurityValidationError") for m in fake.mismatches)
    assert any(m.startswith("request POST /api/v1/statuses") and "sensitive" in m
               for m in fake.mismatches[2:])


def test_an_answer_the_spec_does_not_allow_is_recorded(clock: FakeClock) -> None:
    with MastodonFake(clock=clock) as fake:
        fake.fail_next("create_status", Fault(status=200, body={"id": 5}))
        httpx.post(f"{fake.base_url}/api/v1/statuses", json={"status": "Hi"},
                   headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(fake.mismatches) == 1
    assert fake.mismatches[0].startswith("response 200 to POST /api/v1/statuses:")


def test_an_unknown_outcome_after_a_5xx_write(tmp_path: Path,
                                              mastodon_clocked: MastodonFake) -> None:
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    mastodon_clocked.fail_next("create_status", Fault(status=503, after_write=True,
                                                      body={"error": "Unavailable"}))
    with pytest.raises(UnknownOutcome, match="Mastodon answered 503"):
        client.create_post(PostContent("Hi."), key="k", root=None, parent=None)
    client.close()


@pytest.mark.spec
def test_an_unsettled_status_stops_the_thread_for_a_person(
        tmp_path: Path, clock: FakeClock, mastodon_clocked: MastodonFake,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Post 2's answer is lost after the write; on the next pass the server cannot say what
    the account posted (503 on its statuses): nothing is written again, a person decides."""
    from bot.config import load_config
    from bot.publish.runner import publish_due
    from bot.store import Store

    from .conftest import mastodon_account_toml, set_secrets, thread_draft, write_config

    set_secrets(monkeypatch)
    config = load_config(write_config(
        tmp_path, mastodon_account_toml("cityhall_m", mastodon_clocked.base_url)))
    store = Store(config.storage_url, clock=clock)
    draft_id, _ = store.create_draft(thread_draft(("mastodon",)))
    mastodon_clocked.fail_next("create_status", Fault(drop=True, after_write=True), after=1)
    [outcome] = publish_due(config, store, clock())
    assert outcome.state == "partially_published"
    assert mastodon_clocked.writes == 2

    clock.advance(minutes=1)
    mastodon_clocked.fail_next("account_statuses", Fault(status=503, body={"error": "Down"}))
    [outcome] = publish_due(config, store, clock())
    assert (outcome.state, outcome.detail) == ("on_hold", (
        "mastodon: post 2 of 5 may or may not have been posted, and mastodon could not say "
        "(could not settle whether a post was written (the lookup of recent posts failed for "
        "account 'cityhall_m': Mastodon answered 503 (Down) (try again later)); a person must "
        "check the account's recent posts): check the account, then release the draft"))
    assert mastodon_clocked.writes == 2  # nothing written twice, nothing guessed


@pytest.mark.parametrize("text", [
    "Once.",
    # Mastodon shows a mention it resolved as @parks only: still the same post
    "Thanks @parks@city-parks.example for the data: https://data.brla.gov/d/7ixm-mnvx",
], ids=["plain", "remote-mention"])
def test_past_the_idempotency_window_only_the_lookup_prevents_a_second_status(
        tmp_path: Path, clock: FakeClock, mastodon_clocked: MastodonFake, text: str) -> None:
    """Mastodon keeps an Idempotency-Key for an hour: after that the same key makes a new
    status, which is why an unknown outcome is settled by looking first."""
    client = client_for(mastodon_clocked, tmp_path)
    client.login()
    first = client.create_post(PostContent(text), key="k", root=None, parent=None)
    clock.advance(minutes=61)
    found = client.find_post(PostContent(text), key="k", parent=None,
                             since=X_NOW - timedelta(minutes=1))
    assert found == first  # the publisher stops here: receipt completed, nothing sent
    again = client.create_post(PostContent(text), key="k", root=None, parent=None)
    client.close()
    assert again != first and mastodon_clocked.writes == 2  # what a blind retry would do


@pytest.mark.parametrize(("limit", "text", "status"), [
    (500, "x" * 500, 200), (500, "x" * 501, 422),
    (50, "y" * 26 + " https://data.brla.gov/d/" + "a" * 80, 200),  # the URL counts 23
    (50, "y" * 27 + " https://data.brla.gov/d/" + "a" * 80, 422),
    (50, "@cityhall@city.social " + "z" * 40, 200),  # the mention counts 9
    (1000, "東" * 1000, 200), (1000, "東" * 1001, 422)])
def test_the_fake_answers_422_over_its_max_characters(clock: FakeClock, limit: int, text: str,
                                                      status: int) -> None:
    with MastodonFake(clock=clock, max_characters=limit) as fake:
        answer = httpx.post(f"{fake.base_url}/api/v1/statuses", json={"status": text},
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == status and fake.mismatches == []
    if status == 422:
        assert answer.json() == {
            "error": f"Validation failed: Text character limit of {limit} exceeded"}


@pytest.mark.parametrize(("operation", "status", "said", "action"), [
    ("verify_credentials", 403, "Your login is currently disabled", "the login"),
    ("verify_credentials", 404, "Not Found", "the login"),
    ("instance_v1", 404, "Not Found", "reading the server's limits"),
], ids=["login-403", "login-404", "instance-404"])
def test_a_refused_login_names_the_server_not_the_post(
        tmp_path: Path, clock: FakeClock, operation: str, status: int, said: str,
        action: str) -> None:
    with MastodonFake(clock=clock, v2_instance=operation != "instance_v1") as fake:
        client, server = client_for(fake, tmp_path), fake.base_url
        fake.fail_next(operation, Fault(status=status, body={"error": said}))
        with pytest.raises(PublishError) as caught:
            client.login()
        client.close()
    reason = {403: "Forbidden", 404: "Not Found"}[status]
    assert (caught.value.what, caught.value.final) == (
        f"Mastodon refused {action} for account 'cityhall_m' ({status} {reason}: {said}): "
        f"check that api_base ({server}) is the Mastodon server and that the account "
        f"may post, then try again", True)
    assert fake.writes == 0


def test_a_status_answer_without_an_id_is_an_unknown_outcome(tmp_path: Path,
                                                              clock: FakeClock) -> None:
    """A 200 whose body is not a status (a proxy's page, a broken server) after the write:
    not a bug but an unknown outcome, and the retry with the same key makes nothing new."""
    with MastodonFake(clock=clock) as fake:
        client = client_for(fake, tmp_path)
        client.login()
        fake.fail_next("create_status", Fault(status=200, body={"ok": True},
                                              after_write=True))
        with pytest.raises(UnknownOutcome) as caught:
            client.create_post(PostContent("Once."), key="k-once", root=None, parent=None)
        again = client.create_post(PostContent("Once."), key="k-once", root=None, parent=None)
        server = fake.base_url
        client.close()
    assert caught.value.what == (
        f"the first post of a thread: {server} answered 200 with something that is not the "
        f"Mastodon API's answer; it may or may not have been written")
    assert fake.writes == 1 and [s.id for s in fake.thread()] == [again.id]
