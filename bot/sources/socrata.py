"""Socrata (SODA): the query model as SoQL, so the portal counts and sends back a few rows.

    >>> src = SocrataSource(PortalConfig("brla", "socrata", "Open Data BR",
    ...                                  url="https://data.brla.gov"), "America/Chicago")
    >>> src.fetch(Query("pbin-pcm7", date_field="report_date", start=..., end=...,
    ...                 group_by="offense_description", top=5))  # doctest: +SKIP

What is sent (SODA 2.1, `GET /resource/ID.json`):

    $select = offense_description AS cc_key, count(*) AS cc_value
    $where  = report_date >= '2026-10-01T00:00:00' AND report_date < '2026-11-01T00:00:00'
    $group  = offense_description
    $order  = cc_value DESC, cc_key ASC
    $limit  = 6              (top + 1: a tie at the cut fetches every group instead)

- Floating timestamps (`calendar_date`) compare with naive local times, fixed ones with UTC.
- Time series group by `date_trunc_ymd/ym/y`; weeks are summed from days (Monday first).
  A fixed timestamp is first made floating in the city's zone,
  `date_trunc_ym(to_floating_timestamp(col, 'America/Chicago'))`, so buckets are local days.
- An `in` list that also asks for the "(blank)" group becomes `(col in (...) OR col IS NULL)`;
  booleans go bare (`true`) into checkbox columns, as 1/0 into numbers, quoted into text.
- A mean leaves out rows where the field is null (`IS NOT NULL`), so a group with nothing to
  average is absent, and an ungrouped mean over nothing answers no rows ("no data").
- `count_distinct` groups by (key, field) and counts the distinct pairs here.
- Strings are quoted with doubled single quotes; numbers go bare into number columns.
- Every value comes back as a string and null fields are absent: values are read by the
  `X-SODA2-Types` header, a missing key is "(blank)".
- Paging always sends `$order`, so pages never overlap.
- SODA 3 (`portal.soda3`): the same statement, POSTed to `/api/v3/views/ID/query.json`.
- What the portal cannot do (a text date column, a sum over a text column) is done here from
  raw rows, paged by `:id`, and logged.
- Column types are kept by their SODA 2 names on both paths (the view's `calendar_date` and
  `date` are read as `floating_timestamp` and `fixed_timestamp`); `describe` shows each
  column's field name, display name and one plain word for its type.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.errors import CredentialError, PortalError, SchemaError, SourceError
from bot.http import Clock, PortalClient
from bot.query import Answer, DatasetInfo, Filter, Query, write_condition
from bot.settings import PortalConfig
from bot.sources import local
from bot.sources.file import as_number, text_of

log = logging.getLogger(__name__)

MAX_PAGE = 50_000  # SODA 2 endpoints refuse a larger $limit
NUMBER_TYPES = {"number", "money", "double", "percent"}
FLOATING_TYPES = {"calendar_date", "floating_timestamp"}
FIXED_TYPES = {"date", "fixed_timestamp"}
_TRUNC = {"day": "date_trunc_ymd", "week": "date_trunc_ymd", "month": "date_trunc_ym",
          "year": "date_trunc_y"}
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# SoQL's keywords (soql-reference's Tokens.scala): a column with one of these names (`order`,
# `group`, `from`) is a syntax error bare, so it goes in backticks like any odd name.
RESERVED = frozenset({
    "select", "distinct", "except", "as", "where", "group", "having", "order", "limit",
    "offset", "search", "from", "join", "on", "inner", "outer", "left", "right", "full",
    "lateral", "asc", "desc", "is", "between", "in", "like", "and", "or", "not", "null",
    "true", "false"})
VIEW_TYPES = {"calendar_date": "floating_timestamp", "date": "fixed_timestamp"}  # view -> SODA2
PLAIN_TYPES = {"text": "text", "url": "text", "email": "text", "phone": "text",
               "checkbox": "boolean", "point": "location", "location": "location",
               "multipoint": "location", "line": "location", "multiline": "location",
               "polygon": "location", "multipolygon": "location"} | {
    t: "number" for t in NUMBER_TYPES} | {t: "date" for t in FLOATING_TYPES | FIXED_TYPES}


@dataclass(frozen=True)
class Soql:
    """One SoQL statement in parts; rendered as SODA 2 parameters or a SODA 3 query."""

    select: tuple[str, ...]
    where: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    order: tuple[str, ...] = (":id",)

    def params(self, limit: int, offset: int) -> dict[str, str]:
        out = {"$select": ", ".join(self.select)}
        if self.where:
            out["$where"] = " AND ".join(self.where)
        if self.group:
            out["$group"] = ", ".join(self.group)
        if self.order:
            out["$order"] = ", ".join(self.order)
        out["$limit"] = str(limit)
        if offset:
            out["$offset"] = str(offset)
        return out

    def statement(self) -> str:
        text = "SELECT " + ", ".join(self.select)
        if self.where:
            text += " WHERE " + " AND ".join(self.where)
        if self.group:
            text += " GROUP BY " + ", ".join(self.group)
        return text + (" ORDER BY " + ", ".join(self.order) if self.order else "")


def quote_text(value: Any) -> str:
    """A SoQL string literal.

    >>> quote_text("Mayor's Office")
    "'Mayor''s Office'"
    """
    return "'" + str(text_of(value)).replace("'", "''") + "'"


def name_of(column: str) -> str:
    """A column as SoQL writes it: bare when plain, else (odd characters, or a keyword such
    as `order`) in backticks.

    >>> name_of("district"), name_of("order"), name_of("Date & Time")
    ('district', '`order`', '`Date & Time`')
    """
    return column if _PLAIN_NAME.match(column) and column not in RESERVED else f"`{column}`"


class SocrataSource:
    """Answers queries from a Socrata portal (`portal.url` like https://data.brla.gov).

    Safe to ask from several threads: a thread's figures are asked a few at a time
    (bot.figures.ask_together), and a dataset's metadata is still read once per run."""

    concurrent_queries = 4

    def __init__(self, portal: PortalConfig, tz: str, *, cache_dir: Path | None = None,
                 no_cache: bool = False, client: httpx.Client | None = None,
                 clock: Clock | None = None, progress: bool | None = None) -> None:
        self.portal, self.tz, self.zone = portal, tz, ZoneInfo(tz)
        self.base = portal.url.rstrip("/")
        self.token = os.environ.get(portal.app_token_env, "") if portal.app_token_env else ""
        headers = {"X-App-Token": self.token} if self.token else {}
        self.http = PortalClient(portal, cache_dir=cache_dir, no_cache=no_cache, client=client,
                                 clock=clock, progress=progress, headers=headers)
        self._views: dict[str, dict[str, Any]] = {}
        self._views_lock = threading.Lock()

    # -- the portal protocol ----------------------------------------------------------------
    def describe(self, dataset: str) -> DatasetInfo:
        """Columns and types (from `/api/views/ID.json`), last update, title, link."""
        view = self._view(dataset)
        link = self.portal.dataset_link.format(dataset=dataset) if self.portal.dataset_link \
            else f"{self.base}/d/{dataset}"
        labels = view.get("labels", {})
        columns = tuple((name, labels.get(name, name), PLAIN_TYPES.get(kind, kind))
                        for name, kind in view["columns"].items())
        return DatasetInfo(self.portal.name, dataset, columns, view["updated"], view["title"],
                           link)

    def last_updated(self, dataset: str) -> datetime | None:
        return self._view(dataset)["updated"]

    def fetch(self, query: Query) -> Answer:
        local.check_query(self.portal.name, query)
        view = self._view(query.dataset)
        types: dict[str, str] = view["columns"]
        local.check_columns(self.portal.name, query, list(types), view.get("labels"))
        why = self._why_local(query, types)
        if why:
            log.info("portal %r: %s; paging raw rows of %s and aggregating locally",
                     self.portal.name, why, query.dataset)
            rows = self._aggregate_locally(query, types)
            return Answer(rows, view["updated"], pushed_down=False)
        return Answer(self._aggregate_remotely(query, types), view["updated"])

    # -- metadata -----------------------------------------------------------------------------
    def _view(self, dataset: str) -> dict[str, Any]:
        with self._views_lock:  # one metadata request per dataset, however many ask at once
            return self._read_view_once(dataset)

    def _read_view_once(self, dataset: str) -> dict[str, Any]:
        if dataset not in self._views:
            try:
                body, _ = self.http.get_json(f"{self.base}/api/views/{dataset}.json",
                                             dataset=dataset)
                self._views[dataset] = self._read_view(body)
            except PortalError:
                self._views[dataset] = self._probe_resource(dataset)
        return self._views[dataset]

    def _read_view(self, body: Any) -> dict[str, Any]:
        body = body.get("meta", {}).get("view", body) if isinstance(body, dict) else {}
        shown = [c for c in body.get("columns", []) if isinstance(c, dict)
                 and c.get("fieldName") and not str(c["fieldName"]).startswith(":")]
        columns = {c["fieldName"]: VIEW_TYPES.get(str(c.get("dataTypeName", "text")),
                                                  str(c.get("dataTypeName", "text")))
                   for c in shown}
        labels = {c["fieldName"]: str(c.get("name") or c["fieldName"]) for c in shown}
        stamp = body.get("rowsUpdatedAt")
        updated = (datetime.fromtimestamp(stamp, ZoneInfo("UTC")).astimezone(self.zone)
                   if isinstance(stamp, (int, float)) else None)
        return {"columns": columns, "labels": labels, "updated": updated,
                "title": str(body.get("name", ""))}

    def _probe_resource(self, dataset: str) -> dict[str, Any]:
        """Columns from the X-SODA2-* headers and the time from Last-Modified."""
        _, reply = self.http.get_json(self._resource(dataset), {"$limit": "1"},
                                      dataset=dataset)
        fields = json.loads(reply.headers.get("x-soda2-fields", "[]"))
        kinds = json.loads(reply.headers.get("x-soda2-types", "[]"))
        stamp = reply.headers.get("last-modified")
        updated = parsedate_to_datetime(stamp).astimezone(self.zone) if stamp else None
        return {"columns": dict(zip(fields, kinds, strict=False)), "updated": updated,
                "title": dataset}

    # -- translating --------------------------------------------------------------------------
    def _why_local(self, q: Query, types: dict[str, str]) -> str:
        kind = types.get(q.date_field or "", "")
        if q.date_field and (q.start or q.end or q.bucket) and kind not in (
                FLOATING_TYPES | FIXED_TYPES):
            return f"date column {q.date_field!r} is {kind or 'untyped'}, not a timestamp"
        if q.measure.kind in ("sum", "mean") and types.get(q.measure.field or "") not in (
                NUMBER_TYPES):
            return f"column {q.measure.field!r} is not a number column"
        return ""

    def _where(self, q: Query, types: dict[str, str]) -> tuple[str, ...]:
        where = []
        if q.date_field and (q.start or q.end):
            fixed = types.get(q.date_field) in FIXED_TYPES
            column = name_of(q.date_field)
            for op, moment in ((">=", q.start), ("<", q.end)):
                if moment is not None:
                    where.append(f"{column} {op} '{self._timestamp(moment, fixed)}'")
        where += [self._condition(f, types) for f in q.filters]
        if q.measure.kind == "mean" and q.measure.field:
            where.append(f"{name_of(q.measure.field)} IS NOT NULL")  # nothing to average
        return tuple(where)

    def _timestamp(self, moment: datetime, fixed: bool) -> str:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=self.zone)
        if fixed:
            return aware.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        return aware.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M:%S")

    def _condition(self, f: Filter, types: dict[str, str]) -> str:
        kind = types.get(f.field)
        return write_condition(f, name_of(f.field), number_column=kind in NUMBER_TYPES,
                               boolean=("true", "false") if kind == "checkbox" else None,
                               quote=quote_text, number=lambda v: str(text_of(as_number(v))))

    def _aggregate_remotely(self, q: Query, types: dict[str, str]) -> tuple[
            tuple[str, float], ...]:
        where = self._where(q, types)
        key = None
        if q.bucket:
            when = name_of(q.date_field or "")
            if types.get(q.date_field or "") in FIXED_TYPES:  # local days, not UTC ones
                when = f"to_floating_timestamp({when}, {quote_text(self.tz)})"
            key = f"{_TRUNC[q.bucket]}({when})"
        elif q.group_by:
            key = name_of(q.group_by)
        field = name_of(q.measure.field) if q.measure.field else ""
        kind = q.measure.kind
        keyed = (f"{key} AS cc_key",) if key else ()
        groups = (key,) if key else ()
        if kind == "count_distinct":
            soql = Soql(keyed + (f"{field} AS cc_item",), where, groups + (field,),
                        (("cc_key",) if key else ()) + ("cc_item",))
            found = self._count_pairs(q, soql)
        elif kind == "mean" and q.bucket == "week":
            soql = Soql(keyed + (f"sum({field}) AS cc_sum", f"count({field}) AS cc_n"),
                        where, groups, ("cc_key",))
            sums: dict[str, list[float]] = {}
            for row in self._rows(q.dataset, soql):
                part = sums.setdefault(self._key(row, q), [0.0, 0.0])
                part[0] += _number(row.get("cc_sum"))
                part[1] += _number(row.get("cc_n"))
            found = {k: s / n for k, (s, n) in sums.items() if n}
        else:
            measure = {"count": "count(*)", "sum": f"sum({field})",
                       "mean": f"avg({field})"}[kind]
            select = keyed + (f"{measure} AS cc_value",)
            if not key:
                rows = list(self._rows(q.dataset, Soql(select, where, (), ()), 1))
                if kind == "mean" and (not rows or rows[0].get("cc_value") is None):
                    return ()  # a mean over nothing: no data
                return (("", _number(rows[0].get("cc_value")) if rows else 0.0),)
            found = self._grouped(q, Soql(select, where, groups, ("cc_key",)))
        if q.bucket:
            return local.finish_rows(local.fill_buckets(found, q, self.zone), q)
        return local.finish_rows(found.items(), q)

    def _grouped(self, q: Query, soql: Soql) -> dict[str, float]:
        """Group values; for a top N by value, only N + 1 groups unless there is a tie."""
        if q.top and not q.bucket and q.order in ("value_desc", "value_asc"):
            way = "DESC" if q.order == "value_desc" else "ASC"
            ranked = Soql(soql.select, soql.where, soql.group, (f"cc_value {way}", "cc_key"))
            first = self._sum_by_key(q, self._rows(q.dataset, ranked, q.top + 1))
            values = sorted(first.values(), reverse=way == "DESC")
            if len(values) <= q.top or values[q.top] != values[q.top - 1]:
                return first
            log.debug("a tie at the top-%d cut: fetching every group", q.top)
        return self._sum_by_key(q, self._rows(q.dataset, soql))

    def _sum_by_key(self, q: Query, rows: Iterator[dict[str, Any]]) -> dict[str, float]:
        found: dict[str, float] = {}
        for row in rows:
            if row.get("cc_value") is None and q.measure.kind == "mean":
                continue  # nothing to average in this group
            key = self._key(row, q)
            found[key] = found.get(key, 0.0) + _number(row.get("cc_value"))
        return found

    def _count_pairs(self, q: Query, soql: Soql) -> dict[str, float]:
        items: dict[str, set[str]] = {}
        for row in self._rows(q.dataset, soql):
            item = local.cell_text(row.get("cc_item"))
            bucket = items.setdefault(self._key(row, q) if (q.bucket or q.group_by) else "",
                                      set())
            if item is not None:
                bucket.add(item)
        found = {k: float(len(v)) for k, v in items.items()}
        if not (q.bucket or q.group_by):
            found.setdefault("", 0.0)
        return found

    def _key(self, row: dict[str, Any], q: Query) -> str:
        raw = row.get("cc_key")
        if q.bucket:
            if raw is None:
                return local.BLANK
            day = date.fromisoformat(str(raw)[:10])
            return local.bucket_start(day, q.bucket).isoformat()
        return local.key_text(raw)

    def _aggregate_locally(self, q: Query, types: dict[str, str]) -> tuple[
            tuple[str, float], ...]:
        date_kind = types.get(q.date_field or "", "")
        where = tuple(self._condition(f, types) for f in q.filters)
        if date_kind in FLOATING_TYPES | FIXED_TYPES:
            where = self._where(q, types)  # the window still narrows what is downloaded
        columns = tuple(name_of(c) for c in q.columns())
        soql = Soql(columns or (":id",), where, (), (":id",))
        numeric = {c for c, t in types.items() if t in NUMBER_TYPES}
        count = Soql(("count(*) AS cc_value",), where, (), ())
        total = int(_number(next(self._rows(q.dataset, count, 1), {}).get("cc_value")))
        records: list[dict[str, Any]] = []
        with self.http.progress(f"{self.portal.name}: {q.dataset}", total) as bar:
            for page in self._pages(q.dataset, soql):
                records += page
                bar.advance(len(page))
        return local.aggregate_records(records, q, self.tz, numeric)

    # -- requesting ---------------------------------------------------------------------------
    def _resource(self, dataset: str) -> str:
        return f"{self.base}/resource/{dataset}.json"

    def _rows(self, dataset: str, soql: Soql, limit: int | None = None) -> Iterator[
            dict[str, Any]]:
        for page in self._pages(dataset, soql, limit):
            yield from page

    def _pages(self, dataset: str, soql: Soql, limit: int | None = None) -> Iterator[
            list[dict[str, Any]]]:
        """Pages of typed rows, in `$order`, until a short page (or `limit` rows)."""
        size = min(self.portal.page_size or MAX_PAGE, MAX_PAGE)
        offset = 0
        while True:
            take = size if limit is None else min(size, limit - offset)
            page = self._request(dataset, soql, take, offset)
            yield page
            offset += len(page)
            if len(page) < take or (limit is not None and offset >= limit):
                return

    def _request(self, dataset: str, soql: Soql, limit: int, offset: int) -> list[
            dict[str, Any]]:
        try:
            if self.portal.soda3:
                body, reply = self._request_soda3(dataset, soql, limit, offset)
            else:
                body, reply = self.http.get_json(self._resource(dataset),
                                                 soql.params(limit, offset), dataset=dataset)
        except PortalError as exc:
            missing = re.search(r"No such column: ([^\s;,]+)", exc.detail)
            if exc.code == "query.soql.no-such-column" and missing:
                column = missing.group(1).strip("`")
                columns = list(self._views.get(dataset, {}).get("columns", {}))
                if column not in columns:
                    raise SchemaError(self.portal.name, dataset, column, columns) from exc
                # the metadata lists it, yet the query engine does not know it: say what the
                # portal said, not "has no column X; it has: X, ..."
                raise PortalError(self.portal.name, exc.code, exc.detail,
                                  f"the dataset's metadata lists {column!r} but its query "
                                  f"engine refuses it; the column may have been renamed or "
                                  f"hidden: ask the portal, or use another column") from exc
            raise
        if not isinstance(body, list):
            raise SourceError(self.portal.name, f"dataset {dataset!r} answered with "
                              f"{type(body).__name__}, not a list of rows",
                              "check the dataset id and the portal's url in config.toml")
        return typed_rows(body, reply.headers)

    def _request_soda3(self, dataset: str, soql: Soql, limit: int, offset: int) -> Any:
        if not self.token:
            if self.portal.app_token_env:
                raise CredentialError(self.portal.app_token_env,
                                      f"portal {self.portal.name!r} uses SODA 3, which needs "
                                      "an app token")
            raise SourceError(self.portal.name, "SODA 3 needs an app token",
                              f"add app_token_env to [portals.{self.portal.name}] in "
                              "config.toml, or set soda3 = false")
        # SODA 3 pages by number: ask for pages of `limit` rows starting at a multiple of it
        number = offset // limit + 1 if limit else 1
        payload = {"query": soql.statement(), "page": {"pageNumber": number, "pageSize": limit}}
        return self.http.post_json(f"{self.base}/api/v3/views/{dataset}/query.json", payload,
                                   dataset=dataset)


def typed_rows(rows: list[Any], headers: httpx.Headers) -> list[dict[str, Any]]:
    """Rows with values read by `X-SODA2-Types`: numbers as floats, the rest as given."""
    try:
        fields = json.loads(headers.get("x-soda2-fields", "[]"))
        kinds = json.loads(headers.get("x-soda2-types", "[]"))
    except ValueError:
        fields, kinds = [], []
    numbers = [f for f, k in zip(fields, kinds, strict=False) if k in NUMBER_TYPES]
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        for f in numbers:
            if f in row:
                n = as_number(row[f])
                row[f] = row[f] if n is None else n
        out.append(row)
    return out


def _number(value: Any) -> float:
    n = as_number(value) if value is not None else None
    return 0.0 if n is None else n
