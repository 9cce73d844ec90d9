"""Check templates and chart titles without rendering them: what `citycrier check` does
(and the warnings it gives for account credentials that are not set).

Each template is read (UTF-8) and parsed once, however many recipes use it. For each recipe,
every name its template and chart titles use must be one a template sees for that recipe
(its breakdowns and series by name, `total`, `period`, ...), and every `chart("NAME")` must
name one of the recipe's charts, and every template a template includes, imports or extends
must be in the folder. Rendering on the data (`check --render`) finds what needs
the figures themselves: a column the dataset lacks, a post too long.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from bot.config import read_utf8
from bot.errors import Problem
from bot.settings import Config, Recipe

# what every thread template sees, besides the recipe's own breakdowns and series
CONTEXT_NAMES = frozenset({"recipe", "period", "as_of", "total", "breakdowns", "series",
                           "goal", "source", "platform", "chart"})
_JINJA_NAMES = ("loop", "self", "super", "caller", "varargs", "kwargs")  # Jinja2's own


def template_problems(config: Config, recipes: Mapping[str, Recipe]) -> list[Problem]:
    """Every problem in the templates folder and in how each recipe uses its template."""
    import jinja2

    from bot.compose import template_environment

    env = template_environment(config.templates_dir)
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}  # template file name -> its AST, or None when broken
    for path in sorted(config.templates_dir.glob("*.j2")):
        parsed[path.name] = _parse(env, path, problems)
    for name, tree in parsed.items():
        for line, wanted in _included(tree):
            if not (config.templates_dir / wanted).is_file():
                problems.append(Problem(str(config.templates_dir / name), f"line {line}",
                                        f"includes {wanted!r}, which is not in "
                                        f"{config.templates_dir}",
                                        "create it or fix the include"))
    for recipe in recipes.values():
        tree = parsed.get(recipe.template)
        if tree is None:
            continue  # missing (reported by the recipe loader) or broken (reported above)
        known = CONTEXT_NAMES | set(env.globals) | {b.name for b in recipe.breakdowns} | \
            {s.name for s in recipe.series}
        for name, line in _unknown_names(tree, known):
            problems.append(Problem(str(recipe.path), "", (
                f"template {recipe.template} line {line}: {name!r} is undefined (recipe "
                f"{recipe.name!r}; fix the template or the recipe's figures)")))
        charts = {c.name for c in recipe.charts}
        for name, line in _chart_calls(tree):
            if name not in charts:
                close = difflib.get_close_matches(name, sorted(charts), n=1)
                problems.append(Problem(str(recipe.path), "", (
                    f"template {recipe.template} line {line} asks for chart {name!r}, which "
                    f"the recipe does not define"), f"did you mean {close[0]!r}?" if close
                    else "add it to the recipe's [[charts]], or remove the call"))
        for i, spec in enumerate(recipe.charts):
            try:
                title = env.parse(spec.title)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(Problem(str(recipe.path), f"charts[{i}].title",
                                        exc.message or str(exc), "fix the title's syntax"))
                continue
            for name, _line in _unknown_names(title, known):
                problems.append(Problem(str(recipe.path), f"charts[{i}].title",
                                        f"{name!r} is undefined",
                                        "use a breakdown, series or figure of this recipe"))
    return problems


def unset_credentials(config: Config, environ: Mapping[str, str]) -> list[Problem]:
    """Warnings: each account credential whose environment variable is not set."""
    out = []
    for account in config.accounts.values():
        for f in fields(account):
            variable = getattr(account, f.name)
            if f.name.endswith("_env") and variable and not environ.get(variable):
                out.append(Problem(str(config.path), f"accounts.{account.name}.{f.name}",
                                   f"{variable} is not set",
                                   "set it in the environment or .env before this account "
                                   "posts"))
    return out


def platforms_without_account(config: Config, recipes: Mapping[str, Recipe]) -> list[Problem]:
    """Warnings: each platform that recipes list but no account posts to, when some account
    is configured (with none at all, every thread goes to the outbox instead), one line per
    platform naming the recipes. Publishing skips those platforms' threads."""
    from bot.platforms import label

    if not config.accounts:
        return []
    posted = {a.platform for a in config.accounts.values()}
    listing: dict[str, list[str]] = {}
    for name, recipe in sorted(recipes.items()):
        for platform in recipe.platforms:
            if platform not in posted:
                listing.setdefault(platform, []).append(name)
    return [Problem(str(config.path), "accounts",
                    f"no {platform} account, so the {label(platform)} thread of "
                    f"{', '.join(names)} is skipped when publishing",
                    f'add an [accounts.NAME] table with platform = "{platform}", or remove '
                    f'"{platform}" from those recipes\' platforms')
            for platform, names in listing.items()]


