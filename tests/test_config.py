"""Every kind of config/recipe/template mistake gets its one line from `citycrier check`."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config, load_recipes


def run_check(project: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["check", "--config", str(project / "config.toml")])
    lines = [line for line in result.stderr.splitlines() if line]
    return result.exit_code, lines + result.stdout.splitlines()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_project_checks_clean(project):
    code, lines = run_check(project)
    assert code == 0, lines
    assert lines == ["ok: config, 3 recipes and their templates rendered without a problem"]


def test_config_loads_into_frozen_dataclasses(project):
    config = load_config(project / "config.toml")
    assert config.timezone == "America/Chicago"
    assert config.portals["sample"].synthetic is True
    assert config.portals["open_data_br"].app_token_env == "CITYCRIER_SOCRATA_APP_TOKEN"
    assert config.storage_url == "sqlite:///" + str(project / "state" / "citycrier.db")
    recipes = load_recipes(config)
    assert sorted(recipes) == ["baltimore_311_weekend", "baton_rouge_crime_monthly",
                               "housing_recovery_progress"]
    with pytest.raises(AttributeError):
        config.timezone = "UTC"  # type: ignore[misc]


CASES = [
    # (file, old, new, the one line expected (after the file path))
    ("config.toml", 'timezone = "America/Chicago"', 'timezone = "America/Chicgo"',
     "timezone: 'America/Chicgo' is not an IANA time zone name (use a name like "
     "\"America/Chicago\" or \"America/New_York\")"),
    ("config.toml", "[approval]\n", "[approval]\ntwo_persn = true\n",
     "approval.two_persn: unknown key (did you mean 'two_person'?)"),
    ("config.toml", "two_person = false", 'two_person = "no"',
     "approval.two_person: must be a bool, not str 'no' (write two_person = true)"),
    ("config.toml", 'app_token_env = "CITYCRIER_SOCRATA_APP_TOKEN"',
     'app_token = "abc123"',
     "portals.open_data_br.app_token: looks like a secret written into the file (put the "
     "secret in the environment or .env and name the variable with app_token_env = "
     "\"CITYCRIER_...\")"),
    ("config.toml", 'kind = "arcgis"', 'kind = "esri"',
     "portals.open_baltimore.kind: 'esri' is not a portal kind (use file | socrata | arcgis | "
     "ckan)"),
    ("config.toml", 'url = "sqlite:///state/citycrier.db"', 'url = "mysql://x"',
     "storage.url: 'mysql://x' is not a supported database URL (use "
     "\"sqlite:///path/to/citycrier.db\" or \"postgresql://user@host/db\")"),
    ("config.toml", "# [accounts.cityhall_x]\n# platform = \"x\"\n",
     "[accounts.cityhall_x]\nplatform = \"x\"\n",
     "accounts.cityhall_x.consumer_key_env: is missing (name the environment variable that "
     "holds it: consumer_key_env = \"CITYCRIER_...\")"),
    ("posts/baltimore_311_weekend.toml", 'period = "last_weekend"', 'period = "last_wekend"',
     "source.period: 'last_wekend' is not a period (did you mean 'last_weekend'?)"),
    ("posts/baltimore_311_weekend.toml", 'portal = "sample"', 'portal = "smaple"',
     "source.portal: 'smaple' is not a portal in config.toml (did you mean 'sample'?)"),
    ("posts/baltimore_311_weekend.toml", 'schedule = "0 8 * * MON"',
     'schedule = "0 25 * * MON"',
     "schedule: '0 25 * * MON' is not a valid cron expression: Error validating expression "
     "'25': the last value (25) is higher than the maximum value (23) (e.g. \"0 9 * * MON\" "
     "for Mondays at 9:00)"),
    ("posts/baltimore_311_weekend.toml", 'noun = "requests"', 'nuon = "requests"',
     "nuon: unknown key (did you mean 'noun'?)"),
    ("posts/baltimore_311_weekend.toml", 'group_by = "SRType"\n', '',
     "breakdowns.top_types.group_by: is missing (add group_by = \"...\")"),
    ("posts/baltimore_311_weekend.toml", 'data = "top_types"', 'data = "top_type"',
     "charts[0].data: 'top_type' names no breakdown or series (did you mean 'top_types'?)"),
    ("posts/baltimore_311_weekend.toml", 'template = "baltimore_311_weekend.j2"',
     'template = "missing.j2"',
     "template: 'missing.j2' is not in {templates} (create it, or fix the file name)"),
    ("posts/baltimore_311_weekend.toml", 'title = "Baltimore 311', 'title = Baltimore 311',
     "is not valid TOML: Invalid value (at line 2, column 9) (fix the syntax at that line)"),
    ("posts/baltimore_311_weekend.toml", 'publish_after = "3 hours"',
     'publish_after = "soon"',
     "publish_after: 'soon' is not a duration (write e.g. \"3 days\" or \"2 hours\")"),
    ("posts/baltimore_311_weekend.toml", 'group_by = "SRType"', 'group_by = "SR_Type"',
     "portal 'sample': dataset 'baltimore_311' has no column 'SR_Type'; it has: SRRecordID, "
     "ServiceRequestNum, SRType, MethodReceived, CreatedDate, SRStatus, Agency, Neighborhood, "
     "CouncilDistrict, PoliceDistrict (fix the recipe's column name, or the dataset changed "
     "its schema)"),
    ("templates/baltimore_311_weekend.j2", "{{ first.value | number }}",
     "{{ frist.value | number }}",
     "template baltimore_311_weekend.j2 line 5: 'frist' is undefined (recipe "
     "'baltimore_311_weekend'; fix the template or the recipe's figures)"),
    ("templates/baltimore_311_weekend.j2", "{% endif %}\n---\n{% if source.synthetic %}",
     "\n---\n{% if source.synthetic %}",
     "line 17: Unexpected end of template. Jinja was looking for the following tags: "
     "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'. "
     "(fix the template syntax)"),
    ("templates/baltimore_311_weekend.j2", "Next came ",
     "Next came " + "a very long list of things, " * 12,
     "recipe 'baltimore_311_weekend': post 3 is too long for bluesky: 460 graphemes, limit "
     "300 (shorten the template, or set split = true in the recipe)"),
]


@pytest.mark.parametrize("file, old, new, expected", CASES,
                         ids=[c[3].split(":")[0][:40] for c in CASES])
def test_each_mistake_gets_its_one_line(project, file, old, new, expected):
    path = project / file
    edit(path, old, new)
    code, lines = run_check(project)
    assert code == 1
    expected = expected.format(templates=project / "templates")
    matching = [line for line in lines if line.endswith(expected)]
    assert matching, "\n".join(lines)
    # the line names the file at fault: the edited one, or the recipe whose render failed
    assert matching[0].startswith((str(path), str(project / "posts")))
    assert lines[-1].startswith("Error: ") and lines[-1].endswith("found")


def test_every_problem_is_reported_not_just_the_first(project):
    edit(project / "config.toml", "[approval]\n", "[approval]\ntwo_persn = true\n")
    edit(project / "posts/baltimore_311_weekend.toml", 'noun = "requests"', 'nuon = "x"')
    edit(project / "posts/housing_recovery_progress.toml", 'period = "last_month"',
         'period = "monthly"')
    code, lines = run_check(project)
    assert code == 1
    assert lines[-1] == "Error: 3 problems found"
    assert len(lines) == 4


def test_missing_config_file(tmp_path):
    code, lines = run_check(tmp_path)
    assert code == 1
    assert lines == [f"{tmp_path / 'config.toml'}: file not found (pass --config PATH, or run "
                     f"from the folder holding it)", "Error: 1 problem found"]


def test_live_source_renames_columns(project):
    config = load_config(project / "config.toml")
    recipe = load_recipes(config)["baton_rouge_crime_monthly"]
    live = recipe.live()
    assert (live.source.portal, live.source.dataset, live.source.date_field) == (
        "open_data_br", "pbin-pcm7", "report_date")
    assert [b.group_by for b in live.breakdowns] == ["statute_category", "district"]
    assert live.source.live is None and recipe.source.portal == "sample"


def test_sources_describe_a_file_dataset(project):
    result = CliRunner().invoke(main, ["sources", "describe", "sample", "housing_recovery",
                                       "--config", str(project / "config.toml")])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "housing_recovery (citycrier synthetic sample)"
    assert lines[2:] == ["rows: 965", "  home_id           text",
                         "  program           text", "  completed_date    date",
                         "  council_district  number", "  repair_type       text"]
    result = CliRunner().invoke(main, ["sources", "describe", "smaple", "x",
                                       "--config", str(project / "config.toml")])
    assert result.stderr == "Error: no portal 'smaple' in config.toml (did you mean 'sample'?)\n"


def test_recipe_accounts_must_exist_and_match_its_platforms(project):
    table = ('[accounts.cityhall_bluesky]\nplatform = "bluesky"\n'
             'handle = "cityhall.example.gov"\n'
             'app_password_env = "CITYCRIER_BSKY_APP_PASSWORD"\n')
    commented = "".join(f"# {line}\n" for line in table.splitlines())
    edit(project / "config.toml", commented, table)
    recipe = project / "posts/baltimore_311_weekend.toml"
    edit(recipe, 'platforms = ["bluesky", "x", "mastodon"]',
         'platforms = ["x"]\naccounts = ["cityhall_bluesky", "cityhall_bsky"]')
    code, lines = run_check(project)
    assert code == 1
    assert lines[:2] == [
        f"{recipe}: accounts: 'cityhall_bluesky' posts to bluesky, which is not in this "
        f"recipe's platforms (add \"bluesky\" to platforms)",
        f"{recipe}: accounts: 'cityhall_bsky' is not an account in config.toml (did you mean "
        f"'cityhall_bluesky'?)"]


def test_a_mastodon_account_needs_its_server_and_token(project):
    config = project / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + (
        '\n[accounts.city_m]\nplatform = "mastodon"\nreply_visibility = "everyone"\n'
        '\n[accounts.city_m2]\nplatform = "mastodon"\napi_base = "city.social"\n'
        'access_token_env = "CITYCRIER_MASTODON_TOKEN"\n'
        '\n[accounts.city_fb]\nplatform = "facebook"\n'), encoding="utf-8")
    code, lines = run_check(project)
    assert code == 1
    where = str(config.resolve())
    assert lines[:5] == [
        f"{where}: accounts.city_m.api_base: is missing (api_base = \"https://...\" (the "
        f"server))",
        f"{where}: accounts.city_m.access_token_env: is missing (name the environment "
        f"variable that holds it: access_token_env = \"CITYCRIER_...\")",
        f"{where}: accounts.city_m.reply_visibility: 'everyone' is not a visibility (use "
        f"public | unlisted | private)",
        f"{where}: accounts.city_m2.api_base: is not an http(s) URL (api_base = \"https://...\")",
        f"{where}: accounts.city_fb.platform: 'facebook' is not a platform (use x | bluesky | "
        f"mastodon)",
    ]
