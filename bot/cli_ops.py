"""Operations commands: run, tick, status (issue: scheduler and operations).

    citycrier run        the scheduler, until SIGTERM/SIGINT (systemd, a container)
    citycrier tick       one pass and exit (cron, a systemd timer)
    citycrier status     next and last runs, the queue, accounts' caps, the last errors
"""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli import config_option, load, main, open_store
from bot.errors import BotError

log = logging.getLogger("bot.schedule")
_STATE_NAMES = {"pending_review": "pending review", "partially_published": "partly published",
                "on_hold": "on hold"}


def parse_now(value: str | None, tz: str) -> datetime:
    """--now as an ISO 8601 time (a naive one is in the config's zone); default: now."""
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BotError(f"--now {value!r} is not an ISO 8601 time: write e.g. "
                       f"2026-03-09T09:05 or 2026-03-09T14:05:00+00:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))).astimezone(UTC)


@contextmanager
def stop_on_signals(ops: Any) -> Iterator[None]:
    """SIGTERM and SIGINT ask `ops` to stop (the post in flight finishes); restored after."""
    def handler(signum: int, _frame: Any) -> None:
        ops.stop()
        log.warning("%s received: finishing the work in flight, then stopping",
                    signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _log_info(ctx: click.Context) -> None:
    """`run` and `tick` log at INFO (JSON lines when stderr is not a terminal)."""
    if not ctx.find_root().params.get("verbose"):
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)  # "Added job ..."


def _operations(ctx: click.Context, config_path: Path | None) -> Any:
    from bot.config import load_recipes
    from bot.schedule import Operations

    config = load(ctx, config_path)
    return Operations(config, _store(config), load_recipes(config))


def _store(config: Any) -> Any:
    """The store; a database that cannot be reached is a one-line error (bot/database.py)."""
    return open_store(config)


@main.command()
@config_option
@click.pass_context
def run(ctx: click.Context, config_path: Path | None) -> None:
    """Run the scheduler until stopped (SIGTERM or Ctrl-C).

    Drafts each enabled recipe on its cron schedule (in config.toml's timezone), expires
    drafts whose slot passed unapproved, and publishes approved drafts when their slot
    comes, checking every minute. After downtime it drafts each recipe once, for the latest
    period, and records the slots it missed. On SIGTERM it finishes the post in flight,
    records it, and exits 0.

    Example: citycrier run --config /etc/citycrier/config.toml
    """
    from bot.schedule import run_scheduler

    _log_info(ctx)
    ops = _operations(ctx, config_path)
    with stop_on_signals(ops):
        run_scheduler(ops)


@main.command()
@config_option
@click.option("--now", "now_text", metavar="ISO", help="Act as if it were this moment "
              "(ISO 8601; a time without offset is in config.toml's timezone).")
@click.option("--json", "as_json", is_flag=True, help="Print the pass as JSON.")
@click.pass_context
def tick(ctx: click.Context, config_path: Path | None, now_text: str | None,
         as_json: bool) -> None:
    """Do one scheduler pass and exit: for cron or a systemd timer.

    Drafts every recipe whose latest slot's period has not been drafted yet (once, however
    many slots passed; the others are recorded as missed), expires overdue drafts and
    publishes what is due. Running it twice in a row drafts nothing new. It exits 0 when
    the pass ran, even if a recipe failed: failures are recorded (see `citycrier status`).

    \b
    Example: citycrier tick
    In a crontab: */5 * * * * citycrier tick --config /srv/citycrier/config.toml
    """
    _log_info(ctx)
    ops = _operations(ctx, config_path)
    now = parse_now(now_text, ops.config.timezone)
    with stop_on_signals(ops):
        report = ops.tick(now)
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), **report.to_json()}, indent=2))
        return
    local = now.astimezone(ops.tz)
    click.echo(f"tick at {local:%Y-%m-%d %H:%M %Z}")
    for s in report.slots:
        color = {"failed": "red", "skipped": "yellow", "missed": "yellow"}.get(s.outcome)
        slot = s.slot_at.astimezone(ops.tz).strftime("%Y-%m-%d %H:%M %Z")
        click.secho(f"  {s.outcome:<10} {s.recipe}  slot {slot}: {s.detail}", fg=color)
    for draft_id in report.expired:
        click.echo(f"  {'expired':<10} draft {draft_id} (its slot passed unapproved)")
    for o in report.published:
        click.echo(f"  {o.state.replace('_', ' '):<10} draft {o.draft_id} ({o.recipe}): "
                   f"{o.detail}")
    for e in report.errors:
        click.secho(f"  {'error':<10} {e}", fg="red")
    if not (report.slots or report.expired or report.published or report.errors):
        click.echo("  nothing to do")


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--now", "now_text", metavar="ISO", hidden=True,
              help="Report as if it were this moment (ISO 8601).")
