"""`citycrier engagement read|show`: exact output from fixed rows; bad input is one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.engagement import Counts, Reading, Reply
from bot.engagement.store import EngagementStore
from bot.store import Store
from tests.engagement.conftest import published_draft
from tests.publish.conftest import closed_port

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _project(tmp_path: Path) -> tuple[Path, Store, int]:
    path = tmp_path / "config.toml"
    path.write_text('timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///c.db"\n'
                    '[accounts.hall]\nplatform = "bluesky"\nhandle = "hall.test"\n'
                    f'service = "http://127.0.0.1:{closed_port()}"\n'
                    'app_password_env = "CITYCRIER_TEST_ENG_PW"\n', encoding="utf-8")
    store = Store(load_config(path).storage_url)
    uris = ["at://did:plc:hall/app.bsky.feed.post/3a", "at://did:plc:hall/app.bsky.feed.post/3b"]
    draft = published_draft(store, "bluesky", "hall", ["3a", "3b"], T0, uris=uris)
    return path, store, draft


def test_show_prints_each_posts_latest_numbers_and_replies(tmp_path: Path) -> None:
    path, store, draft = _project(tmp_path)
    marks = EngagementStore(store)
    marks.add_readings([
        Reading(draft, "bluesky", "hall", 0, "3a", 3600, T0.replace(hour=16), Counts(1, 0, 0, 0)),
        Reading(draft, "bluesky", "hall", 0, "3a", 86400, T0.replace(day=3), Counts(4, 2, 1, 0))])
    marks.add_replies(draft, "bluesky", [Reply(
        0, "at://did:plc:r/app.bsky.feed.post/9", "resident.test", "When is pickup?",
        "https://bsky.app/profile/resident.test/post/9", T0.replace(minute=30))],
        T0.replace(hour=16), T0)
    result = CliRunner().invoke(main, ["engagement", "show", str(draft), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "bluesky\n"
        "  post 1: 4 likes, 2 reposts, 1 replies, 0 quotes (read 2026-03-03 09:00)\n"
        "    @resident.test 2026-03-02 09:30: When is pickup?  "
        "https://bsky.app/profile/resident.test/post/9\n"
        "  post 2: not read yet\n")
    store.close()


def test_read_a_draft_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    path, store, _ = _project(tmp_path)
    result = CliRunner().invoke(main, ["engagement", "read", "99", "--config", str(path)])
    assert (result.exit_code, result.output) == (
        1, "Error: no draft 99 (see `citycrier queue` for the drafts there are)\n")
    store.close()


def test_read_when_the_pds_is_down_says_so_and_writes_nothing(tmp_path: Path,
                                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, store, draft = _project(tmp_path)
    monkeypatch.setenv("CITYCRIER_TEST_ENG_PW", "not-used")
    result = CliRunner().invoke(main, ["engagement", "read", str(draft), "--config",
                                       str(path)])
    assert result.exit_code == 1, result.output  # nothing could be read: not a success
    lines = result.stdout.splitlines()
    assert lines[0] == "0 readings, 0 new replies"
    assert lines[1].startswith("  error    reading account 'hall': bluesky: could not reach "
                               "http://127.0.0.1:")
    assert lines[1].endswith("(try again later); tried again at the next pass")
    assert len(lines) == 2
    assert EngagementStore(store).readings() == []
    store.close()


def test_read_a_draft_not_published_is_one_line(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.publish.conftest import thread_draft

    path, store, _ = _project(tmp_path)
    waiting, _ = store.create_draft(replace(thread_draft(("bluesky",), slot_at=T0,
                                                         period_key="2026-W01")))
    result = CliRunner().invoke(main, ["engagement", "read", str(waiting), "--config",
                                       str(path)])
    assert (result.exit_code, result.output) == (
        1, f"Error: draft {waiting} is approved, not published: only published threads are "
        "read back (see `citycrier queue --state published`)\n")
    shown = CliRunner().invoke(main, ["engagement", "show", str(waiting), "--config",
                                      str(path)])
    assert (shown.exit_code, shown.output) == (1, result.output)  # not "no readings yet"
    store.close()


def test_read_a_retracted_draft_is_one_line_and_reads_nothing(tmp_path: Path) -> None:
    path, store, draft = _project(tmp_path)
    store.transition(draft, "retract", "test:1")
    result = CliRunner().invoke(main, ["engagement", "read", str(draft), "--config",
                                       str(path)])
    assert (result.exit_code, result.output) == (
        1, f"Error: draft {draft} was retracted: its posts are gone, so there is nothing to "
        f"read or show (see `citycrier show {draft}` for its history)\n")
    assert EngagementStore(store).readings() == []
    shown = CliRunner().invoke(main, ["engagement", "show", str(draft), "--config", str(path)])
    assert (shown.exit_code, shown.output) == (1, result.output)
    store.close()


def test_read_a_draft_on_x_without_read_metrics_says_why_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///c.db"\n'
                    '[accounts.xa]\nplatform = "x"\nhandle = "xa"\n'
                    'consumer_key_env = "K1"\nconsumer_secret_env = "K2"\n'
                    'access_token_env = "K3"\naccess_token_secret_env = "K4"\n',
                    encoding="utf-8")
    store = Store(load_config(path).storage_url)
    draft = published_draft(store, "x", "xa", ["111", "112"], T0)
    result = CliRunner().invoke(main, ["engagement", "read", str(draft), "--config",
                                       str(path)])
    assert (result.exit_code, result.output) == (
        1, "0 readings, 0 new replies\n"
        "  not read xa (x): read_metrics is not true (reads cost money there; set "
        "read_metrics = true in [accounts.xa])\n")
    store.close()
