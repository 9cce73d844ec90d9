from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.periods import resolve_period, series_window

TZ = "America/Chicago"


def span(p):  # (first, last, key, label, versus)
    return (p.first_day.isoformat(), p.last_day.isoformat(), p.key, p.label, p.versus)


@pytest.mark.parametrize("name, as_of, now, before", [
    ("yesterday", date(2026, 11, 2),
     ("2026-11-01", "2026-11-01", "2026-11-01", "yesterday", "the day before"),
     ("2026-10-31", "2026-10-31", "2026-10-31", "the day before", "the day before")),
    ("last_weekend", date(2026, 11, 2),  # a Monday
     ("2026-10-31", "2026-11-01", "2026-10-31-weekend", "last weekend", "the weekend before"),
     ("2026-10-24", "2026-10-25", "2026-10-24-weekend", "the weekend before",
      "the weekend before")),
    ("last_weekend", date(2026, 11, 1),  # a Sunday: the weekend in progress is not complete
     ("2026-10-24", "2026-10-25", "2026-10-24-weekend", "last weekend", "the weekend before"),
     ("2026-10-17", "2026-10-18", "2026-10-17-weekend", "the weekend before",
      "the weekend before")),
    ("last_week", date(2026, 11, 4),
     ("2026-10-26", "2026-11-01", "2026-W44", "last week", "the week before"),
     ("2026-10-19", "2026-10-25", "2026-W43", "the week before", "the week before")),
    ("last_month", date(2026, 1, 15),
     ("2025-12-01", "2025-12-31", "2025-12", "in December", "the month before"),
     ("2025-11-01", "2025-11-30", "2025-11", "in November", "the month before")),
    ("year_to_date", date(2026, 3, 1),
     ("2026-01-01", "2026-02-28", "2026-ytd-02-28", "this year through February 28",
      "the same time last year"),
     ("2025-01-01", "2025-02-28", "2025-ytd-02-28", "in 2025 to February 28",
      "the same time last year")),
    ("year_to_date", date(2026, 1, 1),
     ("2025-01-01", "2025-12-31", "2025-ytd-12-31", "this year through December 31",
      "the same time last year"),
     ("2024-01-01", "2024-12-31", "2024-ytd-12-31", "in 2024 to December 31",
      "the same time last year")),
])
def test_periods_and_their_previous(name, as_of, now, before):
    p = resolve_period(name, as_of, TZ)
    assert span(p) == now
    assert span(p.previous) == before


def test_leap_day_year_to_date_compares_with_feb_28():
    p = resolve_period("year_to_date", date(2024, 3, 1), TZ)
    assert (p.last_day, p.previous.last_day) == (date(2024, 2, 29), date(2023, 2, 28))


def test_as_of_datetime_is_read_in_the_city_zone():
    # 03:30 UTC on Nov 2 is still Nov 1 in Chicago: yesterday is Oct 31 there
    p = resolve_period("yesterday", datetime(2026, 11, 2, 3, 30, tzinfo=ZoneInfo("UTC")), TZ)
    assert p.first_day == date(2026, 10, 31)


def test_bounds_are_local_midnights_across_dst():
    # the weekend of the November 2026 change: Nov 1 is 25 hours long in Chicago
    p = resolve_period("last_weekend", date(2026, 11, 2), TZ)
    assert p.start.isoformat() == "2026-10-31T00:00:00-05:00"
    assert p.end.isoformat() == "2026-11-02T00:00:00-06:00"
    utc = ZoneInfo("UTC")  # same-zone subtraction is wall-clock in Python: compare instants
    assert (p.end.astimezone(utc) - p.start.astimezone(utc)).total_seconds() == 49 * 3600


def test_unknown_period():
    with pytest.raises(ValueError, match="unknown period 'last_decade'"):
        resolve_period("last_decade", date(2026, 1, 1), TZ)


@pytest.mark.parametrize("bucket, count, expected", [
    ("month", 12, (date(2025, 11, 1), date(2026, 10, 31))),
    ("week", 4, (date(2026, 10, 5), date(2026, 11, 1))),
    ("day", 7, (date(2026, 10, 26), date(2026, 11, 1))),
    ("year", 2, (date(2025, 1, 1), date(2026, 12, 31))),
])
def test_series_window_ends_with_the_period(bucket, count, expected):
    p = resolve_period("last_week", date(2026, 11, 4), TZ)  # Oct 26 - Nov 1
    if bucket == "month":
        p = resolve_period("last_month", date(2026, 11, 2), TZ)
    assert series_window(p, bucket, count) == expected
