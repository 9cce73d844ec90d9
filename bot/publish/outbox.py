"""The outbox: publish a thread to a folder instead of a network.

Used when no platform account is configured (and by `citycrier demo`). Each thread gets a
folder with `thread.json`, its chart PNGs and an `index.html` showing every post as it would
look on each of its platforms (X, Bluesky, Mastodon); `outbox/index.html` lists every thread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.folders import ensure_folder
from bot.platforms import label, names, post_limits, spoken_labels
from bot.settings import Config
from bot.store import Draft, Store


def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "outbox_templates"),
        autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)


def thread_folder(config: Config, draft: Draft) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in draft.period_key)
    return config.outbox_dir / f"{draft.id:05d}-{draft.recipe}-{safe}"


def write_thread(
    config: Config, store: Store, draft: Draft, status: str = "published to the outbox"
) -> Path:
    """Write the draft's current revision and charts to its outbox folder; return the page."""
    from bot.guards import reading_grade
    from bot.limits import measure_post

    ensure_folder(config.outbox_dir, "the outbox", "[storage] outbox_dir")
    folder = thread_folder(config, draft)
    folder.mkdir(exist_ok=True)
    rev = store.revision(draft.id)
    charts = {c.name: c for c in store.charts(draft.id)}
    files = {}
    for name, c in charts.items():
        path = folder / f"{name}.png"
        path.write_bytes(c.png)
        files[name] = path.name
    platforms = [p for p in names() if p in rev.thread]
    limits = post_limits(config, tuple(draft.source.get("accounts", ())))
    longest = max((len(rev.thread[p]) for p in platforms), default=0)
    rows = []
    for i in range(longest):
        row: list[dict[str, Any]] = []
        for p in platforms:
            posts = rev.thread[p]
            if i >= len(posts):
                row.append({"platform_name": label(p), "text": None})
                continue
            post = posts[i]
            m = measure_post(post.text, p, limits.get(p))
            row.append({
                "platform_name": label(p), "text": post.text, "length": m.length,
                "limit": m.limit, "unit": m.unit, "ok": m.ok,
                "grade": reading_grade(post.text),
                "images": [{"file": files[n], "alt": rev.alts.get(n, charts[n].alt),
                            "width": charts[n].width, "height": charts[n].height}
                           for n in post.charts if n in charts]})
        rows.append(row)
    page = folder / "index.html"
    page.write_text(_env().get_template("thread.html").render(
        draft=draft, rows=rows, source=draft.source, status=status), encoding="utf-8")
    body = {
        "draft": draft.id, "recipe": draft.recipe, "title": draft.title,
        "period": draft.period_label, "period_key": draft.period_key,
        "as_of": draft.as_of.isoformat(), "revision": rev.revision, "state": status,
        "synthetic": bool(draft.source.get("synthetic")), "reasons": list(draft.reasons),
        "source": draft.source,
        "thread": {p: [{"text": x.text, "images": [
            {"file": files[n], "alt": rev.alts.get(n, charts[n].alt)} for n in x.charts
            if n in charts]} for x in posts] for p, posts in rev.thread.items()},
    }
    (folder / "thread.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    return page


def write_index(config: Config) -> Path:
    """(Re)write outbox/index.html listing every thread folder."""
    ensure_folder(config.outbox_dir, "the outbox", "[storage] outbox_dir")
    threads = []
    for folder in sorted(config.outbox_dir.iterdir()):
        meta = folder / "thread.json"
        if not meta.is_file():
            continue
        body = json.loads(meta.read_text(encoding="utf-8"))
        first: list[dict[str, Any]] = next(iter(body["thread"].values()), [])
        threads.append({"folder": folder.name, "title": body["title"],
                        "period_label": body["period"], "posts": len(first),
                        "charts": sum(len(p["images"]) for p in first),
                        "synthetic": body.get("synthetic", False)})
    index = config.outbox_dir / "index.html"
    index.write_text(_env().get_template("index.html").render(
        threads=threads, platforms=spoken_labels("or")), encoding="utf-8")
    return index
