"""Charts for a thread: a 1600x900 PNG per chart, and alt text written from the same numbers.

Three kinds share one house style (Okabe-Ito colours, large type, a title that states the
finding, a source line at the bottom left):

- ``bar``: ranked categories as horizontal bars, largest at the top;
- ``column``: one column per period, the last one highlighted;
- ``line``: a time series with a marker at each point and the last point labelled.

matplotlib is imported inside the functions that draw, so ``import bot.charts`` stays cheap
for the CLI. Drawing uses the object API on an Agg canvas (no pyplot, no global state): the
page, one per thread, kept and cleared for each chart, is bot/canvas.py; bot/png.py writes
it as a PNG. The same input always gives the same PNG bytes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.alttext import (  # noqa: F401  (format_number and write_alt_text are public here too)
    BLANK,
    KINDS,
    MAX_ALT_CHARS,
    MAX_LABEL_CHARS,
    _capitalise,
    _check_points,
    _join_nonempty,
    _plain,
    format_number,
    write_alt_text,
)
from bot.canvas import DPI, FONT, HEIGHT, WIDTH, Page, kept_page
from bot.errors import ChartError
from bot.png import figure_png, png_size

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

MAX_PNG_BYTES = 1_000_000

# Okabe-Ito, colour-blind safe; PRIMARY for data, HIGHLIGHT for the point the post is about.
PRIMARY, HIGHLIGHT = "#0072B2", "#E69F00"
PALETTE = (PRIMARY, HIGHLIGHT, "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
INK, MUTED, FAINT, GRID, BASELINE = "#1A1A1A", "#4D4D4D", "#6E6E6E", "#DADADA", "#8C8C8C"
# Sizes in points; at 100 dpi a point is 100/72 px, so 34 pt is 47 px and 20 pt is 28 px.
TITLE_PT, SUBTITLE_PT, LABEL_PT, TICK_PT, SOURCE_PT = 34, 22, 22, 20, 16
MARGIN = 60  # px, left and right
LABEL_BOX = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"}


@dataclass(frozen=True)
class Chart:
    """One drawn chart, ready to attach to a post."""

    name: str
    kind: str
    title: str
    png: bytes
    alt: str
    width: int
    height: int


def render_chart(
    name: str,
    kind: str,
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str,
    source_line: str,
    period_label: str,
    long_labels: Sequence[str] | None = None,
) -> Chart:
    """Draw one chart as a 1600x900 PNG and write its alt text from the same numbers.

    ``points`` are (short label, value) in display order: ranked for ``bar``, chronological
    for ``column`` and ``line``. ``long_labels`` name the points in full for the alt text.
    Raises ChartError when there is nothing to draw or the PNG is over 1,000,000 bytes.
    """
    started = time.perf_counter()
    alt = write_alt_text(
        kind,
        points,
        title=title,
        unit=unit,
        period_label=period_label,
        source_line=source_line,
        long_labels=long_labels,
        name=name,
    )
    labels, values = _check_points(name, kind, points, long_labels)
    fig = _draw_chart(
        kind,
        labels,
        values,
        title=title,
        subtitle=_join_nonempty([_capitalise(_plain(unit)), _plain(period_label)]),
        source_line=source_line,
    )
    png = _encode_png(fig, name)
    width, height = _png_size(png, name)
    log.debug(
        "chart %s (%s): %d bytes in %.0f ms",
        name,
        kind,
        len(png),
        (time.perf_counter() - started) * 1000,
    )
    return Chart(name=name, kind=kind, title=title, png=png, alt=alt, width=width, height=height)



# ---------------------------------------------------------------------------- drawing


def _draw_chart(
    kind: str,
    labels: list[str],
    values: list[float],
    *,
    title: str,
    subtitle: str,
    source_line: str,
    page: Page | None = None,
) -> Figure:
    page = page or kept_page()
    # Header: title (up to two lines), then a grey subtitle with the unit and period.
    usable = WIDTH - 2 * MARGIN
    title_text = page.fit(_plain(title), TITLE_PT, usable, 2, bold=True)
    title_top = HEIGHT - 44
    page.text(
        MARGIN, title_top, title_text, TITLE_PT, weight="bold", color=INK, va="top", linespacing=1.1
    )
    header_bottom = title_top - _px(TITLE_PT) * 1.25 * (title_text.count("\n") + 1)
    if subtitle:
        page.text(
            MARGIN,
            header_bottom - 6,
            page.fit(subtitle, SUBTITLE_PT, usable, 1),
            SUBTITLE_PT,
            color=MUTED,
            va="top",
        )
        header_bottom -= 6 + _px(SUBTITLE_PT) * 1.25
    # Footer: the source line, small and grey, at the bottom left.
    source_text = page.fit(_plain(source_line), SOURCE_PT, usable, 2)
    page.text(MARGIN, 24, source_text, SOURCE_PT, color=FAINT, va="bottom")
    footer_top = 24 + _px(SOURCE_PT) * 1.25 * (source_text.count("\n") + 1)

    box = (header_bottom - 44, footer_top + 34)  # plot top and bottom, px from the bottom
    if kind == "bar":
        _draw_bars(page, labels, values, box)
    else:
        _draw_series(page, kind, labels, values, box)
    return page.fig


def _draw_bars(
    page: Page, labels: list[str], values: list[float], box: tuple[float, float]
) -> None:
    n = len(values)
    top, bottom = box[0], box[1] + _px(TICK_PT) + 14  # room for the value axis ticks
    per_bar = (top - bottom) / n
    pt = LABEL_PT if per_bar >= _px(LABEL_PT) * 1.25 else max(6.0, per_bar / 1.35 * 72 / DPI)
    lines = 2 if per_bar >= _px(pt) * 2.6 else 1
    shown = [page.fit(label, pt, WIDTH * 0.3, lines) for label in labels]
    left = MARGIN + max(page.width(s, pt) for s in shown) + 16
    right = WIDTH - MARGIN
    ax = page.fig.add_axes(
        (left / WIDTH, bottom / HEIGHT, (right - left) / WIDTH, (top - bottom) / HEIGHT)
    )
    _style_axes(ax, value_axis="x", values=values)
    numbers = [format_number(v) for v in values]
    room = max(page.width(s, pt) for s in numbers) + 14
    lo, hi = _value_limits(values, room, right - left)
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.5, -0.5)  # largest (first) at the top
    ax.barh(range(n), values, height=0.66, color=PRIMARY, zorder=2)
    ax.set_yticks(
        range(n), labels=[_escape_math(s) for s in shown], fontsize=pt, fontfamily=FONT, color=INK
    )
    _set_value_ticks(ax.xaxis, lo, hi, values)
    for i, (value, number) in enumerate(zip(values, numbers, strict=True)):
        ax.annotate(
            number,
            (value, i),
            xytext=(8 if value >= 0 else -8, 0),
            textcoords="offset pixels",
            ha="left" if value >= 0 else "right",
            va="center",
            fontsize=pt,
            fontfamily=FONT,
            color=INK,
            parse_math=False,
            usetex=False,
            annotation_clip=False,
            bbox=LABEL_BOX,
        )


def _draw_series(
    page: Page, kind: str, labels: list[str], values: list[float], box: tuple[float, float]
) -> None:
    n = len(values)
    top, bottom = box[0], box[1] + _px(LABEL_PT) + 14  # room for the period labels
    numbers = [format_number(v) for v in values]
    label_h = _px(LABEL_PT) + 12
    lo, hi = _value_limits(values, label_h, top - bottom)
    ticks = _value_ticks(lo, hi, values)
    left = MARGIN + max(page.width(format_number(t), TICK_PT) for t in ticks) + 16
    right = WIDTH - MARGIN
    # The last value's label is centred over its point: widen the frame so it stays inside.
    half = page.width(numbers[-1], LABEL_PT, bold=True) / 2 + 8
    extra = max(0.0, half * n / (right - left) - 0.5)
    per_period = (right - left) / (n + extra)
    ax = page.fig.add_axes(
        (left / WIDTH, bottom / HEIGHT, (right - left) / WIDTH, (top - bottom) / HEIGHT)
    )
    _style_axes(ax, value_axis="y", values=values)
    ax.set_xlim(-0.5, n - 0.5 + extra)
    ax.set_ylim(lo, hi)
    _set_value_ticks(ax.yaxis, lo, hi, values)
    # Period labels: one line each; show every k-th, counting back from the last, if crowded.
    shown = [page.fit(label, LABEL_PT, max(per_period - 16, 90), 1) for label in labels]
    step = max(1, math.ceil((max(page.width(s, LABEL_PT) for s in shown) + 16) / per_period))
    at = [i for i in range(n) if (n - 1 - i) % step == 0]
    ax.set_xticks(
        at,
        labels=[_escape_math(shown[i]) for i in at],
        fontsize=LABEL_PT,
        fontfamily=FONT,
        color=INK,
    )
    text_kw: dict[str, Any] = dict(
        textcoords="offset pixels",
        ha="center",
        fontfamily=FONT,
        color=INK,
        parse_math=False,
        usetex=False,
        annotation_clip=False,
    )
    if kind == "column":
        colors = [PRIMARY] * (n - 1) + [HIGHLIGHT]
        ax.bar(range(n), values, width=0.66, color=colors, zorder=2)
        every = max(page.width(s, LABEL_PT) for s in numbers) + 6 <= per_period
        for i in range(n) if every else [n - 1]:
            up = values[i] >= 0
            ax.annotate(
                numbers[i],
                (i, values[i]),
                xytext=(0, 8 if up else -8),
                va="bottom" if up else "top",
                fontsize=LABEL_PT,
                weight="bold" if i == n - 1 else "normal",
                bbox=LABEL_BOX,
                **text_kw,
            )
    else:
        ax.plot(
            range(n),
            values,
            color=PRIMARY,
            linewidth=4,
            marker="o",
            markersize=11,
            markeredgecolor="white",
            markeredgewidth=2,
            zorder=3,
            clip_on=False,
        )
        ax.plot(
            [n - 1],
            [values[-1]],
            linestyle="none",
            marker="o",
            markersize=16,
            color=HIGHLIGHT,
            markeredgecolor="white",
            markeredgewidth=2,
            zorder=4,
            clip_on=False,
        )
        up = values[-1] >= 0
        ax.annotate(
            numbers[-1],
            (n - 1, values[-1]),
            xytext=(0, 16 if up else -16),
            va="bottom" if up else "top",
            fontsize=LABEL_PT,
            weight="bold",
            **text_kw,
        )


def _style_axes(ax: Axes, value_axis: str, values: list[float]) -> None:
    """No top/right spines; a light grid on the value axis only; a baseline at zero."""
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom" if value_axis == "x" else "left"].set_visible(False)
    baseline = ax.spines["left" if value_axis == "x" else "bottom"]
    if min(values) < 0:  # the axis edge is not zero: draw zero as a line across the plot
        baseline.set_visible(False)
        line = ax.axvline if value_axis == "x" else ax.axhline
        line(0, color=BASELINE, linewidth=1.2, zorder=2.5)
    baseline.set_color(BASELINE)
    (ax.xaxis if value_axis == "x" else ax.yaxis).grid(True, color=GRID, linewidth=1.2)
    (ax.yaxis if value_axis == "x" else ax.xaxis).grid(False)
    ax.set_axisbelow(True)
    ax.tick_params(
        axis="both", length=0, pad=10, labelsize=TICK_PT, labelcolor=MUTED, labelfontfamily=FONT
    )


def _value_limits(values: list[float], room_px: float, axis_px: float) -> tuple[float, float]:
    """Axis limits from zero (or below) to the data, plus room for a value label at each end."""
    vmin, vmax = min(0.0, min(values)), max(0.0, max(values))
    high_px = room_px if max(values) >= 0 else 0.0
    low_px = room_px if min(values) < 0 else 0.0
    span = (vmax - vmin) or 1.0
    span /= 1 - min(0.6, (high_px + low_px) / axis_px)
    return vmin - low_px * span / axis_px, vmax + high_px * span / axis_px


def _value_ticks(lo: float, hi: float, values: list[float]) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    integral = all(v == round(v) for v in values)
    locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=integral)
    return [float(t) for t in locator.tick_values(lo, hi) if lo - 1e-9 <= t <= hi + 1e-9]


def _set_value_ticks(axis: Any, lo: float, hi: float, values: list[float]) -> None:
    ticks = _value_ticks(lo, hi, values)
    axis.set_ticks(ticks, labels=[format_number(t) for t in ticks])


def _escape_math(text: str) -> str:
    r"""Tick labels go through mathtext parsing: escape "$" so "$5 & up" stays literal."""
    return text.replace("$", r"\$")


def _px(pt: float) -> float:
    return pt * DPI / 72


def _encode_png(fig: Figure, name: str) -> bytes:
    png = figure_png(fig)  # bot/png.py: savefig's pixels, written four times quicker
    if len(png) > MAX_PNG_BYTES:
        raise ChartError(
            f"chart {name!r}: the PNG is {len(png):,} bytes, over the "
            f"{MAX_PNG_BYTES:,}-byte limit (show fewer categories or periods)"
        )
    return png


def _png_size(png: bytes, name: str) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk; the chart must be 1600x900."""
    size = png_size(png)
    if size is None:
        raise ChartError(f"chart {name!r}: the renderer did not produce a PNG (report this bug)")
    if size != (WIDTH, HEIGHT):
        raise ChartError(
            f"chart {name!r}: the PNG is {size[0]}x{size[1]}, not {WIDTH}x{HEIGHT} (report this "
            f"bug)"
        )
    return size
