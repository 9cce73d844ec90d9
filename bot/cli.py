"""The `citycrier` command: a thin click layer over the library.

Every BotError becomes one red line and exit status 1, here and nowhere else. Heavy modules
(pandas, matplotlib) are imported only by the commands that chart or compute.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from bot.errors import BotError, CheckFailed
from bot.platforms import spoken_labels

log = logging.getLogger("bot")


def fail(message: str) -> NoReturn:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(1)


class Group(click.Group):
    """Turns library errors into one line; nothing else reaches the user as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CheckFailed as exc:
            for p in exc.problems:
                click.secho(str(p), fg="red", err=True)
            fail(exc.message)
        except BotError as exc:
            fail(exc.message)
        except KeyboardInterrupt:
            fail("interrupted")
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the detail in the log
            log.debug("unexpected error", exc_info=True)
            fail(f"unexpected {type(exc).__name__}: {exc} (this is a bug in citycrier; run "
                 f"with --verbose for details and report it)")


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help="Path to config.toml (default: ./config.toml or $CITYCRIER_CONFIG).")


def _config_path(ctx: click.Context, given: Path | None) -> Path:
    if given is not None:
        return given
    parent = ctx.find_root().params.get("config_path")
    if parent is not None:
        return parent
    return Path(os.environ.get("CITYCRIER_CONFIG", "config.toml"))


def load(ctx: click.Context, given: Path | None) -> Any:
    from bot.config import load_config

    path = _config_path(ctx, given)
    _read_dotenv(path)
    return load_config(path)


def _read_dotenv(config_path: Path) -> None:
    """Variables from .env beside the config (then in the current folder); a .env that is
    not UTF-8 is a ConfigError naming its line and column, like any other file of ours."""
    import io

    from dotenv import load_dotenv

    from bot.config import read_utf8
    from bot.errors import ConfigError, Problem

    for candidate in (config_path.resolve().parent / ".env", Path.cwd() / ".env"):
        if candidate.is_file():
            text = read_utf8(candidate)
            if isinstance(text, Problem):
                raise ConfigError(text)
            load_dotenv(stream=io.StringIO(text), override=False)


def open_store(config: Any) -> Any:
    from bot.store import Store

    return Store(config.storage_url)


def parse_as_of(value: str | None, config: Any, recipe: Any = None) -> datetime:
    """--as-of YYYY-MM-DD (or an ISO time) in the config's zone; default now, or the
    synthetic sample's last day for a recipe that reads the sample."""
    tz = ZoneInfo(config.timezone)
    if value:
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(6), tz)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BotError(f"--as-of {value!r} is not a date: write YYYY-MM-DD") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    if recipe is not None and config.portals[recipe.source.portal].synthetic:
        from bot.sample import SAMPLE_AS_OF, ensure_sample

        ensure_sample(config.portals[recipe.source.portal].path)
        return datetime.combine(SAMPLE_AS_OF, time(6), tz)
    return datetime.now(tz)


def actor_option(f: Any) -> Any:
    return click.option("--as", "actor", default=lambda: os.environ.get("USER") or "cli",
                        show_default="$USER", help="Who is acting (recorded in the audit).")(f)


MAIN_HELP = f"""citycrier: a town crier for a city's open data.

Drafts plain-voice threads with charts from open data portals, queues them for approval,
and posts approved threads to {spoken_labels()} (or to an outbox folder).

\b
Quick start:
  citycrier demo                 draft every demo recipe on the synthetic sample
  citycrier check                validate config.toml, posts/ and templates/
  citycrier preview NAME         show a recipe's thread without storing it
"""


@click.group(cls=Group, help=MAIN_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.version_option(package_name="citycrier")
def main(config_path: Path | None, verbose: bool) -> None:
    """citycrier: a town crier for a city's open data (the help is MAIN_HELP)."""
    from bot.logs import setup_logging

    setup_logging(verbose)


# registering the commands on `main` (each module imports only click and light modules)
from bot import (  # noqa: E402,F401
    cli_check,
    cli_commands,
    cli_desk,
    cli_engagement,
    cli_ops,
    cli_platforms,
    cli_sources,
)
