"""Servers and data for the portal tests: the Socrata and CKAN fakes, a real Koop, a fake clock.

The real data lives beside the repository, in ../shared/data (see its SOURCES.md); tests that
read it carry the `realdata` marker. Koop is started once per session from tests/servers
(`npm ci` there installs it) on a port the OS picks, and stopped at the end.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
SERVERS = REPO / "tests" / "servers"
if str(SERVERS) not in sys.path:
    sys.path.insert(0, str(SERVERS))

from ckan_fake import CKANFake  # noqa: E402
from koop import KoopServer, start_koop  # noqa: E402
from socrata_fake import SocrataFake  # noqa: E402

BALTIMORE_311_CSV = SHARED / "baltimore" / "311_Customer_Service_Requests.csv"
BPD_SODA_JSON = SHARED / "baltimore" / "bpd-part-1-victim-based-crime.json"
SOCRATA_FIXTURES = SHARED / "fixtures" / "socrata"
ARCGIS_FIXTURES = SHARED / "fixtures" / "arcgis"
BALTIMORE = ZoneInfo("America/New_York")

# Field types for the 311 layer: Koop's names (String, Integer, Double, Date)
_311_TYPES = {"CreatedDate": "Date", "StatusDate": "Date", "DueDate": "Date",
              "CloseDate": "Date", "LastActivityDate": "Date", "ZipCode": "Integer",
              "CouncilDistrict": "Integer", "Latitude": "Double", "Longitude": "Double"}


class FakeClock:
    """Records the sleeps it is asked for instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def socrata_fake() -> Iterator[SocrataFake]:
    with SocrataFake() as fake:
        yield fake


@pytest.fixture
def ckan_fake() -> Iterator[CKANFake]:
    with CKANFake(sql=True) as fake:
        yield fake


@pytest.fixture
def ckan_without_sql() -> Iterator[CKANFake]:
    """A CKAN whose datastore_search_sql is switched off, capping pages at 400 rows."""
    with CKANFake(sql=False, max_limit=400) as fake:
        yield fake


def utc_iso(local_us: str) -> str | None:
    """'10/21/2019 11:49:49 AM' in Baltimore -> '2019-10-21T15:49:49.000Z' (what Koop needs:
    its `where` compares the stored strings, so they must sort as times do)."""
    if local_us in ("", "NA"):
        return None
    moment = datetime.strptime(local_us, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=BALTIMORE)
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def baltimore_311_features() -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    """The real 311 CSV as GeoJSON features (OBJECTID = CSV order), and the fields list."""
    with BALTIMORE_311_CSV.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names = [n for n in reader.fieldnames or [] if n]
        features = []
        for number, row in enumerate(reader, start=1):
            props: dict[str, object] = {"OBJECTID": number}
            for name in names:
                raw = row[name].strip()
                kind = _311_TYPES.get(name, "String")
                if raw in ("", "NA"):
                    props[name] = None
                elif kind == "Date":
                    props[name] = utc_iso(raw)
                elif kind == "Integer":
                    props[name] = int(raw)
                elif kind == "Double":
                    props[name] = float(raw)
                else:
                    props[name] = raw
            lon, lat = props.get("Longitude"), props.get("Latitude")
            geometry = ({"type": "Point", "coordinates": [lon, lat]}
                        if lon is not None and lat is not None else None)
            features.append({"type": "Feature", "geometry": geometry, "properties": props})
    fields = [{"name": "OBJECTID", "type": "Integer"}] + [
        {"name": n, "type": _311_TYPES.get(n, "String")} for n in names]
    return features, fields


@pytest.fixture(scope="session")
def baltimore_311_geojson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding baltimore_311.geojson, made from the real CSV."""
    folder = tmp_path_factory.mktemp("koop-data")
    features, fields = baltimore_311_features()
    body = {"type": "FeatureCollection",
            "metadata": {"name": "Baltimore 311 (sample)", "idField": "OBJECTID",
                         "maxRecordCount": 1000, "fields": fields},
            "features": features}
    (folder / "baltimore_311.geojson").write_text(json.dumps(body), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def koop(baltimore_311_geojson: Path) -> Iterator[KoopServer]:
    server = start_koop(baltimore_311_geojson)
    try:
        yield server
    finally:
        server.stop()
