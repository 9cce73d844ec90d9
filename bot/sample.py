"""A seeded SYNTHETIC sample of city data for the demo: invented rows, real-looking shapes.

Nothing here is a copy of real records. Category names and their rough relative frequencies
follow the real public files in ../shared/data (Baltimore 311 requests of October 2019 and
Baton Rouge crime incidents of 2018); every row is invented by a random generator, and so is
the housing-recovery table. Show it as "synthetic sample" wherever it appears.

    >>> info = write_sample(Path("demo-data"))  # doctest: +SKIP
    >>> sorted(info.files)  # doctest: +SKIP
    ['baltimore_311', 'baton_rouge_crime', 'housing_recovery']
    >>> info = ensure_sample(Path("demo-data"))  # doctest: +SKIP  (writes only if missing)

The same seed writes the same bytes on every run and every machine.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError, Problem

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SAMPLE_AS_OF = date(2026, 11, 2)  # the sample's last day, a Monday
SAMPLE_FIRST_DAY = date(2025, 1, 1)
SAMPLE_LABEL = "synthetic sample"
SAMPLE_VERSION = 1  # raise when the generator changes, so ensure_sample writes it afresh
_STAMP = ".sample-version"  # ensure_sample's note of what the folder holds

HOUSING_TARGET = 1200  # homes returned to their owners ...
HOUSING_START = date(2025, 1, 1)  # ... counted from this day ...
HOUSING_DEADLINE = date(2026, 12, 31)  # ... by this day
HOUSING_PACE = 0.875  # the sample is this share of the way to where an even pace would be

BALTIMORE_WEEKDAY_REQUESTS = 140  # per weekday; weekends get 60% of that
BATON_ROUGE_DAILY_INCIDENTS = 40  # the real city logs about 125 a day: scaled down

DATASETS = {
    "baltimore_311": "Synthetic 311 service requests shaped like Open Baltimore's 311 layer "
                     "(one row per request).",
    "baton_rouge_crime": "Synthetic crime incidents shaped like Open Data BR's 2018 incidents "
                         "(one row per incident, scaled down to about 40 a day).",
    "housing_recovery": "Synthetic flood-recovery program: one row per home returned to its "
                        "owner (goal: 1,200 homes from 2025-01-01 to 2026-12-31).",
}

# Baltimore 311. SRType counts (top 25 of 147 types), the agency of each, and how requests of
# that type arrived (MethodReceived counts): counted in
# ../shared/data/baltimore/311_Customer_Service_Requests.csv (3,000 requests, 2019-10-18..21).
_SR_TYPES: tuple[tuple[str, int, str, dict[str, int]], ...] = (
    ("SW-Rat Rubout Proactive", 618, "Solid Waste", {"System": 608, "Internal": 10}),
    ("SW-Bulk Scheduled", 276, "Solid Waste", {"Phone": 153, "API": 123}),
    ("TRS-Parking Complaint", 154, "Transportation", {"API": 79, "Phone": 74, "Internal": 1}),
    ("HCD-Sanitation Property", 137, "Housing", {"API": 74, "Phone": 63}),
    ("TR-Youth Snow Program Student Application Request", 135, "Transportation",
     {"Phone": 135}),
    ("ECC-Information Request", 122, "Call Center", {"Phone": 122}),
    ("ECC-Vehicle Look Up", 94, "Call Center", {"Phone": 94}),
    ("BGE-StLight(s) Out", 77, "BGE", {"API": 41, "Phone": 36}),
    ("TR-Youth Snow Program Resident Registration", 74, "Transportation", {"Phone": 74}),
    ("SW-Dirty Alley", 62, "Solid Waste", {"Phone": 29, "API": 21, "Internal": 12}),
    ("HCD-Illegal Dumping", 55, "Housing", {"API": 29, "Phone": 26}),
    ("SW-Dirty Street", 55, "Solid Waste", {"API": 29, "Phone": 23, "Internal": 3}),
    ("HCD-Vacant Building", 51, "Housing", {"Phone": 27, "API": 19, "Internal": 5}),
    ("TRT-Traffic Signal Repairs", 48, "Transportation", {"Phone": 39, "API": 8, "Internal": 1}),
    ("WW-Water Leak (Exterior)", 41, "Water Wastewater", {"Phone": 35, "API": 6}),
    ("SW-Appliance (White Goods)", 39, "Solid Waste", {"Phone": 30, "API": 9}),
    ("WW-Sewer Water In Basement", 38, "Water Wastewater", {"Phone": 35, "API": 3}),
    ("HLTH-Animal In Danger/Injured/Abused/Neglected", 32, "Health", {"Phone": 29, "API": 3}),
    ("WW-Water No Water", 29, "Water Wastewater", {"Phone": 27, "API": 2}),
    ("SW-Mixed Refuse", 29, "Solid Waste", {"Phone": 25, "API": 4}),
    ("SW-HGW", 27, "Solid Waste", {"API": 27}),
    ("SW-Clean Up", 23, "Solid Waste", {"Phone": 23}),
    ("HCD-Maintenance Structure", 22, "Housing", {"Phone": 16, "API": 6}),
    ("SW-Rat Rubout", 22, "Solid Waste", {"Phone": 20, "API": 2}),
    ("SW-Municipal Trash Can Concern", 21, "Solid Waste", {"Phone": 21}),
)
# The other 122 types held 719 requests; the sample spreads that weight over the next real
# names (ranks 26-37, leaving out two whose agency varies), in proportion to their counts.
_SR_TAIL_WEIGHT = 719
_SR_TAIL: tuple[tuple[str, int, str, dict[str, int]], ...] = (
    ("SW-Cleaning", 21, "Solid Waste", {"API": 21}),
    ("SW-Dirty Street Proactive", 21, "Solid Waste", {"Internal": 21}),
    ("SW-Boarding", 20, "Solid Waste", {"API": 20}),
    ("SW-Public (Corner) Trash Can Issue", 20, "Solid Waste", {"API": 19, "Phone": 1}),
    ("FOR-Tree Inspection", 19, "Recreation & Parks", {"Phone": 16, "API": 3}),
    ("SW-Graffiti Removal", 19, "Solid Waste", {"API": 14, "Internal": 3, "Phone": 2}),
    ("TRM-Pothole Repair", 17, "Transportation", {"API": 11, "Phone": 6}),
    ("FOR-Fallen Limb", 17, "Recreation & Parks", {"Phone": 14, "API": 3}),
    ("ECC-Miscellaneous Request", 16, "Call Center", {"API": 16}),
    ("WW-Storm Flooded Street", 16, "Water Wastewater", {"Phone": 9, "API": 7}),
    ("TRM-Street Repairs", 14, "Transportation", {"API": 8, "Phone": 6}),
    ("WW-Sewer Misc Investigation", 14, "Water Wastewater", {"Phone": 11, "API": 3}),
)
_NO_ADDRESS = ("ECC-Information Request",)  # 121 of its 122 real requests had no location

# The 40 neighborhoods with most requests in the same file, with their count there and the
# council district and police district most of their requests carried.
_NEIGHBORHOODS: tuple[tuple[str, int, int, str], ...] = (
    ("Coldstream Homestead Montebello", 216, 14, "Northeastern"),
    ("Bellona-Gittings", 142, 4, "Northern"),
    ("Towanda-Grantley", 87, 6, "Northwestern"),
    ("Coppin Heights/Ash-Co-East", 86, 7, "Western"),
    ("Belair-Edison", 75, 13, "Northeastern"),
    ("Central Park Heights", 74, 6, "Northwestern"),
    ("Bolton Hill", 72, 11, "Central"),
    ("Downtown", 43, 11, "Central"),
    ("Canton", 43, 1, "Southeastern"),
    ("Frankford", 35, 2, "Northeastern"),
    ("East Baltimore Midway", 35, 12, "Eastern"),
    ("Harlem Park", 33, 9, "Western"),
    ("Patterson Park Neighborhood", 32, 1, "Southeastern"),
    ("Carrollton Ridge", 32, 9, "Southern"),
    ("Upper Fells Point", 29, 1, "Southeastern"),
    ("Upton", 29, 11, "Central"),
    ("Brooklyn", 28, 10, "Southern"),
    ("Fells Point", 27, 1, "Southeastern"),
    ("Riverside", 26, 11, "Southern"),
    ("Sandtown-Winchester", 25, 9, "Western"),
    ("Ednor Gardens-Lakeside", 23, 14, "Northeastern"),
    ("Hampden", 23, 14, "Northern"),
    ("McElderry Park", 23, 13, "Southeastern"),
    ("New Southwest/Mount Clare", 22, 9, "Southern"),
    ("Barclay", 22, 12, "Eastern"),
    ("Allendale", 21, 8, "Southwestern"),
    ("Broadway East", 20, 13, "Eastern"),
    ("Reservoir Hill", 19, 7, "Central"),
    ("Mount Vernon", 19, 11, "Central"),
    ("Cedonia", 18, 2, "Northeastern"),
    ("Highlandtown", 18, 1, "Southeastern"),
    ("Oliver", 18, 12, "Eastern"),
    ("Glenham-Belhar", 17, 2, "Northeastern"),
    ("Waltherson", 17, 3, "Northeastern"),
    ("Curtis Bay", 16, 10, "Southern"),
    ("Baltimore Highlands", 16, 2, "Southeastern"),
    ("Mount Washington", 16, 5, "Northern"),
    ("Washington Hill", 16, 12, "Southeastern"),
    ("Hanlon-Longwood", 15, 7, "Northwestern"),
    ("Washington Village/Pigtown", 15, 10, "Southern"),
)
# Requests per hour of the day (0..23), same file.
_HOURS = (15, 6, 5, 7, 6, 19, 40, 94, 253, 339, 373, 348, 80, 97, 91, 244, 340, 227, 123, 76,
          83, 61, 47, 26)

# Baton Rouge. Incidents per category and how many of them were attempts, per district, per
# month and per weekday (Monday first): counted in
# ../shared/data/baton_rouge/Baton_Rouge_Crime_Incidents_2018.csv (its first four columns).
_CRIMES: tuple[tuple[str, int, int], ...] = (  # (crime, incidents, attempted)
    ("THEFT", 10766, 160), ("OTHER", 10755, 174), ("NARCOTICS", 4246, 5),
    ("BATTERY", 3850, 17), ("CRIMINAL DAMAGE TO PROPERTY", 3547, 8),
    ("VEHICLE BURGLARY", 2834, 76), ("ASSAULT", 2162, 21), ("NON-RESIDENTIAL BURGLARY", 2077, 123),
    ("FIREARM", 1956, 18), ("RESIDENTIAL BURGLARY", 939, 49), ("INDIVIDUAL ROBBERY", 651, 51),
    ("NUISANCE", 647, 1), ("JUVENILE", 390, 2), ("HOMICIDE", 377, 196),
    ("SEXUAL ASSAULT", 203, 6), ("VICE", 165, 1), ("BUSINESS ROBBERY", 61, 7),
)
_DISTRICTS = (("1", 13059), ("2", 13021), ("3", 9935), ("4", 7577), ("", 1992))  # "" = blank
_CRIME_MONTHS = (3954, 4046, 4001, 3666, 4021, 4108, 3791, 3822, 3907, 3473, 3488, 3349)
_CRIME_WEEKDAYS = (6547, 6595, 6663, 6586, 6584, 6615, 6036)
_CRIME_DROP_PER_YEAR = 0.07  # the sample's incidents fall about 7% a year

# Housing recovery (invented): the share of homes per council district and per repair type.
_HOUSING_DISTRICTS = (9, 7, 6, 5, 10, 4, 11, 8, 6, 3, 2, 3)  # districts 1..12
_REPAIRS = (("repair", 55), ("rebuild", 25), ("elevation", 20))
_DST_STARTS = (date(2025, 3, 9), date(2026, 3, 8))  # no 2 a.m. on these days in the US


@dataclass(frozen=True)
class SampleInfo:
    as_of: date
    first_day: date
    files: dict[str, Path]  # dataset name -> CSV file
    datasets: dict[str, str]  # dataset name -> one-line description


def ensure_sample(folder: Path | None, seed: int = 2026) -> SampleInfo:
    """Write the sample into `folder` unless this version of it, for this seed, is there.

    A demo calls this before every run: the first run writes the files (about a second),
    later runs find them and leave them alone, so the file portal's cache stays warm.
    """
    if folder is None:
        raise ConfigError(Problem("config.toml", "portals.sample.path",
                                  "the synthetic sample's portal has no folder",
                                  'set path = "state/sample"'))
    stamp = folder / _STAMP
    expected = f"{SAMPLE_LABEL} version {SAMPLE_VERSION} seed {seed}\n"
    names = [folder / f"{name}.csv" for name in DATASETS]
    try:
        current = stamp.read_text(encoding="utf-8") == expected
    except OSError:
        current = False
    if current and all(p.is_file() for p in names):
        return _info(folder)
    info = write_sample(folder, seed)
    stamp.write_text(expected, encoding="utf-8")
    return info


def write_sample(folder: Path, seed: int = 2026) -> SampleInfo:
    """Write the three synthetic datasets as CSV files into `folder` (created if needed)."""
    import numpy as np

    from bot.folders import ensure_folder

    ensure_folder(folder, "the synthetic sample", "its portal's path in config.toml")
    rng = np.random.default_rng(seed)
    days = [SAMPLE_FIRST_DAY + timedelta(days=i)
            for i in range((SAMPLE_AS_OF - SAMPLE_FIRST_DAY).days + 1)]
    files = _info(folder).files
    _write_csv(files["baltimore_311"], _BALTIMORE_COLUMNS, make_311_rows(rng, days))
    _write_csv(files["baton_rouge_crime"], ("crime_date", "crime", "committed", "district"),
               make_crime_rows(rng, days))
    _write_csv(files["housing_recovery"],
               ("home_id", "program", "completed_date", "council_district", "repair_type"),
               make_housing_rows(rng, days))
    log.info("wrote the %s to %s (seed %d)", SAMPLE_LABEL, folder, seed)
    return _info(folder)


def _info(folder: Path) -> SampleInfo:
    return SampleInfo(as_of=SAMPLE_AS_OF, first_day=SAMPLE_FIRST_DAY,
                      files={name: folder / f"{name}.csv" for name in DATASETS},
                      datasets=dict(DATASETS))


_BALTIMORE_COLUMNS = ("SRRecordID", "ServiceRequestNum", "SRType", "MethodReceived",
                      "CreatedDate", "SRStatus", "Agency", "Neighborhood", "CouncilDistrict",
                      "PoliceDistrict")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_311_rows(rng: np.random.Generator, days: list[date]) -> list[tuple[Any, ...]]:
    """About 140 requests a weekday (60% of that on weekends), a little more in summer."""
    import numpy as np

    types = _SR_TYPES + _SR_TAIL
    tail_scale = _SR_TAIL_WEIGHT / sum(t[1] for t in _SR_TAIL)
    type_p = _shares([t[1] for t in _SR_TYPES] + [t[1] * tail_scale for t in _SR_TAIL])
    hood_p = _shares([n[1] for n in _NEIGHBORHOODS])
    hour_p = _shares(_HOURS)
    rows: list[tuple[Any, ...]] = []
    serial = {2025: 0, 2026: 0}
    for day in days:
        summer = 1 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 196) / 365.25)
        mean = BALTIMORE_WEEKDAY_REQUESTS * (1.0 if day.weekday() < 5 else 0.6) * summer
        n = int(rng.poisson(mean))
        kinds = rng.choice(len(types), size=n, p=type_p)
        hoods = rng.choice(len(_NEIGHBORHOODS), size=n, p=hood_p)
        hours = rng.choice(24, size=n, p=hour_p)
        if day in _DST_STARTS:
            hours = np.where(hours == 2, 3, hours)
        seconds = hours * 3600 + rng.integers(0, 3600, size=n)
        status_draw = rng.random(n)
        ids = rng.integers(0, len(_ID_ALPHABET), size=(n, 8))
        method_draw = rng.random(n)
        age = (SAMPLE_AS_OF - day).days
        for i in np.argsort(seconds, kind="stable"):
            name, _, agency, methods = types[kinds[i]]
            serial[day.year] += 1
            s = int(seconds[i])
            created = f"{day.isoformat()}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
            hood, council, police = "", "", ""
            if name not in _NO_ADDRESS:
                hood, _, district, police = _NEIGHBORHOODS[hoods[i]]
                council = str(district)
            rows.append((
                "5004M00000" + "".join(_ID_ALPHABET[k] for k in ids[i]),
                f"{day.year % 100:02d}-{serial[day.year]:08d}",
                name, _pick(methods, float(method_draw[i])), created,
                _status(age, float(status_draw[i])), agency, hood, council, police,
            ))
    return rows


def _status(age_days: int, draw: float) -> str:
    """Old requests are mostly closed; today's are new. About 2% are duplicates."""
    still_open = 0.03 + 0.9 * math.exp(-age_days / 6)
    duplicate = draw >= 0.98
    share = (draw - 0.98) / 0.02 if duplicate else draw / 0.98  # again uniform on [0, 1)
    status = ("New" if age_days < 3 else "Open") if share < still_open else "Closed"
    return status + (" (Duplicate)" if duplicate else "")


