"""The demo recipes end to end on the synthetic sample (exact text, both platforms), the
store's part in drafting, and the demo templates on the real Baltimore and Baton Rouge files."""

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config, load_recipes
from bot.drafting import build_thread, draft_recipe
from bot.errors import DataError, SourceError
from bot.limits import measure_post
from bot.settings import Breakdown, PortalConfig
from bot.store import APPROVED, PENDING, Post, Store

from .conftest import SHARED

AS_OF = datetime(2026, 11, 2, 6, tzinfo=ZoneInfo("America/Chicago"))

BALTIMORE_X = (
    Post("Baltimore's 311 line took 139 requests last weekend, Oct. 31–Nov. 1. That is down "
         "12% from the weekend before."),
    Post("The most common request was for rat extermination visits: 24 of them. That is "
         "about 1 in 6 requests.", ("top_requests",)),
    Post("Next came bulk trash pickups, youth snow program sign-ups and dirty alleys."),
    Post("These numbers come from a synthetic sample that citycrier made for its demo. They "
         "are not city records."),
)
BALTIMORE_BLUESKY = (
    BALTIMORE_X[0], BALTIMORE_X[1],
    Post("Next came bulk trash pickups, youth snow program sign-ups and dirty alleys.\n"
         "Each bar in the chart shows one kind of request."),
    BALTIMORE_X[3],
)
CRIME = (
    Post("Baton Rouge police recorded 931 crime incidents in October. That is down 13% from "
         "the month before.\n\n1/5"),
    Post("Over the past 12 months, the busiest month was February 2026 with 1,217. The "
         "quietest was October 2026 with 931.\n\n2/5", ("monthly",)),
    Post("District 2 had the most incidents: 264, or about 2 in 7.\n\n3/5", ("by_district",)),
    Post("The most common were other offenses, thefts and batteries. Other offenses made up "
         "25% of the total.\n\n4/5"),
    Post("These numbers come from a synthetic sample that citycrier made for its demo. They "
         "are not police records.\n\n5/5"),
)
HOUSING = (
    Post("Restore Homes update: 963 of 1,200 flood-damaged homes are back with their owners. "
         "That is 80% of the goal for the end of 2026."),
    Post("Crews finished 33 homes in October. That is down 38% from the month before.",
         ("monthly",)),
    Post("The program is behind pace. At a steady rate it would have about 1,100 homes done "
         "by now.\nTo finish on time, crews need about 120 homes a month."),
    Post("These numbers come from a synthetic sample that citycrier made for its demo. They "
         "are not program records."),
)


@pytest.fixture
def config(project):
    return load_config(project / "config.toml")


@pytest.mark.parametrize("name, x, bluesky", [
    ("baltimore_311_weekend", BALTIMORE_X, BALTIMORE_BLUESKY),
    ("baton_rouge_crime_monthly", CRIME, CRIME),
    ("housing_recovery_progress", HOUSING, HOUSING),
])
def test_demo_thread_exact_text(config, name, x, bluesky):
    built = build_thread(config, load_recipes(config)[name], AS_OF)
    assert built.composed.thread == {"bluesky": bluesky, "x": x, "mastodon": bluesky}
    assert built.reasons == ()
    assert all(c.alt and len(c.png) <= 1_000_000 for c in built.charts)


def test_demo_chart_titles_state_the_finding(config):
    recipes = load_recipes(config)
    titles = [c.title for name in sorted(recipes)
              for c in build_thread(config, recipes[name], AS_OF).charts]
    assert titles == [
        "Rat extermination visits led Baltimore's 311 requests last weekend",
        "Baton Rouge recorded 931 incidents in October",
        "District 2 had the most incidents in October",
        "963 of 1,200 homes are done",
    ]


