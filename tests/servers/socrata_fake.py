"""A small Socrata for tests: SQLite under a loopback HTTP server, with Socrata's habits.

No runnable Socrata exists outside Socrata, so this answers the SoQL subset citycrier sends
(`$select` with `count/sum/avg/min/max/date_trunc_ymd|ym|y` and `AS`, `$where` with
comparisons, `in`, `not in`, `is [not] null`, `and/or/not`, `$group`, `$order` including `:id`,
`$limit`, `$offset`; SODA 3 `POST /api/v3/views/ID/query.json`; `/api/views/ID.json`) the way
the real one answers (see tests/sources/test_socrata.py, which checks it against recordings):

- every value is a string (numbers too), points are GeoJSON objects, null fields are left out;
- rows are `[{...}\\n,{...}]\\n`, keys in column order; `X-SODA2-Fields`, `X-SODA2-Types`,
  `Last-Modified`, `ETag` and `X-SODA2-Truth-Last-Modified` headers; `If-None-Match` -> 304;
- the real error bodies: 404 `dataset.missing`, 400 `query.soql.no-such-column` (errorCode
  shape) and `query.compiler.malformed` (code shape), SODA 3's 403 without a token;
- a strict parser where real SoQL is strict: `in ()` is malformed, and so is a keyword used
  bare as a column name (`order = 'x'`: such a column is written in backticks); a bare word
  that is not a column (`= nan`, `= inf`) is "no such column"; a checkbox compared with a quoted or
  numeric literal (`flag = 'true'`) is `query.soql.type-mismatch`, as is `date_trunc_ym` of a
  fixed timestamp without a zone (SoQL's one-argument `date_trunc_*` take floating
  timestamps only); `to_floating_timestamp(fixed, 'Zone')` and `date_trunc_ym(fixed, 'Zone')`
  convert to the zone's local time (soql-reference's ToFloatingTimestamp and
  FixedTimeStampTrunc*AtTimeZone); fixed timestamps compare as instants;
- when told to: 429 for requests without `X-App-Token`, 202 for the next N requests, an
  nginx HTML error page for the next N requests, 429 with `Retry-After` for the next N
  requests (`throttled`, `retry_after`), or a cut-off JSON body for the next N.

Run alone (the benchmark does, to keep the server out of its memory figures):
`python tests/servers/socrata_fake.py DB.sqlite` prints `{"port": N}` once listening.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

NUMBER_TYPES = {"number", "money", "double", "percent"}
OBJECT_TYPES = {"point", "location", "multipoint", "line", "polygon", "multipolygon"}
VIEW_TYPES = {"floating_timestamp": "calendar_date", "fixed_timestamp": "date"}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "as", "asc", "desc", "between", "like",
             "true", "false", "distinct"}
# every SoQL keyword (soql-reference's Tokens.scala); bare, one cannot name a column
_RESERVED = _KEYWORDS | {"select", "except", "where", "group", "having", "order", "limit",
                         "offset", "search", "from", "join", "on", "inner", "outer", "left",
                         "right", "full", "lateral"}
_AGGREGATES = {"count", "sum", "avg", "min", "max"}
_TRUNC = {"date_trunc_ymd": (10, "T00:00:00.000"), "date_trunc_ym": (7, "-01T00:00:00.000"),
          "date_trunc_y": (4, "-01-01T00:00:00.000")}
_COMPARE = {"=", "!=", "<>", "<", ">", "<=", ">="}
FIXED = "fixed_timestamp"
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<tick>`[^`]+`)|(?P<num>\d+(?:\.\d+)?)"
                    r"|(?P<sys>:[a-z_@]+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>>=|<=|!=|<>|=|<|>)|(?P<punct>[(),*]))")
_CLAUSES = re.compile(r"\b(SELECT|WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|OFFSET)\b",
                      re.IGNORECASE)
NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>"
             b"502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
             b"</html>\r\n")
MMAP_BYTES = 1 << 30  # a data query maps up to this much of the database file
LOGIN_403 = b'{"message": "You must be logged in to access this resource", "error": true}'


class SoqlError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status, self.body = status, body


def no_such_column(column: str, dataset: str, position: int) -> SoqlError:
    return SoqlError(400, {
        "message": f"Query coordinator error: query.soql.no-such-column; No such column: "
                   f"{column}",
        "errorCode": "query.soql.no-such-column",
        "data": {"column": column, "dataset": f"alpha.{abs(hash(dataset)) % 100000}",
                 "position": {"row": 1, "column": position}}})


def type_mismatch(name: str, kind: str, position: int) -> SoqlError:
    """What SoQL says when a function or operator gets a type it does not take."""
    return SoqlError(400, {
        "message": f"Query coordinator error: query.soql.type-mismatch; Type mismatch for "
                   f"{name}, is {kind}",
        "errorCode": "query.soql.type-mismatch",
        "data": {"name": name, "type": kind, "position": {"row": 1, "column": position}}})


def to_floating(value: Any, zone: str) -> str | None:
    """A fixed timestamp as a floating one in `zone` (SoQL's to_floating_timestamp)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S.000")


def instant(value: Any) -> str | None:
    """A fixed timestamp, stored or literal, as sortable UTC text with milliseconds."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def malformed(query: str, position: int, why: str = "") -> SoqlError:
    return SoqlError(400, {
        "code": "query.compiler.malformed", "error": True,
        "message": f"Could not parse SoQL query \"{query}\" at line 1 character {position}"
                   + (f": {why}" if why else ""),
        "data": {"query": query, "position": {"line": 1, "column": position}}})


def missing_dataset_body(dataset: str) -> bytes:
    """Socrata's 404, byte for byte as recorded (pretty-printed with " : ")."""
    return (f'{{\n  "code" : "dataset.missing",\n  "error" : true,\n  "message" : "Not found",'
            f'\n  "data" : {{\n    "id" : "{dataset}"\n  }}\n}}\n').encode()


@dataclass
class Dataset:
    id: str
    name: str
    columns: list[tuple[str, str]]  # (fieldName, SODA2 type)
    updated: float  # epoch seconds
    labels: dict[str, str] = field(default_factory=dict)  # fieldName -> display name

    @property
    def table(self) -> str:
        return '"t_' + self.id.replace('"', "") + '"'

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0


class SoqlTranslator:
    """SoQL clauses -> SQLite, checking every column against the dataset."""

    def __init__(self, dataset: Dataset, query_text: str,
                 unqueryable: Iterable[str] = ()) -> None:
        self.ds, self.text = dataset, query_text
        self.names = [c for c, _ in dataset.columns if c not in set(unqueryable)]
        self.aliases: dict[str, str] = {}  # alias -> SODA2 type
        self.grouping = False  # translating $group: a date_trunc_* groups by its prefix

    def tokens(self, clause: str) -> list[tuple[str, str, int]]:
        out, pos = [], 0
        clause = clause.rstrip()
        while pos < len(clause):
            m = _TOKEN.match(clause, pos)
            if not m or m.end() == pos:
                raise malformed(self.text, pos + 1, f"unexpected {clause[pos:pos + 1]!r}")
            kind = m.lastgroup or ""
            out.append((kind, m.group(kind), m.start(kind) + 1))
            pos = m.end()
        return out

    def expression(self, clause: str, allow_alias: bool = False) -> tuple[str, str]:
        """(SQL, SODA2 type of the expression when it is a single column or function)."""
        toks = self.tokens(clause)
        self.check_types(toks)
        sql, kind, i = [], "text", 0
        depth = 0
        while i < len(toks):
            t, v, p = toks[i]
            nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
            if t == "word" and nxt == "(" and v.lower() not in _KEYWORDS:
                name = v.lower()
                close = self._closing(toks, i + 1)
                args = self._arguments(toks[i + 2:close])
                if name in _TRUNC or name == "to_floating_timestamp":
                    sql.append(self._timestamp_call(name, args, p))
                    kind, i = "floating_timestamp", close + 1
                    continue
                if name not in _AGGREGATES:
                    raise SoqlError(400, {"message": f"Query coordinator error: "
                                          f"query.soql.no-such-function; No such function: {v}",
                                          "errorCode": "query.soql.no-such-function",
                                          "data": {"name": v, "position": {"row": 1,
                                                                           "column": p}}})
                inner_toks = toks[i + 2:close]
                if [x[1] for x in inner_toks] == ["*"]:
                    inner, inner_kind = "*", "number"
                else:
                    inner, inner_kind = self.expression_of(inner_toks)
                sql.append(f"{name.upper()}({inner})")
                kind = inner_kind if name in ("min", "max") else "number"
                i = close + 1
                continue
            if t == "word" and v.lower() in _RESERVED - _KEYWORDS:
                raise malformed(self.text, p, f"Expected an expression, but got `{v}'")
            if t == "word" and v.lower() in _KEYWORDS:
                sql.append(v.upper())
            elif t in ("word", "tick"):
                column = v.strip("`")
                if column in self.names:
                    kind = self.ds.type_of(column)
                    compared = nxt in _COMPARE
                    sql.append(f'instant("{column}")' if kind == FIXED and compared
                               else '"' + column + '"')
                elif allow_alias and column in self.aliases:
                    sql.append('"' + column + '"')
                    kind = self.aliases[column]
                else:
                    raise no_such_column(column, self.ds.id, p)
            elif t == "sys":
                if v != ":id":
                    raise no_such_column(v, self.ds.id, p)
                sql.append("rowid")
                kind = "number"
            elif t == "op":
                sql.append("<>" if v == "!=" else v)
            elif t == "str" and kind == FIXED and i and toks[i - 1][1] in _COMPARE:
                sql.append(f"instant({v})")
            else:
                depth += {"(": 1, ")": -1}.get(v, 0)
                if depth < 0:
                    raise malformed(self.text, p, "unbalanced parenthesis")
                sql.append(v)
            i += 1
        if depth:
            raise malformed(self.text, len(clause), "unbalanced parenthesis")
        return " ".join(sql), kind

    def check_types(self, toks: list[tuple[str, str, int]]) -> None:
        """What a strict SoQL analyser refuses before running anything."""
        for n, (t, v, _) in enumerate(toks):
            if v.lower() == "in" and n + 2 < len(toks) and toks[n + 1][1] == "(" and \
                    toks[n + 2][1] == ")":
                raise malformed(self.text, toks[n + 2][2], "Expected an expression, but got "
                                "`)'")
            if t not in ("word", "tick") or v.strip("`") not in self.names:
                continue
            if self.ds.type_of(v.strip("`")) != "checkbox" or n + 1 >= len(toks):
                continue
            op = toks[n + 1][1].lower()
            if op in _COMPARE:
                others = [toks[n + 2]] if n + 2 < len(toks) else []
            elif op in ("in", "not") and n + 2 < len(toks):
                start = n + 2 if op == "in" else n + 3
                close = self._closing(toks, start) if start < len(toks) else start
                others = [x for x in toks[start + 1:close] if x[1] != ","]
            else:
                continue
            for kind, _, at in others:
                if kind in ("str", "num"):
                    raise type_mismatch(f"op${toks[n + 1][1]}",
                                        "text" if kind == "str" else "number", at)

    def _arguments(self, toks: list[tuple[str, str, int]]) -> list[list[tuple[str, str, int]]]:
        args: list[list[tuple[str, str, int]]] = [[]]
        depth = 0
        for tok in toks:
            depth += {"(": 1, ")": -1}.get(tok[1], 0)
            if tok[1] == "," and depth == 0:
                args.append([])
            else:
                args[-1].append(tok)
        return [a for a in args if a]

    def _timestamp_call(self, name: str, args: list[list[tuple[str, str, int]]],
                        position: int) -> str:
        """date_trunc_* and to_floating_timestamp, with SoQL's signatures."""
        if not args:
            raise malformed(self.text, position, f"{name} needs an argument")
        inner, inner_kind = self.expression_of(args[0])
        zone = None
        if len(args) == 2:
            if inner_kind != FIXED:
                raise type_mismatch(name, inner_kind, position)
            if len(args[1]) != 1 or args[1][0][0] != "str":
                raise type_mismatch(name, "number", args[1][0][2])
            zone = args[1][0][1]
            try:
                ZoneInfo(zone.strip("'"))
            except (ValueError, KeyError) as exc:  # the real answer is not recorded: a 400
                raise malformed(self.text, args[1][0][2], f"unknown time zone {zone}") from exc
            inner = f"to_floating({inner}, {zone})"
        elif name == "to_floating_timestamp" or inner_kind == FIXED or len(args) > 2:
            raise type_mismatch(name, inner_kind, position)  # one-argument trunc: floating only
        if name == "to_floating_timestamp":
            return inner
        n, suffix = _TRUNC[name]
        if self.grouping:  # the same groups, without building 500,000 strings to sort
            return f"substr({inner}, 1, {n})"
        return f"(substr({inner}, 1, {n}) || '{suffix}')"

    def expression_of(self, toks: list[tuple[str, str, int]]) -> tuple[str, str]:
        return self.expression(" ".join(v for _, v, _ in toks))

    def _closing(self, toks: list[tuple[str, str, int]], open_at: int) -> int:
        depth = 0
        for j in range(open_at, len(toks)):
            depth += {"(": 1, ")": -1}.get(toks[j][1], 0)
            if depth == 0:
                return j
        raise malformed(self.text, toks[open_at][2], "unbalanced parenthesis")

    def select(self, clause: str) -> list[tuple[str, str, str]]:
        """(SQL, output name, SODA2 type) per selected item."""
        if clause.strip() in ("", "*"):
            return [('"' + c + '"', c, t) for c, t in self.ds.columns]
        items = []
        for part in _split_top(clause):
            m = re.match(r"^(.*?)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", part, re.I | re.S)
            expr, alias = (m.group(1), m.group(2)) if m else (part, "")
            sql, kind = self.expression(expr)
            name = alias or expr.strip().strip("`").split("(")[0].lower()
            items.append((sql, name, kind))
            if alias:
                self.aliases[alias] = kind
        return items


def _split_top(clause: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for ch in clause:
        if ch == "'":
            quoted = not quoted
        if not quoted:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(current)
                current = ""
                continue
        current += ch
    if current.strip():
        parts.append(current)
    return parts


def split_statement(query: str) -> dict[str, str]:
    """A SODA 3 statement `SELECT .. WHERE .. GROUP BY .. ORDER BY ..` into SODA 2 params."""
    pieces: dict[str, str] = {}
    outside = re.sub(r"'(?:[^']|'')*'", lambda m: "\0" * len(m.group()), query)
    marks = [(m.start(), m.end(), m.group(1).upper()) for m in _CLAUSES.finditer(outside)]
    for n, (_, end, name) in enumerate(marks):
        stop = marks[n + 1][0] if n + 1 < len(marks) else len(query)
        key = {"SELECT": "$select", "WHERE": "$where", "GROUP BY": "$group",
               "HAVING": "$having", "ORDER BY": "$order", "LIMIT": "$limit",
               "OFFSET": "$offset"}[name]
        pieces[key] = query[end:stop].strip()
    if "$select" not in pieces:
        raise malformed(query, 1, "expected SELECT")
    return pieces


def format_value(value: Any, kind: str) -> Any:
    """A stored value as Socrata writes it: text, a number as text, a point as an object."""
    if kind in OBJECT_TYPES and isinstance(value, str):
        return json.loads(value)
    if kind == "checkbox":
        return bool(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _add_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the translated SoQL calls (see SoQL's timestamps above)."""
    conn.create_function("to_floating", 2, to_floating, deterministic=True)
    conn.create_function("instant", 1, instant, deterministic=True)


class SocrataFake:
    """The fake portal. `with SocrataFake() as fake: fake.add_dataset(...); fake.url`."""

    def __init__(self, db: str | Path = ":memory:") -> None:
        self.conn = sqlite3.connect(str(db), check_same_thread=False)
        self.path = str(db)
        _add_functions(self.conn)
        self.conn.execute("CREATE TABLE IF NOT EXISTS _datasets (id TEXT PRIMARY KEY, "
                          "name TEXT, columns TEXT, updated REAL, labels TEXT)")
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.throttle_anonymous = False  # 429 for requests without X-App-Token
        self.tokens: set[str] | None = None  # accepted tokens; None accepts any
        self.pending = 0  # answer the next N data requests with 202
        self.html_errors = 0  # answer the next N requests with nginx's 502 page
        self.throttled = 0  # answer the next N requests with 429 and `retry_after`
        self.retry_after = "30"  # seconds, or an HTTP date
        self.broken_json = 0  # cut the next N data bodies short (invalid JSON, HTTP 200)
        self.no_timestamps = False  # no rowsUpdatedAt, no Last-Modified (some views have none)
        self.unqueryable: set[str] = set()  # listed in the view, unknown to the query engine
        self.views_forbidden = False  # /api/views answers 403: clients read X-SODA2-* instead
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- data -----------------------------------------------------------------------------
    def add_dataset(self, dataset_id: str, columns: list[tuple[str, str]],
                    rows: Iterable[dict[str, Any] | tuple[Any, ...]], *, name: str = "",
                    updated: float | None = None, indexes: Iterable[str] = (),
                    labels: dict[str, str] | None = None) -> None:
        """Load rows (dicts of Socrata-shaped values, or tuples in column order); `labels`
        are the columns' display names (the view's `name`), the field name by default."""
        ds = Dataset(dataset_id, name or dataset_id, list(columns), updated or time.time(),
                     dict(labels or {}))
        names = [c for c, _ in columns]
        decl = ", ".join(f'"{c}" {"NUMERIC" if t in NUMBER_TYPES | {"checkbox"} else "TEXT"}'
                         for c, t in columns)
        with self.lock, self.conn:
            self.conn.execute(f"DROP TABLE IF EXISTS {ds.table}")
            self.conn.execute(f"CREATE TABLE {ds.table} ({decl})")
            marks = ", ".join("?" for _ in names)
            self.conn.executemany(f"INSERT INTO {ds.table} VALUES ({marks})",
                                  (self._stored(r, names) for r in rows))
            for column in indexes:
                self.conn.execute(f'CREATE INDEX "i_{dataset_id}_{column}" ON {ds.table} '
                                  f'("{column}")')
            self.conn.execute("INSERT OR REPLACE INTO _datasets VALUES (?, ?, ?, ?, ?)",
                              (ds.id, ds.name, json.dumps(ds.columns), ds.updated,
                               json.dumps(ds.labels)))

    @staticmethod
    def _stored(row: dict[str, Any] | tuple[Any, ...], names: list[str]) -> tuple[Any, ...]:
        values = tuple(row.get(n) for n in names) if isinstance(row, dict) else tuple(row)
        return tuple(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list))
                     else v for v in values)

    def touch(self, dataset_id: str, updated: float | None = None) -> None:
        """Mark a dataset as changed (new Last-Modified and ETags)."""
        with self.lock, self.conn:
            self.conn.execute("UPDATE _datasets SET updated = ? WHERE id = ?",
                              (updated or time.time(), dataset_id))

    def dataset(self, dataset_id: str) -> Dataset | None:
        with self.lock:
            row = self.conn.execute("SELECT id, name, columns, updated, labels FROM _datasets "
                                    "WHERE id = ?", (dataset_id,)).fetchone()
        if row is None:
            return None
        return Dataset(row[0], row[1], [tuple(c) for c in json.loads(row[2])], row[3],
                       json.loads(row[4] or "{}"))

    # -- serving --------------------------------------------------------------------------
    def start(self) -> SocrataFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                fake.handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake.handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SocrataFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.conn.close()

    def _select(self, sql: str) -> list[Any]:
        """Rows of a data query. On a database file each request reads on a connection of
        its own, so requests are answered side by side as a real portal answers them; an
        in-memory database has its one connection, shared under the lock."""
        if self.path == ":memory:":
            with self.lock:
                return self.conn.execute(sql).fetchall()
        conn = sqlite3.connect(self.path)
        _add_functions(conn)
        # read the file through memory shared by every request (the OS's page cache), as a
        # portal's database server reads from its buffers, not page by page with read()
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)) if method == "POST" \
            else b""
        seen = Seen(method, parts.path, params, {k.lower(): v for k, v in h.headers.items()})
        with self.lock:
            self.requests.append(seen)
        status, headers, payload = self.answer(method, parts.path, params, body, seen.headers)
        seen.status = status
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(payload)

    def answer(self, method: str, path: str, params: dict[str, str], body: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json; charset=utf-8", "Server": "nginx"}
        with self.lock:
            if self.html_errors:
                self.html_errors -= 1
                return 502, {"Content-Type": "text/html", "Server": "nginx"}, NGINX_502
            if self.throttled:
                self.throttled -= 1
                return 429, json_type | {"Retry-After": self.retry_after}, json.dumps({
                    "code": "too_many_requests", "error": True,
                    "message": "Too many requests"}).encode()
            if self.throttle_anonymous and not headers.get("x-app-token"):
                return 429, json_type, json.dumps({
                    "code": "too_many_requests", "error": True,
                    "message": "Too many requests: supply an app token"}).encode()
            if self.pending:
                self.pending -= 1
                return 202, json_type, b'{"status":"processing"}\n'
        m = re.fullmatch(r"/resource/([\w-]+)\.json", path)
        v3 = re.fullmatch(r"/api/v3/views/([\w-]+)/query\.json", path)
        view = re.fullmatch(r"/api/views/([\w-]+)\.json", path)
        dataset_id = (m or v3 or view).group(1) if (m or v3 or view) else ""
        ds = self.dataset(dataset_id) if dataset_id else None
        if ds is None:
            return 404, json_type, missing_dataset_body(dataset_id or path.strip("/"))
        stamp = formatdate(ds.updated, usegmt=True)
        if view and self.views_forbidden:
            return 403, json_type, json.dumps({
                "code": "permission_denied", "error": True,
                "message": "You do not have permission to view this dataset's metadata"}).encode()
        if view:
            tag = '"' + hashlib.sha1(f"{ds.updated}|view|{ds.id}".encode()).hexdigest() + '"'
            cached = {"ETag": tag, "Last-Modified": stamp, "Server": "nginx"}
            if headers.get("if-none-match") == tag:
                return 304, cached, b""
            return 200, json_type | cached, json.dumps(self.view_body(ds), indent=2).encode()
        if v3:
            token = headers.get("x-app-token", "")
            if not token or (self.tokens is not None and token not in self.tokens):
                return 403, json_type, LOGIN_403
            request = json.loads(body or b"{}")
            params = split_statement(request.get("query", ""))
            page = request.get("page") or {}
            size = int(page.get("pageSize", 1000))
            params["$limit"] = str(size)
            params["$offset"] = str((int(page.get("pageNumber", 1)) - 1) * size)
        try:
            fields, kinds, rows = self.run(ds, params)
        except SoqlError as exc:
            return exc.status, json_type, json.dumps(exc.body).encode()
        etag = '"' + hashlib.sha1(f"{ds.updated}|{method}|{path}|{sorted(params.items())}"
                                  .encode()).hexdigest() + '"'
        out = {"Content-Type": "application/json;charset=utf-8", "Server": "nginx",
               "ETag": etag, "Last-Modified": stamp, "X-SODA2-Data-Out-Of-Date": "false",
               "X-SODA2-Fields": json.dumps(fields, separators=(",", ":")),
               "X-SODA2-Types": json.dumps(kinds, separators=(",", ":")),
               "X-SODA2-Secondary-Last-Modified": stamp, "X-SODA2-Truth-Last-Modified": stamp}
        if self.no_timestamps:
            for name in ("Last-Modified", "X-SODA2-Secondary-Last-Modified",
                         "X-SODA2-Truth-Last-Modified"):
                out.pop(name)
        if headers.get("if-none-match") == etag:
            return 304, {k: out[k] for k in ("ETag", "Last-Modified", "Server") if k in out}, b""
        encoded = [json.dumps({f: format_value(v, k) for f, k, v in zip(fields, kinds, row,
                                                                           strict=True)
                               if v is not None}, separators=(",", ":"), ensure_ascii=False)
                   for row in rows]
        payload = ("[" + "\n,".join(encoded) + "]\n").encode()
        with self.lock:
            if self.broken_json:
                self.broken_json -= 1
                payload = payload[: max(len(payload) // 2, 1)]  # a connection cut mid-body
        return 200, out, payload

    def view_body(self, ds: Dataset) -> dict[str, Any]:
        """`/api/views/ID.json`: the dataset's metadata, with view-style type names."""
        stamps = {} if self.no_timestamps else {"rowsUpdatedAt": int(ds.updated),
                                                 "viewLastModified": int(ds.updated)}
        return {"id": ds.id, "name": ds.name, **stamps, "viewType": "tabular",
                "columns": [{"id": n + 1, "name": ds.labels.get(c, c),
                             "dataTypeName": VIEW_TYPES.get(t, t),
                             "fieldName": c, "position": n + 1,
                             "renderTypeName": VIEW_TYPES.get(t, t), "format": {}}
                            for n, (c, t) in enumerate(ds.columns)]}

    def run(self, ds: Dataset, params: dict[str, str]) -> tuple[list[str], list[str],
                                                                  list[tuple[Any, ...]]]:
        text = " ".join(f"{k}={v}" for k, v in params.items())
        tr = SoqlTranslator(ds, text, self.unqueryable)
        items = tr.select(params.get("$select", "*"))
        columns = ", ".join(f'{s} AS "{n}"' for s, n, _ in items)
        sql = f"SELECT {columns} FROM {ds.table}"
        if params.get("$where"):
            sql += " WHERE " + tr.expression(params["$where"], allow_alias=False)[0]
        if params.get("$group"):
            tr.grouping = True
            groups = [tr.expression(g, allow_alias=True)[0] for g in _split_top(
                params["$group"])]
            tr.grouping = False
            sql += " GROUP BY " + ", ".join(groups)
        if params.get("$having"):
            sql += " HAVING " + tr.expression(params["$having"], allow_alias=True)[0]
        if params.get("$order"):
            sql += " ORDER BY " + tr.expression(params["$order"], allow_alias=True)[0]
        try:
            limit = int(params.get("$limit", "1000"))
            offset = int(params.get("$offset", "0"))
        except ValueError as exc:
            raise malformed(text, 1, "limit and offset must be integers") from exc
        sql += f" LIMIT {limit} OFFSET {offset}"
        try:
            rows = self._select(sql)
        except sqlite3.Error as exc:
            raise malformed(text, 1, str(exc)) from exc
        return [n for _, n, _ in items], [k for _, _, k in items], rows


def main(argv: list[str]) -> int:
    """Serve an existing SQLite file made by `SocrataFake(db).add_dataset(...)`."""
    if len(argv) != 1:
        print("usage: socrata_fake.py DB.sqlite", file=sys.stderr)
        return 2
    fake = SocrataFake(argv[0]).start()
    print(json.dumps({"port": int(fake.url.rsplit(":", 1)[1])}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


@dataclass
class Recording:
    """One recorded interaction from a VCR cassette."""

    uri: str
    status: int
    headers: dict[str, str]
    body: str
    request_headers: dict[str, str] = field(default_factory=dict)


def read_cassette(path: Path) -> list[Recording]:
    """The interactions of a VCR YAML cassette (needs PyYAML)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["interactions"]:
        response = item["response"]
        headers = {k: v[0] if isinstance(v, list) else v
                   for k, v in response["headers"].items()}
        req = {k: v[0] if isinstance(v, list) else v
               for k, v in (item["request"].get("headers") or {}).items()}
        out.append(Recording(item["request"]["uri"], response["status"]["code"], headers,
                             response["body"]["string"], req))
    return out


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
