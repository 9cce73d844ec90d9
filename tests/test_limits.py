"""Length rules per platform: the official X conformance cases, Bluesky graphemes and bytes,
and splitting long text into posts that fit."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import limits
from bot.limits import (
    Measurement,
    count_graphemes,
    measure_post,
    number_posts,
    split_post,
    split_thread,
)

REPO = Path(__file__).resolve().parents[1]
VALIDATE_YML = REPO.parent / "shared/data/specs/twitter-text-validate.yml"

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 1 grapheme, 25 bytes
FLAG_US = "\U0001f1fa\U0001f1f8"  # 1 grapheme, 8 bytes
E_COMPOSED = "\u00e9"  # 1 grapheme, 2 bytes
E_DECOMPOSED = "e\u0301"  # 1 grapheme, 3 bytes
RAT = "\U0001f400"  # 1 grapheme, 4 bytes, weight 2 on X
MASK = "\U0001f637"


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(limits)
    assert result.attempted >= 6
    assert result.failed == 0


# --- X: the official twitter-text conformance cases ---------------------------------------
#
# validate.yml has three sections whose cases expect a `weightedLength`:
#   WeightedTweetsCounterTest                     -> twitter-text config version 2 (every
#                                                    code point of an emoji weighs 2)
#   WeightedTweetsWithDiscountedEmojiCounterTest  -> config version 3 (an emoji sequence
#                                                    weighs 2 in all), the count X uses today
#   UnicodeDirectionalMarkerCounterTest           -> version 3 (the same under 2 and 3)
# twitter-text-parser's parse_tweet defaults to version 3 (`config["defaults"]` is version 3
# with `emoji_parsing_enabled: True`), and measure_post uses that default, so the version 3
# sections are the conformance target: all their cases are run below. The version 2 section
# is left out: under version 3 two of its cases count differently by design ("Count a mix of
# single byte single word, and double word unicode characters": 7, not 16; "Count unicode
# emoji chars outside the basic multilingual plane with skin tone modifiers": 4, not 9).
VERSION_3_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)


def _conformance_cases() -> list[Any]:
    if not VALIDATE_YML.exists():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(reason=f"needs the conformance cases at {VALIDATE_YML}"),
                id="validate.yml missing",
            )
        ]
    tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(case, id=f"{section}: {case['description']}")
        for section in VERSION_3_SECTIONS
        for case in tests[section]
    ]


CONFORMANCE_CASES = _conformance_cases()


def test_conformance_sections_are_all_there() -> None:
    if not VALIDATE_YML.exists():
        pytest.skip(f"needs the conformance cases at {VALIDATE_YML}")
    assert len(CONFORMANCE_CASES) == 24  # 22 emoji cases + 2 directional-marker cases


@pytest.mark.spec
@pytest.mark.parametrize("case", CONFORMANCE_CASES)
def test_x_weighted_length_matches_twitter_text(case: dict[str, Any]) -> None:
    measured = measure_post(case["text"], "x")
    assert measured.length == case["expected"]["weightedLength"]
    assert measured.ok == case["expected"]["valid"]
    assert (measured.platform, measured.limit, measured.unit) == (
        "x",
        280,
        "weighted characters",
    )


@pytest.mark.parametrize(
    ("text", "length", "ok"),
    [
        ("", 0, False),
        ("a" * 280, 280, True),
        ("a" * 281, 281, False),
        ("\u6771\u4eac", 4, True),  # 東京
        (FAMILY, 2, True),
        (FLAG_US, 2, True),
        ("cafe\u0301", 4, True),  # NFC first: é is one code point
        ("See https://data.baltimorecity.gov/datasets/311-customer-service-requests now", 31, True),
        ("ABC\uffff", 5, False),  # an invalid character
    ],
)
def test_x_measurements(text: str, length: int, ok: bool) -> None:
    assert measure_post(text, "x") == Measurement("x", length, 280, "weighted characters", ok)


# --- Bluesky: 300 graphemes and 3,000 bytes ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("", 0),
        (FAMILY, 1),
        (E_COMPOSED, 1),
        (E_DECOMPOSED, 1),
        ("\u6771\u4eac", 2),
        (FLAG_US, 1),
        (FLAG_US * 2, 2),
        ("e\u0301te\u0301", 3),
    ],
)
def test_count_graphemes(text: str, graphemes: int) -> None:
    assert count_graphemes(text) == graphemes


@pytest.mark.parametrize(
    ("text", "length", "limit", "unit", "ok"),
    [
        ("", 0, 300, "graphemes", True),
        (FAMILY, 1, 300, "graphemes", True),
        (E_DECOMPOSED, 1, 300, "graphemes", True),
        ("\u6771\u4eac", 2, 300, "graphemes", True),
        (FLAG_US, 1, 300, "graphemes", True),
        ("a" * 300, 300, 300, "graphemes", True),
        ("a" * 301, 301, 300, "graphemes", False),
        (MASK * 300, 300, 300, "graphemes", True),  # 1,200 bytes
        (FAMILY * 300, 7500, 3000, "bytes", False),  # 300 graphemes fit, the bytes do not
        (FAMILY * 301, 301, 300, "graphemes", False),  # both broken: graphemes reported
        ("\u6771" * 1001, 1001, 300, "graphemes", False),  # 3,003 bytes too
        (FAMILY * 120, 120, 300, "graphemes", True),  # exactly 3,000 bytes
        (FAMILY * 121, 3025, 3000, "bytes", False),
        (FAMILY * 119 + E_COMPOSED * 12, 131, 300, "graphemes", True),  # 2,999 bytes
        (FAMILY * 119 + E_DECOMPOSED * 12, 3011, 3000, "bytes", False),
        (FAMILY * 119 + "\u6771\u4eac" * 4, 127, 300, "graphemes", True),  # 2,999 bytes
        (FAMILY * 119 + "\u6771\u4eac" * 5, 3005, 3000, "bytes", False),
        (FAMILY * 119 + FLAG_US * 3, 122, 300, "graphemes", True),  # 2,999 bytes
        (FAMILY * 119 + FLAG_US * 4, 3007, 3000, "bytes", False),
    ],
)
def test_bluesky_measurements(text: str, length: int, limit: int, unit: str, ok: bool) -> None:
    assert measure_post(text, "bluesky") == Measurement("bluesky", length, limit, unit, ok)


@pytest.mark.parametrize(
    "call",
    [
        lambda: measure_post("hi", "myspace"),
        lambda: split_post("hi", "myspace"),
        lambda: split_thread(["hi"], "myspace", numbering=True),
    ],
)
def test_unknown_platform_is_refused(call: Any) -> None:
    with pytest.raises(ValueError,
                       match="unknown platform 'myspace': expected one of bluesky, mastodon, x"):
        call()


# --- split_post -------------------------------------------------------------------------

S1 = "Baltimore residents made 1,234 requests to 311 last week, up 12% from the week before."
S2 = "The most common were rat extermination visits, dirty alleys and potholes."
S3 = "Rat visits alone made up about 1 in 5 of every request, more than double the week before."
S4 = "Thanks for reading, Baltimore."
REPORT = f"{S1} {S2} {S3} {S4}"  # 281 characters: too long for X, fine for Bluesky


def test_split_post_packs_sentences_for_x() -> None:
    assert split_post(REPORT, "x") == [
        "Baltimore residents made 1,234 requests to 311 last week, up 12% from the week before. "
        "The most common were rat extermination visits, dirty alleys and potholes. "
        "Rat visits alone made up about 1 in 5 of every request, more than double the week "
        "before.",
        "Thanks for reading, Baltimore.",
    ]


def test_split_post_leaves_a_fitting_text_alone() -> None:
    assert split_post(REPORT, "bluesky") == [REPORT]
    assert split_post("  Hello.  ", "x") == ["  Hello.  "]
    assert split_post("", "bluesky") == [""]


def test_split_post_cuts_a_long_sentence_between_words() -> None:
    text = "Sentence one is here. " + "word " * 70 + "end. Last one!"
    assert split_post(text, "x") == [
        "Sentence one is here. " + " ".join(["word"] * 51),  # 276: one more word makes 281
        " ".join(["word"] * 19) + " end. Last one!",
    ]


@pytest.mark.parametrize(
    ("platform", "reserve", "expected"),
    [
        ("x", 0, ["a" * 280, "a" * 280, "a" * 140]),
        ("x", 7, ["a" * 273, "a" * 273, "a" * 154]),
        ("bluesky", 0, ["a" * 300, "a" * 300, "a" * 100]),
        ("bluesky", 7, ["a" * 293, "a" * 293, "a" * 114]),
    ],
)
def test_split_post_hard_cuts_a_long_word(platform: str, reserve: int, expected: list[str]) -> None:
    assert split_post("a" * 700, platform, reserve) == expected


def test_split_post_weighs_wide_characters_on_x_only() -> None:
    assert split_post(RAT * 141, "x") == [RAT * 140, RAT]
    assert split_post("\u6771" * 141, "x") == ["\u6771" * 140, "\u6771"]
    assert split_post(RAT * 141, "bluesky") == [RAT * 141]


def test_split_post_never_cuts_inside_a_grapheme() -> None:
    assert split_post(E_DECOMPOSED * 301, "bluesky") == [E_DECOMPOSED * 300, E_DECOMPOSED]
    # X counts after NFC, so each e + accent weighs 1; the pieces keep the text as given.
    assert split_post(E_DECOMPOSED * 301, "x") == [E_DECOMPOSED * 280, E_DECOMPOSED * 21]


def test_split_post_on_bluesky_bytes() -> None:
    text = " ".join([FAMILY] * 150)  # 299 graphemes but 3,899 bytes
    assert split_post(text, "bluesky") == [
        " ".join([FAMILY] * 115),  # 2,989 bytes; 116 emoji would be 3,015
        " ".join([FAMILY] * 35),
    ]
    assert split_post(text, "x") == [
        " ".join([FAMILY] * 93),  # weight 278; 94 emoji would weigh 281
        " ".join([FAMILY] * 57),
    ]


def test_split_post_keeps_line_breaks_and_numbered_lines() -> None:
    text = "Top 311 requests last week:\n\n1. Rat visits: 120\n2. Potholes: 98\n3. Dirty alleys: 77"
    assert split_post(text, "bluesky", reserve=255) == [  # 45 graphemes to a post
        "Top 311 requests last week:",
        "1. Rat visits: 120\n2. Potholes: 98",
        "3. Dirty alleys: 77",
    ]


def test_split_post_does_not_end_a_sentence_at_an_abbreviation() -> None:
    text = "First sentence here. Then on Oct. 21 crews came."
    # 40 graphemes to a post: "First sentence here. Then on Oct." would fit, but is no sentence.
    assert split_post(text, "bluesky", reserve=260) == [
        "First sentence here.",
        "Then on Oct. 21 crews came.",
    ]


def test_split_post_breaks_at_questions_and_exclamations() -> None:
    text = "Why so many? Rats! Crews came."
    assert split_post(text, "bluesky", reserve=288) == ["Why so many?", "Rats!", "Crews came."]


def test_split_post_strips_whitespace_at_piece_edges() -> None:
    assert split_post("  " + "a" * 300 + "  ", "bluesky") == ["a" * 300]
    assert split_post("One.\n\n" + "b" * 300 + "\n", "bluesky") == ["One.", "b" * 300]


@pytest.mark.parametrize(("platform", "reserve"), [("x", -1), ("x", 280), ("bluesky", 300)])
def test_split_post_refuses_a_reserve_out_of_range(platform: str, reserve: int) -> None:
    with pytest.raises(ValueError, match="reserve must be from 0 to"):
        split_post("hello", platform, reserve)


# --- number_posts and split_thread ------------------------------------------------------


def test_number_posts() -> None:
    assert number_posts([]) == []
    assert number_posts(["Only one."]) == ["Only one."]
    assert number_posts(["One.", "Two.", "Three."]) == [
        "One.\n\n1/3",
        "Two.\n\n2/3",
        "Three.\n\n3/3",
    ]


def _assert_all_fit(posts: list[str], platform: str) -> None:
    assert all(measure_post(post, platform).ok for post in posts)


def test_split_thread_without_numbering() -> None:
    posts = split_thread(["Short.", "a" * 700], "bluesky", numbering=False)
    assert posts == ["Short.", "a" * 300, "a" * 300, "a" * 100]
    _assert_all_fit(posts, "bluesky")


def test_split_thread_numbers_and_keeps_room_for_the_counter() -> None:
    posts = split_thread(["Intro.", "a" * 300], "x", numbering=True)
    assert posts == ["Intro.\n\n1/3", "a" * 273 + "\n\n2/3", "a" * 27 + "\n\n3/3"]
    _assert_all_fit(posts, "x")


def test_split_thread_numbers_a_report_on_x_but_not_on_bluesky() -> None:
    x_posts = split_thread([REPORT], "x", numbering=True)
    assert x_posts == [
        f"{S1} {S2} {S3}\n\n1/2",
        "Thanks for reading, Baltimore.\n\n2/2",
    ]
    _assert_all_fit(x_posts, "x")
    assert split_thread([REPORT], "bluesky", numbering=True) == [REPORT]


def test_split_thread_leaves_a_single_fitting_post_unnumbered() -> None:
    assert split_thread(["x" * 278], "x", numbering=True) == ["x" * 278]
    assert split_thread([], "x", numbering=True) == []


def test_split_thread_splits_a_post_that_only_the_counter_would_overflow() -> None:
    posts = split_thread(["x" * 281], "x", numbering=True)
    assert posts == ["x" * 273 + "\n\n1/2", "x" * 8 + "\n\n2/2"]
    _assert_all_fit(posts, "x")


def test_split_thread_numbers_two_short_posts() -> None:
    assert split_thread(["One.", "Two."], "bluesky", numbering=True) == [
        "One.\n\n1/2",
        "Two.\n\n2/2",
    ]


def test_split_thread_of_a_hundred_posts_keeps_room_for_a_longer_counter() -> None:
    posts = split_thread(["a" * 30_000], "bluesky", numbering=True)
    # Room for "\n\n99/99" (7) gives 103 posts; "\n\n104/104" needs 9, so 291 per post.
    expected = [f"{'a' * 291}\n\n{k}/104" for k in range(1, 104)] + ["a" * 27 + "\n\n104/104"]
    assert posts == expected
    _assert_all_fit(posts, "bluesky")
