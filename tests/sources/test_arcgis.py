"""bot/sources/arcgis.py against a real Koop FeatureServer and real recorded ArcGIS answers."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from koop import KoopServer

from bot.errors import PortalError, SchemaError
from bot.query import Filter, Measure, Query
from bot.settings import PortalConfig
from bot.sources.arcgis import ArcGISSource, parse_layer, parse_statistics

from .conftest import ARCGIS_FIXTURES, BALTIMORE_311_CSV, FakeClock

BALTIMORE = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
LAYER = "baltimore_311/FeatureServer/0"


Maker = Callable[..., tuple[ArcGISSource, list[httpx.Request]]]


@pytest.fixture
def on_koop(koop: KoopServer) -> Iterator[Maker]:
    """Makes a source on the Koop server, and the list of requests it sends."""
    clients: list[httpx.Client] = []

    def make(**kw: Any) -> tuple[ArcGISSource, list[httpx.Request]]:
        seen: list[httpx.Request] = []
        client = httpx.Client(event_hooks={"request": [seen.append]})
        clients.append(client)
        config = PortalConfig("baltimore", "arcgis", "Open Baltimore", url=koop.services, **kw)
        return ArcGISSource(config, "America/New_York", client=client, clock=FakeClock(),
                            progress=False), seen

    yield make
    for client in clients:
        client.close()


def queries(seen: list[httpx.Request]) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in seen if r.url.path.endswith("/query")]


# -- a real FeatureServer: Koop serving the real Baltimore 311 file --------------------------

@pytest.mark.koop
@pytest.mark.realdata
def test_koop_serves_iso_dates_as_epoch_ms_and_windows_by_timestamp(koop: KoopServer,
                                                                    on_koop: Maker) -> None:
    src, _ = on_koop()
    assert src.layer(LAYER).types["CreatedDate"] == "esriFieldTypeDate"
    body, _ = src.http.get_json(koop.layer_url("baltimore_311") + "/query", {
        "where": "OBJECTID = 1", "outFields": "SRRecordID,CreatedDate", "f": "json"})
    assert body["features"][0]["attributes"] == {"SRRecordID": "5004M00000ZwOMnQAN",
                                                 "CreatedDate": 1571672989000}
    count, _ = src.http.get_json(koop.layer_url("baltimore_311") + "/query", {
        "where": "CreatedDate >= TIMESTAMP '2019-10-18 04:00:00' AND CreatedDate < "
                 "TIMESTAMP '2019-10-19 04:00:00'", "returnCountOnly": "true", "f": "json"})
    assert count == {"count": 653}  # every request created on Oct 18 in Baltimore


@pytest.mark.koop
@pytest.mark.realdata
def test_top_request_type_comes_back_through_out_statistics(on_koop: Maker) -> None:
    src, seen = on_koop()
    answer = src.fetch(Query(LAYER, group_by="SRType", top=1))
    assert answer.rows == (("SW-Rat Rubout Proactive", 618.0),)
    assert answer.pushed_down
    (sent,) = queries(seen)
    assert json.loads(sent["outStatistics"]) == [{
        "statisticType": "count", "onStatisticField": "OBJECTID",
        "outStatisticFieldName": "cc_value"}]
    assert (sent["groupByFieldsForStatistics"], sent["where"]) == ("SRType", "1=1")
    assert "outFields" not in sent  # no raw rows were asked for


@pytest.mark.koop
@pytest.mark.realdata
def test_a_daily_series_is_one_count_per_day(on_koop: Maker) -> None:
    src, seen = on_koop()
    answer = src.fetch(Query(LAYER, date_field="CreatedDate", bucket="day", order="key_asc",
                             start=datetime(2019, 10, 17, tzinfo=BALTIMORE),
                             end=datetime(2019, 10, 22, tzinfo=BALTIMORE)))
    assert answer.rows == (("2019-10-17", 0.0), ("2019-10-18", 653.0), ("2019-10-19", 659.0),
                           ("2019-10-20", 572.0), ("2019-10-21", 1116.0))
    sent = queries(seen)
    assert [q.get("returnCountOnly") for q in sent] == ["true"] * 5
    assert sent[1]["where"] == ("CreatedDate >= TIMESTAMP '2019-10-18 04:00:00' AND "
                                "CreatedDate < TIMESTAMP '2019-10-19 04:00:00'")


@pytest.mark.koop
@pytest.mark.realdata
def test_filters_and_distinct_counts_on_koop(on_koop: Maker) -> None:
    src, seen = on_koop()
    open_in_7_14 = src.fetch(Query(LAYER, filters=(
        Filter("CouncilDistrict", "in", (7, 14)), Filter("SRStatus", "!=", "Closed"))))
    assert open_in_7_14.rows == (("", 243.0),)
    assert queries(seen)[-1]["where"] == "CouncilDistrict IN (7, 14) AND SRStatus <> 'Closed'"
    neighborhoods = src.fetch(Query(LAYER, group_by="CouncilDistrict", top=3,
                                    measure=Measure("count_distinct", "Neighborhood")))
    assert neighborhoods.rows == (("4", 26.0), ("6", 26.0), ("12", 25.0))
    by_method = src.fetch(Query(LAYER, group_by="MethodReceived", date_field="CreatedDate",
                                start=datetime(2019, 10, 19, tzinfo=BALTIMORE),
                                end=datetime(2019, 10, 20, tzinfo=BALTIMORE)))
    assert by_method.rows == (("Phone", 386.0), ("API", 261.0), ("Internal", 12.0))


@pytest.mark.koop
@pytest.mark.realdata
def test_paging_returns_every_row_exactly_once(on_koop: Maker) -> None:
    src, seen = on_koop(page_size=250)
    rows = list(src.iter_records(LAYER, ["SRRecordID", "CreatedDate"]))
    with BALTIMORE_311_CSV.open(newline="", encoding="utf-8") as fh:
        expected = [r["SRRecordID"] for r in csv.DictReader(fh)]
    assert len(rows) == 3000
    assert sorted(r["SRRecordID"] for r in rows) == sorted(expected)
    assert rows[0]["CreatedDate"] == "2019-10-21T15:49:49+00:00"
    pages = [q for q in queries(seen) if q.get("outFields")]
    assert [q.get("resultOffset") for q in pages] == [None] + [str(n) for n in
                                                               range(250, 3000, 250)]
    assert {(q["resultRecordCount"], q["orderByFields"]) for q in pages} == {("250",
                                                                              "OBJECTID")}


@pytest.mark.koop
@pytest.mark.realdata
def test_too_many_buckets_are_paged_and_counted_here(on_koop: Maker) -> None:
    src, seen = on_koop(page_size=1000)
    answer = src.fetch(Query(LAYER, date_field="CreatedDate", bucket="day", order="key_asc",
                             start=datetime(2019, 8, 1, tzinfo=BALTIMORE),
                             end=datetime(2019, 11, 9, tzinfo=BALTIMORE)))
    assert not answer.pushed_down
    assert len(answer.rows) == 100
    assert {k: v for k, v in answer.rows if v} == {"2019-10-18": 653.0, "2019-10-19": 659.0,
                                                   "2019-10-20": 572.0, "2019-10-21": 1116.0}
    assert len([q for q in queries(seen) if q.get("outFields")]) == 3


@pytest.mark.koop
@pytest.mark.realdata
def test_koop_error_body_and_a_missing_field(koop: KoopServer,
                                             on_koop: Maker) -> None:
    src, _ = on_koop()
    with pytest.raises(PortalError) as caught:
        src.http.get_json(koop.layer_url("baltimore_311") + "/query",
                          {"where": "SRType = = 'x'", "f": "json"})
    assert str(caught.value) == (
        "portal 'baltimore': the portal answered with an error: 400: Invalid \"where\" "
        "parameter: SRType = = 'x' (check the recipe's columns and filters with `citycrier "
        "sources describe`)")
    with pytest.raises(PortalError) as no_layer:  # Koop, like ArcGIS, answers HTTP 200
        src.fetch(Query("nope/FeatureServer/0"))
    assert str(no_layer.value) == (
        "portal 'baltimore': the portal answered with an error: 404: File GeoJSON provider: "
        "nope.json not found (check the layer path in the recipe)")
    with pytest.raises(SchemaError) as missing:
        src.fetch(Query(LAYER, group_by="SRtype"))
    assert str(missing.value).startswith(
        "portal 'baltimore': dataset 'baltimore_311/FeatureServer/0' has no column 'SRtype'; "
        "it has: OBJECTID, SRRecordID, ServiceRequestNum, SRType, MethodReceived,")


# -- real recorded answers from ArcGIS servers ------------------------------------------------

def fixture(name: str) -> dict[str, Any]:
    return json.loads((ARCGIS_FIXTURES / name).read_text(encoding="utf-8"))


def recorded(answer: Callable[[httpx.Request], dict[str, Any]]) -> tuple[ArcGISSource,
                                                                         list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer(request))

    config = PortalConfig("county", "arcgis", "County GIS",
                          url="https://gis.example.gov/arcgis/rest/services")
    return ArcGISSource(config, "America/Chicago", client=httpx.Client(
        transport=httpx.MockTransport(handler)), clock=FakeClock(), progress=False), seen


@pytest.mark.realdata
def test_recorded_layer_metadata() -> None:
    madison = parse_layer(fixture("us-ms-madison__us-ms-madison-metadata.json"), UTC)
    assert (madison.name, madison.object_id, madison.max_record_count) == ("Parcels",
                                                                           "OBJECTID", 1000)
    assert madison.fields[:3] == (("Landhook", "esriFieldTypeString"),
                                  ("REGION", "esriFieldTypeString"),
                                  ("EDITDATE", "esriFieldTypeDate"))
    assert madison.last_edit is None  # this server reports no editingInfo
    cook = parse_layer(fixture("us-il-cook__metadata.json"), UTC)
    assert (cook.object_id, cook.max_record_count, len(cook.fields)) == ("OBJECTID", 1000, 31)


def test_editing_info_gives_the_last_update() -> None:
    layer = parse_layer({"name": "x", "fields": [], "editingInfo": {
        "lastEditDate": 1793534400000}}, ZoneInfo("America/Chicago"))
    assert layer.last_edit == datetime(2026, 11, 1, 6, tzinfo=ZoneInfo("America/Chicago"))


@pytest.mark.realdata
def test_recorded_count_only_answers_an_ungrouped_count() -> None:
    metadata = fixture("us-ms-madison__us-ms-madison-metadata.json")
    count = fixture("us-ms-madison__us-ms-madison-count-only.json")
    src, seen = recorded(lambda r: count if r.url.path.endswith("/query") else metadata)
    answer = src.fetch(Query("Parcels/MapServer/13", filters=(
        Filter("ZIP", "in", (39110, 39046)), Filter("OWNER", "=", "O'Neil"))))
    assert answer.rows == (("", 124.0),)
    sent = dict(seen[-1].url.params)
    assert sent == {"where": "ZIP IN (39110, 39046) AND OWNER = 'O''Neil'",
                    "returnCountOnly": "true", "f": "json"}
    assert str(seen[0].url) == ("https://gis.example.gov/arcgis/rest/services/Parcels/"
                                "MapServer/13?f=json")


@pytest.mark.realdata
def test_recorded_out_statistics() -> None:
    madison = fixture("us-ms-madison__us-ms-madison-outStatistics.json")
    polk = fixture("us-fl-polk__us-fl-polk-statistics.json")
    assert parse_statistics(madison, "THE_MAX") == [((), 43.0)]
    assert parse_statistics(madison, "the_min") == [((), 0.0)]
    assert parse_statistics(polk, "THE_MIN") == [((), 2335900.0)]


@pytest.mark.realdata
def test_recorded_partial_page_ends_paging_without_the_flag() -> None:
    metadata, page = fixture("us-il-cook__metadata.json"), fixture("us-il-cook__page-partial.json")
    src, seen = recorded(lambda r: {"count": 2} if r.url.params.get("returnCountOnly")
                         else page if r.url.path.endswith("/query") else metadata)
    rows = list(src.iter_records("POI/MapServer/11", ["NAME", "LAST_EDIT"]))
    assert [r["NAME"] for r in rows] == ["SYLVAN WOODS", "SIDE TRACKED"]
    assert rows[0]["LAST_EDIT"] == "4/21/2006 12:00:00 AM"  # as the server sent it
    pages = [r for r in seen if "outFields" in r.url.params]
    assert [dict(r.url.params).get("resultOffset") for r in pages] == [None]


@pytest.mark.realdata
def test_paging_follows_the_flag_not_the_page_size() -> None:
    metadata, page = fixture("us-il-cook__metadata.json"), fixture("us-il-cook__page-partial.json")
    flagged = dict(page, exceededTransferLimit=True)  # the same page, with more to come
    empty = dict(page, features=[], exceededTransferLimit=True)
    answers = iter([flagged, empty, page])

    def answer(request: httpx.Request) -> dict[str, Any]:
        if request.url.params.get("returnCountOnly"):
            return {"count": 4000}
        return next(answers) if request.url.path.endswith("/query") else metadata

    src, seen = recorded(answer)
    rows = list(src.iter_records("POI/MapServer/11", ["NAME"]))
    assert [r["NAME"] for r in rows] == ["SYLVAN WOODS", "SIDE TRACKED"] * 2
    pages = [dict(r.url.params) for r in seen if "outFields" in r.url.params]
    assert [p.get("resultOffset") for p in pages] == [None, "2", "1002"]
    assert {p["resultRecordCount"] for p in pages} == {"1000"}  # the layer's maxRecordCount


@pytest.mark.realdata
def test_recorded_error_free_statistics_feed_a_grouped_answer() -> None:
    metadata = fixture("us-ms-madison__us-ms-madison-metadata.json")
    stats = {"fields": [], "features": [
        {"attributes": {"cc_value": 70, "REGION": "UBL"}},
        {"attributes": {"cc_value": 54, "REGION": None}}]}
    src, seen = recorded(lambda r: stats if r.url.path.endswith("/query") else metadata)
    assert src.fetch(Query("Parcels/MapServer/13", group_by="REGION")).rows == (
        ("UBL", 70.0), ("(blank)", 54.0))
    assert dict(seen[-1].url.params)["groupByFieldsForStatistics"] == "REGION"
