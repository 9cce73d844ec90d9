"""What the command line says when the database or its folder fails (bot/database.py,
bot/folders.py): one line naming what failed, the likely cause and the fix, exit 1, never
"unexpected", and the store's rows exactly as they were.

Every case runs the real CLI in a subprocess: against a real PostgreSQL stopped after it
started (and a host nobody knows), and against real SQLite files in a folder the CLI may not
write. The tests run as root in CI, and root writes anywhere: the CLI then runs as `nobody`
(or, if `nobody` cannot read this checkout, as root without the capabilities that bypass
file permissions), so a read-only folder refuses it as it would refuse a service user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from bot import schema
from bot.store import NewDraft, Post, Store

CLI = "import sys\nfrom bot.cli import main\nmain(sys.argv[1:], prog_name='citycrier')\n"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------- helpers

def _unprivileged() -> list[str]:
    """A command prefix that runs a program without root's power to write anywhere."""
    if os.geteuid() != 0:
        return []
    nobody = pwd.getpwnam("nobody")
    as_nobody = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                 "--clear-groups", "--"]
    probe = subprocess.run([*as_nobody, sys.executable, "-c", "import bot.cli"], cwd="/",
                           capture_output=True, timeout=60)
    if probe.returncode == 0:
        return as_nobody
    # this checkout is not readable by nobody: stay root, without the override capabilities
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


UNPRIVILEGED = _unprivileged()


def citycrier(cfg: Path, *args: str, unprivileged: bool = False,
              prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    prefix = UNPRIVILEGED if unprivileged else (prefix or [])
    env = {**os.environ, "HOME": str(cfg.parent), "USER": "dana"}
    return subprocess.run([*prefix, sys.executable, "-c", CLI, *args, "--config", str(cfg)],
                          capture_output=True, text=True, timeout=120, cwd=cfg.parent, env=env)


def assert_one_line(out: subprocess.CompletedProcess[str], line: str) -> None:
    assert (out.returncode, out.stderr) == (1, f"Error: {line}\n"), out.stderr
    assert "unexpected" not in out.stderr + out.stdout


@pytest.fixture(scope="module")
def stamped_sample(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """The sample with ensure_sample's stamp, so a CLI that may not write finds it whole."""
    from bot.sample import ensure_sample

    folder = tmp_path_factory.mktemp("stamped") / "sample"
    shutil.copytree(sample_dir, folder)
    ensure_sample(folder)
    return folder


@pytest.fixture
def place(stamped_sample: Path) -> Iterator[Path]:
    """A project folder any user can read (pytest's tmp_path is root's alone), with a copy
    of the synthetic sample and one recipe that reads it."""
    base = Path(tempfile.mkdtemp(prefix="citycrier-db-"))
    shutil.copytree(stamped_sample, base / "sample")
    shutil.copytree(ROOT / "templates", base / "templates")
    (base / "posts").mkdir()
    shutil.copy(ROOT / "posts" / "baltimore_311_weekend.toml", base / "posts")
    for folder, _dirs, names in os.walk(base):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    yield base
    for folder, _dirs, _files in os.walk(base):
        os.chmod(folder, 0o755)
    shutil.rmtree(base, ignore_errors=True)


def write_config(base: Path, url: str, state_dir: str = "state") -> Path:
    cfg = base / "config.toml"
    cfg.write_text(textwrap.dedent(f"""\
        timezone = "America/Chicago"
        [storage]
        url = "{url}"
        state_dir = "{state_dir}"
        [portals.sample]
        kind = "file"
        path = "sample"
        label = "citycrier synthetic sample"
        synthetic = true
        [portals.open_baltimore]
        kind = "arcgis"
        url = "https://services1.arcgis.com/UWYHeuuJISiGmgXx/arcgis/rest/services"
        """))
    cfg.chmod(0o644)
    return cfg


def add_draft(url: str) -> None:
    store = Store(url)
    slot = datetime(2026, 11, 2, 14, tzinfo=UTC)
    store.create_draft(NewDraft(
        recipe="baltimore_311_weekend", title="T", period_key="2026-10-31-weekend",
        period_label="last weekend", as_of=slot, slot_at=slot, approval="required",
        state="pending_review", platforms=("bluesky",), data_hash="h1",
        thread={"bluesky": (Post("Baltimore's 311 line took 139 requests."),)}))
    store.close()


def rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, read without the store (which would migrate)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t))]
                    for t in schema.metadata.sorted_tables}
    finally:
        engine.dispose()


