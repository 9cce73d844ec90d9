"""Engagement commands: `engagement read`, `engagement show` and `report` (issue 12).

Examples::

    citycrier engagement read          the readings due now (what the scheduler does)
    citycrier engagement read 12       every post of draft 12, now
    citycrier engagement show 12       draft 12's numbers and replies
    citycrier report --since 30d       per recipe and platform, medians at 24 h
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli import config_option, load, main, open_store
from bot.errors import BotError


@main.group()
def engagement() -> None:
    """Read published posts' likes, reposts and replies back, and show them.

    Example: citycrier engagement read 12
    """


@engagement.command("read")
@click.argument("draft_id", type=int, required=False)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print what was read as JSON.")
@click.pass_context
def read(ctx: click.Context, draft_id: int | None, config_path: Path | None,
         as_json: bool) -> None:
    """Read counts (and replies) back now: every post of DRAFT_ID, or the posts due.

    Without DRAFT_ID this is the scheduler's read-back pass: each post at 1 h, 24 h and
    7 d after posting ([engagement] read_after), at most [engagement] per_pass posts.
    X accounts are read only with read_metrics = true.

    Example: citycrier engagement read 12
    """
    from bot.engagement.readback import read_due

    config = load(ctx, config_path)
    store = open_store(config)
    unread: list[str] = []
    if draft_id is not None:
        unread = unread_accounts(config, store, published_draft(store, draft_id))
    report = read_due(config, store, datetime.now(UTC),
                      draft_ids=None if draft_id is None else [draft_id])
    if as_json:
        click.echo(json.dumps(report.to_json() | {"not_read": unread}, indent=2))
    else:
        _print_read(report, unread)
    if report.errors or (unread and not report.readings):
        ctx.exit(1)  # nothing of what was asked for could be read: not a success


def _print_read(report: Any, unread: list[str]) -> None:
    click.echo(f"{report.readings} reading{'s' if report.readings != 1 else ''}, "
               f"{report.replies} new repl{'ies' if report.replies != 1 else 'y'}"
               + (f", {report.deleted} old replies deleted" if report.deleted else ""))
    for name in report.paused:
        click.secho(f"  paused   {name} (rate limit)", fg="yellow")
    for error in report.errors:
        click.secho(f"  error    {error}", fg="red")
    for why in unread:
        click.secho(f"  not read {why}", fg="yellow")


def published_draft(store: Any, draft_id: int) -> int:
    """`draft_id` if that draft was published (wholly or partly); else one clear line."""
    from bot.records import PARTIAL, PUBLISHED, RETRACTED

    draft = store.get_draft(draft_id)  # NotFound: one clear line
    if draft.state == RETRACTED:
        raise BotError(f"draft {draft_id} was retracted: its posts are gone, so there is "
                       "nothing to read or show (see `citycrier show "
                       f"{draft_id}` for its history)")
    if draft.state not in (PUBLISHED, PARTIAL):
        raise BotError(f"draft {draft_id} is {draft.state}, not published: only published "
                       "threads are read back (see `citycrier queue --state published`)")
    return draft_id


def unread_accounts(config: Any, store: Any, draft_id: int) -> list[str]:
    """Why each account the draft went out on is not read back ("xa (x): ...")."""
    from bot.engagement.readback import reads
    from bot.engagement.store import EngagementStore
    from bot.platforms import REGISTRY

    out = []
    for name in sorted({p.account for p in EngagementStore(store).published_posts(
            draft_ids=[draft_id])}):
        account = config.accounts.get(name)
        if account is None:
            out.append(f"{name}: no longer in config.toml")
        elif not reads(account):
            out.append(f"{name} ({account.platform}): read_metrics is not true (reads cost "
                       f"money there; set read_metrics = true in [accounts.{name}])"
                       if getattr(REGISTRY.get(account.platform), "reader", "") else
                       f"{name} ({account.platform}): this platform is not read back")
    return out


@engagement.command("show")
@click.argument("draft_id", type=int)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the readings as JSON.")
@click.pass_context
def show(ctx: click.Context, draft_id: int, config_path: Path | None, as_json: bool) -> None:
    """Show a published draft's numbers per platform and post, and its replies.

    Example: citycrier engagement show 12
    """
    from bot.engagement.desk import draft_numbers

    config = load(ctx, config_path)
    store = open_store(config)
    numbers = draft_numbers(store, published_draft(store, draft_id))
    if as_json:
        click.echo(json.dumps(numbers, indent=2, ensure_ascii=False))
        return
    _print_numbers(numbers, ZoneInfo(config.timezone))


@main.command()
@config_option
@click.option("--since", "since_text", default="30d", show_default=True, metavar="SPAN",
              help="How far back: 30d, 12w, 48h (or \"30 days\").")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the medians as a PNG here (alt text beside it, as .txt).")
@click.option("--now", "now_text", metavar="ISO", hidden=True,
              help="Report as if it were this moment (ISO 8601).")
@click.pass_context
def report(ctx: click.Context, config_path: Path | None, since_text: str, as_json: bool,
           chart_path: Path | None, now_text: str | None) -> None:
    """Per recipe and platform: threads published, median likes, reposts and replies 24
    hours after posting, and the best and worst thread.

    Example: citycrier report --since 30d --chart engagement.png
    """
    from bot.cli_ops import parse_now
    from bot.engagement.report import build_report, report_chart, report_json, report_text

    config = load(ctx, config_path)
    now = parse_now(now_text, config.timezone)
    result = build_report(open_store(config), now, parse_span(since_text))
    if as_json:
        click.echo(json.dumps(report_json(result), indent=2, ensure_ascii=False))
    else:
        click.echo(report_text(result, config.timezone), nl=False)
    if chart_path is not None:
        chart = report_chart(result, config.timezone)
        if chart is None:
            click.secho("no chart: no thread was read 24 hours after posting yet", err=True,
                        fg="yellow")
            return
        try:
            chart_path.write_bytes(chart.png)
            chart_path.with_suffix(".txt").write_text(chart.alt + "\n", encoding="utf-8")
        except OSError as exc:
            raise BotError(f"cannot write the chart to {chart_path}: {exc.strerror} (choose "
                           "another --chart path)") from exc
        if not as_json:
            click.echo(f"chart: {chart_path} (alt text: {chart_path.with_suffix('.txt')})")


MAX_SPAN = timedelta(days=36525)  # further back than 100 years reaches no thread
_SPAN = re.compile(r"^\s*(\d+)\s*(h|hours?|d|days?|w|weeks?)\s*$")


def parse_span(text: str) -> timedelta:
    """ "30d", "12w", "48h", "30 days" as a timedelta.

    >>> parse_span("30d"), parse_span("2 weeks")
    (datetime.timedelta(days=30), datetime.timedelta(days=14))
    """
    m = _SPAN.match(text)
    if not m or int(m.group(1)) == 0:
        raise BotError(f"--since {text!r} is not a span of time: write e.g. 30d, 12w or 48h")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)[0]]
    try:
        span = timedelta(**{unit: int(m.group(1))})
    except OverflowError:
        span = MAX_SPAN + MAX_SPAN
    if span > MAX_SPAN:
        raise BotError(f"--since {text!r} is longer than 100 years: write e.g. 30d, 12w or 48h")
    return span


def _print_numbers(numbers: dict[str, Any], tz: ZoneInfo) -> None:
    if not numbers["platforms"]:
        click.echo("no readings yet (see `citycrier engagement read`)")
    for platform in numbers["platforms"]:
        click.secho(platform["platform"], bold=True)
        for post in platform["posts"]:
            latest = post["latest"]
            counts = ("not read yet" if latest is None else
                      f"{latest['likes']} likes, {latest['reposts']} reposts, "
                      f"{latest['replies']} replies, {latest['quotes']} quotes"
                      f" (read {_local(latest['taken_at'], tz)})")
            click.echo(f"  post {post['index'] + 1}: {counts}")
            for reply in post["replies"]:
                click.echo(f"    @{reply['author']} {_local(reply['written_at'], tz)}: "
                           f"{reply['text']}  {reply['url']}")


def _local(iso: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")


