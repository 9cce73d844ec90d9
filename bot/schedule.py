"""When each recipe drafts, in the city's own time, and the work that runs unattended.

- Triggers. `cron_trigger(expr, tz)` is APScheduler 3.x's CronTrigger with three fixes for a
  city's wall clock: weekday numbers mean what they mean in crontab (0 or 7 is Sunday; the
  3.x `from_crontab` counts from Monday), fire times are normalised (02:30 on the
  spring-forward day is 03:30 daylight time, the instant it fires), and a fixed-time job runs
  once when the autumn hour repeats (classic cron's rule; an every-N-minutes job still runs
  in both). `last_fire`, `next_fire` and `fires_between` answer "when" for any clock.
- `Operations`: the work, for any `now`: draft one slot, catch up after downtime (draft the
  latest period once and record the slots missed), expire and publish what is due, and
  `tick(now)` for one whole pass. Every job catches its own errors: a failing recipe is
  logged and recorded, retried at its next slot, and never stops the others.
- `run_scheduler`: a BackgroundScheduler with one cron job per recipe and one publishing job
  a minute, until `Operations.stop()` (the CLI calls it on SIGTERM/SIGINT); the post in
  flight finishes first.

Example::

    ops = Operations(config, store, load_recipes(config))
    report = ops.tick(datetime.now(UTC))        # what `citycrier tick` does
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.errors import BotError
from bot.settings import Config, Recipe
from bot.store import Store, worker_id

log = logging.getLogger(__name__)

ACTOR = "scheduler"
PUBLISH_RUNS = ":publish"  # the runs table's name for the publishing job's failures
MAX_MISSED = 50  # missed periods recorded per recipe after one downtime
CATCH_UP_LOCK = 7_424_203  # PostgreSQL advisory lock: one process catches up at a time
DRAFT_WORKERS = 4  # drafting jobs that may run at once
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32),
            timedelta(days=367), timedelta(days=5 * 366 + 1))


# ------------------------------------------------------------------------------- triggers

class CityCronTrigger(CronTrigger):
    """A CronTrigger whose fire times are normalised and fire once per wall-clock time."""

    fixed_time: bool = False  # minute and hour are fixed: skip the repeated autumn hour

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        nxt = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(3):
            if nxt is None:
                return None
            nxt = nxt.astimezone(UTC).astimezone(self.timezone)
            if not (self.fixed_time and _second_of_two(nxt)):
                return nxt
            nxt = super().get_next_fire_time(None, _plus(nxt, timedelta(seconds=1)))
        return nxt


def _plus(moment: datetime, delta: timedelta) -> datetime:
    """Elapsed-time arithmetic: aware `+` works on the wall clock and drops `fold`, so
    01:30 EST + 1 µs would land back in 01:30 EDT, an hour earlier."""
    return moment.astimezone(UTC) + delta


def _second_of_two(moment: datetime) -> bool:
    """True for the second occurrence of a wall-clock time the autumn change repeats."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def crontab_weekdays(spec: str) -> str:
    """A crontab day-of-week field as APScheduler 3.x reads it: names, Sunday = 0 or 7.

    >>> crontab_weekdays("1-5"), crontab_weekdays("0"), crontab_weekdays("*/2")
    ('mon,tue,wed,thu,fri', 'sun', 'sun,tue,thu,sat')
    """
    if spec == "*":
        return spec
    days: set[int] = set()
    for item in spec.lower().split(","):
        rng, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            lo, hi = 0, 6
        else:
            a, _, b = rng.partition("-")
            lo = _day_number(a)
            hi = _day_number(b) if b else (6 if step_text else lo)
            if b and hi == 0 and lo > 0:
                hi = 7  # "5-0" / "fri-sun": through Sunday
        if hi < lo or step < 1:
            raise ValueError(f"day-of-week {item!r} is not a valid range")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def _day_number(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text[:3] in _DAYS:
        return _DAYS.index(text[:3])
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


def cron_trigger(expr: str, tz: str) -> CityCronTrigger:
    """The trigger of a five-field cron expression in an IANA zone.

    >>> cron_trigger("0 9 * * MON", "America/Chicago").fixed_time
    True
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} is not a five-field cron expression")
    fields[4] = crontab_weekdays(fields[4])
    trigger = CityCronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(tz))
    trigger.fixed_time = not (fields[0].startswith("*") or fields[1].startswith("*"))
    return trigger


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`."""
    return trigger.get_next_fire_time(None, _plus(after, timedelta(microseconds=1)))


def last_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent fire time at or before `now` (None if none in five years)."""
    now = now.astimezone(UTC)  # aware datetimes sharing a zone compare by wall clock
    for window in _WINDOWS:
        moment = next_fire(trigger, _plus(now, -window))
        if moment is None or moment > now:
            continue
        while True:
            later = next_fire(trigger, moment)
            if later is None or later > now:
                return moment
            moment = later
    return None


def fires_between(trigger: CronTrigger, start: datetime, end: datetime,
                  limit: int = 1000) -> list[datetime]:
    """Fire times t with start < t <= end, oldest first, at most `limit` of the newest."""
    end = end.astimezone(UTC)
    out: list[datetime] = []
    moment = next_fire(trigger, start)
    count = 0
    while moment is not None and moment <= end and count < 100_000:
        out.append(moment)
        if len(out) > limit:
            out.pop(0)
        moment = next_fire(trigger, moment)
        count += 1
    return out


# ----------------------------------------------------------------------------- the work

@dataclass(frozen=True)
class SlotRun:
    """What happened to one recipe's slot."""

    recipe: str
    slot_at: datetime
    outcome: str  # drafted | unchanged | skipped | failed | missed
    detail: str = ""
    draft_id: int | None = None


@dataclass
class PassReport:
    """One scheduler pass: drafting (with the slots missed), expiring, publishing."""

    slots: list[SlotRun] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    published: list[Any] = field(default_factory=list)  # publish.runner.Outcome
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "slots": [{"recipe": s.recipe, "slot_at": s.slot_at.isoformat(),
                       "outcome": s.outcome, "detail": s.detail, "draft_id": s.draft_id}
                      for s in self.slots],
            "expired": self.expired,
            "published": [{"draft_id": o.draft_id, "recipe": o.recipe, "state": o.state,
                           "detail": o.detail} for o in self.published],
            "errors": self.errors}


