"""bot/http.py: retries with a fake clock, the conditional cache, and every error's one line."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.errors import BotError, PortalError, SourceError
from bot.http import PageProgress, PortalClient
from bot.settings import PortalConfig

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
URL = "https://data.example.gov/resource/abcd-1234.json"


class FakeClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class HalfRandom:
    """Jitter that always lands in the middle: a delay d becomes 0.75 d."""

    def random(self) -> float:
        return 0.5


def portal(kind: str = "socrata", **kw: object) -> PortalConfig:
    return PortalConfig("demo", kind, "Demo", url="https://data.example.gov",
                        **kw)  # type: ignore[arg-type]


def make(handler: Callable[[httpx.Request], httpx.Response], kind: str = "socrata",
         clock: FakeClock | None = None, **kw: object) -> PortalClient:
    options = {k: v for k, v in kw.items() if k in ("cache_dir", "no_cache", "headers")}
    config = {k: v for k, v in kw.items() if k not in options}
    return PortalClient(portal(kind, **config), client=httpx.Client(
        transport=httpx.MockTransport(handler)), clock=clock or FakeClock(), rng=HalfRandom(),
        **options)  # type: ignore[arg-type]


def sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request],
                                                                 httpx.Response]:
    """A handler answering with each response in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen), len(responses)) - 1]
        if isinstance(item, Exception):
            raise item
        return item

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def message_of(client: PortalClient, url: str = URL) -> str:
    with pytest.raises(BotError) as caught:
        client.get_json(url, dataset="abcd-1234")
    return str(caught.value)


def test_every_request_names_citycrier_and_version() -> None:
    handler = sequence(httpx.Response(200, json=[]))
    make(handler).get_json(URL)
    agent = handler.seen[0].headers["user-agent"]  # type: ignore[attr-defined]
    assert agent == "citycrier/0.1.0 (+https://github.com/citycrier/citycrier)"


def test_server_errors_are_retried_with_growing_jittered_waits() -> None:
    clock = FakeClock()
    handler = sequence(httpx.Response(503, json={}), httpx.Response(500, json={}),
                       httpx.Response(200, json=[{"a": "1"}]))
    body, reply = make(handler, clock=clock).get_json(URL)
    assert body == [{"a": "1"}]
    assert clock.sleeps == [0.75, 1.5]  # 1 s then 2 s, each times the jitter factor 0.75


def test_retries_stop_after_portal_retries() -> None:
    clock = FakeClock()
    handler = sequence(httpx.Response(503, json={}))
    client = make(handler, clock=clock, retries=2)
    assert message_of(client) == ("portal 'demo': the portal failed with HTTP 503 after 3 "
                                  "tries (the portal may be down; try again later)")
    assert len(handler.seen) == 3  # type: ignore[attr-defined]
    assert clock.sleeps == [0.75, 1.5]


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    handler = sequence(httpx.Response(429, headers={"Retry-After": "7"}, json={}),
                       httpx.Response(200, json=[]))
    make(handler, clock=clock).get_json(URL)
    assert clock.sleeps == [7.0]


def test_throttling_without_a_token_says_how_to_get_one() -> None:
    client = make(sequence(httpx.Response(429, json={})), retries=1)
    assert message_of(client) == (
        "portal 'demo': the portal kept answering HTTP 429 (too many requests) after 2 tries "
        "(get an app token from the portal and add app_token_env to [portals.demo] in "
        "config.toml)")


def test_throttling_with_an_unset_token_variable_names_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_TOKEN", raising=False)
    client = make(sequence(httpx.Response(429, json={})), retries=0,
                  app_token_env="DEMO_TOKEN")
    assert message_of(client) == (
        "portal 'demo': the portal kept answering HTTP 429 (too many requests) after 1 try "
        "(set the environment variable DEMO_TOKEN to the portal's app token)")


def test_socrata_202_means_ask_again() -> None:
    clock = FakeClock()
    handler = sequence(httpx.Response(202, json={}), httpx.Response(202, json={}),
                       httpx.Response(200, json=[{"n": "3"}]))
    body, _ = make(handler, clock=clock).get_json(URL)
    assert body == [{"n": "3"}]
    assert len(clock.sleeps) == 2


