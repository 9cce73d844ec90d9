"""The scheduler: trigger times in the city's zone across daylight-saving changes (fixed
clocks), catching up after downtime, failing recipes isolated, and APScheduler's jobs."""

from __future__ import annotations

import json
import logging
import textwrap
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config, load_recipes
from bot.errors import SourceError
from bot.periods import resolve_period
from bot.schedule import (
    PUBLISH_RUNS,
    Operations,
    build_scheduler,
    cron_trigger,
    crontab_weekdays,
    fires_between,
    last_fire,
    next_fire,
    run_scheduler,
)
from bot.store import APPROVED, ON_HOLD, PUBLISHED, Store

NY = ZoneInfo("America/New_York")
CHI = ZoneInfo("America/Chicago")


def fires(expr: str, tz: str, start: datetime, n: int) -> list[tuple[str, str]]:
    """The next n fire times after `start`: (local ISO time, UTC time)."""
    trigger = cron_trigger(expr, tz)
    out, moment = [], start
    for _ in range(n):
        moment = next_fire(trigger, moment)
        assert moment is not None
        out.append((moment.isoformat(), moment.astimezone(UTC).strftime("%m-%d %H:%MZ")))
    return out


# ------------------------------------------------------------- trigger times, fixed clocks

def test_a_0230_job_on_the_spring_forward_day_runs_at_0330_daylight_time() -> None:
    # 2026-03-08: at 2:00 a.m. clocks jump to 3:00; 02:30 does not exist that day
    assert fires("30 2 * * *", "America/New_York", datetime(2026, 3, 7, 12, tzinfo=NY), 3) == [
        ("2026-03-08T03:30:00-04:00", "03-08 07:30Z"),
        ("2026-03-09T02:30:00-04:00", "03-09 06:30Z"),
        ("2026-03-10T02:30:00-04:00", "03-10 06:30Z")]
    assert fires("30 2 * * *", "America/Chicago", datetime(2026, 3, 7, 12, tzinfo=CHI), 2) == [
        ("2026-03-08T03:30:00-05:00", "03-08 08:30Z"),
        ("2026-03-09T02:30:00-05:00", "03-09 07:30Z")]


def test_a_fixed_time_job_in_the_repeated_autumn_hour_runs_once() -> None:
    # 2026-11-01: at 2:00 a.m. clocks go back to 1:00; 01:30 happens twice
    assert fires("30 1 * * *", "America/New_York", datetime(2026, 10, 31, 12, tzinfo=NY),
                 3) == [("2026-11-01T01:30:00-04:00", "11-01 05:30Z"),
                        ("2026-11-02T01:30:00-05:00", "11-02 06:30Z"),
                        ("2026-11-03T01:30:00-05:00", "11-03 06:30Z")]
    assert fires("30 1 * * *", "America/Chicago", datetime(2026, 10, 31, 12, tzinfo=CHI),
                 2) == [("2026-11-01T01:30:00-05:00", "11-01 06:30Z"),
                        ("2026-11-02T01:30:00-06:00", "11-02 07:30Z")]


def test_an_interval_job_runs_in_both_copies_of_the_repeated_hour() -> None:
    assert fires("*/30 * * * *", "America/New_York", datetime(2026, 11, 1, 0, 45, tzinfo=NY),
                 5) == [("2026-11-01T01:00:00-04:00", "11-01 05:00Z"),
                        ("2026-11-01T01:30:00-04:00", "11-01 05:30Z"),
                        ("2026-11-01T01:00:00-05:00", "11-01 06:00Z"),
                        ("2026-11-01T01:30:00-05:00", "11-01 06:30Z"),
                        ("2026-11-01T02:00:00-05:00", "11-01 07:00Z")]
    # and skips the hour that does not exist in spring
    assert fires("0 * * * *", "America/Chicago", datetime(2026, 3, 8, 0, 30, tzinfo=CHI),
                 3) == [("2026-03-08T01:00:00-06:00", "03-08 07:00Z"),
                        ("2026-03-08T03:00:00-05:00", "03-08 08:00Z"),
                        ("2026-03-08T04:00:00-05:00", "03-08 09:00Z")]


