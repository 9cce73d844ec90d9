"""The `file` portal: datasets as CSV or JSON files in a folder, queried with pandas.

Dataset `NAME` is `FOLDER/NAME.csv` or `FOLDER/NAME.json` (a JSON array of records, such as a
raw Socrata `/resource` body, or a `{"features": [...]}` GeoJSON/Esri body). Every value is
read as text: group keys come back exactly as the file writes them ("7", not "7.0"), and a
column counts as numeric when every non-blank value in it reads as a number.

Rules, so that answers match what a portal would push down:

- blank cells, `NA`, `NULL` and absent JSON fields are null; a filter never matches a null
  (not even `!=` or `not in`, as in SQL); a null group key comes back as "(blank)";
- dates may be ISO (`2026-10-31`, `2026-10-31T14:05:00`, with or without an offset),
  `MM/DD/YYYY`, `MM/DD/YYYY hh:mm:ss AM`, or epoch milliseconds; times without an offset are
  local to the city's zone; a date that cannot be read is excluded by any date window;
- columns with a blank header (an R export's row index, a spreadsheet's side notes) are dropped.

    >>> demo = PortalConfig("demo", "file", "Demo", path=Path("sample"))  # bot.sample's files
    >>> src = FileSource(demo, "America/New_York")
    >>> src.fetch(Query("baltimore_311", group_by="SRType", top=1)).rows  # doctest: +SKIP
    (('SW-Rat Rubout Proactive', 17273.0),)
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.errors import SchemaError, SourceError
from bot.query import BLANK, Answer, DatasetInfo, Filter, Query
from bot.settings import PortalConfig

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

NA_VALUES = ["", "NA", "N/A", "NULL", "null", "NaN", "nan"]
_UNNAMED = re.compile(r"Unnamed: \d+")
_AWARE = r".*\d[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)"
_DATE_LIKE = r"\d{4}-\d{2}-\d{2}(?:[T ].*)?|\d{1,2}/\d{1,2}/\d{4}(?: .*)?"
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S",
               "%m/%d/%Y %H:%M", "%m/%d/%Y")


@dataclass
class _Table:
    """A loaded file and the columns derived from it so far (numbers, dates per zone)."""

    frame: pd.DataFrame
    mtime: float
    numbers: dict[str, pd.Series] = field(default_factory=dict)
    dates: dict[tuple[str, str], pd.Series] = field(default_factory=dict)

    def number(self, column: str) -> pd.Series:
        if column not in self.numbers:
            import pandas as pd

            self.numbers[column] = pd.to_numeric(self.frame[column], errors="coerce").astype(
                "float64")
        return self.numbers[column]

    def is_numeric(self, column: str) -> bool:
        present = self.frame[column].notna()
        return bool(present.any()) and bool((self.number(column).notna() == present).all())

    def date(self, column: str, tz: str) -> pd.Series:
        if (column, tz) not in self.dates:
            self.dates[(column, tz)] = parse_dates(self.frame[column], tz)
        return self.dates[(column, tz)]

    def kind(self, column: str) -> str:
        """The column's type in plain words: number, date or text."""
        if self.is_numeric(column):
            return "number"
        present = self.frame[column].dropna()
        if len(present) and bool(present.astype(str).str.fullmatch(_DATE_LIKE).all()):
            return "date"
        return "text"


_TABLES: dict[tuple[Path, int], _Table] = {}  # (path, mtime_ns) -> table: each file read once


