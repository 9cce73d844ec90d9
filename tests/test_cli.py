"""The command line: light start-up, the README's demo command, and the review loop."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

from .conftest import ROOT

HEAVY = ("pandas", "matplotlib")
PROBE = (
    "import sys\n"
    "from bot.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:], prog_name='citycrier')\n"
    "except SystemExit:\n"
    "    pass\n"
    f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
)


def heavy_modules(*args: str, cwd: Path = ROOT) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True,
                         text=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")][0]


def test_help_does_not_import_pandas_or_matplotlib():
    assert heavy_modules("--help") == "HEAVY="


def test_queue_does_not_import_pandas_or_matplotlib(project):
    assert heavy_modules("queue", "--config", str(project / "config.toml")) == "HEAVY="


def test_check_validates_without_importing_pandas_or_matplotlib(project):
    assert heavy_modules("check", "--config", str(project / "config.toml")) == "HEAVY="


def cli(project: Path, *args: str):
    result = CliRunner().invoke(main, [*args, "--config", str(project / "config.toml")])
    return result.exit_code, result.stdout, result.stderr


def test_review_loop_from_the_command_line(project):
    code, out, err = cli(project, "draft", "baltimore_311_weekend")
    assert (code, out, err) == (0, "drafted draft 1 (pending review)\n", "")
    code, out, _ = cli(project, "draft", "baltimore_311_weekend")
    assert out == "unchanged: already drafted with these figures as draft 1 (pending review)\n"
    code, out, _ = cli(project, "queue", "--json")
    rows = json.loads(out)
    assert [(r["id"], r["recipe"], r["state"]) for r in rows] == [
        (1, "baltimore_311_weekend", "pending_review")]
    code, out, _ = cli(project, "show", "1")
    assert "-- post 1/4 · 110/280 weighted characters" in out
    assert "alt: Bar chart. Rat extermination visits led Baltimore's 311 requests" in out
    code, out, err = cli(project, "approve", "1", "--as", "dana")
    assert code == 0 and out.startswith("draft 1 approved by dana; it posts at its slot ")
    code, out, err = cli(project, "approve", "1", "--as", "dana")
    assert (code, err) == (1, "Error: draft 1 is approved: it cannot be approved (it can be "
                              "from: pending_review)\n")
    code, out, err = cli(project, "show", "99")
    assert (code, err) == (1, "Error: no draft 99 (see `citycrier queue` for the drafts there "
                              "are)\n")


def test_reject_needs_a_reason(project):
    cli(project, "draft", "housing_recovery_progress")
    code, _, err = cli(project, "reject", "1")
    assert code == 2 and "Missing option '--reason'" in err
    code, _, err = cli(project, "reject", "1", "--reason", "  ")
    assert (code, err) == (1, "Error: a rejection needs a reason (say what is wrong, for the "
                              "record)\n")
    code, out, _ = cli(project, "reject", "1", "--reason", "wrong month", "--as", "sam")
    assert (code, out) == (0, "draft 1 rejected by sam: wrong month\n")


def test_unknown_recipe_suggests_the_closest(project):
    code, _, err = cli(project, "preview", "baltimore_311_weekends")
    assert code == 1
    assert err == (f"Error: {project / 'posts'}: baltimore_311_weekends: no such recipe (did "
                   f"you mean 'baltimore_311_weekend'?)\n")


def test_preview_stores_nothing(project):
    code, out, _ = cli(project, "preview", "baton_rouge_crime_monthly", "--platform", "x")
    assert code == 0
    assert out.splitlines()[:4] == [
        "Baton Rouge crime: the month in incidents: in October (2026-10-01 to 2026-10-31)",
        "synthetic sample: not a city's records",
        "",
        "== X ==",
    ]
    assert not (project / "state" / "citycrier.db").exists()


def test_preview_of_a_platform_the_recipe_does_not_list_says_so(project):
    recipe = project / "posts" / "baton_rouge_crime_monthly.toml"
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        'platforms = ["bluesky", "x", "mastodon"]', 'platforms = ["mastodon"]'),
        encoding="utf-8")
    code, out, err = cli(project, "preview", "baton_rouge_crime_monthly", "--platform", "x")
    assert (code, out, err) == (1, "", (
        "Error: recipe 'baton_rouge_crime_monthly' does not post to X (its platforms: "
        "mastodon): preview it without --platform, or add \"x\" to its platforms\n"))


def test_demo_in_a_fresh_directory_with_the_readme_command(tmp_path):
    """`make demo`, as the README says, in a fresh copy of the project's tracked files."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    copy = tmp_path / "citycrier"
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    venv = Path(sys.executable).parent.parent  # the environment `make test` built
    # Use the environment as installed: the copy's pyproject.toml is made older than an
    # existing file given as make's stamp, so make cannot reinstall into this venv.
    os.utime(copy / "pyproject.toml", (0, 0))
    stamp = venv / "bin" / "python"
    out = subprocess.run(["make", "demo", f"VENV={venv}", f"STAMP={stamp}"], cwd=copy,
                         capture_output=True, text=True, timeout=300)
    assert "pip install" not in out.stdout
    assert out.returncode == 0, out.stderr
    index = copy / "outbox" / "index.html"
    assert f"Outbox: {index}" in out.stdout
    page = index.read_text()
    assert page.count("synthetic sample") == 3
    threads = sorted(p.name for p in (copy / "outbox").iterdir() if p.is_dir())
    assert threads == ["00001-baltimore_311_weekend-2026-10-31-weekend",
                       "00002-baton_rouge_crime_monthly-2026-10",
                       "00003-housing_recovery_progress-2026-10"]
    body = json.loads((copy / "outbox" / threads[1] / "thread.json").read_text())
    assert body["state"] == "published to the outbox"
    assert [len(body["thread"][p]) for p in ("x", "bluesky")] == [5, 5]
    assert (copy / "outbox" / threads[1] / "monthly.png").stat().st_size < 1_000_000


