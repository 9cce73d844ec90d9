"""The plain-voice filters: exact words from fixed figures."""

from __future__ import annotations

import doctest
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import jinja2
import pytest

from bot import voice
from bot.voice import (
    approx,
    change,
    day,
    join_and,
    month,
    number,
    one_in,
    ordinal,
    percent,
    plural,
    register_filters,
    short_month,
    span,
)

NAN = float("nan")


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(voice)
    assert result.attempted >= 12  # at least one example per filter
    assert result.failed == 0


# --- number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0,), "0"),
        ((1,), "1"),
        ((-1,), "-1"),
        ((999,), "999"),
        ((1234,), "1,234"),
        ((-1234,), "-1,234"),
        ((1234567890,), "1,234,567,890"),
        ((10**21,), "1,000,000,000,000,000,000,000"),
        ((1e20,), "100,000,000,000,000,000,000"),
        ((1234.5,), "1,235"),
        ((-1234.5,), "-1,235"),
        ((2.5,), "3"),
        ((0.5,), "1"),
        ((0.4,), "0"),
        ((-0.4,), "0"),
        ((12.345, 1), "12.3"),
        ((12.35, 1), "12.4"),
        ((0.125, 2), "0.13"),
        ((1234567.891, 2), "1,234,567.89"),
        ((5, 1), "5.0"),
        ((0, 2), "0.00"),
        ((Decimal("2.5"),), "3"),
        ((None,), "no figure"),
        ((NAN,), "no figure"),
    ],
)
def test_number(args: tuple, expected: str) -> None:
    assert number(*args) == expected


def test_number_refuses_text_and_negative_digits() -> None:
    with pytest.raises(TypeError, match="number: expected a number, got str '12'"):
        number("12")
    with pytest.raises(ValueError, match="digits must be 0 or more"):
        number(12, -1)


# --- approx -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0"),
        (1, "1"),
        (56, "56"),
        (-56, "-56"),
        (56.4, "56"),
        (99, "99"),
        (100, "100"),
        (618, "about 620"),
        (1234, "about 1,200"),
        (1200, "1,200"),
        (1200.0, "1,200"),
        (1250, "about 1,300"),
        (-1234, "about -1,200"),
        (-1200, "-1,200"),
        (45626, "about 46,000"),
        (999_499, "about 1 million"),
        (1_000_000, "1 million"),
        (1_234_567, "about 1.2 million"),
        (12_345_678, "about 12 million"),
        (123_456_789, "about 120 million"),
        (3_000_000, "3 million"),
        (2_999_999, "about 3 million"),
        (-3_000_000, "-3 million"),
        (-1_234_567, "about -1.2 million"),
        (1_000_000_000, "1 billion"),
        (1_260_000_000, "about 1.3 billion"),
        (45_000_000_000, "45 billion"),
        (None, "no figure"),
        (NAN, "no figure"),
    ],
)
def test_approx(n: object, expected: str) -> None:
    assert approx(n) == expected


# --- change -----------------------------------------------------------------------------

WEEK = "the week before"


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (112, 100, "up 12% from the week before"),
        (95, 100, "down 5% from the week before"),
        (100, 100, "about the same as the week before"),
        (101, 100, "about the same as the week before"),
        (98.6, 100, "about the same as the week before"),
        (101.5, 100, "up 2% from the week before"),
        (98.5, 100, "down 2% from the week before"),
        (150.5, 100, "up 51% from the week before"),
        (199.6, 100, "up 100% from the week before"),
        (51, 100, "down 49% from the week before"),
        (200, 100, "double the week before"),
        (250, 100, "more than double the week before"),
        (299, 100, "more than double the week before"),
        (300, 100, "3 times the week before"),
        (340, 100, "about 3 times the week before"),
        (350, 100, "about 4 times the week before"),
        (0.3, 0.1, "3 times the week before"),
        (12_345_678, 1000, "about 12,346 times the week before"),
        (50, 100, "half the week before"),
        (49, 100, "less than half the week before"),
        (1, 1_000_000, "less than half the week before"),
        (0, 34, "none, down from 34 the week before"),
        (0, 12345, "none, down from 12,345 the week before"),
        (5, 0, "up from none the week before"),
        (0, 0, "none, the same as the week before"),
        (5, None, "with no figure from the week before to compare"),
        (5, NAN, "with no figure from the week before to compare"),
        (None, 5, "no figure to compare with the week before"),
        (None, None, "no figure to compare with the week before"),
        (-5, 10, "down 15 from 10 the week before"),
        (5, -10, "up 15 from -10 the week before"),
        (-10, -10, "the same as the week before"),
        (-1500, 0, "down 1,500 from 0 the week before"),
        (1_234_567_890, 1_000_000_000, "up 23% from the week before"),
    ],
)
def test_change(value: object, previous: object, expected: str) -> None:
    assert change(value, previous, WEEK) == expected


