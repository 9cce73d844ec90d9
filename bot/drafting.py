"""The pipeline for one recipe: figures -> thread -> charts -> guards -> a draft in the store.

`build_thread` does everything but store (for `preview` and `check`); `draft_recipe` also
stores the draft, records the run, and never touches an existing draft when a stage fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.charts import Chart
from bot.compose import Composed, compose_thread, render_title, template_environment
from bot.errors import BotError, DataError
from bot.figures import Figures, Source, compute_figures, ensure_data
from bot.guards import Reason, check_fresh, check_readability, check_unusual, decide_state
from bot.periods import Period, resolve_period
from bot.platforms import post_limits
from bot.settings import Config, Recipe
from bot.store import PENDING, NewDraft, Store, StoredChart

log = logging.getLogger(__name__)
_AP = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.",
       "Nov.", "Dec.")


@dataclass(frozen=True)
class Built:
    recipe: Recipe
    period: Period
    as_of: datetime
    figures: Figures
    composed: Composed
    charts: tuple[Chart, ...]
    reasons: tuple[Reason, ...]
    source: dict[str, Any]

    def data_hash(self) -> str:
        thread = {p: [(x.text, list(x.charts)) for x in posts]
                  for p, posts in self.composed.thread.items()}
        raw = self.figures.data_hash() + json.dumps(thread, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DraftResult:
    draft_id: int
    created: bool
    state: str
    reasons: tuple[str, ...]


def ap_date(d: date) -> str:
    return f"{_AP[d.month - 1]} {d.day}, {d.year}"


def open_recipe_source(config: Config, recipe: Recipe, *, no_cache: bool = False) -> Source:
    from bot.sources import open_source

    portal = config.portals[recipe.source.portal]
    return open_source(portal, config.timezone, cache_dir=cache_folder(config),
                       no_cache=no_cache)


def cache_folder(config: Config) -> Path:
    """state_dir/cache, created: a state_dir citycrier cannot write is one line, not a cache
    that silently stops working."""
    from bot.folders import ensure_folder

    keeps = "sessions and the HTTP cache"
    ensure_folder(config.state_dir, keeps, "[storage] state_dir")
    return ensure_folder(config.state_dir / "cache", keeps, "[storage] state_dir")


def source_info(config: Config, recipe: Recipe, figures: Figures,
                as_of: datetime) -> dict[str, Any]:
    portal = config.portals[recipe.source.portal]
    link = portal.dataset_link.format(dataset=recipe.source.dataset) if portal.dataset_link \
        else ""
    updated = figures.last_updated
    return {"portal": portal.name, "label": portal.label, "kind": portal.kind,
            "dataset": recipe.source.dataset, "link": link, "synthetic": portal.synthetic,
            "as_of": as_of.date().isoformat(),
            "last_updated": updated.isoformat() if updated else None,
            "queries": list(figures.queries), "pushed_down": figures.pushed_down,
            "accounts": list(recipe.accounts)}


def source_line(info: dict[str, Any], as_of: datetime) -> str:
    line = f"Source: {info['label']}, {info['dataset']}, as of {ap_date(as_of.date())}"
    if info["synthetic"] and "synthetic" not in info["label"].lower():
        line += " (synthetic sample)"
    return line


def build_context(recipe: Recipe, period: Period, figures: Figures, info: dict[str, Any],
                  as_of: datetime) -> dict[str, Any]:
    """What a template sees. Breakdowns and series are also top-level names."""
    ctx: dict[str, Any] = {
        "recipe": {"name": recipe.name, "title": recipe.title, "noun": recipe.noun},
        "period": period, "as_of": as_of.date(), "total": figures.total,
        "breakdowns": figures.breakdowns, "series": figures.series, "goal": figures.goal,
        "source": {**info, "last_updated": (datetime.fromisoformat(info["last_updated"]).date()
                                            if info["last_updated"] else None)},
    }
    for name, items in figures.breakdowns.items():
        ctx.setdefault(name, items)
    for name, points in figures.series.items():
        ctx.setdefault(name, points)
    return ctx


def draw_charts(env: Any, recipe: Recipe, figures: Figures, ctx: dict[str, Any],
                info: dict[str, Any], period: Period, as_of: datetime) -> tuple[Chart, ...]:
    from bot.charts import render_chart

    out = []
    line = source_line(info, as_of)
    for spec in recipe.charts:
        title = render_title(env, spec.title, ctx, recipe.name)
        if spec.data in figures.breakdowns:
            items = figures.breakdowns[spec.data]
            points = [(it.label, it.value) for it in items]
            longs = None
            label = f"{period.label} ({_span(period)})"
        else:
            pts = figures.series[spec.data]
            points = [(p.label, p.value) for p in pts]
            longs = [p.long_label for p in pts]
            bucket = next(sp.bucket for sp in recipe.series if sp.name == spec.data)
            label = f"the {len(pts)} {bucket}s to {ap_date(period.last_day)}"
        out.append(render_chart(spec.name, spec.kind, points, title=title,
                                unit=spec.unit or recipe.noun, source_line=line,
                                period_label=label, long_labels=longs))
    return tuple(out)


def _span(period: Period) -> str:
    a, b = period.first_day, period.last_day
    if a == b:
        return f"{_AP[a.month - 1]} {a.day}"
    if a.month == b.month:
        return f"{_AP[a.month - 1]} {a.day}–{b.day}"
    return f"{_AP[a.month - 1]} {a.day}–{_AP[b.month - 1]} {b.day}"


def build_thread(config: Config, recipe: Recipe, as_of: datetime, *,
                 source: Source | None = None, store: Store | None = None,
                 no_cache: bool = False, charts: bool = True) -> Built:
    """Everything but storing: figures, thread for each platform, charts, guard reasons."""
    period = resolve_period(recipe.source.period, as_of, config.timezone)
    src = source or open_recipe_source(config, recipe, no_cache=no_cache)
    figures = compute_figures(recipe, period, src)
    reasons = check_fresh(recipe, figures.last_updated, as_of)  # before "no data": stale says why
    ensure_data(recipe, period, figures)
    info = source_info(config, recipe, figures, as_of)
    ctx = build_context(recipe, period, figures, info, as_of)
    env = template_environment(config.templates_dir)
    composed = compose_thread(env, recipe, ctx, post_limits(config, recipe.accounts))
    drawn = draw_charts(env, recipe, figures, ctx, info, period, as_of) if charts else ()
    reasons += [Reason("split", n, forces_review=False) for n in composed.notes]
    reasons += check_readability(composed.thread, recipe.max_grade)
    if store is not None:
        history = store.figure_history(recipe.name, "total", period.key)
        reasons += check_unusual(f"the total of {recipe.noun}", figures.total.value,
                                 figures.total.previous, history, recipe.unusual_change)
    elif figures.total.previous:
        reasons += check_unusual(f"the total of {recipe.noun}", figures.total.value,
                                 figures.total.previous, [], recipe.unusual_change)
    return Built(recipe, period, as_of, figures, composed, drawn, tuple(reasons), info)


def draft_recipe(config: Config, recipe: Recipe, store: Store, as_of: datetime, *,
                 source: Source | None = None, actor: str = "citycrier",
                 now: datetime | None = None, no_cache: bool = False) -> DraftResult:
    """Build and store one draft; record the run either way. Raises the stage's BotError."""
    started = now or datetime.now(UTC)
    period_key = resolve_period(recipe.source.period, as_of, config.timezone).key
    try:
        built = build_thread(config, recipe, as_of, source=source, store=store,
                             no_cache=no_cache)
    except BotError as exc:
        outcome = "skipped" if isinstance(exc, DataError) else "failed"
        store.record_run(recipe.name, period_key, started, outcome, str(exc))
        raise
    state = decide_state(recipe.approval, list(built.reasons))
    new = NewDraft(
        recipe=recipe.name, title=recipe.title, period_key=built.period.key,
        period_label=f"{built.period.label} ({_span(built.period)})", as_of=as_of,
        slot_at=started + recipe.publish_after, approval=recipe.approval, state=state,
        platforms=recipe.platforms, data_hash=built.data_hash(), thread=built.composed.thread,
        reasons=tuple(r.text for r in built.reasons), figures=built.figures.to_json(),
        source=built.source,
        charts=tuple(StoredChart(c.name, c.kind, c.title, c.png, c.alt, c.width, c.height)
                     for c in built.charts),
        history=built.figures.history_values())
    draft_id, created = store.create_draft(new, actor=actor)
    store.record_run(recipe.name, built.period.key, started,
                     "drafted" if created else "unchanged",
                     f"draft {draft_id}" + ("" if created else " already holds these figures"),
                     draft_id)
    final = store.get_draft(draft_id)
    if created and final.state == PENDING:
        from bot.notify import notify_waiting

        notify_waiting(config, final)  # never fatal: failures are logged
    log.info("recipe %s: draft %s %s (%s)", recipe.name, draft_id,
             "created" if created else "unchanged", final.state)
    return DraftResult(draft_id, created, final.state, final.reasons)
