"""The one query model every portal answers.

A `Query` asks for one measure over one dataset in one time window, optionally grouped by a
column *or* bucketed by the date column, optionally cut to the top N. The `file` portal
executes it with pandas; Socrata translates it to SoQL, ArcGIS to `outStatistics`, CKAN to
`datastore_search_sql` (or pages and aggregates locally). Every portal returns an `Answer`.

Times are timezone-aware datetimes in the city's zone; `start` is inclusive, `end` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MEASURES = ("count", "sum", "mean", "count_distinct")
BUCKETS = ("day", "week", "month", "year")
ORDERS = ("value_desc", "value_asc", "key_asc", "key_desc")
OPERATORS = ("=", "!=", "in", "not in", ">", ">=", "<", "<=")


@dataclass(frozen=True)
class Filter:
    """`field op value`; for `in` / `not in`, value is a tuple."""

    field: str
    op: str
    value: str | int | float | tuple[str | int | float, ...]


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
            parts.append(f"and {f.field} {f.op} {f.value!r}")
        if self.group_by:
            parts.append(f"by {self.group_by}")
        if self.bucket:
            parts.append(f"by {self.bucket} of {self.date_field}")
        if self.top:
            parts.append(f"top {self.top}")
        return " ".join(parts)


@dataclass(frozen=True)
class Answer:
    """Rows of (key, value). key is "" for an ungrouped total; for a bucketed query it is the
    ISO date of the bucket's first day ("2026-10-01"); otherwise the group's value as text.
    A group whose key is null in the data comes back with key "(blank)"."""

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
    columns: tuple[tuple[str, str], ...]  # (name, type as the portal names it)
    last_updated: datetime | None = None
    title: str = ""
    url: str = ""
    row_count: int | None = None
