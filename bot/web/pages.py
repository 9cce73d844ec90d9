"""How the desk renders a page: one Jinja2 environment (autoescape always on) and its filters.

Everything shown comes through these templates, so portal data, labels and edits are
escaped wherever they appear; links taken from data are shown only when they are http(s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.errors import BotError
from bot.notify import local_time
from bot.platforms import REGISTRY, alt_limit, spoken_labels
from bot.settings import Config
from bot.store import (
    APPROVED,
    EXPIRED,
    ON_HOLD,
    PARTIAL,
    PENDING,
    PUBLISHED,
    PUBLISHING,
    REJECTED,
    RETRACTED,
    SUPERSEDED,
    Receipt,
    Store,
)
from bot.web.auth import Clock, LoginLimiter, SessionCookies, User, csrf_token
from bot.web.cache import PageCache, note_until

STATE_WORDS = {
    PENDING: "Waiting for review", APPROVED: "Approved", PUBLISHING: "Publishing now",
    PUBLISHED: "Published", PARTIAL: "Partly published", ON_HOLD: "On hold",
    REJECTED: "Rejected", EXPIRED: "Expired", SUPERSEDED: "Replaced by newer data",
    RETRACTED: "Retracted",
}
ACTION_WORDS = {
    "draft": "Drafted", "approve": "Approved", "reject": "Rejected", "edit": "Edited",
    "expire": "Expired", "reschedule": "Rescheduled", "supersede": "Replaced",
    "hold": "Put on hold", "release": "Released", "claim": "Publishing started",
    "published": "Published", "partial": "Partly published", "retract": "Retracted",
}


@dataclass
class Desk:
    """What every view needs: the config, the store, the clock and the session machinery."""

    config: Config
    store: Store
    clock: Clock
    cookies: SessionCookies
    limiter: LoginLimiter
    env: jinja2.Environment
    pages: PageCache
    max_grades: dict[str, float] = field(default_factory=dict)

    def max_grade(self, recipe: str) -> float:
        """The recipe's readability limit (9 when the recipe cannot be read)."""
        if recipe not in self.max_grades:
            try:
                from bot.config import load_recipe

                self.max_grades[recipe] = float(load_recipe(self.config, recipe).max_grade)
            except (BotError, OSError, ValueError):  # a broken recipe must not break pages
                self.max_grades[recipe] = 9.0
        return self.max_grades[recipe]


def desk_of(request: Request) -> Desk:
    return request.app.state.desk  # type: ignore[no-any-return]


def safe_url(url: object) -> str:
    """`url` if it is an http(s) link, else "" (no javascript: or data: links from data).

    >>> safe_url("https://data.brla.gov/d/pbin-pcm7"), safe_url("javascript:alert(1)")
    ('https://data.brla.gov/d/pbin-pcm7', '')
    """
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def post_url(receipt: Receipt) -> str:
    """A link to a posted post that a person can open.

    Bluesky receipts hold an at:// URI; the web address is bsky.app/profile/DID/post/RKEY.
    """
    uri = receipt.uri or ""
    found = REGISTRY.get(receipt.platform)
    made = found.post_url(receipt.remote_id or "", uri) if found else ""
    if made or uri.startswith("at://"):
        return made
    return safe_url(uri)


def relative(moment: datetime, now: datetime) -> str:
    """ "in 3 hours", "2 days ago", "in 5 minutes".

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 11, 2, 9, tzinfo=UTC)
    >>> relative(t + timedelta(hours=3, minutes=10), t), relative(t - timedelta(days=2), t)
    ('in 3 hours', '2 days ago')
    """
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if span >= size:
            n = int(span // size)
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            break
    else:
        return "now"
    return f"in {words}" if seconds > 0 else f"{words} ago"


def relative_until(moment: datetime, now: datetime) -> datetime:
    """Until when `relative(moment, now)` reads the same: every unit is whole minutes, so
    until the distance's next whole minute (within a minute of the moment, a minute after).

    >>> from datetime import UTC
    >>> t = datetime(2026, 11, 2, 9, tzinfo=UTC)
    >>> relative_until(t + timedelta(hours=3, seconds=10), t) - t
    datetime.timedelta(seconds=10)
    >>> relative_until(t - timedelta(minutes=2, seconds=10), t) - t
    datetime.timedelta(seconds=50)
    """
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 60:
        return moment + timedelta(seconds=60)  # "now" until it is a minute ago
    if seconds > 0:
        return now + timedelta(seconds=seconds % 60)
    return now + timedelta(seconds=60 - (-seconds) % 60)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "web/templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        auto_reload=False)  # templates ship with the code: no stat() per page
    env.filters["safe_url"] = safe_url
    env.filters["post_url"] = post_url
    env.globals["PLATFORM_NAMES"] = {name: p.label for name, p in REGISTRY.items()}
    env.globals["PLATFORMS"] = dict(REGISTRY)
    env.globals["ALT_LIMIT"] = alt_limit
    env.globals["PLATFORMS_SPOKEN"] = spoken_labels()
    env.globals["STATE_WORDS"] = STATE_WORDS
    env.globals["ACTION_WORDS"] = ACTION_WORDS
    return env


_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")
_CLASS = re.compile(r"[a-z][a-z0-9_-]*")


def platform_css() -> str:
    """Each platform's colour (``Platform.colour``) as a stylesheet: its logo and avatar in
    it, its card's border a light tint of it. A platform without one keeps desk.css's
    neutral grey. (A stylesheet, not style attributes: the CSP allows no inline styles.)

    >>> print(platform_css().splitlines()[0])
    .logo.x, .post.x .avatar { background: #0f1419; }
    """
    rules = []
    for name, p in REGISTRY.items():
        if _CLASS.fullmatch(name) and _COLOUR.fullmatch(p.colour):
            rules.append(f".logo.{name}, .post.{name} .avatar {{ background: {p.colour}; }}\n"
                         f".post.{name} {{ border-color: color-mix(in srgb, {p.colour} 25%, "
                         f"#fff); }}\n")
    return "".join(rules)


def render(request: Request, template: str, status: int = 200, *, user: User | None = None,
           **context: Any) -> HTMLResponse:
    """Render a desk template with the user, CSRF token, flash message and time helpers."""
    desk = desk_of(request)
    session = request.scope["session"]
    now = desk.clock()
    tz = desk.config.timezone

    def ago(moment: datetime | None) -> str:
        if not moment:
            return ""
        note_until(request.scope, relative_until(moment, now))  # a kept page ends then
        return relative(moment, now)

    html = desk.env.get_template(template).render(
        request_path=request.url.path, user=user, csrf=csrf_token(session, desk.cookies),
        flash=session.pop("flash", None), now=now,
        when=lambda dt: local_time(dt, tz) if dt else "", ago=ago, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def page_number(request: Request, name: str = "page") -> int:
    """A page number from the query string: 1 when absent or not a number."""
    try:
        return max(1, min(int(request.query_params.get(name, "1")), 100_000))
    except ValueError:
        return 1


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message for the next page this person sees (kept in their session)."""
    request.scope["session"]["flash"] = {"kind": kind, "text": text}
