"""ArcGIS REST (FeatureServer / MapServer layers): the query model as `outStatistics`.

`portal.url` is the services root and the dataset the layer path under it:

    >>> src = ArcGISSource(PortalConfig("baltimore", "arcgis", "Open Baltimore",
    ...     url="https://services1.arcgis.com/UWYHeuuJISiGmgXx/arcgis/rest/services"),
    ...     "America/New_York")
    >>> src.fetch(Query("311_Customer_Service_Requests_current/FeatureServer/0",
    ...                 group_by="SRType", top=5))  # doctest: +SKIP

- a grouped measure is one request: `outStatistics` (count of the object-id field, or sum /
  avg of the measure field) with `groupByFieldsForStatistics` and `orderByFields`;
- an ungrouped count is `returnCountOnly=true`;
- `count_distinct` groups by (key, field) and counts the distinct pairs here;
- a time series asks once per bucket (a count or a statistic over that bucket's window),
  up to `MAX_BUCKET_QUERIES` buckets; beyond that, or when a column's type does not allow the
  statistic, raw rows are paged and aggregated here (and logged);
- date fields are epoch milliseconds in UTC, so the window becomes
  `F >= TIMESTAMP 'yyyy-mm-dd hh:mm:ss'` literals in UTC;
- paging follows `exceededTransferLimit`, never the page size (a page may even be empty with
  the flag still set), in pages of the layer's `maxRecordCount`;
- errors often come as HTTP 200 with `{"error": {...}}`: the HTTP layer checks every body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.http import Clock, PortalClient
from bot.query import Answer, DatasetInfo, Filter, Query, write_condition
from bot.settings import PortalConfig
from bot.sources import local
from bot.sources.file import as_number, text_of

log = logging.getLogger(__name__)

MAX_BUCKET_QUERIES = 62  # more buckets than this: page the raw rows instead
NUMBER_TYPES = {"esriFieldTypeOID", "esriFieldTypeInteger", "esriFieldTypeSmallInteger",
                "esriFieldTypeDouble", "esriFieldTypeSingle", "esriFieldTypeBigInteger"}
DATE_TYPES = {"esriFieldTypeDate", "esriFieldTypeDateOnly", "esriFieldTypeTimestampOffset"}
UTC = ZoneInfo("UTC")
PLAIN_TYPES = {"esriFieldTypeString": "text", "esriFieldTypeGUID": "text",
               "esriFieldTypeGlobalID": "text", "esriFieldTypeXML": "text"} | {
    t: "number" for t in NUMBER_TYPES} | {t: "date" for t in DATE_TYPES}


@dataclass(frozen=True)
class Layer:
    """What a layer's `?f=json` says about it."""

    name: str
    fields: tuple[tuple[str, str], ...]  # (name, esriFieldType...), geometry left out
    object_id: str
    max_record_count: int
    last_edit: datetime | None
    aliases: tuple[tuple[str, str], ...] = ()  # (name, the alias people see)

    @property
    def types(self) -> dict[str, str]:
        return dict(self.fields)


def parse_layer(body: dict[str, Any], tz: ZoneInfo) -> Layer:
    """Read layer metadata: fields, object-id field, maxRecordCount, editingInfo."""
    fields = tuple((str(f["name"]), str(f.get("type", ""))) for f in body.get("fields") or []
                   if isinstance(f, dict) and f.get("type") != "esriFieldTypeGeometry")
    oid = body.get("objectIdField") or next(
        (n for n, t in fields if t == "esriFieldTypeOID"), "")
    info = body.get("editingInfo") or {}
    stamp = info.get("lastEditDate") or info.get("dataLastEditDate")
    edited = (datetime.fromtimestamp(stamp / 1000, UTC).astimezone(tz)
              if isinstance(stamp, (int, float)) else None)
    aliases = tuple((str(f["name"]), str(f.get("alias") or f["name"]))
                    for f in body.get("fields") or []
                    if isinstance(f, dict) and f.get("type") != "esriFieldTypeGeometry")
    return Layer(str(body.get("name", "")), fields, str(oid),
                 int(body.get("maxRecordCount") or 1000), edited, aliases)


