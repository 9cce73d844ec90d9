"""Read config.toml and posts/*.toml into frozen dataclasses, reporting every problem.

Each loader collects `Problem`s (file, key, what, fix) instead of stopping at the first, so
`citycrier check` can show them all; `load_config` / `load_recipes` raise `CheckFailed`
carrying the list when anything is wrong. Unknown keys are errors, with a "did you mean"
where a known key is close. Secrets may appear only as the *name* of an environment variable
(keys ending in `_env`); a key that looks like a secret itself is refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import CheckFailed, Problem, not_utf8
from bot.periods import PERIODS
from bot.platforms import REGISTRY
from bot.query import BUCKETS, MEASURES, OPERATORS, Filter, Measure, non_finite
from bot.settings import (
    APPROVAL_MODES,
    CHART_KINDS,
    PORTAL_KINDS,
    AccountConfig,
    ApprovalConfig,
    Breakdown,
    ChartSpec,
    Config,
    EngagementConfig,
    GoalSpec,
    LiveSource,
    NotifyConfig,
    PortalConfig,
    Recipe,
    SeriesSpec,
    SourceSpec,
    WebConfig,
)

DEFAULT_CONFIG = "config.toml"
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey")
_CRON_FIELD = re.compile(r"^[\w*/,\-]+$")
_PASSWORD = re.compile(r"^([^:/]+://[^:/@]*):[^/]*@")  # scheme://user:PASSWORD@
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# integer settings with a range: key -> (lowest, highest or None, an example)
_BOUNDS: dict[str, tuple[int, int | None, int]] = {
    "port": (1, 65535, 8080), "smtp_port": (1, 65535, 587), "grace_minutes": (0, None, 30),
    "missed_slot_grace_minutes": (0, None, 60), "session_hours": (1, None, 12),
    "retries": (0, None, 3), "page_size": (0, None, 1000), "posts_per_hour": (1, None, 30),
    "posts_per_day": (1, None, 200)}


@dataclass
class _Reader:
    """Reads one TOML table, noting problems against `file` instead of raising."""

    file: str
    problems: list[Problem]

    def note(self, where: str, what: str, fix: str = "") -> None:
        self.problems.append(Problem(self.file, where, what, fix))

    def table(self, data: Any, where: str, known: Mapping[str, Any],
              required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Type-check a table against `known` keys; return the keys that passed."""
        if not isinstance(data, dict):
            self.note(where, f"must be a table, not {type(data).__name__}",
                      f"write it as [{where}]")
            return {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            at = f"{where}.{key}" if where else key
            if key not in known:
                self.unknown(at, key, list(known))
                continue
            want = known[key]
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            ok = isinstance(value, want) and not (
                want in (int, float) and isinstance(value, bool))
            if not ok:
                names = want.__name__ if isinstance(want, type) else " or ".join(
                    t.__name__ for t in want)
                example = _BOUNDS[key][2] if key in _BOUNDS else _example(want)
                self.note(at, f"must be {_article(names)}, not {type(value).__name__} "
                              f"{value!r}", f"write {key} = {example}")
                continue
            if key.endswith("_env") and isinstance(value, str) and not _ENV_NAME.match(value):
                self.note(at, "is not the name of an environment variable (is it the secret "
                              "itself? never write a secret here)",
                          f'write {key} = "CITYCRIER_..." and put the secret in that '
                          f'variable, in the environment or .env')
                continue
            if key in _BOUNDS and not isinstance(value, bool) and isinstance(value, int):
                low, high, example = _BOUNDS[key]
                if value < low or (high is not None and value > high):
                    rule = f"from {low} to {high}" if high is not None else f"{low} or more"
                    self.note(at, f"must be {rule}, not {value}", f"write {key} = {example}")
                    continue
            out[key] = value
        for key in required:
            if key not in data:
                at = f"{where}.{key}" if where else key
                self.note(at, "is missing", f"add {key} = {_example(known[key])}")
        return out

    def unknown(self, at: str, key: str, known: list[str]) -> None:
        if key.endswith(_SECRET_WORDS) or any(w in key.lower() for w in _SECRET_WORDS):
            if not key.endswith("_env"):
                self.note(at, "looks like a secret written into the file",
                          f"put the secret in the environment or .env and name the variable "
                          f"with {key}_env = \"CITYCRIER_...\"" if f"{key}_env" in known else
                          "put secrets in the environment or .env, never in this file")
                return
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else (
            "known keys: " + ", ".join(sorted(known)))
        self.note(at, "unknown key", hint)


def _article(names: str) -> str:
    return ("an " if names[0] in "aeiou" else "a ") + names


def _example(want: type | tuple[type, ...]) -> str:
    first = want[0] if isinstance(want, tuple) else want
    return {str: '"..."', int: "1", float: "1.0", bool: "true", list: "[...]",
            dict: "{...}", date: "2026-12-31"}.get(first, "...")


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        text = read_utf8(path)
        if isinstance(text, Problem):
            problems.append(text)
            return None
        return tomllib.loads(text)
    except FileNotFoundError:
        problems.append(Problem(str(path), "", "file not found",
                                "pass --config PATH, or run from the folder holding it"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(str(path), "", f"is not valid TOML: {exc}",
                                "fix the syntax at that line"))
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot be read: {exc.strerror}"))
    return None


def read_utf8(path: Path) -> str | Problem:
    """A text file's content, or the problem naming where its bytes stop being UTF-8.
    (A byte-order mark, as some editors write, is accepted.)"""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return not_utf8(str(path), bytes(exc.object), exc.start)


# ---------------------------------------------------------------------------------- config

_TOP = {"timezone": str, "storage": dict, "paths": dict, "approval": dict, "schedule": dict,
        "portals": dict, "accounts": dict, "notify": dict, "web": dict,
        "engagement": dict}
_STORAGE = {"url": str, "state_dir": str, "outbox_dir": str}
_PATHS = {"posts": str, "templates": str}
_APPROVAL = {"default": str, "two_person": bool, "missed_slot_grace_minutes": int}
_SCHEDULE = {"grace_minutes": int}
_PORTAL = {"kind": str, "label": str, "url": str, "path": str, "app_token_env": str,
           "soda3": bool, "sql": bool, "timeout_seconds": float, "retries": int,
           "page_size": int, "dataset_link": str, "synthetic": bool}
# the keys every account has; each platform adds its own (Platform.account_settings)
_ACCOUNT = {"platform": str, "handle": str,
            "posts_per_hour": int, "posts_per_day": int, "read_metrics": bool}
_NOTIFY = {"webhook_url_env": str, "smtp_host": str, "smtp_port": int, "smtp_from": str,
           "smtp_to": list, "smtp_user_env": str, "smtp_password_env": str,
           "smtp_starttls": bool}
_WEB = {"host": str, "port": int, "secret_key_env": str, "session_hours": int,
        "public_url": str}
_ENGAGEMENT = {"read_after": list, "retention_days": int, "per_pass": int, "digest": str}
DIGESTS = ("", "weekly")
VISIBILITIES = ("public", "unlisted", "private")


def read_config(path: Path, problems: list[Problem]) -> Config | None:
    """Read config.toml; add every problem to `problems`; None if it cannot be used."""
    path = path.resolve()
    data = _read_toml(path, problems)
    if data is None:
        return None
    r = _Reader(str(path), problems)
    top = r.table(data, "", _TOP, required=("timezone",))
    root = path.parent

    tz = top.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.note("timezone", f"{tz!r} is not an IANA time zone name",
               'use a name like "America/Chicago" or "America/New_York"')
        tz = "UTC"

    storage = r.table(top.get("storage", {}), "storage", _STORAGE)
    paths = r.table(top.get("paths", {}), "paths", _PATHS)
    state_dir = root / storage.get("state_dir", "state")
    url = storage.get("url", "sqlite:///" + str(state_dir / "citycrier.db"))
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        shown = _PASSWORD.sub(r"\1:***@", url)  # a problem line never shows the password
        r.note("storage.url", f"{shown!r} is not a supported database URL",
               'write "postgresql://" rather than "postgres://"' if url.startswith(
                   "postgres://") else
               'use "sqlite:///path/to/citycrier.db" or "postgresql://user@host/db"')
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            url = "sqlite:///" + str(root / rel)

    ap = r.table(top.get("approval", {}), "approval", _APPROVAL)
    if ap.get("default", "required") not in APPROVAL_MODES:
        r.note("approval.default", f"{ap['default']!r} is not an approval mode",
               "use " + " | ".join(APPROVAL_MODES))
        ap.pop("default")
    sched = r.table(top.get("schedule", {}), "schedule", _SCHEDULE)

    portals: dict[str, PortalConfig] = {}
    for name, raw in (top.get("portals") or {}).items():
        p = _read_portal(r, name, raw, root)
        if p:
            portals[name] = p
    accounts: dict[str, AccountConfig] = {}
    for name, raw in (top.get("accounts") or {}).items():
        a = _read_account(r, name, raw)
        if a:
            accounts[name] = a

    nt = r.table(top.get("notify", {}), "notify", _NOTIFY)
    if "smtp_to" in nt:
        nt["smtp_to"] = tuple(str(x) for x in nt["smtp_to"])
    web = r.table(top.get("web", {}), "web", _WEB)
    engagement = _read_engagement(r, top.get("engagement", {}))

    return Config(
        path=path, root=root, timezone=tz,
        posts_dir=root / paths.get("posts", "posts"),
        templates_dir=root / paths.get("templates", "templates"),
        storage_url=url, state_dir=state_dir,
        outbox_dir=root / storage.get("outbox_dir", "outbox"),
        portals=portals, accounts=accounts,
        approval=ApprovalConfig(**ap), notify=NotifyConfig(**nt), web=WebConfig(**web),
        engagement=engagement,
        schedule_grace_minutes=sched.get("grace_minutes", 30),
    )


MAX_READ_AFTER = timedelta(days=366)  # a reading point later than this is a typo
MAX_RETENTION_DAYS = 3650  # and so is keeping replies longer (dates past year 9999 overflow)


def _read_engagement(r: _Reader, raw: Any) -> EngagementConfig:
    t = r.table(raw, "engagement", _ENGAGEMENT)
    if "read_after" in t:
        points = [_duration(str(v)) for v in t["read_after"]]
        if not points or any(p is None or p > MAX_READ_AFTER for p in points):
            r.note("engagement.read_after", f"{t['read_after']!r} is not a list of durations "
                   "of at most a year", 'write it like ["1 hour", "24 hours", "7 days"]')
            t.pop("read_after")
        else:
            t["read_after"] = tuple(sorted(p for p in points if p is not None))
    for key, usual in (("retention_days", 30), ("per_pass", 500)):
        if key in t and t[key] < 1:
            r.note(f"engagement.{key}", f"must be at least 1, not {t[key]}",
                   f"write {key} = {usual}")
            t.pop(key)
    if t.get("retention_days", 0) > MAX_RETENTION_DAYS:
        r.note("engagement.retention_days", f"must be at most {MAX_RETENTION_DAYS} (ten "
               f"years), not {t['retention_days']}", "write retention_days = 30")
        t.pop("retention_days")
    if t.get("digest", "") not in DIGESTS:
        r.note("engagement.digest", f"{t['digest']!r} is not a digest", 'use "weekly" or ""')
        t.pop("digest")
    return EngagementConfig(**t)


def _read_portal(r: _Reader, name: str, raw: Any, root: Path) -> PortalConfig | None:
    where = f"portals.{name}"
    t = r.table(raw, where, _PORTAL, required=("kind",))
    kind = t.get("kind")
    if kind is None:
        return None
    if kind not in PORTAL_KINDS:
        r.note(f"{where}.kind", f"{kind!r} is not a portal kind", "use " + " | ".join(PORTAL_KINDS))
        return None
    if kind == "file" and "path" not in t:
        r.note(f"{where}.path", "is missing", 'a file portal needs path = "folder/with/csv"')
        return None
    if kind != "file" and not t.get("url", "").startswith(("http://", "https://")):
        r.note(f"{where}.url", "is missing or not an http(s) URL",
               f'a {kind} portal needs url = "https://..."')
        return None
    if "path" in t:
        t["path"] = root / t["path"]
    t.setdefault("label", name)
    return PortalConfig(name=name, **t)


def _server_problem(url: str) -> str:
    """What is wrong with a server's address as an account's api_base, or "".

    The API's paths (/api/v1/..., /2/tweets) are added to it, so it is the server alone.

    >>> _server_problem("https://city.social/"), _server_problem("city.social")
    ('', 'is not an http(s) URL')
    >>> _server_problem("https://city.social/api/v1")
    "has a path ('/api/v1'): give the server alone"
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if parts.path.strip("/") or parts.query or parts.fragment:
        extra = url[len(f"{parts.scheme}://{parts.netloc}"):]
        return f"has a path ({extra!r}): give the server alone"
    return ""


def _read_account(r: _Reader, name: str, raw: Any) -> AccountConfig | None:
    where = f"accounts.{name}"
    t = r.table(raw, where, _account_keys(raw), required=("platform",))
    platform = t.get("platform")
    if platform is None:
        return None
    if platform not in REGISTRY:
        r.note(f"{where}.platform", f"{platform!r} is not a platform",
               "use " + " | ".join(REGISTRY))
        return None
    entry = REGISTRY[platform]
    for key in entry.account_keys:
        if t.get(key) or key in raw:  # present but refused: noted once, by r.table
            continue
        if key.endswith("_env"):
            r.note(f"{where}.{key}", "is missing",
                   f'name the environment variable that holds it: {key} = "CITYCRIER_..."')
        else:
            r.note(f"{where}.{key}", "is missing", f'{key} = "https://..." (the server)')
    if "api_base" in t:
        problem = _server_problem(t["api_base"])
        if problem:
            r.note(f"{where}.api_base", problem, 'api_base = "https://city.social" (the '
                                                 'server itself, no path)')
    for key in ("visibility", "reply_visibility"):
        if key in t and t[key] not in VISIBILITIES:
            r.note(f"{where}.{key}", f"{t[key]!r} is not a visibility",
                   "use " + " | ".join(VISIBILITIES))
            t.pop(key)
    settings = {key: t.get(key, default) for key, (_, default) in entry.account_settings.items()}
    fields = {f.name for f in dataclasses.fields(AccountConfig)}
    return AccountConfig(name=name, settings=settings,
                         **{key: value for key, value in t.items() if key in fields})


def _account_keys(raw: Any) -> dict[str, Any]:
    """The keys an [accounts.NAME] table may have: every account's, and its platform's own
    (every platform's when the platform is missing or unknown: that is noted once)."""
    named = raw.get("platform") if isinstance(raw, dict) else None
    entry = REGISTRY.get(named) if isinstance(named, str) else None
    entries = [entry] if entry is not None else list(REGISTRY.values())
    known = dict(_ACCOUNT)
    for each in entries:
        known.update({key: kind for key, (kind, _) in each.account_settings.items()})
    return known


# --------------------------------------------------------------------------------- recipes

_RECIPE = {"title": str, "template": str, "schedule": str, "approval": str, "platforms": list,
           "accounts": list,
           "noun": str, "split": bool, "numbering": bool, "max_grade": float,
           "unusual_change": float, "stale_after": str, "publish_after": str,
           "enabled": bool, "source": dict,
           "breakdowns": dict, "series": dict, "goal": dict, "labels": dict, "charts": list}
_SOURCE = {"portal": str, "dataset": str, "date_field": str, "period": str, "measure": str,
           "where": dict, "filters": list, "live": dict}
_LIVE = {"portal": str, "dataset": str, "date_field": str, "columns": dict}
_FILTER = {"field": str, "op": str, "value": (str, int, float, bool, list)}
_BREAKDOWN = {"group_by": str, "top": int}
_SERIES = {"bucket": str, "count": int}
_GOAL = {"target": float, "label": str, "deadline": date, "start": date}
_CHART = {"name": str, "kind": str, "data": str, "title": str, "unit": str}
_DURATION = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")


def _duration(text: str) -> timedelta | None:
    """ "3 days" as a timedelta; None if it is not a duration."""
    m = _DURATION.match(text)
    if not m:
        return None
    try:
        return timedelta(**{m.group(2) + "s": int(m.group(1))})
    except OverflowError:  # more days than a timedelta holds: not a duration either
        return None


def read_recipe(path: Path, config: Config | None, problems: list[Problem]) -> Recipe | None:
    data = _read_toml(path, problems)
    if data is None:
        return None
    r = _Reader(str(path), problems)
    before = len(problems)
    t = r.table(data, "", _RECIPE, required=("title", "template", "schedule", "source"))
    src = _read_source(r, t.get("source", {}), config)

    approval = t.get("approval") or (config.approval.default if config else "required")
    if approval not in APPROVAL_MODES:
        r.note("approval", f"{approval!r} is not an approval mode",
               "use " + " | ".join(APPROVAL_MODES))
    platforms = tuple(t.get("platforms", ["bluesky", "x"]))
    for p in platforms:
        if p not in REGISTRY:
            r.note("platforms", f"{p!r} is not a platform",
                   "use any of " + json.dumps(list(REGISTRY)))
    accounts = tuple(str(a) for a in t.get("accounts", []))
    for name in accounts:
        if config is None:
            break
        account = config.accounts.get(name)
        if account is None:
            close = difflib.get_close_matches(name, list(config.accounts), n=1)
            r.note("accounts", f"{name!r} is not an account in config.toml",
                   f"did you mean {close[0]!r}?" if close else
                   f"add [accounts.{name}] to config.toml, or remove it here")
        elif account.platform not in platforms:
            r.note("accounts", f"{name!r} posts to {account.platform}, which is not in this "
                               f"recipe's platforms", f"add \"{account.platform}\" to platforms")
    if len({config.accounts[a].platform for a in accounts if config and a in config.accounts}
           ) < len([a for a in accounts if config and a in config.accounts]):
        r.note("accounts", "names two accounts on one platform",
               "a thread posts once per platform: name one account for each")
    schedule = t.get("schedule", "0 9 * * *")
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        r.note("schedule", f"{schedule!r} is not a five-field cron expression",
               'write minute hour day month weekday, e.g. "0 9 * * MON"')
    else:
        try:  # the scheduler's own trigger: weekdays as crontab counts them (0 or 7 = Sunday)
            from bot.schedule import cron_trigger

            trigger = cron_trigger(schedule, config.timezone if config else "UTC")
        except ValueError as exc:
            r.note("schedule", f"{schedule!r} is not a valid cron expression: {exc}",
                   'e.g. "0 9 * * MON" for Mondays at 9:00')
        else:
            now = datetime.now(UTC)
            first = trigger.get_next_fire_time(None, now)
            if first is None or first > now + timedelta(days=5 * 366):
                r.note("schedule", f"{schedule!r} never fires in the next 5 years",
                       "check the day, month and weekday fields, which must all match at "
                       "once: February has no 30th or 31st")

    durations: dict[str, Any] = {}
    for key in ("stale_after", "publish_after"):
        if key in t:
            span = _duration(t[key])
            if span is None:
                r.note(key, f"{t[key]!r} is not a duration", 'write e.g. "3 days" or "2 hours"')
            elif key == "stale_after" and not span:
                r.note(key, f"{t[key]!r} would call every dataset stale",
                       'write e.g. "3 days", or leave stale_after out')
            else:
                durations[key] = span

    breakdowns = []
    for name, raw in (t.get("breakdowns") or {}).items():
        b = r.table(raw, f"breakdowns.{name}", _BREAKDOWN, required=("group_by",))
        if "group_by" in b:
            if b.get("top", 5) < 1:
                r.note(f"breakdowns.{name}.top", "must be at least 1", "write top = 5")
            breakdowns.append(Breakdown(name=name, **b))
    series = []
    for name, raw in (t.get("series") or {}).items():
        s = r.table(raw, f"series.{name}", _SERIES, required=("bucket",))
        if s.get("bucket") and s["bucket"] not in BUCKETS:
            r.note(f"series.{name}.bucket", f"{s['bucket']!r} is not a bucket",
                   "use " + " | ".join(BUCKETS))
        elif "bucket" in s:
            series.append(SeriesSpec(name=name, **s))
    goal = None
    if "goal" in t:
        g = r.table(t["goal"], "goal", _GOAL, required=("target", "label", "deadline"))
        if {"target", "label", "deadline"} <= set(g):
            goal = GoalSpec(**g)
    names = {b.name for b in breakdowns} | {s.name for s in series}
    charts = []
    for i, raw in enumerate(t.get("charts") or []):
        c = r.table(raw, f"charts[{i}]", _CHART, required=("name", "kind", "data", "title"))
        if c.get("kind") and c["kind"] not in CHART_KINDS:
            r.note(f"charts[{i}].kind", f"{c['kind']!r} is not a chart kind",
                   "use " + " | ".join(CHART_KINDS))
            continue
        if c.get("data") and c["data"] not in names:
            close = difflib.get_close_matches(c["data"], list(names), n=1)
            r.note(f"charts[{i}].data", f"{c['data']!r} names no breakdown or series",
                   f"did you mean {close[0]!r}?" if close else
                   "add a [breakdowns.NAME] or [series.NAME] table, or fix the name")
            continue
        if {"name", "kind", "data", "title"} <= set(c):
            charts.append(ChartSpec(**c))
    labels = {}
    for k, v in (t.get("labels") or {}).items():
        if not isinstance(v, str):
            r.note(f"labels.{k}", f"must be a string, not {type(v).__name__}",
                   f'write "{k}" = "plain words"')
        else:
            labels[str(k)] = v

    if config and "template" in t and not (config.templates_dir / t["template"]).is_file():
        r.note("template", f"{t['template']!r} is not in {config.templates_dir}",
               "create it, or fix the file name")
    if len(problems) > before or src is None:
        return None
    kw = {k: t[k] for k in ("noun", "split", "numbering", "max_grade", "unusual_change",
                            "enabled") if k in t}
    return Recipe(
        name=path.stem, path=path, title=t["title"], template=t["template"],
        schedule=schedule, source=src, approval=approval, platforms=platforms, accounts=accounts,
        breakdowns=tuple(breakdowns), series=tuple(series), goal=goal, charts=tuple(charts),
        labels=labels, **durations, **kw)


def _read_source(r: _Reader, raw: Any, config: Config | None) -> SourceSpec | None:
    s = r.table(raw, "source", _SOURCE, required=("portal", "dataset", "date_field", "period"))
    ok = True
    if "portal" in s and config is not None and s["portal"] not in config.portals:
        close = difflib.get_close_matches(s["portal"], list(config.portals), n=1)
        r.note("source.portal", f"{s['portal']!r} is not a portal in config.toml",
               f"did you mean {close[0]!r}?" if close else
               f"add [portals.{s['portal']}] to config.toml")
        ok = False
    if "period" in s and s["period"] not in PERIODS:
        close = difflib.get_close_matches(s["period"], PERIODS, n=1)
        r.note("source.period", f"{s['period']!r} is not a period",
               f"did you mean {close[0]!r}?" if close else "use " + " | ".join(PERIODS))
        ok = False
    measure = Measure()
    if "measure" in s:
        kind, _, fld = s["measure"].partition(":")
        if kind not in MEASURES or (kind != "count" and not fld):
            r.note("source.measure", f"{s['measure']!r} is not a measure",
                   'write "count", "sum:FIELD", "mean:FIELD" or "count_distinct:FIELD"')
            ok = False
        else:
            measure = Measure(kind, fld or None)
    filters: list[Filter] = []
    for k, v in (s.get("where") or {}).items():
        value = _filter_value(r, f"source.where.{k}", v)
        if value is None:
            ok = False
        else:
            filters.append(Filter(k, "in" if isinstance(value, tuple) else "=", value))
    for i, raw_f in enumerate(s.get("filters") or []):
        f = r.table(raw_f, f"source.filters[{i}]", _FILTER, required=("field", "op", "value"))
        if f.get("op") and f["op"] not in OPERATORS:
            r.note(f"source.filters[{i}].op", f"{f['op']!r} is not an operator",
                   "use one of " + ", ".join(OPERATORS))
            ok = False
        elif len(f) == 3:
            v = _filter_value(r, f"source.filters[{i}].value", f["value"])
            if v is None:
                ok = False
            elif isinstance(v, tuple) and f["op"] not in ("in", "not in"):
                r.note(f"source.filters[{i}].value", f"is a list, which op = {f['op']!r} "
                       f"cannot compare with (a portal would use only {v[0]!r})",
                       'write one value, or op = "in" / "not in" for a list')
                ok = False
            else:
                filters.append(Filter(f["field"], f["op"], v))
    live = None
    if "live" in s:
        lv = r.table(s["live"], "source.live", _LIVE, required=("portal", "dataset",
                                                                "date_field"))
        if "portal" in lv and config is not None and lv["portal"] not in config.portals:
            r.note("source.live.portal", f"{lv['portal']!r} is not a portal in config.toml",
                   f"add [portals.{lv['portal']}] to config.toml")
            ok = False
        elif {"portal", "dataset", "date_field"} <= set(lv):
            cols = {str(k): str(v) for k, v in (lv.get("columns") or {}).items()}
            live = LiveSource(lv["portal"], lv["dataset"], lv["date_field"], cols)
        else:
            ok = False
    if not ok or not {"portal", "dataset", "date_field", "period"} <= set(s):
        return None
    return SourceSpec(portal=s["portal"], dataset=s["dataset"], date_field=s["date_field"],
                      period=s["period"], measure=measure, filters=tuple(filters), live=live)


_SCALARS = (str, int, float, bool)  # bool: a checkbox column (each portal writes its own form)


def _filter_value(r: _Reader, at: str, value: Any) -> Any:
    """A filter's value (a tuple for a list), or None after noting why it cannot be used:
    a table, an empty list, or a number that is not finite (NaN, inf, "1e400")."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        r.note(at, "is an empty list, which matches nothing",
               "list at least one value, or remove the filter")
        return None
    for item in items:
        if not isinstance(item, _SCALARS):
            r.note(at, f"must be a value or a list of values, not {type(item).__name__}",
                   'write "text", a number, true or false, or a list of them')
            return None
        if non_finite(item):
            r.note(at, f"{item!r} is not a finite number", "write a finite number: a portal "
                   "reads NaN or infinity as a column name, or matches nothing")
            return None
    return tuple(items) if isinstance(value, list) else value


# ----------------------------------------------------------------------------- entry points

def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    """Load config.toml, or raise CheckFailed with every problem in it."""
    problems: list[Problem] = []
    config = read_config(Path(path), problems)
    if problems or config is None:
        raise CheckFailed(problems)
    return config


def load_recipes(config: Config, problems: list[Problem] | None = None) -> dict[str, Recipe]:
    """Every recipe in posts/, by name. With `problems`, collect instead of raising."""
    collect = problems is not None
    found: list[Problem] = problems if problems is not None else []
    recipes: dict[str, Recipe] = {}
    if not config.posts_dir.is_dir():
        found.append(Problem(str(config.posts_dir), "", "recipe folder not found",
                             "create it, or set [paths] posts in config.toml"))
    else:
        for path in sorted(config.posts_dir.glob("*.toml")):
            recipe = read_recipe(path, config, found)
            if recipe is not None:
                recipes[recipe.name] = recipe
    if found and not collect:
        raise CheckFailed(found)
    return recipes


def load_recipe(config: Config, name: str) -> Recipe:
    """One recipe by name (posts/NAME.toml), or raise CheckFailed / ConfigError."""
    path = config.posts_dir / f"{name}.toml"
    if not path.is_file():
        from bot.errors import ConfigError

        known = sorted(p.stem for p in config.posts_dir.glob("*.toml"))
        close = difflib.get_close_matches(name, known, n=1)
        raise ConfigError(Problem(str(config.posts_dir), name, "no such recipe",
                                  f"did you mean {close[0]!r}?" if close else
                                  "recipes here: " + (", ".join(known) or "none")))
    problems: list[Problem] = []
    recipe = read_recipe(path, config, problems)
    if problems or recipe is None:
        raise CheckFailed(problems)
    return recipe
