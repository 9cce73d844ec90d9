"""`citycrier doctor` and the checks behind it (bot/health.py): the database and its schema,
the folders, each portal's host (a real HTTP server on loopback, and a port nobody listens
on), each account's login (the X fake, which checks every request against X's spec), each
schedule's next run; one line each, a summary, exit 1 when any fails; and nothing in the
store changes.
"""
# ruff: noqa: F811

from __future__ import annotations

import re
import socket
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot import schema
from bot.cli import main
from bot.health import check_database
from bot.store import Store
from tests.publish.conftest import (  # noqa: F401 (x_live: the fixture)
    X_ENVS,
    x_account_toml,
    x_live,
)
from tests.test_cli_ops import write_config

TZ = ZoneInfo("America/Chicago")
UNSET_ENV = "CITYCRIER_TEST_DOCTOR_UNSET_PASSWORD"


@pytest.fixture
def portal_host() -> Iterator[str]:
    """A loopback HTTP server standing in for a portal's host: it answers every GET 404."""
    class Host(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Host)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def project(root: Path, sample_dir: Path, extra: str = "", schedule: str = "0 9 * * *") -> Path:
    """test_cli_ops's project (a daily recipe on the sample), with `extra` config tables."""
    cfg = write_config(root, "sqlite:///state/citycrier.db", sample_dir, accounts=False,
                       recipe=True)
    cfg.write_text(cfg.read_text() + extra)
    recipe = root / "posts" / "daily.toml"
    recipe.write_text(recipe.read_text().replace('"0 9 * * *"', f'"{schedule}"'))
    return cfg


def next_nine(now: datetime) -> str:
    """When "0 9 * * *" next fires after `now`, worked out by hand."""
    local = now.astimezone(TZ)
    day = local.date() if local.hour < 9 else local.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, tzinfo=TZ).strftime("%a %Y-%m-%d %H:%M %Z")


def doctor(cfg: Path) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(main, ["doctor", "--config", str(cfg)])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_doctor_on_a_new_install_passes_and_creates_nothing(tmp_path: Path,
                                                            sample_dir: Path) -> None:
    cfg = project(tmp_path, sample_dir)
    code, lines, err = doctor(cfg)
    db = tmp_path / "state" / "citycrier.db"
    assert (code, err) == (0, "")
    assert lines == [
        f"ok   database sqlite:///{db}: not created yet: citycrier creates it on first use",
        f"ok   state folder {tmp_path / 'state'}: can be created (on first use)",
        f"ok   outbox folder {tmp_path / 'outbox'}: can be created (on first use)",
        f"ok   portal sample: folder {sample_dir} is there",
        f"ok   schedule daily (0 9 * * *): next run {next_nine(datetime.now(TZ))}",
        "5 checks: 5 ok, 0 warnings, 0 failed"]
    assert not (tmp_path / "state").exists() and not (tmp_path / "outbox").exists()


@pytest.mark.spec
def test_doctor_says_what_works_and_what_does_not_one_line_each(
        tmp_path: Path, sample_dir: Path, x_live: Any, portal_host: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from x_fake import CREDENTIALS

    for name, value in zip(X_ENVS, CREDENTIALS, strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(UNSET_ENV, raising=False)
    port = dead_port()
    cfg = project(tmp_path, sample_dir, textwrap.dedent(f"""\
        [portals.city]
        kind = "socrata"
        url = "http://{portal_host}"
        [portals.gone]
        kind = "ckan"
        url = "http://127.0.0.1:{port}"
        """) + x_account_toml("cityhall", x_live.base_url) + textwrap.dedent(f"""\
        [accounts.parks]
        platform = "bluesky"
        handle = "parks.example.gov"
        app_password_env = "{UNSET_ENV}"
        """))
    store = Store(f"sqlite:///{tmp_path / 'state' / 'citycrier.db'}")
    store.close()
    db = tmp_path / "state" / "citycrier.db"
    before = db.read_bytes()
    code, lines, err = doctor(cfg)
    assert code == 1
    assert re.fullmatch(rf"ok   portal city: {re.escape(portal_host)} answered \(HTTP 404\) in "
                        r"\d+ ms", lines[4]), lines[4]
    assert lines[:4] + lines[5:] == [
        f"ok   database sqlite:///{db}: reachable, schema version {schema.LATEST} (current)",
        f"ok   state folder {tmp_path / 'state'}: writable",
        f"ok   outbox folder {tmp_path / 'outbox'}: can be created (on first use)",
        f"ok   portal sample: folder {sample_dir} is there",
        f"fail portal gone: 127.0.0.1:{port} does not answer: [Errno 111] Connection refused "
        f"(check [portals.gone] url, and the network from here)",
        "ok   account cityhall (x): logged in as cityhall",
        f"fail account parks (bluesky): bluesky account 'parks': environment variable "
        f"{UNSET_ENV} is not set (set it in the environment or in .env)",
        f"ok   schedule daily (0 9 * * *): next run {next_nine(datetime.now(TZ))}"]
    assert err == "Error: 9 checks: 7 ok, 0 warnings, 2 failed\n"
    assert db.read_bytes() == before  # the store is as it was


def test_doctor_fails_on_a_recipe_problem_and_a_database_it_cannot_use(
        tmp_path: Path, sample_dir: Path) -> None:
    cfg = project(tmp_path, sample_dir, schedule="0 9 31 2 *")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "citycrier.db").write_bytes(b"not a database at all" * 50)
    code, lines, err = doctor(cfg)
    assert code == 1
    assert lines == [
        f"fail database sqlite:///{tmp_path / 'state' / 'citycrier.db'}: "
        f"{tmp_path / 'state' / 'citycrier.db'} is not a citycrier database: restore it from "
        f"a backup or point [storage] url elsewhere",
        f"ok   state folder {tmp_path / 'state'}: writable",
        f"ok   outbox folder {tmp_path / 'outbox'}: can be created (on first use)",
        f"ok   portal sample: folder {sample_dir} is there",
        "fail recipes: 1 problem in posts/ (run `citycrier check` to see them)"]
    assert err == "Error: 5 checks: 3 ok, 0 warnings, 2 failed\n"


def test_the_database_check_reads_the_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store(url, migrate=False)
    with old.engine.begin() as conn:
        schema.migrate(conn, schema.MIGRATIONS[:1])
    old.close()
    assert str(check_database(url)) == (
        f"warn database {url}: schema version 1: citycrier upgrades it to {schema.LATEST} "
        f"(keeping every row) when it next opens it")
    store = Store(url)  # upgrades it
    assert str(check_database(url, store)) == (
        f"ok   database {url}: reachable, schema version {schema.LATEST} (current)")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (version) VALUES (99)"))
    assert str(check_database(url, store)) == (
        f"fail database {url}: schema version 99 is newer than this citycrier knows "
        f"({schema.LATEST}): upgrade citycrier")
    store.close()
    (tmp_path / "empty.db").write_bytes(b"")
    assert str(check_database(f"sqlite:///{tmp_path / 'empty.db'}")) == (
        f"warn database sqlite:///{tmp_path / 'empty.db'}: reachable and empty: citycrier "
        f"creates its tables when it first opens it")
