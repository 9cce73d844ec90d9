"""Source commands: describe a portal's dataset, to help write recipes."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import config_option, load, main
from bot.errors import BotError


@main.group()
def sources() -> None:
    """The open data portals in config.toml."""


@sources.command("describe")
@click.argument("portal")
@click.argument("dataset")
@config_option
@click.option("--no-cache", is_flag=True, help="Fetch from the portal, bypassing the cache.")
@click.pass_context
def describe(ctx: click.Context, portal: str, dataset: str, config_path: Path | None,
             no_cache: bool) -> None:
    """Print a dataset's columns and when it was last updated.

    Each column: its field name (what a recipe writes), one plain word for its type (text,
    number, date, boolean, location) and, where the portal shows people another name, that
    display name in quotes.
    Example: citycrier sources describe open_data_br pbin-pcm7
    """
    import difflib

    from bot.drafting import cache_folder
    from bot.sources import open_source

    config = load(ctx, config_path)
    if portal not in config.portals:
        close = difflib.get_close_matches(portal, list(config.portals), n=1)
        raise BotError(f"no portal {portal!r} in config.toml" + (
            f" (did you mean {close[0]!r}?)" if close else
            f" (portals: {', '.join(config.portals) or 'none'})"))
    src = open_source(config.portals[portal], config.timezone,
                      cache_dir=cache_folder(config), no_cache=no_cache)
    info = src.describe(dataset)
    click.secho(f"{info.title or dataset} ({config.portals[portal].label})", bold=True)
    if info.last_updated:
        click.echo(f"last updated: {info.last_updated.isoformat(timespec='minutes')}")
    if info.row_count is not None:
        click.echo(f"rows: {info.row_count:,}")
    if info.url:
        click.echo(f"link: {info.url}")
    width = max((len(n) for n, _, _ in info.columns), default=0)
    kinds = max((len(k) for _, _, k in info.columns), default=0)
    for name, label, kind in info.columns:
        shown = f"  {name:<{width}}  {kind:<{kinds}}  \"{label}\"" if label != name else \
            f"  {name:<{width}}  {kind}"
        click.echo(shown.rstrip())
