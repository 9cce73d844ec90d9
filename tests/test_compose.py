from pathlib import Path

import pytest

from bot.compose import compose_thread, render_posts, template_environment
from bot.errors import ComposeError, LengthError
from bot.settings import ChartSpec, Recipe, SourceSpec
from bot.store import Post


def recipe(template="t.j2", **kw):
    base = dict(name="r", path=Path("posts/r.toml"), title="T", template=template,
                schedule="0 9 * * MON",
                source=SourceSpec("sample", "d", "date", "last_week"),
                charts=(ChartSpec("top", "bar", "b", "title"),))
    base.update(kw)
    return Recipe(**base)


def env_with(tmp_path: Path, text: str):
    (tmp_path / "t.j2").write_text(text, encoding="utf-8")
    return template_environment(tmp_path)


def test_separator_charts_and_platform(tmp_path):
    env = env_with(tmp_path, (
        "First post: {{ n | number }} requests.\n"
        "---\n"
        "{{ chart('top') }}Second{% if platform == 'x' %} on X{% endif %}.\n"
        "   ---   \n"
        "\n\n\nThird.\n"))
    out = compose_thread(env, recipe(), {"n": 1234})
    assert out.thread == {
        "bluesky": (Post("First post: 1,234 requests."), Post("Second.", ("top",)),
                    Post("Third.")),
        "x": (Post("First post: 1,234 requests."), Post("Second on X.", ("top",)),
              Post("Third.")),
    }
    assert out.notes == ()


def test_unknown_chart_names_the_recipe_and_its_charts(tmp_path):
    env = env_with(tmp_path, "Hi {{ chart('nope') }}")
    with pytest.raises(ComposeError) as exc:
        compose_thread(env, recipe(), {})
    assert str(exc.value) == ("recipe 'r': template t.j2 asks for chart 'nope', which the "
                              "recipe does not define (its charts: top)")


def test_undefined_name_gives_the_template_line(tmp_path):
    env = env_with(tmp_path, "Line one.\n---\nLine {{ totl.value }}.\n")
    with pytest.raises(ComposeError) as exc:
        compose_thread(env, recipe(), {"total": 1})
    assert str(exc.value) == ("template t.j2 line 3: 'totl' is undefined (recipe 'r'; fix the "
                              "template or the recipe's figures)")


def test_syntax_error_gives_the_template_line(tmp_path):
    env = env_with(tmp_path, "ok\n{% if x %}\nno end\n")
    with pytest.raises(ComposeError) as exc:
        compose_thread(env, recipe(), {"x": 1})
    assert str(exc.value).startswith("template t.j2 line 3: Unexpected end of template.")


def test_too_long_post_names_recipe_post_platform_and_length(tmp_path):
    env = env_with(tmp_path, "Short.\n---\n" + "word " * 60)
    with pytest.raises(LengthError) as exc:
        compose_thread(env, recipe(platforms=("x",)), {})
    assert str(exc.value) == ("recipe 'r': post 2 is too long for x: 299 weighted characters, "
                              "limit 280 (shorten the template, or set split = true in the "
                              "recipe)")


def test_bluesky_counts_graphemes(tmp_path):
    env = env_with(tmp_path, "é" * 301)
    with pytest.raises(LengthError) as exc:
        compose_thread(env, recipe(platforms=("bluesky",)), {})
    assert "post 1 is too long for bluesky: 301 graphemes, limit 300" in str(exc.value)


def test_mastodon_is_measured_against_the_instance_limit(tmp_path):
    link = "https://data.baltimorecity.gov/datasets/" + "a" * 100  # counts 23
    env = env_with(tmp_path, "x" * 470 + " " + link + "\n---\n" + "y" * 600)
    with pytest.raises(LengthError) as exc:  # offline: Mastodon's default 500
        compose_thread(env, recipe(platforms=("mastodon",)), {})
    assert str(exc.value) == ("recipe 'r': post 2 is too long for mastodon: 600 characters, "
                              "limit 500 (shorten the template, or set split = true in the "
                              "recipe)")
    out = compose_thread(env, recipe(platforms=("mastodon",)), {}, {"mastodon": 1000})
    assert [len(p.text) for p in out.thread["mastodon"]] == [611, 600]


def test_split_at_sentences_and_number(tmp_path):
    sentence = "This sentence has exactly eight words in it. "
    env = env_with(tmp_path, "Opening post.\n---\n" + sentence * 8)
    out = compose_thread(env, recipe(platforms=("x",), split=True, numbering=True), {})
    texts = [p.text for p in out.thread["x"]]
    assert len(texts) == 3
    assert texts[0] == "Opening post.\n\n1/3"
    assert texts[1].endswith("\n\n2/3") and texts[2].endswith("\n\n3/3")
    body = " ".join(t.rsplit("\n\n", 1)[0] for t in texts[1:])
    assert body == (sentence * 8).strip()
    assert out.notes == ("post 2 was split into 2 posts to fit x (359 weighted characters, "
                         "limit 280)",)


def test_more_than_four_charts_in_a_post(tmp_path):
    charts = tuple(ChartSpec(f"c{i}", "bar", "b", "t") for i in range(5))
    env = env_with(tmp_path, "".join(f"{{{{ chart('c{i}') }}}}" for i in range(5)) + "Five.")
    with pytest.raises(ComposeError, match="post 1 attaches 5 charts; a post holds at most 4"):
        compose_thread(env, recipe(charts=charts), {})


def test_render_posts_keeps_chart_only_post(tmp_path):
    env = env_with(tmp_path, "{{ chart('top') }}")
    assert render_posts(env, "t.j2", {}, {"top"}, "r") == [Post("", ("top",))]


@pytest.mark.parametrize("footer, expected", [
    (None, "Error: template baton_rouge_crime_monthly.j2 includes 'footer.j2', which is not "
           "in {templates} (create it or fix the include)\n"),
    (b"Donn\xe9es: {{ source.label }}\n",
     "Error: {templates}/footer.j2 is not UTF-8 at line 1, column 5: save it as UTF-8\n")])
def test_an_included_template_at_fault_is_the_one_named(project: Path, footer: bytes | None,
                                                         expected: str) -> None:
    """Not the recipe's own template, which is fine: the one it includes."""
    from click.testing import CliRunner

    from bot.cli import main

    templates = project / "templates"
    with (templates / "baton_rouge_crime_monthly.j2").open("a", encoding="utf-8") as fh:
        fh.write('{% include "footer.j2" %}\n')
    if footer is not None:
        (templates / "footer.j2").write_bytes(footer)
    result = CliRunner().invoke(main, ["preview", "baton_rouge_crime_monthly", "--config",
                                       str(project / "config.toml")])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == expected.format(templates=templates)
