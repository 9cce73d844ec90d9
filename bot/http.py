"""One HTTP layer for every portal: timeouts, bounded retries, a conditional cache, one-line errors.

    >>> client = PortalClient(PortalConfig("brla", "socrata", "Open Data BR",
    ...                                    url="https://data.brla.gov"))  # doctest: +SKIP
    >>> rows, reply = client.get_json("https://data.brla.gov/resource/pbin-pcm7.json",
    ...                               {"$limit": 5})  # doctest: +SKIP

- Every request carries `User-Agent: citycrier/VERSION (+https://github.com/citycrier/citycrier)`
  and the portal's timeout.
- 429, 5xx, timeouts, connection failures and Socrata's 202 ("still working") are retried at
  most `portal.retries` times, with exponential backoff and jitter (honouring `Retry-After`).
  Sleeping goes through an injectable clock, so tests never sleep.
- GET answers carrying an `ETag` or `Last-Modified` are kept on disk under `cache_dir`, keyed
  by a hash of the URL and parameters; the next identical request is conditional and a 304 is
  answered from disk, so an unchanged dataset is not downloaded again. `no_cache` bypasses it.
- Failures become one-line `BotError`s: Socrata `code` / `errorCode` bodies, ArcGIS HTTP-200
  `{"error": ...}` bodies, CKAN `success: false`, HTML error pages, DNS failures, timeouts.
- Secrets (the app token header) are never logged; only method, URL and parameters are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import ssl
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from bot.errors import BotError, PortalError, SourceError
from bot.settings import PortalConfig

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("citycrier")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.1.0"


USER_AGENT = f"citycrier/{_version()} (+https://github.com/citycrier/citycrier)"
BACKOFF_BASE = 1.0  # seconds before the first retry, doubling each time
BACKOFF_CAP = 60.0
_DROP_ON_CACHE = {"content-encoding", "content-length", "transfer-encoding", "connection"}
_DNS_WORDS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
              "temporary failure in name resolution", "no address associated",
              "name resolution")


class Clock(Protocol):
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: `sleep` sleeps."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Reply:
    """One HTTP answer, from the network or from the on-disk cache."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    from_cache: bool = False

    def looks_like_html(self) -> bool:
        ctype = self.headers.get("content-type", "").lower()
        head = self.content[:200].lstrip().lower()
        return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


class ResponseCache:
    """GET answers with validators, as `KEY.json` (url, status, headers) + `KEY.body`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def key(method: str, url: str, params: dict[str, Any] | None) -> str:
        query = urlencode(sorted((str(k), str(v)) for k, v in (params or {}).items()))
        return hashlib.sha256(f"{method} {url}?{query}".encode()).hexdigest()[:32]

    def load(self, key: str) -> Reply | None:
        meta_path, body_path = self.folder / f"{key}.json", self.folder / f"{key}.body"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            body = body_path.read_bytes()
        except (OSError, ValueError):
            return None
        return Reply(meta["url"], meta["status"], httpx.Headers(meta["headers"]), body, True)

    def forget(self, key: str) -> None:
        for name in (f"{key}.json", f"{key}.body"):
            try:
                (self.folder / name).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove %s from the HTTP cache: %s", name, exc)

    def save(self, key: str, reply: Reply) -> None:
        headers = [(k, v) for k, v in reply.headers.multi_items() if k.lower() not in
                   _DROP_ON_CACHE]
        meta = {"url": reply.url, "status": reply.status, "headers": headers}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name, data in ((f"{key}.body", reply.content),
                               (f"{key}.json", json.dumps(meta).encode())):
                tmp = self.folder / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(data)
                tmp.replace(self.folder / name)
        except OSError as exc:  # a cache that cannot be written only costs a download
            log.warning("cannot write the HTTP cache in %s: %s", self.folder, exc)


class PageProgress:
    """A rich progress bar on an interactive terminal; DEBUG log lines otherwise."""

    def __init__(self, label: str, total: int | None, interactive: bool) -> None:
        self.label, self.total, self.done = label, total, 0
        self._bar: Any = None
        self._task: Any = None
        if interactive:
            from rich.progress import Progress

            self._bar = Progress(transient=True, console=_stderr_console())
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> PageProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._bar is not None:
            self._bar.update(self._task, advance=rows)
        log.debug("%s: %d%s rows", self.label, self.done,
                  f" of {self.total}" if self.total is not None else "")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The TLS settings httpx builds for every new client (certifi's CA bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR), built once per process and shared: loading the bundle
    costs tens of milliseconds per client, more than a request to a nearby server."""
    return httpx.create_ssl_context()