def make_crime_rows(rng: np.random.Generator, days: list[date]) -> list[tuple[Any, ...]]:
    """About 40 incidents a day with 2018's monthly and weekly shape, falling slowly."""
    month_rate = [n / _days_in_month(2018, m + 1) for m, n in enumerate(_CRIME_MONTHS)]
    month_factor = [r / (sum(_CRIME_MONTHS) / 365) for r in month_rate]
    weekday_factor = [n / (sum(_CRIME_WEEKDAYS) / 7) for n in _CRIME_WEEKDAYS]
    crime_p = _shares([c[1] for c in _CRIMES])
    district_p = _shares([d[1] for d in _DISTRICTS])
    rows: list[tuple[Any, ...]] = []
    for day in days:
        years = (day - SAMPLE_FIRST_DAY).days / 365.25
        mean = (BATON_ROUGE_DAILY_INCIDENTS * month_factor[day.month - 1]
                * weekday_factor[day.weekday()] * (1 - _CRIME_DROP_PER_YEAR * years))
        n = int(rng.poisson(mean))
        crimes = rng.choice(len(_CRIMES), size=n, p=crime_p)
        districts = rng.choice(len(_DISTRICTS), size=n, p=district_p)
        attempt_draw = rng.random(n)
        for c, d, a in zip(crimes, districts, attempt_draw, strict=True):
            crime, total, attempted = _CRIMES[c]
            committed = "ATTEMPTED" if a < attempted / total else "COMMITTED"
            rows.append((day.isoformat(), crime, committed, _DISTRICTS[d][0]))
    return rows


