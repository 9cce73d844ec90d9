"""`citycrier accounts check` and `citycrier retract`, against the real PDS and the X fake;
and credentials, which never appear in logs, the database, files or CLI output.

The PDS and X fake fixtures live in tests/publish/conftest.py; importing them here makes them
fixtures of this module too (so the names are "redefined" as test parameters: F811 is off).
"""
# ruff: noqa: F811

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.publish.runner import publish_due
from bot.store import Store
from tests.publish.conftest import (  # noqa: F401 (pds, x_live, bsky...: the fixtures)
    BSKY_ENV,
    MASTODON_ENV,
    THREAD_IMAGES,
    THREAD_TEXTS,
    X_ENVS,
    PdsAccount,
    assert_pds_thread,
    assert_x_thread,
    bluesky_account_toml,
    bsky,
    create_pds_account,
    mastodon_account_toml,
    mastodon_live,
    pds,
    pds_posts,
    thread_draft,
    write_config,
    x_account_toml,
    x_live,
)

CITYCRIER = Path(sys.executable).with_name("citycrier")
WRONG_PW_ENV = "CITYCRIER_TEST_ORCH_WRONG_PASSWORD"
WRONG_X_ENVS = tuple(f"CITYCRIER_TEST_ORCH_WRONG_X_{i}" for i in range(4))
UNSET_X_ENVS = tuple(f"CITYCRIER_TEST_ORCH_UNSET_X_{i}" for i in range(4))


def x_secrets() -> tuple[str, str, str, str]:
    return tuple(secrets.token_urlsafe(18) for _ in range(4))  # type: ignore[return-value]


