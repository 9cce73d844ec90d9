"""A small CKAN for tests: the DataStore actions citycrier calls, over SQLite, on loopback.

Actions (GET /api/3/action/NAME): `datastore_search` (resource_id, limit - silently capped at
`max_limit` and echoed back -, offset, filters as JSON, fields, sort, include_total),
`datastore_search_sql` (sql; PostgreSQL's `date_trunc`, `to_char(..., 'YYYY-MM-DD')` and
`::timestamp` are understood; `IN ()` is refused, as PostgreSQL's parser refuses it; `bool`
fields hold true/false), `package_show` and `resource_show`.

Answers have CKAN's envelope, `{"help": ..., "success": true, "result": ...}`, and its errors
(ckan/views/api.py): 404 `Not Found Error`, 409 `Validation Error` (a dict of field ->
messages), 403 `Authorization Error`, and for an action the site does not offer (as when
`ckan.datastore.sqlsearch.enabled` is false) HTTP 400 with a bare JSON string,
`"Bad request - Action name not known: datastore_search_sql"`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

NUMBER_TYPES = {"numeric", "int", "int4", "int8", "float8"}
BOOL_TYPES = {"bool", "boolean"}


@dataclass
class Resource:
    id: str
    package_id: str
    name: str
    fields: list[tuple[str, str]]  # (id, CKAN type)


def _date_trunc(unit: str, value: Any) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    day = moment.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "year":
        day = date(day.year, 1, 1)
    return f"{day.isoformat()} 00:00:00"


def _to_char(value: Any, fmt: str) -> str | None:
    if value is None:
        return None
    if fmt != "YYYY-MM-DD":
        raise ValueError(f"to_char format {fmt!r} is not supported by the fake")
    return str(value)[:10]


class CKANFake:
    """`with CKANFake(sql=False) as ckan: ckan.add_resource(...); ckan.url`."""

    def __init__(self, *, sql: bool = True, max_limit: int = 32000) -> None:
        self.sql = sql
        self.max_limit = max_limit
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.create_function("date_trunc", 2, _date_trunc)
        self.conn.create_function("to_char", 2, _to_char)
        self.lock = threading.Lock()
        self.resources: dict[str, Resource] = {}
        self.packages: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None

    def add_resource(self, resource_id: str, fields: list[tuple[str, str]],
                     records: Iterable[dict[str, Any]], *, package_id: str = "pkg",
                     metadata_modified: str = "2026-10-30T14:05:09.123456",
                     name: str = "") -> None:
        res = Resource(resource_id, package_id, name or resource_id, list(fields))
        self.resources[resource_id] = res
        package = self.packages.setdefault(package_id, {
            "id": package_id, "name": package_id, "title": package_id.replace("-", " ").title(),
            "metadata_modified": metadata_modified, "resources": []})
        package["metadata_modified"] = metadata_modified
        package["resources"].append({"id": resource_id, "package_id": package_id,
                                     "name": res.name, "datastore_active": True})
        decl = ", ".join(f'"{f}" {"NUMERIC" if t in NUMBER_TYPES | BOOL_TYPES else "TEXT"}'
                         for f, t in fields)
        names = [f for f, _ in fields]
        with self.lock, self.conn:
            self.conn.execute(f'CREATE TABLE "{resource_id}" ("_id" INTEGER PRIMARY KEY, '
                              f'{decl})')
            marks = ", ".join("?" for _ in names)
            cols = ", ".join(f'"{n}"' for n in names)
            self.conn.executemany(f'INSERT INTO "{resource_id}" ({cols}) VALUES ({marks})',
                                  ([r.get(n) for n in names] for r in records))

    # -- serving --------------------------------------------------------------------------
    def start(self) -> CKANFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                status, body = fake.answer(parts.path, params, self.headers.get("Host", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CKANFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.conn.close()

    def answer(self, path: str, params: dict[str, str], host: str) -> tuple[int, Any]:
        m = re.fullmatch(r"/api/3/action/(\w+)", path)
        action = m.group(1) if m else ""
        self.calls.append((action, params))
        known = {"datastore_search": self.datastore_search, "package_show": self.package_show,
                 "resource_show": self.resource_show}
        if self.sql:
            known["datastore_search_sql"] = self.datastore_search_sql
        if action not in known:
            return 400, f"Bad request - Action name not known: {action or path}"
        envelope: dict[str, Any] = {
            "help": f"http://{host}/api/3/action/help_show?name={action}"}
        try:
            envelope["result"] = known[action](params)
            envelope["success"] = True
            return 200, envelope
        except CKANError as exc:
            envelope["error"] = exc.error
            envelope["success"] = False
            return exc.status, envelope

    # -- actions ----------------------------------------------------------------------------
    def _resource(self, resource_id: str) -> Resource:
        if resource_id not in self.resources:
            raise CKANError(404, {"__type": "Not Found Error",
                                  "message": f'Not found: Resource "{resource_id}" was not '
                                             'found.'})
        return self.resources[resource_id]

    def datastore_search(self, params: dict[str, str]) -> dict[str, Any]:
        res = self._resource(params.get("resource_id", ""))
        names = [f for f, _ in res.fields]
        wanted = [f.strip() for f in params["fields"].split(",")] if params.get("fields") \
            else ["_id"] + names
        for f in wanted:
            if f != "_id" and f not in names:
                raise CKANError(409, {"__type": "Validation Error",
                                      "fields": [f'field "{f}" not in table']})
        limit = min(int(params.get("limit", 100)), self.max_limit)
        offset = int(params.get("offset", 0))
        where, args = [], []
        for field, value in json.loads(params.get("filters") or "{}").items():
            if field not in names:
                raise CKANError(409, {"__type": "Validation Error",
                                      "filters": [f'field "{field}" not in table']})
            values = value if isinstance(value, list) else [value]
            where.append(f'"{field}" IN ({", ".join("?" for _ in values)})')
            args += values
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sort = params.get("sort", "_id asc").split()
        order = f' ORDER BY "{sort[0]}" {"DESC" if sort[-1].lower() == "desc" else "ASC"}'
        cols = ", ".join(f'"{f}"' for f in wanted)
        with self.lock:
            rows = self.conn.execute(f'SELECT {cols} FROM "{res.id}"{clause}{order} '
                                     f"LIMIT {limit} OFFSET {offset}", args).fetchall()
            total = self.conn.execute(f'SELECT COUNT(*) FROM "{res.id}"{clause}',
                                      args).fetchone()[0]
        types = dict(res.fields) | {"_id": "int"}
        records = [{f: _typed(v, types[f]) for f, v in zip(wanted, row, strict=True)}
                   for row in rows]
        base = f"/api/3/action/datastore_search?resource_id={res.id}"
        return {"include_total": True, "limit": limit, "records_format": "objects",
                "resource_id": res.id, "total_estimation_threshold": None,
                "records": records, "fields": [{"id": f, "type": types[f]} for f in wanted],
                "_links": {"start": base, "next": f"{base}&offset={offset + limit}"},
                "total": total, "total_was_estimated": False}

    def datastore_search_sql(self, params: dict[str, str]) -> dict[str, Any]:
        sql = params.get("sql", "")
        if not re.match(r"\s*select\b", sql, re.I):
            raise CKANError(409, {"__type": "Validation Error",
                                  "query": ["Only SELECT statements are allowed"]})
        tables = [self._resource(t) for t in re.findall(r'\bFROM\s+"([^"]+)"', sql, re.I)]
        known = {t.id for t in tables} | {f for t in tables for f, _ in t.fields}
        outside = re.sub(r"'(?:[^']|'')*'", "''", sql)
        for name in re.findall(r'"((?:[^"]|"")+)"', outside):
            if name.replace('""', '"') not in known:  # SQLite would read it as a string
                raise CKANError(409, {"__type": "Validation Error", "query": [
                    f'(psycopg2.errors.UndefinedColumn) column "{name}" does not exist'],
                    "info": {"statement": [sql]}})
        empty = re.search(r"\bIN\s*\(\s*\)", outside, re.I)
        if empty:  # PostgreSQL has no empty list; SQLite would quietly match nothing
            raise CKANError(409, {"__type": "Validation Error", "query": [
                f'(psycopg2.errors.SyntaxError) syntax error at or near ")"\nLINE 1: '
                f'{sql[max(empty.start() - 20, 0):empty.end()]}'],
                "info": {"statement": [sql]}})
        lite = sql.replace("::timestamp", "")
        try:
            with self.lock:
                cursor = self.conn.execute(lite)
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
        except (sqlite3.Error, ValueError) as exc:
            raise CKANError(409, {"__type": "Validation Error", "query": [str(exc)],
                                  "info": {"statement": [sql]}}) from exc
        records = [dict(zip(names, row, strict=True)) for row in rows[: self.max_limit]]
        result: dict[str, Any] = {"records": records, "fields": [{"id": n, "type": "text"}
                                                                for n in names], "sql": sql}
        if len(rows) > self.max_limit:
            result["records_truncated"] = True
        return result

    def package_show(self, params: dict[str, str]) -> dict[str, Any]:
        package = self.packages.get(params.get("id", ""))
        if package is None:
            raise CKANError(404, {"__type": "Not Found Error", "message": "Not found"})
        return package

    def resource_show(self, params: dict[str, str]) -> dict[str, Any]:
        rid = params.get("id", "")
        if rid not in self.resources:
            raise CKANError(404, {"__type": "Not Found Error",
                                  "message": "Not found: Resource was not found."})
        res = self.resources[rid]
        return {"id": res.id, "package_id": res.package_id, "name": res.name,
                "datastore_active": True, "url_type": "datastore"}


class CKANError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error))
        self.status, self.error = status, error


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in NUMBER_TYPES or kind == "int":
        return value
    if kind in BOOL_TYPES:
        return bool(value)
    return str(value)