def test_queue_comes_in_pages_with_limit_and_offset(project):
    from datetime import UTC, datetime, timedelta

    from bot.config import load_config
    from bot.store import NewDraft, Post, Store

    slot = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    store = Store(load_config(project / "config.toml").storage_url)
    for i in range(5):
        store.create_draft(NewDraft(
            recipe="weekly", title="Weekly", period_key=f"p{i}", period_label=f"week {i}",
            as_of=slot, slot_at=slot + timedelta(hours=5 - i), approval="required",
            state="pending_review", platforms=("x",), data_hash=f"h{i}",
            thread={"x": (Post(f"post {i}"),)}))
    store.close()
    code, out, _ = cli(project, "queue", "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines[:2]] == ["5", "4"]  # nearest first
    assert lines[2:] == ["drafts 1-2 of 5; next page: citycrier queue --offset 2"]
    code, out, _ = cli(project, "queue", "--limit", "2", "--offset", "4")
    assert out.splitlines()[0].split()[:2] == ["1", "pending_review"]
    assert out.splitlines()[1:] == ["drafts 5-5 of 5"]
    code, out, _ = cli(project, "queue", "--json", "--limit", "3", "--offset", "1")
    assert [r["id"] for r in json.loads(out)] == [4, 3, 2]
    code, out, _ = cli(project, "queue", "--offset", "9")
    assert out == "no drafts past --offset 9: the queue holds 5\n"
    code, out, _ = cli(project, "queue")
    assert [line.split()[0] for line in out.splitlines()] == ["5", "4", "3", "2", "1"]
    code, _, err = cli(project, "queue", "--limit", "0")
    assert code == 2 and "--limit" in err


@pytest.mark.parametrize("command", ["check", "queue"])
def test_a_dotenv_that_is_not_utf8_is_named_with_its_line_and_column(project, command):
    """A Latin-1 secret in .env is one line, like a Latin-1 config, never "unexpected"."""
    (project / ".env").write_bytes(b"A=1\nCITYCRIER_SECRET_KEY=caf\xe9\n")
    result = CliRunner().invoke(main, [command, "--config", str(project / "config.toml")])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Error: {project / '.env'} is not UTF-8 at line 2, column 25: "
                             f"save it as UTF-8\n")
