"""What every spec-checked fake API shares: a loopback HTTP server whose every request and
every answer is checked against an OpenAPI description with openapi-core.

A fake (x_fake.XFake, mastodon_fake.MastodonFake) subclasses :class:`SpecFake` and gives:

- ``ROUTES``: (method, path regex, operation); ``_do_OPERATION(params, query, body,
  content_type)`` answers one, returning (status, JSON body) or raising :class:`Answer`;
- ``spec()``: the openapi-core ``OpenAPI`` object (built once per process);
- ``authenticate(...)``: raise Answer(401, ...) unless the credentials are right;
- ``error_body(status, detail)``, ``invalid_body(detail)`` and ``rate_headers()``.

Any mismatch with the spec, either way, is kept in ``fake.mismatches``; a test fixture fails
the test on teardown when there is one. A request the spec does not allow is also refused
(401 for missing credentials, else 400), as the real server would refuse it.

Faults on demand, for one call of an operation::

    fake.fail_next("create_status", Fault(status=429, headers={...}))
    fake.fail_next("create_status", Fault(status=503, after_write=True))  # written, then 503
    fake.fail_next("create_status", Fault(drop=True, after_write=True))   # written, no answer
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

Clock = Callable[[], datetime]
Route = tuple[str, "re.Pattern[str]", str]


@dataclass(frozen=True)
class Fault:
    """What to do instead of a normal answer, once."""

    status: int = 0  # answer with this status and body
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # default: the API's error body for the status
    drop: bool = False  # close the connection without answering
    after_write: bool = False  # do the work first (the write happens), then fail


class Answer(Exception):
    """Raised inside a handler to answer at once with a status and JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class SpecFake:
    """A spec-checked fake API on 127.0.0.1. Use as a context manager, or start()/stop()."""

    ROUTES: ClassVar[list[Route]] = []
    NAME = "fake"
    ERROR_TYPE = "application/json"  # the content type of error answers
    # Known defects of a spec itself, by (method, path): a substring of the error to ignore.
    SPEC_QUIRKS: ClassVar[dict[tuple[str, str], str]] = {}

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self.mismatches: list[str] = []
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()  # of the current call
        self._faults: dict[str, list[list[Any]]] = {}  # [calls to let through, fault]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what a fake gives ----------------------------------------------------------------

    def spec(self) -> Any:
        raise NotImplementedError

    def authenticate(self, method: str, path: str, raw_query: str, body: bytes,
                     content_type: str, host: str) -> None:
        """Raise Answer(401, ...) unless the current call (``self.headers``) may proceed."""

    def error_body(self, status: int, detail: str) -> Any:
        return {"error": detail or str(status)}

    def invalid_body(self, detail: str) -> Any:
        return self.error_body(400, detail)

    def rate_headers(self) -> dict[str, str]:
        return {}

    def response_headers(self, status: int, headers: dict[str, str]) -> dict[str, str]:
        """The answer's headers as the spec should see them (default: none checked)."""
        return {}

    # -- control --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, operation: str, fault: Fault, after: int = 0) -> None:
        """Answer the next call of ``operation`` with ``fault`` (queued, first in first out),
        or the one after ``after`` more calls answered normally."""
        self._faults.setdefault(operation, []).append([after, fault])

    def start(self) -> SpecFake:
        self.spec()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=self.NAME)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request ------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
               host: str) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, headers, JSON body); body None drops the connection,
        body b"" answers with no body."""
        url = urlsplit(target)
        path, query = url.path, parse_qsl(url.query, keep_blank_values=True)
        with self._lock:
            self.headers = CaseInsensitiveDict(headers)
            content_type = self.headers.get("Content-Type", "")
            request = self._spec_request(method, path, query, dict(self.headers), body,
                                         content_type)
            status, body_out, extra, dropped = self._dispatch(
                method, path, url.query, query, body, content_type, host, request)
        out_headers = {**self.rate_headers(), **extra}
        if not dropped:
            self._check_response(request, method, path, status, body_out, out_headers)
        self.calls.append((method, path, 0 if dropped else status))
        return status, out_headers, None if dropped else body_out

    def route(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        for verb, pattern, operation in self.ROUTES:
            match = pattern.match(path)
            if verb == method and match:
                return operation, match.groupdict()
        return None, {}

    def _dispatch(self, method: str, path: str, raw_query: str, query: list[tuple[str, str]],
                  body: bytes, content_type: str, host: str,
                  request: Any) -> tuple[int, Any, dict[str, str], bool]:
        operation, params = self.route(method, path)
        try:
            if request is not None:
                self._check_request(request, method, path)
            self.authenticate(method, path, raw_query, body, content_type, host)
            if operation is None:
                raise Answer(404, self.error_body(404, f"No route for {method} {path}"))
            fault = self._take_fault(operation)
            if fault and not fault.after_write:
                return self._fault_answer(fault)
            answer = getattr(self, f"_do_{operation}")(params, query, body, content_type)
            status, out = answer[0], answer[1]
            extra = answer[2] if len(answer) > 2 else {}
            if fault:
                return self._fault_answer(fault)
            return status, out, extra, False
        except Answer as a:
            return a.status, a.body, a.headers, False

    def _take_fault(self, operation: str) -> Fault | None:
        queue = self._faults.get(operation)
        if not queue:
            return None
        if queue[0][0] > 0:
            queue[0][0] -= 1
            return None
        fault: Fault = queue.pop(0)[1]
        return fault

    def _fault_answer(self, fault: Fault) -> tuple[int, Any, dict[str, str], bool]:
        if fault.drop:
            return 0, {}, {}, True
        body = fault.body if fault.body is not None else self.error_body(fault.status, "")
        return fault.status, body, dict(fault.headers), False

    # -- checks -----------------------------------------------------------------------------

    def _spec_request(self, method: str, path: str, query: list[tuple[str, str]],
                      headers: dict[str, str], body: bytes, content_type: str) -> Any:
        from openapi_core.testing import MockRequest

        return MockRequest(self.base_url, method.lower(), path, args=query, headers=headers,
                           data=body, content_type=content_type)

    def _check_request(self, request: Any, method: str, path: str) -> None:
        try:
            self.spec().validate_request(request)
        except Exception as exc:  # openapi-core raises a family of errors; record them all
            detail = describe(exc)
            self.mismatches.append(f"request {method} {path}: {detail}")
            if type(exc).__name__ == "SecurityValidationError":
                raise Answer(401, self.error_body(401, "The access token is invalid")) from exc
            raise Answer(400, self.invalid_body(detail)) from exc

    def _check_response(self, request: Any, method: str, path: str, status: int, body: Any,
                        headers: dict[str, str]) -> None:
        from openapi_core.testing import MockResponse

        ok = 200 <= status < 300
        response = MockResponse(
            b"" if body == b"" else json.dumps(body).encode(), status_code=status,
            headers=self.response_headers(status, headers),
            content_type="application/json" if ok else self.ERROR_TYPE)
        try:
            self.spec().validate_response(request, response)
        except Exception as exc:
            detail = describe(exc)
            quirk = self.SPEC_QUIRKS.get((method.lower(), path))
            if quirk and quirk in detail:
                return
            self.mismatches.append(f"response {status} to {method} {path}: {detail}")


def multipart_fields(body: bytes, content_type: str) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


def describe(exc: BaseException) -> str:
    """An openapi-core error in one line, then its schema errors (path: message)."""
    parts, errors = [str(exc)], []
    cause: BaseException | None = exc
    while cause is not None and len(parts) < 6:
        for error in getattr(cause, "schema_errors", ()) or ():
            path = "/".join(str(p) for p in getattr(error, "absolute_path", ()))
            errors.append(f"{path or '(body)'}: {getattr(error, 'message', error)}"[:200])
        cause = cause.__cause__
        if cause is not None and len(parts) < 4:
            parts.append(str(cause))
    text = " | ".join(" ".join(p.split()) for p in parts)[:600]
    return text + (" | schema: " + "; ".join(errors[:5]) if errors else "")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: SpecFake

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        try:
            status, out_headers, answer = self.fake.handle(
                self.command, self.path, headers, body, self.headers.get("Host", ""))
        except Exception as exc:  # a bug in the fake: fail the test, answer 500
            self.fake.mismatches.append(f"the fake failed on {self.command} {self.path}: {exc!r}")
            status, out_headers, answer = 500, {}, self.fake.error_body(500, "")
        if answer is None:  # drop: close without a word
            self.close_connection = True
            return
        payload = b"" if answer == b"" else json.dumps(answer).encode()
        self.send_response(status)
        ok = 200 <= status < 300
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8" if ok
                             else self.fake.ERROR_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass
