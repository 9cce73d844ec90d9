"""BlueskyClient against a real PDS on loopback (marker pds), plus its offline parts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from atproto import Client, models

from bot.errors import CredentialError, PublishError, UnknownOutcome
from bot.publish.base import Image, PostContent, Ref
from bot.publish.bluesky import POST_COLLECTION, BlueskyClient, TidClock, encode_tid
from bot.settings import AccountConfig

PASSWORD_ENV = "CITYCRIER_TEST_BSKY_PASSWORD"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

# 📊 is 4 bytes in UTF-8 and 1 character: the link starts at character 36 but byte 39.
FIRST = "📊 311 calls last week: 1,204. Data: https://data.brla.gov/d/abcd-1234 #BatonRouge"


# -- offline ------------------------------------------------------------------------------


def test_encode_tid_gives_base32_sortable_keys() -> None:
    assert encode_tid(0, 0) == "2222222222222"
    assert encode_tid(1_700_000_000_000_000, 7) == "3ke6kg3wk222b"


def test_tid_clock_never_repeats_within_a_microsecond() -> None:
    clock = TidClock(clock_id=5, now_micros=lambda: 1_700_000_000_000_000)
    assert [clock.next() for _ in range(3)] == ["3ke6kg3wk2227", "3ke6kg3wk2327", "3ke6kg3wk2427"]


def test_missing_app_password_is_a_credential_error(tmp_path: Path) -> None:
    client = BlueskyClient(account("http://localhost:1"), tmp_path, env={})
    with pytest.raises(CredentialError) as caught:
        client.login()
    assert str(caught.value) == (
        "bluesky account 'cityhall': environment variable CITYCRIER_TEST_BSKY_PASSWORD is not "
        "set (set it in the environment or in .env)"
    )


def test_image_over_a_million_bytes_is_refused_before_upload(
    tmp_path: Path, sdk: Any, png: Any
) -> None:
    client = BlueskyClient(account("http://localhost:1"), tmp_path, env={}, client_factory=sdk)
    big = Image(png(4, 3, pad_to=1_000_001), "A chart", 4, 3)
    assert len(big.png) == 1_000_001
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("Hi", (big,)), key="3ke6kg3wk2227", root=None, parent=None)
    assert caught.value.final
    assert str(caught.value) == (
        "bluesky: image 1 is 1,000,001 bytes; Bluesky takes at most 1,000,000 "
        "(draw the chart smaller)"
    )
    assert sdk.calls == {}  # nothing reached the SDK: no login, no upload


def test_unreachable_pds_is_a_retryable_error(tmp_path: Path, sdk: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    client = BlueskyClient(account(url), tmp_path, env={PASSWORD_ENV: "pw"}, client_factory=sdk)
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("Hi"), key="3ke6kg3wk2227", root=None, parent=None)
    assert not caught.value.final
    assert not isinstance(caught.value, UnknownOutcome)
    assert str(caught.value) == f"bluesky: could not reach {url} to log in (try again later)"


def closed_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- against the PDS ----------------------------------------------------------------------


def account(service: str, handle: str = "cityhall.test") -> AccountConfig:
    return AccountConfig(
        name="cityhall",
        platform="bluesky",
        handle=handle,
        service=service,
        app_password_env=PASSWORD_ENV,
    )


def bluesky(pds: Any, state: Path, sdk: Any, password: str | None = None) -> BlueskyClient:
    env = {PASSWORD_ENV: pds.password if password is None else password}
    return BlueskyClient(account(pds.url), state, env=env, client_factory=sdk)


def reader(pds: Any) -> Client:
    client = Client(pds.url)
    client.login(pds.handle, pds.password, fetch_bsky_profile=False)
    return client


def records(pds: Any, keys: list[str]) -> list[Any]:
    """Our records as listRecords gives them (newest first), only those with ``keys``."""
    client = reader(pds)
    try:
        page = client.com.atproto.repo.list_records(
            models.ComAtprotoRepoListRecords.Params(
                repo=pds.did, collection=POST_COLLECTION, limit=100
            )
        )
    finally:
        client.request.close()
    return [r for r in page.records if r.uri.rsplit("/", 1)[1] in keys]


@pytest.mark.pds
def test_thread_with_images_is_written_in_order_and_chained(
    pds: Any, tmp_path: Path, sdk: Any, png: Any
) -> None:
    client = bluesky(pds, tmp_path, sdk)
    assert client.login() == "cityhall.test"
    chart_a, chart_b, chart_c = png(4, 3), png(6, 2), png(5, 5)
    thread = [
        PostContent(
            FIRST,
            (
                Image(chart_a, "Bar chart: potholes 212", 4, 3),
                Image(chart_b, "Line chart: calls per day", 6, 2),
            ),
        ),
        PostContent(
            "Most common: potholes (212), missed trash (180), streetlights (95).",
            (Image(chart_c, "Bar chart: top three requests", 5, 5),),
        ),
        PostContent("That is up 12% from the week before."),
        PostContent("Questions? Call 311."),
    ]
    refs: list[Ref] = []
    for content in thread:
        key = client.new_key()
        parent = refs[-1] if refs else None
        ref = client.create_post(content, key=key, root=refs[0] if refs else None, parent=parent)
        assert ref.id == key
        assert ref.uri == f"at://{pds.did}/app.bsky.feed.post/{key}"
        refs.append(ref)

    keys = [r.id for r in refs]
    assert keys == sorted(keys)
    listed = records(pds, keys)
    assert [r.uri for r in reversed(listed)] == [r.uri for r in refs]  # the PDS's order
    assert [r.cid for r in reversed(listed)] == [r.cid for r in refs]
    posts = [r.value for r in reversed(listed)]

    assert [p.text for p in posts] == [c.text for c in thread]
    assert posts[0].reply is None
    for post in posts[1:]:
        assert (post.reply.root.uri, post.reply.root.cid) == (refs[0].uri, refs[0].cid)
    for post, parent in zip(posts[1:], refs, strict=False):
        assert (post.reply.parent.uri, post.reply.parent.cid) == (parent.uri, parent.cid)

    images = [p.embed.images if p.embed else [] for p in posts]
    assert [len(i) for i in images] == [2, 1, 0, 0]
    assert [
        (i.alt, i.aspect_ratio.width, i.aspect_ratio.height) for i in images[0] + images[1]
    ] == [
        ("Bar chart: potholes 212", 4, 3),
        ("Line chart: calls per day", 6, 2),
        ("Bar chart: top three requests", 5, 5),
    ]
    assert [(i.image.mime_type, i.image.size) for i in images[0]] == [
        ("image/png", len(chart_a)),
        ("image/png", len(chart_b)),
    ]

    facets = [
        (
            f.index.byte_start,
            f.index.byte_end,
            f.features[0].py_type,
            getattr(f.features[0], "uri", None) or getattr(f.features[0], "tag", None),
        )
        for f in posts[0].facets
    ]
    assert facets == [
        (39, 72, "app.bsky.richtext.facet#link", "https://data.brla.gov/d/abcd-1234"),
        (73, 84, "app.bsky.richtext.facet#tag", "BatonRouge"),
    ]
    assert FIRST.encode()[39:72] == b"https://data.brla.gov/d/abcd-1234"
    assert FIRST.encode()[73:84] == b"#BatonRouge"
    assert posts[1].facets is None
    assert sdk.count("com.atproto.repo.createRecord") == 4
    assert sdk.count("com.atproto.repo.uploadBlob") == 3


@pytest.mark.pds
def test_graphemes_not_characters_are_what_the_pds_counts(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    client = bluesky(pds, tmp_path, sdk)
    thumbs = "👍🏽" * 300  # 300 graphemes, 600 code points, 2,400 bytes: accepted
    ref = client.create_post(PostContent(thumbs), key=client.new_key(), root=None, parent=None)
    assert client.find_post(PostContent(thumbs), key=ref.id, parent=None, since=SINCE) == ref

    key = client.new_key()
    with pytest.raises(PublishError) as caught:
        client.create_post(PostContent("a" * 301), key=key, root=None, parent=None)
    assert caught.value.final
    assert str(caught.value) == (
        f"bluesky: the PDS refused to post {key}: InvalidRequest: Invalid app.bsky.feed.post "
        "record: grapheme too big (maximum 300, got 301) at $.record.text "
        "(fix the post or the account, then publish again)"
    )
    assert client.find_post(PostContent("a" * 301), key=key, parent=None, since=SINCE) is None


@pytest.mark.pds
def test_find_post_finds_a_written_key_and_not_an_unwritten_one(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    client = bluesky(pds, tmp_path, sdk)
    content = PostContent("Written once.")
    ref = client.create_post(content, key=client.new_key(), root=None, parent=None)
    assert client.find_post(content, key=ref.id, parent=None, since=SINCE) == ref
    assert client.find_post(content, key=client.new_key(), parent=None, since=SINCE) is None


@pytest.mark.pds
def test_lost_answer_is_an_unknown_outcome_that_find_post_settles(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    client = bluesky(pds, tmp_path, sdk)
    root = client.create_post(PostContent("Root."), key=client.new_key(), root=None, parent=None)
    key = client.new_key()
    sdk.fail_after_create = True  # the PDS writes it; the answer is lost
    with pytest.raises(UnknownOutcome) as caught:
        client.create_post(PostContent("Reply."), key=key, root=root, parent=root)
    assert str(caught.value) == (
        f"bluesky: post {key}: no answer in time; it may or may not have been written "
        "(citycrier asks the PDS before writing again)"
    )
    found = client.find_post(PostContent("Reply."), key=key, parent=root, since=SINCE)
    assert found is not None and found.id == key
    assert found.uri == f"at://{pds.did}/app.bsky.feed.post/{key}"
    (record,) = records(pds, [key])
    assert record.cid == found.cid
    assert record.value.reply.parent.uri == root.uri

    # Writing the same key again (a retry that did not ask first) is refused by the PDS
    # with a 500: still unknown to the client, and the post exists exactly once.
    with pytest.raises(UnknownOutcome) as again:
        client.create_post(PostContent("Reply."), key=key, root=root, parent=root)
    assert str(again.value) == (
        f"bluesky: post {key}: server error 500; it may or may not have been written "
        "(citycrier asks the PDS before writing again)"
    )
    assert len(records(pds, [key])) == 1


@pytest.mark.pds
def test_saved_session_is_reused_without_a_new_login(pds: Any, tmp_path: Path, sdk: Any) -> None:
    first = bluesky(pds, tmp_path, sdk)
    assert first.login() == "cityhall.test"
    assert sdk.count("com.atproto.server.createSession") == 1
    saved = tmp_path / "sessions" / "bluesky-cityhall.session"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert pds.password not in saved.read_text()

    second = bluesky(pds, tmp_path, sdk)
    assert second.login() == "cityhall.test"
    second.create_post(
        PostContent("Posted on a saved session."), key=second.new_key(), root=None, parent=None
    )
    assert sdk.count("com.atproto.server.createSession") == 1  # still the first one
    assert sdk.count("com.atproto.repo.createRecord") == 1


@pytest.mark.pds
def test_invalid_saved_session_means_exactly_one_new_login(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    bluesky(pds, tmp_path, sdk).login()
    saved = tmp_path / "sessions" / "bluesky-cityhall.session"
    handle, did, access, refresh, endpoint = saved.read_text().split(":::")
    head, payload, _signature = access.split(".")
    saved.write_text(":::".join([handle, did, f"{head}.{payload}.AAAA", refresh, endpoint]))

    client = bluesky(pds, tmp_path, sdk)
    assert client.login() == "cityhall.test"
    assert (
        sdk.count("com.atproto.server.createSession") == 2
    )  # the first login and exactly one more
    assert sdk.count("com.atproto.server.refreshSession") == 0
    assert f"{head}.{payload}.AAAA" not in saved.read_text()
    client.create_post(
        PostContent("After a refused session."), key=client.new_key(), root=None, parent=None
    )
    assert sdk.count("com.atproto.server.createSession") == 2


@pytest.mark.pds
def test_expired_access_token_is_refreshed_and_saved_without_a_login(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    bluesky(pds, tmp_path, sdk).login()
    saved = tmp_path / "sessions" / "bluesky-cityhall.session"
    handle, did, access, refresh, endpoint = saved.read_text().split(":::")
    stale = expire(access, pds.jwt_secret, int(time.time()) - 3600)
    saved.write_text(":::".join([handle, did, stale, refresh, endpoint]))

    client = bluesky(pds, tmp_path, sdk)
    assert client.login() == "cityhall.test"
    assert sdk.count("com.atproto.server.refreshSession") == 1
    assert sdk.count("com.atproto.server.createSession") == 1  # only the very first login
    fresh = saved.read_text().split(":::")
    assert fresh[2] != stale and fresh[3] != refresh  # the refreshed pair was saved
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


@pytest.mark.pds
def test_expired_saved_session_means_exactly_one_new_login(
    pds: Any, tmp_path: Path, sdk: Any
) -> None:
    bluesky(pds, tmp_path, sdk).login()
    saved = tmp_path / "sessions" / "bluesky-cityhall.session"
    handle, did, access, refresh, endpoint = saved.read_text().split(":::")
    past = int(time.time()) - 3600
    expired = [expire(access, pds.jwt_secret, past), expire(refresh, pds.jwt_secret, past)]
    saved.write_text(":::".join([handle, did, *expired, endpoint]))

    client = bluesky(pds, tmp_path, sdk)
    assert client.login() == "cityhall.test"
    assert (
        sdk.count("com.atproto.server.refreshSession") == 1
    )  # the SDK tried the refresh token first
    assert (
        sdk.count("com.atproto.server.createSession") == 2
    )  # then exactly one login with the password
    assert expired[0] not in saved.read_text()


@pytest.mark.pds
def test_wrong_password_says_which_variable_to_fix(pds: Any, tmp_path: Path, sdk: Any) -> None:
    client = bluesky(pds, tmp_path, sdk, password="not-the-password")
    with pytest.raises(PublishError) as caught:
        client.login()
    assert caught.value.final
    assert str(caught.value) == (
        f"bluesky: account 'cityhall' (cityhall.test): {pds.url} refused the handle or app "
        "password (check CITYCRIER_TEST_BSKY_PASSWORD: it must be an app password of "
        "cityhall.test, made under Settings > Privacy and security > App passwords)"
    )
    assert "not-the-password" not in str(caught.value)
    assert not (tmp_path / "sessions" / "bluesky-cityhall.session").exists()


@pytest.mark.pds
def test_delete_removes_the_record(pds: Any, tmp_path: Path, sdk: Any) -> None:
    client = bluesky(pds, tmp_path, sdk)
    content = PostContent("To be retracted.")
    ref = client.create_post(content, key=client.new_key(), root=None, parent=None)
    client.delete_post(ref)
    assert client.find_post(content, key=ref.id, parent=None, since=SINCE) is None
    assert records(pds, [ref.id]) == []
    client.delete_post(ref)  # already gone: fine
    assert sdk.count("com.atproto.repo.deleteRecord") == 2


def expire(token: str, secret: str, exp: int) -> str:
    """The same JWT with ``exp`` (and ``iat``) moved to the past, signed again (HS256)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(exp=exp, iat=exp - 60)
    body = f"{head}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(signature)}"