def files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file()}


# --------------------------------------------------------------------------- PostgreSQL

@pytest.fixture(scope="module")
def own_postgres() -> Iterator[object]:
    """A PostgreSQL of this module's own, since the tests stop it (not the session's)."""
    from tests.servers.postgres import PostgresUnavailable, run_postgres

    try:
        with run_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(f"the local PostgreSQL could not start: {exc}", pytrace=False)


@pytest.mark.postgres
def test_postgres_stopped_after_start_up_is_one_line_and_its_rows_unchanged(
        own_postgres, place: Path) -> None:
    pg = own_postgres
    url = pg.create_database("stopped").replace("postgres@", "postgres:hunter2@")
    add_draft(url)
    before = rows(url)
    cfg = write_config(place, url)
    pg.stop()
    try:
        for command in (["queue"], ["status"], ["tick"], ["approve", "1", "--as", "dana"]):
            out = citycrier(cfg, *command)
            assert_one_line(out, (
                f"cannot reach the database postgresql://postgres:***@127.0.0.1:{pg.port}/"
                f"stopped: connection refused: is PostgreSQL running? `pg_isready -h "
                f"127.0.0.1 -p {pg.port}` (or fix [storage] url in config.toml)"))
            assert "hunter2" not in out.stderr
        doctor = citycrier(cfg, "doctor")
        assert doctor.returncode == 1 and "unexpected" not in doctor.stderr
        assert doctor.stdout.splitlines()[0] == (
            f"fail database postgresql://postgres:***@127.0.0.1:{pg.port}/stopped: "
            f"connection refused: is PostgreSQL running? `pg_isready -h 127.0.0.1 -p "
            f"{pg.port}` (or fix [storage] url in config.toml)")
    finally:
        pg.start()
    assert rows(url) == before


@pytest.mark.postgres
def test_a_connection_lost_while_running_is_one_line(own_postgres) -> None:
    from bot.errors import DatabaseUnreachable

    pg = own_postgres
    store = Store(pg.create_database("lost"))
    assert store.count_by_state() == {}
    pg.stop()
    try:
        with pytest.raises(DatabaseUnreachable) as caught:
            store.count_by_state()
    finally:
        pg.start()
        store.close()
    assert str(caught.value) == (
        f"cannot reach the database postgresql://postgres@127.0.0.1:{pg.port}/lost: "
        f"connection refused: is PostgreSQL running? `pg_isready -h 127.0.0.1 -p {pg.port}` "
        f"(or fix [storage] url in config.toml)")


def test_an_unknown_postgres_host_is_one_line(place: Path) -> None:
    cfg = write_config(place, "postgresql://crier:hunter2@db.invalid/citycrier")
    for command in (["queue"], ["status"], ["tick"], ["approve", "1", "--as", "dana"]):
        assert_one_line(citycrier(cfg, *command), (
            "cannot reach the database postgresql://crier:***@db.invalid/citycrier: the host "
            "'db.invalid' is unknown: check the host name in [storage] url in config.toml"))


