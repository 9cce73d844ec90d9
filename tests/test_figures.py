import threading
from datetime import date
from pathlib import Path

import pytest

from bot.errors import DataError
from bot.figures import Figure, Item, Point, compute_figures, ensure_data
from bot.periods import resolve_period
from bot.query import Answer, Filter, Measure, Query
from bot.settings import Breakdown, GoalSpec, Recipe, SeriesSpec, SourceSpec


class RecordingSource:
    """Answers from a table keyed by (period first day, group/bucket); records every query."""

    def __init__(self, answers):
        self.answers = answers
        self.asked: list[Query] = []

    def fetch(self, q: Query) -> Answer:
        self.asked.append(q)
        key = (q.start.date().isoformat(), q.group_by or q.bucket or "")
        return Answer(tuple(self.answers.get(key, [])))


def recipe(**kw):
    base = dict(name="crime", path=Path("posts/crime.toml"), title="T", template="t.j2",
                schedule="0 9 3 * *", noun="incidents",
                source=SourceSpec("p", "incidents", "date", "last_month",
                                  filters=(Filter("committed", "=", "COMMITTED"),)),
                labels={"THEFT": "thefts"})
    base.update(kw)
    return Recipe(**base)


PERIOD = resolve_period("last_month", date(2026, 11, 2), "America/Chicago")


def test_total_breakdown_with_previous_values_and_labels():
    src = RecordingSource({
        ("2026-10-01", ""): [("", 900)], ("2026-09-01", ""): [("", 1000)],
        ("2026-10-01", "crime"): [("THEFT", 300), ("ASSAULT", 90)],
        ("2026-09-01", "crime"): [("THEFT", 250)],
    })
    f = compute_figures(recipe(breakdowns=(Breakdown("top", "crime", 2),)), PERIOD, src)
    assert f.total == Figure(900, 1000)
    assert f.total.change == pytest.approx(-0.1)
    assert f.breakdowns["top"] == (
        Item("THEFT", "thefts", 300, 250, 300 / 900, 1),
        Item("ASSAULT", "ASSAULT", 90, 0.0, 90 / 900, 2),
    )
    # the previous period is asked only for the keys that made the top N
    prev = src.asked[3]
    assert prev.filters == (Filter("committed", "=", "COMMITTED"),
                            Filter("crime", "in", ("THEFT", "ASSAULT")))
    assert src.asked[2].top == 2 and src.asked[2].group_by == "crime"
    assert f.queries[0] == ("count of incidents where date in [2026-10-01 00:00, 2026-11-01 "
                            "00:00) and committed = 'COMMITTED'")


def test_series_points_are_labelled_for_ticks_and_words():
    src = RecordingSource({
        ("2026-10-01", ""): [("", 5)], ("2026-09-01", ""): [("", 4)],
        ("2026-08-01", "month"): [("2026-08-01", 3), ("2026-09-01", 4), ("2026-10-01", 5)],
    })
    f = compute_figures(recipe(series=(SeriesSpec("m", "month", 3),)), PERIOD, src)
    assert f.series["m"] == (Point("2026-08-01", "Aug", "August 2026", 3),
                             Point("2026-09-01", "Sep", "September 2026", 4),
                             Point("2026-10-01", "Oct", "October 2026", 5))
    assert src.asked[-1].order == "key_asc"


def test_goal_progress_and_pace():
    src = RecordingSource({("2026-10-01", ""): [("", 30)], ("2026-09-01", ""): [("", 40)],
                           ("2026-01-01", ""): [("", 500)]})
    goal = GoalSpec(target=1000, label="homes", deadline=date(2026, 12, 31),
                    start=date(2026, 1, 1))
    g = compute_figures(recipe(goal=goal), PERIOD, src).goal
    assert (g.value, g.share, g.days_left) == (500, 0.5, 61)
    assert g.expected == pytest.approx(1000 * 304 / 365)
    assert g.on_track is False and g.remaining == 500
    assert g.pace_needed_per_month == pytest.approx(500 / (61 / 30.44))


def test_an_empty_period_is_an_error():
    figures = compute_figures(recipe(), PERIOD, RecordingSource({}))
    with pytest.raises(DataError, match="no incidents in incidents for in October"):
        ensure_data(recipe(), PERIOD, figures)


