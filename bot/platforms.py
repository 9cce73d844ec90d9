"""What a platform is, and the one registry of them.

Everything outside a platform's own client asks this module: its name and label, how it
counts a post's length, how many images a post holds and how long their alt text may be,
which settings an account must name, how a posted receipt becomes a web address, and how to
open a client for an account. The client module itself (``bot/publish/NAME.py``) is imported
only by ``open_client``, so measuring a post never loads tweepy, atproto or httpx.

    class Platform(Protocol):
        name: str            # "x" | "bluesky" | "mastodon": the key in config and drafts
        label: str           # "X", "Bluesky", "Mastodon": how pages and messages name it
        limit: int           # the default length limit (an instance may set its own)
        unit: str            # what the length counts
        max_images: int      # images per post
        max_alt_chars: int   # alt text per image (default; an instance may set its own)
        account_keys: tuple[str, ...]   # settings an [accounts.NAME] table must have
        account_settings: dict[str, tuple[type, Any]]  # every setting it may have: type, default
        rules: str           # the length rule as the edit page words it
        colour: str          # the desk's colour for its logo and cards ("" for the neutral one)
        counter: dict[str, str | int]  # how the desk's live counter counts (see below)
        client: str          # "bot.publish.x:XClient", imported only when used
        reader: str          # "bot.engagement.x:XReader": reads counts and replies back
        reads_unasked: bool  # False: an account reads only with read_metrics = true (X)
        def measure(text, limit=None) -> Measurement
        def fits(text, reserve, limit=None) -> bool
        def post_url(remote_id, uri) -> str
        def open_client(config, account) -> PlatformClient
        def reads(account) -> bool      # whether the account's posts are read back
        def open_reader(config, account) -> the reader (engagement.readback's contract)

Adding a platform is one client module under ``bot/publish/`` and one entry in REGISTRY
(and, to read its engagement back, a reader under ``bot/engagement/``). Config reads an
account's keys from ``account_settings`` (besides the keys every account has: platform,
handle, posts_per_hour, posts_per_day, read_metrics) and keeps them in
``AccountConfig.settings``. The desk's live counter (static/desk.js) reads ``counter`` from
the page: ``count`` "graphemes" or "weighted" (twitter-text v3 weights), ``urls`` "none",
"any" (with or without a protocol) or "protocol" (only links with one), ``url_weight``,
``mentions`` "full" or "username" (@user@server counts as @user), ``max_bytes`` (0: none).
The Python measure on save stays the authority.

    >>> platform("mastodon").measure("See https://example.org/" + "a" * 200)
    Measurement(platform='mastodon', length=27, limit=500, unit='characters', ok=True)
    >>> names()
    ('x', 'bluesky', 'mastodon')

Pages and help texts name the platforms through ``spoken_labels()`` ("X, Bluesky and
Mastodon"), never a list of their own.
"""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.settings import AccountConfig, Config


@dataclass(frozen=True)
class Measurement:
    """A post's length on one platform, against the limit that binds it."""

    platform: str
    length: int
    limit: int
    unit: str  # "weighted characters" (x), "graphemes" or "bytes" (bluesky), "characters"
    ok: bool


def count_graphemes(text: str) -> int:
    """The number of user-perceived characters.

    >>> count_graphemes("e\\u0301te\\u0301"), count_graphemes("🇺🇸")
    (3, 1)
    """
    return len(_patterns()[0].findall(text))


