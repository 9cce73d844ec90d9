"""bot/sources/ckan.py against the CKAN fake: SQL where offered, paging where not."""

from __future__ import annotations

import csv
import json
import logging
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ckan_fake import CKANFake

from bot.errors import PortalError
from bot.query import Filter, Measure, Query
from bot.settings import PortalConfig
from bot.sources.ckan import CKANSource

from .conftest import BALTIMORE_311_CSV, FakeClock

BALTIMORE = ZoneInfo("America/New_York")
RESOURCE = "5e2a9f5c-311"
FIELDS = [("SRRecordID", "text"), ("SRType", "text"), ("MethodReceived", "text"),
          ("CreatedDate", "timestamp"), ("SRStatus", "text"), ("Agency", "text"),
          ("CouncilDistrict", "int"), ("Neighborhood", "text"), ("Latitude", "numeric")]


@cache
def records_311() -> tuple[dict[str, Any], ...]:
    """The real 311 rows as a DataStore holds them: typed, local timestamps, nulls."""
    out = []
    with BALTIMORE_311_CSV.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            record: dict[str, Any] = {}
            for name, kind in FIELDS:
                raw = row[name].strip()
                if raw in ("", "NA"):
                    record[name] = None
                elif kind == "timestamp":
                    record[name] = datetime.strptime(raw, "%m/%d/%Y %I:%M:%S %p").isoformat()
                elif kind == "int":
                    record[name] = int(raw)
                elif kind == "numeric":
                    record[name] = float(raw)
                else:
                    record[name] = raw
            out.append(record)
    return tuple(out)


def load(fake: CKANFake) -> None:
    fake.add_resource(RESOURCE, FIELDS, records_311(), package_id="baltimore-311",
                      name="311 Customer Service Requests")


def source(fake: CKANFake, **kw: Any) -> CKANSource:
    config = PortalConfig("city", "ckan", "City Data", url=fake.url, **kw)
    return CKANSource(config, "America/New_York", clock=FakeClock(), progress=False)


def calls(fake: CKANFake, action: str) -> list[dict[str, str]]:
    return [params for name, params in fake.calls if name == action]


WEEKS = Query(RESOURCE, date_field="CreatedDate", bucket="week", order="key_asc",
              start=datetime(2019, 10, 14, tzinfo=BALTIMORE),
              end=datetime(2019, 10, 28, tzinfo=BALTIMORE))
OPEN_IN_7_14 = Query(RESOURCE, filters=(Filter("CouncilDistrict", "in", (7, 14)),
                                        Filter("SRStatus", "!=", "Closed")))


@pytest.mark.realdata
def test_sql_does_the_counting(ckan_fake: CKANFake) -> None:
    load(ckan_fake)
    src = source(ckan_fake)
    answer = src.fetch(Query(RESOURCE, group_by="SRType", top=1))
    assert answer.rows == (("SW-Rat Rubout Proactive", 618.0),)
    assert answer.pushed_down
    assert [c["sql"] for c in calls(ckan_fake, "datastore_search_sql")] == [
        'SELECT "SRType" AS cc_key, COUNT(*) AS cc_value FROM "5e2a9f5c-311" GROUP BY '
        '"SRType" ORDER BY cc_value DESC, cc_key LIMIT 2']


@pytest.mark.realdata
def test_sql_weeks_and_filters(ckan_fake: CKANFake) -> None:
    load(ckan_fake)
    src = source(ckan_fake)
    assert src.fetch(WEEKS).rows == (("2019-10-14", 1884.0), ("2019-10-21", 1116.0))
    assert calls(ckan_fake, "datastore_search_sql")[-1]["sql"] == (
        "SELECT to_char(date_trunc('week', \"CreatedDate\"), 'YYYY-MM-DD') AS cc_key, "
        "COUNT(*) AS cc_value FROM \"5e2a9f5c-311\" WHERE \"CreatedDate\" >= '2019-10-14 "
        "00:00:00' AND \"CreatedDate\" < '2019-10-28 00:00:00' GROUP BY to_char(date_trunc("
        "'week', \"CreatedDate\"), 'YYYY-MM-DD') ORDER BY cc_key LIMIT 32000 OFFSET 0")
    assert src.fetch(OPEN_IN_7_14).rows == (("", 243.0),)
    assert calls(ckan_fake, "datastore_search_sql")[-1]["sql"] == (
        'SELECT COUNT(*) AS cc_value FROM "5e2a9f5c-311" WHERE "CouncilDistrict" IN (7, 14) '
        "AND \"SRStatus\" <> 'Closed' LIMIT 1")
    distinct = src.fetch(Query(RESOURCE, group_by="CouncilDistrict", top=3,
                               measure=Measure("count_distinct", "Neighborhood")))
    assert distinct.rows == (("4", 26.0), ("6", 26.0), ("12", 25.0))


