"""bot/sources/local.py: aggregating raw records gives the `file` portal's answers."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import SchemaError, SourceError
from bot.query import Filter, Measure, Query
from bot.settings import PortalConfig
from bot.sources.file import FileSource
from bot.sources.local import aggregate_records, check_columns, check_query, read_moment

from .conftest import BALTIMORE_311_CSV, BPD_SODA_JSON

CHICAGO = ZoneInfo("America/Chicago")


def test_nulls_and_blanks_group_as_blank_and_never_match_a_filter() -> None:
    records = [{"k": "A", "v": "1"}, {"k": None, "v": "2"}, {"k": "  ", "v": "3"}, {"v": "4"},
               {"k": "B"}]
    assert aggregate_records(records, Query("x", group_by="k"), "UTC") == (
        ("(blank)", 3.0), ("A", 1.0), ("B", 1.0))
    assert aggregate_records(records, Query("x", filters=(Filter("k", "!=", "A"),)),
                             "UTC") == (("", 1.0),)
    assert aggregate_records(records, Query("x", filters=(Filter("k", "not in", ("A",)),)),
                             "UTC") == (("", 1.0),)


def test_numbers_compare_as_numbers_only_in_numeric_columns() -> None:
    numeric = [{"v": "10"}, {"v": "9"}, {"v": "9.5"}]
    mixed = [{"v": "10"}, {"v": "9"}, {"v": "x"}]
    over_nine = Query("x", filters=(Filter("v", ">", 9),))
    assert aggregate_records(numeric, over_nine, "UTC") == (("", 2.0),)
    assert aggregate_records(mixed, over_nine, "UTC") == (("", 1.0),)  # only "x" > "9"
    assert aggregate_records(mixed, over_nine, "UTC", numeric={"v"}) == (("", 1.0),)
    assert aggregate_records([{"v": 7.0}], Query("x", filters=(Filter("v", "=", "7"),)),
                             "UTC") == (("", 1.0),)


def test_week_buckets_start_monday_and_cross_the_fall_back_night() -> None:
    records = [{"d": "2026-10-31T23:30:00"},  # Saturday
               {"d": "2026-11-01T01:30:00"},  # Sunday, in the hour that happens twice
               {"d": "2026-11-02T00:00:00"},  # Monday
               {"d": 1794117599000},  # epoch ms: Saturday 2026-11-07 23:59:59 CST
               {"d": "2026-11-09"},  # Monday after the window
               {"d": "not a date"}, {"d": None}]
    q = Query("x", date_field="d", bucket="week", order="key_asc",
              start=datetime(2026, 10, 26, tzinfo=CHICAGO),
              end=datetime(2026, 11, 9, tzinfo=CHICAGO))
    assert aggregate_records(records, q, "America/Chicago") == (
        ("2026-10-26", 2.0), ("2026-11-02", 2.0))


def test_empty_buckets_are_zero_and_the_first_bucket_holds_the_start() -> None:
    records = [{"d": "01/15/2026 09:00:00 AM"}, {"d": "2026-03-02T10:00:00-06:00"}]
    q = Query("x", date_field="d", bucket="month", order="key_asc",
              start=datetime(2026, 1, 15, tzinfo=CHICAGO),
              end=datetime(2026, 4, 1, tzinfo=CHICAGO))
    assert aggregate_records(records, q, "America/Chicago") == (
        ("2026-01-01", 1.0), ("2026-02-01", 0.0), ("2026-03-01", 1.0))


def test_measures_skip_nulls_and_text() -> None:
    records = [{"g": "a", "v": "2"}, {"g": "a", "v": "4"}, {"g": "a", "v": None},
               {"g": "b", "v": "x"}, {"g": "b", "v": "3"}, {"g": "b", "v": "3"}]
    by = {kind: aggregate_records(records, Query("x", group_by="g", order="key_asc",
                                                 measure=Measure(kind, "v")), "UTC")
          for kind in ("sum", "mean", "count_distinct")}
    assert by == {"sum": (("a", 6.0), ("b", 6.0)), "mean": (("a", 3.0), ("b", 3.0)),
                  "count_distinct": (("a", 2.0), ("b", 2.0))}
    assert aggregate_records([], Query("x", measure=Measure("mean", "v")), "UTC") == ()


def test_orders_ties_and_top() -> None:
    records = [{"k": k} for k in ("10", "10", "9", "9", "2", None)]
    run = lambda **kw: aggregate_records(records, Query("x", group_by="k", **kw), "UTC")  # noqa: E731
    assert run() == (("9", 2.0), ("10", 2.0), ("2", 1.0), ("(blank)", 1.0))
    assert run(order="value_asc", top=2) == (("2", 1.0), ("(blank)", 1.0))
    assert run(order="key_asc") == (("2", 1.0), ("9", 2.0), ("10", 2.0), ("(blank)", 1.0))
    assert run(order="key_desc", top=1) == (("(blank)", 1.0),)


def test_reading_moments() -> None:
    first = read_moment("2026-11-01T01:30:00", CHICAGO)  # the 1:30 that happens twice
    assert first is not None and first.isoformat() == "2026-11-01T01:30:00-05:00"  # daylight
    assert read_moment("2019-10-21T15:49:49.000Z", CHICAGO).isoformat() == (  # type: ignore
        "2019-10-21T10:49:49-05:00")
    assert read_moment("2019", CHICAGO) is None
    assert read_moment("", CHICAGO) is None


def test_a_query_no_portal_can_run() -> None:
    with pytest.raises(SourceError) as caught:
        check_query("demo", Query("x", date_field="d", group_by="g", bucket="week"))
    assert str(caught.value) == ("portal 'demo': cannot run count of x by g by week of d: a "
                                 "query groups by a column or buckets by date, not both (fix "
                                 "the recipe)")


def test_a_missing_column_names_what_exists() -> None:
    with pytest.raises(SchemaError) as caught:
        check_columns("demo", Query("x", group_by="SRtype"), ["SRType", "CreatedDate"])
    assert str(caught.value) == ("portal 'demo': dataset 'x' has no column 'SRtype'; it has: "
                                 "SRType, CreatedDate (did you mean 'SRType'? column names "
                                 "are case-sensitive)")
    with pytest.raises(SchemaError) as caught:
        check_columns("demo", Query("x", group_by="Kind"), ["SRType", "CreatedDate"])
    assert str(caught.value).endswith("(fix the recipe's column name, or the dataset changed "
                                      "its schema)")


# -- the same answers as the file portal, on the real files --------------------------------

def _311_records() -> list[dict[str, str | None]]:
    with BALTIMORE_311_CSV.open(newline="", encoding="utf-8") as fh:
        return [{k: (None if v in ("", "NA") else v) for k, v in row.items() if k}
                for row in csv.DictReader(fh)]


BALTIMORE = ZoneInfo("America/New_York")
_SAME_QUERIES = [
    Query("d", group_by="SRType", top=10),
    Query("d", date_field="CreatedDate", bucket="day", order="key_asc",
          start=datetime(2019, 10, 17, tzinfo=BALTIMORE),
          end=datetime(2019, 10, 23, tzinfo=BALTIMORE)),
    Query("d", date_field="CreatedDate", bucket="week", order="key_asc",
          start=datetime(2019, 10, 1, tzinfo=BALTIMORE),
          end=datetime(2019, 11, 1, tzinfo=BALTIMORE)),
    Query("d", date_field="CreatedDate", group_by="Agency",
          start=datetime(2019, 10, 19, 12, tzinfo=BALTIMORE),
          end=datetime(2019, 10, 20, 12, tzinfo=BALTIMORE)),
    Query("d", group_by="Agency", filters=(Filter("CouncilDistrict", "in", (7, 14)),
                                           Filter("SRStatus", "!=", "Closed"))),
    Query("d", group_by="PoliceDistrict", filters=(Filter("CouncilDistrict", ">", 9),)),
    Query("d", group_by="CouncilDistrict", measure=Measure("count_distinct", "Neighborhood"),
          order="key_asc"),
    Query("d", group_by="MethodReceived", measure=Measure("sum", "CouncilDistrict")),
    Query("d", group_by="SRStatus", measure=Measure("mean", "Latitude"), order="key_desc"),
]


@pytest.mark.realdata
@pytest.mark.parametrize("query", _SAME_QUERIES, ids=lambda q: q.describe()[:60])
def test_same_answers_as_the_file_portal_on_the_311_csv(tmp_path: Path, query: Query) -> None:
    (tmp_path / "d.csv").symlink_to(BALTIMORE_311_CSV)
    files = FileSource(PortalConfig("f", "file", "F", path=tmp_path), "America/New_York")
    expected = files.fetch(query).rows
    got = aggregate_records(_311_records(), query, "America/New_York")
    assert [k for k, _ in got] == [k for k, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-12)


@pytest.mark.realdata
def test_same_answers_as_the_file_portal_on_a_soda_body(tmp_path: Path) -> None:
    (tmp_path / "d.json").symlink_to(BPD_SODA_JSON)
    files = FileSource(PortalConfig("f", "file", "F", path=tmp_path), "America/New_York")
    rows = json.loads(BPD_SODA_JSON.read_text(encoding="utf-8"))
    for query in (Query("d", group_by="weapon"),
                  Query("d", date_field="crimedate", bucket="year", order="key_asc"),
                  Query("d", group_by="district", measure=Measure("sum", "total_incidents"),
                        filters=(Filter("neighborhood", "in", ("Butcher's Hill", "Upton")),))):
        assert aggregate_records(rows, query, "America/New_York") == files.fetch(query).rows


@pytest.mark.parametrize("bad, why", [
    (Filter("k", "in", ()), "the 'in' filter on 'k' has no values"),
    (Filter("k", "not in", ()), "the 'not in' filter on 'k' has no values"),
    (Filter("v", "=", "NaN"), "the filter on 'v' compares with 'NaN', which is not a finite "
                              "number"),
    (Filter("v", ">", float("inf")), "the filter on 'v' compares with inf, which is not a "
                                     "finite number")])
def test_no_portal_is_sent_an_empty_list_or_a_non_finite_number(tmp_path: Path, bad: Filter,
                                                                why: str) -> None:
    (tmp_path / "x.csv").write_text("k,v\na,1\n", encoding="utf-8")
    q = Query("x", filters=(bad,))
    for run in (lambda: check_query("demo", q),
                lambda: FileSource(PortalConfig("demo", "file", "Demo", path=tmp_path),
                                   "UTC").fetch(q)):
        with pytest.raises(SourceError) as caught:
            run()
        assert str(caught.value) == (f"portal 'demo': cannot run {q.describe()}: {why} (fix "
                                     f"the recipe)")