def test_a_weekly_job_keeps_its_local_time_across_both_changes() -> None:
    assert fires("0 9 * * MON", "America/Chicago", datetime(2026, 2, 28, tzinfo=CHI), 2) == [
        ("2026-03-02T09:00:00-06:00", "03-02 15:00Z"),
        ("2026-03-09T09:00:00-05:00", "03-09 14:00Z")]
    assert fires("0 9 * * MON", "America/New_York", datetime(2026, 10, 31, tzinfo=NY), 2) == [
        ("2026-11-02T09:00:00-05:00", "11-02 14:00Z"),
        ("2026-11-09T09:00:00-05:00", "11-09 14:00Z")]
    assert fires("0 9 * * MON", "America/New_York", datetime(2026, 10, 24, tzinfo=NY), 1) == [
        ("2026-10-26T09:00:00-04:00", "10-26 13:00Z")]


def test_weekday_numbers_mean_what_they_mean_in_crontab() -> None:
    monday = datetime(2026, 3, 9, 12, tzinfo=CHI)  # a Monday
    assert fires("0 9 * * 1", "America/Chicago", monday, 1)[0][0] == "2026-03-16T09:00:00-05:00"
    assert fires("0 9 * * 0", "America/Chicago", monday, 1)[0][0] == "2026-03-15T09:00:00-05:00"
    assert fires("0 9 * * 7", "America/Chicago", monday, 1)[0][0] == "2026-03-15T09:00:00-05:00"
    assert [f[0][:10] for f in fires("0 9 * * 1-5", "America/Chicago", monday, 5)] == [
        "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13", "2026-03-16"]
    assert crontab_weekdays("5-0") == "sun,fri,sat"
    assert crontab_weekdays("MON,wed") == "mon,wed"
    assert crontab_weekdays("*/3") == "sun,wed,sat"
    with pytest.raises(ValueError, match="not a day of the week"):
        crontab_weekdays("8")


def test_last_fire_and_fires_between_with_a_fixed_clock() -> None:
    weekly = cron_trigger("0 8 * * MON", "America/Chicago")
    assert last_fire(weekly, datetime(2026, 3, 9, 7, 59, tzinfo=CHI)) == \
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert last_fire(weekly, datetime(2026, 3, 9, 8, 0, tzinfo=CHI)) == \
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    monthly = cron_trigger("0 9 3 * *", "America/Chicago")
    assert last_fire(monthly, datetime(2026, 3, 2, tzinfo=CHI)) == \
        datetime(2026, 2, 3, 15, 0, tzinfo=UTC)
    yearly = cron_trigger("0 0 29 2 *", "America/Chicago")  # leap days only
    assert last_fire(yearly, datetime(2026, 3, 1, tzinfo=CHI)) == \
        datetime(2024, 2, 29, 6, 0, tzinfo=UTC)
    assert [m.isoformat() for m in fires_between(
        weekly, datetime(2026, 3, 2, 8, tzinfo=CHI), datetime(2026, 3, 23, 8, tzinfo=CHI))] == [
        "2026-03-09T08:00:00-05:00", "2026-03-16T08:00:00-05:00", "2026-03-23T08:00:00-05:00"]


# ------------------------------------------------------------------- a project to run

DAILY = """\
title = "Daily 311"
template = "daily.j2"
schedule = "{schedule}"
publish_after = "1 hour"
approval = "{approval}"
platforms = ["bluesky", "x"]
noun = "requests"
enabled = {enabled}

[source]
portal = "sample"
dataset = "baltimore_311"
date_field = "CreatedDate"
period = "yesterday"
"""


