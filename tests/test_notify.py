"""Notices: a real SMTP server (aiosmtpd) and a real HTTP server on loopback receive them;
failures to deliver are logged, never raised."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bot.config import load_config
from bot.notify import (
    desk_url,
    local_time,
    notify_expired,
    notify_failed,
    notify_waiting,
    send_notice,
)
from bot.settings import Config, NotifyConfig, WebConfig
from bot.store import Draft

ROOT = Path(__file__).resolve().parents[1]
HOOK_ENV = "CITYCRIER_TEST_WEBHOOK_URL"
SLOT = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)  # noon in Chicago


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class LoopbackSMTP(Controller):
    """aiosmtpd's Controller on a socket the OS gave a free port (port 0) on 127.0.0.1."""

    def __init__(self, handler: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1])

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock,
                                       ssl=self.ssl_context)


@pytest.fixture
def smtp() -> Iterator[tuple[LoopbackSMTP, Inbox]]:
    inbox = Inbox()
    server = LoopbackSMTP(inbox)
    server.start()
    yield server, inbox
    server.stop()


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.received = []
    server.status = 200
    server.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/SECRETTOKEN"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _config(notify: NotifyConfig) -> Config:
    base = load_config(ROOT / "config.toml")
    return dataclasses.replace(base, notify=notify, web=WebConfig(host="127.0.0.1", port=8080))


def _draft(**changes: Any) -> Draft:
    values: dict[str, Any] = dict(
        id=7, recipe="baltimore_311_weekend", title="Baltimore 311: the weekend in requests",
        period_key="2026-10-31-weekend", period_label="last weekend (Oct. 31–Nov. 1)",
        as_of=SLOT, slot_at=SLOT, state="pending_review", approval="required",
        platforms=("bluesky", "x"), data_hash="h", revision=1, reasons=(), figures={},
        source={}, error="", retry_at=None, created_at=SLOT, updated_at=SLOT)
    values.update(changes)
    return Draft(**values)


WAITING = ("Draft 7 is waiting for review: Baltimore 311: the weekend in requests, last weekend "
           "(Oct. 31–Nov. 1). It is due to post Mon, Nov 2, 12:00 PM CST; if nobody approves "
           "it by then, it expires. Review it: http://127.0.0.1:8080/drafts/7")


def test_a_waiting_notice_reaches_the_webhook_and_the_mailbox(
        smtp: tuple[LoopbackSMTP, Inbox], webhook: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, inbox = smtp
    monkeypatch.setenv(HOOK_ENV, webhook.url)
    config = _config(NotifyConfig(
        webhook_url_env=HOOK_ENV, smtp_host="127.0.0.1", smtp_port=server.port,
        smtp_from="citycrier@city.example", smtp_to=("comms@city.example", "cdo@city.example")))
    assert notify_waiting(config, _draft()) == ["webhook", "email"]
    assert webhook.received == [("/services/T0/B0/SECRETTOKEN", "application/json",
                                 {"text": WAITING})]
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "citycrier@city.example"
    assert envelope.rcpt_tos == ["comms@city.example", "cdo@city.example"]
    mail: Any = message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"].strip() == ("[citycrier] Waiting for review: Baltimore 311: the "
                                       "weekend in requests")
    assert mail["To"] == "comms@city.example, cdo@city.example"
    assert mail.get_content().replace("\r\n", "\n") == WAITING + "\n"


def test_expired_and_failed_notices_say_what_to_do(webhook: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOOK_ENV, webhook.url)
    config = _config(NotifyConfig(webhook_url_env=HOOK_ENV))
    assert notify_expired(config, _draft(state="expired")) == ["webhook"]
    assert notify_failed(config, _draft(), "bluesky: the PDS refused the post") == ["webhook"]
    assert [body["text"] for _, _, body in webhook.received] == [
        "Draft 7 expired unapproved: Baltimore 311: the weekend in requests, last weekend "
        "(Oct. 31–Nov. 1). Its slot, Mon, Nov 2, 12:00 PM CST, passed. To post it after all, "
        "reschedule it on the desk: http://127.0.0.1:8080/drafts/7",
        "Publishing draft 7 failed: Baltimore 311: the weekend in requests, last weekend "
        "(Oct. 31–Nov. 1): bluesky: the PDS refused the post. `citycrier publish` resumes it "
        "without posting twice; details: http://127.0.0.1:8080/drafts/7"]


def test_the_webhook_text_is_escaped_for_slack_and_lists_guard_reasons(
        webhook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOOK_ENV, webhook.url)
    config = _config(NotifyConfig(webhook_url_env=HOOK_ENV))
    notify_waiting(config, _draft(title="<script>alert(1)</script> & co",
                                  reasons=("the total moved +80%",)))
    text = webhook.received[0][2]["text"]
    assert text.startswith("Draft 7 is waiting for review: &lt;script&gt;alert(1)&lt;/script"
                           "&gt; &amp; co, last weekend")
    assert "it expires. Please check: the total moved +80%. Review it:" in text


def test_a_webhook_that_fails_is_logged_not_raised_and_its_url_stays_secret(
        webhook: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(HOOK_ENV, webhook.url)
    webhook.status = 500
    config = _config(NotifyConfig(webhook_url_env=HOOK_ENV))
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        assert notify_waiting(config, _draft()) == []
    assert caplog.messages == [f"notice not sent by webhook (${HOOK_ENV}): it answered HTTP 500"]
    assert "SECRETTOKEN" not in caplog.text


def test_an_unreachable_mail_server_is_logged_not_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(NotifyConfig(smtp_host="127.0.0.1", smtp_port=port,
                                  smtp_to=("comms@city.example",)))
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        assert notify_failed(config, _draft(), "boom") == []
    assert caplog.messages[0].startswith(f"notice not sent by email via 127.0.0.1:{port}: ")


def test_an_unset_webhook_variable_is_logged(monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(HOOK_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        assert send_notice(NotifyConfig(webhook_url_env=HOOK_ENV), "s", "t") == []
    assert caplog.messages == [
        f"notice not sent by webhook: the environment variable {HOOK_ENV} is empty or unset "
        f"(config.toml [notify] webhook_url_env names it)"]


def test_missing_smtp_credentials_are_logged(monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("CITYCRIER_TEST_SMTP_USER", raising=False)
    notify = NotifyConfig(smtp_host="127.0.0.1", smtp_to=("a@b.example",),
                          smtp_user_env="CITYCRIER_TEST_SMTP_USER",
                          smtp_password_env="CITYCRIER_TEST_SMTP_PASSWORD")
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        assert send_notice(notify, "s", "t") == []
    assert caplog.messages == [
        "notice not sent by email: set CITYCRIER_TEST_SMTP_USER and "
        "CITYCRIER_TEST_SMTP_PASSWORD (config.toml [notify] names them)"]


def test_nothing_configured_sends_nothing_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot.notify"):
        assert send_notice(NotifyConfig(), "s", "t") == []
    assert caplog.messages == []


def test_times_and_links_read_plainly() -> None:
    assert local_time(SLOT, "America/Chicago") == "Mon, Nov 2, 12:00 PM CST"
    config = _config(NotifyConfig())
    wild = dataclasses.replace(config, web=WebConfig(host="0.0.0.0", port=9000))
    assert desk_url(wild, 3) == "http://localhost:9000/drafts/3"
    v6 = dataclasses.replace(config, web=WebConfig(host="::1", port=9000))
    assert desk_url(v6) == "http://[::1]:9000/"
