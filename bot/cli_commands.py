"""The pipeline commands: demo, preview, draft, queue, show, approve, reject, publish."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli import actor_option, config_option, load, main, open_store, parse_as_of
from bot.errors import BotError
from bot.platforms import label, names, post_limits

PLATFORMS = names()



@main.command()
@config_option
@click.pass_context
def demo(ctx: click.Context, config_path: Path | None) -> None:
    """Draft every demo recipe on the synthetic sample and publish to the outbox.

    Example: citycrier demo
    """
    from bot.drafting import draft_recipe
    from bot.publish.outbox import write_index
    from bot.publish.runner import publish_due
    from bot.review import approve_draft
    from bot.sample import SAMPLE_AS_OF, ensure_sample
    from bot.store import APPROVED, PENDING
    from bot.voice import plural

    config = load(ctx, config_path)
    from bot.config import load_recipes

    recipes = [r for r in load_recipes(config).values()
               if config.portals[r.source.portal].synthetic and r.enabled]
    if not recipes:
        raise BotError("no recipe reads a synthetic sample portal: nothing to demo (see "
                       "config.toml's [portals.sample])")
    if config.accounts:
        raise BotError("the demo publishes to the outbox only, and this config has platform "
                       "accounts: run it with a config without [accounts]")
    store = open_store(config)
    tz = ZoneInfo(config.timezone)
    as_of = datetime.combine(SAMPLE_AS_OF, time(6), tz)
    click.echo(f"citycrier demo: synthetic sample as of {SAMPLE_AS_OF:%A, %B %d, %Y}")
    ids = []
    for recipe in recipes:
        ensure_sample(config.portals[recipe.source.portal].path)
        result = draft_recipe(config, recipe, store, as_of, actor="demo")
        draft = store.get_draft(result.draft_id)
        if draft.state == PENDING:
            approve_draft(store, config, draft.id, "demo")
        if store.get_draft(draft.id).state == APPROVED:
            store.transition(draft.id, "reschedule", "demo", "the demo publishes at once",
                             slot_at=datetime.now(UTC))
        ids.append(draft.id)
        first = store.revision(draft.id).thread[recipe.platforms[0]]
        click.echo(f"\n[{recipe.name}] {recipe.title}: {plural(len(first), 'post')}, "
                   f"{plural(len(store.charts(draft.id)), 'chart')}")
        click.echo("  " + first[0].text.replace("\n", "\n  "))
        for reason in draft.reasons:
            click.secho(f"  guard: {reason}", fg="yellow")
    publish_due(config, store, datetime.now(UTC), draft_ids=ids)
    index = write_index(config)
    click.echo(f"\nOutbox: {index.resolve()}")
    click.echo("Open it in a browser to see each thread as it would look on each platform.")


def echo_thread(thread: dict[str, Any], charts: dict[str, tuple[str, str]],
                platform: str | None = None, limits: dict[str, int] | None = None) -> None:
    """Print each platform's posts with their length (against `limits` where a server sets
    its own), charts and alt text."""
    from bot.limits import measure_post
    from bot.platforms import label

    for p, posts in thread.items():
        if platform and p != platform:
            continue
        click.secho(f"\n== {label(p)} ==", bold=True)
        for i, post in enumerate(posts, start=1):
            m = measure_post(post.text, p, (limits or {}).get(p))
            click.secho(f"-- post {i}/{len(posts)} · {m.length}/{m.limit} {m.unit}", fg="cyan")
            click.echo(post.text)
            for n in post.charts:
                title, alt = charts[n]
                click.secho(f"   [chart {n}] {title}", fg="green")
                click.echo(f"   alt: {alt}")


@main.command()
@click.argument("name")
@config_option
@click.option("--as-of", "as_of", help="Date the thread is drafted on (YYYY-MM-DD).")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Only this platform.")
@click.option("--live", is_flag=True,
              help="Read the recipe's [source.live] portal (a real city's data) instead.")
@click.option("--no-cache", is_flag=True, help="Fetch from the portal, bypassing the cache.")
@click.option("--charts", "charts_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also save the charts as PNG files in this folder.")
@click.pass_context
def preview(ctx: click.Context, name: str, config_path: Path | None, as_of: str | None,
            platform: str | None, live: bool, no_cache: bool, charts_dir: Path | None) -> None:
    """Render a recipe's thread to the terminal; store nothing.

    Example: citycrier preview baltimore_311_weekend --platform bluesky
    """
    from bot.config import load_recipe
    from bot.drafting import build_thread

    config = load(ctx, config_path)
    recipe = load_recipe(config, name)
    if platform and platform not in recipe.platforms:
        raise BotError(f"recipe {name!r} does not post to {label(platform)} (its platforms: "
                       f"{', '.join(recipe.platforms)}): preview it without --platform, or "
                       f"add \"{platform}\" to its platforms")
    if live:
        if recipe.source.live is None:
            raise BotError(f"recipe {name!r} has no [source.live] table naming a real portal "
                           f"and dataset: add one, or preview without --live")
        recipe = recipe.live()
    built = build_thread(config, recipe, parse_as_of(as_of, config, recipe), no_cache=no_cache,
                         charts=True)
    click.secho(f"{recipe.title}: {built.period.label} ({built.period.first_day} to "
                f"{built.period.last_day})", bold=True)
    if built.source["synthetic"]:
        click.secho("synthetic sample: not a city's records", fg="yellow")
    echo_thread(built.composed.thread, {c.name: (c.title, c.alt) for c in built.charts},
                platform, post_limits(config, recipe.accounts))
    for r in built.reasons:
        click.secho(f"guard: {r.text}", fg="yellow")
    if charts_dir:
        charts_dir.mkdir(parents=True, exist_ok=True)
        for c in built.charts:
            (charts_dir / f"{c.name}.png").write_bytes(c.png)
        click.echo(f"charts saved in {charts_dir}")


@main.command()
@click.argument("name")
@config_option
@click.option("--as-of", "as_of", help="Date the thread is drafted on (YYYY-MM-DD).")
@click.option("--no-cache", is_flag=True, help="Fetch from the portal, bypassing the cache.")
@click.pass_context
def draft(ctx: click.Context, name: str, config_path: Path | None, as_of: str | None,
          no_cache: bool) -> None:
    """Draft a recipe's thread now and put it in the queue.

    Example: citycrier draft baton_rouge_crime_monthly --as-of 2026-11-02
    """
    from bot.config import load_recipe
    from bot.drafting import cache_folder, draft_recipe

    config = load(ctx, config_path)
    recipe = load_recipe(config, name)
    cache_folder(config)  # a state_dir citycrier cannot use is said before the store changes
    store = open_store(config)
    r = draft_recipe(config, recipe, store, parse_as_of(as_of, config, recipe),
                     no_cache=no_cache)
    verb = "drafted" if r.created else "unchanged: already drafted with these figures as"
    click.echo(f"{verb} draft {r.draft_id} ({r.state.replace('_', ' ')})")
    for reason in r.reasons:
        click.secho(f"guard: {reason}", fg="yellow")


@main.command()
@config_option
@click.option("--state", "states", multiple=True, help="Only drafts in this state (repeatable).")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="Show at most this many drafts.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many drafts first (the next page: --offset 50).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def queue(ctx: click.Context, config_path: Path | None, states: tuple[str, ...],
          limit: int, offset: int, as_json: bool) -> None:
    """List drafts, nearest slot first (default: the ones still open), a page at a time.

    Example: citycrier queue --state pending_review --limit 20 --offset 20
    """
    from bot.store import OPEN_STATES, STATES

    for s in states:
        if s not in STATES:
            raise BotError(f"{s!r} is not a state: use one of {', '.join(STATES)}")
    config = load(ctx, config_path)
    store = open_store(config)
    wanted = states or OPEN_STATES
    drafts = store.list_drafts(wanted, limit=limit, offset=offset)
    if as_json:
        click.echo(json.dumps([{
            "id": d.id, "recipe": d.recipe, "state": d.state, "slot_at": d.slot_at.isoformat(),
            "period": d.period_label, "reasons": list(d.reasons), "error": d.error}
            for d in drafts], indent=2))
        return
    counts = store.count_by_state()
    total = sum(counts.get(s, 0) for s in set(wanted))
    if not drafts:
        click.echo("the queue is empty" if not total else
                   f"no drafts past --offset {offset}: the queue holds {total}")
    tz = ZoneInfo(config.timezone)
    for d in drafts:
        slot = d.slot_at.astimezone(tz).strftime("%a %b %d %H:%M")
        flags = f"  [{len(d.reasons)} guard]" if d.reasons else ""
        click.echo(f"{d.id:>5}  {d.state:<20} {slot}  {d.recipe}: {d.period_label}{flags}")
        if d.error:
            click.secho(f"       {d.error}", fg="yellow")
    if drafts and (offset or len(drafts) < total):
        more = (f"; next page: citycrier queue --offset {offset + limit}"
                if offset + len(drafts) < total else "")
        click.echo(f"drafts {offset + 1}-{offset + len(drafts)} of {total}{more}")
    last = store.last_runs()
    skipped = {k: v for k, v in last.items() if v["outcome"] in ("skipped", "failed")}
    for recipe, run in skipped.items():
        click.secho(f"    -  {run['outcome']:<20} {recipe}: {run['detail']}", fg="yellow")


@main.command()
@click.argument("draft_id", type=int)
@config_option
@click.pass_context
def show(ctx: click.Context, draft_id: int, config_path: Path | None) -> None:
    """Show a draft: each post per platform, charts and alt text, guards, audit.

    Example: citycrier show 3
    """

    config = load(ctx, config_path)
    store = open_store(config)
    d = store.get_draft(draft_id)
    rev = store.revision(draft_id)
    charts = {c.name: c for c in store.charts(draft_id)}
    click.secho(f"draft {d.id}: {d.title} · {d.period_label} · {d.state} · revision "
                f"{d.revision}", bold=True)
    if d.source.get("synthetic"):
        click.secho("synthetic sample: not a city's records", fg="yellow")
    echo_thread(rev.thread, {n: (c.title, rev.alts.get(n, c.alt)) for n, c in charts.items()},
                limits=post_limits(config, tuple(d.source.get("accounts", ()))))
    for r in d.reasons:
        click.secho(f"guard: {r}", fg="yellow")
    if d.error:
        click.secho(f"error: {d.error}", fg="red")
    click.secho("\nhistory", bold=True)
    tz = ZoneInfo(config.timezone)
    for a in store.audit(draft_id):
        click.echo(f"  {a.at.astimezone(tz):%Y-%m-%d %H:%M}  {a.actor:<12} {a.action:<10} "
                   f"{a.detail}")


@main.command()
@click.argument("draft_id", type=int)
@config_option
@actor_option
@click.pass_context
def approve(ctx: click.Context, draft_id: int, config_path: Path | None, actor: str) -> None:
    """Approve a draft waiting for review.

    Example: citycrier approve 3 --as dana
    """
    from bot.review import approve_draft

    config = load(ctx, config_path)
    d = approve_draft(open_store(config), config, draft_id, actor)
    click.echo(f"draft {d.id} approved by {actor}; it posts at its slot "
               f"{d.slot_at.astimezone(ZoneInfo(config.timezone)):%a %b %d %H:%M}")


@main.command()
@click.argument("draft_id", type=int)
@click.option("--reason", required=True, help="Why (recorded in the audit).")
@config_option
@actor_option
@click.pass_context
def reject(ctx: click.Context, draft_id: int, reason: str, config_path: Path | None,
           actor: str) -> None:
    """Reject a draft, with a reason.

    Example: citycrier reject 3 --reason "numbers look off; checking with the data team"
    """
    from bot.review import reject_draft

    config = load(ctx, config_path)
    d = reject_draft(open_store(config), draft_id, actor, reason)
    click.echo(f"draft {d.id} rejected by {actor}: {reason}")


@main.command()
@config_option
@click.option("--draft", "draft_ids", type=int, multiple=True, help="Only this draft.")
@click.pass_context
def publish(ctx: click.Context, config_path: Path | None, draft_ids: tuple[int, ...]) -> None:
    """Publish approved drafts whose slot has come (resumes half-posted threads).

    Example: citycrier publish
    """
    from bot.publish.runner import publish_due

    config = load(ctx, config_path)
    store = open_store(config)
    outcomes = publish_due(config, store, datetime.now(UTC),
                           draft_ids=list(draft_ids) or None)
    if not outcomes:
        click.echo("nothing is due")
    failed = False
    for o in outcomes:
        colour = "green" if o.state == "published" else "yellow"
        failed |= o.state != "published"
        click.secho(f"draft {o.draft_id} ({o.recipe}): {o.state.replace('_', ' ')}: {o.detail}",
                    fg=colour)
    held = [o.draft_id for o in outcomes if o.state == "on_hold"]
    if held:
        ids = " ".join(str(i) for i in held)
        raise BotError(f"drafts on hold need a person: read `citycrier show ID`, then "
                       f"`citycrier release ID` to post them, or reject them (on hold: {ids})")
    if failed:
        raise BotError("some drafts did not publish completely (see above); the next "
                       "`citycrier publish` resumes them")


@main.command()
@click.argument("draft_id", type=int)
@config_option
@actor_option
@click.pass_context
def release(ctx: click.Context, draft_id: int, config_path: Path | None, actor: str) -> None:
    """Release a draft on hold (a missed slot, or a platform that needed a person): it
    posts at the next publishing pass.

    Example: citycrier release 7 --as dana
    """
    from bot.review import require_role

    config = load(ctx, config_path)
    store = open_store(config)
    require_role(store, actor, "approve")
    d = store.transition(draft_id, "release", actor, "released for posting")
    click.echo(f"draft {d.id} released by {actor}: it posts at the next publishing pass")
