"""CKAN DataStore: the query model as `datastore_search_sql`, or paged and aggregated here.

`portal.url` is the site root and the dataset a DataStore resource id:

    >>> src = CKANSource(PortalConfig("city", "ckan", "City Data", url="https://data.city.gov"),
    ...                  "America/Chicago")
    >>> src.fetch(Query("1b0e...-resource-id", group_by="category", top=5))  # doctest: +SKIP

- With `portal.sql` (the default) one PostgreSQL statement does the work:
  `SELECT "category" AS cc_key, COUNT(*) AS cc_value FROM "RESOURCE" WHERE ... GROUP BY
  "category" ORDER BY cc_value DESC, cc_key LIMIT 6`; time series use `date_trunc` (weeks
  start on Monday in PostgreSQL too); `count_distinct` is `COUNT(DISTINCT ...)`.
- Many portals disable `datastore_search_sql` (CKAN answers "Action name not known", or
  refuses access). Then, and when `portal.sql` is false, `datastore_search` is paged by the
  `limit` CKAN echoes back (it silently caps what was asked), equality filters go along as
  `filters`, and the rest is aggregated here; the log says so.
- Freshness is the package's `metadata_modified` (UTC): the resource's package is found with
  `resource_show`; a package id works as the dataset too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.errors import PortalError
from bot.http import Clock, PortalClient
from bot.query import Answer, DatasetInfo, Filter, Query, write_condition
from bot.settings import PortalConfig
from bot.sources import local
from bot.sources.file import as_number, text_of

log = logging.getLogger(__name__)

MAX_PAGE = 32_000  # CKAN's default ckan.datastore.search.rows_max
NUMBER_TYPES = {"numeric", "int", "int2", "int4", "int8", "integer", "bigint", "smallint",
                "float", "float4", "float8", "double precision", "real"}
TIME_TYPES = {"timestamp", "timestamptz", "date"}
BOOL_TYPES = {"bool", "boolean"}
PLAIN_TYPES = {"text": "text", "json": "text", "geometry": "location"} | {
    t: "number" for t in NUMBER_TYPES} | {t: "date" for t in TIME_TYPES} | {
    t: "boolean" for t in BOOL_TYPES}
_TRUNC = {"day": "day", "week": "week", "month": "month", "year": "year"}


def quote_name(name: str) -> str:
    """A PostgreSQL identifier.

    >>> quote_name('the "A" list')
    '"the ""A"" list"'
    """
    return '"' + name.replace('"', '""') + '"'


def quote_text(value: Any) -> str:
    return "'" + str(text_of(value)).replace("'", "''") + "'"


class CKANSource:
    """Answers queries from a CKAN site's DataStore."""

    def __init__(self, portal: PortalConfig, tz: str, *, cache_dir: Path | None = None,
                 no_cache: bool = False, client: httpx.Client | None = None,
                 clock: Clock | None = None, progress: bool | None = None) -> None:
        self.portal, self.tz, self.zone = portal, tz, ZoneInfo(tz)
        self.api = portal.url.rstrip("/") + "/api/3/action/"
        self.http = PortalClient(portal, cache_dir=cache_dir, no_cache=no_cache, client=client,
                                 clock=clock, progress=progress)
        self.sql_works = portal.sql
        self._fields: dict[str, dict[str, str]] = {}
        self._facts: dict[str, tuple[datetime | None, str]] = {}

    # -- the portal protocol ----------------------------------------------------------------
    def describe(self, dataset: str) -> DatasetInfo:
        result = self.action("datastore_search", {"resource_id": dataset, "limit": "0"},
                             dataset)
        shown = [f for f in result.get("fields", []) if f.get("id") != "_id"]
        fields = tuple((str(f["id"]), str(f.get("type", ""))) for f in shown)
        self._fields[dataset] = dict(fields)
        updated, title = self._package_facts(dataset)
        columns = tuple((str(f["id"]), str((f.get("info") or {}).get("label") or f["id"]),
                         PLAIN_TYPES.get(str(f.get("type", "")), str(f.get("type", ""))))
                        for f in shown)
        return DatasetInfo(self.portal.name, dataset, columns, updated, title,
                           self.portal.dataset_link.format(dataset=dataset)
                           if self.portal.dataset_link else "", result.get("total"))

    def last_updated(self, dataset: str) -> datetime | None:
        return self._package_facts(dataset)[0]

    def fetch(self, query: Query) -> Answer:
        local.check_query(self.portal.name, query)
        types = self.fields(query.dataset)
        local.check_columns(self.portal.name, query, list(types))
        updated = self.last_updated(query.dataset)
        why = self._why_local(query, types)
        if not why:
            try:
                return Answer(self._aggregate_by_sql(query, types), updated)
            except PortalError as exc:
                if not _sql_refused(exc):
                    raise
                self.sql_works = False
                why = f"datastore_search_sql is not available here ({exc.detail})"
        log.info("portal %r: %s; paging raw rows of %s and aggregating locally",
                 self.portal.name, why, query.dataset)
        records = list(self.iter_records(query.dataset, query.columns(), query.filters))
        numeric = {n for n, t in types.items() if t in NUMBER_TYPES}
        return Answer(local.aggregate_records(records, query, self.tz, numeric), updated,
                      pushed_down=False)

    # -- metadata -----------------------------------------------------------------------------
    def action(self, name: str, params: dict[str, Any], dataset: str = "") -> Any:
        """Call an action; return its `result` (errors are raised by the HTTP layer)."""
        body, _ = self.http.get_json(self.api + name, params, dataset=dataset)
        if not isinstance(body, dict) or "result" not in body:
            raise PortalError(self.portal.name, "", f"{name} answered without a result",
                              "check the portal's url in config.toml")
        return body["result"]

    def fields(self, dataset: str) -> dict[str, str]:
        if dataset not in self._fields:
            self.describe(dataset)
        return self._fields[dataset]

    def _package_facts(self, dataset: str) -> tuple[datetime | None, str]:
        """(metadata_modified of the resource's package, a title), asked once per dataset."""
        if dataset not in self._facts:
            self._facts[dataset] = self._read_package_facts(dataset)
        return self._facts[dataset]

    def _read_package_facts(self, dataset: str) -> tuple[datetime | None, str]:
        try:
            resource = self.action("resource_show", {"id": dataset}, dataset)
            package_id, title = resource.get("package_id") or dataset, resource.get("name", "")
        except PortalError as exc:
            if exc.code != "Not Found Error":
                raise
            package_id, title = dataset, ""
        package = self.action("package_show", {"id": package_id}, dataset)
        stamp = package.get("metadata_modified")
        updated = None
        if isinstance(stamp, str):
            moment = datetime.fromisoformat(stamp)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
            updated = moment.astimezone(self.zone)
        return updated, title or str(package.get("title", ""))

    # -- SQL ----------------------------------------------------------------------------------
    def _why_local(self, q: Query, types: dict[str, str]) -> str:
        if not self.sql_works:
            return ("this portal is set to sql = false" if not self.portal.sql
                    else "datastore_search_sql was refused earlier")
        if q.date_field and (q.start or q.end or q.bucket) and types[q.date_field] not in (
                TIME_TYPES | {"text"}):
            return f"date column {q.date_field!r} is {types[q.date_field]}"
        if q.measure.kind in ("sum", "mean") and types.get(q.measure.field or "") not in (
                NUMBER_TYPES):
            return f"column {q.measure.field!r} is not numeric"
        return ""

    def _when(self, column: str, types: dict[str, str]) -> str:
        return quote_name(column) + ("::timestamp" if types.get(column) == "text" else "")

    def _where(self, q: Query, types: dict[str, str]) -> list[str]:
        parts = []
        if q.date_field:
            for op, moment in ((">=", q.start), ("<", q.end)):
                if moment is not None:
                    aware = moment if moment.tzinfo else moment.replace(tzinfo=self.zone)
                    parts.append(f"{self._when(q.date_field, types)} {op} "
                                 f"'{aware.astimezone(self.zone):%Y-%m-%d %H:%M:%S}'")
        parts += [self._condition(f, types) for f in q.filters]
        if q.measure.kind == "mean" and q.measure.field:
            parts.append(f"{quote_name(q.measure.field)} IS NOT NULL")  # nothing to average
        return parts

    @staticmethod
    def _condition(f: Filter, types: dict[str, str]) -> str:
        kind = types.get(f.field)
        return write_condition(f, quote_name(f.field), number_column=kind in NUMBER_TYPES,
                               boolean=("TRUE", "FALSE") if kind in BOOL_TYPES else None,
                               quote=quote_text, number=lambda v: str(text_of(as_number(v))),
                               upper=True, not_equal="<>")

    def _aggregate_by_sql(self, q: Query, types: dict[str, str]) -> tuple[
            tuple[str, float], ...]:
        field = quote_name(q.measure.field) if q.measure.field else ""
        measure = {"count": "COUNT(*)", "sum": f"SUM({field})", "mean": f"AVG({field})",
                   "count_distinct": f"COUNT(DISTINCT {field})"}[q.measure.kind]
        key = ""
        if q.bucket:
            key = (f"to_char(date_trunc('{_TRUNC[q.bucket]}', "
                   f"{self._when(q.date_field or '', types)}), 'YYYY-MM-DD')")
        elif q.group_by:
            key = quote_name(q.group_by)
        select = (f"{key} AS cc_key, " if key else "") + f"{measure} AS cc_value"
        sql = f"SELECT {select} FROM {quote_name(q.dataset)}"
        where = self._where(q, types)
        if where:
            sql += " WHERE " + " AND ".join(where)
        if not key:
            rows = self._sql(sql + " LIMIT 1", q.dataset)
            if q.measure.kind == "mean" and (not rows or rows[0].get("cc_value") is None):
                return ()  # a mean over nothing: no data
            return (("", _number(rows[0].get("cc_value")) if rows else 0.0),)
        sql += f" GROUP BY {key}"
        found: dict[str, float] | None = None
        if q.top and not q.bucket and q.order in ("value_desc", "value_asc"):
            way = "DESC" if q.order == "value_desc" else "ASC"
            first = self._keyed(self._sql(f"{sql} ORDER BY cc_value {way}, cc_key "
                                          f"LIMIT {q.top + 1}", q.dataset))
            values = sorted(first.values(), reverse=way == "DESC")
            if len(values) <= q.top or values[q.top] != values[q.top - 1]:
                found = first
        if found is None:
            found = self._keyed(self._paged_sql(sql + " ORDER BY cc_key", q.dataset))
        if q.bucket:
            return local.finish_rows(local.fill_buckets(found, q, self.zone), q)
        return local.finish_rows(found.items(), q)

    def _keyed(self, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> dict[str, float]:
        found: dict[str, float] = {}
        for row in rows:
            key = local.key_text(row.get("cc_key"))
            found[key] = found.get(key, 0.0) + _number(row.get("cc_value"))
        return found

    def _sql(self, sql: str, dataset: str) -> list[dict[str, Any]]:
        log.debug("portal %r: %s", self.portal.name, sql)
        result = self.action("datastore_search_sql", {"sql": sql}, dataset)
        return list(result.get("records") or [])

    def _paged_sql(self, sql: str, dataset: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            rows = self._sql(f"{sql} LIMIT {MAX_PAGE} OFFSET {offset}", dataset)
            yield from rows
            offset += len(rows)
            if len(rows) < MAX_PAGE:
                return

    # -- paging -------------------------------------------------------------------------------
    def iter_records(self, dataset: str, columns: list[str] | None = None,
                     filters: tuple[Filter, ...] = ()) -> Iterator[dict[str, Any]]:
        """Every row (equality filters applied by CKAN), paged by the echoed `limit`."""
        equal = {f.field: (list(f.values) if f.op == "in" else f.values[0])
                 for f in filters if f.op in ("=", "in") and f.values and not f.or_null
                 and not any(isinstance(v, bool) for v in f.values)}  # the rest: here
        params: dict[str, Any] = {"resource_id": dataset, "sort": "_id asc",
                                  "limit": str(min(self.portal.page_size or MAX_PAGE,
                                                   MAX_PAGE))}
        if columns:
            params["fields"] = ",".join(columns)
        if equal:
            params["filters"] = json.dumps(equal)
        offset, total, bar = 0, None, None
        try:
            while True:
                result = self.action("datastore_search", {**params, "offset": str(offset)},
                                     dataset)
                records = list(result.get("records") or [])
                if bar is None:
                    total = result.get("total")
                    bar = self.http.progress(f"{self.portal.name}: {dataset}", total)
                    bar.__enter__()
                bar.advance(len(records))
                yield from records
                echoed = int(result.get("limit") or params["limit"])
                offset += len(records)
                if not records or len(records) < echoed or (total and offset >= total):
                    return
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)


def _sql_refused(exc: PortalError) -> bool:
    """Whether an error means the portal does not offer SQL (rather than a bad query)."""
    text = f"{exc.code} {exc.detail}".lower()
    return ("action name not known" in text or exc.code == "Authorization Error"
            or "not enabled" in text or "not authorized" in text)


def _number(value: Any) -> float:
    n = as_number(value) if value is not None else None
    return 0.0 if n is None else n