def test_a_postgres_port_nobody_listens_on_says_how_to_check(place: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(place, f"postgresql://crier@127.0.0.1:{port}/citycrier")
    assert_one_line(citycrier(cfg, "queue"), (
        f"cannot reach the database postgresql://crier@127.0.0.1:{port}/citycrier: connection "
        f"refused: is PostgreSQL running? `pg_isready -h 127.0.0.1 -p {port}` (or fix "
        f"[storage] url in config.toml)"))


# ------------------------------------------------------------------------------- SQLite

def test_a_read_only_database_folder_is_one_line_and_its_rows_unchanged(place: Path) -> None:
    cfg = write_config(place, "sqlite:///state/citycrier.db")
    url = f"sqlite:///{place / 'state' / 'citycrier.db'}"
    add_draft(url)
    before, saved = rows(url), files(place / "state")
    (place / "state").chmod(0o555)
    (place / "state" / "citycrier.db").chmod(0o444)
    state = place / "state"
    for command in (["queue"], ["approve", "1", "--as", "dana"]):
        assert_one_line(citycrier(cfg, *command, unprivileged=True), (
            f"citycrier needs write access to {state} to keep the database citycrier.db and "
            f"its journal there (it is not writable by this user): fix its owner or "
            f"permissions, or set [storage] state_dir (or url) elsewhere"))
    assert_one_line(citycrier(cfg, "draft", "baltimore_311_weekend", unprivileged=True), (
        f"citycrier needs write access to {state} to keep sessions and the HTTP cache there "
        f"(it is not writable by this user): fix its owner or permissions, or set [storage] "
        f"state_dir elsewhere"))
    (place / "state").chmod(0o755)
    assert files(place / "state") == saved and rows(url) == before


@contextmanager
def read_only(folder: Path) -> Iterator[tuple[list[str], str]]:
    """`folder` read-only: a read-only bind mount where this machine allows one (then even
    root cannot write it), else its mode 0555 and the CLI run without root's override.
    Yields the command prefix for the CLI and the cause the line must name."""
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if mounted and subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)],
                                  capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)], check=True)
        mounted = False
    try:
        if mounted:
            yield [], "it is on a read-only file system"
        else:
            folder.chmod(0o555)
            yield UNPRIVILEGED, "it is not writable by this user"
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_database_folder_on_a_read_only_mount_is_one_line(place: Path) -> None:
    cfg = write_config(place, "sqlite:///state/citycrier.db")
    url = f"sqlite:///{place / 'state' / 'citycrier.db'}"
    add_draft(url)
    before, saved = rows(url), files(place / "state")
    state = place / "state"
    with read_only(state) as (prefix, cause):
        for command in (["queue"], ["approve", "1", "--as", "dana"]):
            assert_one_line(citycrier(cfg, *command, prefix=prefix), (
                f"citycrier needs write access to {state} to keep the database citycrier.db "
                f"and its journal there ({cause}): fix its owner or permissions, or set "
                f"[storage] state_dir (or url) elsewhere"))
        assert_one_line(citycrier(cfg, "draft", "baltimore_311_weekend", prefix=prefix), (
            f"citycrier needs write access to {state} to keep sessions and the HTTP cache "
            f"there ({cause}): fix its owner or permissions, or set [storage] state_dir "
            f"elsewhere"))
    assert files(state) == saved and rows(url) == before


def test_a_database_file_citycrier_may_not_write_is_one_line(place: Path) -> None:
    cfg = write_config(place, "sqlite:///state/citycrier.db")
    db = place / "state" / "citycrier.db"
    add_draft(f"sqlite:///{db}")
    before = rows(f"sqlite:///{db}")
    (place / "state").chmod(0o777)  # the folder is writable; the file is not
    db.chmod(0o444)
    assert_one_line(citycrier(cfg, "approve", "1", "--as", "dana", unprivileged=True), (
        f"citycrier needs to read and write {db}, the database (fix its owner or "
        f"permissions)"))
    (place / "state").chmod(0o755)
    assert rows(f"sqlite:///{db}") == before


def test_a_read_only_outbox_folder_keeps_the_thread_to_publish_later(place: Path) -> None:
    cfg = write_config(place, "sqlite:///state/citycrier.db")
    for folder in ("state", "outbox"):
        (place / folder).mkdir(mode=0o777)
        (place / folder).chmod(0o777)
    assert citycrier(cfg, "draft", "baltimore_311_weekend", unprivileged=True).returncode == 0
    approve = citycrier(cfg, "approve", "1", "--as", "dana", unprivileged=True)
    assert approve.returncode == 0, approve.stderr
    store = Store(f"sqlite:///{place / 'state' / 'citycrier.db'}")
    store.transition(1, "reschedule", "dana", "now", slot_at=datetime.now(UTC))
    store.close()
    (place / "outbox").chmod(0o555)
    out = citycrier(cfg, "publish", unprivileged=True)
    assert out.returncode == 1 and "unexpected" not in out.stderr
    problem = (f"citycrier needs write access to {place / 'outbox'} to keep the outbox there "
               f"(it is not writable by this user): fix its owner or permissions, or set "
               f"[storage] outbox_dir elsewhere")
    assert out.stdout == f"draft 1 (baltimore_311_weekend): partially published: {problem}\n"
    store = Store(f"sqlite:///{place / 'state' / 'citycrier.db'}")
    assert (store.get_draft(1).state, store.get_draft(1).error) == ("partially_published",
                                                                     problem)
    store.close()


