"""Health checks: what `citycrier doctor` runs, one line each, and what `/healthz` asks of
the database.

    database     reachable, and its schema the one this citycrier writes
    folders      state_dir and outbox_dir writable (or creatable)
    portals      each remote portal's host answers HTTP; each file portal's folder exists
    accounts     each account logs in (nothing is posted)
    schedules    each enabled recipe's next run

A check never changes the store: the database is opened without migrating it, and an SQLite
file that does not exist yet is not created.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.database import FOLDER_SETTING, database_keeps, shown_url, sqlite_path
from bot.errors import BotError, PublishError
from bot.folders import folder_problem
from bot.settings import AccountConfig, Config, PortalConfig, Recipe

OK, WARN, FAIL = "ok", "warn", "fail"
PORTAL_TIMEOUT = 5.0  # seconds a portal's host has to answer


@dataclass(frozen=True)
class Check:
    what: str  # "database postgresql://...", "state folder /srv/state", "portal NAME", ...
    state: str  # ok | warn | fail
    detail: str

    @property
    def ok(self) -> bool:
        return self.state != FAIL

    def __str__(self) -> str:
        return f"{self.state:<4} {self.what}: {self.detail}"


def check_database(url: str, store: Any = None) -> Check:
    """Reachable, and the schema current. With `store`, asks through its engine (the desk's
    /healthz); without, opens the database for the check only, migrating nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot import schema
    from bot.store import Store

    what = f"database {shown_url(url)}"
    path = sqlite_path(url)
    if store is None and path and not os.path.exists(path):
        problem = folder_problem(Path(path).parent, database_keeps(path), FOLDER_SETTING)
        return Check(what, FAIL, problem) if problem else \
            Check(what, OK, "not created yet: citycrier creates it on first use")
    try:
        own = store or Store(url, migrate=False)
        try:
            with own.engine.connect() as conn:
                have = schema.current_version(conn)
        finally:
            if store is None:
                own.close()
    except BotError as exc:  # the line names the URL already
        return Check(what, FAIL, exc.message.removeprefix(
            f"cannot reach the database {shown_url(url)}: "))
    except SQLAlchemyError as exc:
        return Check(what, FAIL, " ".join(str(getattr(exc, "orig", None) or exc).split()))
    latest = schema.LATEST
    if have == latest:
        return Check(what, OK, f"reachable, schema version {have} (current)")
    if have == 0:
        return Check(what, WARN, "reachable and empty: citycrier creates its tables when "
                                 "it first opens it")
    if have < latest:
        return Check(what, WARN, f"schema version {have}: citycrier upgrades it to {latest} "
                                 f"(keeping every row) when it next opens it")
    return Check(what, FAIL, f"schema version {have} is newer than this citycrier knows "
                             f"({latest}): upgrade citycrier")


def check_folder(label: str, path: Path, keeps: str, setting: str) -> Check:
    problem = folder_problem(path, keeps, setting)
    if problem:
        return Check(f"{label} {path}", FAIL, problem)
    return Check(f"{label} {path}", OK, "writable" if path.is_dir() else
                 "can be created (on first use)")


def check_portal(portal: PortalConfig) -> Check:
    what = f"portal {portal.name}"
    if portal.kind == "file":
        path = portal.path
        if path is not None and Path(path).is_dir():
            return Check(what, OK, f"folder {path} is there")
        if portal.synthetic:
            return Check(what, OK, f"the synthetic sample is generated in {path} on first use")
        return Check(what, FAIL, f"folder {path} is not there (create it, or fix "
                                 f"[portals.{portal.name}] path)")
    import httpx

    from bot.http import USER_AGENT, is_dns_failure

    host = urlsplit(portal.url).netloc
    started = time.monotonic()
    try:
        with httpx.Client(timeout=min(PORTAL_TIMEOUT, portal.timeout_seconds or PORTAL_TIMEOUT),
                          headers={"User-Agent": USER_AGENT}) as client:
            reply = client.get(portal.url)
    except httpx.TimeoutException:
        return Check(what, FAIL, f"{host} did not answer within {PORTAL_TIMEOUT:.0f} s (is the "
                                 f"portal down, or is the network blocked from here?)")
    except httpx.HTTPError as exc:
        if is_dns_failure(exc):
            return Check(what, FAIL, f"the host {host!r} is unknown (check [portals."
                                     f"{portal.name}] url, and the DNS from here)")
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return Check(what, FAIL, f"{host} does not answer: {reason} (check [portals."
                                 f"{portal.name}] url, and the network from here)")
    ms = (time.monotonic() - started) * 1000
    return Check(what, OK, f"{host} answered (HTTP {reply.status_code}) in {ms:.0f} ms")


def check_account(config: Config, account: AccountConfig) -> Check:
    from bot.publish.thread import open_client

    what = f"account {account.name} ({account.platform})"
    try:
        client = open_client(config, account)
        try:
            who = client.login()
        finally:
            client.close()
    except BotError as exc:
        return Check(what, FAIL, exc.what if isinstance(exc, PublishError) else exc.message)
    return Check(what, OK, f"logged in as {who}")


def check_schedule(recipe: Recipe, timezone: str, now: datetime) -> Check:
    from bot.schedule import cron_trigger, next_fire

    what = f"schedule {recipe.name} ({recipe.schedule})"
    if not recipe.enabled:
        return Check(what, OK, "disabled (enabled = false in the recipe)")
    try:
        nxt = next_fire(cron_trigger(recipe.schedule, timezone), now)
    except ValueError as exc:
        return Check(what, FAIL, str(exc))
    if nxt is None:
        return Check(what, FAIL, "never fires (fix the recipe's schedule)")
    return Check(what, OK, f"next run {nxt.astimezone(ZoneInfo(timezone)):%a %Y-%m-%d %H:%M %Z}")


def run_checks(config: Config, recipes: Mapping[str, Recipe], now: datetime) -> list[Check]:
    """Every check, in the order `citycrier doctor` prints them."""
    checks = [check_database(config.storage_url),
              check_folder("state folder", config.state_dir, "sessions and the HTTP cache",
                           "[storage] state_dir"),
              check_folder("outbox folder", config.outbox_dir, "the outbox",
                           "[storage] outbox_dir")]
    checks += [check_portal(p) for p in config.portals.values()]
    checks += [check_account(config, a) for a in config.accounts.values()]
    checks += [check_schedule(r, config.timezone, now) for _, r in sorted(recipes.items())]
    return checks