def make_housing_rows(rng: np.random.Generator, days: list[date]) -> list[tuple[Any, ...]]:
    """Homes handed back on weekdays, slow for the first months, uneven month to month, and
    in all about HOUSING_PACE of where an even pace to the target would be by the as-of day."""
    import numpy as np

    months = sorted({(d.year, d.month) for d in days})
    ramp = np.array([min(1.0, 0.4 + 0.15 * i) for i in range(len(months))])
    month_weight = dict(zip(months, ramp * rng.lognormal(0.0, 0.25, size=len(months)),
                            strict=True))
    workdays = [d for d in days if d.weekday() < 5]
    day_p = _shares([month_weight[(d.year, d.month)] for d in workdays])
    elapsed = (SAMPLE_AS_OF - HOUSING_START).days + 1
    span = (HOUSING_DEADLINE - HOUSING_START).days + 1
    total = round(HOUSING_PACE * HOUSING_TARGET * elapsed / span)
    per_day = rng.multinomial(total, day_p)
    district_p = _shares(_HOUSING_DISTRICTS)
    repair_p = _shares([r[1] for r in _REPAIRS])
    districts = rng.choice(12, size=total, p=district_p) + 1
    repairs = rng.choice(len(_REPAIRS), size=total, p=repair_p)
    completed = [d for d, k in zip(workdays, per_day, strict=True) for _ in range(int(k))]
    return [(f"RH-{i + 1:05d}", "Restore Homes", d.isoformat(), int(districts[i]),
             _REPAIRS[repairs[i]][0]) for i, d in enumerate(completed)]


def _shares(weights: list[float] | tuple[float, ...]) -> np.ndarray:
    import numpy as np

    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _pick(weights: dict[str, int], draw: float) -> str:
    """The key whose share of the total holds `draw` (0 <= draw < 1)."""
    total, running = sum(weights.values()), 0
    for key, w in weights.items():
        running += w
        if draw * total < running:
            return key
    return key


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Write beside the file, then swap it in: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(partial, path)
