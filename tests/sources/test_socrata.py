"""bot/sources/socrata.py against the Socrata fake, and the fake against real recordings."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from socrata_fake import SocrataFake, read_cassette

from bot.errors import CredentialError, PortalError, SchemaError, SourceError
from bot.query import Filter, Measure, Query
from bot.settings import PortalConfig
from bot.sources.socrata import SocrataSource

from .conftest import BPD_SODA_JSON, SHARED, SOCRATA_FIXTURES, FakeClock

BALTIMORE = ZoneInfo("America/New_York")
BPD_COLUMNS = [("crimecode", "text"), ("crimedate", "floating_timestamp"),
               ("crimetime", "text"), ("description", "text"), ("district", "text"),
               ("location", "text"), ("location_1", "point"), ("neighborhood", "text"),
               ("post", "text"), ("total_incidents", "number"), ("weapon", "text")]
UPDATED = 1793534400  # 2026-11-01T12:00:00Z


def load_bpd(fake: SocrataFake, dataset: str = "wsfq-mvij") -> list[dict[str, object]]:
    rows = json.loads(BPD_SODA_JSON.read_text(encoding="utf-8"))
    fake.add_dataset(dataset, BPD_COLUMNS, rows, name="BPD Part 1 Victim Based Crime",
                     updated=UPDATED)
    return rows


def source(fake: SocrataFake, clock: FakeClock | None = None, **kw: object) -> SocrataSource:
    options = {k: kw.pop(k) for k in ("cache_dir", "no_cache") if k in kw}
    config = PortalConfig("baltimore", "socrata", "Open Baltimore", url=fake.url,
                          **kw)  # type: ignore[arg-type]
    return SocrataSource(config, "America/New_York", clock=clock or FakeClock(), progress=False,
                         **options)  # type: ignore[arg-type]


def data_requests(fake: SocrataFake) -> list[dict[str, str]]:
    return [r.params for r in fake.requests if r.path.startswith("/resource/")]


# -- the fake behaves as the real Socrata did ------------------------------------------------

@pytest.mark.realdata
def test_fake_serves_a_recorded_body_byte_for_byte_with_the_same_headers(
        socrata_fake: SocrataFake) -> None:
    recorded = read_cassette(SOCRATA_FIXTURES / "test_get.yaml")[0]
    fields = json.loads(recorded.headers["X-SODA2-Fields"])
    kinds = json.loads(recorded.headers["X-SODA2-Types"])
    socrata_fake.add_dataset("uczf-rk3c", list(zip(fields, kinds, strict=True)),
                             json.loads(recorded.body))
    answer = httpx.get(socrata_fake.url + "/resource/uczf-rk3c.json")
    assert answer.status_code == recorded.status == 200
    assert answer.text == recorded.body
    soda_headers = {k.lower() for k in recorded.headers if k.lower().startswith("x-soda2-")}
    wanted = soda_headers | {"etag", "last-modified", "content-type"}
    assert wanted <= set(answer.headers.keys())
    for name in ("X-SODA2-Fields", "X-SODA2-Types", "X-SODA2-Data-Out-Of-Date"):
        assert answer.headers[name] == recorded.headers[name]
    assert answer.headers["content-type"] == recorded.headers["Content-Type"]
    assert answer.headers["last-modified"].endswith(" GMT")  # an HTTP date, as recorded


@pytest.mark.realdata
def test_fake_missing_dataset_body_is_the_recorded_one(socrata_fake: SocrataFake) -> None:
    recorded = read_cassette(SOCRATA_FIXTURES / "test_get_missing.yaml")[0]
    answer = httpx.get(socrata_fake.url + "/resource/songs.json")
    assert (answer.status_code, answer.text) == (recorded.status, recorded.body)


@pytest.mark.realdata
def test_fake_soda3_without_a_token_answers_the_recorded_403(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    answer = httpx.post(socrata_fake.url + "/api/v3/views/wsfq-mvij/query.json",
                        json={"query": "SELECT *", "page": {"pageNumber": 1, "pageSize": 1}})
    assert answer.status_code == 403
    assert answer.content == (SOCRATA_FIXTURES / "403_response_json.txt").read_bytes().strip()


@pytest.mark.realdata
def test_fake_serves_the_real_soda_body_in_its_own_shape(socrata_fake: SocrataFake) -> None:
    rows = load_bpd(socrata_fake)
    answer = httpx.get(socrata_fake.url + "/resource/wsfq-mvij.json",
                       params={"$limit": "1000", "$order": ":id"})
    served = answer.json()
    assert served == rows  # strings stay strings, the point stays an object
    assert sum("weapon" in r for r in served) == 380  # null fields are left out
    assert all(isinstance(v, str) for r in served for k, v in r.items() if k != "location_1")
    assert json.loads(answer.headers["x-soda2-types"])[-2:] == ["number", "text"]


def test_fake_error_bodies_have_both_shapes(socrata_fake: SocrataFake) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    no_column = httpx.get(socrata_fake.url + "/resource/abcd-1234.json",
                          params={"$select": "nope"})
    assert no_column.status_code == 400
    assert no_column.json()["errorCode"] == "query.soql.no-such-column"
    assert no_column.json()["data"]["column"] == "nope"
    bad = httpx.get(socrata_fake.url + "/resource/abcd-1234.json", params={"$where": "a = ("})
    assert bad.status_code == 400
    assert (bad.json()["code"], bad.json()["error"]) == ("query.compiler.malformed", True)


# -- pushing the query down -----------------------------------------------------------------

@pytest.mark.realdata
def test_top_five_with_a_tie_at_the_cut(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    answer = source(socrata_fake).fetch(Query("wsfq-mvij", group_by="description", top=5))
    assert answer.rows == (("COMMON ASSAULT", 185.0), ("LARCENY", 181.0),
                           ("AUTO THEFT", 145.0), ("LARCENY FROM AUTO", 131.0),
                           ("AGG. ASSAULT", 107.0))  # BURGLARY has 107 too: A before B
    assert answer.pushed_down
    assert answer.last_updated == datetime(2026, 11, 1, 12, tzinfo=ZoneInfo("UTC"))
    first, every = data_requests(socrata_fake)
    assert first == {"$select": "description AS cc_key, count(*) AS cc_value",
                     "$group": "description", "$order": "cc_value DESC, cc_key",
                     "$limit": "6"}
    assert every["$order"] == "cc_key" and every["$limit"] == "50000"


@pytest.mark.realdata
def test_top_three_without_a_tie_asks_for_four_groups(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    answer = source(socrata_fake).fetch(Query("wsfq-mvij", group_by="description", top=3))
    assert answer.rows == (("COMMON ASSAULT", 185.0), ("LARCENY", 181.0),
                           ("AUTO THEFT", 145.0))
    assert [r["$limit"] for r in data_requests(socrata_fake)] == ["4"]


@pytest.mark.realdata
def test_monthly_series_uses_date_trunc_and_a_local_window(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    q = Query("wsfq-mvij", date_field="crimedate", bucket="month", order="key_asc",
              start=datetime(2015, 1, 1, tzinfo=BALTIMORE),
              end=datetime(2016, 1, 1, tzinfo=BALTIMORE))
    answer = source(socrata_fake).fetch(q)
    assert answer.rows == (("2015-01-01", 5.0), ("2015-02-01", 5.0), ("2015-03-01", 8.0),
                           ("2015-04-01", 10.0), ("2015-05-01", 15.0), ("2015-06-01", 11.0),
                           ("2015-07-01", 12.0), ("2015-08-01", 15.0), ("2015-09-01", 24.0),
                           ("2015-10-01", 24.0), ("2015-11-01", 64.0), ("2015-12-01", 29.0))
    (sent,) = data_requests(socrata_fake)
    assert sent["$select"] == "date_trunc_ym(crimedate) AS cc_key, count(*) AS cc_value"
    assert sent["$where"] == ("crimedate >= '2015-01-01T00:00:00' AND crimedate < "
                              "'2016-01-01T00:00:00'")


@pytest.mark.realdata
def test_weeks_are_summed_from_days_with_empty_weeks(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    q = Query("wsfq-mvij", date_field="crimedate", bucket="week", order="key_asc",
              start=datetime(2015, 11, 1, tzinfo=BALTIMORE),
              end=datetime(2015, 12, 1, tzinfo=BALTIMORE))
    assert source(socrata_fake).fetch(q).rows == (
        ("2015-10-26", 0.0), ("2015-11-02", 15.0), ("2015-11-09", 27.0), ("2015-11-16", 6.0),
        ("2015-11-23", 13.0), ("2015-11-30", 3.0))


@pytest.mark.realdata
def test_nulls_group_as_blank_and_quotes_are_doubled(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    src = source(socrata_fake)
    assert src.fetch(Query("wsfq-mvij", group_by="weapon")).rows == (
        ("(blank)", 620.0), ("HANDS", 201.0), ("FIREARM", 84.0), ("OTHER", 54.0),
        ("KNIFE", 41.0))
    hill = Query("wsfq-mvij", filters=(Filter("neighborhood", "=", "Butcher's Hill"),))
    assert src.fetch(hill).rows == (("", 2.0),)
    assert data_requests(socrata_fake)[-1]["$where"] == "neighborhood = 'Butcher''s Hill'"


@pytest.mark.realdata
def test_other_measures(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    src = source(socrata_fake)
    total = src.fetch(Query("wsfq-mvij", measure=Measure("sum", "total_incidents"),
                            filters=(Filter("district", "in", ("SOUTHERN", "CENTRAL")),)))
    assert total.rows == (("", 257.0),)
    assert data_requests(socrata_fake)[-1]["$where"] == "district in ('SOUTHERN', 'CENTRAL')"
    distinct = src.fetch(Query("wsfq-mvij", group_by="district", top=3,
                               measure=Measure("count_distinct", "neighborhood")))
    assert distinct.rows == (("NORTHERN", 45.0), ("NORTHEASTERN", 33.0),
                             ("SOUTHWESTERN", 33.0))
    assert data_requests(socrata_fake)[-1]["$group"] == "district, neighborhood"
    firearms = src.fetch(Query("wsfq-mvij", group_by="district", top=2, filters=(
        Filter("weapon", "=", "FIREARM"), Filter("total_incidents", ">=", 1))))
    assert firearms.rows == (("NORTHEASTERN", 15.0), ("WESTERN", 15.0))
    assert data_requests(socrata_fake)[-1]["$where"] == ("weapon = 'FIREARM' AND "
                                                         "total_incidents >= 1")


@pytest.mark.realdata
def test_soda3_posts_the_same_statement(socrata_fake: SocrataFake,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    load_bpd(socrata_fake)
    monkeypatch.setenv("BAL_TOKEN", "tok-123")
    src = source(socrata_fake, soda3=True, app_token_env="BAL_TOKEN")
    answer = src.fetch(Query("wsfq-mvij", group_by="weapon", top=2))
    assert answer.rows == (("(blank)", 620.0), ("HANDS", 201.0))
    posted = [r for r in socrata_fake.requests if r.method == "POST"]
    assert [r.path for r in posted] == ["/api/v3/views/wsfq-mvij/query.json"]
    assert posted[0].headers["x-app-token"] == "tok-123"


def test_soda3_without_a_token_says_which_variable(socrata_fake: SocrataFake,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    monkeypatch.delenv("BAL_TOKEN", raising=False)
    src = source(socrata_fake, soda3=True, app_token_env="BAL_TOKEN")
    with pytest.raises(CredentialError) as caught:
        src.fetch(Query("abcd-1234", group_by="a"))
    assert str(caught.value) == ("portal 'baltimore' uses SODA 3, which needs an app token: "
                                 "environment variable BAL_TOKEN is not set (set it in the "
                                 "environment or in .env)")


# -- freshness, schema and errors -----------------------------------------------------------

@pytest.mark.realdata
def test_describe_reads_the_view(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    info = source(socrata_fake).describe("wsfq-mvij")
    assert info.columns[:3] == (("crimecode", "crimecode", "text"),
                                ("crimedate", "crimedate", "date"),
                                ("crimetime", "crimetime", "text"))
    assert info.last_updated == datetime(2026, 11, 1, 7, tzinfo=BALTIMORE)  # EST since 2 am
    assert (info.title, info.url) == ("BPD Part 1 Victim Based Crime",
                                      f"{socrata_fake.url}/d/wsfq-mvij")


@pytest.mark.realdata
def test_describe_reads_a_real_view_body() -> None:
    body = json.loads((SHARED / "baltimore" / "crime-by-neighborhood.views.json").read_text(
        encoding="utf-8"))["meta"]["view"]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    src = SocrataSource(PortalConfig("b", "socrata", "B", url="https://data.baltimorecity.gov"),
                        "America/New_York", client=httpx.Client(transport=transport))
    info = src.describe("6ayg-3z5z")
    assert info.last_updated == datetime(2016, 5, 17, 15, 17, 53, tzinfo=ZoneInfo("UTC"))
    assert info.title == "Crime by Neighborhood"
    assert not any(name.startswith(":") for name, _, _ in info.columns)


@pytest.mark.realdata
def test_a_missing_column_lists_the_columns(socrata_fake: SocrataFake) -> None:
    load_bpd(socrata_fake)
    with pytest.raises(SchemaError) as caught:
        source(socrata_fake).fetch(Query("wsfq-mvij", group_by="Weapon"))
    assert str(caught.value) == (
        "portal 'baltimore': dataset 'wsfq-mvij' has no column 'Weapon'; it has: crimecode, "
        "crimedate, crimetime, description, district, location, location_1, neighborhood, "
        "post, total_incidents, weapon (did you mean 'weapon'? column names are "
        "case-sensitive)")
    assert data_requests(socrata_fake) == []  # caught before asking for data


def test_the_server_saying_no_such_column_is_a_schema_error(socrata_fake: SocrataFake) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    src = source(socrata_fake)
    src.describe("abcd-1234")
    del src._views["abcd-1234"]["columns"]["a"]  # metadata older than the data
    with pytest.raises(SchemaError) as caught:
        src.fetch(Query("abcd-1234", filters=(Filter("a", "=", "x"),)))
    assert str(caught.value).startswith("portal 'baltimore': dataset 'abcd-1234' has no "
                                        "column 'a'; it has: ")


def test_no_such_column_for_a_column_the_metadata_lists_shows_the_portals_words(
        socrata_fake: SocrataFake) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text"), ("time", "text")], [{"a": "x"}])
    socrata_fake.unqueryable = {"time"}
    with pytest.raises(PortalError) as caught:
        source(socrata_fake).fetch(Query("abcd-1234", group_by="time"))
    assert str(caught.value) == (
        "portal 'baltimore': the portal answered with an error: query.soql.no-such-column: "
        "Query coordinator error: query.soql.no-such-column; No such column: time (the "
        "dataset's metadata lists 'time' but its query engine refuses it; the column may have "
        "been renamed or hidden: ask the portal, or use another column)")


def test_a_missing_dataset(socrata_fake: SocrataFake) -> None:
    with pytest.raises(SourceError) as caught:
        source(socrata_fake).fetch(Query("zzzz-zzzz"))
    assert str(caught.value) == (
        "portal 'baltimore': dataset 'zzzz-zzzz' does not exist (HTTP 404 dataset.missing) "
        "(check the dataset id in the recipe and the portal's url in config.toml)")


def test_throttled_without_a_token(socrata_fake: SocrataFake, fake_clock: FakeClock) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    socrata_fake.throttle_anonymous = True
    with pytest.raises(SourceError) as caught:
        source(socrata_fake, fake_clock, retries=2).fetch(Query("abcd-1234", group_by="a"))
    assert str(caught.value) == (
        "portal 'baltimore': the portal kept answering HTTP 429 (too many requests) after 3 "
        "tries (get an app token from the portal and add app_token_env to "
        "[portals.baltimore] in config.toml)")
    assert len(fake_clock.sleeps) == 2 and [r.status for r in socrata_fake.requests] == [429] * 3


def test_a_token_gets_through_and_is_never_logged(socrata_fake: SocrataFake,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}, {"a": "x"}])
    socrata_fake.throttle_anonymous = True
    monkeypatch.setenv("BAL_TOKEN", "sekrit-app-token")
    src = source(socrata_fake, app_token_env="BAL_TOKEN")
    assert src.fetch(Query("abcd-1234", group_by="a")).rows == (("x", 2.0),)
    assert {r.headers["x-app-token"] for r in socrata_fake.requests} == {"sekrit-app-token"}
    assert "sekrit" not in caplog.text


def test_202_is_asked_again_on_a_fake_clock(socrata_fake: SocrataFake,
                                            fake_clock: FakeClock) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    socrata_fake.pending = 3
    assert source(socrata_fake, fake_clock).fetch(Query("abcd-1234")).rows == (("", 1.0),)
    assert len(fake_clock.sleeps) == 3
    assert [r.status for r in socrata_fake.requests] == [202, 202, 202, 200, 200]


def test_an_html_error_page(socrata_fake: SocrataFake, fake_clock: FakeClock) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    socrata_fake.html_errors = 10
    with pytest.raises(SourceError) as caught:
        source(socrata_fake, fake_clock, retries=1).fetch(Query("abcd-1234"))
    assert str(caught.value) == (
        "portal 'baltimore': returned an HTML page instead of data (HTTP 502): the portal may "
        "be down; try again later")


def test_an_unchanged_dataset_is_not_downloaded_again(socrata_fake: SocrataFake,
                                                      tmp_path: Path) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}, {"a": "y"}],
                             updated=UPDATED)
    q = Query("abcd-1234", group_by="a", order="key_asc")
    first = source(socrata_fake, cache_dir=tmp_path).fetch(q)
    second_source = source(socrata_fake, cache_dir=tmp_path)
    second = second_source.fetch(q)
    assert first.rows == second.rows == (("x", 1.0), ("y", 1.0))
    again = socrata_fake.requests[-2:]  # the view and the data, asked conditionally
    assert [(r.path, r.status) for r in again] == [("/api/views/abcd-1234.json", 304),
                                                   ("/resource/abcd-1234.json", 304)]
    assert all(r.headers.get("if-none-match") for r in again)
    socrata_fake.touch("abcd-1234", UPDATED + 60)
    source(socrata_fake, cache_dir=tmp_path).fetch(q)
    assert [r.status for r in socrata_fake.requests[-2:]] == [200, 200]
    source(socrata_fake, cache_dir=tmp_path, no_cache=True).fetch(q)
    assert not any(r.headers.get("if-none-match") for r in socrata_fake.requests[-2:])


# -- what cannot be pushed down -------------------------------------------------------------

def test_a_text_date_column_is_paged_by_id_and_aggregated_here(
        socrata_fake: SocrataFake, caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"when": f"2026-10-{day:02d}", "kind": "pothole" if day % 3 else "graffiti"}
            for day in range(1, 32) for _ in range(10)]  # 310 rows, dates kept as text
    socrata_fake.add_dataset("text-date", [("when", "text"), ("kind", "text")], rows)
    caplog.set_level(logging.INFO)
    src = source(socrata_fake, page_size=100)
    answer = src.fetch(Query("text-date", date_field="when", group_by="kind",
                             start=datetime(2026, 10, 5, tzinfo=BALTIMORE),
                             end=datetime(2026, 10, 12, tzinfo=BALTIMORE)))
    assert answer.rows == (("pothole", 50.0), ("graffiti", 20.0))  # days 5-11: 3, 6, 9 graffiti
    assert not answer.pushed_down
    assert "aggregating locally" in caplog.text
    pages = [r for r in data_requests(socrata_fake) if r.get("$select") == "when, kind"]
    assert [(p["$order"], p["$limit"], p.get("$offset")) for p in pages] == [
        (":id", "100", None), (":id", "100", "100"), (":id", "100", "200"),
        (":id", "100", "300")]


def test_portal_errors_are_not_swallowed(socrata_fake: SocrataFake) -> None:
    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    src = source(socrata_fake)
    with pytest.raises(PortalError) as caught:
        src.http.get_json(socrata_fake.url + "/resource/abcd-1234.json", {"$where": "a = ("})
    assert str(caught.value).startswith("portal 'baltimore': the portal answered with an "
                                        "error: query.compiler.malformed: Could not parse")


def test_socrata_metadata_is_read_once_when_asked_from_threads():
    """bot.figures.ask_together asks a thread's queries at once; the dataset's metadata is
    still requested once."""
    from bot.figures import ask_together
    from bot.periods import resolve_period

    period = resolve_period("last_month", datetime(2026, 11, 2).date(), "America/Chicago")
    with SocrataFake() as fake:
        fake.add_dataset("abcd-1234", [("kind", "text"), ("at", "floating_timestamp")],
                         [{"kind": k, "at": f"2026-10-{d:02d}T10:00:00.000"}
                          for d, k in ((1, "a"), (2, "b"), (3, "a"), (20, "a"))])
        src = SocrataSource(PortalConfig("p", "socrata", "P", url=fake.url), "America/Chicago",
                            progress=False)
        month = dict(dataset="abcd-1234", date_field="at",
                     start=period.start, end=period.end)
        answers = ask_together(src, [Query(**month), Query(**month, group_by="kind"),
                                     Query(**month, bucket="day", order="key_asc")])
        metadata = [r for r in fake.requests if r.path.startswith("/api/views/")]
    assert [a.total for a in answers] == [4, 4, 4]
    assert answers[1].rows == (("a", 3.0), ("b", 1.0))
    assert len(metadata) == 1 and src.http.requests_sent == 4


# -- the fake is as strict as SoQL where citycrier once slipped ------------------------------

def soql_error(fake: SocrataFake, where: str) -> tuple[int, dict[str, object]]:
    answer = httpx.get(fake.url + "/resource/strict-0001.json", params={"$where": where})
    return answer.status_code, answer.json()


@pytest.fixture
def strict(socrata_fake: SocrataFake) -> SocrataFake:
    socrata_fake.add_dataset("strict-0001", [("kind", "text"), ("mag", "number"),
                                             ("flag", "checkbox"),
                                             ("at", "fixed_timestamp")],
                             [{"kind": "a", "mag": "1", "flag": True,
                               "at": "2026-10-01T04:30:00.000Z"},
                              {"mag": "2", "flag": False, "at": "2026-10-01T05:30:00.000Z"}])
    return socrata_fake


def test_fake_refuses_an_empty_in_list_as_malformed(strict: SocrataFake) -> None:
    status, body = soql_error(strict, "kind in ()")
    assert (status, body["code"], body["error"]) == (400, "query.compiler.malformed", True)
    assert str(body["message"]).endswith("at line 1 character 10: Expected an expression, but "
                                         "got `)'")


def test_fake_reads_bare_nan_and_inf_as_columns_that_do_not_exist(strict: SocrataFake) -> None:
    for word in ("nan", "inf"):
        status, body = soql_error(strict, f"mag = {word}")
        assert (status, body["errorCode"]) == (400, "query.soql.no-such-column")
        assert body["data"]["column"] == word  # type: ignore[index]


def test_fake_refuses_a_quoted_boolean_on_a_checkbox(strict: SocrataFake) -> None:
    status, body = soql_error(strict, "flag = 'true'")
    assert status == 400
    assert body["errorCode"] == "query.soql.type-mismatch"
    assert body["message"] == ("Query coordinator error: query.soql.type-mismatch; Type "
                               "mismatch for op$=, is text")
    assert soql_error(strict, "flag in ('true')")[1]["errorCode"] == "query.soql.type-mismatch"
    ok = httpx.get(strict.url + "/resource/strict-0001.json", params={"$where": "flag = true"})
    assert ok.json() == [{"kind": "a", "mag": "1", "flag": True,
                          "at": "2026-10-01T04:30:00.000Z"}]
    nulls = httpx.get(strict.url + "/resource/strict-0001.json",
                      params={"$where": "(kind in ('b') OR kind IS NULL)", "$select": "mag"})
    assert nulls.json() == [{"mag": "2"}]


def test_a_column_named_like_a_soql_keyword_goes_in_backticks(socrata_fake: SocrataFake) -> None:
    """`order`, `group`, `from` are SoQL keywords: bare, real Socrata cannot parse them (and
    the fake refuses them the same way); in backticks they are columns like any other."""
    socrata_fake.add_dataset("kwds-0001", [("order", "text"), ("group", "text"),
                                           ("from", "number"), ("date", "text")],
                             [{"order": "a", "group": "x", "from": "1", "date": "d"},
                              {"order": "a", "group": "x", "from": "2"},
                              {"order": "b", "group": "x", "from": "3"},
                              {"order": "b", "group": "y", "from": "4"}])
    bare = httpx.get(socrata_fake.url + "/resource/kwds-0001.json",
                     params={"$where": "order = 'a'"})
    assert (bare.status_code, bare.json()["code"]) == (400, "query.compiler.malformed")
    assert bare.json()["message"].endswith("character 1: Expected an expression, but got "
                                           "`order'")
    src = source(socrata_fake)
    query = Query("kwds-0001", group_by="order", measure=Measure("sum", "from"),
                  filters=(Filter("group", "=", "x"), Filter("from", ">=", 1)))
    assert src.fetch(query).rows == (("a", 3.0), ("b", 3.0))
    sent = data_requests(socrata_fake)[-1]
    assert (sent["$select"], sent["$where"], sent["$group"]) == (
        "`order` AS cc_key, sum(`from`) AS cc_value", "`group` = 'x' AND `from` >= 1",
        "`order`")
    assert src.fetch(Query("kwds-0001", group_by="date")).rows == (("(blank)", 3.0),
                                                                   ("d", 1.0))


def test_fake_truncates_a_fixed_timestamp_only_in_a_named_zone(strict: SocrataFake) -> None:
    """soql-reference's SoQLFunctions: one-argument date_trunc_* take a floating timestamp;
    a fixed one needs a zone (date_trunc_ym(at, 'Zone'), or to_floating_timestamp(at, 'Zone')
    first), and the answer is a floating timestamp in that zone."""
    url = strict.url + "/resource/strict-0001.json"
    bare = httpx.get(url, params={"$select": "date_trunc_ym(at) AS m"})
    assert (bare.status_code, bare.json()["errorCode"]) == (400, "query.soql.type-mismatch")
    assert bare.json()["message"].endswith("Type mismatch for date_trunc_ym, is fixed_timestamp")
    for select in ("date_trunc_ym(to_floating_timestamp(at, 'America/Chicago')) AS m",
                   "date_trunc_ym(at, 'America/Chicago') AS m"):
        answer = httpx.get(url, params={"$select": select, "$order": "m"})
        assert answer.json() == [{"m": "2026-09-01T00:00:00.000"},
                                 {"m": "2026-10-01T00:00:00.000"}]  # 23:30 and 00:30 CDT
        assert json.loads(answer.headers["x-soda2-types"]) == ["floating_timestamp"]


# -- a monthly series on a fixed timestamp is counted by the portal --------------------------

def test_a_fixed_timestamp_series_is_pushed_down_in_local_months(
        socrata_fake: SocrataFake) -> None:
    moments = ["2026-08-01T04:00:00.000Z", "2026-08-31T12:00:00.000Z",  # Aug 1 00:00 EDT
               "2026-09-01T03:30:00.000Z",  # Aug 31 23:30 EDT: August, though September in UTC
               "2026-09-15T12:00:00.000Z", "2026-10-01T04:00:00.000Z",
               "2026-11-01T03:59:59.000Z"]  # Oct 31 23:59:59 EDT
    socrata_fake.add_dataset("land-mrks", [("designation_date", "fixed_timestamp"),
                                           ("name", "text")],
                             [{"designation_date": m, "name": f"n{i}"}
                              for i, m in enumerate(moments)])
    src = source(socrata_fake)
    answer = src.fetch(Query("land-mrks", date_field="designation_date", bucket="month",
                             order="key_asc", start=datetime(2026, 8, 1, tzinfo=BALTIMORE),
                             end=datetime(2026, 11, 1, tzinfo=BALTIMORE)))
    assert answer.rows == (("2026-08-01", 3.0), ("2026-09-01", 1.0), ("2026-10-01", 2.0))
    assert answer.pushed_down
    (sent,) = data_requests(socrata_fake)
    assert sent["$select"] == ("date_trunc_ym(to_floating_timestamp(designation_date, "
                               "'America/New_York')) AS cc_key, count(*) AS cc_value")
    assert sent["$where"] == ("designation_date >= '2026-08-01T04:00:00Z' AND "
                              "designation_date < '2026-11-01T04:00:00Z'")
    assert sent["$group"] == ("date_trunc_ym(to_floating_timestamp(designation_date, "
                              "'America/New_York'))")


def test_retry_after_as_an_http_date_is_honoured(socrata_fake: SocrataFake,
                                                 fake_clock: FakeClock) -> None:
    from email.utils import formatdate

    socrata_fake.add_dataset("abcd-1234", [("a", "text")], [{"a": "x"}])
    socrata_fake.throttled = 1
    socrata_fake.retry_after = formatdate(time.time() + 40, usegmt=True)
    assert source(socrata_fake, fake_clock, retries=2).fetch(Query("abcd-1234")).rows == (
        ("", 1.0),)
    (waited,) = fake_clock.sleeps
    assert 38.0 <= waited <= 40.0  # the reply's Date is to the second, as HTTP dates are
