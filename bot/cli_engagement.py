"""Engagement commands: `engagement read`, `engagement show` and `report` (issue 12).

Examples::

    citycrier engagement read          the readings due now (what the scheduler does)
    citycrier engagement read 12       every post of draft 12, now
    citycrier engagement show 12       draft 12's numbers and replies
    citycrier report --since 30d       per recipe and platform, medians at 24 h
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli import config_option, load, main, open_store


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
    if draft_id is not None:
        store.get_draft(draft_id)  # NotFound: one clear line
    report = read_due(config, store, datetime.now(UTC),
                      draft_ids=None if draft_id is None else [draft_id])
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo(f"{report.readings} reading{'s' if report.readings != 1 else ''}, "
               f"{report.replies} new repl{'ies' if report.replies != 1 else 'y'}"
               + (f", {report.deleted} old replies deleted" if report.deleted else ""))
    for name in report.paused:
        click.secho(f"  paused   {name} (rate limit)", fg="yellow")
    for error in report.errors:
        click.secho(f"  error    {error}", fg="red")


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
    store.get_draft(draft_id)
    numbers = draft_numbers(store, draft_id)
    if as_json:
        click.echo(json.dumps(numbers, indent=2, ensure_ascii=False))
        return
    _print_numbers(numbers, ZoneInfo(config.timezone))


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