@pytest.mark.realdata
def test_without_sql_pages_by_the_echoed_limit_and_aggregates_here(
        ckan_without_sql: CKANFake, caplog: pytest.LogCaptureFixture) -> None:
    load(ckan_without_sql)
    caplog.set_level(logging.INFO)
    src = source(ckan_without_sql)
    answer = src.fetch(Query(RESOURCE, group_by="SRType", top=1))
    assert answer.rows == (("SW-Rat Rubout Proactive", 618.0),)
    assert not answer.pushed_down
    assert "datastore_search_sql is not available here (Bad request - Action name not known: " \
           "datastore_search_sql); paging raw rows of 5e2a9f5c-311 and aggregating locally" \
           in caplog.text
    pages = [c for c in calls(ckan_without_sql, "datastore_search") if c.get("fields")]
    assert [p["offset"] for p in pages] == [str(n) for n in range(0, 3000, 400)]
    assert {(p["limit"], p["fields"], p["sort"]) for p in pages} == {
        ("32000", "SRType", "_id asc")}  # asked for 32,000 a page; CKAN gave 400
    assert src.fetch(WEEKS).rows == (("2019-10-14", 1884.0), ("2019-10-21", 1116.0))
    assert len(calls(ckan_without_sql, "datastore_search_sql")) == 1  # not asked again


@pytest.mark.realdata
def test_without_sql_equality_filters_go_to_ckan(ckan_without_sql: CKANFake) -> None:
    load(ckan_without_sql)
    src = source(ckan_without_sql, sql=False)
    answer = src.fetch(OPEN_IN_7_14)
    assert answer.rows == (("", 243.0),) and not answer.pushed_down
    pages = [c for c in calls(ckan_without_sql, "datastore_search") if c.get("fields")]
    assert json.loads(pages[0]["filters"]) == {"CouncilDistrict": [7, 14]}
    assert len(pages) == 2  # 547 rows in districts 7 and 14: two pages of 400
    assert calls(ckan_without_sql, "datastore_search_sql") == []


@pytest.mark.realdata
def test_freshness_is_the_packages_metadata_modified(ckan_fake: CKANFake) -> None:
    load(ckan_fake)
    src = source(ckan_fake)
    expected = datetime(2026, 10, 30, 10, 5, 9, 123456, tzinfo=BALTIMORE)  # 14:05 UTC
    assert src.last_updated(RESOURCE) == expected
    assert src.last_updated("baltimore-311") == expected  # a package id works too
    assert [c["id"] for c in calls(ckan_fake, "resource_show")] == [RESOURCE, "baltimore-311"]
    info = src.describe(RESOURCE)
    plain = {"text": "text", "timestamp": "date", "int": "number", "numeric": "number"}
    assert info.columns == tuple((n, n, plain[k]) for n, k in FIELDS)
    assert (info.row_count, info.title, info.last_updated) == (
        3000, "311 Customer Service Requests", expected)


def test_errors_are_one_line(ckan_fake: CKANFake) -> None:
    ckan_fake.add_resource("small", [("kind", "text")], [{"kind": "a"}])
    src = source(ckan_fake)
    with pytest.raises(PortalError) as missing:
        src.fetch(Query("nope", group_by="kind"))
    assert str(missing.value) == (
        "portal 'city': the portal answered with an error: Not Found Error: Not found: "
        "Resource \"nope\" was not found. (check the resource id in the recipe)")
    with pytest.raises(PortalError) as bad_sql:
        src.action("datastore_search_sql", {"sql": 'SELECT "zz" FROM "small"'})
    assert str(bad_sql.value) == (
        "portal 'city': the portal answered with an error: Validation Error: query: "
        "(psycopg2.errors.UndefinedColumn) column \"zz\" does not exist (check the recipe's "
        "columns and filters with `citycrier sources describe`)")
    assert src.fetch(Query("small", group_by="kind")).rows == (("a", 1.0),)


@pytest.mark.realdata
def test_blanks_asked_for_as_null_agree_with_and_without_sql(ckan_fake: CKANFake,
                                                             ckan_without_sql: CKANFake) -> None:
    blank_or_14 = Query(RESOURCE, group_by="CouncilDistrict", order="key_asc",
                        filters=(Filter("CouncilDistrict", "in", (14, None)),))
    load(ckan_fake)
    with_sql = source(ckan_fake).fetch(blank_or_14)
    sql = [c["sql"] for c in calls(ckan_fake, "datastore_search_sql")]
    assert sql[-1].startswith('SELECT "CouncilDistrict" AS cc_key, COUNT(*) AS cc_value FROM '
                              '"5e2a9f5c-311" WHERE ("CouncilDistrict" IN (14) OR '
                              '"CouncilDistrict" IS NULL) GROUP BY')
    load(ckan_without_sql)
    paged = source(ckan_without_sql, sql=False).fetch(blank_or_14)
    assert with_sql.rows == paged.rows
    assert [k for k, _ in with_sql.rows] == ["14", "(blank)"]
    pages = [c for c in calls(ckan_without_sql, "datastore_search") if c.get("fields")]
    assert "filters" not in pages[0]  # CKAN's filters cannot ask for nulls: done here
