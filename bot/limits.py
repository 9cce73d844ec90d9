"""How long a post may be on each platform, and how to split text that is longer.

- **X** counts a *weighted* length, at most 280: code points up to U+10FF (Latin, Greek,
  Cyrillic, Hebrew, Arabic, ...) and common punctuation weigh 1, everything else (CJK, most
  symbols) 2, any emoji sequence 2, any URL 23, after NFC normalisation.
  `twitter-text-parser` does the count (its default configuration is twitter-text's
  version 3, the one X uses today).
- **Bluesky** allows at most 300 graphemes (user-perceived characters, ``regex``'s ``\\X``)
  and at most 3,000 UTF-8 bytes; the PDS rejects more.
- **Mastodon** counts graphemes against the instance's own limit (500 by default), every
  URL as 23 and a mention as its username only (``@city@social.example`` is ``@city``).

The rules themselves live with each platform in ``bot/platforms.py``; this module measures
through them and splits text that is too long.

    >>> measure_post("Hello, Baltimore", "bluesky")
    Measurement(platform='bluesky', length=16, limit=300, unit='graphemes', ok=True)
    >>> split_thread(["One. Two."], "x", numbering=True)
    ['One. Two.']
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import regex

from bot.platforms import Measurement, count_graphemes
from bot.platforms import platform as find_platform

__all__ = ["Measurement", "count_graphemes", "measure_post", "split_post", "split_thread",
           "number_posts"]

_GRAPHEME = regex.compile(r"\X")
# A sentence ends at ". ", "! ", "? " or at a line break. A period after a common abbreviation
# (AP month names as voice.day writes them, "St.", "No.", ...) does not end a sentence, so
# "Monday, Oct. 21" is never cut after "Oct."; nor does the period of a numbered line ("1. Rats").
_ABBREVIATIONS = (
    "Jan|Feb|Aug|Sept|Oct|Nov|Dec|Mr|Mrs|Ms|Dr|St|Ave|Blvd|No|vs|e\\.g|i\\.e|a\\.m|p\\.m"
)
_SENTENCE_BREAK = regex.compile(
    rf"(?<!\b(?:{_ABBREVIATIONS})\.)(?<!(?:^|\n)[ \t]*\d{{1,3}}\.)(?<=[.!?])\s+|\s*\n\s*"
)
_WORD_BREAK = regex.compile(r"\s+")


def measure_post(text: str, platform_name: str, limit: int | None = None) -> Measurement:
    """Measure `text` as `platform_name` counts it (against `limit` where the platform's
    server sets its own, as a Mastodon instance does; else the platform's default).

    For X, `ok` is twitter-text's verdict: a length from 1 to 280 and no invalid characters
    (so an empty post is not ok). For Bluesky the unit is whichever limit is broken,
    graphemes when both hold or both break.

    >>> measure_post("👨‍👩‍👧‍👦" * 300, "bluesky")
    Measurement(platform='bluesky', length=7500, limit=3000, unit='bytes', ok=False)
    >>> measure_post("東京", "x")
    Measurement(platform='x', length=4, limit=280, unit='weighted characters', ok=True)
    >>> measure_post("東京 https://data.brla.gov/d/7ixm-mnvx", "mastodon", limit=1000)
    Measurement(platform='mastodon', length=26, limit=1000, unit='characters', ok=True)
    """
    return find_platform(platform_name).measure(text, limit)


def _fits(text: str, platform_name: str, reserve: int, limit: int | None = None) -> bool:
    """Whether `text` plus `reserve` more characters (ASCII, weight 1) is within the limits."""
    return find_platform(platform_name).fits(text, reserve, limit)


def _segments(text: str, pattern: regex.Pattern[str]) -> list[tuple[str, str]]:
    """Cut `text` at `pattern`, keeping each piece's following separator: [(piece, sep)]."""
    pieces: list[tuple[str, str]] = []
    start = 0
    for found in pattern.finditer(text):
        if found.start() > start:
            pieces.append((text[start : found.start()], found.group()))
        start = found.end()
    if start < len(text):
        pieces.append((text[start:], ""))
    return pieces


def _longest_fit(available: int, fits_first: Callable[[int], bool], hint: int = 1) -> int:
    """The largest k in 1..available with fits_first(k), taking fits_first(1) as given.

    Gallops from `hint` (the size of the previous post), then bisects, so a post costs a
    few measurements rather than one per word: twitter-text's parser takes about
    5 microseconds per character.
    """
    hint = max(1, min(hint, available))
    if hint == 1 or fits_first(hint):
        good, step = hint, 1
        while good + step <= available and fits_first(good + step):
            good, step = good + step, step * 2
        bad = min(good + step, available + 1)
    else:
        bad, step = hint, 1
        while bad - step > 1 and not fits_first(bad - step):
            bad, step = bad - step, step * 2
        good = max(bad - step, 1)
    while bad - good > 1:
        middle = (good + bad) // 2
        if fits_first(middle):
            good = middle
        else:
            bad = middle
    return good


def _hard_cut(word: str, platform: str, reserve: int,
              limit: int | None = None) -> list[tuple[str, str]]:
    """Cut a word too long for one post into the longest runs of whole graphemes that fit.

    A single grapheme too long by itself (hundreds of combining marks) is cut by code point.
    """
    units: list[str] = []
    for grapheme in _GRAPHEME.findall(word):
        units.extend([grapheme] if _fits(grapheme, platform, reserve, limit)
                     else list(grapheme))

    def fits_run(at: int, count: int) -> bool:
        return _fits("".join(units[at : at + count]), platform, reserve, limit)

    chunks: list[tuple[str, str]] = []
    start, taken = 0, 1
    while start < len(units):
        taken = _longest_fit(len(units) - start, partial(fits_run, start), taken)
        chunks.append(("".join(units[start : start + taken]), ""))
        start += taken
    return chunks


def _atoms(text: str, platform: str, reserve: int,
           limit: int | None = None) -> list[tuple[str, str]]:
    """Sentences that fit, else their words, else pieces of words: [(atom, separator)]."""
    atoms: list[tuple[str, str]] = []
    for sentence, sentence_sep in _segments(text, _SENTENCE_BREAK):
        if _fits(sentence, platform, reserve, limit):
            atoms.append((sentence, sentence_sep))
            continue
        words = _segments(sentence, _WORD_BREAK)
        for index, (word, word_sep) in enumerate(words):
            sep = sentence_sep if index == len(words) - 1 else word_sep
            if _fits(word, platform, reserve, limit):
                atoms.append((word, sep))
            else:
                chunks = _hard_cut(word, platform, reserve, limit)
                atoms.extend(chunks[:-1])
                atoms.append((chunks[-1][0], sep))
    return atoms


def split_post(text: str, platform_name: str, reserve: int = 0,
               limit: int | None = None) -> list[str]:
    """Split `text` into posts that each fit `platform` with `reserve` characters to spare.

    Sentences are packed greedily; a sentence too long for one post is cut between words,
    a word too long for one post between graphemes. A text that fits is returned as is.

    >>> split_post("One. Two. Three.", "bluesky", reserve=290)
    ['One. Two.', 'Three.']
    """
    bound = limit or find_platform(platform_name).limit
    if reserve < 0 or reserve >= bound:
        raise ValueError(f"reserve must be from 0 to {bound - 1}, got {reserve}")
    if _fits(text, platform_name, reserve, limit):
        return [text]
    atoms = _atoms(text, platform_name, reserve, limit)

    def joined(start: int, count: int) -> str:
        parts = atoms[start : start + count]
        piece = "".join(atom + sep for atom, sep in parts[:-1]) + parts[-1][0]
        return piece.strip()

    def fits_run(at: int, count: int) -> bool:
        return _fits(joined(at, count), platform_name, reserve, limit)

    posts: list[str] = []
    start, count = 0, 1
    while start < len(atoms):
        count = _longest_fit(len(atoms) - start, partial(fits_run, start), count)
        posts.append(joined(start, count))
        start += count
    return [post for post in posts if post]


def number_posts(posts: list[str]) -> list[str]:
    """Append a "k/n" counter to each post of a thread of two or more.

    >>> number_posts(["One.", "Two."])
    ['One.\\n\\n1/2', 'Two.\\n\\n2/2']
    """
    if len(posts) <= 1:
        return list(posts)
    total = len(posts)
    return [f"{post}\n\n{index}/{total}" for index, post in enumerate(posts, start=1)]


def split_thread(posts: list[str], platform_name: str, numbering: bool,
                 limit: int | None = None) -> list[str]:
    """Split every post that is too long, then number the thread when `numbering` is true.

    Room for the counter is kept only when the thread has more than one post; a thread of
    100 posts or more keeps room for the longer counter.
    """
    find_platform(platform_name)  # ValueError for an unknown platform
    plain = [piece for post in posts for piece in split_post(post, platform_name, 0, limit)]
    if not numbering or len(plain) <= 1:
        return plain
    reserve = len("\n\n99/99")
    while True:
        pieces = [piece for post in posts
                  for piece in split_post(post, platform_name, reserve, limit)]
        needed = len(f"\n\n{len(pieces)}/{len(pieces)}")
        if needed <= reserve:
            return number_posts(pieces)
        reserve = needed