def write_project(root: Path, sample: Path, url: str = "", **recipes: dict[str, Any]) -> Path:
    """A config.toml on the synthetic sample with tiny one-post recipes."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    storage = f'url = "{url}"' if url else 'url = "sqlite:///state/citycrier.db"'
    (root / "config.toml").write_text(textwrap.dedent(f"""\
        timezone = "America/Chicago"
        [storage]
        {storage}
        [approval]
        missed_slot_grace_minutes = 60
        [schedule]
        grace_minutes = 30
        [portals.sample]
        kind = "file"
        path = "{sample}"
        label = "citycrier synthetic sample"
        synthetic = true
        """))
    (root / "templates" / "daily.j2").write_text(
        "Baltimore logged {{ total.value | number }} 311 requests {{ period.label }}.\n")
    (root / "templates" / "broken.j2").write_text("{{ no_such_figure.value }}\n")
    for name, opts in recipes.items():
        body = DAILY.format(schedule=opts.get("schedule", "0 9 * * *"),
                            approval=opts.get("approval", "auto"),
                            enabled=str(opts.get("enabled", True)).lower())
        if "template" in opts:
            body = body.replace('"daily.j2"', f'"{opts["template"]}"')
        (root / "posts" / f"{name}.toml").write_text(body)
    return root / "config.toml"


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHI)


def operations(cfg: Path, **kw: Any) -> Operations:
    config = load_config(cfg)
    return Operations(config, Store(config.storage_url), load_recipes(config), **kw)


# ----------------------------------------------------------------------------- downtime

def test_downtime_across_three_slots_drafts_once_and_reports_the_missed(
        tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_project(tmp_path, sample_dir, daily={})
    ops = operations(cfg)
    first = ops.tick(at(5, 9, 10))  # up on Monday Oct. 5 after the 09:00 slot
    assert [(s.outcome, s.slot_at) for s in first.slots] == [("drafted", at(5, 9))]
    draft_a = first.slots[0].draft_id
    assert ops.store.get_draft(draft_a).state == APPROVED  # slot 10:10, not yet due
    assert ops.tick(at(5, 9, 11)).slots == []  # idempotent

    # down from 09:15 Oct. 5 until 09:40 Oct. 8: draft A's slot and three 09:00 slots pass
    back = ops.tick(at(8, 9, 40))
    assert [(s.outcome, s.slot_at.astimezone(CHI).isoformat()) for s in back.slots] == [
        ("missed", "2026-10-06T09:00:00-05:00"), ("missed", "2026-10-07T09:00:00-05:00"),
        ("drafted", "2026-10-08T09:00:00-05:00")]
    draft_b = back.slots[-1].draft_id
    assert ops.store.count_by_state() == {ON_HOLD: 1, APPROVED: 1}  # one new draft
    # no burst: A missed its slot by days and waits for a person; B waits for its own slot
    assert [(o.draft_id, o.state) for o in back.published] == [(draft_a, ON_HOLD)]
    assert not (tmp_path / "outbox").exists()
    b = ops.store.get_draft(draft_b)
    assert (b.period_key, b.as_of, b.slot_at) == ("2026-10-07", at(8, 9), at(8, 10, 40))
    assert ops.tick(at(8, 9, 41)).slots == []
    later = ops.tick(at(8, 10, 41))
    assert [(o.draft_id, o.state) for o in later.published] == [(draft_b, PUBLISHED)]

    shown = CliRunner().invoke(main, ["status", "--config", str(cfg), "--json", "--now",
                                      at(8, 10, 42).isoformat()])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    (row,) = report["recipes"]
    assert row["missed"] == ["2026-10-06T09:00-05:00", "2026-10-07T09:00-05:00"]
    assert row["next_run"] == "2026-10-09T09:00-05:00"
    assert (row["last_run"]["outcome"], row["last_run"]["slot"], row["last_run"]["period"]) \
        == ("drafted", "2026-10-08T09:00-05:00", "2026-10-07")
    assert report["queue"] == {"on_hold": 1, "published": 1}
    ops.store.close()


# --------------------------------------------------------------------- failing recipes

@dataclass(frozen=True)
class Result:
    draft_id: int
    created: bool
    state: str
    reasons: tuple[str, ...] = ()


class FakeDrafter:
    """Stands in for drafting.draft_recipe: records calls, fails as told."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail or {}

    def __call__(self, config: Any, recipe: Any, store: Store, as_of: datetime, *,
                 now: datetime, actor: str) -> Result:
        self.calls.append((recipe.name, as_of.isoformat()))
        if recipe.name in self.fail:
            raise self.fail[recipe.name]
        key = resolve_period(recipe.source.period, as_of, "America/Chicago").key
        store.record_run(recipe.name, key, now, "drafted", "ok", 7)
        return Result(7, True, "approved")


