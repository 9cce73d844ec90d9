"""Benchmark: the scheduler with 1,000 recipes across 20 accounts, on SQLite and PostgreSQL,
beside baselines measured in the same run. Prints; asserts nothing.

    .venv/bin/python bench/scheduler.py

Set-up (not timed): a temporary project with 1,000 tiny one-post recipes (daily, weekly and
monthly, spread over the hours) reading the synthetic sample's file portal, 20 accounts (10
Bluesky, 10 X), a real PostgreSQL started on loopback (tests/servers/postgres.py).

Measured, each in a fresh process so its memory is its own:
- start-up: read config.toml and the 1,000 recipes, build their cron triggers, the start-up
  catch-up check (steady state: every latest period already has a run, so nothing drafts),
  and a started scheduler holding 1,001 jobs. Baseline: a bare APScheduler 3.x
  BackgroundScheduler with 1,000 no-op cron jobs.
- memory: RSS after start-up, and the tracemalloc peak during it (a second run).
- one publish pass with 100 due drafts (2 platforms x 3 posts: 600 posts), through the real
  runner and thread publisher with an instant stand-in platform client. Baseline: the bare
  database work of the same pass, 100 claims + 600 intent and 600 confirmation rows, one
  transaction each.
- drafting: the first start-up's catch-up on 20 recipes (the real pipeline on the sample,
  as of the sample's last day).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run without installing; tests.servers for PostgreSQL
sys.path.insert(0, str(ROOT / "bench"))  # bench/summary.py

RECIPES = 1000
ACCOUNTS = 20
DUE = 100
POSTS = 3
KINDS = (("yesterday", "{m} {h} * * *"), ("last_week", "{m} {h} * * MON"),
         ("last_month", "{m} {h} {d} * *"))


# ----------------------------------------------------------------------------- set-up

def write_project(root: Path, url: str, sample: Path, recipes: int = RECIPES) -> Path:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates" / "tiny.j2").write_text(
        "{{ recipe.title }}: {{ total.value | number }} requests {{ period.label }}.\n")
    accounts = []
    for i in range(ACCOUNTS):
        if i % 2 == 0:
            accounts.append(f'[accounts.b{i:02d}]\nplatform = "bluesky"\n'
                            f'handle = "b{i:02d}.test"\napp_password_env = "BENCH_PW"\n'
                            f"posts_per_hour = 100000\nposts_per_day = 100000\n")
        else:
            accounts.append(f'[accounts.x{i:02d}]\nplatform = "x"\nhandle = "x{i:02d}"\n'
                            'consumer_key_env = "BENCH_K"\nconsumer_secret_env = "BENCH_S"\n'
                            'access_token_env = "BENCH_T"\naccess_token_secret_env = "BENCH_U"\n'
                            "posts_per_hour = 100000\nposts_per_day = 100000\n")
    (root / "config.toml").write_text(
        f'timezone = "America/Chicago"\n[storage]\nurl = "{url}"\n'
        f'[portals.sample]\nkind = "file"\npath = "{sample}"\n'
        f'label = "citycrier synthetic sample"\nsynthetic = true\n\n' + "\n".join(accounts))
    for i in range(recipes):
        period, cron = KINDS[i % 3]
        schedule = cron.format(m=i % 60, h=5 + i % 14, d=1 + i % 28)
        (root / "posts" / f"r{i:04d}.toml").write_text(
            f'title = "Recipe {i}"\ntemplate = "tiny.j2"\nschedule = "{schedule}"\n'
            f'approval = "auto"\npublish_after = "1 hour"\nplatforms = ["bluesky", "x"]\n'
            f'[source]\nportal = "sample"\ndataset = "baltimore_311"\n'
            f'date_field = "CreatedDate"\nperiod = "{period}"\n')
    return root / "config.toml"


def record_latest_runs(cfg: Path, now: datetime) -> None:
    """Steady state: every recipe's latest period has a run, so start-up drafts nothing."""
    from sqlalchemy import insert

    from bot import schema
    from bot.config import load_config, load_recipes
    from bot.schedule import Operations
    from bot.store import Store

    config = load_config(cfg)
    store = Store(config.storage_url)
    ops = Operations(config, store, load_recipes(config))
    rows = []
    for name, trigger in ops.triggers.items():
        slot = ops_last_fire(trigger, now)
        rows.append({"recipe": name, "period_key": ops.period_key(name, slot),
                     "started_at": slot, "finished_at": slot, "outcome": "drafted",
                     "detail": "", "slot_at": slot})
    with store.engine.begin() as conn:
        conn.execute(insert(schema.runs), rows)
    store.close()


