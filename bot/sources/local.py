"""Aggregate raw records here, when a portal cannot: the same answers the `file` portal gives.

A portal that cannot run some part of a query (CKAN without SQL, a Socrata dataset whose date
column is text, more ArcGIS buckets than are worth one request each) pages the raw rows and
hands them to `aggregate_records`. The rules are the `file` portal's (bot/sources/file.py),
implemented over plain dicts so that no pandas is needed:

- absent fields, JSON nulls and blank or whitespace-only text are null; values are compared
  as the text a CSV would hold (7.0 -> "7"), trimmed;
- a filter never matches a null (not even `!=` or `not in`, as in SQL); numbers compare as
  numbers when the column is numeric and every filter value is a number, else as text;
- dates: epoch milliseconds, ISO (with or without an offset) or US `MM/DD/YYYY [hh:mm:ss AM]`;
  times without an offset are local to the city; a date that cannot be read is excluded by
  any date window or bucket; the window is `start <= d < end`;
- a null group key is "(blank)"; buckets are keyed by the ISO date of their first day (weeks
  start on Monday), with empty buckets between start and end filled with 0;
- rows are ordered by `order_rows` (ties in value by key ascending) and cut to `top`.

    >>> rows = [{"t": "A", "d": "2026-10-05T10:00:00"}, {"t": "B", "d": "2026-10-06"},
    ...         {"t": "A", "d": "2026-09-30T23:00:00"}]
    >>> aggregate_records(rows, Query("x", group_by="t"), "America/Chicago")
    (('A', 2.0), ('B', 1.0))
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import SchemaError, SourceError
from bot.query import Filter, Query
from bot.sources.file import (
    BLANK,
    as_boolean,
    as_number,
    bucket_start,
    next_bucket,
    order_rows,
    text_of,
)

__all__ = ["BLANK", "aggregate_records", "bucket_start", "check_columns", "check_query",
           "fill_buckets", "finish_rows", "key_text", "next_bucket", "read_moment",
           "window_days"]

_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S",
               "%m/%d/%Y %H:%M", "%m/%d/%Y")


def check_query(portal: str, q: Query) -> None:
    """Refuse a query no portal can run, with the same words as the `file` portal."""
    problems = q.problems()
    if problems:
        raise SourceError(portal, f"cannot run {q.describe()}: {problems[0]}", "fix the recipe")


def check_columns(portal: str, q: Query, existing: Sequence[str],
                  labels: Mapping[str, str] | None = None) -> None:
    """Raise SchemaError naming the first column `q` needs that the dataset lacks (with
    `labels`, the display names, it can say which column a display name stands for)."""
    have = set(existing)
    for column in q.columns():
        if column not in have:
            raise SchemaError(portal, q.dataset, column, list(existing), labels)


def key_text(value: Any) -> str:
    """A group key as the `file` portal writes it: trimmed text, null or blank -> "(blank)".

    >>> key_text(7.0), key_text(None), key_text("  "), key_text(" SW-Dirty Alley ")
    ('7', '(blank)', '(blank)', 'SW-Dirty Alley')
    """
    text = cell_text(value)
    return BLANK if text is None else text


def cell_text(value: Any) -> str | None:
    """A value as trimmed text, or None for null and blank."""
    text = text_of(value)
    if text is None:
        return None
    text = text.strip()
    return text or None


def read_moment(value: Any, tz: ZoneInfo) -> datetime | None:
    """A portal's date value as an aware time in `tz`, or None when it cannot be read.

    >>> zone = ZoneInfo("America/New_York")
    >>> read_moment(1571672989000, zone).isoformat()  # ArcGIS: epoch ms, UTC
    '2019-10-21T11:49:49-04:00'
    >>> read_moment("2019-10-21T11:49:49.000", zone).isoformat()  # Socrata: floating local
    '2019-10-21T11:49:49-04:00'
    >>> read_moment("10/21/2019 11:49:49 AM", zone).isoformat()
    '2019-10-21T11:49:49-04:00'
    """
    text = cell_text(value)
    if text is None:
        return None
    number = as_number(text)
    if number is not None:
        if math.isfinite(number) and number > 1e11:
            return datetime.fromtimestamp(number / 1000, ZoneInfo("UTC")).astimezone(tz)
        return None
    moment = _read_iso(text)
    if moment is None:
        for fmt in _US_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)  # fold=0: an ambiguous hour reads as the first one
    return moment.astimezone(tz)


def _read_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if len(text) == 7 and text[4] == "-":  # "2026-10", as pandas reads it
        try:
            return datetime.fromisoformat(f"{text}-01")
        except ValueError:
            return None
    return None


def window_days(q: Query, tz: ZoneInfo) -> tuple[date | None, date | None]:
    """The first and last local day a query's window touches (None where it is open)."""
    lo = _aware(q.start, tz).date() if q.start else None
    hi = (_aware(q.end, tz) - timedelta(microseconds=1)).date() if q.end else None
    return lo, hi


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(tz)