def test_a_failing_recipe_is_recorded_and_retried_at_its_next_slot(
        tmp_path: Path, sample_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = write_project(tmp_path, sample_dir, down={}, buggy={}, fine={})
    drafter = FakeDrafter({"down": SourceError("sample", "timed out"),
                           "buggy": KeyError("total")})
    ops = operations(cfg, draft=drafter)
    with caplog.at_level(logging.INFO, logger="bot.schedule"):
        report = ops.tick(at(5, 9, 5))
    assert sorted((s.recipe, s.outcome, s.detail) for s in report.slots) == [
        ("buggy", "failed", "unexpected KeyError: 'total' (a bug in citycrier; see the log)"),
        ("down", "failed", "portal 'sample': timed out"),
        ("fine", "drafted", "draft 7 (approved)")]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None  # the bug, with traceback
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "recipe down (slot 2026-10-05 09:00 CDT): portal 'sample': timed out; retried at its "
        "next slot"]
    runs = ops.store.last_runs()
    assert {n: r["outcome"] for n, r in runs.items()} == {
        "buggy": "failed", "down": "failed", "fine": "drafted"}
    assert runs["down"]["slot_at"] == at(5, 9)
    # not retried before the next slot, then retried
    assert ops.tick(at(5, 9, 30)).slots == []
    drafter.fail.pop("down")
    again = ops.tick(at(6, 9, 1))
    assert sorted((s.recipe, s.outcome) for s in again.slots) == [
        ("buggy", "failed"), ("down", "drafted"), ("fine", "drafted")]
    assert len(drafter.calls) == 6
    ops.store.close()


