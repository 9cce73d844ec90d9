"""Guards: reasons a draft needs a person's eyes, recorded on the draft and shown with it.

- readability: a post reading above the recipe's `max_grade` (Flesch-Kincaid) needs review,
  even when approval is `auto`;
- unusual change: the total outside the range of its own history in the store, or moving more
  than the recipe's `unusual_change`, needs review under `auto-unless-unusual`;
- freshness (`stale_after`): a dataset last updated longer ago than that is not drafted
  from (a DataError, checked before the empty-period check, so a portal that stopped updating
  says so); a portal that gives no last-updated time is drafted with a reason saying that
  freshness was not checked, which needs review;
- length and empty periods are errors raised earlier (compose.py, figures.py): a draft that
  breaks them is never made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import DataError
from bot.settings import Recipe
from bot.store import APPROVED, PENDING, Post

_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Reason:
    kind: str  # readability | unusual | split | stale (no last-updated time)
    text: str
    forces_review: bool  # under auto: readability; under auto-unless-unusual: any


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade of a post, ignoring links and hashtags."""
    import textstat

    clean = _URL.sub("", text).replace("#", "")
    if len(clean.split()) < 3:
        return 0.0
    return max(round(float(textstat.flesch_kincaid_grade(clean)), 1), 0.0)


def check_readability(thread: dict[str, tuple[Post, ...]], max_grade: float) -> list[Reason]:
    reasons = []
    seen: set[str] = set()
    for platform, posts in thread.items():
        for i, post in enumerate(posts, start=1):
            if post.text in seen:
                continue
            seen.add(post.text)
            grade = reading_grade(post.text)
            if grade > max_grade:
                reasons.append(Reason(
                    "readability",
                    f"post {i} ({platform}) reads at grade {grade:g}, above this recipe's "
                    f"limit of {max_grade:g}: shorter sentences and words help",
                    forces_review=True))
    return reasons


def check_unusual(name: str, value: float, previous: float | None, history: list[float],
                  threshold: float) -> list[Reason]:
    """Is `value` outside its history's range, or a move bigger than `threshold`?"""
    reasons = []
    if len(history) >= 3 and not (min(history) <= value <= max(history)):
        reasons.append(Reason(
            "unusual", f"{name} is {value:,.0f}, outside its range in the last "
                       f"{len(history)} periods ({min(history):,.0f} to {max(history):,.0f})",
            forces_review=True))
    if previous:
        move = (value - previous) / previous
        if abs(move) > threshold:
            reasons.append(Reason(
                "unusual", f"{name} moved {move:+.0%} from the period before (this recipe "
                           f"flags moves over {threshold:.0%})", forces_review=True))
    return reasons


NO_TIMESTAMP = "the portal gives no last-updated time; freshness not checked"


def check_fresh(recipe: Recipe, last_updated: datetime | None,
                as_of: datetime) -> list[Reason]:
    """Raise DataError when the data is older than `stale_after`; when the portal gives no
    last-updated time, a reason (which needs review) instead of silence."""
    if recipe.stale_after is None:
        return []
    if last_updated is None:
        return [Reason("stale", NO_TIMESTAMP, forces_review=True)]
    age = as_of - last_updated
    if age > recipe.stale_after:
        words = plain_age(age, over=recipe.stale_after)
        before = (f"{words} before {as_of:%Y-%m-%d}" if age >= timedelta(days=1)
                  else f"{words} before {as_of:%Y-%m-%d %H:%M %Z}")
        raise DataError(
            f"recipe {recipe.name!r}: the dataset {recipe.source.dataset} was last updated "
            f"{last_updated:%Y-%m-%d %H:%M %Z}, {before}; the recipe skips data older than "
            f"{plain_duration(recipe.stale_after)} (stale_after): nothing drafted")
    return []


def plain_age(age: timedelta, over: timedelta | None = None) -> str:
    """How old something is, in whole days, or in hours (minutes) when under a day (an hour);
    with `over`, in as many units as it takes to read as more than `over`, so a stale message
    never says "1 day before" against a 1-day limit.

    >>> plain_age(timedelta(days=12, hours=5)), plain_age(timedelta(hours=5, minutes=59))
    ('12 days', '5 hours')
    >>> plain_age(timedelta(minutes=1, seconds=30)), plain_age(timedelta(days=1))
    ('1 minute', '1 day')
    >>> plain_age(timedelta(hours=30), over=timedelta(days=1))
    '1 day and 6 hours'
    """
    seconds = int(age.total_seconds())
    words, shown = [], 0
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n = (seconds - shown) // size
        if n:
            words.append(f"{n} {unit}{'s' if n != 1 else ''}")
            shown += n * size
        if words and (over is None or shown > over.total_seconds()):
            break
    if not words:
        return "0 seconds"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def plain_duration(d: timedelta) -> str:
    """3 days, 12 hours, 90 minutes: a timedelta as a person writes it."""
    seconds = int(d.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def decide_state(approval: str, reasons: list[Reason]) -> str:
    """The state a new draft is born in, from the recipe's approval mode and its guards."""
    if approval == "required":
        return PENDING
    if approval == "auto":
        return PENDING if any(r.kind == "readability" for r in reasons) else APPROVED
    return PENDING if any(r.forces_review for r in reasons) else APPROVED