class PortalClient:
    """Requests to one portal, with its timeout, retries, token, cache and error words."""

    def __init__(self, portal: PortalConfig, *, cache_dir: Path | None = None,
                 no_cache: bool = False, client: httpx.Client | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None,
                 progress: bool | None = None, headers: dict[str, str] | None = None) -> None:
        self.portal = portal
        self._client = client or httpx.Client(follow_redirects=True, verify=tls_context())
        self._owns_client = client is None
        if self._owns_client:  # close the connection pool even if nobody calls close()
            weakref.finalize(self, self._client.close)
        self.cache = ResponseCache(cache_dir / "http") if cache_dir and not no_cache else None
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json",
                        **(headers or {})}
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.show_progress = progress
        self.bytes_received = 0  # bytes of response bodies as they came over the wire
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- requests -------------------------------------------------------------------------
    def get_json(self, url: str, params: dict[str, Any] | None = None, *,
                 dataset: str = "") -> tuple[Any, Reply]:
        """GET `url` and return its JSON body (checked for error bodies) and the reply."""
        reply = self.request("GET", url, params=params, dataset=dataset)
        try:
            return self.read_json(reply, dataset), reply
        except SourceError:
            if self.cache is not None:  # never answer a broken body from the cache again
                self.cache.forget(self.cache.key("GET", url, params))
            raise

    def post_json(self, url: str, body: Any, *, dataset: str = "") -> tuple[Any, Reply]:
        reply = self.request("POST", url, json_body=body, dataset=dataset)
        return self.read_json(reply, dataset), reply

    def request(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                json_body: Any = None, dataset: str = "") -> Reply:
        """One request with retries; returns a 2xx reply or raises a one-line BotError."""
        key = self.cache.key(method, url, params) if self.cache and method == "GET" else None
        cached = self.cache.load(key) if self.cache and key else None
        headers = dict(self.headers)
        if cached is not None:
            if etag := cached.headers.get("etag"):
                headers["If-None-Match"] = etag
            if modified := cached.headers.get("last-modified"):
                headers["If-Modified-Since"] = modified
        retry_accepted = self.portal.kind == "socrata"
        attempt = 0
        while True:
            log.debug("%s %s %s (try %d)", method, url, params or "", attempt + 1)
            failure: httpx.Response | Exception
            try:
                response = self._client.request(method, url, params=params, json=json_body,
                                                headers=headers,
                                                timeout=self.portal.timeout_seconds)
            except httpx.TransportError as exc:
                failure = exc
                if is_dns_failure(exc):  # another try will not find the host either
                    raise self._transport_error(url, exc, attempt + 1) from exc
            else:
                with self._count_lock:  # requests may come from several threads at once
                    self.requests_sent += 1
                    self.bytes_received += response.num_bytes_downloaded or len(
                        response.content)
                status = response.status_code
                if status == 304 and cached is not None:
                    log.debug("%s not modified: answered from the cache", url)
                    return cached
                if not (status >= 500 or status == 429 or (status == 202 and retry_accepted)):
                    reply = Reply(str(response.url), status, response.headers, response.content)
                    if not 200 <= status < 300:
                        raise explain_reply(self.portal, reply, dataset)
                    if key and self.cache and ("etag" in response.headers
                                               or "last-modified" in response.headers):
                        self.cache.save(key, reply)
                    return reply
                failure = response
            if attempt >= self.portal.retries:
                if isinstance(failure, Exception):
                    raise self._transport_error(url, failure, attempt + 1) from failure
                raise self._status_error(failure, attempt + 1, dataset)
            delay = self._backoff(attempt, failure)
            log.info("portal %r: %s; trying again in %.1f s", self.portal.name,
                     _describe_failure(failure), delay)
            self.clock.sleep(delay)
            attempt += 1

    def read_json(self, reply: Reply, dataset: str = "") -> Any:
        """The JSON body of a 2xx reply, refusing HTML pages and in-band error bodies."""
        if reply.looks_like_html():
            raise html_error(self.portal.name, reply.status)
        try:
            body = json.loads(reply.content) if reply.content.strip() else None
        except ValueError as exc:
            raise not_json(self.portal.name, reply) from exc
        error = explain_body(self.portal, body, reply.status, dataset)
        if error is not None:
            raise error
        return body

    def progress(self, label: str, total: int | None = None) -> PageProgress:
        """A progress display for paging `label`, shown only on an interactive terminal."""
        interactive = self.show_progress is True or (
            self.show_progress is None and sys.stderr.isatty())
        return PageProgress(label, total, interactive)

    # -- retry helpers ----------------------------------------------------------------------
    def _backoff(self, attempt: int, failure: httpx.Response | Exception) -> float:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
        delay *= 0.5 + self.rng.random() / 2
        if isinstance(failure, httpx.Response):
            wanted = retry_after_seconds(failure.headers)
            delay = max(delay, min(wanted, BACKOFF_CAP))
        return delay

    def _status_error(self, response: httpx.Response, tries: int, dataset: str) -> BotError:
        name, status = self.portal.name, response.status_code
        if status == 429:
            return SourceError(name, f"the portal kept answering HTTP 429 (too many requests) "
                               f"after {_tries(tries)}", self._throttle_fix())
        if status == 202:
            return SourceError(name, f"the portal was still preparing the answer (HTTP 202) "
                               f"after {_tries(tries)}", "try again in a few minutes")
        reply = Reply(str(response.url), status, response.headers, response.content)
        if reply.looks_like_html():
            return html_error(name, status)
        known = explain_body(self.portal, _parse(reply.content), status, dataset)
        if known is not None:
            return known
        return SourceError(name, f"the portal failed with HTTP {status} after {_tries(tries)}",
                           "the portal may be down; try again later")

    def _throttle_fix(self) -> str:
        env = self.portal.app_token_env
        if self.portal.kind != "socrata":
            return "wait a while and try again"
        if not env:
            return (f"get an app token from the portal and add app_token_env to "
                    f"[portals.{self.portal.name}] in config.toml")
        if not os.environ.get(env):
            return f"set the environment variable {env} to the portal's app token"
        return "wait a while and try again"

    def _transport_error(self, url: str, exc: Exception, tries: int) -> SourceError:
        parsed = httpx.URL(url)
        host, name = parsed.host, self.portal.name
        if isinstance(exc, httpx.TimeoutException):
            return SourceError(name, f"{host} did not answer within "
                               f"{self.portal.timeout_seconds:g} seconds ({_tries(tries)})",
                               "try again later, or raise timeout_seconds for this portal in "
                               "config.toml")
        if is_dns_failure(exc):
            return SourceError(name, f"cannot find the host {host} (DNS lookup failed)",
                               "check the portal's url in config.toml and this machine's "
                               "internet connection")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        reason = "connection refused" if "refused" in str(exc).lower() else _one_line(
            str(exc) or type(exc).__name__, 120)
        return SourceError(name, f"cannot connect to {host}:{port} ({reason})",
                           "check that the portal is up and its url in config.toml")


