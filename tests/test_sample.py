"""The synthetic sample: same bytes for a seed, the promised shapes, readable by the demo."""

from __future__ import annotations

import csv
import os
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import ConfigError
from bot.query import Query
from bot.sample import SAMPLE_AS_OF, SAMPLE_LABEL, SampleInfo, ensure_sample, write_sample
from bot.settings import PortalConfig
from bot.sources.file import FileSource

NAMES = ("baltimore_311", "baton_rouge_crime", "housing_recovery")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return write_sample(tmp_path_factory.mktemp("sample"))


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_info(sample: SampleInfo) -> None:
    assert (sample.as_of, sample.first_day) == (date(2026, 11, 2), date(2025, 1, 1))
    assert SAMPLE_AS_OF == sample.as_of and sample.as_of.weekday() == 0
    assert SAMPLE_LABEL == "synthetic sample"
    assert tuple(sample.files) == NAMES
    assert tuple(sample.datasets) == NAMES
    assert [p.name for p in sample.files.values()] == [f"{n}.csv" for n in NAMES]
    assert all("Synthetic" in text for text in sample.datasets.values())


def test_same_seed_same_bytes(sample: SampleInfo, tmp_path: Path) -> None:
    again = write_sample(tmp_path / "again", seed=2026)
    for name in NAMES:
        assert again.files[name].read_bytes() == sample.files[name].read_bytes(), name


def test_another_seed_other_rows(sample: SampleInfo, tmp_path: Path) -> None:
    other = write_sample(tmp_path, seed=7)
    assert other.files["baltimore_311"].read_bytes() != sample.files[
        "baltimore_311"].read_bytes()


def test_ensure_sample_writes_once(sample: SampleInfo, tmp_path: Path) -> None:
    first = ensure_sample(tmp_path)
    assert first.files == {name: tmp_path / f"{name}.csv" for name in NAMES}
    assert first.files["housing_recovery"].read_bytes() == sample.files[
        "housing_recovery"].read_bytes()
    stamps = {name: path.stat().st_mtime_ns for name, path in first.files.items()}
    os.utime(first.files["baltimore_311"], ns=(1, 1))  # so a rewrite would show
    assert ensure_sample(tmp_path) == first
    assert first.files["baltimore_311"].stat().st_mtime_ns == 1
    first.files["housing_recovery"].unlink()
    ensure_sample(tmp_path)
    assert first.files["housing_recovery"].is_file()
    assert first.files["baltimore_311"].stat().st_mtime_ns not in (1, stamps["baltimore_311"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".sample-version", "baltimore_311.csv", "baton_rouge_crime.csv", "housing_recovery.csv"]


def test_ensure_sample_needs_a_folder() -> None:
    with pytest.raises(ConfigError) as info:
        ensure_sample(None)
    assert str(info.value) == ("config.toml: portals.sample.path: the synthetic sample's portal "
                               'has no folder (set path = "state/sample")')


def test_row_counts_and_columns(sample: SampleInfo) -> None:
    counts = {name: len(read_rows(path)) for name, path in sample.files.items()}
    assert counts == {"baltimore_311": 83901, "baton_rouge_crime": 25383,
                      "housing_recovery": 965}
    headers = {name: path.read_text(encoding="utf-8").split("\n", 1)[0]
               for name, path in sample.files.items()}
    assert headers == {
        "baltimore_311": "SRRecordID,ServiceRequestNum,SRType,MethodReceived,CreatedDate,"
                         "SRStatus,Agency,Neighborhood,CouncilDistrict,PoliceDistrict",
        "baton_rouge_crime": "crime_date,crime,committed,district",
        "housing_recovery": "home_id,program,completed_date,council_district,repair_type",
    }


@pytest.mark.parametrize(("name", "column", "first", "last"), [
    ("baltimore_311", "CreatedDate", "2025-01-01", "2026-11-02"),
    ("baton_rouge_crime", "crime_date", "2025-01-01", "2026-11-02"),
    ("housing_recovery", "completed_date", "2025-01-02", "2026-11-02"),  # none on day one
])
def test_date_range(sample: SampleInfo, name: str, column: str, first: str, last: str) -> None:
    days = [row[column][:10] for row in read_rows(sample.files[name])]
    assert (min(days), max(days)) == (first, last)


def test_311_shape(sample: SampleInfo) -> None:
    rows = read_rows(sample.files["baltimore_311"])
    types = Counter(r["SRType"] for r in rows)
    assert types.most_common(3) == [("SW-Rat Rubout Proactive", 17273),
                                    ("SW-Bulk Scheduled", 7646),
                                    ("TRS-Parking Complaint", 4384)]
    assert rows[0]["CreatedDate"] == "2025-01-01T03:14:33"
    assert {r["CouncilDistrict"] for r in rows} == {str(n) for n in range(1, 15)} | {""}
    assert {r["MethodReceived"] for r in rows} == {"Phone", "API", "System", "Internal"}
    weekdays = Counter(date.fromisoformat(r["CreatedDate"][:10]).weekday() for r in rows)
    assert 0.5 < weekdays[6] / weekdays[2] < 0.7  # Sundays see about 60% of a Wednesday
    # nothing is created in the hour that does not exist when clocks spring forward
    assert not [r for r in rows if r["CreatedDate"].startswith(("2025-03-09T02", "2026-03-08T02"))]


def test_crime_shape(sample: SampleInfo) -> None:
    rows = read_rows(sample.files["baton_rouge_crime"])
    assert Counter(r["crime"] for r in rows).most_common(2) == [("THEFT", 6073), ("OTHER", 5859)]
    assert Counter(r["committed"] for r in rows) == {"COMMITTED": 24922, "ATTEMPTED": 461}
    assert {r["district"] for r in rows} == {"1", "2", "3", "4", ""}
    months = Counter(r["crime_date"][:7] for r in rows)
    assert (months["2025-10"], months["2026-10"]) == (1075, 931)  # falling year on year


def test_housing_is_behind_pace(sample: SampleInfo) -> None:
    rows = read_rows(sample.files["housing_recovery"])
    done = sum(1 for r in rows if r["completed_date"] < "2026-11-02")
    # the pace that reaches 1,200 homes on 2026-12-31 from 2025-01-01 (730 days)
    expected = 1200 * 670 / 730
    assert done == 963
    assert 0.85 <= done / expected <= 0.90
    assert {r["program"] for r in rows} == {"Restore Homes"}
    assert {r["repair_type"] for r in rows} == {"rebuild", "repair", "elevation"}
    assert {r["council_district"] for r in rows} == {str(n) for n in range(1, 13)}
    by_month = Counter(r["completed_date"][:7] for r in rows)
    assert len(set(by_month.values())) > 10  # months differ


def test_the_file_portal_reads_the_sample(sample: SampleInfo) -> None:
    folder = sample.files["baltimore_311"].parent
    source = FileSource(PortalConfig("demo", "file", "Demo", path=folder, synthetic=True),
                        "America/New_York")
    nyc = ZoneInfo("America/New_York")
    last_week = Query("baltimore_311", date_field="CreatedDate",
                      start=datetime(2026, 10, 26, tzinfo=nyc),
                      end=datetime(2026, 11, 2, tzinfo=nyc))
    assert source.fetch(last_week).rows == (("", 859.0),)