def cli(config: Path, *args: str, answer: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], input=answer)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.pds
@pytest.mark.spec
def test_accounts_check_says_which_accounts_work_and_posts_nothing(
        tmp_path: Path, bsky: PdsAccount, x_live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from x_fake import CREDENTIALS

    monkeypatch.setenv(BSKY_ENV, bsky.password)
    monkeypatch.setenv(WRONG_PW_ENV, "not-" + bsky.password)
    for name, value in zip(X_ENVS, CREDENTIALS, strict=True):
        monkeypatch.setenv(name, value)
    for name, value in zip(WRONG_X_ENVS, x_secrets(), strict=True):
        monkeypatch.setenv(name, value)
    for name in UNSET_X_ENVS:
        monkeypatch.delenv(name, raising=False)
    config = write_config(
        tmp_path,
        bluesky_account_toml("cityhall_bluesky", bsky),
        bluesky_account_toml("old_bluesky", bsky, password_env=WRONG_PW_ENV),
        x_account_toml("cityhall_x", x_live.base_url),
        x_account_toml("wrong_x", x_live.base_url, envs=WRONG_X_ENVS),
        x_account_toml("unset_x", x_live.base_url, envs=UNSET_X_ENVS),
    )
    code, out, err = cli(config, "accounts", "check")
    assert (code, out, err) == (1, (
        f"cityhall_bluesky (bluesky): ok, logged in as {bsky.handle}\n"
        f"old_bluesky (bluesky): not working: account 'old_bluesky' ({bsky.handle}): "
        f"{bsky.url} refused the handle or app password (check {WRONG_PW_ENV}: it must be an "
        f"app password of {bsky.handle}, made under Settings > Privacy and security > App "
        "passwords)\n"
        "cityhall_x (x): ok, logged in as cityhall\n"
        "wrong_x (x): not working: X refused the credentials of account 'wrong_x' (401 "
        "Unauthorized) during the login: check the four X credentials "
        f"{', '.join(WRONG_X_ENVS)} (keys and tokens of the same app, with read and write "
        "permission)\n"
        "unset_x (x): not working: x account 'unset_x': environment variable "
        f"{UNSET_X_ENVS[0]} is not set (set it in the environment or in .env)\n"),
        "Error: 3 of 5 accounts do not work (see above)\n")
    assert pds_posts(bsky) == []
    assert x_live.writes == 0 and x_live.media == {}
    assert {(m, p) for m, p, _ in x_live.calls} == {("GET", "/2/users/me")}



@pytest.fixture
def web_page() -> Iterator[str]:
    """A web site on 127.0.0.1 that answers every request 200 with an HTML page (what an
    api_base naming the city's home page, not its Mastodon server, reaches)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>City Hall</title><p>Welcome</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_accounts_check_on_a_site_that_is_not_mastodon_is_one_line(
        tmp_path: Path, web_page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTODON_ENV, "some-token")
    config = write_config(tmp_path, mastodon_account_toml("cityhall_m", web_page))
    assert cli(config, "accounts", "check") == (1, (
        f"cityhall_m (mastodon): not working: the login: {web_page} answered 200 with "
        f"something that is not the Mastodon API's answer (check that api_base is the "
        f"Mastodon server)\n"), "Error: 1 of 1 accounts do not work (see above)\n")

@pytest.mark.spec
def test_accounts_check_verifies_a_mastodon_token_and_reads_the_instance_limits(
        tmp_path: Path, mastodon_live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mastodon_fake import TOKEN

    mastodon_live.max_characters, mastodon_live.description_limit = 1000, 1200
    monkeypatch.setenv(MASTODON_ENV, TOKEN)
    monkeypatch.setenv("CITYCRIER_TEST_ORCH_WRONG_TOKEN", "not-" + TOKEN)
    config = write_config(
        tmp_path, mastodon_account_toml("cityhall_m", mastodon_live.base_url),
        mastodon_account_toml("old_m", mastodon_live.base_url,
                              token_env="CITYCRIER_TEST_ORCH_WRONG_TOKEN"))
    code, out, err = cli(config, "accounts", "check")
    assert (code, out, err) == (1, (
        "cityhall_m (mastodon): ok, logged in as cityhall; posts up to 1000 characters, 4 "
        "images, alt text up to 1200 characters\n"
        "old_m (mastodon): not working: Mastodon refused the access token of account 'old_m' "
        "(401 Unauthorized: The access token is invalid) during the login: check "
        "CITYCRIER_TEST_ORCH_WRONG_TOKEN (a token with read and write scopes)\n"),
        "Error: 1 of 2 accounts do not work (see above)\n")
    assert mastodon_live.writes == 0
    assert {(m, p) for m, p, _ in mastodon_live.calls} == {
        ("GET", "/api/v1/accounts/verify_credentials"), ("GET", "/api/v2/instance")}
    saved = (tmp_path / "state" / "limits-cityhall_m.json").read_text()
    assert saved == ('{"description_limit": 1200, "max_characters": 1000, '
                     '"max_media_attachments": 4}\n')
    assert TOKEN not in out + err + saved
    # a wrong token leaves whatever limits were known, and no file of its own
    assert not (tmp_path / "state" / "limits-old_m.json").exists()


def test_accounts_check_without_accounts_points_to_the_outbox(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert cli(config, "accounts", "check") == (
        0, "no accounts in config.toml: approved threads go to the outbox\n", "")


@pytest.mark.pds
@pytest.mark.spec
def test_retract_from_the_command_line_lists_what_it_deleted(
        tmp_path: Path, bsky: PdsAccount, x_live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from x_fake import CREDENTIALS

    monkeypatch.setenv(BSKY_ENV, bsky.password)
    for name, value in zip(X_ENVS, CREDENTIALS, strict=True):
        monkeypatch.setenv(name, value)
    path = write_config(tmp_path, bluesky_account_toml("cityhall", bsky),
                        x_account_toml("cityhall_x", x_live.base_url))
    config = load_config(path)
    store = Store(config.storage_url)
    now = datetime.now(UTC)
    draft_id, _ = store.create_draft(thread_draft(slot_at=now))
    assert cli(path, "retract", str(draft_id), "--yes") == (
        1, "", f"Error: draft {draft_id} is approved: only a published, partially published or "
               "on-hold thread can be retracted\n")
    assert publish_due(config, store, now)[0].state == "published"
    records = pds_posts(bsky)
    assert_pds_thread(records, list(THREAD_TEXTS), THREAD_IMAGES)
    tweets = [t.id for t in x_live.thread()]

    assert cli(path, "retract", str(draft_id), "--as", "dana", answer="n\n") == (
        1, f"Delete every post of draft {draft_id} (311 calls: the week, last week) on every "
           "platform? [y/N]: n\n", "Error: not retracted\n")
    assert len(pds_posts(bsky)) == 5

    code, out, err = cli(path, "retract", str(draft_id), "--yes", "--as", "dana")
    assert (code, err) == (0, "")
    assert out == "".join(
        [f"deleted bluesky post {n}: {records[n - 1].uri}\n" for n in (5, 4, 3, 2, 1)]
        + [f"deleted x post {n}: https://x.com/i/web/status/{tweets[n - 1]}\n"
           for n in (5, 4, 3, 2, 1)]
        + [f"draft {draft_id} retracted: 10 posts deleted\n"])
    assert pds_posts(bsky) == [] and x_live.thread() == []
    store.close()


# -- credentials never appear --------------------------------------------------------------


@pytest.fixture
def x_secret_fake() -> Iterator[Any]:
    """An X fake that accepts only freshly made random credentials (so a grep means it)."""
    from x_fake import XFake

    with XFake(credentials=x_secrets()) as fake:
        yield fake
    assert fake.mismatches == []


@pytest.mark.pds
@pytest.mark.spec
def test_credentials_never_appear_in_output_logs_files_or_the_database(
        tmp_path: Path, pds: Any, x_secret_fake: Any) -> None:
    account = create_pds_account(pds, "secret")
    wrong_x = x_secrets()
    wrong_pw = "not-" + account.password
    path = write_config(
        tmp_path,
        bluesky_account_toml("cityhall", account),
        bluesky_account_toml("old_bluesky", account, password_env=WRONG_PW_ENV),
        x_account_toml("cityhall_x", x_secret_fake.base_url),
        x_account_toml("wrong_x", x_secret_fake.base_url, envs=WRONG_X_ENVS),
    )
    values = {BSKY_ENV: account.password, WRONG_PW_ENV: wrong_pw,
              **dict(zip(X_ENVS, x_secret_fake.credentials, strict=True)),
              **dict(zip(WRONG_X_ENVS, wrong_x, strict=True))}
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    config = load_config(path)
    store = Store(config.storage_url)
    draft_id, _ = store.create_draft(thread_draft(slot_at=datetime.now(UTC)))
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYCRIER_")}

    def run(*args: str) -> str:
        done = subprocess.run([str(CITYCRIER), "--verbose", *args, "--config", str(path)],
                              env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        return f"{done.returncode}\n{done.stdout}\n{done.stderr}"

    said = [run("accounts", "check"), run("publish"), run("show", str(draft_id)),
            run("queue", "--state", "published"), run("retract", str(draft_id), "--yes")]
    assert said[0].startswith("1\ncityhall (bluesky): ok, logged in as ")
    assert said[1].startswith(f"0\ndraft {draft_id} (calls): published: every post confirmed "
                              "on bluesky, x\n")
    assert said[4].startswith(f"0\ndeleted bluesky post 5: at://{account.did}/")
    assert "DEBUG" in said[1] or '"level": "debug"' in said[1]  # verbose logging was on

    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != ".env"}
    assert any(p.name == "citycrier.db" for p in files)
    assert any(p.name == "bluesky-cityhall.session" for p in files)
    for name, secret in values.items():
        for text in said:
            assert secret not in text, f"{name} appears in CLI output or logs"
        for file, data in files.items():
            assert secret.encode() not in data, f"{name} appears in {file.name}"