def retry_after_seconds(headers: httpx.Headers) -> float:
    """`Retry-After` in seconds: given as seconds, or as an HTTP date (RFC 9110), which is
    measured from the reply's own `Date` (so a skewed local clock does not matter), or from
    now when the reply has none. 0 when absent or unreadable.

    >>> retry_after_seconds(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
    ...                                    "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    30.0
    """
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return 0.0
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(raw)
        sent = headers.get("date")
        now = parsedate_to_datetime(sent) if sent else datetime.now(UTC)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if until.tzinfo is None or now.tzinfo is None:  # "-0000": RFC 5322's unknown zone
        until, now = until.replace(tzinfo=UTC), now.replace(tzinfo=UTC)
    return max((until - now).total_seconds(), 0.0)


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def is_dns_failure(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, httpx.ConnectError) and any(w in text for w in _DNS_WORDS)


def _describe_failure(failure: httpx.Response | Exception) -> str:
    if isinstance(failure, httpx.Response):
        return f"HTTP {failure.status_code}"
    return type(failure).__name__


def _one_line(text: str, limit: int = 300) -> str:
    """Whitespace collapsed, cut to `limit` characters.

    >>> _one_line("No such column: foo;\\n  position: 8", 30)
    'No such column: foo; position…'
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def html_error(portal: str, status: int) -> SourceError:
    return SourceError(portal, f"returned an HTML page instead of data (HTTP {status}): the "
                       "portal may be down; try again later")


_QUERY_FIX = "check the recipe's columns and filters with `citycrier sources describe`"


def not_json(portal: str, reply: Reply) -> SourceError:
    """A 2xx answer that is not valid JSON. Said to be JSON, it was cut off or broken on the
    way (the url is right: try again); said to be something else (a CSV, a file), the url
    points past the API."""
    ctype = reply.headers.get("content-type", "").split(";")[0].strip().lower()
    head = _one_line(reply.content[:40].decode("utf-8", "replace"), 40)
    if "json" in ctype:
        return SourceError(portal, f"sent a broken JSON answer (HTTP {reply.status}, "
                           f"{len(reply.content):,} bytes, starting {head!r})",
                           "it may have been cut off on the way: try again; if it keeps "
                           "happening, the portal is at fault")
    return SourceError(portal, f"returned something that is not JSON (HTTP {reply.status}, "
                       f"{ctype or 'no content type'}, starting {head!r})",
                       "the url points at a page or file, not the portal's API: check the "
                       "portal's url in config.toml")


def _parse(content: bytes) -> Any:
    try:
        return json.loads(content) if content.strip() else None
    except ValueError:
        return None


def explain_reply(portal: PortalConfig, reply: Reply, dataset: str) -> BotError:
    """The one-line error for a non-2xx reply."""
    if reply.looks_like_html():
        return html_error(portal.name, reply.status)
    known = explain_body(portal, _parse(reply.content), reply.status, dataset)
    if known is not None:
        return known
    host = httpx.URL(reply.url).host
    if reply.status == 404:
        return SourceError(portal.name, f"{host} has no such dataset or page (HTTP 404)",
                           "check the dataset id in the recipe and the portal's url in "
                           "config.toml")
    if reply.status in (401, 403):
        return SourceError(portal.name, f"{host} refused access (HTTP {reply.status})",
                           "the dataset may be private, or the portal may need an app token")
    return SourceError(portal.name, f"{host} answered HTTP {reply.status}",
                       "check the portal's url in config.toml")


def explain_body(portal: PortalConfig, body: Any, status: int,
                 dataset: str) -> BotError | None:
    """The error a JSON body carries, in any portal's shape; None if it carries none."""
    name = portal.name
    if isinstance(body, str) and status >= 400:  # CKAN's "Bad request - ..." JSON string
        return PortalError(name, f"HTTP {status}", _one_line(body), _QUERY_FIX)
    if not isinstance(body, dict):
        return None
    if body.get("success") is False and "error" in body:  # CKAN
        error = body.get("error") or {}
        kind = str(error.get("__type", "")) if isinstance(error, dict) else ""
        if isinstance(error, dict):
            detail = error.get("message") or "; ".join(
                f"{k}: {_join(v)}" for k, v in error.items() if k not in ("__type", "info"))
        else:
            detail = str(error)
        fix = ("check the resource id in the recipe" if kind == "Not Found Error"
               else "the portal may need an API key for this" if kind == "Authorization Error"
               else _QUERY_FIX)
        return PortalError(name, kind or f"HTTP {status}", _one_line(detail or "no details"),
                           fix)
    error = body.get("error")
    if isinstance(error, dict):  # ArcGIS, often with HTTP 200
        code = str(error.get("code", ""))
        detail = str(error.get("message") or "no details")
        details = [str(d) for d in error.get("details") or [] if str(d) != detail]
        if details:
            detail += " (" + "; ".join(details) + ")"
        fix = ("the layer is not public: it needs a token" if code in ("498", "499")
               else "check the layer path in the recipe" if code == "404" else _QUERY_FIX)
        return PortalError(name, code, _one_line(detail), fix)
    soda_code = body.get("code") or body.get("errorCode")
    if soda_code == "dataset.missing":
        return SourceError(name, f"dataset {dataset!r} does not exist (HTTP {status} "
                           "dataset.missing)", "check the dataset id in the recipe and the "
                           "portal's url in config.toml")
    if soda_code:
        return PortalError(name, str(soda_code), _one_line(str(body.get("message") or "")),
                           _QUERY_FIX)
    if body.get("error") is True and status >= 400:  # Socrata's bare {"error": true, ...}
        return PortalError(name, f"HTTP {status}", _one_line(str(body.get("message", ""))),
                           "the portal may need an app token for this")
    return None


def _join(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
