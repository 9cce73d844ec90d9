"""`citycrier report`: exact output on fixed readings; the chart has alt text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.engagement import Counts, Reading
from bot.engagement.report import build_report, report_chart, report_json, report_text
from bot.engagement.store import EngagementStore
from bot.store import Store
from tests.engagement.conftest import published_draft

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LATER = Counts(99, 99, 99, 99)  # the 7-day readings: never in a report at 24 h


@pytest.fixture
def project(tmp_path: Path) -> Any:
    """Fixed data: three `calls` threads on Bluesky (one not read at 24 h yet), one on X, a
    `crime` thread on Bluesky, and one published before the window."""
    path = tmp_path / "config.toml"
    path.write_text('timezone = "America/Chicago"\n[storage]\nurl = "sqlite:///c.db"\n',
                    encoding="utf-8")
    store = Store(load_config(path).storage_url)
    marks = EngagementStore(store)

    def thread(recipe: str, platform: str, key: str, posted: datetime,
               at24: list[Counts] | None) -> int:
        ids = [f"{key}-{n}" for n in range(len(at24 or [Counts()]))]
        draft = published_draft(store, platform, "acct", ids, posted, period_key=key,
                                recipe=recipe)
        rows = [Reading(draft, platform, "acct", n, i, 3600, posted + timedelta(hours=1),
                        Counts(1, 0, 0, 0)) for n, i in enumerate(ids)]
        if at24 is not None:
            rows += [Reading(draft, platform, "acct", n, i, 86400, posted + DAY, c)
                     for n, (i, c) in enumerate(zip(ids, at24, strict=True))]
            rows += [Reading(draft, platform, "acct", n, i, 604800, posted + 7 * DAY, LATER)
                     for n, i in enumerate(ids)]
        marks.add_readings(rows)
        return draft

    ids = {
        "a": thread("calls", "bluesky", "W10", NOW - 20 * DAY,
                    [Counts(4, 1, 0, 0), Counts(2, 0, 1, 0)]),  # 6 likes, 1 repost, 1 reply
        "b": thread("calls", "bluesky", "W11", NOW - 13 * DAY, [Counts(10, 3, 2, 1)]),
        "c": thread("calls", "bluesky", "W12", NOW - 6 * DAY, [Counts(1, 0, 0, 0)]),
        "d": thread("calls", "bluesky", "W13", NOW - timedelta(hours=5), None),
        "e": thread("calls", "x", "W11x", NOW - 13 * DAY, [Counts(3, 1, 0, 0)]),
        "f": thread("crime", "bluesky", "M02", NOW - 10 * DAY, [Counts(0, 0, 0, 0)]),
        "old": thread("calls", "bluesky", "W01", NOW - 40 * DAY, [Counts(500, 0, 0, 0)]),
    }
    yield path, store, ids
    store.close()


def test_the_report_is_exact_on_fixed_data(project: Any) -> None:
    path, store, ids = project
    report = build_report(store, NOW, timedelta(days=30))
    assert report_text(report, "America/Chicago") == (
        "Engagement of threads published 2026-03-01 to 2026-03-31 (30 days); medians 24 hours "
        "after posting\n"
        "  recipe  platform  threads  read  likes  reposts  replies\n"
        "  calls   bluesky         4     3      6        1        1\n"
        "  calls   x               1     1      3        1        0\n"
        "  crime   bluesky         1     1      0        0        0\n"
        f"  calls on bluesky: best draft {ids['b']} (last week): 10 likes, 3 reposts, "
        f"2 replies; worst draft {ids['c']} (last week): 1 like, 0 reposts, 0 replies\n"
        f"  calls on x: best draft {ids['e']} (last week): 3 likes, 1 repost, 0 replies; "
        f"worst draft {ids['e']} (last week): 3 likes, 1 repost, 0 replies\n"
        f"  crime on bluesky: best draft {ids['f']} (last week): 0 likes, 0 reposts, "
        f"0 replies; worst draft {ids['f']} (last week): 0 likes, 0 reposts, 0 replies\n")
    data = report_json(report)
    assert data["rows"][0] == {
        "recipe": "calls", "platform": "bluesky", "threads": 4, "read_at_24h": 3,
        "median_likes": 6.0, "median_reposts": 1.0, "median_replies": 1.0,
        "best": {"draft_id": ids["b"], "period": "last week",
                 "posted_at": "2026-03-18T12:00:00+00:00", "likes": 10, "reposts": 3,
                 "replies": 2, "quotes": 1, "total": 16},
        "worst": {"draft_id": ids["c"], "period": "last week",
                  "posted_at": "2026-03-25T12:00:00+00:00", "likes": 1, "reposts": 0,
                  "replies": 0, "quotes": 0, "total": 1}}


def test_a_window_with_nothing_published_says_so(project: Any) -> None:
    _, store, _ = project
    report = build_report(store, NOW - 100 * DAY, timedelta(days=7))
    assert report_text(report, "America/Chicago") == (
        "Engagement of threads published 2025-12-14 to 2025-12-21 (7 days); medians 24 hours "
        "after posting\n  no threads published in that time\n")
    assert report_chart(report, "America/Chicago") is None


def test_the_chart_is_a_house_style_png_with_alt_text(project: Any, tmp_path: Path) -> None:
    path, store, _ = project
    out = tmp_path / "engagement.png"
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--now",
                                       NOW.isoformat(), "--chart", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"chart: {out} (alt text: {out.with_suffix('.txt')})\n")
    png = out.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 1_000_000
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1600, 900)
    assert out.with_suffix(".txt").read_text(encoding="utf-8") == (
        "Bar chart. Median likes, reposts and replies a day after posting. Likes, reposts and "
        "replies by category, threads published Mar 1 to Mar 31: calls (bluesky), 8; calls "
        "(x), 4; and crime (bluesky), 0. Highest: calls (bluesky), 8. Lowest: crime "
        "(bluesky), 0. Total shown: 12 likes, reposts and replies. Source: citycrier's "
        "readings of the city's own posts.\n")


def test_report_since_must_be_a_span(project: Any) -> None:
    path, _, _ = project
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--since", "lots"])
    assert (result.exit_code, result.output) == (
        1, "Error: --since 'lots' is not a span of time: write e.g. 30d, 12w or 48h\n")


@pytest.mark.parametrize("since", ["800000d", "9999999999d", "99999999999999999999h"])
def test_report_since_beyond_any_date_is_one_line(project: Any, since: str) -> None:
    path, _, _ = project
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--since", since])
    assert (result.exit_code, result.output) == (
        1, f"Error: --since '{since}' is longer than 100 years: write e.g. 30d, 12w or 48h\n")


def test_a_span_of_hours_is_said_in_hours(project: Any) -> None:
    path, _, _ = project
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--now",
                                       NOW.isoformat(), "--since", "6h"])
    assert (result.exit_code, result.output) == (0, (
        "Engagement of threads published 2026-03-31 to 2026-03-31 (6 hours); medians 24 hours "
        "after posting\n"
        "  recipe  platform  threads  read  likes  reposts  replies\n"
        "  calls   bluesky         1     0      -        -        -\n"))


def test_report_json_is_the_same_numbers(project: Any) -> None:
    import json

    path, store, _ = project
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--now",
                                       NOW.isoformat(), "--json", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(
        report_json(build_report(store, NOW, timedelta(days=30)))))


def test_the_weekly_digest_goes_to_notify_once_a_week(project: Any, webhook: Any) -> None:
    from bot.schedule import Operations

    path, store, ids = project
    with path.open("a", encoding="utf-8") as f:
        f.write('[notify]\nwebhook_url_env = "CITYCRIER_WEBHOOK"\n'
                '[engagement]\ndigest = "weekly"\n')
    config = load_config(path)
    ops = Operations(config, store, {}, read=lambda *a, **k: None)
    monday = datetime(2026, 3, 30, 14, 0, tzinfo=UTC)  # 09:00 in Chicago (CDT)
    assert ops.tick(monday - timedelta(minutes=1)) is not None
    # the Monday before is the latest slot at 08:59: its digest goes out first
    assert [w["text"].splitlines()[0] for w in webhook] == [
        "Engagement of threads published 2026-03-16 to 2026-03-23 (7 days); medians 24 hours "
        "after posting"]
    ops.tick(monday)
    ops.tick(monday + timedelta(hours=3))
    assert len(webhook) == 2
    assert webhook[1]["text"] == report_text(build_report(store, monday, timedelta(days=7)),
                                             "America/Chicago")
    assert webhook[1]["text"].splitlines()[2] == \
        "  calls   bluesky         1     1      1        0        0"
    assert [r["outcome"] for r in store.runs(":digest")] == ["sent", "sent"]


def test_a_chart_path_that_cannot_be_written_is_one_line(project: Any, tmp_path: Path) -> None:
    path, _, _ = project
    where = tmp_path / "no" / "such" / "folder" / "c.png"
    result = CliRunner().invoke(main, ["report", "--config", str(path), "--now",
                                       NOW.isoformat(), "--chart", str(where)])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot write the chart to {where}: No such file or "
                             "directory (choose another --chart path)\n")
