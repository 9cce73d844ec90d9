"""Crash at every step: a publishing process killed (SIGKILL) right after post k's remote
write and before its receipt, or right after its receipt, for every k of a 5-post thread
with images; then the real `citycrier publish` (a subprocess, same config and store) finishes
the thread. The platform ends up holding exactly 5 posts, in order, correctly chained: never
one twice, never one missing.

Bluesky runs against the real local PDS (a fresh account per case); X and Mastodon against
their fakes, which run in this test process and are reached by both child processes over
loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mastodon_fake import TOKEN
from x_fake import CREDENTIALS

from bot.config import load_config
from bot.store import Store

from .conftest import (
    THREAD_IMAGES,
    THREAD_TEXTS,
    assert_mastodon_thread,
    assert_pds_thread,
    assert_x_thread,
    bluesky_account_toml,
    create_pds_account,
    mastodon_account_toml,
    pds_posts,
    secrets_env,
    thread_draft,
    write_config,
    x_account_toml,
)

CHILD = Path(__file__).with_name("crash_child.py")
CITYCRIER = Path(sys.executable).with_name("citycrier")
CASES = [(point, k) for point in ("write", "receipt") for k in range(1, 6)]
IDS = [f"{'after-write-before-receipt' if p == 'write' else 'after-receipt'}-post{k}"
       for p, k in CASES]
CHILD_TIMEOUT = 120  # seconds; a child normally takes 2-4 s


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT)


def child_env(secrets: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYCRIER_")}
    return {**env, **secrets}


def prepare(folder: Path, account_toml: str, platform: str) -> tuple[Path, int]:
    """A config and a store holding one approved, due, 5-post thread for ``platform``."""
    config = write_config(folder, account_toml)
    store = Store(load_config(config).storage_url)
    try:
        draft_id, _ = store.create_draft(thread_draft((platform,), slot_at=datetime.now(UTC)))
    finally:
        store.close()
    return config, draft_id


def left_behind(config: Path, draft_id: int, platform: str) -> list[tuple[int, bool]]:
    """What the killed child left in the store: (post index, confirmed) per receipt."""
    store = Store(load_config(config).storage_url)
    try:
        assert store.get_draft(draft_id).state == "publishing"  # claimed by the dead child
        return [(r.post_index, r.confirmed) for r in store.receipts(draft_id, platform)]
    finally:
        store.close()


def expected_receipts(point: str, k: int) -> list[tuple[int, bool]]:
    confirmed = [(i, True) for i in range(k - 1)]
    return confirmed + [(k - 1, point == "receipt")]


def check_store(config: Path, draft_id: int, platform: str, refs: list[tuple[str, str, str]],
                point: str, k: int) -> None:
    store = Store(load_config(config).storage_url)
    try:
        assert store.get_draft(draft_id).state == "published"
        receipts = store.receipts(draft_id, platform)
        assert [(r.remote_id, r.uri, r.cid) for r in receipts] == refs
        assert all(r.confirmed for r in receipts)
        actions = [(a.action, a.detail) for a in store.audit(draft_id)]
    finally:
        store.close()
    assert actions[0][0] == "draft"
    assert actions[1] == ("claim", "publishing (approved)")
    assert actions[2] == ("claim", "resumed after an interrupted run")
    settled = [d for a, d in actions if a == "settle"]
    if point == "write":  # the resumed run asked the platform, found post k, kept it
        assert len(settled) == 1 and settled[0].startswith(f"{platform} post {k}: it had been "
                                                           f"posted (")
    else:
        assert settled == []
    assert actions[-1] == ("published", f"every post confirmed on {platform}")


@pytest.mark.pds
@pytest.mark.slow
@pytest.mark.parametrize(("point", "k"), CASES, ids=IDS)
def test_bluesky_thread_is_whole_after_a_kill(pds: Any, tmp_path: Path, point: str,
                                              k: int) -> None:
    account = create_pds_account(pds, "crash")
    config, draft_id = prepare(tmp_path, bluesky_account_toml("cityhall", account), "bluesky")
    env = child_env(secrets_env(account.password))

    started = time.perf_counter()
    child = run([sys.executable, str(CHILD), str(config), "bluesky", point, str(k)], env,
                tmp_path)
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)
    assert len(pds_posts(account)) == k  # post k is on the PDS
    assert left_behind(config, draft_id, "bluesky") == expected_receipts(point, k)

    resume = run([str(CITYCRIER), "publish", "--config", str(config)], env, tmp_path)
    elapsed = time.perf_counter() - started
    assert (resume.returncode, resume.stdout) == (
        0, f"draft {draft_id} (calls): published: every post confirmed on bluesky\n"
    ), resume.stderr
    records = pds_posts(account)
    assert_pds_thread(records, list(THREAD_TEXTS), THREAD_IMAGES)
    refs = [(r.uri.rsplit("/", 1)[1], r.uri, r.cid) for r in records]
    check_store(config, draft_id, "bluesky", refs, point, k)
    print(f"bluesky {point} k={k}: kill + resume {elapsed:.2f} s")


def fake_setup(platform: str, fake: Any) -> tuple[str, dict[str, str]]:
    """The [accounts] table and the credentials for ``platform``'s fake."""
    if platform == "x":
        return x_account_toml("cityhall_x", fake.base_url), secrets_env(
            x_credentials=CREDENTIALS)
    return mastodon_account_toml("cityhall_m", fake.base_url), secrets_env(
        mastodon_token=TOKEN)


def fake_thread(platform: str, fake: Any) -> list[tuple[str, str, str]]:
    """Check the fake holds exactly the thread; the (id, uri, cid) its receipts must hold."""
    if platform == "x":
        assert_x_thread(fake, list(THREAD_TEXTS), THREAD_IMAGES)
        return [(t.id, f"https://x.com/i/web/status/{t.id}", "") for t in fake.thread()]
    assert_mastodon_thread(fake, list(THREAD_TEXTS), THREAD_IMAGES)
    return [(s.id, f"https://city.social/@cityhall/{s.id}", "") for s in fake.thread()]


@pytest.mark.spec
@pytest.mark.slow
@pytest.mark.parametrize(("point", "k"), CASES, ids=IDS)
@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_thread_on_a_fake_is_whole_after_a_kill(platform: str, request: pytest.FixtureRequest,
                                                tmp_path: Path, point: str, k: int) -> None:
    """X and Mastodon, each against its spec-checked fake. On Mastodon the resumed run finds
    post k among the account's statuses after a write-kill (its Idempotency-Key would also
    have made a blind retry return the same status)."""
    fake = request.getfixturevalue(f"{platform}_live")
    account_toml, secrets = fake_setup(platform, fake)
    config, draft_id = prepare(tmp_path, account_toml, platform)
    env = child_env(secrets)

    started = time.perf_counter()
    child = run([sys.executable, str(CHILD), str(config), platform, point, str(k)], env,
                tmp_path)
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)
    assert fake.writes == k
    assert left_behind(config, draft_id, platform) == expected_receipts(point, k)

    resume = run([str(CITYCRIER), "publish", "--config", str(config)], env, tmp_path)
    elapsed = time.perf_counter() - started
    assert (resume.returncode, resume.stdout) == (
        0, f"draft {draft_id} (calls): published: every post confirmed on {platform}\n"
    ), resume.stderr
    check_store(config, draft_id, platform, fake_thread(platform, fake), point, k)
    print(f"{platform} {point} k={k}: kill + resume {elapsed:.2f} s")