def fill_buckets(found: Mapping[str, float], q: Query, tz: ZoneInfo) -> list[tuple[str, float]]:
    """Every bucket between the window's ends, 0 where nothing was found.

    >>> z = ZoneInfo("UTC")
    >>> q = Query("x", date_field="d", bucket="month", start=datetime(2026, 1, 1, tzinfo=z),
    ...           end=datetime(2026, 4, 1, tzinfo=z))
    >>> fill_buckets({"2026-02-01": 3.0}, q, z)
    [('2026-01-01', 0.0), ('2026-02-01', 3.0), ('2026-03-01', 0.0)]
    """
    assert q.bucket
    left = dict(found)
    firsts = [date.fromisoformat(k) for k in left]
    lo, hi = window_days(q, tz)
    lo = lo if lo is not None else min(firsts, default=None)
    hi = hi if hi is not None else max(firsts, default=None)
    if lo is None or hi is None:
        return list(left.items())
    rows = []
    first = bucket_start(lo, q.bucket)
    while first <= hi:
        rows.append((first.isoformat(), left.pop(first.isoformat(), 0.0)))
        first = next_bucket(first, q.bucket)
    return rows + list(left.items())


def finish_rows(rows: Iterable[tuple[str, float]], q: Query) -> tuple[tuple[str, float], ...]:
    """Order rows as the query asks and keep the top N."""
    ordered = order_rows(list(rows), q.order)
    return tuple(ordered[: q.top] if q.top else ordered)


@dataclass
class Tally:
    """One group's running measure."""

    rows: int = 0
    total: float = 0.0
    numbers: int = 0
    distinct: set[str] = field(default_factory=set)

    def add(self, value: Any, kind: str) -> None:
        self.rows += 1
        if kind == "count_distinct":
            text = cell_text(value)
            if text is not None:
                self.distinct.add(text)
        elif kind in ("sum", "mean"):
            n = as_number(cell_text(value)) if value is not None else None
            if n is not None and not math.isnan(n):
                self.total += n
                self.numbers += 1

    def result(self, kind: str) -> float | None:
        """The group's value; None for a mean with nothing to average (no data)."""
        if kind == "count":
            return float(self.rows)
        if kind == "count_distinct":
            return float(len(self.distinct))
        if kind == "sum":
            return self.total
        return self.total / self.numbers if self.numbers else None


def numeric_columns(records: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> set[str]:
    """Columns whose every non-null value reads as a number (and that have one)."""
    numeric = set()
    for column in columns:
        texts = [t for t in (cell_text(r.get(column)) for r in records) if t is not None]
        if texts and all(as_number(t) is not None for t in texts):
            numeric.add(column)
    return numeric


def matches(value: Any, f: Filter, numeric: bool) -> bool:
    """Whether one value passes a filter, by the `file` portal's rules."""
    text = cell_text(value)
    if text is None:
        return f.or_null
    wanted = f.values
    if wanted and all(isinstance(v, bool) for v in wanted):
        truth = value if isinstance(value, bool) else as_boolean(text)
        if truth is None:
            return False
        hit = truth in wanted
        return hit if f.op in ("=", "in") else not hit if f.op in ("!=", "not in") else False
    numbers = [as_number(v) for v in wanted]
    have: Any
    want: list[Any]
    if numeric and all(n is not None for n in numbers):
        have, want = as_number(text), list(numbers)
    else:
        have, want = text, [text_of(v) for v in wanted]
    if f.op == "in":
        return have in want
    if f.op == "not in":
        return have not in want
    w = want[0]
    if f.op == "=":
        return bool(have == w)
    if f.op == "!=":
        return bool(have != w)
    try:
        return bool({">": have > w, ">=": have >= w, "<": have < w, "<=": have <= w}[f.op])
    except TypeError:
        return False


def aggregate_records(records: Iterable[Mapping[str, Any]], q: Query, tz: str,
                      numeric: Collection[str] | None = None) -> tuple[tuple[str, float], ...]:
    """Answer `q` from raw records, as the `file` portal would from the same rows.

    `numeric` names the columns the portal's schema says are numbers; when None, a column is
    numeric if every non-null value in `records` reads as a number.
    """
    zone = ZoneInfo(tz)
    rows = records if isinstance(records, Sequence) else list(records)
    filter_columns = {f.field for f in q.filters}
    numbers = (set(numeric) & filter_columns if numeric is not None
               else numeric_columns(rows, filter_columns))
    start = _aware(q.start, zone) if q.start else None
    end = _aware(q.end, zone) if q.end else None
    dated = bool(q.date_field and (start or end or q.bucket))
    kind = q.measure.kind
    tallies: dict[str, Tally] = {}
    for record in rows:
        when = None
        if dated:
            when = read_moment(record.get(q.date_field or ""), zone)
            if when is None or (start and when < start) or (end and when >= end):
                continue
        if not all(matches(record.get(f.field), f, f.field in numbers) for f in q.filters):
            continue
        if q.bucket and when is not None:
            key = bucket_start(when.date(), q.bucket).isoformat()
        elif q.group_by:
            key = key_text(record.get(q.group_by))
        else:
            key = ""
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        tally.add(record.get(q.measure.field) if q.measure.field else None, kind)
    found = {key: value for key, tally in tallies.items()
             if (value := tally.result(kind)) is not None}
    if q.bucket:
        return finish_rows(fill_buckets(found, q, zone), q)
    if q.group_by:
        return finish_rows(found.items(), q)
    if kind == "mean" and "" not in found:
        return ()  # a mean over nothing: no data
    return (("", found.get("", 0.0)),)
