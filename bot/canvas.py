"""The page a chart is drawn on: a 1600x900 matplotlib figure on an Agg canvas, with text
measured in pixels before it is placed, set up once per thread and cleared for each chart.

matplotlib is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bot.alttext import MAX_LABEL_CHARS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 1600, 900, 100
FONT = "DejaVu Sans"  # ships with matplotlib, so every machine draws the same glyphs


class Page:
    """A 1600x900 figure on an Agg canvas, with text measured in pixels before it is placed.

    Set up once per thread and cleared for each chart (`kept_page()`): the canvas keeps its Agg
    renderer, so text already measured, by this class or by matplotlib's layout cache (which
    is keyed by renderer), is not measured again, and no figure or canvas is built per chart.
    """

    MAX_WIDTHS = 20_000  # measured strings kept; past it the cache starts again

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig: Figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white")
        self.fig.set_layout_engine("none")  # ignore any global autolayout setting
        self.renderer = FigureCanvasAgg(self.fig).get_renderer()
        self._widths: dict[tuple[str, float, bool], float] = {}

    def width(self, text: str, pt: float, bold: bool = False) -> float:
        """Pixel width of the widest line of ``text``."""
        key = (text, pt, bold)
        if key not in self._widths:
            if len(self._widths) >= self.MAX_WIDTHS:
                self._widths.clear()
            prop = _font(pt, bold)
            self._widths[key] = max(
                self.renderer.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in text.split("\n")
            )
        return self._widths[key]

    def fit(self, text: str, pt: float, max_px: float, max_lines: int, bold: bool = False) -> str:
        """Wrap ``text`` at words into at most ``max_lines`` lines, ending in "…" if cut."""

        def fits(s: str) -> bool:
            return self.width(s, pt, bold) <= max_px

        def longest_fitting_prefix(word: str) -> int:
            lo, hi = 1, len(word)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(word[:mid]) else (lo, mid - 1)
            return lo

        cut_short = len(text) > MAX_LABEL_CHARS
        text = _drawable(text[:MAX_LABEL_CHARS])
        if not cut_short and "\n" not in text and fits(text):  # the usual case: one measure
            return text
        lines: list[str] = []
        for word in text.split():
            if lines and fits(f"{lines[-1]} {word}"):
                lines[-1] = f"{lines[-1]} {word}"
                continue
            while len(lines) <= max_lines and not fits(word):  # too wide alone: break it
                cut = longest_fitting_prefix(word)
                lines.append(word[:cut])
                word = word[cut:]
            lines.append(word)
            if len(lines) > max_lines:
                cut_short = True
                break
        if lines and cut_short:
            lines = lines[:max_lines]
            last = lines[-1]
            while last and not fits(last + "…"):
                last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
            lines[-1] = last.rstrip(" ,;:-") + "…"
        return "\n".join(lines)

    def text(self, x_px: float, y_px: float, s: str, pt: float, **kw: Any) -> None:
        self.fig.text(
            x_px / WIDTH,
            y_px / HEIGHT,
            s,
            fontsize=pt,
            fontfamily=FONT,
            parse_math=False,
            usetex=False,
            **kw,
        )


_PAGES = threading.local()  # one page per thread: drafting may run in several at once


def kept_page() -> Page:
    """This thread's page, cleared of the last chart: the house-style figure, set up once."""
    page: Page | None = getattr(_PAGES, "page", None)
    if page is None:
        page = _PAGES.page = Page()
    else:
        page.fig.clear()
    return page


def _drawable(text: str) -> str:
    """Replace characters the font cannot draw (emoji, control codes) so none goes missing."""
    glyphs = _glyphs()
    return "".join(
        c if c == "\n" or (c.isprintable() and ord(c) in glyphs) else (" " if c.isspace() else "?")
        for c in text
    )


@lru_cache(maxsize=32)
def _font(pt: float, bold: bool) -> Any:
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=FONT, size=pt, weight="bold" if bold else "normal")


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    from matplotlib.font_manager import FontProperties, findfont, get_font

    regular = get_font(findfont(FontProperties(family=FONT))).get_charmap()
    bold = get_font(findfont(FontProperties(family=FONT, weight="bold"))).get_charmap()
    return frozenset(regular) & frozenset(bold)
