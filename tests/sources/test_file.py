"""The `file` portal: exact answers from small hand-written files, then the real files."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.sources.file as file_portal
from bot.errors import SchemaError, SourceError
from bot.query import Filter, Measure, Query
from bot.settings import PortalConfig
from bot.sources.file import FileSource

CHI = ZoneInfo("America/Chicago")
NYC = ZoneInfo("America/New_York")

# Row 4 is 01:30 on the day clocks spring forward (still CST); row 5 is 23:30 that evening
# (CDT), written the way Baltimore's export writes times; row 6 is a bare US date; row 7 has
# no kind; row 8's date cannot be read.
REQUESTS_CSV = """\
id,kind,created,amount,district,note
1,pothole,2026-03-02T08:00:00,10,1,a
2,pothole,2026-03-03T09:30:00,20,2,b
3,trash,2026-03-03T23:59:59,5,2,
4,rats,2026-03-08T01:30:00,,10,c
5,trash,03/08/2026 11:30:00 PM,7.5,NA,a
6,rats,03/09/2026,2,1,a
7,,2026-03-16T00:00:00,1,3,d
8,pothole,not a date,4,2,e
"""

# An Esri query body: dates in epoch milliseconds (UTC), numbers as numbers, nulls as null.
# In Chicago time the four dates are 8 March 01:30 CST and 23:30 CDT, then 1 November 01:30 CDT
# and 23:30 CST.
EVENTS = {"features": [
    {"attributes": {"OBJECTID": 1, "when": 1772955000000, "kind": "flood", "size": 2}},
    {"attributes": {"OBJECTID": 2, "when": 1773030600000, "kind": "flood", "size": 3.5}},
    {"attributes": {"OBJECTID": 3, "when": 1793514600000, "kind": "fire", "size": 1}},
    {"attributes": {"OBJECTID": 4, "when": 1793597400000, "kind": "fire", "size": None}},
    {"attributes": {"OBJECTID": 5, "when": None, "kind": "fire", "size": 1.0}},
]}

# A raw Socrata /resource body: every value a string, null fields left out of the row.
INCIDENTS = [
    {"crimedate": "2026-03-08T02:30:00.000", "description": "LARCENY", "district": "SOUTHERN",
     "total_incidents": "1"},  # 02:30 never happened that night: read as 03:00 CDT
    {"crimedate": "2026-03-09T04:30:00Z", "description": "LARCENY", "district": "SOUTHERN",
     "total_incidents": "2", "weapon": "HANDS"},  # 23:30 CDT on 03-08
    {"crimedate": "2026-03-09T00:30:00-05:00", "description": "AGG. ASSAULT",
     "total_incidents": "1", "weapon": "KNIFE"},
    {"crimedate": "2026-11-01T01:30:00", "description": "AGG. ASSAULT", "district": "NORTHERN",
     "total_incidents": "3", "weapon": "HANDS"},  # 01:30 happened twice: read as the first (CDT)
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "requests.csv").write_text(REQUESTS_CSV, encoding="utf-8")
    (tmp_path / "events.json").write_text(json.dumps(EVENTS), encoding="utf-8")
    (tmp_path / "incidents.json").write_text(json.dumps(INCIDENTS), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a dataset", encoding="utf-8")
    return tmp_path


def portal_at(folder: Path) -> PortalConfig:
    return PortalConfig(name="test", kind="file", label="Test", path=folder)


@pytest.fixture
def source(folder: Path) -> FileSource:
    return FileSource(portal_at(folder), "America/Chicago", http=None)


def rows(source: FileSource, dataset: str = "requests", **kw: object) -> tuple:
    return source.fetch(Query(dataset, **kw)).rows  # type: ignore[arg-type]


def count_where(source: FileSource, *filters: Filter) -> float:
    return source.fetch(Query("requests", filters=filters)).rows[0][1]


# -- filters --------------------------------------------------------------------------------

def test_total_counts_every_row(source: FileSource) -> None:
    assert rows(source) == (("", 8.0),)


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("=", "pothole", 3),
    ("!=", "pothole", 4),  # the row with no kind matches neither = nor !=
    ("in", ("trash", "rats"), 4),
    ("not in", ("trash",), 5),
    (">", "rats", 2),  # text compares as text: "trash" > "rats" > "pothole"
    (">=", "rats", 4),
    ("<", "rats", 3),
    ("<=", "rats", 5),
])
def test_text_filters(source: FileSource, op: str, value: object, expected: int) -> None:
    assert count_where(source, Filter("kind", op, value)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("op", "value", "expected"), [
    (">", 5, 3),  # 10, 20, 7.5: as text "10" > "5" would be false
    (">=", "5", 4),
    ("<", 5, 3),
    ("<=", 5.0, 4),
    ("=", 7.5, 1),
    ("!=", 10, 6),  # the blank amount matches nothing
])
def test_numeric_filters(source: FileSource, op: str, value: object, expected: int) -> None:
    assert count_where(source, Filter("amount", op, value)) == expected  # type: ignore[arg-type]


def test_numbers_match_numeric_columns_whatever_their_spelling(source: FileSource) -> None:
    assert count_where(source, Filter("district", "=", 2)) == 3
    assert count_where(source, Filter("district", "in", (1, "10"))) == 3
    assert count_where(source, Filter("district", "not in", (1, 2))) == 2


def test_filters_combine_with_and(source: FileSource) -> None:
    assert count_where(source, Filter("note", "=", "a"), Filter("kind", "=", "rats")) == 1


# -- measures -------------------------------------------------------------------------------

def test_sum_mean_and_count_distinct(source: FileSource) -> None:
    assert rows(source, measure=Measure("sum", "amount")) == (("", 49.5),)
    trash = (Filter("kind", "=", "trash"),)
    assert rows(source, measure=Measure("mean", "amount"), filters=trash) == (("", 6.25),)
    assert rows(source, measure=Measure("count_distinct", "note")) == (("", 5.0),)


def test_no_rows_give_zero(source: FileSource) -> None:
    none = (Filter("kind", "=", "graffiti"),)
    assert rows(source, filters=none) == (("", 0.0),)
    assert rows(source, filters=none, measure=Measure("mean", "amount")) == ()  # no data
    assert rows(source, filters=none, group_by="kind") == ()


# -- groups and order -----------------------------------------------------------------------

def test_group_by_with_blank_key_and_ties_by_key(source: FileSource) -> None:
    assert rows(source, group_by="kind") == (
        ("pothole", 3.0), ("rats", 2.0), ("trash", 2.0), ("(blank)", 1.0))
    assert rows(source, group_by="kind", measure=Measure("sum", "amount")) == (
        ("pothole", 34.0), ("trash", 12.5), ("rats", 2.0), ("(blank)", 1.0))


@pytest.mark.parametrize(("order", "expected"), [
    ("value_desc", (("2", 3.0), ("1", 2.0), ("3", 1.0), ("10", 1.0), ("(blank)", 1.0))),
    ("value_asc", (("3", 1.0), ("10", 1.0), ("(blank)", 1.0), ("1", 2.0), ("2", 3.0))),
    ("key_asc", (("1", 2.0), ("2", 3.0), ("3", 1.0), ("10", 1.0), ("(blank)", 1.0))),
    ("key_desc", (("(blank)", 1.0), ("10", 1.0), ("3", 1.0), ("2", 3.0), ("1", 2.0))),
])
def test_orders(source: FileSource, order: str, expected: tuple) -> None:
    assert rows(source, group_by="district", order=order) == expected


def test_top(source: FileSource) -> None:
    assert rows(source, group_by="district", top=2) == (("2", 3.0), ("1", 2.0))


# -- dates ----------------------------------------------------------------------------------

def test_day_buckets_include_empty_days(source: FileSource) -> None:
    assert rows(source, date_field="created", start=datetime(2026, 3, 2, tzinfo=CHI),
                end=datetime(2026, 3, 10, tzinfo=CHI), bucket="day", order="key_asc") == (
        ("2026-03-02", 1.0), ("2026-03-03", 2.0), ("2026-03-04", 0.0), ("2026-03-05", 0.0),
        ("2026-03-06", 0.0), ("2026-03-07", 0.0), ("2026-03-08", 2.0), ("2026-03-09", 1.0))


def test_week_buckets_start_on_monday(source: FileSource) -> None:
    # the window opens on Sunday 1 March: its week is keyed by Monday 23 February
    assert rows(source, date_field="created", start=datetime(2026, 3, 1, tzinfo=CHI),
                end=datetime(2026, 3, 23, tzinfo=CHI), bucket="week", order="key_asc") == (
        ("2026-02-23", 0.0), ("2026-03-02", 5.0), ("2026-03-09", 1.0), ("2026-03-16", 1.0))


def test_month_and_year_buckets(source: FileSource) -> None:
    assert rows(source, date_field="created", start=datetime(2026, 2, 1, tzinfo=CHI),
                end=datetime(2026, 5, 1, tzinfo=CHI), bucket="month", order="key_desc") == (
        ("2026-04-01", 0.0), ("2026-03-01", 7.0), ("2026-02-01", 0.0))
    # without a window the buckets run from the first date to the last; row 8 has none
    assert rows(source, date_field="created", bucket="year") == (("2026-01-01", 7.0),)
    assert rows(source, date_field="created", bucket="month", measure=Measure("sum", "amount"),
                order="key_asc") == (("2026-03-01", 45.5),)


def test_a_spring_forward_day_is_23_hours(source: FileSource) -> None:
    """01:30 CST and 23:30 CDT both fall on 8 March; a fixed offset would lose one."""
    window = {"date_field": "created", "start": datetime(2026, 3, 8, tzinfo=CHI),
              "end": datetime(2026, 3, 9, tzinfo=CHI)}
    assert rows(source, **window) == (("", 2.0),)
    # the same window written in UTC
    utc = ZoneInfo("UTC")
    assert rows(source, date_field="created", start=datetime(2026, 3, 8, 6, tzinfo=utc),
                end=datetime(2026, 3, 9, 5, tzinfo=utc)) == (("", 2.0),)


def test_unreadable_dates_are_outside_every_window(source: FileSource) -> None:
    assert rows(source, date_field="created", start=datetime(2000, 1, 1, tzinfo=CHI),
                end=datetime(2100, 1, 1, tzinfo=CHI)) == (("", 7.0),)


def test_epoch_milliseconds_across_both_changes_of_clock(source: FileSource) -> None:
    assert rows(source, "events", date_field="when", start=datetime(2026, 3, 7, tzinfo=CHI),
                end=datetime(2026, 3, 10, tzinfo=CHI), bucket="day", order="key_asc") == (
        ("2026-03-07", 0.0), ("2026-03-08", 2.0), ("2026-03-09", 0.0))
    # 1 November has 25 hours: 01:30 CDT and 23:30 CST are both on it
    assert rows(source, "events", date_field="when", start=datetime(2026, 11, 1, tzinfo=CHI),
                end=datetime(2026, 11, 2, tzinfo=CHI)) == (("", 2.0),)
    assert rows(source, "events", group_by="kind", measure=Measure("sum", "size")) == (
        ("flood", 5.5), ("fire", 2.0))


def test_socrata_json_with_absent_fields(source: FileSource) -> None:
    assert rows(source, "incidents", group_by="weapon") == (
        ("HANDS", 2.0), ("KNIFE", 1.0), ("(blank)", 1.0))
    assert rows(source, "incidents", group_by="district") == (
        ("SOUTHERN", 2.0), ("NORTHERN", 1.0), ("(blank)", 1.0))
    assert rows(source, "incidents", measure=Measure("sum", "total_incidents")) == (("", 7.0),)
    assert count_where_json(source, Filter("weapon", "!=", "HANDS")) == 1


def count_where_json(source: FileSource, *filters: Filter) -> float:
    return source.fetch(Query("incidents", filters=filters)).rows[0][1]


def test_naive_aware_missing_and_ambiguous_times(source: FileSource) -> None:
    # 02:30 (which never happened), 23:30 CDT given in UTC, and 00:30 CDT given with -05:00
    assert rows(source, "incidents", date_field="crimedate",
                start=datetime(2026, 3, 8, tzinfo=CHI), end=datetime(2026, 3, 10, tzinfo=CHI),
                bucket="day", order="key_asc") == (("2026-03-08", 2.0), ("2026-03-09", 1.0))
    # an ambiguous 01:30 is the first one, 06:30 UTC
    utc = ZoneInfo("UTC")
    assert rows(source, "incidents", date_field="crimedate",
                start=datetime(2026, 11, 1, 6, tzinfo=utc),
                end=datetime(2026, 11, 1, 6, 45, tzinfo=utc)) == (("", 1.0),)


# -- errors ---------------------------------------------------------------------------------

def test_a_missing_column_names_the_columns_there_are(source: FileSource) -> None:
    with pytest.raises(SchemaError) as info:
        source.fetch(Query("requests", group_by="kynd"))
    assert str(info.value) == (
        "portal 'test': dataset 'requests' has no column 'kynd'; it has: id, kind, created, "
        "amount, district, note (fix the recipe's column name, or the dataset changed its "
        "schema)")
    with pytest.raises(SchemaError, match="has no column 'weapons'"):
        source.fetch(Query("incidents", filters=(Filter("weapons", "=", "X"),)))


def test_a_missing_dataset_lists_the_datasets_there_are(source: FileSource,
                                                         folder: Path) -> None:
    with pytest.raises(SourceError) as info:
        source.fetch(Query("crimes"))
    assert str(info.value) == (
        f"portal 'test': no dataset 'crimes': neither {folder}/crimes.csv nor .json exists "
        f"(datasets in {folder}: events, incidents, requests)")


def test_a_missing_folder_says_so(tmp_path: Path) -> None:
    source = FileSource(portal_at(tmp_path / "gone"), "America/Chicago")
    with pytest.raises(SourceError) as info:
        source.describe("requests")
    assert str(info.value) == (
        f"portal 'test': the folder {tmp_path}/gone does not exist (fix path in the portal's "
        "section of config.toml)")


def test_a_query_that_cannot_run_says_why(source: FileSource) -> None:
    with pytest.raises(SourceError) as info:
        source.fetch(Query("requests", group_by="kind", bucket="day", date_field="created"))
    assert str(info.value) == (
        "portal 'test': cannot run count of requests by kind by day of created: a query groups "
        "by a column or buckets by date, not both (fix the recipe)")


def test_a_json_file_that_is_not_records(folder: Path, source: FileSource) -> None:
    (folder / "odd.json").write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(SourceError) as info:
        source.fetch(Query("odd"))
    assert str(info.value) == (
        f"portal 'test': {folder}/odd.json is not a JSON array of records nor a feature "
        "collection (save the portal's /resource or query body as it is)")


# -- describe, freshness, caching -----------------------------------------------------------

def test_describe(source: FileSource, folder: Path) -> None:
    os.utime(folder / "requests.csv", (1793514600, 1793514600))
    info = source.describe("requests")
    # "created" is text: row 8 holds something that is not a date
    assert info.columns == (("id", "id", "number"), ("kind", "kind", "text"),
                            ("created", "created", "text"), ("amount", "amount", "number"),
                            ("district", "district", "number"), ("note", "note", "text"))
    assert (info.portal, info.dataset, info.title, info.row_count) == (
        "test", "requests", "requests", 8)
    assert info.last_updated is not None
    assert info.last_updated.isoformat() == "2026-11-01T01:30:00-05:00"
    assert [(n, k) for n, _, k in source.describe("incidents").columns] == [
        ("crimedate", "date"), ("description", "text"), ("district", "text"),
        ("total_incidents", "number"), ("weapon", "text")]


def test_last_updated_is_the_files_time_in_the_city(source: FileSource, folder: Path) -> None:
    os.utime(folder / "events.json", (1773030600, 1773030600))
    answer = source.fetch(Query("events"))
    assert answer.last_updated == datetime(2026, 3, 8, 23, 30, tzinfo=CHI)
    assert answer.pushed_down is True


def test_blank_headed_columns_are_dropped(folder: Path, source: FileSource) -> None:
    (folder / "r_export.csv").write_text(
        '"","SRType","CreatedDate",""\n"1","SW-HGW","10/21/2019 11:49:49 AM",NA\n'
        '"2",NA,"10/21/2019 11:49:46 AM",x\n', encoding="utf-8")
    assert [c for c, _, _ in source.describe("r_export").columns] == ["SRType", "CreatedDate"]
    assert rows(source, "r_export", group_by="SRType") == (("SW-HGW", 1.0), ("(blank)", 1.0))


def test_each_file_is_read_once_until_it_changes(folder: Path, source: FileSource,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    real_read = file_portal.read_csv

    def counting_read(path: Path, portal: str):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real_read(path, portal)

    monkeypatch.setattr(file_portal, "read_csv", counting_read)
    path = folder / "requests.csv"
    os.utime(path, (1773030600, 1773030600))
    other = FileSource(portal_at(folder), "America/New_York")
    for src in (source, source, other):
        src.fetch(Query("requests", date_field="created", bucket="month"))
    assert reads == [path]
    path.write_text(REQUESTS_CSV + "9,trash,2026-03-20T10:00:00,1,1,f\n", encoding="utf-8")
    os.utime(path, (1773030700, 1773030700))
    assert rows(source) == (("", 9.0),)
    assert reads == [path, path]


# -- the real files in ../shared/data -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
@pytest.fixture
def real_folder(tmp_path: Path) -> Path:
    """Symlinks named after datasets: the real files are read in place, never copied."""
    links = {
        "baltimore_311.csv": SHARED / "baltimore" / "311_Customer_Service_Requests.csv",
        "baton_rouge_crime.csv": SHARED / "baton_rouge" / "Baton_Rouge_Crime_Incidents_2018.csv",
        "baltimore_crime.json": SHARED / "baltimore" / "bpd-part-1-victim-based-crime.json",
    }
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    return tmp_path


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the real data folder {SHARED} is absent")
def test_real_baltimore_311(real_folder: Path) -> None:
    source = FileSource(portal_at(real_folder), "America/New_York")
    assert rows(source, "baltimore_311", group_by="SRType", top=1) == (
        ("SW-Rat Rubout Proactive", 618.0),)
    assert rows(source, "baltimore_311", date_field="CreatedDate",
                start=datetime(2019, 10, 18, tzinfo=NYC), end=datetime(2019, 10, 22, tzinfo=NYC),
                bucket="day", order="key_asc") == (
        ("2019-10-18", 653.0), ("2019-10-19", 659.0), ("2019-10-20", 572.0),
        ("2019-10-21", 1116.0))
    # the R export's NA is blank, and its row-index column is not a column
    assert rows(source, "baltimore_311", group_by="CouncilDistrict", top=2) == (
        ("14", 326.0), ("11", 277.0))
    assert "" not in [c for c, _, _ in source.describe("baltimore_311").columns]


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the real data folder {SHARED} is absent")
def test_real_baton_rouge_2018(real_folder: Path) -> None:
    source = FileSource(portal_at(real_folder), "America/Chicago")
    year = {"date_field": "Crime Date", "start": datetime(2018, 1, 1, tzinfo=CHI),
            "end": datetime(2019, 1, 1, tzinfo=CHI)}
    assert rows(source, "baton_rouge_crime", **year) == (("", 45626.0),)
    months = rows(source, "baton_rouge_crime", bucket="month", order="key_asc", **year)
    assert months[-2:] == (("2018-11-01", 3488.0), ("2018-12-01", 3349.0))
    # the pivot table in columns 5 and later is not part of the dataset
    assert [c for c, _, _ in source.describe("baton_rouge_crime").columns] == [
        "Crime Date", "Crime", "COMMITTED", "DISTRICT"]


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the real data folder {SHARED} is absent")
def test_real_socrata_body_with_absent_weapon(real_folder: Path) -> None:
    source = FileSource(portal_at(real_folder), "America/New_York")
    # `weapon` is present in 380 of the 1,000 rows
    assert rows(source, "baltimore_crime", group_by="weapon") == (
        ("(blank)", 620.0), ("HANDS", 201.0), ("FIREARM", 84.0), ("OTHER", 54.0),
        ("KNIFE", 41.0))