class Operations:
    """The scheduler's work for one config and store, callable with any clock.

    `draft` and `publish` default to `drafting.draft_recipe` and `runner.publish_due`
    (tests and benchmarks pass others with the same signature)."""

    def __init__(self, config: Config, store: Store, recipes: Mapping[str, Recipe], *,
                 draft: Callable[..., Any] | None = None,
                 publish: Callable[..., list[Any]] | None = None,
                 clock: Callable[[], datetime] | None = None, worker: str | None = None,
                 batch: int = 50) -> None:
        self.config = config
        self.store = store
        self.tz = ZoneInfo(config.timezone)
        self.recipes = {n: r for n, r in recipes.items() if r.enabled}
        self.triggers = {n: cron_trigger(r.schedule, config.timezone)
                         for n, r in self.recipes.items()}
        self._draft = draft
        self._publish = publish
        self.clock = clock or (lambda: datetime.now(UTC))
        self.worker = worker or worker_id()
        self.batch = batch
        self.stopping = threading.Event()
        self._samples: set[str] = set()

    def stop(self) -> None:
        """Start no new work; the job in flight finishes (publishing checks between posts)."""
        self.stopping.set()

    def period_key(self, name: str, slot_at: datetime) -> str:
        from bot.periods import resolve_period

        return resolve_period(self.recipes[name].source.period, slot_at, self.config.timezone).key

    # ------------------------------------------------------------------------ drafting

    def draft_slot(self, name: str, slot_at: datetime, now: datetime) -> SlotRun:
        """Draft recipe `name` for its slot `slot_at` (as_of = the slot); never raises."""
        started = now.astimezone(UTC)
        slot_local = slot_at.astimezone(self.tz)
        extra = {"recipe": name}
        try:
            self._ensure_sample(name)
            with self.store.run_slot(slot_at):
                result = self._drafter()(self.config, self.recipes[name], self.store,
                                         slot_local, now=started, actor=ACTOR)
        except BotError as exc:
            outcome = self._record_failure(name, slot_at, started, str(exc))
            log.warning("recipe %s (slot %s): %s; retried at its next slot", name,
                        _local(slot_local), exc, extra={**extra, "outcome": outcome})
            return SlotRun(name, slot_at, outcome, str(exc))
        except Exception as exc:  # a bug: keep the scheduler and the other recipes going
            detail = f"unexpected {type(exc).__name__}: {exc} (a bug in citycrier; see the log)"
            log.error("recipe %s (slot %s): %s", name, _local(slot_local), detail,
                      exc_info=True, extra={**extra, "outcome": "failed"})
            self._record_failure(name, slot_at, started, detail)
            return SlotRun(name, slot_at, "failed", detail)
        outcome = "drafted" if result.created else "unchanged"
        return SlotRun(name, slot_at, outcome, f"draft {result.draft_id} ({result.state})",
                       result.draft_id)

    def _drafter(self) -> Callable[..., Any]:
        if self._draft is None:
            from bot.drafting import draft_recipe

            self._draft = draft_recipe
        return self._draft

    def _ensure_sample(self, name: str) -> None:
        portal = self.config.portals.get(self.recipes[name].source.portal)
        if portal is None or not portal.synthetic or portal.name in self._samples:
            return
        from bot.sample import ensure_sample

        ensure_sample(portal.path)
        self._samples.add(portal.name)

    def _record_failure(self, name: str, slot_at: datetime, started: datetime,
                        detail: str) -> str:
        """Record a failed run unless the drafting code already recorded this attempt."""
        try:
            latest = self.store.runs(recipe=name, limit=1)
            if latest and latest[0]["started_at"] == started:
                return str(latest[0]["outcome"])
            try:
                key = self.period_key(name, slot_at)
            except Exception:  # noqa: BLE001 - the period is only a label here
                key = ""
            self.store.record_run(name, key, started, "failed", detail, slot_at=slot_at)
        except Exception as exc:
            _log_unrecorded(exc, "recipe %s: the failure could not be recorded", name)
        return "failed"

    def draft_job(self, name: str) -> None:
        """The cron job of one recipe: draft its latest slot (the one that just came)."""
        if self.stopping.is_set():
            return
        now = self.clock()
        slot = last_fire(self.triggers[name], now)
        if slot is not None:
            self.draft_slot(name, slot, now)

    def catch_up(self, now: datetime) -> list[SlotRun]:
        """Draft, once, each recipe whose latest slot's period has no run; record as missed
        the earlier slots since its last run (their periods are not drafted: no burst).

        On PostgreSQL, processes catching up at the same time take turns, so the second
        finds the first one's runs and does nothing twice."""
        with _one_at_a_time(self.store, CATCH_UP_LOCK):
            return self._catch_up(now)

    def _catch_up(self, now: datetime) -> list[SlotRun]:
        now = now.astimezone(UTC)
        latest: dict[str, tuple[datetime, str]] = {}
        for name, trigger in self.triggers.items():
            slot = last_fire(trigger, now)
            if slot is not None:
                latest[name] = (slot, self.period_key(name, slot))
        done = self.store.ran((n, key) for n, (_, key) in latest.items())
        since = self.store.last_run_times()
        out: list[SlotRun] = []
        for name, (slot, key) in latest.items():
            if (name, key) in done:
                continue
            if self.stopping.is_set():
                break
            if name in since:
                out += self._record_missed(name, since[name], slot, key)
            out.append(self.draft_slot(name, slot, now))
        return out

    def _record_missed(self, name: str, since: datetime, slot: datetime,
                       key: str) -> list[SlotRun]:
        earlier: dict[str, datetime] = {}
        for moment in fires_between(self.triggers[name], since, slot):
            k = self.period_key(name, moment)
            if moment.astimezone(UTC) < slot.astimezone(UTC) and k != key:
                earlier.setdefault(k, moment)
        if not earlier:
            return []
        done = self.store.ran((name, k) for k in earlier)
        keys = [k for k in earlier if (name, k) not in done][-MAX_MISSED:]
        out = []
        for k in keys:
            moment = earlier[k]
            detail = (f"the scheduler was not running at {_local(moment.astimezone(self.tz))}; "
                      f"only the latest period ({key}) was drafted")
            self.store.record_run(name, k, moment.astimezone(UTC), "missed", detail,
                                  slot_at=moment)
            log.warning("recipe %s: missed the slot %s (period %s)", name,
                        _local(moment.astimezone(self.tz)), k,
                        extra={"recipe": name, "outcome": "missed"})
            out.append(SlotRun(name, moment, "missed", detail))
        return out

    def job_missed(self, event: Any) -> None:
        """APScheduler's EVENT_JOB_MISSED: a slot passed by more than the grace time."""
        job_id = str(getattr(event, "job_id", ""))
        if not job_id.startswith("draft:"):
            return
        name = job_id[len("draft:"):]
        slot = event.scheduled_run_time
        try:
            key = self.period_key(name, slot)
            if not self.store.ran([(name, key)]):
                self.store.record_run(
                    name, key, slot.astimezone(UTC), "missed",
                    f"started more than {self.config.schedule_grace_minutes} minutes late "
                    f"(schedule.grace_minutes): skipped until the next slot", slot_at=slot)
            log.warning("recipe %s: missed the slot %s", name,
                        _local(slot.astimezone(self.tz)),
                        extra={"recipe": name, "outcome": "missed"})
        except Exception as exc:
            _log_unrecorded(exc, "recipe %s: the missed slot could not be recorded", name)

    # ---------------------------------------------------------------------- publishing

    def publish_pass(self, now: datetime) -> PassReport:
        """Expire drafts whose slot passed unapproved; publish what is due; never raises."""
        from bot.review import expire_overdue

        now = now.astimezone(UTC)
        report = PassReport()
        try:
            report.expired = expire_overdue(self.store, now, config=self.config)
        except Exception as exc:
            report.errors.append(self._job_failed("expiring overdue drafts", exc, now))
        publish = self._publish
        if publish is None:
            from bot.publish.runner import publish_due

            publish = publish_due
        seen: set[int] = set()
        while not self.stopping.is_set():
            try:
                batch = publish(self.config, self.store, now, worker=self.worker,
                                limit=self.batch, stop=self.stopping.is_set)
            except Exception as exc:
                report.errors.append(self._job_failed("publishing", exc, now))
                break
            report.published += batch
            ids = {o.draft_id for o in batch}
            if not ids - seen or len(batch) < self.batch:
                break
            seen |= ids
        return report

    def _job_failed(self, what: str, exc: Exception, now: datetime) -> str:
        detail = f"{what}: {exc}" if isinstance(exc, BotError) else \
            f"{what}: unexpected {type(exc).__name__}: {exc} (a bug in citycrier; see the log)"
        log.error("%s", detail, exc_info=not isinstance(exc, BotError))
        try:
            self.store.record_run(PUBLISH_RUNS, "", now.astimezone(UTC), "failed", detail)
        except Exception as exc:
            _log_unrecorded(exc, "the failure could not be recorded")
        return detail

    def publish_job(self) -> None:
        """The every-minute job."""
        if not self.stopping.is_set():
            self.publish_pass(self.clock())

    def tick(self, now: datetime) -> PassReport:
        """One whole pass, for cron or a systemd timer: catch up, expire, publish."""
        slots = self.catch_up(now)
        report = self.publish_pass(now)
        report.slots = slots
        return report