def test_socrata_202_forever_is_bounded() -> None:
    client = make(sequence(httpx.Response(202, json={})), retries=3)
    assert message_of(client) == ("portal 'demo': the portal was still preparing the answer "
                                  "(HTTP 202) after 4 tries (try again in a few minutes)")


def test_202_from_other_portals_is_an_answer() -> None:
    body, reply = make(sequence(httpx.Response(202, json={"count": 4})), kind="arcgis"
                       ).get_json(URL)
    assert body == {"count": 4} and reply.status == 202


def test_timeouts_are_retried_then_explained() -> None:
    clock = FakeClock()
    handler = sequence(httpx.ReadTimeout("timed out"))
    client = make(handler, clock=clock, retries=2, timeout_seconds=12.5)
    assert message_of(client) == (
        "portal 'demo': data.example.gov did not answer within 12.5 seconds (3 tries) (try "
        "again later, or raise timeout_seconds for this portal in config.toml)")
    assert len(clock.sleeps) == 2


def test_dns_failure_names_the_host_and_is_not_retried() -> None:
    clock = FakeClock()
    handler = sequence(httpx.ConnectError("[Errno -2] Name or service not known"))
    assert message_of(make(handler, clock=clock)) == (
        "portal 'demo': cannot find the host data.example.gov (DNS lookup failed) (check the "
        "portal's url in config.toml and this machine's internet connection)")
    assert clock.sleeps == []


def test_a_closed_port_is_refused_after_bounded_retries() -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = FakeClock()
    client = PortalClient(PortalConfig("demo", "ckan", "Demo", retries=1), clock=clock)
    with pytest.raises(SourceError) as caught:
        client.get_json(f"http://127.0.0.1:{port}/api/3/action/package_show")
    assert str(caught.value) == (f"portal 'demo': cannot connect to 127.0.0.1:{port} "
                                 "(connection refused) (check that the portal is up and its "
                                 "url in config.toml)")
    assert len(clock.sleeps) == 1