def ops_last_fire(trigger: Any, now: datetime) -> datetime:
    from bot.schedule import last_fire

    slot = last_fire(trigger, now)
    assert slot is not None
    return slot


def add_due_drafts(url: str, now: datetime) -> None:
    from bot.store import APPROVED, NewDraft, Post, Store

    store = Store(url)
    for i in range(DUE):
        thread = {p: tuple(Post(f"{p} thread {i} post {k + 1}") for k in range(POSTS))
                  for p in ("bluesky", "x")}
        store.create_draft(NewDraft(
            recipe=f"r{i:04d}", title="T", period_key="2026-W10", period_label="last week",
            as_of=now, slot_at=now - timedelta(minutes=1), approval="auto", state=APPROVED,
            platforms=("bluesky", "x"), data_hash=f"h{i}", thread=thread))
    store.close()


# ------------------------------------------------------------------ measured (children)

def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_startup(cfg: str, memory: bool) -> dict[str, float]:
    import tracemalloc

    t0 = time.perf_counter()
    if memory:
        tracemalloc.start()
    from bot.config import load_config, load_recipes
    from bot.schedule import Operations, build_scheduler
    from bot.store import Store

    t_import = time.perf_counter()
    config = load_config(Path(cfg))
    recipes = load_recipes(config)
    t_read = time.perf_counter()
    ops = Operations(config, Store(config.storage_url), recipes)
    t_triggers = time.perf_counter()
    now = datetime.now(UTC)
    caught = ops.catch_up(now)
    assert caught == [], caught[:3]
    t_catch = time.perf_counter()
    sched = build_scheduler(ops, now)
    sched.start(paused=True)
    assert len(sched.get_jobs()) == len(recipes) + 1
    t_end = time.perf_counter()
    out = {"imports": t_import - t0, "read": t_read - t_import,
           "triggers": t_triggers - t_read, "catch_up": t_catch - t_triggers,
           "scheduler": t_end - t_catch, "total": t_end - t0, "rss": rss_mb()}
    if memory:
        out["peak"] = tracemalloc.get_traced_memory()[1] / 2**20
    sched.shutdown(wait=False)
    ops.store.close()
    return out


def child_baseline_startup(memory: bool) -> dict[str, float]:
    import tracemalloc

    t0 = time.perf_counter()
    if memory:
        tracemalloc.start()
    from zoneinfo import ZoneInfo

    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    t_import = time.perf_counter()
    tz = ZoneInfo("America/Chicago")
    sched = BackgroundScheduler(timezone=tz)
    for i in range(RECIPES):
        _period, cron = KINDS[i % 3]
        expr = cron.format(m=i % 60, h=5 + i % 14, d=1 + i % 28)
        sched.add_job(_noop, CronTrigger.from_crontab(expr, timezone=tz), id=f"j{i}")
    sched.start(paused=True)
    t_end = time.perf_counter()
    out = {"imports": t_import - t0, "total": t_end - t0, "rss": rss_mb()}
    if memory:
        out["peak"] = tracemalloc.get_traced_memory()[1] / 2**20
    sched.shutdown(wait=False)
    return out


def _noop() -> None:
    return None


