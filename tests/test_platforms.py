"""The platform registry, and Mastodon's length rule against Mastodon's documented counting.

Mastodon (app/validators/status_length_validator.rb) counts grapheme clusters
(``each_grapheme_cluster``) after replacing every URL with a protocol by 23 characters
(``URL_PLACEHOLDER``; twitter-text's extractor with ``extract_url_without_protocol: false``)
and every mention ``@user@domain`` by ``@user``: "All links count as 23 characters ... the
domain part of a mention is not counted" (docs.joinmastodon.org/user/posting).
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot import platforms
from bot.limits import split_thread
from bot.platforms import (
    REGISTRY,
    Measurement,
    label,
    names,
    platform,
    post_limits,
    save_limits,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme
FLAG = "\U0001f1fa\U0001f1f8"  # one grapheme, two code points
LONG_URL = "https://data.baltimorecity.gov/datasets/311-customer-service-requests-2026/" + (
    "about?" + "x" * 100)


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(platforms).failed == 0


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Hello, Baltimore", 16),
        ("https://t.co", 23),  # a short URL counts 23 too
        (LONG_URL, 23),  # a long one counts 23
        ("See " + LONG_URL + " today", 4 + 23 + 6),
        ("two https://a.org/x and http://b.org/y", 4 + 23 + 5 + 23),
        ("data.brla.gov/d/7ixm-mnvx", 25),  # no protocol: counted as written
        ("(https://example.org/a).", 1 + 23 + 2),  # the closing punctuation is not the URL's
        ("@cityhall@city.social thanks", 9 + 7),  # a mention counts its username only
        ("@cityhall thanks", 16),  # a local mention as written
        ("cc @a_b.c@mastodon.social, @x-y@z.example", 3 + 6 + 2 + 4),
        ("mail info@city.gov", 18),  # an e-mail address is not a mention
        ("📊 1,204 calls", 1 + 12),  # an emoji is one character
        (FAMILY * 3, 3),  # a ZWJ family is one grapheme
        (FLAG + " USA", 5),  # a flag is one grapheme
        ("e\u0301te\u0301", 3),  # combining accents belong to their letter
        ("東京の311件", 7),  # CJK: one each (X weighs these 2)
        ("서울 311", 6),
    ],
)
def test_mastodon_length_table(text: str, length: int) -> None:
    assert platform("mastodon").measure(text) == Measurement(
        "mastodon", length, 500, "characters", True)


@pytest.mark.parametrize(
    ("text", "limit", "length", "ok"),
    [
        ("x" * 500, None, 500, True),
        ("x" * 501, None, 501, False),
        ("x" * 501, 1000, 501, True),  # an instance with its own limit
        ("東" * 1000, 1000, 1000, True),
        (FAMILY * 500 + "!", None, 501, False),
        ("x" * 477 + " " + LONG_URL, None, 501, False),
        ("x" * 476 + " " + LONG_URL, None, 500, True),
        ("", None, 0, False),  # an empty post is not ok
        ("   ", None, 3, False),
    ],
)
def test_mastodon_limits(text: str, limit: int | None, length: int, ok: bool) -> None:
    m = platform("mastodon").measure(text, limit)
    assert (m.length, m.limit, m.ok) == (length, limit or 500, ok)


def test_splitting_for_mastodon_uses_the_instance_limit() -> None:
    text = " ".join(["Word."] * 150)  # 899 characters
    assert len(split_thread([text], "mastodon", numbering=False)) == 2
    assert split_thread([text], "mastodon", numbering=False, limit=1000) == [text]
    pieces = split_thread([text], "mastodon", numbering=True, limit=300)
    assert [p[-4:] for p in pieces] == ["\n1/4", "\n2/4", "\n3/4", "\n4/4"]
    assert all(platform("mastodon").measure(p, 300).ok for p in pieces)


def test_the_registry_names_every_platform_once() -> None:
    assert names() == ("x", "bluesky", "mastodon")
    assert [label(n) for n in names()] == ["X", "Bluesky", "Mastodon"]
    assert label("myspace") == "myspace"
    assert {n: (p.limit, p.max_images, p.account_keys) for n, p in REGISTRY.items()} == {
        "x": (280, 4, ("consumer_key_env", "consumer_secret_env", "access_token_env",
                       "access_token_secret_env")),
        "bluesky": (300, 4, ("app_password_env",)),
        "mastodon": (500, 4, ("api_base", "access_token_env"))}
    with pytest.raises(ValueError, match="unknown platform 'myspace': expected one of "
                                         "bluesky, mastodon, x"):
        platform("myspace")


def test_post_urls() -> None:
    assert platform("x").post_url("1860000000000000001", "") == (
        "https://x.com/i/web/status/1860000000000000001")
    assert platform("bluesky").post_url("3kabc", "at://did:plc:abc/app.bsky.feed.post/3kabc") \
        == "https://bsky.app/profile/did:plc:abc/post/3kabc"
    assert platform("mastodon").post_url("110", "https://city.social/@cityhall/110") == ""


def test_post_limits_read_what_the_account_saved(tmp_path: Path) -> None:
    from bot.settings import AccountConfig, Config

    accounts = {name: AccountConfig(name=name, platform="mastodon", api_base="https://a",
                                    access_token_env="T") for name in ("first", "second")}
    config = Config(path=tmp_path / "config.toml", root=tmp_path, timezone="UTC",
                    posts_dir=tmp_path, templates_dir=tmp_path, storage_url="sqlite://",
                    state_dir=tmp_path, outbox_dir=tmp_path, portals={}, accounts=accounts)
    assert post_limits(config)["mastodon"] == 500  # nothing saved yet: the default
    save_limits(tmp_path, "first", {"max_characters": 1000})
    save_limits(tmp_path, "second", {"max_characters": 5000})
    assert post_limits(config)["mastodon"] == 1000  # the platform's first account
    assert post_limits(config, ("second",))["mastodon"] == 5000  # the recipe's own account
    (tmp_path / "limits-first.json").write_text("{not json")
    assert post_limits(config)["mastodon"] == 500
    assert json.loads((tmp_path / "limits-second.json").read_text()) == {"max_characters": 5000}


def test_limits_stamp_names_each_saved_file_and_its_change(tmp_path: Path) -> None:
    from bot.platforms import limits_stamp

    assert limits_stamp(tmp_path / "none yet") == ()
    save_limits(tmp_path, "first", {"max_characters": 1000})
    (tmp_path / "sessions.json").write_text("{}")  # not a limits file
    stamp = limits_stamp(tmp_path)
    assert [(name, size) for name, _, _, size in stamp] == [("limits-first.json", 25)]
    save_limits(tmp_path, "first", {"max_characters": 50000})
    assert limits_stamp(tmp_path) != stamp


def test_measuring_imports_no_client_library() -> None:
    code = ("import sys; from bot.limits import measure_post; "
            "[measure_post('hi https://a.org', p) for p in ('x', 'bluesky', 'mastodon')]; "
            "print(sorted(m for m in ('tweepy', 'atproto', 'httpx', 'pandas', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == "[]\n"