def test_change_default_wording() -> None:
    assert change(112, 100) == "up 12% from the period before"


# --- one_in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (0, 10, "none"),
        (10, 10, "all"),
        (1, 1, "all"),
        (96, 100, "nearly all"),
        (95, 100, "about 9 in 10"),
        (93, 100, "about 9 in 10"),
        (90, 100, "9 in 10"),
        (25, 100, "1 in 4"),
        (1, 2, "1 in 2"),
        (30, 100, "3 in 10"),
        (21, 100, "about 1 in 5"),
        (66, 100, "about 2 in 3"),
        (29, 100, "about 2 in 7"),
        (9, 100, "about 1 in 10"),
        (528, 1000, "about 1 in 2"),
        (1, 120, "1 in 120"),
        (37, 4412, "about 1 in 119"),
        (3, 1_000_000, "about 1 in 333,333"),
        (1, 10**12, "1 in 1,000,000,000,000"),
        (0.5, 2, "1 in 4"),
        (1, 0, "no figure"),
        (1, -5, "no figure"),
        (None, 5, "no figure"),
        (5, None, "no figure"),
        (NAN, 5, "no figure"),
    ],
)
def test_one_in(part: object, whole: object, expected: str) -> None:
    assert one_in(part, whole) == expected


@pytest.mark.parametrize(("part", "whole"), [(-1, 10), (11, 10)])
def test_one_in_refuses_a_part_outside_the_whole(part: int, whole: int) -> None:
    with pytest.raises(ValueError, match="must be between 0 and whole"):
        one_in(part, whole)


# --- percent ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0,), "0%"),
        ((1,), "100%"),
        ((-0.05,), "-5%"),
        ((0.1234,), "12%"),
        ((0.1234, 1), "12.3%"),
        ((0.125,), "13%"),
        ((0.005,), "1%"),
        ((0.004,), "0%"),
        ((12.5,), "1,250%"),
        ((None,), "no figure"),
        ((NAN, 1), "no figure"),
    ],
)
def test_percent(args: tuple, expected: str) -> None:
    assert percent(*args) == expected


# --- plural -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, "request"), "0 requests"),
        ((1, "request"), "1 request"),
        ((-1, "request"), "-1 requests"),
        ((2, "request"), "2 requests"),
        ((1234, "request"), "1,234 requests"),
        ((10**12, "dollar"), "1,000,000,000,000 dollars"),
        ((1.2, "ton"), "1 ton"),
        ((2, "city"), "2 cities"),
        ((2, "day"), "2 days"),
        ((2, "bus"), "2 buses"),
        ((2, "box"), "2 boxes"),
        ((2, "church"), "2 churches"),
        ((2, "bush"), "2 bushes"),
        ((3, "rat extermination visit"), "3 rat extermination visits"),
        ((2, "person", "people"), "2 people"),
        ((1, "person", "people"), "1 person"),
        ((None, "request"), "no figure"),
    ],
)
def test_plural(args: tuple, expected: str) -> None:
    assert plural(*args) == expected


# --- join_and ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b"], "a and b"),
        (["a", "b", "c"], "a, b and c"),
        ([1, 2, 3, 4], "1, 2, 3 and 4"),
        (("potholes", "rats"), "potholes and rats"),
        ((w for w in ["x", "y", "z"]), "x, y and z"),
        ([None, 0], "None and 0"),
    ],
)
def test_join_and(items: object, expected: str) -> None:
    assert join_and(items) == expected  # type: ignore[arg-type]


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((date(2019, 10, 21),), "Monday, Oct. 21"),
        ((date(2019, 10, 21), True), "Monday, Oct. 21, 2019"),
        ((datetime(2019, 9, 3, 23, 30, tzinfo=ZoneInfo("America/New_York")),), "Tuesday, Sept. 3"),
        (("2019-05-01",), "Wednesday, May 1"),
        ((date(2019, 1, 1),), "Tuesday, Jan. 1"),
        ((date(2019, 2, 1),), "Friday, Feb. 1"),
        ((date(2019, 3, 1),), "Friday, March 1"),
        ((date(2019, 4, 1),), "Monday, April 1"),
        ((date(2019, 6, 30),), "Sunday, June 30"),
        ((date(2019, 7, 4),), "Thursday, July 4"),
        ((date(2019, 8, 1),), "Thursday, Aug. 1"),
        ((date(2019, 11, 1),), "Friday, Nov. 1"),
        ((date(2019, 12, 31), True), "Tuesday, Dec. 31, 2019"),
        ((None,), "no date"),
    ],
)
def test_day(args: tuple, expected: str) -> None:
    assert day(*args) == expected