def test_drafting_twice_makes_one_draft_and_records_runs(config):
    store = Store(config.storage_url)
    recipe = load_recipes(config)["baltimore_311_weekend"]
    first = draft_recipe(config, recipe, store, AS_OF)
    again = draft_recipe(config, recipe, store, AS_OF)
    assert (first.created, again.created, first.draft_id) == (True, False, again.draft_id)
    assert [d.id for d in store.list_drafts()] == [first.draft_id]
    assert first.state == PENDING  # approval = "required"
    assert store.last_runs()["baltimore_311_weekend"]["outcome"] == "unchanged"
    charts = store.charts(first.draft_id)
    assert [(c.name, c.width, c.height) for c in charts] == [("top_requests", 1600, 900)]
    assert store.get_draft(first.draft_id).source["synthetic"] is True


def test_auto_unless_unusual_is_born_approved_without_guards(config):
    store = Store(config.storage_url)
    result = draft_recipe(config, load_recipes(config)["baton_rouge_crime_monthly"], store,
                          AS_OF)
    assert (result.state, result.reasons) == (APPROVED, ())


def test_an_unusual_move_forces_review(config):
    store = Store(config.storage_url)
    recipe = dataclasses.replace(load_recipes(config)["baton_rouge_crime_monthly"],
                                 unusual_change=0.10)
    result = draft_recipe(config, recipe, store, AS_OF)
    assert result.state == PENDING
    assert result.reasons == ("the total of incidents moved -13% from the period before (this "
                              "recipe flags moves over 10%)",)


def test_readability_forces_review_even_under_auto(config, project):
    tmpl = project / "templates" / "housing_recovery_progress.j2"
    tmpl.write_text(tmpl.read_text().replace(
        "Crews finished", "Notwithstanding considerable organizational complexity, "
        "multidisciplinary rehabilitation contractors satisfactorily finished"))
    store = Store(config.storage_url)
    recipe = dataclasses.replace(load_recipes(config)["housing_recovery_progress"],
                                 approval="auto")
    result = draft_recipe(config, recipe, store, AS_OF)
    assert result.state == PENDING
    assert result.reasons == (
        "post 2 (bluesky) reads at grade 19.4, above this recipe's limit of 9: shorter "
        "sentences and words help",)


def test_an_empty_period_never_becomes_a_post(config):
    store = Store(config.storage_url)
    recipe = load_recipes(config)["baltimore_311_weekend"]
    late = datetime(2027, 6, 1, 6, tzinfo=ZoneInfo("America/Chicago"))
    with pytest.raises(DataError) as exc:
        draft_recipe(config, recipe, store, late)
    assert str(exc.value) == (
        "recipe 'baltimore_311_weekend': no requests in baltimore_311 for last weekend "
        "(2027-05-29 to 2027-05-30): an empty period never becomes a post (check the dataset "
        "is current, or the recipe's filters)")
    assert store.list_drafts() == []
    assert store.last_runs()["baltimore_311_weekend"]["outcome"] == "skipped"


def test_a_failed_fetch_leaves_the_existing_draft_alone(config, project):
    store = Store(config.storage_url)
    recipe = load_recipes(config)["baltimore_311_weekend"]
    made = draft_recipe(config, recipe, store, AS_OF)
    before = store.get_draft(made.draft_id)
    os.remove(project / "state" / "sample" / "baltimore_311.csv")
    with pytest.raises(SourceError):
        draft_recipe(config, recipe, store, AS_OF)
    assert store.get_draft(made.draft_id) == before
    assert store.last_runs()["baltimore_311_weekend"]["outcome"] == "failed"


# ------------------------------------------------------------------ real data (../shared)

def real_portal(tmp_path: Path, links: dict[str, Path]) -> PortalConfig:
    folder = tmp_path / "real"
    folder.mkdir()
    for name, target in links.items():
        (folder / f"{name}.csv").symlink_to(target)
    return PortalConfig(name="real", kind="file", label="real files", path=folder)


def fits_both(thread):
    for platform, posts in thread.items():
        for post in posts:
            assert measure_post(post.text, platform).ok, (platform, post.text)


