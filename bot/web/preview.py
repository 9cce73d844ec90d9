"""A thread as residents will see it: post by post, X beside Bluesky beside Mastodon, each
post measured against its platform's limit (a Mastodon instance's own) and graded for reading
ease, with its charts and alt text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.platforms import label, names, post_limits
from bot.settings import Config
from bot.store import Revision
from bot.web.queries import ChartInfo

if TYPE_CHECKING:
    from bot.limits import Measurement

ORDER = names()


@dataclass(frozen=True)
class Image:
    index: int
    name: str
    title: str
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class Cell:
    platform: str
    platform_name: str
    number: int  # 1-based position in the platform's thread
    text: str
    length: int
    limit: int
    unit: str
    ok: bool
    grade: float
    hard_to_read: bool
    images: tuple[Image, ...]

    @property
    def field(self) -> str:
        """The edit form's field name for this post."""
        return f"text-{self.platform}-{self.number - 1}"


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[Cell | None, ...]  # one per platform in `platforms`, None: no such post


@dataclass(frozen=True)
class Preview:
    platforms: tuple[str, ...]
    rows: tuple[Row, ...]
    handles: dict[str, str]  # platform -> @handle posting it ("" with no account)
    charts: tuple[Image, ...]  # every chart, with the revision's alt text


def handles(config: Config) -> dict[str, str]:
    out: dict[str, str] = {}
    for account in config.accounts.values():
        out.setdefault(account.platform, account.handle)
    return out


@lru_cache(maxsize=4096)
def _measure(text: str, platform: str, limit: int | None) -> tuple[Measurement, float]:
    """A post's length as its platform counts it (against `limit`) and its reading grade.
    Both depend on the text and limit alone and cost milliseconds (twitter-text, graphemes,
    textstat), while the desk shows the same posts again and again: kept for the process's
    life."""
    from bot.guards import reading_grade
    from bot.limits import measure_post

    return measure_post(text, platform, limit), reading_grade(text)


def build_preview(config: Config, revision: Revision, charts: list[ChartInfo],
                  max_grade: float, texts: dict[str, list[str]] | None = None,
                  accounts: tuple[str, ...] | list[str] = ()) -> Preview:
    """Measure and grade every post of `revision` (or of edited `texts`, same shape)."""
    images = {c.name: Image(c.index, c.name, c.title, revision.alts.get(c.name, c.alt),
                            c.width, c.height) for c in charts}
    limits = post_limits(config, tuple(accounts))
    platforms = tuple(p for p in ORDER if p in revision.thread) + tuple(
        p for p in revision.thread if p not in ORDER)
    grades: dict[str, float] = {}
    longest = max((len(revision.thread[p]) for p in platforms), default=0)
    rows = []
    for i in range(longest):
        cells: list[Cell | None] = []
        for p in platforms:
            posts = revision.thread[p]
            if i >= len(posts):
                cells.append(None)
                continue
            text = texts[p][i] if texts and p in texts else posts[i].text
            m, grades[text] = _measure(text, p, limits.get(p))
            cells.append(Cell(
                p, label(p), i + 1, text, m.length, m.limit, m.unit, m.ok and
                bool(text.strip()), grades[text], grades[text] > max_grade,
                tuple(images[n] for n in posts[i].charts if n in images)))
        rows.append(Row(i + 1, tuple(cells)))
    return Preview(platforms, tuple(rows), handles(config), tuple(images.values()))
