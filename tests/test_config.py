"""Every kind of config/recipe/template mistake gets its one line from `citycrier check`."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config, load_recipes, read_config


def run_check(project: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["check", *args, "--config",
                                       str(project / "config.toml")])
    lines = [line for line in result.stderr.splitlines() if line]
    return result.exit_code, lines + result.stdout.splitlines()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_project_checks_clean(project):
    code, lines = run_check(project)
    assert code == 0, lines
    assert lines == ["ok: config, 3 recipes and their templates are valid (`citycrier check "
                     "--render` also renders each on its data)"]
    code, lines = run_check(project, "--render")
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
    ("templates/baltimore_311_weekend.j2", "{{ first.value | number }}",
     "{{ frist.value | number }}",
     "template baltimore_311_weekend.j2 line 5: 'frist' is undefined (recipe "
     "'baltimore_311_weekend'; fix the template or the recipe's figures)"),
    ("templates/baltimore_311_weekend.j2", "{% endif %}\n---\n{% if source.synthetic %}",
     "\n---\n{% if source.synthetic %}",
     "line 17: Unexpected end of template. Jinja was looking for the following tags: "
     "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'. "
     "(fix the template syntax)"),
    ("templates/baltimore_311_weekend.j2", '{{ chart("top_requests") }}',
     '{{ chart("top_request") }}',
     "template baltimore_311_weekend.j2 line 6 asks for chart 'top_request', which the "
     "recipe does not define (did you mean 'top_requests'?)"),
    ("posts/baltimore_311_weekend.toml", "{{ period.label }}\"", "{{ perod.label }}\"",
     "charts[0].title: 'perod' is undefined (use a breakdown, series or figure of this "
     "recipe)"),
    # ranges, schedules that never fire, *_env values that are not variable names
    ("config.toml", "port = 8080", "port = 99999",
     "web.port: must be from 1 to 65535, not 99999 (write port = 8080)"),
    ("config.toml", "grace_minutes = 30", "grace_minutes = -5",
     "schedule.grace_minutes: must be 0 or more, not -5 (write grace_minutes = 30)"),
    ("config.toml", "missed_slot_grace_minutes = 60", "missed_slot_grace_minutes = -1",
     "approval.missed_slot_grace_minutes: must be 0 or more, not -1 (write "
     "missed_slot_grace_minutes = 60)"),
    ("posts/baltimore_311_weekend.toml", 'schedule = "0 8 * * MON"',
     'schedule = "0 9 31 2 *"',
     "schedule: '0 9 31 2 *' never fires in the next 5 years (check the day, month "
     "and weekday fields, which must all match at once: February has no 30th or 31st)"),
    # weekdays as the scheduler counts them (1 = Monday): February 29th on a Monday is 2044
    ("posts/baltimore_311_weekend.toml", 'schedule = "0 8 * * MON"',
     'schedule = "0 8 29 2 1"',
     "schedule: '0 8 29 2 1' never fires in the next 5 years (check the day, month "
     "and weekday fields, which must all match at once: February has no 30th or 31st)"),
    ("posts/baltimore_311_weekend.toml", 'noun = "requests"',
     'noun = "requests"\nstale_after = "0 hours"',
     "stale_after: '0 hours' would call every dataset stale (write e.g. \"3 days\", or "
     "leave stale_after out)"),
    ("posts/baltimore_311_weekend.toml", 'period = "last_weekend"',
     'period = "last_weekend"\n[[source.filters]]\nfield = "SRType"\nop = ">="\n'
     'value = ["A", "B"]',
     "source.filters[0].value: is a list, which op = '>=' cannot compare with (a portal "
     "would use only 'A') (write one value, or op = \"in\" / \"not in\" for a list)"),
    ("templates/baltimore_311_weekend.j2", "{% endif %}\n---\n{% if source.synthetic %}",
     '{% endif %}\n{% include "footer.j2" %}\n---\n{% if source.synthetic %}',
     "line 12: includes 'footer.j2', which is not in {templates} (create it or fix the "
     "include)"),
    # a wrong type's example is the setting's own; a URL's password is never shown
    ("config.toml", "port = 8080", 'port = "80"',
     "web.port: must be an int, not str '80' (write port = 8080)"),
    ("config.toml", 'url = "sqlite:///state/citycrier.db"',
     'url = "postgres://cc:hunter2@db:5432/cc"',
     "storage.url: 'postgres://cc:***@db:5432/cc' is not a supported database URL (write "
     "\"postgresql://\" rather than \"postgres://\")"),
    ("config.toml", 'url = "sqlite:///state/citycrier.db"',
     'url = "mysql://cc:p@ss@db/cc"',
     "storage.url: 'mysql://cc:***@db/cc' is not a supported database URL (use "
     "\"sqlite:///path/to/citycrier.db\" or \"postgresql://user@host/db\")"),
    ("config.toml", 'app_token_env = "CITYCRIER_SOCRATA_APP_TOKEN"',
     'app_token_env = "abcd-efgh-ijkl-mnop"',
     "portals.open_data_br.app_token_env: is not the name of an environment variable (is it "
     "the secret itself? never write a secret here) (write app_token_env = \"CITYCRIER_...\" "
     "and put the secret in that variable, in the environment or .env)"),
]

# [engagement]
CASES += [
    ("config.toml", 'read_after = ["1 hour", "24 hours", "7 days"]',
     'read_after = ["1 hour", "soon"]',
     "engagement.read_after: ['1 hour', 'soon'] is not a list of durations of at most a "
     "year (write it like [\"1 hour\", \"24 hours\", \"7 days\"])"),
    # more days than a date can hold: one line, not an unexpected OverflowError
    ("config.toml", 'read_after = ["1 hour", "24 hours", "7 days"]',
     'read_after = ["99999999999 days"]',
     "engagement.read_after: ['99999999999 days'] is not a list of durations of at most a "
     "year (write it like [\"1 hour\", \"24 hours\", \"7 days\"])"),
    ("config.toml", "retention_days = 30", "retention_days = 99999999999",
     "engagement.retention_days: must be at most 3650 (ten years), not 99999999999 (write "
     "retention_days = 30)"),
    ("config.toml", "per_pass = 500", "per_pass = 0",
     "engagement.per_pass: must be at least 1, not 0 (write per_pass = 500)"),
    ("config.toml", 'digest = ""', 'digest = "daily"',
     "engagement.digest: 'daily' is not a digest (use \"weekly\" or \"\")"),
]

# found only by rendering on the data: `check --render`
RENDER_CASES = [
    ("posts/baltimore_311_weekend.toml", 'group_by = "SRType"', 'group_by = "SR_Type"',
     "portal 'sample': dataset 'baltimore_311' has no column 'SR_Type'; it has: SRRecordID, "
     "ServiceRequestNum, SRType, MethodReceived, CreatedDate, SRStatus, Agency, Neighborhood, "
     "CouncilDistrict, PoliceDistrict (fix the recipe's column name, or the dataset changed "
     "its schema)"),
    ("templates/baltimore_311_weekend.j2", "Next came ",
     "Next came " + "a very long list of things, " * 12,
     "recipe 'baltimore_311_weekend': post 3 is too long for bluesky: 460 graphemes, limit "
     "300 (shorten the template, or set split = true in the recipe)"),
]


@pytest.mark.parametrize("file, old, new, expected", CASES,
                         ids=[c[3].split(":")[0][:40] for c in CASES])
def test_each_mistake_gets_its_one_line(project, file, old, new, expected):
    assert_one_line(project, file, old, new, expected)


@pytest.mark.parametrize("file, old, new, expected", RENDER_CASES,
                         ids=[c[3].split(":")[0][:40] for c in RENDER_CASES])
def test_rendering_finds_what_needs_the_data(project, file, old, new, expected):
    edit(project / file, old, new)
    assert run_check(project)[0] == 0  # without --render, the data is not read
    assert_one_line(project, file, old, new, expected, "--render", edited=True)


def assert_one_line(project: Path, file: str, old: str, new: str, expected: str,
                    *args: str, edited: bool = False) -> None:
    path = project / file
    if not edited:
        edit(path, old, new)
    code, lines = run_check(project, *args)
    assert code == 1
    expected = expected.format(templates=project / "templates")
    matching = [line for line in lines if line.endswith(expected)]
    assert matching, "\n".join(lines)
    # the line names the file at fault: the edited one, or the recipe whose render failed
    assert matching[0].startswith((str(path), str(project / "posts")))
    assert lines[-1].startswith("Error: ") and lines[-1].endswith("found")


@pytest.mark.parametrize("schedule", ["0 8 * * 7", "0 8 * * 5-7", "0 8 * * SUN"])
def test_sunday_as_7_passes_check_as_the_scheduler_reads_it(project, schedule):
    """crontab's 7 is Sunday, as the scheduler runs it; check reads the schedule the same."""
    edit(project / "posts/baltimore_311_weekend.toml", 'schedule = "0 8 * * MON"',
         f'schedule = "{schedule}"')
    code, lines = run_check(project)
    assert (code, len(lines)) == (0, 1), lines


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
    assert lines[0].startswith("warning: ")  # CITYCRIER_BSKY_APP_PASSWORD is not set
    assert lines[1:3] == [
        f"{recipe}: accounts: 'cityhall_bluesky' posts to bluesky, which is not in this "
        f"recipe's platforms (add \"bluesky\" to platforms)",
        f"{recipe}: accounts: 'cityhall_bsky' is not an account in config.toml (did you mean "
        f"'cityhall_bluesky'?)"]


