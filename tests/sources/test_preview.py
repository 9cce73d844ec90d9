"""Recipes through `citycrier preview`, `draft`, `check` and `sources describe` on every kind
of portal (the file portal, the Socrata fake, a real Koop FeatureServer, the CKAN fake), with
the cases that real portal data showed (issue 9): a breakdown whose top groups are blank, a
"(blank)" group's previous value, freshness before "no data", non-finite numbers, booleans,
a mean over nothing, and what `sources describe` shows.

One small dataset is served in each portal's own form: incidents with a time, a kind (often
missing), a magnitude (often missing) and a verified flag, in Chicago.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ckan_fake import CKANFake
from click.testing import CliRunner
from koop import KoopServer
from socrata_fake import SocrataFake

from bot.cli import main

CHICAGO = ZoneInfo("America/Chicago")
AS_OF = "2026-11-03"  # yesterday is Monday Nov. 2; the day before, Sunday Nov. 1
UPDATED = datetime(2026, 11, 2, 23, 0, tzinfo=CHICAGO)  # fresh for a "3 days" stale_after

#       local time        kind     mag   verified
ROWS = [("2026-11-02 08:00", None, 2.0, True),
        ("2026-11-02 09:00", None, 4.0, False),
        ("2026-11-02 10:00", None, None, True),
        ("2026-11-02 11:00", "theft", None, True),
        ("2026-11-02 12:00", "theft", None, False),
        ("2026-11-01 08:00", None, None, True),
        ("2026-11-01 13:00", None, None, False),
        ("2026-11-01 15:00", "theft", None, True),
        ("2026-10-15 10:00", "fraud", 1.0, False)]

TEMPLATE = ("{{ total.value }} incidents; before: {{ total.previous }}."
            "{% for it in breakdowns.get('kinds', []) %} {{ it.key }} {{ it.value }} "
            "({{ it.previous }}).{% endfor %}\n\n---\nData: {{ source.label }}.\n")

PORTALS = ("file", "socrata", "arcgis", "ckan")
DATASETS = {"file": "incidents", "socrata": "inci-dent1",
            "arcgis": "issue9_incidents/FeatureServer/0", "ckan": "incidents-resource"}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


@dataclass
class Portals:
    root: Path
    socrata: SocrataFake
    ckan: CKANFake
    koop_dir: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def recipe(self, name: str, portal: str, source: str = "", extra: str = "") -> None:
        """posts/NAME.toml on `portal`, period yesterday, plus `source` lines and `extra`."""
        (self.root / "posts" / f"{name}.toml").write_text(
            f'title = "Incidents"\ntemplate = "t.j2"\nschedule = "0 6 * * *"\n'
            f'approval = "required"\nplatforms = ["x"]\nnoun = "incidents"\nmax_grade = 30\n'
            f'{extra}\n[source]\nportal = "{portal}"\ndataset = "{DATASETS[portal]}"\n'
            f'date_field = "occurred"\nperiod = "yesterday"\n{source}\n', encoding="utf-8")

    def run(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(main, [*args, "--config", str(self.config)])
        return result.exit_code, result.stdout, result.stderr

    def preview(self, name: str) -> tuple[int, str, str]:
        return self.run("preview", name, "--as-of", AS_OF, "--platform", "x", "--no-cache")


def first_post(out: str) -> str:
    """The first post's text in `preview` output."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("-- post 1/"))
    return lines[at + 1]