def test_an_html_error_page_is_explained() -> None:
    page = httpx.Response(502, headers={"Content-Type": "text/html"},
                          content=b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert message_of(make(sequence(page), retries=1)) == (
        "portal 'demo': returned an HTML page instead of data (HTTP 502): the portal may be "
        "down; try again later")


def test_an_html_page_with_200_is_not_data() -> None:
    page = httpx.Response(200, content=b"<!DOCTYPE html><html><title>Sign in</title></html>")
    assert message_of(make(sequence(page))) == (
        "portal 'demo': returned an HTML page instead of data (HTTP 200): the portal may be "
        "down; try again later")


def test_socrata_code_body() -> None:
    body = {"code": "query.compiler.malformed", "error": True,
            "message": 'Could not parse SoQL query "select foo(" at line 1 character 12',
            "data": {"query": "select foo(", "position": {"line": 1, "column": 12}}}
    assert message_of(make(sequence(httpx.Response(400, json=body)))) == (
        "portal 'demo': the portal answered with an error: query.compiler.malformed: Could "
        "not parse SoQL query \"select foo(\" at line 1 character 12 (check the recipe's "
        "columns and filters with `citycrier sources describe`)")


def test_socrata_error_code_body_becomes_one_line() -> None:
    body = {"message": "Query coordinator error: query.soql.no-such-column; No such column: "
                       "foo;\n position: Map(row -> 1, column -> 8)",
            "errorCode": "query.soql.no-such-column",
            "data": {"column": "foo", "dataset": "alpha.1", "position": {"row": 1}}}
    text = message_of(make(sequence(httpx.Response(400, json=body))))
    assert text == (
        "portal 'demo': the portal answered with an error: query.soql.no-such-column: Query "
        "coordinator error: query.soql.no-such-column; No such column: foo; position: "
        "Map(row -> 1, column -> 8) (check the recipe's columns and filters with `citycrier "
        "sources describe`)")
    assert "\n" not in text


@pytest.mark.realdata
def test_socrata_dataset_missing_recorded_body() -> None:
    import yaml

    cassette = yaml.safe_load((SHARED / "fixtures" / "socrata" / "test_get_missing.yaml")
                              .read_text(encoding="utf-8"))
    recorded = cassette["interactions"][0]
    response = httpx.Response(recorded["response"]["status"]["code"],
                              content=recorded["response"]["body"]["string"].encode(),
                              headers={"Content-Type": "application/json; charset=utf-8"})
    with pytest.raises(SourceError) as caught:
        make(sequence(response)).get_json(recorded["request"]["uri"], dataset="songs")
    assert str(caught.value) == (
        "portal 'demo': dataset 'songs' does not exist (HTTP 404 dataset.missing) (check the "
        "dataset id in the recipe and the portal's url in config.toml)")


@pytest.mark.realdata
def test_socrata_login_required_recorded_body() -> None:
    body = (SHARED / "fixtures" / "socrata" / "403_response_json.txt").read_bytes()
    assert message_of(make(sequence(httpx.Response(403, content=body)))) == (
        "portal 'demo': the portal answered with an error: HTTP 403: You must be logged in to "
        "access this resource (the portal may need an app token for this)")


def test_arcgis_error_arrives_with_http_200() -> None:
    body = {"error": {"code": 400, "message": "Cannot perform query. Invalid query parameters.",
                      "details": ["'where' parameter is invalid"]}}
    with pytest.raises(PortalError) as caught:
        make(sequence(httpx.Response(200, json=body)), kind="arcgis").get_json(URL)
    assert str(caught.value) == (
        "portal 'demo': the portal answered with an error: 400: Cannot perform query. Invalid "
        "query parameters. ('where' parameter is invalid) (check the recipe's columns and "
        "filters with `citycrier sources describe`)")


def test_arcgis_token_required() -> None:
    body = {"error": {"code": 499, "message": "Token Required", "details": []}}
    assert message_of(make(sequence(httpx.Response(200, json=body)), kind="arcgis")) == (
        "portal 'demo': the portal answered with an error: 499: Token Required (the layer is "
        "not public: it needs a token)")


def test_ckan_success_false() -> None:
    body = {"help": "https://ckan.example/api/3/action/help_show?name=datastore_search",
            "success": False, "error": {"__type": "Not Found Error",
                                        "message": 'Not found: Resource "abc" was not found.'}}
    assert message_of(make(sequence(httpx.Response(404, json=body)), kind="ckan")) == (
        "portal 'demo': the portal answered with an error: Not Found Error: Not found: "
        "Resource \"abc\" was not found. (check the resource id in the recipe)")


def test_ckan_validation_error_lists_fields() -> None:
    body = {"help": "h", "success": False,
            "error": {"__type": "Validation Error", "fields": ['field "zz" not in table']}}
    assert message_of(make(sequence(httpx.Response(409, json=body)), kind="ckan")) == (
        "portal 'demo': the portal answered with an error: Validation Error: fields: field "
        "\"zz\" not in table (check the recipe's columns and filters with `citycrier sources "
        "describe`)")


def test_ckan_unknown_action_is_a_bare_json_string() -> None:
    body = json.dumps("Bad request - Action name not known: datastore_search_sql").encode()
    assert message_of(make(sequence(httpx.Response(400, content=body)), kind="ckan")) == (
        "portal 'demo': the portal answered with an error: HTTP 400: Bad request - Action "
        "name not known: datastore_search_sql (check the recipe's columns and filters with "
        "`citycrier sources describe`)")


def test_an_unknown_404_names_the_host() -> None:
    assert message_of(make(sequence(httpx.Response(404, text="nothing here")))) == (
        "portal 'demo': data.example.gov has no such dataset or page (HTTP 404) (check the "
        "dataset id in the recipe and the portal's url in config.toml)")


def test_not_json() -> None:
    assert message_of(make(sequence(httpx.Response(200, text="id,name\n1,a\n")))) == (
        "portal 'demo': returned something that is not JSON (HTTP 200, text/plain, starting "
        "'id,name 1,a') (the url points at a page or file, not the portal's API: check the "
        "portal's url in config.toml)")


def test_unchanged_data_is_answered_from_the_cache(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, json=[{"a": "1"}], headers={
            "ETag": '"v1"', "Last-Modified": "Sat, 31 Oct 2026 12:00:00 GMT"})

    first = make(handler, cache_dir=tmp_path)
    body1, reply1 = first.get_json(URL, {"$limit": "5"})
    second = make(handler, cache_dir=tmp_path)
    body2, reply2 = second.get_json(URL, {"$limit": "5"})
    assert body1 == body2 == [{"a": "1"}]
    assert not reply1.from_cache and reply2.from_cache
    assert "if-none-match" not in seen[0].headers
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert seen[1].headers["if-modified-since"] == "Sat, 31 Oct 2026 12:00:00 GMT"
    assert second.bytes_received == 0  # a 304 carries no body


def test_no_cache_sends_no_conditions(tmp_path: Path) -> None:
    handler = sequence(httpx.Response(200, json=[], headers={"ETag": '"v1"'}))
    make(handler, cache_dir=tmp_path).get_json(URL)
    make(handler, cache_dir=tmp_path, no_cache=True).get_json(URL)
    assert "if-none-match" not in handler.seen[1].headers  # type: ignore[attr-defined]


def test_bytes_and_requests_are_counted() -> None:
    client = make(sequence(httpx.Response(200, content=b'[{"a":"1"}]')))
    client.get_json(URL)
    client.get_json(URL)
    assert (client.requests_sent, client.bytes_received) == (2, 22)


def test_the_app_token_is_sent_but_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = sequence(httpx.Response(500, json={}), httpx.Response(400, json={
        "code": "query.compiler.malformed", "message": "bad"}))
    client = make(handler, headers={"X-App-Token": "s3cr3t-t0ken"})
    with pytest.raises(PortalError) as caught:
        client.get_json(URL, {"$limit": "1"})
    assert handler.seen[0].headers["x-app-token"] == "s3cr3t-t0ken"  # type: ignore[attr-defined]
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(caught.value)
    assert "trying again" in caplog.text


def test_progress_stays_quiet_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.http")
    with PageProgress("demo: abcd-1234", 10, interactive=False) as bar:
        bar.advance(5)
        bar.advance(5)
    assert [r.getMessage() for r in caplog.records] == ["demo: abcd-1234: 5 of 10 rows",
                                                        "demo: abcd-1234: 10 of 10 rows"]


def test_progress_bar_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with PageProgress("demo: abcd-1234", 2, interactive=True) as bar:
        bar.advance(2)
    assert bar.done == 2
    assert capsys.readouterr().out == ""  # the bar draws on stderr, never on stdout


def test_retry_after_as_an_http_date_counts_from_the_replys_date() -> None:
    clock = FakeClock()
    handler = sequence(httpx.Response(503, headers={
        "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"},
        json={}), httpx.Response(200, json=[]))
    make(handler, clock=clock).get_json(URL)
    assert clock.sleeps == [30.0]


def test_retry_after_in_the_past_or_unreadable_leaves_the_backoff() -> None:
    clock = FakeClock()
    handler = sequence(
        httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
                                     "Date": "Wed, 21 Oct 2015 08:00:00 GMT"}, json={}),
        httpx.Response(429, headers={"Retry-After": "soon"}, json={}),
        httpx.Response(200, json=[]))
    make(handler, clock=clock).get_json(URL)
    assert clock.sleeps == [0.75, 1.5]


def test_a_broken_json_body_is_not_answered_from_the_cache_again(tmp_path: Path) -> None:
    handler = sequence(httpx.Response(200, headers={"ETag": '"v1"',
                                                    "Content-Type": "application/json"},
                                      content=b'[{"a": "1"'),
                       httpx.Response(200, headers={"ETag": '"v1"'}, json=[{"a": "1"}]))
    client = make(handler, cache_dir=tmp_path)
    assert message_of(client) == (
        "portal 'demo': sent a broken JSON answer (HTTP 200, 10 bytes, starting '[{\"a\": "
        "\"1\"') (it may have been cut off on the way: try again; if it keeps happening, the "
        "portal is at fault)")
    body, _ = client.get_json(URL)
    assert body == [{"a": "1"}]
    seen = handler.seen  # type: ignore[attr-defined]
    assert "if-none-match" not in seen[1].headers  # the broken body was not kept