def test_a_mastodon_account_needs_its_server_and_token(project, monkeypatch):
    monkeypatch.setenv("CITYCRIER_MASTODON_TOKEN", "set")  # no warning for an unset token
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
        f"{where}: accounts.city_m2.api_base: is not an http(s) URL (api_base = "
        f"\"https://city.social\" (the server itself, no path))",
        f"{where}: accounts.city_fb.platform: 'facebook' is not a platform (use x | bluesky | "
        f"mastodon)",
    ]


@pytest.mark.parametrize(("api_base", "token_env", "said"), [
    ("https://city.social/", "CITYCRIER_MASTODON_TOKEN", []),  # a trailing slash is fine
    ("https://city.social/api/v1", "CITYCRIER_MASTODON_TOKEN",
     ["accounts.m.api_base: has a path ('/api/v1'): give the server alone (api_base = "
      "\"https://city.social\" (the server itself, no path))"]),
    ("https://", "CITYCRIER_MASTODON_TOKEN",
     ["accounts.m.api_base: is not an http(s) URL (api_base = \"https://city.social\" (the "
      "server itself, no path))"]),
    ("https://city.social", "Zk9x-token-pasted-here", [  # said once, not also "missing"
        "accounts.m.access_token_env: is not the name of an environment variable (is it the "
        "secret itself? never write a secret here) (write access_token_env = "
        "\"CITYCRIER_...\" and put the secret in that variable, in the environment or .env)"]),
], ids=["trailing-slash", "path", "no-host", "secret-itself"])
def test_a_mastodon_api_base_is_the_server_alone(project, monkeypatch, api_base, token_env,
                                                 said):
    monkeypatch.setenv("CITYCRIER_MASTODON_TOKEN", "set")
    config = project / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + (
        f'\n[accounts.m]\nplatform = "mastodon"\napi_base = "{api_base}"\n'
        f'access_token_env = "{token_env}"\n'), encoding="utf-8")
    code, lines = run_check(project)
    where = str(config.resolve())
    assert (code, [line for line in lines if line.startswith(where)]) == (
        1 if said else 0, [f"{where}: {line}" for line in said])


