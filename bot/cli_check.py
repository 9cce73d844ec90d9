"""Checking commands: check (config, recipes, templates) and doctor (the running parts).

    citycrier check            validate without rendering: fast, reads no portal
    citycrier check --render   also render each recipe on its data
    citycrier doctor           database, folders, portals, accounts, schedules: one line each
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli import config_option, load, main, parse_as_of
from bot.errors import BotError, CheckFailed, Problem


@main.command()
@config_option
@click.option("--render", is_flag=True, help="Also render each recipe's thread and charts on "
              "its data (reads each portal; slower).")
@click.option("--as-of", "as_of", help="With --render: render against data as of this date "
              "(YYYY-MM-DD).")
@click.pass_context
def check(ctx: click.Context, config_path: Path | None, render: bool,
          as_of: str | None) -> None:
    """Validate config.toml, every recipe and template; with --render, render each too.

    Reports every problem found, one line each, and exits 1 if there are any. An account
    whose credential variable is not set, and a platform that recipes list but no account
    posts to, are warnings (exit 0).
    Example: citycrier check --render
    """
    from bot.cli import _config_path, _read_dotenv
    from bot.config import load_recipes, read_config
    from bot.validation import (
        digest_without_channel,
        platforms_without_account,
        template_problems,
        unset_credentials,
    )

    problems: list[Problem] = []
    path = _config_path(ctx, config_path)
    _read_dotenv(path)
    config = read_config(path, problems)
    if config is None:
        raise CheckFailed(problems)
    recipes = load_recipes(config, problems)
    found = template_problems(config, recipes)
    problems.extend(found)
    render = render or as_of is not None
    if render:
        from bot.drafting import build_thread

        faulty = {p.file for p in found} | {str(config.templates_dir / Path(p.file).name)
                                            for p in found}
        for recipe in recipes.values():
            if str(recipe.path) in faulty or str(config.templates_dir / recipe.template) in \
                    faulty:
                continue  # already reported without rendering
            try:
                build_thread(config, recipe, parse_as_of(as_of, config, recipe), charts=True)
            except BotError as exc:
                problems.append(Problem(str(recipe.path), "", exc.message))
    skipped = [] if problems else (platforms_without_account(config, recipes)  # errors first
                                   + digest_without_channel(config))
    for warning in unset_credentials(config, os.environ) + skipped:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if problems:
        raise CheckFailed(problems)
    if render:
        click.echo(f"ok: config, {len(recipes)} recipes and their templates rendered without "
                   f"a problem")
    else:
        click.echo(f"ok: config, {len(recipes)} recipes and their templates are valid "
                   f"(`citycrier check --render` also renders each on its data)")


@main.command()
@config_option
@click.pass_context
def doctor(ctx: click.Context, config_path: Path | None) -> None:
    """Check what citycrier needs while it runs, one line each, and exit 1 if any fails.

    The database (reachable, schema current), the state and outbox folders (writable),
    each portal's host (answering), each account (logging in; nothing is posted) and each
    recipe's next run. It changes nothing in the store.
    Example: citycrier doctor --config /etc/citycrier/config.toml
    """
    from bot.config import load_recipes
    from bot.health import FAIL, OK, WARN, Check, run_checks

    config = load(ctx, config_path)
    problems: list[Problem] = []
    recipes = load_recipes(config, problems)
    checks = run_checks(config, recipes, datetime.now(UTC))
    if problems:
        checks.append(Check("recipes", FAIL, f"{len(problems)} problem"
                            f"{'s' if len(problems) != 1 else ''} in posts/ (run `citycrier "
                            f"check` to see them)"))
    colours = {OK: "green", WARN: "yellow", FAIL: "red"}
    for c in checks:
        click.secho(str(c), fg=colours[c.state])
    failed = sum(1 for c in checks if c.state == FAIL)
    warned = sum(1 for c in checks if c.state == WARN)
    summary = (f"{len(checks)} checks: {len(checks) - failed - warned} ok, {warned} "
               f"warning{'s' if warned != 1 else ''}, {failed} failed")
    if failed:
        raise BotError(summary)
    click.echo(summary)