def write_file_portal(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "incidents.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["occurred", "kind", "mag", "verified"])
        for when, kind, mag, verified in ROWS:  # a spreadsheet's TRUE / FALSE
            out.writerow([when.replace(" ", "T") + ":00", kind or "", "" if mag is None else mag,
                          "TRUE" if verified else "FALSE"])
    os.utime(path, (UPDATED.timestamp(), UPDATED.timestamp()))


def load_socrata(fake: SocrataFake, updated: float | None = None,
                 dataset: str = "inci-dent1") -> None:
    rows = [{"occurred": when.replace(" ", "T") + ":00.000", "kind": kind,
             "mag": None if mag is None else f"{mag:g}", "verified": verified}
            for when, kind, mag, verified in ROWS]
    fake.add_dataset(dataset, [("occurred", "floating_timestamp"), ("kind", "text"),
                               ("mag", "number"), ("verified", "checkbox")], rows,
                     name="Incidents", updated=updated or UPDATED.timestamp(),
                     labels={"occurred": "Date & Time", "kind": "Incident Type",
                             "mag": "Magnitude", "verified": "Verified?"})


def write_koop_layer(folder: Path) -> None:
    features = []
    for n, (when, kind, mag, verified) in enumerate(ROWS, start=1):
        utc = local(when).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        features.append({"type": "Feature", "geometry": None, "properties": {
            "OBJECTID": n, "occurred": utc, "kind": kind, "mag": mag, "verified": int(verified),
            "reviewed": "true" if verified else "false"}})
    body = {"type": "FeatureCollection",
            "metadata": {"name": "Incidents", "idField": "OBJECTID", "maxRecordCount": 1000,
                         "fields": [{"name": "OBJECTID", "type": "Integer"},
                                    {"name": "occurred", "type": "Date", "alias": "Date & Time"},
                                    {"name": "kind", "type": "String"},
                                    {"name": "mag", "type": "Double"},
                                    {"name": "verified", "type": "SmallInteger"},
                                    {"name": "reviewed", "type": "String"}]},
            "features": features}
    (folder / "issue9_incidents.geojson").write_text(json.dumps(body), encoding="utf-8")


def load_ckan(fake: CKANFake) -> None:
    records = [{"occurred": when.replace(" ", "T") + ":00", "kind": kind, "mag": mag,
                "verified": verified} for when, kind, mag, verified in ROWS]
    fake.add_resource("incidents-resource", [("occurred", "timestamp"), ("kind", "text"),
                                             ("mag", "numeric"), ("verified", "bool")],
                      records, package_id="incidents",
                      metadata_modified=UPDATED.astimezone(ZoneInfo("UTC")).strftime(
                          "%Y-%m-%dT%H:%M:%S.000000"))


@pytest.fixture
def portals(tmp_path: Path, koop: KoopServer, baltimore_311_geojson: Path) -> Iterator[Portals]:
    """A project whose four portals serve the same incidents."""
    with SocrataFake() as socrata, CKANFake(sql=True) as ckan:
        load_socrata(socrata)
        load_ckan(ckan)
        write_koop_layer(baltimore_311_geojson)
        write_file_portal(tmp_path / "data")
        (tmp_path / "posts").mkdir()
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "t.j2").write_text(TEMPLATE, encoding="utf-8")
        (tmp_path / "config.toml").write_text(
            f'timezone = "America/Chicago"\n[storage]\nstate_dir = "state"\n'
            f'[portals.file]\nkind = "file"\npath = "data"\nlabel = "City files"\n'
            f'[portals.socrata]\nkind = "socrata"\nurl = "{socrata.url}"\nretries = 0\n'
            f'label = "City Socrata"\n'
            f'[portals.arcgis]\nkind = "arcgis"\nurl = "{koop.services}"\nretries = 0\n'
            f'label = "City ArcGIS"\n'
            f'[portals.ckan]\nkind = "ckan"\nurl = "{ckan.url}"\nretries = 0\n'
            f'label = "City CKAN"\n', encoding="utf-8")
        yield Portals(tmp_path, socrata, ckan, baltimore_311_geojson)


def one_portal(root: Path, portal: str, fake: SocrataFake | None = None) -> Portals:
    """A project with one portal: the file portal, or the given Socrata fake."""
    (root / "posts").mkdir()
    (root / "templates").mkdir()
    (root / "templates" / "t.j2").write_text(TEMPLATE, encoding="utf-8")
    section = (f'kind = "socrata"\nurl = "{fake.url}"\nretries = 0\n' if fake is not None
               else 'kind = "file"\npath = "data"\n')
    (root / "config.toml").write_text(f'timezone = "America/Chicago"\n[portals.{portal}]\n'
                                      f"{section}", encoding="utf-8")
    return Portals(root, fake, None, root)  # type: ignore[arg-type]


def soql_wheres(fake: SocrataFake) -> list[str]:
    return [r.params.get("$where", "") for r in fake.requests if r.path.startswith("/resource/")]


