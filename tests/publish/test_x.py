"""XClient against the X fake, which checks every request against X's official OpenAPI spec."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1
from x_fake import CREDENTIALS, DUPLICATE, Fault, XFake

from bot.errors import CredentialError, PublishError, RateLimited, UnknownOutcome
from bot.publish.base import Image, PostContent, Ref
from bot.publish.x import RoutedSession, XClient, comparable_text, retry_time
from bot.settings import AccountConfig

NAMES = (
    "CITYCRIER_TEST_X_CONSUMER_KEY",
    "CITYCRIER_TEST_X_CONSUMER_SECRET",
    "CITYCRIER_TEST_X_ACCESS_TOKEN",
    "CITYCRIER_TEST_X_ACCESS_TOKEN_SECRET",
)
CHECK_ALL = (
    "check the four X credentials CITYCRIER_TEST_X_CONSUMER_KEY, "
    "CITYCRIER_TEST_X_CONSUMER_SECRET, CITYCRIER_TEST_X_ACCESS_TOKEN, "
    "CITYCRIER_TEST_X_ACCESS_TOKEN_SECRET (keys and tokens of the same app, with read and "
    "write permission)"
)
WITH_LINK = "📊 Up 12% & more: https://data.brla.gov/d/abcd-1234 #BatonRouge"


ACCOUNT = AccountConfig(
    name="cityhall_x",
    platform="x",
    handle="cityhall",
    consumer_key_env=NAMES[0],
    consumer_secret_env=NAMES[1],
    access_token_env=NAMES[2],
    access_token_secret_env=NAMES[3],
)


def x_client(fake: XFake, credentials: tuple[str, ...] = CREDENTIALS) -> XClient:
    """A client for the fake, configured as config.toml would: ``api_base`` in the account."""
    env = dict(zip(NAMES, credentials, strict=True))
    return XClient(dataclasses.replace(ACCOUNT, api_base=fake.base_url), env=env)


# -- offline ------------------------------------------------------------------------------


def test_tweepy_calls_are_routed_to_the_configured_host() -> None:
    session = RoutedSession("http://127.0.0.1:9/")
    assert session.route("https://api.twitter.com/2/tweets") == "http://127.0.0.1:9/2/tweets"
    assert session.route("http://127.0.0.1:9/2/media/upload") == "http://127.0.0.1:9/2/media/upload"
    session.close()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-rate-limit-reset": "1767225600"}, datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        (  # the user's 24-hour cap is spent: its reset wins; the app still has 120 left
            {
                "x-rate-limit-reset": "1767225600",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "1767258000",
                "x-app-limit-24hour-remaining": "120",
                "x-app-limit-24hour-reset": "1767300000",
            },
            datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
        ),
        (  # both caps spent: the later reset
            {
                "X-Rate-Limit-Reset": "1767225600",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "1767258000",
                "x-app-limit-24hour-remaining": "0",
                "x-app-limit-24hour-reset": "1767300000",
            },
            datetime(2026, 1, 1, 20, 40, tzinfo=UTC),
        ),
        ({}, datetime(2026, 3, 2, 14, 45, tzinfo=UTC)),  # no headers: 15 minutes from now
    ],
)
def test_retry_time_reads_the_rate_limit_headers(
    headers: dict[str, str], expected: datetime
) -> None:
    assert retry_time(headers, datetime(2026, 3, 2, 14, 30, tzinfo=UTC)) == expected


def test_comparable_text_masks_what_x_rewrites() -> None:
    ours = comparable_text(WITH_LINK)
    assert ours == "📊 Up 12% & more: #BatonRouge"
    theirs = "📊 Up 12% &amp; more: https://t.co/a1b2c3d4e5 #BatonRouge https://t.co/9z8y7x6w5v"
    assert comparable_text(theirs) == ours
    assert comparable_text("@cityhall That is all.") == "That is all."


def test_missing_credential_is_a_credential_error() -> None:
    client = XClient(ACCOUNT, env={NAMES[0]: "k"}, api_base="http://127.0.0.1:9")
    with pytest.raises(CredentialError) as caught:
        client.login()
    assert str(caught.value) == (
        "x account 'cityhall_x': environment variable CITYCRIER_TEST_X_CONSUMER_SECRET is not "
        "set (set it in the environment or in .env)"
    )


def test_unreachable_x_is_a_retryable_error_not_an_unknown_outcome() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = XClient(ACCOUNT, env=dict(zip(NAMES, CREDENTIALS, strict=True)), api_base=url)
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("Hello."), key="", root=None, parent=None)
    assert not caught.value.final
    assert not isinstance(caught.value, UnknownOutcome)
    assert str(caught.value) == (
        f"x: could not reach {url} for the first post of a thread (try again later)"
    )
    client.close()


# -- against the fake ---------------------------------------------------------------------


@pytest.mark.spec
def test_thread_with_media_and_alt_text(x_fake_server: XFake, png: Any) -> None:
    fake = x_fake_server
    client = x_client(fake)
    assert client.login() == "cityhall"
    chart_a, chart_b, chart_c = png(4, 3), png(6, 2), png(5, 5)
    thread = [
        PostContent(
            WITH_LINK,
            (
                Image(chart_a, "Bar chart: potholes 212", 4, 3),
                Image(chart_b, "Line chart: calls per day", 6, 2),
            ),
        ),
        PostContent(
            "Most common: potholes, missed trash, streetlights.",
            (Image(chart_c, "Bar chart: top three requests", 5, 5),),
        ),
        PostContent("Questions? Call 311."),
    ]
    refs: list[Ref] = []
    for content in thread:
        key = client.new_key()
        assert key == ""
        parent = refs[-1] if refs else None
        refs.append(
            client.create_post(content, key=key, root=refs[0] if refs else None, parent=parent)
        )

    posts = fake.thread()
    assert [p.id for p in posts] == [r.id for r in refs]
    assert [r.uri for r in refs] == [f"https://x.com/i/web/status/{p.id}" for p in posts]
    assert [p.sent for p in posts] == [c.text for c in thread]
    assert [p.reply_to for p in posts] == [None, refs[0].id, refs[1].id]
    media = [[fake.media[m] for m in p.media_ids] for p in posts]
    assert [[(m.data, m.alt, m.category) for m in ms] for ms in media] == [
        [
            (chart_a, "Bar chart: potholes 212", "tweet_image"),
            (chart_b, "Line chart: calls per day", "tweet_image"),
        ],
        [(chart_c, "Bar chart: top three requests", "tweet_image")],
        [],
    ]
    assert fake.writes == 3
    assert [(m, p, s) for m, p, s in fake.calls] == [
        ("GET", "/2/users/me", 200),
        ("POST", "/2/media/upload", 200),
        ("POST", "/2/media/metadata", 200),
        ("POST", "/2/media/upload", 200),
        ("POST", "/2/media/metadata", 200),
        ("POST", "/2/tweets", 201),
        ("POST", "/2/media/upload", 200),
        ("POST", "/2/media/metadata", 200),
        ("POST", "/2/tweets", 201),
        ("POST", "/2/tweets", 201),
    ]


@pytest.mark.spec
def test_duplicate_content_is_final_and_not_retried(x_fake_server: XFake) -> None:
    client = x_client(x_fake_server)
    client.create_post(PostContent("Same text."), key="", root=None, parent=None)
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("Same text."), key="", root=None, parent=None)
    assert caught.value.final
    assert not isinstance(caught.value, UnknownOutcome | RateLimited)
    assert str(caught.value) == (
        "x: X refused the first post of a thread as duplicate content (a recent post has the "
        "same text): not retried; change the text to post it"
    )
    assert x_fake_server.writes == 1
    assert x_fake_server.calls[-1] == ("POST", "/2/tweets", 403)
    assert DUPLICATE == "You are not allowed to create a Tweet with duplicate content."


@pytest.mark.spec
def test_rate_limit_gives_the_time_from_the_headers(x_fake_server: XFake) -> None:
    client = x_client(x_fake_server)
    root = client.create_post(PostContent("First."), key="", root=None, parent=None)
    x_fake_server.fail_next(
        "create_tweet",
        Fault(
            status=429,
            headers={
                "x-rate-limit-reset": "1772462700",
                "x-user-limit-24hour-limit": "17",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "1772492400",
            },
        ),
    )
    with pytest.raises(RateLimited) as caught:
        client.create_post(PostContent("Second."), key="", root=root, parent=root)
    assert caught.value.retry_at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert str(caught.value) == (
        f"x: X rate-limited the reply to {root.id}; will try again at 2026-03-02 23:00 UTC"
    )
    assert x_fake_server.writes == 1
    client.create_post(PostContent("Second."), key="", root=root, parent=root)  # later: fine
    assert x_fake_server.writes == 2


@pytest.mark.spec
def test_wrong_credentials_say_to_check_all_four(x_fake_server: XFake) -> None:
    wrong = (*CREDENTIALS[:3], "not-the-secret")
    client = x_client(x_fake_server, wrong)
    with pytest.raises(PublishError) as caught:
        client.login()
    assert caught.value.final
    assert str(caught.value) == (
        "x: X refused the credentials of account 'cityhall_x' (401 Unauthorized) during "
        f"the login: {CHECK_ALL}"
    )
    assert "not-the-secret" not in str(caught.value)
    with pytest.raises(PublishError) as posting:
        client.create_post(PostContent("Hello."), key="", root=None, parent=None)
    assert str(posting.value) == (
        "x: X refused the credentials of account 'cityhall_x' (401 Unauthorized) during "
        f"the first post of a thread: {CHECK_ALL}"
    )
    assert x_fake_server.writes == 0


@pytest.mark.spec
def test_dropped_answer_is_unknown_then_found_among_recent_posts(
    x_fake_server: XFake, png: Any
) -> None:
    fake = x_fake_server
    client = x_client(fake)
    root = client.create_post(PostContent("Root."), key="", root=None, parent=None)
    content = PostContent(WITH_LINK, (Image(png(3, 3), "A chart", 3, 3),))
    fake.fail_next("create_tweet", Fault(drop=True, after_write=True))
    with pytest.raises(UnknownOutcome) as caught:
        client.create_post(content, key="", root=root, parent=root)
    assert str(caught.value) == (
        f"x: the reply to {root.id}: connection lost; it may or may not have been written "
        "(citycrier looks for it among the account's recent posts before writing again)"
    )
    written = fake.thread()[-1]
    assert written.text != written.sent  # X gave it back with t.co links and &amp;
    since = fake.clock() - timedelta(minutes=1)
    found = client.find_post(content, key="", parent=root, since=since)
    assert found == Ref(id=written.id, uri=f"https://x.com/i/web/status/{written.id}")
    assert client.find_post(content, key="", parent=None, since=since) is None  # not a root
    assert fake.writes == 2


@pytest.mark.spec
def test_server_error_after_the_write_is_unknown_then_found(x_fake_server: XFake) -> None:
    fake = x_fake_server
    client = x_client(fake)
    fake.fail_next("create_tweet", Fault(status=503, after_write=True))
    with pytest.raises(UnknownOutcome) as caught:
        client.create_post(PostContent("Thread start."), key="", root=None, parent=None)
    assert str(caught.value) == (
        "x: the first post of a thread: X answered 503; it may or may not have been written "
        "(citycrier looks for it among the account's recent posts before writing again)"
    )
    found = client.find_post(PostContent("Thread start."), key="", parent=None, since=fake.clock())
    assert found is not None and found.id == fake.thread()[0].id


@pytest.mark.spec
def test_server_error_before_the_write_is_found_to_be_unwritten(x_fake_server: XFake) -> None:
    fake = x_fake_server
    client = x_client(fake)
    fake.fail_next("create_tweet", Fault(status=503))
    with pytest.raises(UnknownOutcome):
        client.create_post(PostContent("Never written."), key="", root=None, parent=None)
    assert fake.writes == 0
    assert (
        client.find_post(PostContent("Never written."), key="", parent=None, since=fake.clock())
        is None
    )


@pytest.mark.spec
def test_failed_lookup_is_still_unknown(x_fake_server: XFake) -> None:
    fake = x_fake_server
    client = x_client(fake)
    client.login()
    fake.fail_next("user_tweets", Fault(status=503))
    with pytest.raises(UnknownOutcome) as caught:
        client.find_post(PostContent("Anything."), key="", parent=None, since=fake.clock())
    assert str(caught.value) == (
        "x: could not settle whether a post was written (the lookup of recent posts failed: "
        "X answered 503 (try again later)); a person must check the account's recent posts"
    )


@pytest.mark.spec
def test_delete_removes_the_post(x_fake_server: XFake) -> None:
    fake = x_fake_server
    client = x_client(fake)
    root = client.create_post(PostContent("One."), key="", root=None, parent=None)
    reply = client.create_post(PostContent("Two."), key="", root=root, parent=root)
    client.delete_post(reply)
    client.delete_post(root)
    assert fake.deleted == [reply.id, root.id]
    assert fake.thread() == []
    client.delete_post(root)  # already gone: fine
    assert fake.calls[-1] == ("DELETE", f"/2/tweets/{root.id}", 404)


@pytest.mark.spec
def test_too_long_for_x_is_refused_before_anything_is_sent(x_fake_server: XFake) -> None:
    client = x_client(x_fake_server)
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("界" * 141), key="", root=None, parent=None)
    assert caught.value.final
    assert str(caught.value) == (
        "x: a post is 282 characters as X counts them; X allows 280 (shorten it, or split the post)"
    )
    assert x_fake_server.calls == []


@pytest.mark.spec
def test_the_fake_flags_requests_that_break_the_spec(x_fake_server: XFake) -> None:
    fake = x_fake_server
    auth = OAuth1(
        CREDENTIALS[0],
        client_secret=CREDENTIALS[1],
        resource_owner_key=CREDENTIALS[2],
        resource_owner_secret=CREDENTIALS[3],
        decoding=None,
    )
    with requests.Session() as session:
        five = session.post(
            f"{fake.base_url}/2/tweets",
            auth=auth,
            json={"text": "Five", "media": {"media_ids": ["1"] * 5}},
        )
        bare = session.post(f"{fake.base_url}/2/tweets", json={"text": "No credentials"})
        wrong = session.post(
            f"{fake.base_url}/2/media/upload",
            auth=auth,
            files={"media": ("a.png", png_magic())},
            data={"media_category": "tweet_video"},
        )
    assert (five.status_code, bare.status_code, wrong.status_code) == (400, 401, 400)
    assert fake.writes == 0
    assert len(fake.mismatches) == 3
    assert fake.mismatches[0].startswith("request POST /2/tweets: Request body validation error")
    assert "is too long" in fake.mismatches[0]
    assert fake.mismatches[1].startswith(
        "request POST /2/tweets: SecurityValidationError: Security not found"
    )
    assert "'tweet_video' is not one of" in fake.mismatches[2]
    fake.mismatches.clear()  # expected here; any other test fails on them


def png_magic() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.mark.spec
def test_the_fake_enforces_the_rules_x_documents(x_fake_server: XFake) -> None:
    fake = x_fake_server
    auth = OAuth1(
        CREDENTIALS[0],
        client_secret=CREDENTIALS[1],
        resource_owner_key=CREDENTIALS[2],
        resource_owner_secret=CREDENTIALS[3],
        decoding=None,
    )
    with requests.Session() as session:

        def tweet(body: dict[str, Any]) -> tuple[int, Any]:
            answer = session.post(f"{fake.base_url}/2/tweets", auth=auth, json=body)
            return answer.status_code, answer.json().get("detail")

        link = " https://example.com/" + "x" * 300  # any link weighs 23
        assert tweet({"text": "界" * 140}) == (201, None)  # weight 2 each: exactly 280
        assert tweet({"text": "界" * 141})[0] == 403
        assert tweet({"text": "a" * 256 + link}) == (201, None)  # 256 + 1 + 23 = 280
        assert tweet({"text": "b" * 257 + link})[0] == 403
        assert tweet({"text": "Pic", "media": {"media_ids": ["42"]}}) == (
            400,
            "One or more parameters to your request was invalid.",
        )
        assert tweet({"text": "Reply", "reply": {"in_reply_to_tweet_id": "77"}}) == (
            403,
            "You attempted to reply to a Tweet that is deleted or not visible to you.",
        )
    assert fake.writes == 2
    assert fake.mismatches == []
