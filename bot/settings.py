"""The shapes of config.toml and posts/*.toml, as frozen dataclasses.

`config.py` reads and validates the files into these; everything else only reads them.
Secrets never appear here: only the *names* of the environment variables that hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.query import Filter, Measure

PORTAL_KINDS = ("file", "socrata", "arcgis", "ckan")
APPROVAL_MODES = ("required", "auto", "auto-unless-unusual")
CHART_KINDS = ("bar", "column", "line")


@dataclass(frozen=True)
class PortalConfig:
    name: str
    kind: str  # one of PORTAL_KINDS
    label: str  # how a source line names it: "Open Baltimore"
    url: str = ""  # socrata: https://data.brla.gov ; arcgis: .../rest/services ; ckan: site root
    path: Path | None = None  # file: folder holding DATASET.csv / DATASET.json
    app_token_env: str = ""  # socrata: env var holding the X-App-Token
    soda3: bool = False  # socrata: use POST /api/v3/views/ID/query.json
    sql: bool = True  # ckan: try datastore_search_sql first
    timeout_seconds: float = 30.0
    retries: int = 4
    page_size: int = 0  # 0: the portal's own maximum
    dataset_link: str = ""  # e.g. "https://data.brla.gov/d/{dataset}"
    synthetic: bool = False  # the data is a synthetic sample: say so wherever shown


@dataclass(frozen=True)
class AccountConfig:
    name: str
    platform: str  # a name in bot.platforms.REGISTRY: "x" | "bluesky" | "mastodon"
    handle: str = ""
    service: str = "https://bsky.social"  # bluesky: the PDS or entryway
    api_base: str = "https://api.twitter.com"  # x; mastodon: the instance, https://city.social
    # names of environment variables, never the secrets themselves
    app_password_env: str = ""  # bluesky
    consumer_key_env: str = ""  # x
    consumer_secret_env: str = ""
    access_token_env: str = ""  # x; mastodon
    access_token_secret_env: str = ""
    visibility: str = "public"  # mastodon: the first post of a thread
    reply_visibility: str = "unlisted"  # mastodon: the replies (keeps home timelines quiet)
    language: str = ""  # mastodon: ISO 639-1 code sent with each status, e.g. "en"
    posts_per_hour: int = 30
    posts_per_day: int = 200
    read_metrics: bool = False  # x: read counts back (reads cost money); bluesky always reads
    # every setting of the account's platform (Platform.account_settings), by key, with its
    # default filled in: a platform's client reads its own here; the attributes above are the
    # same values for the platforms that existed before the mapping did
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ApprovalConfig:
    default: str = "required"  # one of APPROVAL_MODES
    two_person: bool = False  # the approver may not be the last editor
    missed_slot_grace_minutes: int = 60  # past this, an unposted slot waits for a person


@dataclass(frozen=True)
class NotifyConfig:
    webhook_url_env: str = ""  # env var holding a Slack-compatible webhook URL
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_user_env: str = ""
    smtp_password_env: str = ""
    smtp_starttls: bool = False


@dataclass(frozen=True)
class EngagementConfig:
    """When published posts' counts are read back, and how long residents' replies stay."""

    read_after: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=24),
                                         timedelta(days=7))
    retention_days: int = 30  # replies older than this are deleted
    per_pass: int = 500  # posts read per scheduler pass, at most
    digest: str = ""  # "weekly": the report goes to [notify] every Monday


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key_env: str = "CITYCRIER_SECRET_KEY"
    session_hours: int = 12
    public_url: str = ""  # how people reach the desk from elsewhere, for links in notices


@dataclass(frozen=True)
class Config:
    path: Path  # the config file
    root: Path  # its folder: relative paths resolve against it
    timezone: str
    posts_dir: Path
    templates_dir: Path
    storage_url: str  # sqlite:///... or postgresql://...
    state_dir: Path  # sessions, HTTP cache
    outbox_dir: Path
    portals: dict[str, PortalConfig]
    accounts: dict[str, AccountConfig]  # by name
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    web: WebConfig = field(default_factory=WebConfig)
    engagement: EngagementConfig = field(default_factory=EngagementConfig)
    schedule_grace_minutes: int = 30


@dataclass(frozen=True)
class Breakdown:
    """A ranked split of the period's measure by one column: top N categories."""

    name: str
    group_by: str
    top: int = 5


@dataclass(frozen=True)
class SeriesSpec:
    """The measure per day/week/month for `count` buckets ending with the period."""

    name: str
    bucket: str  # day | week | month | year
    count: int = 12


@dataclass(frozen=True)
class GoalSpec:
    """Progress of the period's measure toward a target by a deadline."""

    target: float
    label: str  # what is counted toward the goal: "homes back in residents' hands"
    deadline: date
    start: date | None = None  # when counting began (default: the period's first day)


@dataclass(frozen=True)
class ChartSpec:
    name: str
    kind: str  # bar | column | line
    data: str  # the name of a breakdown or series
    title: str  # a Jinja2 expression string rendered with the thread's figures
    unit: str = ""  # what a bar counts, plural: "requests"


@dataclass(frozen=True)
class LiveSource:
    """Where the same figures live on a real portal (`preview --live` uses it): the demo
    recipes read the synthetic sample, and name here the city's own dataset."""

    portal: str
    dataset: str
    date_field: str
    columns: dict[str, str] = field(default_factory=dict)  # sample column -> real column


@dataclass(frozen=True)
class SourceSpec:
    portal: str
    dataset: str
    date_field: str
    period: str  # one of periods.PERIODS
    measure: Measure = field(default_factory=Measure)
    filters: tuple[Filter, ...] = ()
    live: LiveSource | None = None


@dataclass(frozen=True)
class Recipe:
    name: str  # the file's stem
    path: Path
    title: str
    template: str  # file name under templates/
    schedule: str  # cron, five fields, in the config's timezone
    source: SourceSpec
    approval: str = "required"
    platforms: tuple[str, ...] = ("bluesky", "x")
    accounts: tuple[str, ...] = ()  # which [accounts.NAME] post it (default: each platform's first)
    noun: str = "records"  # what one row is, plural: "requests", "incidents"
    breakdowns: tuple[Breakdown, ...] = ()
    series: tuple[SeriesSpec, ...] = ()
    goal: GoalSpec | None = None
    charts: tuple[ChartSpec, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    split: bool = False
    numbering: bool = False
    max_grade: float = 9.0
    unusual_change: float = 0.5  # a move of more than 50% forces review under auto-unless-unusual
    stale_after: timedelta | None = None
    publish_after: timedelta = timedelta(hours=4)  # the slot: drafting time + this
    enabled: bool = True

    def live(self) -> Recipe:
        """This recipe pointed at its [source.live] portal, columns renamed."""
        from dataclasses import replace

        live = self.source.live
        if live is None:
            raise ValueError(self.name)
        col = live.columns.get
        src = replace(self.source, portal=live.portal, dataset=live.dataset,
                      date_field=live.date_field, live=None,
                      filters=tuple(replace(f, field=col(f.field, f.field))
                                    for f in self.source.filters),
                      measure=replace(self.source.measure, field=col(
                          self.source.measure.field or "", self.source.measure.field)))
        return replace(self, source=src, breakdowns=tuple(
            replace(b, group_by=col(b.group_by, b.group_by)) for b in self.breakdowns))