@contextmanager
def _one_at_a_time(store: Store, key: int) -> Iterator[None]:
    """A PostgreSQL session advisory lock around the block (nothing on SQLite, whose writes
    are serialised already); a dead process's lock goes with its connection."""
    if store.dialect != "postgresql":
        yield
        return
    from sqlalchemy import text

    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def _log_unrecorded(exc: Exception, message: str, *args: object) -> None:
    """A run that could not be written down: one line when the cause is one citycrier
    explains (the database is down: every job says so each minute), a traceback otherwise."""
    if isinstance(exc, BotError):
        log.error(message + ": %s", *args, exc)
    else:
        log.error(message, *args, exc_info=True)


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------------------- scheduler

def build_scheduler(ops: Operations, now: datetime) -> Any:
    """A BackgroundScheduler (not started) holding one cron job per recipe and the
    publishing job; first runs are computed from `now`."""
    from apscheduler.events import EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    grace = max(1, ops.config.schedule_grace_minutes * 60)  # None would mean "no limit"
    sched = BackgroundScheduler(
        timezone=ops.tz,
        executors={"default": ThreadPoolExecutor(DRAFT_WORKERS),
                   "publish": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "misfire_grace_time": grace, "max_instances": 1})
    for name, trigger in ops.triggers.items():
        sched.add_job(ops.draft_job, trigger, args=(name,), id=f"draft:{name}",
                      name=f"draft {name}", next_run_time=next_fire(trigger, now))
    sched.add_job(ops.publish_job, IntervalTrigger(minutes=1, timezone=ops.tz), id="publish",
                  name="expire and publish", executor="publish", next_run_time=now)
    sched.add_listener(ops.job_missed, EVENT_JOB_MISSED)
    return sched