# -- 1 and 2: a breakdown's previous values, the "(blank)" group among them ------------------

@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", PORTALS)
def test_a_breakdown_whose_top_group_is_blank_asks_for_it_as_null(portals: Portals,
                                                                  portal: str) -> None:
    portals.recipe("kinds", portal, extra="[breakdowns.kinds]\ngroup_by = \"kind\"\ntop = 1\n")
    code, out, err = portals.preview("kinds")
    assert (code, err) == (0, ""), err
    assert first_post(out) == "5.0 incidents; before: 3.0. (blank) 3.0 (2.0)."
    if portal == "socrata":  # the previous day's query: no `in ()`, the blanks as IS NULL
        assert soql_wheres(portals.socrata)[-1] == (
            "occurred >= '2026-11-01T00:00:00' AND occurred < '2026-11-02T00:00:00' AND "
            "kind IS NULL")


@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", PORTALS)
def test_the_blank_groups_previous_value_is_counted(portals: Portals, portal: str) -> None:
    portals.recipe("kinds", portal, extra="[breakdowns.kinds]\ngroup_by = \"kind\"\ntop = 2\n")
    code, out, err = portals.preview("kinds")
    assert (code, err) == (0, ""), err
    assert first_post(out) == ("5.0 incidents; before: 3.0. (blank) 3.0 (2.0). "
                               "theft 2.0 (1.0).")
    if portal == "socrata":
        assert soql_wheres(portals.socrata)[-1].endswith(
            " AND (kind in ('theft') OR kind IS NULL)")


# -- 3: freshness before "no data", no last-updated time, hours -----------------------------

@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", ["file", "socrata", "ckan"])
def test_a_portal_that_stopped_updating_says_stale_not_empty(portals: Portals,
                                                             portal: str) -> None:
    portals.recipe("fresh", portal, extra='stale_after = "3 days"')
    code, out, err = portals.run("draft", "fresh", "--as-of", "2026-11-13")  # yesterday: empty
    stale = (f"recipe 'fresh': the dataset {DATASETS[portal]} was last updated 2026-11-02 "
             f"23:00 CST, 10 days before 2026-11-13; the recipe skips data older than 3 days "
             f"(stale_after): nothing drafted")
    assert (code, out, err) == (1, "", f"Error: {stale}\n")
    code, out, _ = portals.run("queue")
    assert out.splitlines()[-1] == f"    -  skipped              fresh: {stale}"


@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", ["socrata", "arcgis"])
def test_no_last_updated_time_is_a_guard_reason(portals: Portals, portal: str) -> None:
    portals.socrata.no_timestamps = True  # Koop's layers carry no editingInfo at all
    portals.recipe("fresh", portal, extra='stale_after = "3 days"\nunusual_change = 5.0')
    text = (portals.root / "posts" / "fresh.toml").read_text(encoding="utf-8")
    (portals.root / "posts" / "fresh.toml").write_text(
        text.replace('approval = "required"', 'approval = "auto-unless-unusual"'),
        encoding="utf-8")
    code, out, err = portals.run("draft", "fresh", "--as-of", AS_OF)
    assert (code, err) == (0, "")
    assert out == ("drafted draft 1 (pending review)\n"
                   "guard: the portal gives no last-updated time; freshness not checked\n")


@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", ["file", "socrata", "ckan"])
@pytest.mark.parametrize("limit, as_of, before", [
    ("2 hours", "2026-11-03T04:00", "5 hours before 2026-11-03 04:00 CST"),
    # 30 hours against a 1-day limit: never "1 day before", which reads as within the limit
    ("1 day", "2026-11-04T05:00", "1 day and 6 hours before 2026-11-04")])
def test_a_stale_age_is_worded_in_hours_and_never_as_the_limit_itself(
        portals: Portals, portal: str, limit: str, as_of: str, before: str) -> None:
    portals.recipe("fresh", portal, extra=f'stale_after = "{limit}"')
    code, out, err = portals.run("preview", "fresh", "--as-of", as_of)
    assert (code, out) == (1, "")
    assert err == (f"Error: recipe 'fresh': the dataset {DATASETS[portal]} was last updated "
                   f"2026-11-02 23:00 CST, {before}; the recipe skips data older than "
                   f"{limit} (stale_after): nothing drafted\n")