def digest_without_channel(config: Config) -> list[Problem]:
    """A warning when ``[engagement] digest = "weekly"`` has no ``[notify]`` channel to go
    to (each week's digest would only be recorded as not sent)."""
    n = config.notify
    if config.engagement.digest != "weekly" or n.webhook_url_env or (n.smtp_host and n.smtp_to):
        return []
    return [Problem(str(config.path), "engagement.digest",
                    'is "weekly", but [notify] has no channel, so no digest can be sent',
                    "set [notify] webhook_url_env, or smtp_host and smtp_to; or digest = \"\"")]


def _parse(env: Any, path: Path, problems: list[Problem]) -> Any:
    import jinja2

    text = read_utf8(path)
    if isinstance(text, Problem):
        problems.append(text)
        return None
    try:
        return env.parse(text, name=path.name, filename=str(path))
    except jinja2.TemplateSyntaxError as exc:
        problems.append(Problem(str(path), f"line {exc.lineno}", exc.message or str(exc),
                                "fix the template syntax"))
        return None


def _unknown_names(tree: Any, known: set[str] | frozenset[str]) -> list[tuple[str, int]]:
    """Names the template reads but neither sets anywhere nor gets: (name, first line).

    One walk over the tree (Jinja2's `meta.find_undeclared_variables` compiles the template
    and took most of `check`'s time): a name set anywhere (`set`, `for`, a macro and its
    parameters, an import) counts as set everywhere, so scoping never causes a false alarm.
    A name the template asks `is defined` about is its own business."""
    from jinja2 import nodes

    loaded: dict[str, int] = {}
    declared = set(_JINJA_NAMES)
    kinds = (nodes.Name, nodes.Test, nodes.Macro, nodes.Import, nodes.FromImport)
    for node in tree.find_all(kinds):
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                loaded.setdefault(node.name, node.lineno)
            else:  # store, param
                declared.add(node.name)
        elif isinstance(node, nodes.Test):
            if node.name in ("defined", "undefined") and isinstance(node.node, nodes.Name):
                declared.add(node.node.name)
        elif isinstance(node, nodes.Macro):
            declared.add(node.name)
        elif isinstance(node, nodes.Import):
            declared.add(node.target)
        else:
            declared.update(n if isinstance(n, str) else n[1] for n in node.names)
    unknown = [(name, line) for name, line in loaded.items()
               if name not in declared and name not in known]
    return sorted(unknown, key=lambda item: (item[1], item[0]))


def _included(tree: Any) -> list[tuple[int, str]]:
    """(line, name) of each template a tree includes, imports or extends by a fixed name."""
    if tree is None:
        return []
    from jinja2 import nodes

    return [(node.lineno, node.template.value)
            for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport,
                                       nodes.Extends))
            if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str)]


def _chart_calls(tree: Any) -> list[tuple[str, int]]:
    """`chart("NAME")` calls with a literal name: (name, line)."""
    from jinja2 import nodes

    out = []
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "chart" and call.args and \
                isinstance(call.args[0], nodes.Const) and isinstance(call.args[0].value, str):
            out.append((call.args[0].value, call.lineno))
    return out