def run_scheduler(ops: Operations,
                  on_start: Callable[[Any], None] | None = None) -> list[SlotRun]:
    """Catch up, then run the jobs until `ops.stop()`; wait for the job in flight.

    `on_start` is called with the started scheduler (tests look at its jobs there).
    Returns what the start-up catch-up did."""
    started = ops.clock()
    log.info("scheduler starting: %d recipes, times in %s", len(ops.triggers),
             ops.config.timezone)
    caught = ops.catch_up(started)
    for run in caught:
        log.info("start-up: recipe %s slot %s: %s", run.recipe,
                 _local(run.slot_at.astimezone(ops.tz)), run.outcome,
                 extra={"recipe": run.recipe, "outcome": run.outcome})
    if ops.stopping.is_set():
        log.info("scheduler stopped during start-up")
        return caught
    sched = build_scheduler(ops, started)
    sched.start()
    upcoming = sorted((j.next_run_time, j.name) for j in sched.get_jobs()
                      if j.id != "publish" and j.next_run_time)
    log.info("scheduler started: %d drafting jobs%s", len(upcoming),
             f"; next: {upcoming[0][1]} at {_local(upcoming[0][0])}" if upcoming else "")
    try:
        if on_start is not None:
            on_start(sched)
        while not ops.stopping.wait(timeout=60):
            pass
    finally:
        log.info("scheduler stopping: waiting for the work in flight")
        sched.shutdown(wait=True)
    log.info("scheduler stopped")
    return caught