def test_an_unset_credential_variable_is_a_warning_not_a_failure(project, monkeypatch):
    table = ('[accounts.cityhall_bluesky]\nplatform = "bluesky"\n'
             'handle = "cityhall.example.gov"\n'
             'app_password_env = "CITYCRIER_BSKY_APP_PASSWORD"\n')
    commented = "".join(f"# {line}\n" for line in table.splitlines())
    edit(project / "config.toml", commented, table)
    monkeypatch.delenv("CITYCRIER_BSKY_APP_PASSWORD", raising=False)
    code, lines = run_check(project)
    assert code == 0
    assert lines == [
        f"warning: {project / 'config.toml'}: accounts.cityhall_bluesky.app_password_env: "
        f"CITYCRIER_BSKY_APP_PASSWORD is not set (set it in the environment or .env before "
        f"this account posts)",
        *[f"warning: {project / 'config.toml'}: accounts: no {name} account, so the {label} "
          f"thread of baltimore_311_weekend, baton_rouge_crime_monthly, "
          f"housing_recovery_progress is skipped when publishing (add an [accounts.NAME] "
          f"table with platform = \"{name}\", or remove \"{name}\" from those recipes' "
          f"platforms)" for name, label in (("x", "X"), ("mastodon", "Mastodon"))],
        "ok: config, 3 recipes and their templates are valid (`citycrier check --render` "
        "also renders each on its data)"]
    monkeypatch.setenv("CITYCRIER_BSKY_APP_PASSWORD", "xxxx-xxxx-xxxx-xxxx")
    code, lines = run_check(project)
    assert code == 0 and not any("app_password_env" in line for line in lines)


CLI = "import sys\nfrom bot.cli import main\nmain(sys.argv[1:], prog_name='citycrier')\n"


