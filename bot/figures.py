"""Figures for a thread: the period's total, ranked breakdowns, series and goal progress.

Each figure comes from one or two `Query`s that the portal answers (the work is pushed to
the portal); this module only asks and arranges. Plain data out: templates, charts and
guards all read the same `Figures`, so the words, the bars and the alt text agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bot.errors import DataError
from bot.periods import Period, day_bounds, series_window
from bot.query import BLANK, Answer, DatasetInfo, Filter, Query
from bot.settings import Recipe

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_AP = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.",
       "Nov.", "Dec.")


class Source(Protocol):
    def fetch(self, query: Query) -> Answer: ...
    def describe(self, dataset: str) -> DatasetInfo: ...


@dataclass(frozen=True)
class Figure:
    value: float
    previous: float | None

    @property
    def change(self) -> float | None:
        """Relative change from the previous period (0.12 = up 12%); None if not comparable."""
        if self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / self.previous


@dataclass(frozen=True)
class Item:
    key: str  # the portal's code
    label: str  # plain words, from the recipe's [labels]
    value: float
    previous: float | None
    share: float  # of the period's total
    rank: int  # 1-based

    @property
    def change(self) -> float | None:
        return Figure(self.value, self.previous).change


@dataclass(frozen=True)
class Point:
    key: str  # ISO date of the bucket's first day
    label: str  # short, for chart ticks: "Oct"
    long_label: str  # for words and alt text: "October 2026"
    value: float


@dataclass(frozen=True)
class Progress:
    label: str
    target: float
    value: float  # counted from the goal's start to the period's end
    share: float  # value / target
    expected: float  # where a steady pace would be by now
    deadline: date
    days_left: int

    @property
    def on_track(self) -> bool:
        return self.value >= self.expected

    @property
    def remaining(self) -> float:
        return max(self.target - self.value, 0.0)

    @property
    def pace_needed_per_month(self) -> float:
        months = max(self.days_left / 30.44, 1.0)
        return self.remaining / months


@dataclass(frozen=True)
class Figures:
    total: Figure
    breakdowns: dict[str, tuple[Item, ...]]
    series: dict[str, tuple[Point, ...]]
    goal: Progress | None
    last_updated: datetime | None
    queries: tuple[str, ...]
    pushed_down: bool = True
    has_data: bool = True  # False: the period is empty (a count of 0, a mean over nothing)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    def data_hash(self) -> str:
        """A fingerprint of the numbers (not of when they were fetched)."""
        body = self.to_json()
        body.pop("last_updated", None)
        body.pop("queries", None)
        body.pop("has_data", None)
        raw = json.dumps(body, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    def history_values(self) -> dict[str, float]:
        """The figures kept in the store for the unusual-change guard."""
        out = {"total": self.total.value}
        for name, items in self.breakdowns.items():
            for it in items:
                out[f"{name}:{it.key}"] = it.value
        return out


def _base_filters(recipe: Recipe) -> tuple[Filter, ...]:
    return recipe.source.filters


def ask_together(source: Source, queries: list[Query]) -> list[Answer]:
    """The answers to `queries`, in their order. A source that sets `concurrent_queries`
    above 1 (a portal over HTTP, safe to call from threads) is asked that many at a time:
    a portal computes each aggregate in its own time, and a thread's figures need several,
    so asked together they take about as long as the slowest instead of their sum."""
    width = min(len(queries), int(getattr(source, "concurrent_queries", 1)))
    if width <= 1:
        return [source.fetch(q) for q in queries]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="citycrier-query") as pool:
        return list(pool.map(source.fetch, queries))


def compute_figures(recipe: Recipe, period: Period, source: Source) -> Figures:
    """Ask the portal for every figure the recipe names, for `period` and the one before.

    Two rounds of queries asked together (see `ask_together`): every figure first, then the
    previous period's values of the categories the breakdowns ranked."""
    src = recipe.source

    def window(p: Period, **kw: Any) -> Query:
        return Query(dataset=src.dataset, date_field=src.date_field, start=p.start, end=p.end,
                     filters=_base_filters(recipe), measure=src.measure, **kw)

    first: dict[str, Query] = {"now": window(period)}
    if period.previous is not None:
        first["prev"] = window(period.previous)
    for i, b in enumerate(recipe.breakdowns):
        first[f"top{i}"] = window(period, group_by=b.group_by, top=b.top)
    for i, sp in enumerate(recipe.series):
        start, end = day_bounds(*series_window(period, sp.bucket, sp.count), period.tz)
        first[f"series{i}"] = Query(
            dataset=src.dataset, date_field=src.date_field, start=start, end=end,
            filters=_base_filters(recipe), measure=src.measure, bucket=sp.bucket,
            order="key_asc")
    if recipe.goal is not None:
        start, end = day_bounds(recipe.goal.start or period.first_day, period.last_day,
                                period.tz)
        first["goal"] = Query(dataset=src.dataset, date_field=src.date_field, start=start,
                              end=end, filters=_base_filters(recipe), measure=src.measure)
    answers = dict(zip(first, ask_together(source, list(first.values())), strict=True))
    second: dict[str, Query] = {}
    for i, b in enumerate(recipe.breakdowns):
        keys = [k for k, _ in answers[f"top{i}"].rows]
        if period.previous is not None and keys:
            q = window(period.previous, group_by=b.group_by)
            second[f"before{i}"] = replace(q, filters=q.filters + (
                Filter(b.group_by, "in", _keys_filter(keys)),))
    answers.update(zip(second, ask_together(source, list(second.values())), strict=True))
    queries = {**first, **second}
    order = ["now", "prev"] + [f"{kind}{i}" for i in range(len(recipe.breakdowns))
                               for kind in ("top", "before")] + [
        f"series{i}" for i in range(len(recipe.series))] + ["goal"]
    asked = [queries[k].describe() for k in order if k in queries]  # the order they read in
    pushed = all(a.pushed_down for a in answers.values())

    now = answers["now"]
    prev = answers.get("prev")
    # a mean over nothing is not comparable
    total = Figure(now.total, prev.total if prev is not None and prev.rows else None)

    breakdowns: dict[str, tuple[Item, ...]] = {}
    missing = None if src.measure.kind == "mean" else 0.0  # a mean over nothing: no value
    for i, b in enumerate(recipe.breakdowns):
        top = answers[f"top{i}"]
        before = answers[f"before{i}"].as_dict() if f"before{i}" in answers else {}
        items = []
        for rank, (key, value) in enumerate(top.rows, start=1):
            items.append(Item(
                key=key, label=recipe.labels.get(key, key), value=value,
                previous=before.get(key, missing) if period.previous is not None else None,
                share=(value / total.value) if total.value else 0.0, rank=rank))
        breakdowns[b.name] = tuple(items)

    series = {sp.name: tuple(Point(k, *_bucket_labels(k, sp.bucket), v)
                             for k, v in answers[f"series{i}"].rows)
              for i, sp in enumerate(recipe.series)}

    goal = None
    if recipe.goal is not None:
        g, ans = recipe.goal, answers["goal"]
        begin = g.start or period.first_day
        span = max((g.deadline - begin).days + 1, 1)
        elapsed = min(max((period.last_day - begin).days + 1, 0), span)
        goal = Progress(label=g.label, target=g.target, value=ans.total,
                        share=ans.total / g.target if g.target else 0.0,
                        expected=g.target * elapsed / span, deadline=g.deadline,
                        days_left=max((g.deadline - period.last_day).days, 0))

    return Figures(total, breakdowns, series, goal, now.last_updated, tuple(asked), pushed,
                   has_data=bool(now.rows) and (src.measure.kind == "mean" or bool(total.value)))