def parse_statistics(body: dict[str, Any], value_field: str,
                     key_fields: tuple[str, ...] = ()) -> list[tuple[tuple[Any, ...], float]]:
    """((key values...), value) for each feature of an outStatistics answer; a feature
    whose statistic is null (an average of nothing) is left out.

    Field names are matched without regard to case: some servers upper-case them.
    """
    out = []
    for feature in body.get("features") or []:
        attrs = {str(k).lower(): v for k, v in (feature.get("attributes") or {}).items()}
        value = attrs.get(value_field.lower())
        number = as_number(value) if value is not None else None
        if number is None or number != number:  # null or NaN: no value to report
            continue
        out.append((tuple(attrs.get(k.lower()) for k in key_fields), number))
    return out


def utc_timestamp(moment: datetime, tz: ZoneInfo) -> str:
    """A moment as an ArcGIS `TIMESTAMP` literal in UTC.

    >>> utc_timestamp(datetime(2026, 10, 1), ZoneInfo("America/New_York"))
    "TIMESTAMP '2026-10-01 04:00:00'"
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    return f"TIMESTAMP '{aware.astimezone(UTC):%Y-%m-%d %H:%M:%S}'"


class ArcGISSource:
    """Answers queries from an ArcGIS REST services root."""

    def __init__(self, portal: PortalConfig, tz: str, *, cache_dir: Path | None = None,
                 no_cache: bool = False, client: httpx.Client | None = None,
                 clock: Clock | None = None, progress: bool | None = None) -> None:
        self.portal, self.tz, self.zone = portal, tz, ZoneInfo(tz)
        self.base = portal.url.rstrip("/")
        self.http = PortalClient(portal, cache_dir=cache_dir, no_cache=no_cache, client=client,
                                 clock=clock, progress=progress)
        self._layers: dict[str, Layer] = {}

    def layer_url(self, dataset: str) -> str:
        return f"{self.base}/{dataset.strip('/')}"

    # -- the portal protocol ----------------------------------------------------------------
    def describe(self, dataset: str) -> DatasetInfo:
        layer = self.layer(dataset)
        link = (self.portal.dataset_link.format(dataset=dataset) if self.portal.dataset_link
                else self.layer_url(dataset))
        alias = dict(layer.aliases)
        columns = tuple((name, alias.get(name, name), PLAIN_TYPES.get(kind, kind))
                        for name, kind in layer.fields)
        return DatasetInfo(self.portal.name, dataset, columns, layer.last_edit, layer.name,
                           link)

    def last_updated(self, dataset: str) -> datetime | None:
        return self.layer(dataset).last_edit

    def layer(self, dataset: str) -> Layer:
        if dataset not in self._layers:
            body, _ = self.http.get_json(self.layer_url(dataset), {"f": "json"},
                                         dataset=dataset)
            self._layers[dataset] = parse_layer(body if isinstance(body, dict) else {},
                                                self.zone)
        return self._layers[dataset]

    def fetch(self, query: Query) -> Answer:
        local.check_query(self.portal.name, query)
        layer = self.layer(query.dataset)
        local.check_columns(self.portal.name, query, [n for n, _ in layer.fields],
                            dict(layer.aliases))
        why = self._why_local(query, layer)
        if why:
            log.info("portal %r: %s; paging raw rows of %s and aggregating locally",
                     self.portal.name, why, query.dataset)
            return Answer(self._aggregate_locally(query, layer), layer.last_edit,
                          pushed_down=False)
        if query.bucket:
            rows = self._bucketed(query, layer)
        else:
            found = self._measure(query, layer, self._where(query, layer, query.start,
                                                            query.end))
            if query.group_by:
                rows = local.finish_rows(found.items(), query)
            elif query.measure.kind == "mean" and "" not in found:
                rows = ()  # a mean over nothing: no data
            else:
                rows = (("", found.get("", 0.0)),)
        return Answer(rows, layer.last_edit)

    # -- translating --------------------------------------------------------------------------
    def _why_local(self, q: Query, layer: Layer) -> str:
        types = layer.types
        if q.date_field and (q.start or q.end or q.bucket) and types[q.date_field] not in \
                DATE_TYPES:
            return f"date field {q.date_field!r} is {types[q.date_field]}, not a date"
        if q.measure.kind in ("sum", "mean") and types.get(q.measure.field or "") not in \
                NUMBER_TYPES:
            return f"field {q.measure.field!r} is not numeric"
        if q.measure.kind == "count" and not layer.object_id and (q.group_by or q.bucket):
            return "the layer names no object-id field to count"
        if q.bucket and len(self._buckets(q, layer)) > MAX_BUCKET_QUERIES:
            return f"more than {MAX_BUCKET_QUERIES} {q.bucket} buckets"
        return ""

    def _where(self, q: Query, layer: Layer, start: datetime | None,
               end: datetime | None) -> str:
        parts = []
        if q.date_field:
            for op, moment in ((">=", start), ("<", end)):
                if moment is not None:
                    parts.append(f"{q.date_field} {op} {utc_timestamp(moment, self.zone)}")
        parts += [self._condition(f, layer.types) for f in q.filters]
        if q.measure.kind == "mean" and q.measure.field:
            parts.append(f"{q.measure.field} IS NOT NULL")  # nothing to average
        return " AND ".join(parts) or "1=1"

    @staticmethod
    def _condition(f: Filter, types: dict[str, str]) -> str:
        return write_condition(  # ArcGIS has no boolean type: 1/0 in numbers, else text
            f, f.field, number_column=types.get(f.field) in NUMBER_TYPES, boolean=None,
            quote=lambda v: "'" + str(text_of(v)).replace("'", "''") + "'",
            number=lambda v: str(text_of(as_number(v))), upper=True, not_equal="<>")

    def _measure(self, q: Query, layer: Layer, where: str) -> dict[str, float]:
        """The measure by group key ("" when ungrouped) for rows matching `where`."""
        kind, field = q.measure.kind, q.measure.field or ""
        keys = (q.group_by,) if q.group_by else ()
        if kind == "count" and not keys:
            body = self._query(q.dataset, {"where": where, "returnCountOnly": "true"})
            return {"": float(body.get("count") or 0)}
        if kind == "count_distinct":
            stat = {"statisticType": "count", "onStatisticField": layer.object_id or field,
                    "outStatisticFieldName": "cc_n"}
            pairs: dict[str, set[str]] = {} if keys else {"": set()}
            for (*key, item), _ in self._statistics(q.dataset, where, stat, keys + (field,)):
                text = local.cell_text(item)
                bucket = pairs.setdefault(local.key_text(key[0]) if keys else "", set())
                if text is not None:
                    bucket.add(text)
            return {k: float(len(v)) for k, v in pairs.items()}
        stat = {"statisticType": {"count": "count", "sum": "sum", "mean": "avg"}[kind],
                "onStatisticField": layer.object_id if kind == "count" else field,
                "outStatisticFieldName": "cc_value"}
        found: dict[str, float] = {}
        for group, value in self._statistics(q.dataset, where, stat, keys):
            name = local.key_text(group[0]) if keys else ""
            found[name] = found.get(name, 0.0) + value
        return found

    def _statistics(self, dataset: str, where: str, stat: dict[str, str],
                    keys: tuple[str, ...]) -> Iterator[tuple[tuple[Any, ...], float]]:
        params = {"where": where, "outStatistics": json.dumps([stat]),
                  "returnGeometry": "false"}
        if keys:
            params["groupByFieldsForStatistics"] = ",".join(keys)
            params["orderByFields"] = ",".join(keys)
        for body in self._pages(dataset, params, page_size=None):
            yield from parse_statistics(body, stat["outStatisticFieldName"], keys)

    def _buckets(self, q: Query, layer: Layer) -> list[date]:
        lo, hi = local.window_days(q, self.zone)
        if lo is None or hi is None:
            assert q.date_field
            found = self._extent(q, layer)
            if found is None:
                return []
            lo, hi = lo or found[0], hi or found[1]
        assert q.bucket
        firsts, first = [], local.bucket_start(lo, q.bucket)
        while first <= hi:
            firsts.append(first)
            first = local.next_bucket(first, q.bucket)
        return firsts

    def _extent(self, q: Query, layer: Layer) -> tuple[date, date] | None:
        """The first and last local day holding a date, asked of the layer (min / max)."""
        assert q.date_field
        stats = [{"statisticType": s, "onStatisticField": q.date_field,
                  "outStatisticFieldName": f"cc_{s}"} for s in ("min", "max")]
        body = self._query(q.dataset, {"where": self._where(q, layer, q.start, q.end),
                                       "outStatistics": json.dumps(stats),
                                       "returnGeometry": "false"})
        attrs = {str(k).lower(): v for k, v in
                 ((body.get("features") or [{}])[0].get("attributes") or {}).items()}
        ends = [local.read_moment(attrs.get(f"cc_{s}"), self.zone) for s in ("min", "max")]
        if ends[0] is None or ends[1] is None:
            return None
        return ends[0].date(), ends[1].date()

    def _bucketed(self, q: Query, layer: Layer) -> tuple[tuple[str, float], ...]:
        """One small request per bucket: the measure over that bucket's part of the window."""
        assert q.bucket
        found: dict[str, float] = {}
        for first in self._buckets(q, layer):
            lo = datetime.combine(first, time(0), self.zone)
            hi = datetime.combine(local.next_bucket(first, q.bucket), time(0), self.zone)
            if q.start is not None:
                lo = max(lo, q.start if q.start.tzinfo else q.start.replace(tzinfo=self.zone))
            if q.end is not None:
                hi = min(hi, q.end if q.end.tzinfo else q.end.replace(tzinfo=self.zone))
            ungrouped = Query(q.dataset, q.date_field, lo, hi, q.filters, q.measure)
            found[first.isoformat()] = self._measure(ungrouped, layer, self._where(
                q, layer, lo, hi)).get("", 0.0)
        return local.finish_rows(local.fill_buckets(found, q, self.zone), q)

    # -- raw rows -----------------------------------------------------------------------------
    def _aggregate_locally(self, q: Query, layer: Layer) -> tuple[tuple[str, float], ...]:
        where = " AND ".join(self._condition(f, layer.types) for f in q.filters) or "1=1"
        if q.date_field and layer.types.get(q.date_field) in DATE_TYPES:
            where = self._where(q, layer, q.start, q.end)  # the window still narrows it
        records = list(self.iter_records(q.dataset, q.columns(), where))
        numeric = {n for n, t in layer.fields if t in NUMBER_TYPES}
        return local.aggregate_records(records, q, self.tz, numeric)

    def iter_records(self, dataset: str, columns: list[str] | None = None,
                     where: str = "1=1") -> Iterator[dict[str, Any]]:
        """Every matching row's attributes, paged in object-id order; dates as ISO text."""
        layer = self.layer(dataset)
        dates = {n for n, t in layer.fields if t in DATE_TYPES}
        total = self._query(dataset, {"where": where, "returnCountOnly": "true"}).get("count")
        params = {"where": where, "outFields": ",".join(columns) if columns else "*",
                  "returnGeometry": "false"}
        if layer.object_id:
            params["orderByFields"] = layer.object_id
        size = self.portal.page_size or layer.max_record_count
        with self.http.progress(f"{self.portal.name}: {dataset}", total) as bar:
            for body in self._pages(dataset, params, size, total):
                features = body.get("features") or []
                bar.advance(len(features))
                for feature in features:
                    attrs = dict(feature.get("attributes") or {})
                    for name in dates & attrs.keys():
                        if isinstance(attrs[name], (int, float)):
                            attrs[name] = datetime.fromtimestamp(attrs[name] / 1000,
                                                                 UTC).isoformat()
                    yield attrs

    def _pages(self, dataset: str, params: dict[str, str], page_size: int | None,
               total: int | None = None) -> Iterator[dict[str, Any]]:
        """Answers to `params`, following `exceededTransferLimit` with `resultOffset`."""
        offset = 0
        while True:
            ask = dict(params)
            if offset:
                ask["resultOffset"] = str(offset)
            if page_size:
                ask["resultRecordCount"] = str(page_size)
            body = self._query(dataset, ask)
            yield body
            if not body.get("exceededTransferLimit"):
                return
            got = len(body.get("features") or [])
            offset += got or page_size or 1
            if total is not None and offset >= total + (page_size or 1):
                log.warning("portal %r: %s still says there is more past row %d of %d; "
                            "stopping", self.portal.name, dataset, offset, total)
                return

    def _query(self, dataset: str, params: dict[str, str]) -> dict[str, Any]:
        body, _ = self.http.get_json(f"{self.layer_url(dataset)}/query",
                                     {**params, "f": "json"}, dataset=dataset)
        return body if isinstance(body, dict) else {}
