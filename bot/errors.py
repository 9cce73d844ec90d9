"""The one exception tree. Each class builds its message from its fields.

    BotError                      anything citycrier can explain to a person in one line
    ├── ConfigError               config.toml, a recipe or a template is wrong (file, key, fix)
    │   └── CheckFailed           `citycrier check` found problems (carries every one)
    ├── SourceError               a portal could not answer (dead, refused, timed out)
    │   ├── PortalError           the portal answered with an error body
    │   └── SchemaError           a recipe's column is not in the dataset
    ├── DataError                 the data cannot make a post (empty period, stale dataset)
    ├── ComposeError              a template failed to render, or a post is too long
    │   └── LengthError
    ├── ChartError                a chart cannot be drawn or has no alt text
    ├── StoreError                the store refused a change, or cannot be used
    │   ├── NotFound
    │   ├── TransitionError       a draft cannot move from its state by that action
    │   ├── DatabaseUnreachable   the database server does not answer (URL, cause, fix)
    │   └── NotADatabase          the file is not a citycrier database (never repaired)
    ├── FolderError               a folder citycrier writes cannot be created or written
    ├── PermissionDenied          a person's role does not allow the action
    ├── CredentialError           a needed secret is missing from the environment
    └── PublishError              a platform refused or failed a post
        ├── RateLimited           try again at `retry_at`
        └── UnknownOutcome        a write may or may not have happened; ask before retrying

The CLI turns any BotError into one red line and exit status 1 (see cli.py); nothing else
reaches a user as a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


class BotError(Exception):
    """Base of every error citycrier explains to a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One problem found while checking configuration: where, what, and the fix."""

    file: str
    where: str  # a key ("source.group_by"), a template line ("line 4"), or "" for the file
    what: str
    fix: str = ""

    def __str__(self) -> str:
        place = f"{self.file}: {self.where}: " if self.where else f"{self.file}: "
        fix = f" ({self.fix})" if self.fix else ""
        return f"{place}{self.what}{fix}"


class NotUTF8(Problem):
    """A config, recipe or template file whose bytes are not UTF-8 (`where` is the place)."""

    def __str__(self) -> str:
        return f"{self.file} is not UTF-8 at {self.where}: save it as UTF-8"


def not_utf8(file: str, data: bytes, offset: int) -> NotUTF8:
    """The problem for `data` whose byte at `offset` is the first that is not UTF-8."""
    start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return NotUTF8(file, f"line {line}, column {column}", "is not UTF-8", "save it as UTF-8")


class ConfigError(BotError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class CheckFailed(BotError):
    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found")
        self.problems = problems


class SourceError(BotError):
    def __init__(self, portal: str, what: str, fix: str = "") -> None:
        msg = f"portal {portal!r}: {what}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)
        self.portal = portal
        self.what = what


class PortalError(SourceError):
    def __init__(self, portal: str, code: str, detail: str, fix: str = "") -> None:
        what = f"the portal answered with an error: {code}: {detail}" if code else detail
        super().__init__(portal, what, fix)
        self.code = code
        self.detail = detail


class SchemaError(SourceError):
    """A column the dataset lacks. The fix names the column meant when the recipe wrote a
    display name the portal shows people (`labels`: field name -> display name), or the
    field name in other capitals."""

    def __init__(self, portal: str, dataset: str, column: str, existing: list[str],
                 labels: Mapping[str, str] | None = None) -> None:
        cols = ", ".join(existing[:40]) + (" ..." if len(existing) > 40 else "")
        super().__init__(
            portal,
            f"dataset {dataset!r} has no column {column!r}; it has: {cols}",
            _meant_column(column, existing, labels or {}),
        )
        self.dataset = dataset
        self.column = column
        self.existing = existing


def _meant_column(column: str, existing: list[str], labels: Mapping[str, str]) -> str:
    wanted = column.strip().casefold()
    for name in existing:
        label = labels.get(name, "")
        if label.strip().casefold() == wanted and label != name:
            return (f"{label!r} is the display name of column {name!r}: a recipe writes the "
                    f"field name, {name!r}")
    for name in existing:
        if name.casefold() == wanted:
            return f"did you mean {name!r}? column names are case-sensitive"
    return "fix the recipe's column name, or the dataset changed its schema"


class DataError(BotError):
    pass


class ComposeError(BotError):
    pass


class LengthError(ComposeError):
    def __init__(self, recipe: str, post: int, platform: str, length: int, limit: int,
                 unit: str) -> None:
        super().__init__(
            f"recipe {recipe!r}: post {post} is too long for {platform}: {length} {unit}, "
            f"limit {limit} (shorten the template, or set split = true in the recipe)"
        )
        self.recipe = recipe
        self.post = post
        self.platform = platform
        self.length = length
        self.limit = limit


class ChartError(BotError):
    pass


class StoreError(BotError):
    pass


class NotFound(StoreError):
    pass


class TransitionError(StoreError):
    pass


class DatabaseUnreachable(StoreError):
    def __init__(self, url: str, what: str, fix: str) -> None:
        super().__init__(f"cannot reach the database {url}: {what}: {fix}")
        self.url = url
        self.what = what


class NotADatabase(StoreError):
    def __init__(self, path: str, why: str = "") -> None:
        because = f" ({why})" if why else ""
        super().__init__(f"{path} is not a citycrier database{because}: restore it from a "
                         f"backup or point [storage] url elsewhere")
        self.path = path
        self.why = why


class FolderError(BotError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class PermissionDenied(BotError):
    pass


class CredentialError(BotError):
    def __init__(self, variable: str, purpose: str) -> None:
        super().__init__(
            f"{purpose}: environment variable {variable} is not set "
            f"(set it in the environment or in .env)"
        )
        self.variable = variable


class PublishError(BotError):
    def __init__(self, platform: str, what: str, final: bool = False) -> None:
        super().__init__(f"{platform}: {what}")
        self.platform = platform
        self.what = what
        self.final = final


class RateLimited(PublishError):
    def __init__(self, platform: str, retry_at: datetime, what: str = "rate limited") -> None:
        super().__init__(platform, f"{what}; will try again at {retry_at:%Y-%m-%d %H:%M %Z}")
        self.retry_at = retry_at


class UnknownOutcome(PublishError):
    pass