@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal, written, meant", [
    ("socrata", "Incident Type", "'Incident Type' is the display name of column 'kind': a "
                                 "recipe writes the field name, 'kind'"),
    ("arcgis", "Date & Time", "'Date & Time' is the display name of column 'occurred': a "
                              "recipe writes the field name, 'occurred'"),
    *[(portal, "Kind", "did you mean 'kind'? column names are case-sensitive")
      for portal in PORTALS]])
def test_a_display_name_or_other_capitals_get_the_column_meant(
        portals: Portals, portal: str, written: str, meant: str) -> None:
    """`sources describe` shows display names; a recipe that uses one is told the field."""
    portals.recipe("named", portal, extra=f'[breakdowns.kinds]\ngroup_by = "{written}"\n')
    code, out, err = portals.preview("named")
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: portal '{portal}': dataset '{DATASETS[portal]}' has no "
                          f"column '{written}'; it has: ")
    assert err.endswith(f" ({meant})\n")


# -- 4: non-finite numbers -------------------------------------------------------------------

@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", PORTALS)
def test_check_refuses_non_finite_numbers_naming_the_recipe_and_key(portals: Portals,
                                                                     portal: str) -> None:
    portals.recipe("nan", portal, source='where = { mag = "1e400" }\n[[source.filters]]\n'
                                         'field = "mag"\nop = ">"\nvalue = "NaN"\n')
    code, out, err = portals.run("check")
    path = portals.root / "posts" / "nan.toml"
    fix = ("write a finite number: a portal reads NaN or infinity as a column name, or "
           "matches nothing")
    assert code == 1
    assert f"{path}: source.where.mag: '1e400' is not a finite number ({fix})" in err
    assert f"{path}: source.filters[0].value: 'NaN' is not a finite number ({fix})" in err
    assert "no column" not in err and "no incidents" not in err


def test_check_refuses_toml_nan_and_inf_and_an_empty_list(tmp_path: Path) -> None:
    write_file_portal(tmp_path / "data")
    project = one_portal(tmp_path, "file")
    project.recipe("odd", "file", source="where = { mag = nan, kind = [] }\n"
                                         "[[source.filters]]\nfield = \"mag\"\nop = \"<\"\n"
                                         "value = -inf\n")
    code, out, err = project.run("check")
    path = tmp_path / "posts" / "odd.toml"
    assert (code, out) == (1, "")
    assert err.splitlines()[:3] == [
        f"{path}: source.where.mag: nan is not a finite number (write a finite number: a "
        f"portal reads NaN or infinity as a column name, or matches nothing)",
        f"{path}: source.where.kind: is an empty list, which matches nothing (list at least "
        f"one value, or remove the filter)",
        f"{path}: source.filters[0].value: -inf is not a finite number (write a finite "
        f"number: a portal reads NaN or infinity as a column name, or matches nothing)"]


# -- 5: booleans -------------------------------------------------------------------------------

@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", PORTALS)
def test_booleans_filter_in_each_portals_own_form(portals: Portals, portal: str) -> None:
    portals.recipe("yes", portal, source="where = { verified = true }")
    code, out, err = portals.preview("yes")
    assert (code, err) == (0, ""), err
    assert first_post(out) == "3.0 incidents; before: 2.0."
    portals.recipe("no", portal, source='[[source.filters]]\nfield = "verified"\nop = "="\n'
                                        'value = false\n')
    code, out, err = portals.preview("no")
    assert (code, err) == (0, ""), err
    assert first_post(out) == "2.0 incidents; before: 1.0."
    if portal == "socrata":
        assert soql_wheres(portals.socrata)[-1].endswith(" AND verified = false")
    if portal == "ckan":
        sql = [p["sql"] for name, p in portals.ckan.calls if name == "datastore_search_sql"]
        assert sql[-1].endswith(' AND "verified" = FALSE LIMIT 1')
    if portal == "arcgis":  # no boolean type: 1/0 in a number field, quoted in a text one
        portals.recipe("text", portal, source="where = { reviewed = true }")
        code, out, err = portals.preview("text")
        assert (code, err) == (0, ""), err
        assert first_post(out) == "3.0 incidents; before: 2.0."