class FileSource:
    """Answers queries from files in `portal.path`."""

    def __init__(self, portal: PortalConfig, tz: str, **_ignored: Any) -> None:
        self.portal = portal
        self.tz = tz

    # -- the portal protocol ----------------------------------------------------------------
    def fetch(self, query: Query) -> Answer:
        """Execute `query` exactly; see the module docstring for the rules."""
        problems = query.problems()
        if problems:
            raise SourceError(self.portal.name, f"cannot run {query.describe()}: "
                              f"{problems[0]}", "fix the recipe")
        table = self._load(query.dataset)
        for column in query.columns():
            if column not in table.frame.columns:
                raise SchemaError(self.portal.name, query.dataset, column,
                                  [str(c) for c in table.frame.columns])
        mask = self._select_rows(table, query)
        if query.bucket:
            rows = self._bucket_rows(table, query, mask)
        elif query.group_by:
            keys = table.frame[query.group_by][mask].fillna(BLANK).astype(str)
            rows = self._grouped_values(table, query, mask, keys)
        else:
            total = self._total_value(table, query, mask)
            rows = [] if total is None else [("", total)]  # a mean over nothing: no data
        rows = order_rows(rows, query.order)
        if query.top:
            rows = rows[: query.top]
        return Answer(rows=tuple(rows), last_updated=self._modified(table), pushed_down=True)

    def describe(self, dataset: str) -> DatasetInfo:
        """Columns (text, number or date), row count and modification time of a dataset."""
        table = self._load(dataset)
        columns = tuple((str(c), str(c), table.kind(str(c))) for c in table.frame.columns)
        return DatasetInfo(portal=self.portal.name, dataset=dataset, columns=columns,
                           last_updated=self._modified(table), title=dataset,
                           row_count=len(table.frame))

    # -- loading ------------------------------------------------------------------------------
    def _locate(self, dataset: str) -> Path:
        folder = self.portal.path
        if folder is None:
            raise SourceError(self.portal.name, "a file portal needs a folder",
                              "set path in the portal's section of config.toml")
        if not dataset or "/" in dataset or "\\" in dataset or dataset.startswith("."):
            raise SourceError(self.portal.name, f"{dataset!r} is not a dataset name",
                              "name a file in the portal's folder, without its extension")
        if not folder.is_dir():
            raise SourceError(self.portal.name, f"the folder {folder} does not exist",
                              "fix path in the portal's section of config.toml")
        for ext in (".csv", ".json"):
            path = folder / f"{dataset}{ext}"
            if path.is_file():
                return path
        present = sorted({p.stem for p in folder.glob("*") if p.suffix in (".csv", ".json")})
        here = ", ".join(present) if present else "none"
        raise SourceError(self.portal.name,
                          f"no dataset {dataset!r}: neither {folder / dataset}.csv nor .json "
                          f"exists", f"datasets in {folder}: {here}")

    def _load(self, dataset: str) -> _Table:
        path = self._locate(dataset)
        stat = path.stat()
        key = (path, stat.st_mtime_ns)
        table = _TABLES.get(key)
        if table is None:
            for old in [k for k in _TABLES if k[0] == path]:
                del _TABLES[old]
            log.debug("reading %s", path)
            frame = read_csv(path, self.portal.name) if path.suffix == ".csv" else read_json(
                path, self.portal.name)
            table = _TABLES[key] = _Table(tidy_frame(frame), stat.st_mtime)
        return table

    def _modified(self, table: _Table) -> datetime:
        return datetime.fromtimestamp(table.mtime, ZoneInfo(self.tz))

    # -- executing ----------------------------------------------------------------------------
    def _select_rows(self, table: _Table, q: Query) -> pd.Series:
        import pandas as pd

        mask = pd.Series(True, index=table.frame.index)
        if q.date_field and (q.start or q.end or q.bucket):
            when = table.date(q.date_field, self.tz)
            mask &= when.notna()
            if q.start:
                mask &= when >= pd.Timestamp(self._aware(q.start))
            if q.end:
                mask &= when < pd.Timestamp(self._aware(q.end))
        for f in q.filters:
            mask &= filter_rows(table, f)
        return mask

    def _aware(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.tz))

    def _measured(self, table: _Table, q: Query, mask: pd.Series) -> pd.Series:
        """The values the measure aggregates, for the selected rows."""
        if q.measure.kind == "count" or not q.measure.field:
            return mask[mask]
        if q.measure.kind == "count_distinct":
            return table.frame[q.measure.field][mask]
        return table.number(q.measure.field)[mask]

    def _total_value(self, table: _Table, q: Query, mask: pd.Series) -> float | None:
        values = self._measured(table, q, mask)
        kind = q.measure.kind
        if kind == "count":
            return float(len(values))
        if kind == "count_distinct":
            return float(values.nunique())
        if kind == "mean":
            mean = float(values.mean())
            return None if math.isnan(mean) else mean
        return _finite(values.sum())

    def _grouped_values(self, table: _Table, q: Query, mask: pd.Series,
                        keys: pd.Series) -> list[tuple[str, float]]:
        values = self._measured(table, q, mask)
        groups = values.groupby(keys, sort=False)
        kind = q.measure.kind
        result = (groups.size() if kind == "count" else groups.nunique()
                  if kind == "count_distinct" else groups.sum() if kind == "sum"
                  else groups.mean())
        return [(str(k), _finite(v)) for k, v in result.items()
                if not (kind == "mean" and math.isnan(float(v)))]  # a mean over nothing

    def _bucket_rows(self, table: _Table, q: Query, mask: pd.Series) -> list[tuple[str, float]]:
        import numpy as np
        import pandas as pd

        assert q.date_field and q.bucket
        bucket = q.bucket
        local_days = table.date(q.date_field, self.tz)[mask].dt.tz_localize(None).dt.normalize()
        codes, uniques = pd.factorize(local_days)
        firsts = [bucket_start(pd.Timestamp(u).date(), bucket) for u in uniques]
        labels = np.array([d.isoformat() for d in firsts], dtype=object)
        keys = pd.Series(labels[codes] if len(codes) else [], index=local_days.index,
                         dtype=object)
        found = dict(self._grouped_values(table, q, mask, keys))
        lo = (self._aware(q.start).astimezone(ZoneInfo(self.tz)).date() if q.start
              else min(firsts, default=None))
        hi = ((self._aware(q.end).astimezone(ZoneInfo(self.tz)) - timedelta(microseconds=1))
              .date() if q.end else max(firsts, default=None))
        if lo is None or hi is None:
            return list(found.items())
        rows = []
        first = bucket_start(lo, bucket)
        while first <= hi:
            rows.append((first.isoformat(), found.pop(first.isoformat(), 0.0)))
            first = next_bucket(first, bucket)
        return rows + list(found.items())