@functools.cache
def _patterns() -> tuple[Any, Any]:
    """The grapheme and Mastodon mention patterns, compiled on first use (so that importing
    the registry, as ``citycrier --help`` does, costs nothing)."""
    import regex

    return (regex.compile(r"\X"), regex.compile(
        r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w)?", regex.I))


class Platform(Protocol):
    """One social network citycrier posts to. See the module docstring."""

    name: str
    label: str
    limit: int
    unit: str
    max_images: int
    max_alt_chars: int
    account_keys: tuple[str, ...]
    account_settings: dict[str, tuple[type, Any]]
    rules: str
    colour: str
    counter: dict[str, str | int]
    client: str
    reader: str
    reads_unasked: bool

    def measure(self, text: str, limit: int | None = None) -> Measurement: ...

    def fits(self, text: str, reserve: int, limit: int | None = None) -> bool: ...

    def post_url(self, remote_id: str, uri: str) -> str: ...

    def open_client(self, config: Config, account: AccountConfig) -> Any: ...

    def reads(self, account: AccountConfig) -> bool: ...

    def open_reader(self, config: Config, account: AccountConfig) -> Any: ...


class _Base:
    """What every platform does the same way: open its client lazily."""

    name = ""
    colour = ""
    client = ""
    reader = ""
    reads_unasked = True

    def open_client(self, config: Config, account: AccountConfig) -> Any:
        return _load(self.client).from_config(config, account)

    def reads(self, account: AccountConfig) -> bool:
        return bool(self.reader) and (self.reads_unasked or account.read_metrics)

    def open_reader(self, config: Config, account: AccountConfig) -> Any:
        return _load(self.reader).from_config(config, account)


def _load(target: str) -> Any:
    """The class named "package.module:Class", imported now."""
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


class X(_Base):
    """X counts a weighted length (twitter-text v3): CJK and emoji 2, any URL 23."""

    name, label, limit, unit = "x", "X", 280, "weighted characters"
    max_images, max_alt_chars = 4, 1000
    account_keys: tuple[str, ...] = ("consumer_key_env", "consumer_secret_env",
                                     "access_token_env", "access_token_secret_env")
    account_settings: dict[str, tuple[type, Any]] = {
        "api_base": (str, "https://api.twitter.com"), "consumer_key_env": (str, ""),
        "consumer_secret_env": (str, ""), "access_token_env": (str, ""),
        "access_token_secret_env": (str, "")}
    rules = "X allows 280 characters (a link counts as 23, an emoji as 2)"
    colour = "#0f1419"
    counter: dict[str, str | int] = {"count": "weighted", "urls": "any", "url_weight": 23,
                                     "mentions": "full", "max_bytes": 0}
    client = "bot.publish.x:XClient"
    reader = "bot.engagement.x:XReader"
    reads_unasked = False  # reads cost money on X's pay-per-use tier: read_metrics = true

    def measure(self, text: str, limit: int | None = None) -> Measurement:
        from twitter_text import parse_tweet

        parsed = parse_tweet(text)
        return Measurement("x", parsed.weightedLength, self.limit, self.unit, parsed.valid)

    def fits(self, text: str, reserve: int, limit: int | None = None) -> bool:
        from twitter_text import parse_tweet

        return bool(parse_tweet(text).weightedLength + reserve <= self.limit)

    def post_url(self, remote_id: str, uri: str) -> str:
        return f"https://x.com/i/web/status/{remote_id}" if remote_id.isdigit() else ""


class Bluesky(_Base):
    """Bluesky allows 300 graphemes and 3,000 UTF-8 bytes; the PDS rejects more."""

    name, label, limit, unit = "bluesky", "Bluesky", 300, "graphemes"
    max_bytes = 3000
    max_images, max_alt_chars = 4, 2000
    account_keys: tuple[str, ...] = ("app_password_env",)
    account_settings: dict[str, tuple[type, Any]] = {
        "service": (str, "https://bsky.social"), "app_password_env": (str, "")}
    rules = "Bluesky 300"
    colour = "#1083fe"
    counter: dict[str, str | int] = {"count": "graphemes", "urls": "none", "url_weight": 0,
                                     "mentions": "full", "max_bytes": max_bytes}
    client = "bot.publish.bluesky:BlueskyClient"
    reader = "bot.engagement.bluesky:BlueskyReader"

    def measure(self, text: str, limit: int | None = None) -> Measurement:
        graphemes = count_graphemes(text)
        size = len(text.encode("utf-8"))
        if graphemes <= self.limit and size > self.max_bytes:
            return Measurement("bluesky", size, self.max_bytes, "bytes", False)
        return Measurement("bluesky", graphemes, self.limit, "graphemes",
                           graphemes <= self.limit and size <= self.max_bytes)

    def fits(self, text: str, reserve: int, limit: int | None = None) -> bool:
        return (count_graphemes(text) + reserve <= self.limit
                and len(text.encode("utf-8")) + reserve <= self.max_bytes)

    def post_url(self, remote_id: str, uri: str) -> str:
        parts = uri[len("at://"):].split("/") if uri.startswith("at://") else []
        if len(parts) == 3 and parts[1] == "app.bsky.feed.post":
            return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"
        return ""


# Mastodon's StatusLengthValidator: every URL with a protocol counts 23 (twitter-text's
# extractor with extract_url_without_protocol off: Mastodon's own), a mention @user@domain
# counts as @user, and the rest is counted in grapheme clusters (each_grapheme_cluster).
URL_LENGTH = 23


def mastodon_countable(text: str) -> str:
    """The text Mastodon counts: URLs as 23 characters, mentions as their username only.

    >>> mastodon_countable("Hi @city@social.example, see https://data.brla.gov/d/7ixm")
    'Hi @city, see xxxxxxxxxxxxxxxxxxxxxxx'
    """
    from twitter_text import extract_urls_with_indices

    urls = extract_urls_with_indices(text, extract_urls_without_protocol=False)
    for url in sorted(urls, key=lambda u: -u["indices"][0]):
        start, end = url["indices"]
        text = text[:start] + "x" * URL_LENGTH + text[end:]
    return short_mentions(text)


def short_mentions(text: str) -> str:
    """Each mention @user@domain as @user: how Mastodon counts it, and how it shows a
    mention it resolved in a status's ``content``.

    >>> short_mentions("Thanks @parks@city.social and @bob, not info@city.gov")
    'Thanks @parks and @bob, not info@city.gov'
    """
    return str(_patterns()[1].sub(lambda m: "@" + m.group(1), text))


class Mastodon(_Base):
    """Mastodon counts graphemes against the instance's own ``max_characters`` (500)."""

    name, label, limit, unit = "mastodon", "Mastodon", 500, "characters"
    max_images, max_alt_chars = 4, 1500
    account_keys: tuple[str, ...] = ("api_base", "access_token_env")
    account_settings: dict[str, tuple[type, Any]] = {
        "api_base": (str, ""), "access_token_env": (str, ""),
        "visibility": (str, "public"), "reply_visibility": (str, "unlisted"),
        "language": (str, "")}
    rules = ("Mastodon what its server allows (500 unless it says otherwise; a link counts "
             "as 23, a mention as its name only)")
    colour = "#563acc"
    counter: dict[str, str | int] = {"count": "graphemes", "urls": "protocol",
                                     "url_weight": 23, "mentions": "username", "max_bytes": 0}
    client = "bot.publish.mastodon:MastodonClient"
    reader = "bot.engagement.mastodon:MastodonReader"

    def measure(self, text: str, limit: int | None = None) -> Measurement:
        bound = limit or self.limit
        length = count_graphemes(mastodon_countable(text))
        return Measurement("mastodon", length, bound, self.unit,
                           0 < length <= bound and bool(text.strip()))

    def fits(self, text: str, reserve: int, limit: int | None = None) -> bool:
        return count_graphemes(mastodon_countable(text)) + reserve <= (limit or self.limit)

    def post_url(self, remote_id: str, uri: str) -> str:
        return ""  # the receipt keeps the status's own web address as its uri


REGISTRY: dict[str, Platform] = {p.name: p for p in (X(), Bluesky(), Mastodon())}


def names() -> tuple[str, ...]:
    """Every platform's name, in the order pages show them."""
    return tuple(REGISTRY)


def label(name: str) -> str:
    """How pages and messages name a platform ("X", "Mastodon"); unknown names as given."""
    found = REGISTRY.get(name)
    return found.label if found else name


def spoken_labels(last: str = "and") -> str:
    """Every platform's label as a sentence names them.

    >>> spoken_labels(), spoken_labels("or")
    ('X, Bluesky and Mastodon', 'X, Bluesky or Mastodon')
    """
    labels = [p.label for p in REGISTRY.values()]
    return f"{', '.join(labels[:-1])} {last} {labels[-1]}" if len(labels) > 1 else labels[0]


def alt_limit(platforms: tuple[str, ...] | list[str]) -> int:
    """The longest alt text every one of ``platforms`` takes (the strictest limit binds: one
    description goes with the chart everywhere); every platform's when none is known.

    >>> alt_limit(("bluesky", "mastodon")), alt_limit(("x", "bluesky")), alt_limit(())
    (1500, 1000, 1000)
    """
    known = [REGISTRY[n] for n in platforms if n in REGISTRY] or list(REGISTRY.values())
    return min(p.max_alt_chars for p in known)


def platform(name: str) -> Platform:
    """The platform called ``name``; ValueError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown platform {name!r}: expected one of {known}") from None


# -- limits an instance sets for itself, as the client last read them ---------------------


def limits_file(state_dir: Path, account: str) -> Path:
    """Where a client keeps the limits its server announced (read when measuring)."""
    return state_dir / f"limits-{account}.json"


def save_limits(state_dir: Path, account: str, limits: dict[str, int]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = limits_file(state_dir, account)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(limits, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def limits_stamp(state_dir: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Which limits files there are and when each last changed: a page measured against them
    is stale once this differs (bot.web.cache)."""
    try:
        found = [(p.name, p.stat()) for p in state_dir.glob("limits-*.json")]
    except OSError:
        return ()
    return tuple(sorted((name, st.st_ino, st.st_mtime_ns, st.st_size) for name, st in found))


def read_limits(state_dir: Path, account: str) -> dict[str, int]:
    """The limits last saved for ``account``; {} if none were (offline: defaults apply)."""
    try:
        data = json.loads(limits_file(state_dir, account).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int) and v > 0} \
        if isinstance(data, dict) else {}


def post_limits(config: Config | None, accounts: tuple[str, ...] = ()) -> dict[str, int]:
    """Per platform, the length limit posts are measured against: the instance's own
    ``max_characters`` as its account last read it, else the platform's default.

    ``accounts`` (a recipe's named accounts) are preferred over each platform's first."""
    out = {name: p.limit for name, p in REGISTRY.items()}
    if config is None:
        return out
    chosen: dict[str, str] = {}
    for name in accounts:
        account = config.accounts.get(name)
        if account is not None:
            chosen.setdefault(account.platform, account.name)
    for account in config.accounts.values():
        chosen.setdefault(account.platform, account.name)
    for name, account_name in chosen.items():
        limit = read_limits(config.state_dir, account_name).get("max_characters")
        if limit:
            out[name] = limit
    return out