@pytest.mark.realdata
def test_baltimore_template_on_the_real_311_file(config, tmp_path):
    portal = real_portal(tmp_path, {
        "baltimore_311": SHARED / "baltimore" / "311_Customer_Service_Requests.csv"})
    config = dataclasses.replace(config, timezone="America/New_York",
                                 portals={**config.portals, "real": portal})
    recipe = load_recipes(config)["baltimore_311_weekend"]
    recipe = dataclasses.replace(recipe, source=dataclasses.replace(recipe.source,
                                                                    portal="real"))
    built = build_thread(config, recipe,
                         datetime(2019, 10, 21, 12, tzinfo=ZoneInfo("America/New_York")))
    fits_both(built.composed.thread)
    assert built.figures.total.value == 659 + 572  # Oct 19 and 20, 2019
    assert built.composed.thread["x"][0].text == (
        "Baltimore's 311 line took 1,231 requests last weekend, Oct. 19–20. That is up from "
        "none the weekend before.")


@pytest.mark.realdata
def test_baton_rouge_template_on_the_real_2018_file(config, tmp_path):
    portal = real_portal(tmp_path, {
        "crime_2018": SHARED / "baton_rouge" / "Baton_Rouge_Crime_Incidents_2018.csv"})
    config = dataclasses.replace(config, portals={**config.portals, "real": portal})
    recipe = load_recipes(config)["baton_rouge_crime_monthly"]
    recipe = dataclasses.replace(
        recipe,
        source=dataclasses.replace(recipe.source, portal="real", dataset="crime_2018",
                                   date_field="Crime Date"),
        breakdowns=(Breakdown("top_crimes", "Crime", 3), Breakdown("districts", "DISTRICT", 5)))
    built = build_thread(config, recipe,
                         datetime(2019, 1, 2, 12, tzinfo=ZoneInfo("America/Chicago")))
    fits_both(built.composed.thread)
    assert (built.figures.total.value, built.figures.total.previous) == (3349, 3488)
    assert sum(p.value for p in built.figures.series["monthly"]) == 45626
    assert built.composed.thread["x"][0].text == (
        "Baton Rouge police recorded 3,349 crime incidents in December. That is down 4% from "
        "the month before.\n\n1/5")


def test_a_stale_dataset_skips_drafting_with_its_reason(config, project):
    from datetime import timedelta

    from click.testing import CliRunner

    from bot.cli import main

    store = Store(config.storage_url)
    recipe = dataclasses.replace(load_recipes(config)["housing_recovery_progress"],
                                 stale_after=timedelta(days=3))
    data = project / "state" / "sample" / "housing_recovery.csv"
    old = datetime(2026, 10, 20, 12, tzinfo=ZoneInfo("America/Chicago")).timestamp()
    os.utime(data, (old, old))
    with pytest.raises(DataError) as exc:
        draft_recipe(config, recipe, store, AS_OF)
    assert str(exc.value) == (
        "recipe 'housing_recovery_progress': the dataset housing_recovery was last updated "
        "2026-10-20 12:00 CDT, 12 days before 2026-11-02; the recipe skips data older than "
        "3 days (stale_after): nothing drafted")
    assert store.list_drafts() == []
    result = CliRunner().invoke(main, ["queue", "--config", str(project / "config.toml")])
    assert result.stdout.splitlines()[-1].startswith(
        "    -  skipped              housing_recovery_progress: recipe "
        "'housing_recovery_progress': the dataset housing_recovery was last updated")


def test_a_draft_waiting_for_review_sends_a_notice(config, webhook):
    notify = dataclasses.replace(config.notify, webhook_url_env="CITYCRIER_WEBHOOK")
    config = dataclasses.replace(config, notify=notify)
    store = Store(config.storage_url)
    recipes = load_recipes(config)
    draft_recipe(config, recipes["housing_recovery_progress"], store, AS_OF)
    draft_recipe(config, recipes["housing_recovery_progress"], store, AS_OF)  # unchanged
    draft_recipe(config, recipes["baton_rouge_crime_monthly"], store, AS_OF)  # born approved
    assert len(webhook) == 1
    assert webhook[0]["text"].startswith(
        "Draft 1 is waiting for review: Restore Homes: progress toward the goal, in October "
        "(Oct. 1–31). It is due to post ")
    assert webhook[0]["text"].endswith("Review it: http://127.0.0.1:8080/drafts/1")