def ensure_data(recipe: Recipe, period: Period, figures: Figures) -> None:
    """Raise DataError when the period holds nothing to post about (checked after freshness,
    so a portal that stopped updating says so rather than "no data")."""
    if figures.has_data or (figures.goal and figures.goal.value):
        return
    src = recipe.source
    what = (f"no values of {src.measure.field} in {src.dataset} to take the mean of"
            if src.measure.kind == "mean" else f"no {recipe.noun} in {src.dataset}")
    raise DataError(
        f"recipe {recipe.name!r}: {what} for {period.label} ({period.first_day} to "
        f"{period.last_day}): an empty period never becomes a post (check the dataset is "
        f"current, or the recipe's filters)")


def _keys_filter(keys: list[str]) -> tuple[str | None, ...]:
    """The values of an `in` filter asking for these group keys: "(blank)" is asked for as
    null (None), since null rows never match an `in` list, and the list is never empty.

    >>> _keys_filter(["THEFT", "(blank)"]), _keys_filter(["(blank)"])
    (('THEFT', None), (None,))
    """
    return tuple(None if k == BLANK else k for k in keys)


def _bucket_labels(key: str, bucket: str) -> tuple[str, str]:
    d = date.fromisoformat(key[:10])
    if bucket == "month":
        return _MONTHS[d.month - 1][:3], f"{_MONTHS[d.month - 1]} {d.year}"
    if bucket == "year":
        return str(d.year), str(d.year)
    if bucket == "week":
        end = d + timedelta(days=6)
        return f"{_AP[d.month - 1]} {d.day}", f"the week of {_AP[d.month - 1]} {d.day}" + (
            f" to {_AP[end.month - 1]} {end.day}" if end.month != d.month else f"–{end.day}")
    return f"{_AP[d.month - 1]} {d.day}", f"{_AP[d.month - 1]} {d.day}, {d.year}"
