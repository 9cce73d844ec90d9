"""Fill a recipe's thread template: one text per post per platform, charts attached.

A template holds the whole thread. A line holding only `---` separates posts;
`{{ chart("name") }}` attaches that chart to the post it stands in; `platform` is "x",
"bluesky" or "mastodon" while rendering, so a post can differ per network. Each post is
measured against its platform's limit (a Mastodon instance's own, as last read); one that
is too long is an error naming recipe, post, platform and length, unless the recipe sets
`split = true`.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.errors import ComposeError, LengthError, not_utf8
from bot.store import Post

_SENTINEL = "\x1f"
_CHART_MARK = re.compile(_SENTINEL + r"chart:([^" + _SENTINEL + r"]*)" + _SENTINEL)
_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Composed:
    thread: dict[str, tuple[Post, ...]]  # platform -> posts
    notes: tuple[str, ...] = ()  # what composing changed, e.g. a split post


def template_environment(templates_dir: Path) -> Any:
    """The Jinja2 environment for thread templates: strict, with the plain-voice filters."""
    import jinja2

    from bot.voice import register_filters

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # posts are plain text; the web page and outbox escape on display
    )
    register_filters(env)
    return env


def chart_marker(name: str) -> str:
    return f"{_SENTINEL}chart:{name}{_SENTINEL}"


def _file_holding(folder: Path, data: bytes) -> Path | None:
    """The template file whose bytes are `data` (an included one can be the culprit)."""
    return next((p for p in sorted(folder.rglob("*")) if p.is_file()
                 and p.stat().st_size == len(data) and p.read_bytes() == data), None)


def render_posts(env: Any, template: str, context: dict[str, Any],
                 chart_names: set[str], recipe: str) -> list[Post]:
    """Render the template once and cut it into posts with their charts."""
    import jinja2

    def chart(name: str) -> str:
        if name not in chart_names:
            known = ", ".join(sorted(chart_names)) or "none"
            raise ComposeError(f"recipe {recipe!r}: template {template} asks for chart "
                               f"{name!r}, which the recipe does not define (its charts: "
                               f"{known})")
        return chart_marker(name)

    try:
        tmpl = env.get_template(template)
        text = tmpl.render({**context, "chart": chart})
    except jinja2.TemplateSyntaxError as exc:
        raise ComposeError(f"template {exc.name or template} line {exc.lineno}: {exc.message} "
                           f"(fix the template syntax)") from None
    except jinja2.TemplateNotFound as exc:
        folder = env.loader.searchpath[0]
        if exc.name and exc.name != template:  # one the template includes or extends
            raise ComposeError(f"template {template} includes {exc.name!r}, which is not in "
                               f"{folder} (create it or fix the include)") from None
        raise ComposeError(f"recipe {recipe!r}: template {template!r} not found in "
                           f"{folder} (create it or fix the recipe's template key)") from None
    except UnicodeDecodeError as exc:  # the loader reads the template as UTF-8
        data = bytes(exc.object)
        path = _file_holding(Path(env.loader.searchpath[0]), data) or \
            Path(env.loader.searchpath[0]) / template
        raise ComposeError(str(not_utf8(str(path), data, exc.start))) from None
    except ComposeError:
        raise
    except Exception as exc:  # UndefinedError, a filter's TypeError, ...
        line = _template_line(exc, template)
        where = f"template {template}" + (f" line {line}" if line else "")
        raise ComposeError(f"{where}: {_describe(exc)} (recipe {recipe!r}; fix the template "
                           f"or the recipe's figures)") from None
    posts = []
    for chunk in _SEPARATOR.split(text):
        names = tuple(dict.fromkeys(_CHART_MARK.findall(chunk)))
        body = _CHART_MARK.sub("", chunk)
        body = "\n".join(line.rstrip() for line in body.splitlines())
        body = re.sub(r"\n{3,}", "\n\n", body).strip()
        body = re.sub(r"[ \t]{2,}", " ", body)
        if body or names:
            posts.append(Post(body, names))
    return posts


def _template_line(exc: BaseException, template: str) -> int | None:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith(template):
            return frame.lineno
    return None


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg.replace("'jinja2.runtime.Context object'", "the template")


def fit_posts(posts: list[Post], platform: str, *, recipe: str, split: bool,
              numbering: bool, limit: int | None = None) -> tuple[list[Post], list[str]]:
    """Check every post against the platform's limit; split or number as the recipe asks."""
    from bot.limits import measure_post, split_thread
    from bot.platforms import platform as find_platform

    max_images = find_platform(platform).max_images

    notes: list[str] = []
    out: list[Post] = []
    for i, post in enumerate(posts, start=1):
        if len(post.charts) > max_images:
            raise ComposeError(f"recipe {recipe!r}: post {i} attaches {len(post.charts)} "
                               f"charts; a post holds at most {max_images}")
        m = measure_post(post.text, platform, limit)
        if m.ok:
            out.append(post)
            continue
        if not split:
            raise LengthError(recipe, i, platform, m.length, m.limit, m.unit)
        pieces = split_thread([post.text], platform, numbering=False, limit=limit)
        notes.append(f"post {i} was split into {len(pieces)} posts to fit {platform} "
                     f"({m.length} {m.unit}, limit {m.limit})")
        out.append(Post(pieces[0], post.charts))
        out.extend(Post(p) for p in pieces[1:])
    if numbering and len(out) > 1:
        numbered = split_thread([p.text for p in out], platform, numbering=True, limit=limit)
        if len(numbered) != len(out):  # a counter pushed a post over: split again, renumbered
            notes.append(f"numbering made {platform} posts longer: re-split into "
                         f"{len(numbered)} posts")
            charts = [p.charts for p in out] + [()] * (len(numbered) - len(out))
            out = [Post(t, c) for t, c in zip(numbered, charts, strict=False)]
        else:
            out = [Post(t, p.charts) for t, p in zip(numbered, out, strict=True)]
    for i, post in enumerate(out, start=1):
        m = measure_post(post.text, platform, limit)
        if not m.ok:
            raise LengthError(recipe, i, platform, m.length, m.limit, m.unit)
    return out, notes


def compose_thread(env: Any, recipe: Any, context: dict[str, Any],
                   limits: dict[str, int] | None = None) -> Composed:
    """Render the recipe's template for each of its platforms and fit every post (against
    `limits`, platform -> length, where a server sets its own)."""
    chart_names = {c.name for c in recipe.charts}
    thread: dict[str, tuple[Post, ...]] = {}
    notes: list[str] = []
    for platform in recipe.platforms:
        posts = render_posts(env, recipe.template, {**context, "platform": platform},
                             chart_names, recipe.name)
        if not posts:
            raise ComposeError(f"recipe {recipe.name!r}: template {recipe.template} renders "
                               f"no posts for {platform}")
        fitted, n = fit_posts(posts, platform, recipe=recipe.name, split=recipe.split,
                              numbering=recipe.numbering, limit=(limits or {}).get(platform))
        thread[platform] = tuple(fitted)
        notes.extend(n)
    return Composed(thread, tuple(notes))


def render_title(env: Any, title: str, context: dict[str, Any], recipe: str) -> str:
    """Render a chart title (a Jinja2 string) with the thread's figures."""
    try:
        return " ".join(env.from_string(title).render(context).split())
    except Exception as exc:
        raise ComposeError(f"recipe {recipe!r}: chart title {title!r}: {_describe(exc)} "
                           f"(fix the title in the recipe's [[charts]])") from None


def as_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value
