"""Platform commands: accounts check, retract (every platform in bot/platforms.py)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import actor_option, config_option, load, main, open_store
from bot.errors import BotError, PublishError
from bot.platforms import spoken_labels


@main.group(help=f"The {spoken_labels()} accounts in config.toml.")
def accounts() -> None:
    """The accounts in config.toml, one per platform or more."""


@accounts.command("check")
@config_option
@click.pass_context
def accounts_check(ctx: click.Context, config_path: Path | None) -> None:
    """Log in to each configured account and say which work, without posting.

    A Mastodon account also reads its server's limits (characters, images, alt text).

    Example: citycrier accounts check
    """
    from bot.publish.thread import open_client

    config = load(ctx, config_path)
    if not config.accounts:
        click.echo("no accounts in config.toml: approved threads go to the outbox")
        return
    broken = 0
    for account in config.accounts.values():
        client = open_client(config, account)
        try:
            who = client.login()
            limits = client.limits_line() if hasattr(client, "limits_line") else ""
        except BotError as exc:
            broken += 1
            what = exc.what if isinstance(exc, PublishError) else exc.message
            click.secho(f"{account.name} ({account.platform}): not working: {what}", fg="red")
            continue
        finally:
            client.close()
        click.secho(f"{account.name} ({account.platform}): ok, logged in as {who}"
                    + (f"; {limits}" if limits else ""), fg="green")
    if broken:
        raise BotError(f"{broken} of {len(config.accounts)} accounts do not work (see above)")


@main.command()
@click.argument("draft_id", type=int)
@config_option
@actor_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def retract(ctx: click.Context, draft_id: int, config_path: Path | None, actor: str,
            yes: bool) -> None:
    """Delete a published thread on every platform, last post first.

    Example: citycrier retract 12 --as dana
    """
    from bot.publish.retract import retract_thread
    from bot.review import require_role
    from bot.voice import plural

    config = load(ctx, config_path)
    store = open_store(config)
    require_role(store, actor, "retract")
    draft = store.get_draft(draft_id)
    if not yes and not click.confirm(f"Delete every post of draft {draft_id} ({draft.title}, "
                                     f"{draft.period_label}) on every platform?"):
        raise BotError("not retracted")
    deleted = retract_thread(config, store, draft_id, actor)
    for d in deleted:
        click.echo(f"deleted {d.platform} post {d.post}: {d.uri or d.remote_id}")
    click.echo(f"draft {draft_id} retracted: {plural(len(deleted), 'post')} deleted")
