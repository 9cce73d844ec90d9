"""Tests for bot/charts.py: exact alt text from fixed numbers, and PNGs that are 1600x900,
small enough for Bluesky, and byte-for-byte the same for the same input."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import canvas, charts
from bot.charts import Chart, format_number, render_chart, write_alt_text
from bot.errors import ChartError

REPO = Path(__file__).resolve().parents[1]
SOURCE = "Source: Open Baltimore, 311 Customer Service Requests, as of Oct. 21, 2019"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BAR = dict(
    kind="bar",
    points=[
        ("SW-Rat Rubout Proactive", 1412),
        ("potholes", 987),
        ("dirty streets", 812),
        ("bulk trash", 98),
    ],
    title="Rat extermination visits led 311 requests last weekend",
    unit="requests",
    period_label="last weekend (Oct. 31–Nov. 1)",
    source_line=SOURCE,
    long_labels=["rat extermination visits", "potholes", "dirty streets", "bulk trash"],
)
BAR_ALT = (
    "Bar chart. Rat extermination visits led 311 requests last weekend. Requests by category, "
    "last weekend (Oct. 31–Nov. 1): rat extermination visits, 1,412; potholes, 987; "
    "dirty streets, 812; and bulk trash, 98. Highest: rat extermination visits, 1,412. "
    "Lowest: bulk trash, 98. Total shown: 3,309 requests. Source: Open Baltimore, "
    "311 Customer Service Requests, as of Oct. 21, 2019."
)

COLUMN = dict(
    kind="column",
    points=[
        ("Nov", 3120),
        ("Dec", 2870),
        ("Jan", 2650),
        ("Feb", 2990),
        ("Mar", 3410),
        ("Apr", 3890),
    ],
    title="311 requests rose 25% since November",
    unit="requests",
    period_label="November 2024 to April 2025",
    source_line=SOURCE,
    long_labels=[
        "November 2024",
        "December 2024",
        "January 2025",
        "February 2025",
        "March 2025",
        "April 2025",
    ],
)
COLUMN_ALT = (
    "Column chart. 311 requests rose 25% since November. Requests per period, November 2024 "
    "to April 2025: November 2024, 3,120; December 2024, 2,870; January 2025, 2,650; "
    "February 2025, 2,990; March 2025, 3,410; and April 2025, 3,890. Highest: April 2025, "
    "3,890. Lowest: January 2025, 2,650. Trend: up 25% from November 2024 to April 2025. "
    "Source: Open Baltimore, 311 Customer Service Requests, as of Oct. 21, 2019."
)

LINE = dict(
    kind="line",
    points=[("W1", 400), ("W2", 410), ("W3", 380), ("W4", 300)],
    title="Requests fell by a quarter.",  # ends with a full stop: no doubled ".."
    unit="requests",
    period_label="the last four weeks",
    source_line="Source: City data.",
    long_labels=None,
)
LINE_ALT = (
    "Line chart. Requests fell by a quarter. Requests per period, W1 to W4: W1, 400; W2, 410; "
    "W3, 380; and W4, 300. Highest: W2, 410. Lowest: W4, 300. Trend: down 25% from W1 to W4. "
    "Source: City data."
)


def alt_for(case: dict) -> str:
    return write_alt_text(
        case["kind"],
        case["points"],
        title=case["title"],
        unit=case["unit"],
        period_label=case["period_label"],
        source_line=case["source_line"],
        long_labels=case["long_labels"],
    )


def render(case: dict, name: str = "chart") -> Chart:
    return render_chart(
        name,
        case["kind"],
        case["points"],
        title=case["title"],
        unit=case["unit"],
        source_line=case["source_line"],
        period_label=case["period_label"],
        long_labels=case["long_labels"],
    )


def png_size(png: bytes) -> tuple[int, int]:
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


# ------------------------------------------------------------------------------- alt text


@pytest.mark.parametrize(
    ("case", "expected"),
    [(BAR, BAR_ALT), (COLUMN, COLUMN_ALT), (LINE, LINE_ALT)],
    ids=["bar", "column", "line"],
)
def test_alt_text_is_exact_for_each_kind(case: dict, expected: str) -> None:
    assert alt_for(case) == expected


def test_alt_text_names_the_first_of_tied_points() -> None:
    alt = write_alt_text(
        "bar",
        [("a", 5), ("b", 5), ("c", 1), ("d", 1)],
        title="Ties",
        unit="calls",
        period_label="",
        source_line="Source: S",
    )
    assert alt == (
        "Bar chart. Ties. Calls by category: a, 5; b, 5; c, 1; and d, 1. "
        "Highest: a, 5. Lowest: c, 1. Total shown: 12 calls. Source: S."
    )


def test_alt_text_for_two_points_joins_with_and() -> None:
    alt = write_alt_text(
        "bar",
        [("North", 12.5), ("South", 2)],
        title="North led",
        unit="EMS calls",
        period_label="last week",
        source_line="Source: S",
    )
    assert alt == (
        "Bar chart. North led. EMS calls by category, last week: North, 12.5 and "
        "South, 2. Highest: North, 12.5. Lowest: South, 2. Total shown: 14.5 EMS "
        "calls. Source: S."
    )


def test_alt_text_for_a_single_point_skips_highest_lowest_and_trend() -> None:
    bar = write_alt_text(
        "bar",
        [("potholes", 12)],
        title="Potholes",
        unit="requests",
        period_label="last week",
        source_line="Source: S",
    )
    column = write_alt_text(
        "column",
        [("Oct", 4650)],
        title="October",
        unit="requests",
        period_label="October 2025",
        source_line="Source: S",
        long_labels=["October 2025"],
    )
    assert bar == (
        "Bar chart. Potholes. Requests by category, last week: potholes, 12. "
        "Total shown: 12 requests. Source: S."
    )
    assert column == ("Column chart. October. Requests per period: October 2025, 4,650. Source: S.")


@pytest.mark.parametrize(
    ("first", "last", "trend"),
    [
        (200, 205, "Trend: up 3% from A to B."),  # 2.5% rounds half away from zero
        (200, 195, "Trend: down 3% from A to B."),  # -2.5% likewise
        (8, 7, "Trend: down 13% from A to B."),  # -12.5%
        (200, 196, "Trend: down 2% from A to B."),  # exactly 2% is a change
        (200, 203, "Trend: about the same from A to B."),  # 1.5%
        (1000, 1005, "Trend: about the same from A to B."),
        (0, 0, "Trend: about the same from A to B."),
        (0, 5, "Trend: from 0 in A to 5 in B."),
        (100, 1350, "Trend: up 1,250% from A to B."),
    ],
)
def test_trend_sentence(first: float, last: float, trend: str) -> None:
    alt = write_alt_text(
        "line",
        [("A", first), ("B", last)],
        title="T",
        unit="requests",
        period_label="",
        source_line="Source: S",
    )
    assert alt.endswith(f" {trend} Source: S.")


def test_alt_text_names_a_blank_label() -> None:
    alt = write_alt_text(
        "bar",
        [(" ", 3), ("b", 1)],
        title="T",
        unit="requests",
        period_label="",
        source_line="Source: S",
    )
    assert alt == (
        "Bar chart. T. Requests by category: (blank), 3 and b, 1. Highest: (blank), "
        "3. Lowest: b, 1. Total shown: 4 requests. Source: S."
    )


def test_alt_text_cleans_whitespace_and_keeps_other_end_punctuation() -> None:
    alt = write_alt_text(
        "bar",
        [("pot\nholes", 3)],
        title="  Why so many?  ",
        unit="requests",
        period_label="",
        source_line="Source:\tS!",
    )
    assert alt == (
        "Bar chart. Why so many? Requests by category: pot holes, 3. "
        "Total shown: 3 requests. Source: S!"
    )


def test_alt_text_with_200_long_categories_lists_whole_items_within_1000_chars() -> None:
    names = [f"category {i:03d} with a fairly long descriptive name" for i in range(200)]
    points = [(name, 10_000 - i) for i, name in enumerate(names)]
    alt = write_alt_text(
        "bar",
        points,
        title="Two hundred categories",
        unit="requests",
        period_label="last week",
        source_line="Source: S",
    )
    assert 0 < len(alt) <= 1000
    match = re.fullmatch(
        r"Bar chart\. Two hundred categories\. Requests by category, last week: (.*); "
        r"and (\d+) more\. Highest: category 000 with a fairly long descriptive name, 10,000\. "
        r"Lowest: category 199 with a fairly long descriptive name, 9,801\. "
        r"Total shown: 1,980,100 requests\. Source: S\.",
        alt,
    )
    assert match, alt
    listed = match.group(1).split("; ")
    assert listed == [f"{names[i]}, {10_000 - i:,}" for i in range(len(listed))]
    assert len(listed) >= 5
    assert len(listed) + int(match.group(2)) == 200


def test_alt_text_with_a_huge_title_is_cut_at_a_word() -> None:
    alt = write_alt_text(
        "bar",
        [("a", 1), ("b", 2)],
        title="rats " * 400,
        unit="requests",
        period_label="",
        source_line="Source: S",
    )
    assert len(alt) <= 1000
    assert alt.startswith("Bar chart. rats rats ")
    assert alt.endswith("rats…")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12345, "12,345"),
        (1234.56, "1,234.6"),
        (2.5, "2.5"),
        (-0.0, "0"),
        (1e6, "1,000,000"),
        (-4, "-4"),
        (2.96, "3"),
        (0.04, "0"),
        (-1234.25, "-1,234.2"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


# ------------------------------------------------------------------------------- errors


def test_empty_points_raise_chart_error() -> None:
    message = (
        "chart 'top_requests' has no data to draw (the figures for this period are "
        "empty; check the recipe's source filters and period)"
    )
    with pytest.raises(ChartError) as raised:
        render_chart(
            "top_requests",
            "bar",
            [],
            title="T",
            unit="requests",
            source_line=SOURCE,
            period_label="last week",
        )
    assert str(raised.value) == message
    with pytest.raises(ChartError) as raised:
        write_alt_text(
            "bar",
            [],
            title="T",
            unit="requests",
            period_label="",
            source_line="S",
            name="top_requests",
        )
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("kind", "points", "long_labels", "message"),
    [
        ("pie", [("a", 1)], None, "chart 'c': unknown kind 'pie' (use one of: bar, column, line)"),
        (
            "bar",
            [("a", float("nan"))],
            None,
            "chart 'c': point 'a' has no finite value (nan); drop or fill it before charting",
        ),
        (
            "bar",
            [("a", "many")],
            None,
            "chart 'c': point 1 (('a', 'many')) is not a (label, number) pair (check the figures "
            "that feed this chart)",
        ),
        (
            "column",
            [("a", 1), ("b", 2)],
            ["A"],
            "chart 'c': 1 long labels for 2 points (pass one long label per point, or none)",
        ),
    ],
)
def test_bad_input_raises_one_line_chart_error(
    kind: str, points: list, long_labels: list | None, message: str
) -> None:
    with pytest.raises(ChartError) as raised:
        render_chart(
            "c",
            kind,
            points,
            title="T",
            unit="requests",
            source_line="S",
            period_label="",
            long_labels=long_labels,
        )
    assert str(raised.value) == message


def test_png_over_the_byte_limit_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "MAX_PNG_BYTES", 1000)
    with pytest.raises(
        ChartError,
        match=r"^chart 'big': the PNG is [\d,]+ bytes, over the "
        r"1,000-byte limit \(show fewer categories or "
        r"periods\)$",
    ):
        render(BAR, name="big")


# ------------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("case", "expected"),
    [(BAR, BAR_ALT), (COLUMN, COLUMN_ALT), (LINE, LINE_ALT)],
    ids=["bar", "column", "line"],
)
def test_render_chart_gives_a_1600x900_png_under_a_megabyte(case: dict, expected: str) -> None:
    chart = render(case, name="top_requests")
    assert chart.png.startswith(PNG_SIGNATURE)
    assert png_size(chart.png) == (1600, 900)
    assert (chart.width, chart.height) == (1600, 900)
    assert 10_000 < len(chart.png) <= 1_000_000
    assert (chart.name, chart.kind, chart.title) == ("top_requests", case["kind"], case["title"])
    assert chart.alt == expected


def test_same_input_gives_identical_bytes() -> None:
    assert render(COLUMN).png == render(COLUMN).png


def test_renders_in_threads_match_a_serial_render() -> None:
    serial = [render(BAR).png, render(LINE).png]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda case: render(case).png, [BAR, LINE]))
    assert threaded == serial


UNSAFE = [
    "$100 & up",
    "<script>alert(1)</script>",
    r"$\undefinedcommand{$ and $x$",
    "🐀 rats\tand\nmice",
    "",
    "x" * 5000,
    "Supercalifragilisticexpialidociouslylongword",
]


@pytest.mark.parametrize("kind", ["bar", "column", "line"])
def test_labels_from_data_are_drawn_as_plain_text(kind: str) -> None:
    # r"$\undefinedcommand{$" would make mathtext raise if any text were parsed as math;
    # the emoji has no glyph in DejaVu Sans and would warn (an error under strict pytest).
    points = [(label, 10 * (i + 1)) for i, label in enumerate(UNSAFE)]
    chart = render_chart(
        "unsafe",
        kind,
        points,
        title=r"$\undefinedcommand{$ <b>title</b>",
        unit="requests",
        source_line=r"Source: $\undefinedcommand{$",
        period_label="$5 & up",
    )
    assert png_size(chart.png) == (1600, 900)
    assert "$100 & up, 10" in chart.alt
    assert "<script>alert(1)</script>, 20" in chart.alt


def test_many_categories_still_render() -> None:
    points = [(f"category {i}", 300 - i) for i in range(40)]
    chart = render_chart(
        "many",
        "bar",
        points,
        title="Forty categories",
        unit="requests",
        source_line=SOURCE,
        period_label="last week",
    )
    assert png_size(chart.png) == (1600, 900)


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = (
        "import bot.charts, sys; assert 'matplotlib' not in sys.modules; "
        "assert 'pandas' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


# ------------------------------------------------------------- today's pixels, quicker

BENCH_BAR = dict(  # bench/charts.py's chart: ten ranked categories
    kind="bar",
    points=[("rat extermination visits", 1412), ("SW-Rat Rubout Proactive", 1210),
            ("potholes", 987), ("dirty streets and alleys", 812), ("bulk trash pickup", 640),
            ("street light out", 512), ("water leak", 430), ("abandoned vehicle", 301),
            ("graffiti removal", 205), ("tree pruning", 98)],
    title="Rat extermination visits led 311 requests last weekend",
    unit="requests",
    period_label="last weekend (Oct. 31–Nov. 1)",
    source_line=SOURCE,
    long_labels=None,
)


def _pixels(png: bytes) -> tuple[str, tuple[int, int], bytes]:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png))
    return image.mode, image.size, image.convert("RGB").tobytes()


def _alpha_range(png: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).getchannel("A").getextrema()  # type: ignore[return-value]


def _as_before(case: dict) -> bytes:
    """The chart as the code drew it before the figure was kept per thread and the PNG
    written by hand: a fresh page, then savefig (Pillow's RGBA encoder)."""
    import io

    labels, values = charts._check_points("c", case["kind"], case["points"], None)
    fig = charts._draw_chart(
        case["kind"], labels, values, title=case["title"],
        subtitle=charts._join_nonempty([charts._capitalise(charts._plain(case["unit"])),
                                        charts._plain(case["period_label"])]),
        source_line=case["source_line"], page=canvas.Page())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=charts.DPI, facecolor="white",
                metadata={"Software": None})
    return buf.getvalue()


@pytest.mark.parametrize("case", [BENCH_BAR, BAR, COLUMN, LINE],
                         ids=["bench-bar", "bar", "column", "line"])
def test_the_kept_figure_draws_every_pixel_as_a_fresh_one_did(case: dict) -> None:
    """Drawn on the thread's kept page after other charts (its caches warm), written by the
    hand-made encoder: the same 1600x900 pixels as a fresh figure saved by savefig."""
    for other in (LINE, BAR, COLUMN):  # leave state behind on the kept page, if any could be
        render(other)
    chart = render(case)
    before = _as_before(case)
    mode, size, pixels = _pixels(before)
    assert (mode, size) == ("RGBA", (1600, 900))
    import io

    from PIL import Image
    assert Image.open(io.BytesIO(before)).getchannel("A").getextrema() == (255, 255)  # opaque
    assert _pixels(chart.png) == ("RGB", (1600, 900), pixels)


def test_the_bench_chart_stays_under_150_kb() -> None:
    chart = render(BENCH_BAR)
    assert png_size(chart.png) == (1600, 900) and len(chart.png) <= 150_000