def test_data_hash_ignores_when_the_figures_were_fetched():
    src = RecordingSource({("2026-10-01", ""): [("", 5)], ("2026-09-01", ""): [("", 4)]})
    a = compute_figures(recipe(), PERIOD, src)
    b = compute_figures(recipe(), PERIOD, src)
    assert a.data_hash() == b.data_hash()
    assert a.history_values() == {"total": 5}


class TogetherSource(RecordingSource):
    """A RecordingSource that says it may be asked from threads, and proves it was: each
    round's queries wait for one another at a barrier (10 s, then BrokenBarrierError)."""

    concurrent_queries = 4

    def __init__(self, answers, rounds):
        super().__init__(answers)
        self.barriers = [threading.Barrier(n, timeout=10) for n in rounds]
        self.lock = threading.Lock()

    def fetch(self, q: Query) -> Answer:
        barrier = self.barriers[0 if q.filters[-1].field != "crime" else 1]
        barrier.wait()
        with self.lock:
            return super().fetch(q)


def test_a_thread_safe_source_is_asked_a_round_at_a_time_with_the_same_figures():
    answers = {("2026-10-01", ""): [("", 900)], ("2026-09-01", ""): [("", 1000)],
               ("2026-10-01", "crime"): [("THEFT", 300), ("ASSAULT", 90)],
               ("2026-09-01", "crime"): [("THEFT", 250)],
               ("2026-08-01", "month"): [("2026-08-01", 3), ("2026-09-01", 4)]}
    r = recipe(breakdowns=(Breakdown("top", "crime", 2),), series=(SeriesSpec("m", "month", 3),))
    one_by_one = compute_figures(r, PERIOD, RecordingSource(answers))
    # round 1: total, previous total, top 2, series (4 at once); round 2: the top 2 before
    together = compute_figures(r, PERIOD, TogetherSource(answers, rounds=(4, 1)))
    assert together == one_by_one
    assert together.queries == one_by_one.queries  # listed in the same order as ever


def test_the_blank_groups_previous_value_is_asked_for_as_null():
    src = RecordingSource({
        ("2026-10-01", ""): [("", 9)], ("2026-09-01", ""): [("", 8)],
        ("2026-10-01", "crime"): [("(blank)", 5), ("THEFT", 4)],
        ("2026-09-01", "crime"): [("(blank)", 6), ("THEFT", 2)],
    })
    f = compute_figures(recipe(breakdowns=(Breakdown("top", "crime", 2),)), PERIOD, src)
    assert [(it.key, it.value, it.previous) for it in f.breakdowns["top"]] == [
        ("(blank)", 5, 6), ("THEFT", 4, 2)]
    assert src.asked[3].filters[-1] == Filter("crime", "in", (None, "THEFT"))
    only_blank = RecordingSource({("2026-10-01", ""): [("", 9)], ("2026-09-01", ""): [("", 8)],
                                  ("2026-10-01", "crime"): [("(blank)", 5)]})
    compute_figures(recipe(breakdowns=(Breakdown("top", "crime", 1),)), PERIOD, only_blank)
    assert only_blank.asked[3].filters[-1] == Filter("crime", "in", (None,))  # never ()


def test_a_mean_over_nothing_before_is_not_comparable():
    src = RecordingSource({("2026-10-01", ""): [("", 3.5)]})  # September: no rows at all
    f = compute_figures(recipe(source=SourceSpec("p", "incidents", "date", "last_month",
                                                 measure=Measure("mean", "mag"))), PERIOD, src)
    assert (f.total, f.has_data) == (Figure(3.5, None), True)
    nothing = compute_figures(recipe(source=SourceSpec("p", "incidents", "date", "last_month",
                                                       measure=Measure("mean", "mag"))),
                              PERIOD, RecordingSource({}))
    assert nothing.has_data is False


def test_a_mean_breakdown_group_with_nothing_before_has_no_previous_value():
    src = RecordingSource({("2026-10-01", ""): [("", 3.0)], ("2026-09-01", ""): [("", 2.0)],
                           ("2026-10-01", "crime"): [("THEFT", 4.0), ("FRAUD", 2.0)],
                           ("2026-09-01", "crime"): [("THEFT", 1.0)]})
    mean = SourceSpec("p", "incidents", "date", "last_month", measure=Measure("mean", "mag"))
    f = compute_figures(recipe(source=mean, breakdowns=(Breakdown("top", "crime", 2),)),
                        PERIOD, src)
    assert [(it.key, it.previous) for it in f.breakdowns["top"]] == [("THEFT", 1.0),
                                                                     ("FRAUD", None)]
