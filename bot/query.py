"""The one query model every portal answers.

A `Query` asks for one measure over one dataset in one time window, optionally grouped by a
column *or* bucketed by the date column, optionally cut to the top N. The `file` portal
executes it with pandas; Socrata translates it to SoQL, ArcGIS to `outStatistics`, CKAN to
`datastore_search_sql` (or pages and aggregates locally). Every portal returns an `Answer`.

Times are timezone-aware datetimes in the city's zone; `start` is inclusive, `end` exclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MEASURES = ("count", "sum", "mean", "count_distinct")
BUCKETS = ("day", "week", "month", "year")
ORDERS = ("value_desc", "value_asc", "key_asc", "key_desc")
OPERATORS = ("=", "!=", "in", "not in", ">", ">=", "<", "<=")
BLANK = "(blank)"  # the key of the group whose value is null


Scalar = str | int | float | bool


@dataclass(frozen=True)
class Filter:
    """`field op value`; for `in` / `not in`, value is a tuple.

    A `None` in an `in` tuple asks for the rows where the field is null as well (each portal
    writes its own `IS NULL`), so the "(blank)" group can be asked for beside the others.
    """

    field: str
    op: str
    value: Scalar | tuple[Scalar | None, ...]

    @property
    def values(self) -> tuple[Any, ...]:
        """The filter's values as a tuple, nulls left out."""
        raw = self.value if isinstance(self.value, (tuple, list)) else (self.value,)
        return tuple(v for v in raw if v is not None)

    @property
    def or_null(self) -> bool:
        """Whether an `in` filter also matches nulls."""
        return self.op == "in" and isinstance(self.value, (tuple, list)) and any(
            v is None for v in self.value)


def write_condition(f: Filter, column: str, *, number_column: bool,
                    boolean: tuple[str, str] | None, quote: Callable[[Any], str],
                    number: Callable[[Any], str], upper: bool = False,
                    not_equal: str = "!=") -> str:
    """One filter as a condition in the SQL-like shape SoQL, ArcGIS `where` and CKAN SQL
    share; each portal passes its own literals. Numbers go bare into a number column when
    every value reads as one; a boolean is `boolean` (true, false) for a boolean column, 1/0
    for a number column, quoted text otherwise; a null in an `in` list adds `IS NULL`.

    >>> quote = lambda v: "'" + str(v) + "'"
    >>> write_condition(Filter("k", "in", ("a", None)), "k", number_column=False, boolean=None,
    ...                 quote=quote, number=str)
    "(k in ('a') OR k IS NULL)"
    """
    def reads_as_number(v: Any) -> bool:
        try:
            float(v)
        except (TypeError, ValueError):
            return False
        return True

    numeric = number_column and all(reads_as_number(v) for v in f.values
                                    if not isinstance(v, bool))

    def literal(v: Any) -> str:
        if isinstance(v, bool):
            if boolean is not None:
                return boolean[0] if v else boolean[1]
            return ("1" if v else "0") if number_column else quote(v)
        return number(v) if numeric else quote(v)

    literals = [literal(v) for v in f.values]
    if f.op not in ("in", "not in"):
        return f"{column} {not_equal if f.op == '!=' else f.op} {literals[0]}"
    op = f.op.upper() if upper else f.op
    parts = [f"{column} {op} ({', '.join(literals)})"] if literals else []
    if f.or_null:
        parts.append(f"{column} IS NULL")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


@dataclass(frozen=True)
class Measure:
    kind: str = "count"  # one of MEASURES
    field: str | None = None  # required for sum, mean, count_distinct

    @property
    def label(self) -> str:
        return self.kind if self.field is None else f"{self.kind}({self.field})"