def test_a_template_error_is_recorded_once_by_the_real_pipeline(
        tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_project(tmp_path, sample_dir, broken={"template": "broken.j2"}, daily={})
    ops = operations(cfg)
    report = ops.tick(at(5, 9, 5))
    outcome = {s.recipe: s.outcome for s in report.slots}
    assert outcome == {"broken": "failed", "daily": "drafted"}
    runs = ops.store.runs(recipe="broken")
    assert [(r["outcome"], r["period_key"], r["slot_at"]) for r in runs] == [
        ("failed", "2026-10-04", at(5, 9))]
    assert "no_such_figure" in runs[0]["detail"]
    ops.store.close()


def test_jobs_never_raise(tmp_path: Path, sample_dir: Path,
                          caplog: pytest.LogCaptureFixture) -> None:
    cfg = write_project(tmp_path, sample_dir, daily={})

    def publish(*_a: Any, **_k: Any) -> list[Any]:
        raise RuntimeError("disk on fire")

    ops = operations(cfg, draft=FakeDrafter({"daily": ZeroDivisionError("x")}),
                     publish=publish, clock=lambda: at(5, 9, 0))
    with caplog.at_level(logging.ERROR):
        ops.draft_job("daily")
        ops.publish_job()
    failures = ops.store.recent_failures()
    assert [(f["recipe"], f["detail"]) for f in failures] == [
        (PUBLISH_RUNS, "publishing: unexpected RuntimeError: disk on fire (a bug in "
                       "citycrier; see the log)"),
        ("daily", "unexpected ZeroDivisionError: x (a bug in citycrier; see the log)")]
    assert all(r.exc_info for r in caplog.records if r.levelno == logging.ERROR)
    ops.store.close()


@pytest.mark.postgres
def test_schedulers_starting_together_on_postgres_catch_up_once(
        tmp_path: Path, sample_dir: Path, postgres_url: str) -> None:
    cfg = write_project(tmp_path, sample_dir, postgres_url, daily={}, other={})
    first = operations(cfg, draft=FakeDrafter())
    first.store.record_run("daily", "2026-10-03", at(4, 9), "drafted", "", slot_at=at(4, 9))
    everyone = [first, operations(cfg, draft=FakeDrafter()), operations(cfg, draft=FakeDrafter())]
    gate = threading.Barrier(len(everyone))
    done: list[list[Any]] = []

    def start(ops: Operations) -> None:
        gate.wait(timeout=10)
        done.append(ops.catch_up(at(7, 9, 30)))

    threads = [threading.Thread(target=start, args=(ops,)) for ops in everyone]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(len(d) for d in done) == [0, 0, 4]  # one did it all; the others found it
    runs = first.store.runs(limit=100)
    assert sorted((r["recipe"], r["period_key"], r["outcome"]) for r in runs) == [
        ("daily", "2026-10-03", "drafted"), ("daily", "2026-10-04", "missed"),
        ("daily", "2026-10-05", "missed"), ("daily", "2026-10-06", "drafted"),
        ("other", "2026-10-06", "drafted")]
    for ops in everyone:
        ops.store.close()


@pytest.mark.postgres
def test_a_database_outage_is_one_line_per_job_in_the_log(
        tmp_path: Path, sample_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL stops under a running scheduler: each minute's jobs log what failed in one
    line, and that the failure could not be recorded (the same outage) in one more, with no
    traceback for an outage citycrier explains."""
    from tests.servers.postgres import run_postgres

    with run_postgres() as pg:  # its own server: this test stops it
        url = pg.create_database("outage")
        ops = operations(write_project(tmp_path, sample_dir, url, daily={}),
                         draft=FakeDrafter())
        pg.stop()
        try:
            with caplog.at_level(logging.ERROR, logger="bot.schedule"):
                report = ops.publish_pass(at(5, 9, 1))
        finally:
            pg.start()
        down = (f"cannot reach the database {url}: connection refused: is PostgreSQL "
                f"running? `pg_isready -h 127.0.0.1 -p {pg.port}` (or fix [storage] url in "
                f"config.toml)")
        assert report.errors == [f"expiring overdue drafts: {down}", f"publishing: {down}"]
        logged = [(r.getMessage(), bool(r.exc_info)) for r in caplog.records
                  if r.name == "bot.schedule"]
        assert logged == [(f"expiring overdue drafts: {down}", False),
                          (f"the failure could not be recorded: {down}", False),
                          (f"publishing: {down}", False),
                          (f"the failure could not be recorded: {down}", False)]
        ops.store.close()


def test_a_stopped_operation_starts_no_new_work(tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_project(tmp_path, sample_dir, daily={})
    drafter = FakeDrafter()
    ops = operations(cfg, draft=drafter, clock=lambda: at(5, 9, 0))
    ops.stop()
    ops.draft_job("daily")
    assert ops.tick(at(5, 9, 1)).slots == [] and drafter.calls == []
    ops.store.close()


# ------------------------------------------------------------------------ APScheduler

def test_the_scheduler_has_one_cron_job_per_enabled_recipe(tmp_path: Path,
                                                           sample_dir: Path) -> None:
    cfg = write_project(tmp_path, sample_dir, daily={}, weekly={"schedule": "0 8 * * MON"},
                        off={"enabled": False})
    ops = operations(cfg, draft=FakeDrafter())
    sched = build_scheduler(ops, at(8, 9, 30))  # a Thursday
    sched.start(paused=True)  # job defaults apply when jobs reach the store; nothing runs
    jobs = {j.id: j for j in sched.get_jobs()}
    sched.shutdown(wait=False)
    assert sorted(jobs) == ["draft:daily", "draft:weekly", "publish"]
    assert jobs["draft:daily"].next_run_time == at(9, 9)
    assert jobs["draft:weekly"].next_run_time == at(12, 8)
    assert jobs["publish"].next_run_time == at(8, 9, 30)
    for job in jobs.values():
        assert (job.coalesce, job.misfire_grace_time, job.max_instances) == (True, 1800, 1)
    assert str(jobs["publish"].trigger) == "interval[0:01:00]"
    ops.store.close()


def test_run_catches_up_at_start_then_stops_cleanly(tmp_path: Path, sample_dir: Path) -> None:
    """The real scheduler on the real clock: start-up drafts the latest slot once, records
    the two before it as missed, schedules the next, and stops when asked."""
    cfg = write_project(tmp_path, sample_dir, daily={})
    published: list[datetime] = []

    def publish(config: Any, store: Store, now: datetime, **_k: Any) -> list[Any]:
        published.append(now)
        return []

    drafter = FakeDrafter()
    ops = operations(cfg, draft=drafter, publish=publish)
    latest = last_fire(ops.triggers["daily"], datetime.now(UTC))
    assert latest is not None
    day = latest.astimezone(CHI).date()

    def nine(days_before: int) -> datetime:
        return datetime.combine(day - timedelta(days=days_before), time(9), CHI)

    ops.store.record_run("daily", "x", nine(3), "drafted", "", slot_at=nine(3))
    seen: dict[str, Any] = {}

    def started(sched: Any) -> None:
        seen.update({j.id: j.next_run_time for j in sched.get_jobs()})
        ops.stop()

    caught = run_scheduler(ops, on_start=started)
    assert [(s.outcome, s.slot_at) for s in caught] == [
        ("missed", nine(2)), ("missed", nine(1)), ("drafted", nine(0))]
    assert drafter.calls == [("daily", nine(0).isoformat())]
    assert seen["draft:daily"] == nine(-1)
    assert sorted(seen) == ["draft:daily", "publish"]
    assert len(published) <= 1  # the first publishing pass may have begun before the stop
    ops.store.close()
