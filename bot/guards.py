"""Guards: reasons a draft needs a person's eyes, recorded on the draft and shown with it.

- readability: a post reading above the recipe's `max_grade` (Flesch-Kincaid) needs review,
  even when approval is `auto`;
- unusual change: the total outside the range of its own history in the store, or moving more
  than the recipe's `unusual_change`, needs review under `auto-unless-unusual`;
- length and empty periods are errors raised earlier (compose.py, figures.py): a draft that
  breaks them is never made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.store import APPROVED, PENDING, Post

_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Reason:
    kind: str  # readability | unusual | split | stale
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


def decide_state(approval: str, reasons: list[Reason]) -> str:
    """The state a new draft is born in, from the recipe's approval mode and its guards."""
    if approval == "required":
        return PENDING
    if approval == "auto":
        return PENDING if any(r.kind == "readability" for r in reasons) else APPROVED
    return PENDING if any(r.forces_review for r in reasons) else APPROVED
