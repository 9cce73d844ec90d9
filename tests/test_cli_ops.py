"""`citycrier run`, `tick` and `status`: in-process through click, and as real processes
(SIGTERM in the middle of a thread; two schedulers sharing one PostgreSQL).

The processes run the real publisher (bot/publish/runner.py and thread.py: claims, intent
and confirmation receipts, stop checks between posts) with one stand-in: the platform client,
which appends each post it is given to a file instead of sending it to Bluesky, so a test
can count what was sent, and by which process.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store import APPROVED, PARTIAL, PUBLISHED, NewDraft, Post, Store

# A child process: the CLI, with a recording client in place of the Bluesky client.
CHILD = r'''
import os, sys, uuid

import bot.publish.thread as thread
from bot.publish.base import Ref

RECORD = os.environ["CC_RECORD"]
HOLD = [os.environ.get("CC_HOLD_FIRST") == "1"]


class RecordingClient:
    platform = "bluesky"

    def __init__(self, account):
        self.handle = account.handle

    def login(self):
        return self.handle

    def new_key(self):
        return uuid.uuid4().hex[:13]

    def create_post(self, content, *, key, root, parent):
        with open(RECORD, "a") as fh:
            fh.write(f"{os.getpid()}\t{content.text}\n")
        if HOLD[0]:  # the first post is out: tell the test, wait until it says go on
            HOLD[0] = False
            os.write(int(os.environ["CC_NOTIFY_FD"]), b"posted\n")
            os.read(int(os.environ["CC_GO_FD"]), 1)
        return Ref(key, f"at://did:plc:fake/app.bsky.feed.post/{key}", f"cid-{key}")

    def find_post(self, content, *, key, parent, since):
        return None

    def delete_post(self, ref):
        pass


thread.open_client = lambda config, account: RecordingClient(account)
if os.environ.get("CC_GATE"):  # start together with the other process
    print("ready", flush=True)
    sys.stdin.readline()
from bot.cli import main
main(sys.argv[1:], prog_name="citycrier")
'''


def write_config(root: Path, url: str, sample: Path, accounts: bool = True,
                 recipe: bool = False, per_hour: int = 30, per_day: int = 200) -> Path:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    account = textwrap.dedent("""\
        [accounts.cityhall]
        platform = "bluesky"
        handle = "cityhall.test"
        app_password_env = "CITYCRIER_TEST_BSKY_PASSWORD"
        posts_per_hour = {per_hour}
        posts_per_day = {per_day}
        """).format(per_hour=per_hour, per_day=per_day) if accounts else ""
    (root / "config.toml").write_text(textwrap.dedent(f"""\
        timezone = "America/Chicago"
        [storage]
        url = "{url}"
        [portals.sample]
        kind = "file"
        path = "{sample}"
        label = "citycrier synthetic sample"
        synthetic = true
        """) + account)
    if recipe:
        (root / "templates" / "daily.j2").write_text(
            "Baltimore logged {{ total.value | number }} 311 requests {{ period.label }}.\n")
        (root / "posts" / "daily.toml").write_text(textwrap.dedent("""\
            title = "Daily 311"
            template = "daily.j2"
            schedule = "0 9 * * *"
            publish_after = "1 hour"
            approval = "required"
            platforms = ["bluesky"]
            [source]
            portal = "sample"
            dataset = "baltimore_311"
            date_field = "CreatedDate"
            period = "yesterday"
            """))
    return root / "config.toml"


def add_drafts(store: Store, n: int, posts: int, slot: datetime) -> list[int]:
    ids = []
    for i in range(n):
        thread = {"bluesky": tuple(Post(f"thread {i} post {k + 1}") for k in range(posts))}
        ids.append(store.create_draft(NewDraft(
            recipe=f"r{i:03d}", title="T", period_key="2026-W10", period_label="last week",
            as_of=slot, slot_at=slot, approval="auto", state=APPROVED,
            platforms=("bluesky",), data_hash=f"h{i}", thread=thread))[0])
    return ids


def child(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", CHILD, *args, "--config", str(cfg)]


def child_env(record: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CC_RECORD": str(record), **extra}


class Lines:
    """Lines from a child's pipe, each waited for at most `timeout` seconds (no sleeping).

    Reads the file descriptor itself: a buffered reader could hold the next line already
    while select() says nothing more is coming."""

    def __init__(self, stream: Any) -> None:
        self.fd = stream if isinstance(stream, int) else stream.fileno()
        self.buffer = b""

    def next(self, timeout: float = 60) -> str:
        sel = selectors.DefaultSelector()
        sel.register(self.fd, selectors.EVENT_READ)
        try:
            while b"\n" not in self.buffer:
                if not sel.select(timeout):
                    pytest.fail(f"no line from the child within {timeout} s")
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    pytest.fail(f"the child closed its output; it said: {self.buffer!r}")
                self.buffer += chunk
        finally:
            sel.close()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            stream.close()


# ----------------------------------------------------------------------- in-process CLI

def test_tick_twice_drafts_once_and_says_so(tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_config(tmp_path, "sqlite:///state/citycrier.db", sample_dir, accounts=False,
                       recipe=True)
    runner = CliRunner()
    first = runner.invoke(main, ["tick", "--config", str(cfg), "--now", "2026-10-05T09:05"])
    assert first.exit_code == 0, first.output
    assert first.stdout == ("tick at 2026-10-05 09:05 CDT\n"
                            "  drafted    daily  slot 2026-10-05 09:00 CDT: draft 1 "
                            "(pending_review)\n")
    again = runner.invoke(main, ["tick", "--config", str(cfg), "--now", "2026-10-05T09:06",
                                 "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"now": "2026-10-05T14:06:00+00:00", "slots": [],
                                        "expired": [], "published": [], "errors": []}
    late = runner.invoke(main, ["tick", "--config", str(cfg), "--now", "2026-10-05T10:06"])
    assert late.stdout == ("tick at 2026-10-05 10:06 CDT\n"
                           "  expired    draft 1 (its slot passed unapproved)\n")


def test_tick_refuses_a_bad_time_in_one_line(tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_config(tmp_path, "sqlite:///state/citycrier.db", sample_dir)
    result = CliRunner().invoke(main, ["tick", "--config", str(cfg), "--now", "soon"])
    assert result.exit_code == 1
    assert result.stderr == ("Error: --now 'soon' is not an ISO 8601 time: write e.g. "
                             "2026-03-09T09:05 or 2026-03-09T14:05:00+00:00\n")


def test_an_unreachable_database_is_one_line_without_the_password(
        tmp_path: Path, sample_dir: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, f"postgresql://crier:hunter2@127.0.0.1:{port}/x", sample_dir)
    for command in (["status"], ["tick"]):
        result = CliRunner().invoke(main, [*command, "--config", str(cfg)])
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: cannot reach the database postgresql://crier:***@127.0.0.1:{port}/x: "
            f"connection refused: is PostgreSQL running? `pg_isready -h 127.0.0.1 -p {port}` "
            f"(or fix [storage] url in config.toml)\n")


def test_status_shows_runs_queue_caps_and_errors(tmp_path: Path, sample_dir: Path) -> None:
    cfg = write_config(tmp_path, "sqlite:///state/citycrier.db", sample_dir, recipe=True)
    now = datetime(2026, 10, 8, 15, 0, tzinfo=UTC)  # 10:00 CDT
    store = Store(f"sqlite:///{tmp_path / 'state' / 'citycrier.db'}",
                  clock=lambda: now - timedelta(minutes=30))
    ids = add_drafts(store, 2, 3, now - timedelta(hours=2))
    for i in range(3):
        store.record_intent(ids[0], "bluesky", "cityhall", i, "")
        store.confirm_receipt(ids[0], "bluesky", i, str(i),
                              posted_at=now - timedelta(minutes=30 + 900 * i))
    store.set_error(ids[1], "bluesky: rate limited; will try again at 10:30")
    store.record_run("daily", "2026-10-05", now - timedelta(days=2, hours=1), "missed",
                     "down", slot_at=now - timedelta(days=2, hours=1))
    store.record_run("daily", "2026-10-07", now - timedelta(hours=1), "failed",
                     "portal 'sample': timed out", slot_at=now - timedelta(hours=1))
    store.close()
    result = CliRunner().invoke(main, ["status", "--config", str(cfg), "--now",
                                       now.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.stdout == textwrap.dedent("""\
        Recipes (times in America/Chicago; now 2026-10-08 10:00)
          daily  next 2026-10-09 09:00  last 2026-10-08 09:00 failed
                 portal 'sample': timed out
                 missed 1 slot in the last 30 days: 2026-10-06 09:00
        Queue
          approved 2
        Accounts
          cityhall (bluesky): 1/30 posts in the last hour, 2/200 in the last day
        Last errors
          2026-10-08 09:30  draft 2 (r001): bluesky: rate limited; will try again at 10:30
          2026-10-08 09:00  daily: portal 'sample': timed out
        """)
    as_json = CliRunner().invoke(main, ["status", "--config", str(cfg), "--now",
                                        now.isoformat(), "--json"])
    data = json.loads(as_json.stdout)
    assert data["accounts"] == [{"account": "cityhall", "platform": "bluesky",
                                 "last_hour": 1, "per_hour": 30, "last_day": 2,
                                 "per_day": 200}]
    assert data["recipes"][0]["last_run"] == {
        "at": "2026-10-08T09:00-05:00", "slot": "2026-10-08T09:00-05:00", "outcome": "failed",
        "detail": "portal 'sample': timed out", "period": "2026-10-07", "draft_id": None}


# ------------------------------------------------------------------------ real processes

def test_sigterm_during_a_thread_records_its_posts_and_the_next_run_finishes_it(
        tmp_path: Path, sample_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'citycrier.db'}"
    cfg = write_config(tmp_path, url, sample_dir)
    store = Store(url)
    (draft_id,) = add_drafts(store, 1, 3, datetime.now(UTC) - timedelta(minutes=1))
    record = tmp_path / "sent.txt"
    note_r, note_w = os.pipe()
    go_r, go_w = os.pipe()
    proc = subprocess.Popen(
        child(cfg, "run"), env=child_env(record, CC_HOLD_FIRST="1", CC_NOTIFY_FD=str(note_w),
                                         CC_GO_FD=str(go_r)),
        pass_fds=(note_w, go_r), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    os.close(note_w)
    os.close(go_r)
    logs: list[dict[str, Any]] = []
    try:
        assert Lines(note_r).next() == "posted"  # post 1 of 3 is out
        proc.send_signal(signal.SIGTERM)
        stderr = Lines(proc.stderr)
        while not any(x["message"].startswith("SIGTERM received") for x in logs):
            logs.append(json.loads(stderr.next()))  # JSON lines: stderr is not a terminal
        os.write(go_w, b"g")  # the post in flight returns; the stop is already asked
        _out, err = proc.communicate(timeout=60)
        err = stderr.buffer + err
    finally:
        os.close(go_w)
        os.close(note_r)
        stop_child(proc)
    assert proc.returncode == 0, err.decode()
    logs += [json.loads(line) for line in err.decode().splitlines()]
    assert logs[-1]["message"] == "scheduler stopped"
    assert [(r.post_index, r.confirmed) for r in store.receipts(draft_id)] == [(0, True)]
    d = store.get_draft(draft_id)
    assert (d.state, d.error) == (PARTIAL, "bluesky: stopped before post 2 of 3: the next run "
                                           "continues")

    finish = subprocess.run(child(cfg, "tick"), env=child_env(record), capture_output=True,
                            timeout=120, cwd=tmp_path)
    assert finish.returncode == 0, finish.stderr.decode()
    assert store.get_draft(draft_id).state == PUBLISHED
    receipts = store.receipts(draft_id)
    assert [(r.post_index, r.confirmed) for r in receipts] == [(0, True), (1, True), (2, True)]
    sent = [line.split("\t") for line in record.read_text().splitlines()]
    assert [text for _pid, text in sent] == [  # each post once: the first by the stopped run
        "thread 0 post 1", "thread 0 post 2", "thread 0 post 3"]
    assert sent[0][0] == str(proc.pid) and sent[1][0] == sent[2][0] != str(proc.pid)
    store.close()


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_publish_every_thread_once(
        tmp_path: Path, sample_dir: Path, postgres_url: str) -> None:
    cfg = write_config(tmp_path, postgres_url, sample_dir, per_hour=1000, per_day=1000)
    store = Store(postgres_url)
    add_drafts(store, 150, 2, datetime.now(UTC) - timedelta(minutes=1))
    record = tmp_path / "sent.txt"
    procs = [subprocess.Popen(child(cfg, "tick"), env=child_env(record, CC_GATE="1"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=tmp_path) for _ in range(2)]
    try:
        for p in procs:
            assert Lines(p.stdout).next() == "ready"
        for p in procs:  # go, both at once
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            p.stdin.flush()
        errs = [p.communicate(timeout=180)[1] for p in procs]
    finally:
        for p in procs:
            stop_child(p)
    assert [p.returncode for p in procs] == [0, 0], [e.decode()[-2000:] for e in errs]
    sent = [line.split("\t") for line in record.read_text().splitlines()]
    per_post = Counter(text for _pid, text in sent)
    assert sorted(per_post) == sorted(f"thread {i} post {k}" for i in range(150)
                                      for k in (1, 2))
    assert set(per_post.values()) == {1}  # every post of every thread, exactly once
    pids = Counter(pid for pid, _text in sent)
    assert sorted(pids) == sorted(str(p.pid) for p in procs)  # both did some of the work
    assert store.count_by_state() == {PUBLISHED: 150}
    store.close()
