"""Approval desk commands: `serve` and `users` (add, list, passwd, remove).

The web stack (starlette, uvicorn) is imported only when `serve` runs.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli import actor_option, config_option, load, main, open_store
from bot.errors import BotError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: the OS picks one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (pick another "
                       f"--port, or stop what uses it)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@main.command()
@config_option
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: [web] port; 0 lets the OS pick).")
@click.pass_context
def serve(ctx: click.Context, config_path: Path | None, host: str | None,
          port: int | None) -> None:
    """Run the approval desk, a web page for reviewing and approving drafts.

    It listens on 127.0.0.1 unless told otherwise; put it behind an HTTPS reverse proxy to
    reach it from other machines. Sessions are signed with the secret in the environment
    variable that [web] secret_key_env names (CITYCRIER_SECRET_KEY by default).

    \b
    Example:
      export CITYCRIER_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
      citycrier serve
    """
    import logging

    import uvicorn

    from bot.people import has_users
    from bot.web import create_app
    from bot.web.app import secret_key

    config = load(ctx, config_path)
    secret = secret_key(config)  # refuse before anything else when it is missing
    host = host or config.web.host
    port = config.web.port if port is None else port
    store = open_store(config)
    app = create_app(config, store=store, secret=secret)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"citycrier desk: http://{shown}:{bound}/  (Ctrl+C stops it)")
    if not has_users(store):
        click.secho("nobody can sign in yet: add someone with "
                    "`citycrier users add NAME --role admin`", fg="yellow", err=True)
    if host not in LOOPBACK:
        click.secho(f"listening on {host}, beyond this machine: serve it through HTTPS only "
                    f"(a reverse proxy), or sign-ins travel in clear text", fg="yellow",
                    err=True)
    verbose = logging.getLogger().level <= logging.DEBUG
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="info" if verbose else "warning", access_log=verbose,
        proxy_headers=True, server_header=False, timeout_graceful_shutdown=5, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()


@main.group()
def users() -> None:
    """People who may use the approval desk, and their roles.

    \b
    Roles: viewer (reads), editor (edits, reschedules), approver (also approves and
    rejects), admin (everything). Whoever runs these commands owns the database, so they
    need no desk role; the acting name (--as) is recorded in the audit trail.
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise BotError("--password-stdin: nothing came on standard input")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password (10 characters or more)", hide_input=True,
                              confirmation_prompt=True)
    return value


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["viewer", "editor", "approver",
                                                          "admin"]), help="What they may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@config_option
@actor_option
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool,
              config_path: Path | None, actor: str) -> None:
    """Add a person (asks for their password).

    Example: citycrier users add dana --role approver
    """
    from bot.people import add_user

    store = open_store(load(ctx, config_path))
    add_user(store, name, role, _password(password_stdin), actor=actor)
    click.echo(f"added {name} as {role}")


@users.command("list")
@config_option
@click.pass_context
def users_list(ctx: click.Context, config_path: Path | None) -> None:
    """List the people who may sign in, with their roles.

    Example: citycrier users list
    """
    from bot.people import list_users

    people: list[Any] = list_users(open_store(load(ctx, config_path)))
    if not people:
        click.echo("nobody yet: add someone with `citycrier users add NAME --role admin`")
    for name, role in people:
        click.echo(f"{name:<24} {role}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@config_option
@actor_option
@click.pass_context
def users_passwd(ctx: click.Context, name: str, password_stdin: bool,
                 config_path: Path | None, actor: str) -> None:
    """Set a new password (which signs that person out of the desk).

    Example: citycrier users passwd dana
    """
    from bot.people import set_password

    set_password(open_store(load(ctx, config_path)), name, _password(password_stdin),
                 actor=actor)
    click.echo(f"password changed for {name}")


@users.command("remove")
@click.argument("name")
@config_option
@actor_option
@click.pass_context
def users_remove(ctx: click.Context, name: str, config_path: Path | None,
                 actor: str) -> None:
    """Stop a person signing in (their name stays in the history).

    Example: citycrier users remove dana
    """
    from bot.people import remove_user

    remove_user(open_store(load(ctx, config_path)), name, actor=actor)
    click.echo(f"removed {name}: they can no longer sign in")