def test_a_storage_folder_that_cannot_be_created_is_one_line(place: Path) -> None:
    cfg = write_config(place, "sqlite:////proc/citycrier/citycrier.db")
    for command in (["draft", "baltimore_311_weekend"], ["queue"],
                    ["approve", "1", "--as", "dana"]):
        assert_one_line(citycrier(cfg, *command), (
            "cannot create /proc/citycrier (No such file or directory): /proc does not take "
            "new folders (set [storage] state_dir (or url) to a folder citycrier can write)"))


def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_was(place: Path) -> None:
    cfg = write_config(place, "sqlite:///state/citycrier.db")
    (place / "state").mkdir()
    (place / "state" / "citycrier.db").write_bytes(b"PK\x03\x04 a zip archive, not SQLite "
                                                   * 100)
    saved = files(place / "state")
    for command in (["draft", "baltimore_311_weekend"], ["queue"], ["status"],
                    ["approve", "1", "--as", "dana"]):
        assert_one_line(citycrier(cfg, *command), (
            f"{place / 'state' / 'citycrier.db'} is not a citycrier database: restore it from "
            f"a backup or point [storage] url elsewhere"))
    assert files(place / "state") == saved  # no journal, no WAL, not one byte changed


def test_another_programs_database_is_refused_and_left_as_it_was(place: Path) -> None:
    import sqlite3

    other = place / "photos.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        conn.execute("INSERT INTO photos (path) VALUES ('harbor.jpg')")
    conn.close()
    cfg = write_config(place, "sqlite:///photos.db")
    saved = {k: v for k, v in files(place).items() if k != "config.toml"}
    assert_one_line(citycrier(cfg, "queue"), (
        f"{other} is not a citycrier database (it holds other tables: photos): restore it from "
        f"a backup or point [storage] url elsewhere"))
    assert {k: v for k, v in files(place).items() if k != "config.toml"} == saved


def test_a_state_dir_that_is_a_file_stops_draft_before_the_store_changes(place: Path) -> None:
    (place / "db").mkdir()
    cfg = write_config(place, "sqlite:///db/citycrier.db", state_dir="notes.txt")
    (place / "notes.txt").write_text("not a folder\n")
    url = f"sqlite:///{place / 'db' / 'citycrier.db'}"
    add_draft(url)
    before = rows(url)
    assert_one_line(citycrier(cfg, "draft", "baltimore_311_weekend"), (
        f"{place / 'notes.txt'} is a file, not a folder: citycrier keeps sessions and the HTTP "
        f"cache there (move the file away, or set [storage] state_dir to a folder)"))
    assert rows(url) == before


@pytest.mark.postgres
def test_healthz_uses_the_doctors_database_check(own_postgres, place: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():  # starlette 1.x asks for httpx2 and warns about httpx
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    from bot.config import load_config
    from bot.web import create_app

    pg = own_postgres
    url = pg.create_database("desk")
    store = Store(url)
    app = create_app(load_config(write_config(place, url)), store=store,
                     secret="a-long-secret-for-the-desk-0123456789", sweep_seconds=0)
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    pg.stop()
    try:
        down = client.get("/healthz")
    finally:
        pg.start()
    assert (down.status_code, down.json()) == (503, {"status": "error",
                                                     "database": "unreachable"})
    assert [r.getMessage() for r in caplog.records if r.name == "bot.web.queries"] == [
        f"healthz: fail database {url}: connection refused: is PostgreSQL running? "
        f"`pg_isready -h 127.0.0.1 -p {pg.port}` (or fix [storage] url in config.toml)"]
    assert client.get("/healthz").status_code == 200  # back once the server is
    store.close()
