"""`check` without rendering (bot/validation.py): the names a template and its chart titles
use, and the charts it asks for, against what the recipe defines."""

from __future__ import annotations

from pathlib import Path

from bot.config import load_config, load_recipes
from bot.validation import template_problems


def test_loops_sets_macros_globals_and_guarded_names_are_not_problems(project: Path) -> None:
    (project / "templates" / "baltimore_311_weekend.j2").write_text(
        "{% for x in top_types %}{{ loop.index }}. {{ x.label }}{% endfor %}\n"
        "{% set n = total.value %}{{ n | number }} {{ change(1, 2, period.versus) }}\n"
        "{% macro say(a) %}{{ a }}{% endmacro %}{{ say(recipe.noun) }} {{ range(2) | list }}\n"
        "{% if extra is defined %}{{ extra }}{% endif %}{{ chart(\"top_requests\") }}\n"
        "{% import \"parts.j2\" as parts %}{% from \"parts.j2\" import line as say_line %}"
        "{{ parts.intro() }} {{ say_line(source.label) }}\n")
    (project / "templates" / "parts.j2").write_text(
        "{% macro intro() %}Hi.{% endmacro %}{% macro line(a) %}{{ a }}{% endmacro %}\n")
    config = load_config(project / "config.toml")
    assert template_problems(config, load_recipes(config)) == []


def test_each_unknown_name_is_reported_once_at_its_first_line(project: Path) -> None:
    path = project / "templates" / "baltimore_311_weekend.j2"
    path.write_text("{{ totl.value }}\n{{ top_typess[0].label }} {{ totl.previous }}\n")
    config = load_config(project / "config.toml")
    recipe = project / "posts" / "baltimore_311_weekend.toml"
    assert [str(p) for p in template_problems(config, load_recipes(config))] == [
        f"{recipe}: template baltimore_311_weekend.j2 line 1: 'totl' is undefined (recipe "
        f"'baltimore_311_weekend'; fix the template or the recipe's figures)",
        f"{recipe}: template baltimore_311_weekend.j2 line 2: 'top_typess' is undefined "
        f"(recipe 'baltimore_311_weekend'; fix the template or the recipe's figures)"]