def test_day_refuses_a_number() -> None:
    with pytest.raises(TypeError, match="day: expected a date, got int 20191021"):
        day(20191021)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((date(2026, 10, 5),), "October"),
        ((date(2026, 10, 5), True), "October 2026"),
        ((datetime(2026, 1, 31, 12),), "January"),
        ((None,), "no date"),
    ],
)
def test_month(args: tuple, expected: str) -> None:
    assert month(*args) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 1, 1), "Jan"),
        (date(2026, 6, 1), "Jun"),
        (date(2026, 7, 1), "Jul"),
        (date(2026, 9, 1), "Sep"),
        (date(2026, 10, 1), "Oct"),
        (None, "no date"),
    ],
)
def test_short_month(d: object, expected: str) -> None:
    assert short_month(d) == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2019, 10, 19), date(2019, 10, 25), "Oct. 19\u201325"),
        (date(2019, 10, 31), date(2019, 11, 1), "Oct. 31\u2013Nov. 1"),
        (date(2025, 12, 29), date(2026, 1, 4), "Dec. 29, 2025\u2013Jan. 4, 2026"),
        (date(2019, 10, 21), date(2019, 10, 21), "Oct. 21"),
        (date(2019, 3, 1), date(2019, 3, 31), "March 1\u201331"),
        (datetime(2019, 10, 19, 8), datetime(2019, 10, 25, 22), "Oct. 19\u201325"),
        (None, date(2019, 10, 21), "no date"),
        (date(2019, 10, 21), None, "no date"),
    ],
)
def test_span(first: object, last: object, expected: str) -> None:
    assert span(first, last) == expected


def test_span_refuses_a_backwards_range() -> None:
    with pytest.raises(ValueError, match="first day 2019-10-25 is after last day 2019-10-19"):
        span(date(2019, 10, 25), date(2019, 10, 19))


# --- ordinal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0th"),
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (101, "101st"),
        (111, "111th"),
        (112, "112th"),
        (113, "113th"),
        (1001, "1,001st"),
        (1_000_011, "1,000,011th"),
        (-1, "-1st"),
        (-12, "-12th"),
        (3.0, "3rd"),
        (None, "no figure"),
    ],
)
def test_ordinal(n: object, expected: str) -> None:
    assert ordinal(n) == expected


def test_ordinal_refuses_a_fraction() -> None:
    with pytest.raises(ValueError, match="ordinal: expected a whole number, got 2.5"):
        ordinal(2.5)


# --- in a template ----------------------------------------------------------------------


def test_register_filters_makes_them_usable_in_templates() -> None:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    register_filters(env)
    template = env.from_string(
        "{{ total|number }} requests ({{ total|approx }}) "
        "{{ first|day }}, {{ total|change(previous, versus) }}. Rats: {{ rats|one_in(total) }}, "
        "{{ one_in(rats, total) }}, {{ (rats / total)|percent(1) }}. "
        "{{ change(0, previous, versus) }}. {{ kinds|join_and }}; {{ 3|plural('alley') }}; "
        "{{ rank|ordinal }}; {{ first|span(last) }}; {{ first|month(year=true) }}; "
        "{{ first|short_month }}"
    )
    text = template.render(
        total=1234,
        previous=1100,
        versus=WEEK,
        rats=250,
        kinds=["rats", "potholes", "alleys"],
        rank=2,
        first=date(2019, 10, 14),
        last=date(2019, 10, 20),
    )
    assert text == (
        "1,234 requests (about 1,200) Monday, Oct. 14, up 12% from the week before. "
        "Rats: about 1 in 5, about 1 in 5, 20.3%. none, down from 1,100 the week before. "
        "rats, potholes and alleys; 3 alleys; 2nd; Oct. 14\u201320; October 2019; Oct"
    )
