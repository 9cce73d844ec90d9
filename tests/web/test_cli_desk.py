"""`citycrier users ...` and `citycrier serve`'s refusal without a session secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

from .conftest import ROOT


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path / "config.toml"


def _run(config_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(config_path)], input=stdin)
    return result.exit_code, result.output


def test_users_add_list_passwd_remove(config_path: Path) -> None:
    assert _run(config_path, "users", "list") == (
        0, "nobody yet: add someone with `citycrier users add NAME --role admin`\n")
    assert _run(config_path, "users", "add", "dana", "--role", "approver", "--password-stdin",
                "--as", "ops", stdin="correct horse battery\n") == (0, "added dana as approver\n")
    code, out = _run(config_path, "users", "add", "lee", "--role", "viewer",
                     stdin="correct horse battery\ncorrect horse battery\n")
    assert code == 0 and out.endswith("added lee as viewer\n")
    assert _run(config_path, "users", "list") == (
        0, "dana                     approver\nlee                      viewer\n")
    assert _run(config_path, "users", "passwd", "dana", "--password-stdin",
                stdin="another long password\n") == (0, "password changed for dana\n")
    assert _run(config_path, "users", "remove", "lee") == (
        0, "removed lee: they can no longer sign in\n")
    assert _run(config_path, "users", "remove", "lee") == (
        1, "Error: no user 'lee' (see `citycrier users list`)\n")
    assert _run(config_path, "users", "add", "x", "--role", "viewer", "--password-stdin",
                stdin="short\n") == (1, "Error: the password must be at least 10 characters\n")


def test_serve_refuses_without_a_secret_in_one_line(config_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYCRIER_SECRET_KEY", raising=False)
    code, out = _run(config_path, "serve", "--port", "0")
    assert code == 1
    assert out == ("Error: CITYCRIER_SECRET_KEY is not set: the desk signs its session cookies "
                   "with it. Set it to a long random string, e.g. export CITYCRIER_SECRET_KEY="
                   "\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" (or "
                   "put it in .env)\n")