@click.pass_context
def status(ctx: click.Context, config_path: Path | None, as_json: bool,
           now_text: str | None) -> None:
    """Show each recipe's next and last run, the queue, accounts' caps and the last errors.

    Example: citycrier status --json
    """
    from bot.config import load_recipes

    config = load(ctx, config_path)
    now = parse_now(now_text, config.timezone)
    report = status_report(config, load_recipes(config), _store(config), now)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    _print_status(report)


def status_report(config: Any, recipes: Mapping[str, Any], store: Any,
                  now: datetime) -> dict[str, Any]:
    """What `citycrier status` shows, as plain data (times in the config's zone)."""
    from bot.schedule import cron_trigger, next_fire
    from bot.store import APPROVED, ON_HOLD, PARTIAL, PUBLISHING

    tz = ZoneInfo(config.timezone)
    now = now.astimezone(UTC)

    def show(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat(timespec="minutes") if moment else None

    last = store.last_runs()
    missed: dict[str, list[str]] = {}
    for run in store.runs(outcomes=("missed",), limit=500):
        if run["started_at"] >= now - timedelta(days=30):
            missed.setdefault(run["recipe"], []).append(show(run["slot_at"] or
                                                             run["started_at"]) or "")
    rows = []
    for name, recipe in sorted(recipes.items()):
        nxt = next_fire(cron_trigger(recipe.schedule, config.timezone), now) \
            if recipe.enabled else None
        lr = last.get(name)
        rows.append({
            "recipe": name, "schedule": recipe.schedule, "enabled": recipe.enabled,
            "next_run": show(nxt),
            "last_run": None if lr is None else {
                "at": show(lr["started_at"]), "slot": show(lr["slot_at"]),
                "outcome": lr["outcome"], "detail": lr["detail"],
                "period": lr["period_key"], "draft_id": lr["draft_id"]},
            "missed": sorted(missed.get(name, []))})
    accounts = [{"account": a.name, "platform": a.platform,
                 "last_hour": store.posts_since(a.name, now - timedelta(hours=1)),
                 "per_hour": a.posts_per_hour,
                 "last_day": store.posts_since(a.name, now - timedelta(days=1)),
                 "per_day": a.posts_per_day} for a in config.accounts.values()]
    errors = [{"at": show(f["at"]), "what": f"{f['recipe']}: {f['detail']}",
               "outcome": f["outcome"]} for f in store.recent_failures(10)]
    for d in store.list_drafts(states=(APPROVED, PUBLISHING, PARTIAL, ON_HOLD)):
        if d.error:
            errors.append({"at": show(d.updated_at), "what": f"draft {d.id} ({d.recipe}): "
                           f"{d.error}", "outcome": d.state})
    errors.sort(key=lambda e: e["at"] or "", reverse=True)
    return {"now": show(now), "timezone": config.timezone, "recipes": rows,
            "queue": dict(sorted(store.count_by_state().items())), "accounts": accounts,
            "errors": errors[:10]}


def _print_status(r: dict[str, Any]) -> None:
    click.secho(f"Recipes (times in {r['timezone']}; now {_short(r['now'])})", bold=True)
    width = max((len(x["recipe"]) for x in r["recipes"]), default=6)
    for x in r["recipes"]:
        nxt = _short(x["next_run"]) if x["enabled"] else "disabled"
        lr = x["last_run"]
        last = "never run" if lr is None else f"last {_short(lr['at'])} {lr['outcome']}"
        color = None if lr is None or lr["outcome"] in ("drafted", "unchanged") else "yellow"
        click.secho(f"  {x['recipe']:<{width}}  next {nxt:<16}  {last}", fg=color)
        if lr is not None and lr["outcome"] in ("failed", "skipped"):
            click.secho(f"  {'':<{width}}  {lr['detail']}", fg="yellow")
        if x["missed"]:
            click.secho(f"  {'':<{width}}  missed {len(x['missed'])} slot"
                        f"{'s' if len(x['missed']) != 1 else ''} in the last 30 days: "
                        + ", ".join(_short(m) for m in x["missed"]), fg="yellow")
    queue = ", ".join(f"{_STATE_NAMES.get(k, k)} {n}" for k, n in r["queue"].items())
    click.secho("Queue", bold=True)
    click.echo(f"  {queue or 'empty'}")
    click.secho("Accounts", bold=True)
    if not r["accounts"]:
        click.echo("  none: approved threads go to the outbox")
    for a in r["accounts"]:
        full = a["last_hour"] >= a["per_hour"] or a["last_day"] >= a["per_day"]
        click.secho(f"  {a['account']} ({a['platform']}): {a['last_hour']}/{a['per_hour']} "
                    f"posts in the last hour, {a['last_day']}/{a['per_day']} in the last day",
                    fg="yellow" if full else None)
    click.secho("Last errors", bold=True)
    if not r["errors"]:
        click.echo("  none")
    for e in r["errors"]:
        click.secho(f"  {_short(e['at'])}  {e['what']}", fg="red")


def _short(iso: str | None) -> str:
    """'2026-03-09T09:00-05:00' -> '2026-03-09 09:00'."""
    return iso[:16].replace("T", " ") if iso else "-"