def filter_rows(table: _Table, f: Filter) -> pd.Series:
    """Rows where `f` holds; numbers compare as numbers in a numeric column, booleans as
    true/false however the file spells them, else as text. A null in an `in` list asks for
    the null rows too."""
    raw = table.frame[f.field]
    values = f.values
    numbers = [as_number(v) for v in values]
    wanted: list[Any]
    if values and all(isinstance(v, bool) for v in values):
        column, wanted = raw.map(lambda x: as_boolean(x), na_action="ignore"), list(values)
    elif table.is_numeric(f.field) and all(n is not None for n in numbers):
        column, wanted = table.number(f.field), numbers
    else:
        column, wanted = raw.fillna("").astype(str), [text_of(v) for v in values]
    if f.op in ("in", "not in"):
        hit = column.isin(wanted)
        result = hit if f.op == "in" else ~hit
    else:
        w = wanted[0]
        result = {"=": column == w, "!=": column != w, ">": column > w, ">=": column >= w,
                  "<": column < w, "<=": column <= w}[f.op]
    present = raw.notna() & column.notna()
    return (result & present) | (raw.isna() if f.or_null else False)


def parse_dates(raw: pd.Series, tz: str) -> pd.Series:
    """Read a column of dates into aware times in `tz`; what cannot be read becomes NaT.

    >>> import pandas as pd
    >>> parse_dates(pd.Series(["10/21/2019 11:49:49 AM", "2026-03-08T01:30"]), "America/Chicago")
    ... # doctest: +NORMALIZE_WHITESPACE
    0   2019-10-21 11:49:49-05:00
    1   2026-03-08 01:30:00-06:00
    dtype: datetime64[us, America/Chicago]
    """
    import numpy as np
    import pandas as pd

    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    present = raw.notna()
    number = pd.to_numeric(raw, errors="coerce")
    epoch_ms = present & number.gt(1e11)
    if epoch_ms.any():
        out.loc[epoch_ms] = pd.to_datetime(number[epoch_ms], unit="ms", utc=True)
    text = raw[present & number.isna()].astype(str)
    aware = text.str.fullmatch(_AWARE)
    if aware.any():
        out.loc[aware[aware].index] = _read_times(text[aware], utc=True)
    naive = text[~aware]
    local = _read_times(naive, utc=False)
    for fmt in _US_FORMATS:
        missing = local.isna()
        if not missing.any():
            break
        local.loc[missing] = pd.to_datetime(naive[missing], format=fmt, errors="coerce")
    local = local.dropna()
    if len(local):
        out.loc[local.index] = local.dt.tz_localize(
            tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return out.dt.tz_convert(tz)


def _read_times(text: pd.Series, utc: bool) -> pd.Series:
    import pandas as pd

    try:
        result = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
    except (ValueError, TypeError):  # mixed offsets and the like: read nothing from this lot
        result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if not utc and getattr(result.dtype, "tz", None) is not None:  # an offset we did not spot
        result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    return result.astype("datetime64[us, UTC]" if utc else "datetime64[us]")


def read_csv(path: Path, portal: str) -> pd.DataFrame:
    """Every column as text; blank, NA and NULL cells as null."""
    import pandas as pd

    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=NA_VALUES,
                               encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (OSError, ValueError) as exc:
            raise SourceError(portal, f"cannot read {path}: {_one_line(exc)}",
                              "fix the file or export it again") from exc
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def read_json(path: Path, portal: str) -> pd.DataFrame:
    """Records from a JSON array, or attributes/properties from GeoJSON or Esri features."""
    import pandas as pd

    try:
        body = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SourceError(portal, f"cannot read {path}: {_one_line(exc)}",
                          "fix the file or download it again") from exc
    if isinstance(body, dict) and isinstance(body.get("features"), list):
        records = [f.get("attributes") or f.get("properties") or {}
                   for f in body["features"] if isinstance(f, dict)]
    elif isinstance(body, list):
        records = body
    else:
        records = [None]
    if not all(isinstance(r, dict) for r in records):
        raise SourceError(portal, f"{path} is not a JSON array of records nor a feature "
                          "collection", "save the portal's /resource or query body as it is")
    rows = [{str(k): text_of(v) for k, v in r.items()} for r in records]
    return pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame()


def tidy_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop blank-headed columns; trim values; whitespace-only values become null."""
    keep = [c for c in frame.columns if not _UNNAMED.fullmatch(str(c))]
    frame = frame[keep].copy()
    for column in keep:
        trimmed = frame[column].str.strip()
        frame[column] = trimmed.where(trimmed != "")
    return frame


def text_of(value: Any) -> str | None:
    """A JSON or filter value as the text a CSV would hold: 7 and 7.0 -> "7"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def as_boolean(value: Any) -> bool | None:
    """A cell read as true or false ("TRUE", "t", "Yes", 1, JSON true), or None.

    >>> as_boolean("TRUE"), as_boolean("f"), as_boolean(1.0), as_boolean("maybe")
    (True, False, True, None)
    """
    if isinstance(value, bool):
        return value
    text = (text_of(value) or "").strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def bucket_start(day: date, bucket: str) -> date:
    """The first day of the bucket holding `day`; weeks start on Monday."""
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "year":
        return date(day.year, 1, 1)
    return day


def next_bucket(first: date, bucket: str) -> date:
    if bucket == "week":
        return first + timedelta(days=7)
    if bucket == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    if bucket == "year":
        return date(first.year + 1, 1, 1)
    return first + timedelta(days=1)


def order_rows(rows: list[tuple[str, float]], order: str) -> list[tuple[str, float]]:
    """Sort answer rows; ties in value go by key ascending. Numeric keys sort as numbers,
    "(blank)" sorts after every other key."""
    if order == "value_desc":
        return sorted(rows, key=lambda r: (-r[1], _key_order(r[0])))
    if order == "value_asc":
        return sorted(rows, key=lambda r: (r[1], _key_order(r[0])))
    return sorted(rows, key=lambda r: _key_order(r[0]), reverse=order == "key_desc")


def _key_order(key: str) -> tuple[int, float, str]:
    if key == BLANK:
        return (2, 0.0, key)
    n = as_number(key)
    return (1, 0.0, key) if n is None or math.isnan(n) else (0, n, key)


def _finite(value: Any) -> float:
    v = float(value)
    return 0.0 if math.isnan(v) else v


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