class InstantClient:
    """A platform client that answers at once (the publisher's own cost, not the network)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.n = 0

    def login(self) -> str:
        return "bench"

    def new_key(self) -> str:
        self.n += 1
        return f"k{self.n}" if self.platform == "bluesky" else ""

    def create_post(self, content: Any, *, key: str, root: Any, parent: Any) -> Any:
        from bot.publish.base import Ref

        self.n += 1
        return Ref(f"{self.n}", f"uri:{self.n}", f"cid{self.n}")

    def find_post(self, *a: Any, **k: Any) -> None:
        return None

    def delete_post(self, ref: Any) -> None:
        return None


def child_publish(cfg: str) -> dict[str, float]:
    import bot.publish.thread as thread
    from bot.config import load_config
    from bot.schedule import Operations
    from bot.store import PUBLISHED, Store

    thread.open_client = lambda config, account: InstantClient(account.platform)
    config = load_config(Path(cfg))
    ops = Operations(config, Store(config.storage_url), {})
    t = time.perf_counter()
    report = ops.publish_pass(datetime.now(UTC))
    took = time.perf_counter() - t
    states = {o.state for o in report.published}
    assert len(report.published) == DUE and states == {PUBLISHED}, (len(report.published),
                                                                     states, report.errors)
    ops.store.close()
    return {"publish": took, "rss": rss_mb()}


def child_baseline_publish(url: str) -> dict[str, float]:
    from sqlalchemy import (
        Column,
        DateTime,
        Integer,
        MetaData,
        String,
        Table,
        create_engine,
        insert,
        update,
    )

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    meta = MetaData()
    claims = Table("bench_claims", meta, Column("id", Integer, primary_key=True),
                   Column("state", String(20)))
    posts = Table("bench_posts", meta, Column("id", Integer, primary_key=True),
                  Column("draft", Integer), Column("n", Integer),
                  Column("remote", String(50)), Column("at", DateTime(timezone=True)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(claims), [{"id": i, "state": "approved"} for i in range(DUE)])
    t = time.perf_counter()
    for d in range(DUE):
        with engine.begin() as conn:
            conn.execute(update(claims).where(claims.c.id == d).values(state="publishing"))
        for n in range(2 * POSTS):
            with engine.begin() as conn:
                pid = conn.execute(insert(posts).values(draft=d, n=n)).inserted_primary_key[0]
            with engine.begin() as conn:
                conn.execute(update(posts).where(posts.c.id == pid).values(
                    remote=f"{d}-{n}", at=datetime.now(UTC)))
        with engine.begin() as conn:
            conn.execute(update(claims).where(claims.c.id == d).values(state="published"))
    took = time.perf_counter() - t
    engine.dispose()
    return {"publish": took}


def child_drafting(cfg: str) -> dict[str, float]:
    from bot.config import load_config, load_recipes
    from bot.schedule import Operations
    from bot.store import Store

    config = load_config(Path(cfg))
    ops = Operations(config, Store(config.storage_url), load_recipes(config))
    from zoneinfo import ZoneInfo

    from bot.sample import SAMPLE_AS_OF

    # the sample's last day: its data covers every period drafted then
    end_of_sample = datetime.combine(SAMPLE_AS_OF, dt_time(23), ZoneInfo(config.timezone))
    t = time.perf_counter()
    caught = ops.catch_up(end_of_sample)
    took = time.perf_counter() - t
    outcomes = sorted({s.outcome for s in caught})
    assert outcomes == ["drafted"], [(s.recipe, s.outcome, s.detail) for s in caught][:3]
    ops.store.close()
    return {"drafting": took, "count": len(caught)}


def time_commands(config: Path) -> dict[str, float]:
    """Wall time of `citycrier status` and `citycrier check` on the 1,000-recipe project, and
    of `citycrier --help` (the interpreter and the command line starting: their floor)."""
    citycrier = Path(sys.executable).parent / "citycrier"
    out: dict[str, float] = {}
    for key, args in (("help", ["--help"]), ("status", ["status", "--config", str(config)]),
                      ("check", ["check", "--config", str(config)])):
        times = []
        for _ in range(1 if key == "check" else 3):  # check renders 1,000 recipes: once
            t = time.perf_counter()
            done = subprocess.run([str(citycrier), *args], capture_output=True, text=True,
                                  timeout=600, cwd=config.parent)
            times.append(time.perf_counter() - t)
            if done.returncode not in (0, 1):  # check exits 1 when a recipe fails its check
                raise SystemExit(f"citycrier {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        out[key] = statistics.median(times)
    return out


GOAL_START_S, GOAL_RSS_MB, GOAL_STATUS_S = 2.0, 150.0, 1.0  # issue 10


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# ------------------------------------------------------------------------------ report

def main() -> None:
    from bot.sample import write_sample
    from tests.servers.postgres import run_postgres

    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="citycrier-bench-") as tmp, run_postgres() as pg:
        work = Path(tmp)
        sample = work / "sample"
        write_sample(sample)
        now = datetime.now(UTC)
        backends = {"SQLite": lambda name: f"sqlite:///{work / name}.db",
                    "PostgreSQL": lambda name: pg.create_database(name)}
        for label, url_for in backends.items():
            key = label.lower()
            start_cfg = write_project(work / f"{key}-start", url_for(f"{key}_start"), sample)
            record_latest_runs(start_cfg, now)
            run_child("startup", str(start_cfg), "0")  # warm the file system cache
            r = run_child("startup", str(start_cfg), "0")
            r["peak"] = run_child("startup", str(start_cfg), "1")["peak"]
            pub_url = url_for(f"{key}_publish")
            pub_cfg = write_project(work / f"{key}-publish", pub_url, sample, recipes=0)
            add_due_drafts(pub_url, now)
            r.update(time_commands(start_cfg))
            r.update(run_child("publish", str(pub_cfg)))
            r["baseline_publish"] = run_child("baseline-publish", url_for(f"{key}_floor")
                                              )["publish"]
            draft_cfg = write_project(work / f"{key}-draft", url_for(f"{key}_draft"), sample,
                                      recipes=20)
            r.update(run_child("drafting", str(draft_cfg)))
            results[label] = {"r": r}
        run_child("baseline-startup", "0")
        base = run_child("baseline-startup", "0")
        base["peak"] = run_child("baseline-startup", "1")["peak"]
    print_report(results, base)


def print_report(results: dict[str, dict[str, dict[str, float]]],
                 base: dict[str, float]) -> None:
    import apscheduler
    import sqlalchemy

    s, p = results["SQLite"]["r"], results["PostgreSQL"]["r"]
    print(f"citycrier scheduler: {RECIPES:,} recipes, {ACCOUNTS} accounts "
          f"(Python {sys.version.split()[0]}, APScheduler {apscheduler.__version__}, "
          f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs)")
    rows = [
        ("start-up, total (s)", s["total"], p["total"], base["total"]),
        ("  imports (s)", s["imports"], p["imports"], base["imports"]),
        (f"  read config + {RECIPES:,} recipes (s)", s["read"], p["read"], None),
        ("  cron triggers + store open/migrate (s)", s["triggers"], p["triggers"], None),
        ("  catch-up check, nothing to draft (s)", s["catch_up"], p["catch_up"], None),
        (f"  scheduler with {RECIPES + 1:,} jobs (s)", s["scheduler"], p["scheduler"], None),
        ("RSS after start-up (MB)", s["rss"], p["rss"], base["rss"]),
        (f"citycrier status, {RECIPES:,} recipes (s)", s["status"], p["status"], s["help"]),
        (f"citycrier check, {RECIPES:,} recipes (s)", s["check"], p["check"], s["help"]),
        ("tracemalloc peak, start-up (MB)", s["peak"], p["peak"], base["peak"]),
        (f"publish pass, {DUE} due drafts, {DUE * 2 * POSTS} posts (s)", s["publish"],
         p["publish"], None),
        ("  bare DB work of that pass (baseline, s)", s["baseline_publish"],
         p["baseline_publish"], None),
        ("first start-up catch-up, 20 recipes drafted (s)", s["drafting"], p["drafting"],
         None),
    ]
    print(f"{'':52}{'SQLite':>10}{'PostgreSQL':>12}{'baseline':>10}")
    for name, a, b, c in rows:
        cells = "".join(f"{v:>{w}.3f}" if v is not None else f"{'':>{w}}"
                        for v, w in ((a, 10), (b, 12), (c, 10)))
        print(f"{name:52}{cells}")
    print("baseline column: a bare APScheduler BackgroundScheduler with 1,000 no-op cron jobs;"
          " for status and check, `citycrier --help`")
    from summary import record

    for label, r in (("SQLite", s), ("PostgreSQL", p)):
        record(f"scheduler ({label}): run start-up to idle", r["total"], base["total"],
               f"<= {GOAL_START_S:.0f} s", r["total"] <= GOAL_START_S, "s")
        record(f"scheduler ({label}): resident memory", r["rss"], base["rss"],
               f"<= {GOAL_RSS_MB:.0f} MB", r["rss"] <= GOAL_RSS_MB, "MB")
        record(f"scheduler ({label}): citycrier status", r["status"], r["help"],
               f"<= {GOAL_STATUS_S:.0f} s", r["status"] <= GOAL_STATUS_S, "s")
        record(f"scheduler ({label}): citycrier check", r["check"], r["help"],
               "(no goal)", None, "s")


def child_main(args: list[str]) -> None:
    mode = args[0]
    if mode == "startup":
        out = child_startup(args[1], args[2] == "1")
    elif mode == "baseline-startup":
        out = child_baseline_startup(args[1] == "1")
    elif mode == "publish":
        out = child_publish(args[1])
    elif mode == "baseline-publish":
        out = child_baseline_publish(args[1])
    else:
        out = child_drafting(args[1])
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