@dataclass(frozen=True)
class Query:
    dataset: str
    date_field: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    filters: tuple[Filter, ...] = ()
    measure: Measure = field(default_factory=Measure)
    group_by: str | None = None
    bucket: str | None = None  # group by the date field truncated to day/week/month/year
    top: int | None = None
    order: str = "value_desc"

    def problems(self) -> list[str]:
        """Why no portal can run this query (empty when it can), most telling first."""
        problems = []
        if self.measure.kind not in MEASURES:
            problems.append(f"unknown measure {self.measure.kind!r}")
        elif self.measure.kind != "count" and not self.measure.field:
            problems.append(f"measure {self.measure.kind!r} needs a field")
        for f in self.filters:
            if f.op not in OPERATORS:
                problems.append(f"unknown operator {f.op!r}")
            elif f.op in ("in", "not in") and not f.values and not f.or_null:
                problems.append(f"the {f.op!r} filter on {f.field!r} has no values")
            elif any(non_finite(v) for v in f.values):
                bad = next(v for v in f.values if non_finite(v))
                problems.append(f"the filter on {f.field!r} compares with {bad!r}, which is "
                                f"not a finite number")
        if self.order not in ORDERS:
            problems.append(f"unknown order {self.order!r}")
        if self.bucket and self.bucket not in BUCKETS:
            problems.append(f"unknown bucket {self.bucket!r}")
        if self.bucket and self.group_by:
            problems.append("a query groups by a column or buckets by date, not both")
        if (self.bucket or self.start or self.end) and not self.date_field:
            problems.append("a date window or bucket needs a date field")
        return problems

    def columns(self) -> list[str]:
        """Every column this query names, for schema checks."""
        cols = [f.field for f in self.filters]
        for c in (self.date_field, self.measure.field, self.group_by):
            if c:
                cols.append(c)
        return list(dict.fromkeys(cols))

    def describe(self) -> str:
        """A one-line, human-readable statement of the query (shown with drafts)."""
        parts = [f"{self.measure.label} of {self.dataset}"]
        if self.start and self.end and self.date_field:
            parts.append(
                f"where {self.date_field} in [{self.start:%Y-%m-%d %H:%M}, "
                f"{self.end:%Y-%m-%d %H:%M})"
            )
        for f in self.filters:
            if f.or_null and not f.values:
                parts.append(f"and {f.field} is null")
            elif f.or_null:  # the "(blank)" group asked for beside the others
                parts.append(f"and ({f.field} in {f.values!r} or {f.field} is null)")
            else:
                parts.append(f"and {f.field} {f.op} {f.value!r}")
        if self.group_by:
            parts.append(f"by {self.group_by}")
        if self.bucket:
            parts.append(f"by {self.bucket} of {self.date_field}")
        if self.top:
            parts.append(f"top {self.top}")
        return " ".join(parts)


def non_finite(value: Any) -> bool:
    """Whether a filter value reads as a number that is not finite ("NaN", "1e400", inf).

    >>> non_finite("NaN"), non_finite("1e400"), non_finite(float("inf")), non_finite("7")
    (True, True, True, False)
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    try:
        return not math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class Answer:
    """Rows of (key, value). key is "" for an ungrouped total; for a bucketed query it is the
    ISO date of the bucket's first day ("2026-10-01"); otherwise the group's value as text.
    A group whose key is null in the data comes back with key "(blank)". A mean with no
    values to average has no row: an ungrouped mean over nothing is `rows == ()`, "no data",
    never 0."""

    rows: tuple[tuple[str, float], ...]
    last_updated: datetime | None = None
    pushed_down: bool = True  # False when the portal could not aggregate and we did it locally

    @property
    def total(self) -> float:
        return float(sum(v for _, v in self.rows))

    def as_dict(self) -> dict[str, float]:
        return dict(self.rows)


@dataclass(frozen=True)
class DatasetInfo:
    portal: str
    dataset: str
    columns: tuple[tuple[str, str, str], ...]  # (field name, display name, plain type word)
    last_updated: datetime | None = None
    title: str = ""
    url: str = ""
    row_count: int | None = None


PLAIN_TYPES = ("text", "number", "date", "boolean", "location")  # what `describe` shows