# -- 6: the portal's own words when its metadata and its query engine disagree ---------------

def test_a_column_the_metadata_lists_but_the_query_engine_refuses(tmp_path: Path) -> None:
    with SocrataFake() as fake:
        load_socrata(fake)
        fake.unqueryable = {"kind"}
        project = one_portal(tmp_path, "socrata", fake)
        project.recipe("kinds", "socrata", extra='[breakdowns.kinds]\ngroup_by = "kind"\n')
        code, out, err = project.preview("kinds")
    assert (code, out) == (1, "")
    assert err == (
        "Error: portal 'socrata': the portal answered with an error: "
        "query.soql.no-such-column: Query coordinator error: query.soql.no-such-column; No "
        "such column: kind (the dataset's metadata lists 'kind' but its query engine refuses "
        "it; the column may have been renamed or hidden: ask the portal, or use another "
        "column)\n")


# -- 7: a mean over nothing; what `sources describe` shows; a broken JSON body ---------------

@pytest.mark.koop
@pytest.mark.realdata
@pytest.mark.parametrize("portal", PORTALS)
def test_a_mean_over_nothing_is_no_data_not_zero(portals: Portals, portal: str) -> None:
    portals.recipe("means", portal, source='measure = "mean:mag"')
    code, out, err = portals.preview("means")  # the day before has no magnitudes at all
    assert (code, err) == (0, ""), err
    assert first_post(out) == "3.0 incidents; before: None."
    code, out, err = portals.run("preview", "means", "--as-of", "2026-11-02")
    assert (code, out) == (1, "")
    assert err == (f"Error: recipe 'means': no values of mag in {DATASETS[portal]} to take "
                   f"the mean of for yesterday (2026-11-01 to 2026-11-01): an empty period "
                   f"never becomes a post (check the dataset is current, or the recipe's "
                   f"filters)\n")


@pytest.mark.koop
@pytest.mark.realdata
def test_sources_describe_shows_names_display_names_and_plain_types(portals: Portals) -> None:
    code, out, err = portals.run("sources", "describe", "socrata", "inci-dent1")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Incidents (City Socrata)", "last updated: 2026-11-02T23:00-06:00",
        f"link: {portals.socrata.url}/d/inci-dent1",
        '  occurred  date     "Date & Time"', '  kind      text     "Incident Type"',
        '  mag       number   "Magnitude"', '  verified  boolean  "Verified?"']
    portals.socrata.views_forbidden = True  # the other path: the X-SODA2-* headers
    code, out, err = portals.run("sources", "describe", "socrata", "inci-dent1", "--no-cache")
    assert out.splitlines()[3:] == ["  occurred  date", "  kind      text", "  mag       number",
                                    "  verified  boolean"]
    code, out, err = portals.run("sources", "describe", "arcgis", DATASETS["arcgis"])
    assert out.splitlines()[2:] == [
        "  OBJECTID  number", '  occurred  date    "Date & Time"', "  kind      text",
        "  mag       number", "  verified  number", "  reviewed  text"]
    code, out, err = portals.run("sources", "describe", "ckan", DATASETS["ckan"])
    assert out.splitlines()[-4:] == ["  occurred  date", "  kind      text",
                                     "  mag       number", "  verified  boolean"]
    code, out, err = portals.run("sources", "describe", "file", "incidents")
    assert out.splitlines()[-4:] == ["  occurred  date", "  kind      text",
                                     "  mag       number", "  verified  text"]


def test_a_broken_json_answer_says_try_again_not_check_the_url(tmp_path: Path) -> None:
    with SocrataFake() as fake:
        load_socrata(fake)
        fake.broken_json = 10
        project = one_portal(tmp_path, "socrata", fake)
        project.recipe("count", "socrata")
        code, out, err = project.preview("count")
    assert (code, out) == (1, "")
    assert err == ("Error: portal 'socrata': sent a broken JSON answer (HTTP 200, 9 bytes, "
                   "starting '[{\"cc_val') (it may have been cut off on the way: try again; "
                   "if it keeps happening, the portal is at fault)\n")
