"""The database's operational failures, translated once, where the store meets the database.

Every engine `Store` makes carries `explain_errors`: a server that does not answer, a host
nobody knows, a lost connection, an SQLite file or folder citycrier cannot write, a file that
is not a database, a full disk or a lock held too long each become one `BotError` line (what
failed, without the password; the likely cause; the fix). Other errors (a constraint, a
serialization failure) pass through unchanged to the code that handles them.

Before an SQLite file is opened for writing, `refuse_foreign_file` reads it read-only: a file
that is not an SQLite database, is damaged, or holds another program's tables is refused as it
is, never converted, migrated or "repaired".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from bot.errors import BotError, DatabaseUnreachable, FolderError, NotADatabase, StoreError
from bot.folders import needs_write_access

CONNECT_TIMEOUT = 10  # seconds PostgreSQL has to answer a new connection
SETTING = "[storage] url"
FOLDER_SETTING = "[storage] state_dir (or url)"  # the default database is in state_dir


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show only its scheme
        return url.split(":", 1)[0] + "://..."


def sqlite_path(url: str) -> str:
    """The file of an sqlite:/// URL ("" for an in-memory database)."""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    return "" if path in ("", ":memory:") else os.path.abspath(path)


def postgres_connect_args(url: str) -> dict[str, Any]:
    """psycopg waits for an unanswering host as long as TCP does (minutes): bound it."""
    query = make_url(url).query
    return {} if "connect_timeout" in query else {"connect_timeout": CONNECT_TIMEOUT}


def explain_errors(engine: Engine, url: str) -> None:
    """Translate the engine's operational failures into one-line BotErrors (see module)."""

    def handle_error(context: Any) -> None:
        if context.is_pre_ping:  # the pool is testing a connection: it reconnects itself
            return
        error = translate_error(context.original_exception, url,
                                connecting=context.connection is None,
                                disconnected=context.is_disconnect)
        if error is not None:
            raise error

    event.listen(engine, "handle_error", handle_error)


def translate_error(exc: BaseException, url: str, *, connecting: bool = False,
                    disconnected: bool = False) -> BotError | None:
    """The BotError for a DBAPI exception, or None to let it pass unchanged."""
    if isinstance(exc, sqlite3.DatabaseError):
        return _sqlite_error(str(exc), sqlite_path(url))
    if type(exc).__module__.startswith("psycopg") and (connecting or disconnected):
        return _postgres_error(str(exc), url, lost=disconnected and not connecting)
    return None


def _postgres_error(message: str, url: str, *, lost: bool) -> BotError:
    u = make_url(url)
    host, port = u.host or "localhost", u.port or 5432
    shown = shown_url(url)
    ready = f"is PostgreSQL running? `pg_isready -h {host} -p {port}`"
    text = " ".join(message.split())
    low = text.lower()
    if "connection refused" in low:
        what = "connection refused"
    elif "failed to resolve host" in low or "could not translate host name" in low or \
            "name or service not known" in low:
        return DatabaseUnreachable(shown, f"the host {host!r} is unknown",
                                   f"check the host name in {SETTING} in config.toml")
    elif "timeout expired" in low or "timed out" in low:
        what = f"no answer within {CONNECT_TIMEOUT} s"
    elif "password authentication failed" in low or "no password supplied" in low:
        return DatabaseUnreachable(shown, f"the server refused user {u.username!r}",
                                   f"check the user and password in {SETTING} (or ~/.pgpass)")
    elif "does not exist" in low and "database" in low:
        return DatabaseUnreachable(shown, f"the database {u.database!r} does not exist",
                                   f"create it: `createdb -h {host} -p {port} "
                                   f"-U {u.username or 'postgres'} {u.database}`")
    else:
        what = _first_line(message)
    if lost:
        what = f"the connection was lost ({what})"
    return DatabaseUnreachable(shown, what, ready + f" (or fix {SETTING} in config.toml)")


def _sqlite_error(message: str, path: str) -> BotError | None:
    low = message.lower()
    where = path or "the in-memory database"
    folder = Path(path).parent if path else None
    if "file is not a database" in low:
        return NotADatabase(where)
    if "malformed" in low:
        return NotADatabase(where, "it is damaged: database disk image is malformed")
    if "unable to open database file" in low or "readonly database" in low:
        return _sqlite_access(path, message)
    if "database or disk is full" in low:
        return StoreError(f"cannot write the database {where}: the disk is full (free space "
                          f"on the disk that holds {folder})")
    if "disk i/o error" in low:
        return StoreError(f"cannot read or write the database {where}: disk I/O error (check "
                          f"the disk; a network share must support file locks)")
    if "database is locked" in low:
        return StoreError(f"the database {where} stayed locked by another process for 30 s: "
                          f"try again (if it lasts, look for a stuck citycrier process)")
    return None


def _sqlite_access(path: str, message: str) -> BotError:
    """'unable to open' / 'readonly': say which folder or file citycrier cannot write."""
    file = Path(path)
    folder = file.parent
    if not folder.is_dir():
        return FolderError(str(folder), f"cannot open the database {file}: its folder "
                                        f"{folder} does not exist (create it, or fix {SETTING})")
    if not os.access(folder, os.W_OK | os.X_OK):
        keeps = database_keeps(str(file))
        return FolderError(str(folder), needs_write_access(folder, keeps, FOLDER_SETTING))
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        return FolderError(str(file), f"citycrier needs to read and write {file}, the "
                                      f"database (fix its owner or permissions)")
    return StoreError(f"cannot open the database {file}: {_first_line(message)} (check that "
                      f"citycrier can read and write it and its folder {folder})")


def database_keeps(path: str) -> str:
    """What a database's folder keeps, for folder messages."""
    return f"the database {Path(path).name} and its journal"


def refuse_foreign_file(path: str) -> None:
    """NotADatabase unless the SQLite file at `path` is missing, empty, or citycrier's.

    Reads it read-only, so a wrong or damaged file is left exactly as it was."""
    if not path or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    try:
        conn = sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return  # cannot even open it read-only: the engine's first query says why
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    except sqlite3.DatabaseError as exc:
        error = _sqlite_error(str(exc), path)
        if isinstance(error, NotADatabase):
            raise error from None
        return
    finally:
        conn.close()
    others = [t for t in tables if not t.startswith("sqlite_")]
    if others and "schema_version" not in others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise NotADatabase(path, f"it holds other tables: {shown}")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"