def latin1(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` and save the file as Latin-1, as an old editor would."""
    text = path.read_text(encoding="utf-8").replace(old, new, 1)
    path.write_bytes(text.encode("latin-1"))


@pytest.mark.parametrize("file, old, new, line, column", [
    ("config.toml", 'label = "Open Data BR"', 'label = "Open Data BR, Bâton Rouge"', 39, 25),
    ("posts/baltimore_311_weekend.toml", '"SW-Rat Rubout Proactive" = "rat extermination',
     '"SW-Rat Rubout Proactive" = "rat extermination (dératisation)', 21, 50),
    ("templates/baltimore_311_weekend.j2", "Next came ", "Next came (café) ", 8, 15),
], ids=["config", "recipe", "template"])
def test_a_file_that_is_not_utf8_is_named_with_its_line_and_column(project, file, old, new,
                                                                   line, column):
    path = project / file
    latin1(path, old, new)
    expected = f"{path} is not UTF-8 at line {line}, column {column}: save it as UTF-8"
    for command in (["check"], ["draft", "baltimore_311_weekend"]):
        out = subprocess.run([sys.executable, "-c", CLI, *command, "--config",
                              str(project / "config.toml")], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 1
        if file.startswith("templates") and command[0] == "draft":  # met while rendering
            assert out.stderr.splitlines() == [f"Error: {expected}"]
        else:
            assert out.stderr.splitlines() == [expected, "Error: 1 problem found"]
        assert "unexpected" not in out.stderr and out.stdout == ""
    db = project / "state" / "citycrier.db"
    if db.exists():  # drafting opens the store before it renders: nothing was drafted
        from bot.store import Store

        store = Store(f"sqlite:///{db}")
        assert store.list_drafts() == []
        assert [r["outcome"] for r in store.runs()] == ["failed"]  # recorded, for `status`
        store.close()


def test_a_registered_platform_brings_its_own_account_keys(project, telegraph, monkeypatch):
    """A platform added to the registry alone: config takes its keys, with their types and
    defaults, and names a missing required one, with no change to config.py or settings.py."""
    monkeypatch.setenv("CITYCRIER_WIRE", "set")
    config = project / "config.toml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base + (
        '\n[accounts.wire]\nplatform = "telegraph"\nhandle = "city"\n'
        'relay_url = "https://relay.example"\ntoken_env = "CITYCRIER_WIRE"\nmax_hops = 5\n'
        '\n[accounts.wire2]\nplatform = "telegraph"\ntoken_env = "CITYCRIER_WIRE"\n'),
        encoding="utf-8")
    problems: list = []
    read = read_config(config, problems)
    where = str(config.resolve())
    assert [str(p) for p in problems] == [
        f'{where}: accounts.wire2.relay_url: is missing (relay_url = "https://..." (the '
        f'server))']
    assert read is not None
    assert dict(read.accounts["wire"].settings) == {
        "relay_url": "https://relay.example", "token_env": "CITYCRIER_WIRE", "max_hops": 5}
    assert read.accounts["wire"].handle == "city"
    assert dict(read.accounts["wire2"].settings)["max_hops"] == 3  # the entry's default

    config.write_text(base + (
        '\n[accounts.wire]\nplatform = "telegraph"\nrelay_url = "https://relay.example"\n'
        'token_env = "CITYCRIER_WIRE"\nmax_hops = "five"\nvisibility = "public"\n'),
        encoding="utf-8")
    problems = []
    read_config(config, problems)
    assert [str(p) for p in problems] == [
        f"{where}: accounts.wire.max_hops: must be an int, not str 'five' (write max_hops = "
        f"1)",
        f"{where}: accounts.wire.visibility: unknown key (known keys: handle, max_hops, "
        f"platform, posts_per_day, posts_per_hour, read_metrics, relay_url, token_env)"]


def test_a_weekly_digest_with_no_notify_channel_is_a_warning(project, monkeypatch):
    edit(project / "config.toml", 'digest = ""', 'digest = "weekly"')
    code, lines = run_check(project)
    where = str((project / "config.toml").resolve())
    assert code == 0
    assert [line for line in lines if "engagement.digest" in line] == [
        f"warning: {where}: engagement.digest: is \"weekly\", but [notify] has no channel, so "
        "no digest can be sent (set [notify] webhook_url_env, or smtp_host and smtp_to; or "
        "digest = \"\")"]
    edit(project / "config.toml", "# [notify]\n# webhook_url_env",
         "[notify]\nwebhook_url_env")
    assert not any("engagement.digest" in line for line in run_check(project)[1])
