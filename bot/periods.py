"""Reporting periods anchored on an as-of moment, each with the period before it.

Every period is made of whole local days that end before the as-of day begins: a thread
drafted on Monday morning about `last_week` covers Monday to Sunday just gone, never the
day in progress. Times are aware datetimes in the city's zone, so a day across a
daylight-saving change is 23 or 25 hours long, as it is for the people living there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("yesterday", "last_weekend", "last_week", "last_month", "year_to_date")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True)
class Period:
    name: str  # one of PERIODS
    first_day: date  # inclusive
    last_day: date  # inclusive
    tz: str
    key: str  # stable id of the period: a draft is unique per (recipe, key)
    label: str  # how a post names it: "last week"
    versus: str  # how a post names the period before: "the week before"
    previous: Period | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), ZoneInfo(self.tz))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def _month_start(d: date, back: int = 0) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - back, 12)
    return date(y, m + 1, 1)


def _month_end(first: date) -> date:
    return _month_start(first, -1) - timedelta(days=1)


def resolve_period(name: str, as_of: datetime | date, tz: str) -> Period:
    """The complete period called `name` before the as-of day, with its previous period."""
    today = as_of.astimezone(ZoneInfo(tz)).date() if isinstance(as_of, datetime) else as_of
    if name == "yesterday":
        d = today - timedelta(days=1)
        prev = Period(name, d - timedelta(days=1), d - timedelta(days=1), tz,
                      (d - timedelta(days=1)).isoformat(), "the day before", "the day before")
        return Period(name, d, d, tz, d.isoformat(), "yesterday", "the day before", prev)
    if name == "last_weekend":
        # the most recent Saturday-Sunday that ended before today
        sunday = today - timedelta(days=(today.weekday() + 1) % 7 or 7)
        sat = sunday - timedelta(days=1)
        psat, psun = sat - timedelta(days=7), sunday - timedelta(days=7)
        prev = Period(name, psat, psun, tz, f"{psat.isoformat()}-weekend", "the weekend before",
                      "the weekend before")
        return Period(name, sat, sunday, tz, f"{sat.isoformat()}-weekend", "last weekend",
                      "the weekend before", prev)
    if name == "last_week":
        monday = today - timedelta(days=today.weekday() + 7)
        pmon = monday - timedelta(days=7)

        def wkey(m: date) -> str:
            iso = m.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"

        prev = Period(name, pmon, pmon + timedelta(days=6), tz, wkey(pmon), "the week before",
                      "the week before")
        return Period(name, monday, monday + timedelta(days=6), tz, wkey(monday), "last week",
                      "the week before", prev)
    if name == "last_month":
        first = _month_start(today, 1)
        pfirst = _month_start(today, 2)
        prev = Period(name, pfirst, _month_end(pfirst), tz, f"{pfirst:%Y-%m}",
                      f"in {_MONTHS[pfirst.month - 1]}", "the month before")
        return Period(name, first, _month_end(first), tz, f"{first:%Y-%m}",
                      f"in {_MONTHS[first.month - 1]}", "the month before", prev)
    if name == "year_to_date":
        if today.month == 1 and today.day == 1:
            # nothing of this year is complete yet: report the whole of last year
            first, last = date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
        else:
            first, last = date(today.year, 1, 1), today - timedelta(days=1)
        pfirst = date(first.year - 1, 1, 1)
        plast = _same_day_last_year(last)
        prev = Period(name, pfirst, plast, tz, f"{pfirst.year}-ytd-{plast:%m-%d}",
                      f"in {pfirst.year} to {_MONTHS[plast.month - 1]} {plast.day}",
                      "the same time last year")
        return Period(name, first, last, tz, f"{first.year}-ytd-{last:%m-%d}",
                      f"this year through {_MONTHS[last.month - 1]} {last.day}",
                      "the same time last year", prev)
    raise ValueError(f"unknown period {name!r}; use one of {', '.join(PERIODS)}")


def _same_day_last_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # Feb 29
        return date(d.year - 1, 2, 28)


def series_window(period: Period, bucket: str, count: int) -> tuple[date, date]:
    """First and last day of `count` buckets ending with the bucket holding period.last_day."""
    last = period.last_day
    if bucket == "month":
        first = _month_start(last, count - 1)
        return first, _month_end(_month_start(last))
    if bucket == "week":
        sunday = last + timedelta(days=6 - last.weekday())
        return sunday - timedelta(days=7 * count - 1), sunday
    if bucket == "day":
        return last - timedelta(days=count - 1), last
    if bucket == "year":
        return date(last.year - count + 1, 1, 1), date(last.year, 12, 31)
    raise ValueError(f"unknown bucket {bucket!r}")


def day_bounds(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """Aware [start, end) datetimes covering whole local days first..last."""
    z = ZoneInfo(tz)
    return (datetime.combine(first, time(0), z),
            datetime.combine(last + timedelta(days=1), time(0), z))
