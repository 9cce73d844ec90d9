"""Alt text for a chart, written from the same numbers the chart draws.

It says the kind of chart, what is measured and over what period, each value (as many as fit
in 1,000 characters), the highest and the lowest, and the total or the trend.

    >>> alt = write_alt_text("bar", [("Potholes", 412), ("Rats", 300)], title="Potholes led",
    ...                      unit="requests", period_label="last week", source_line="Source: X")
    >>> alt[:60]
    'Bar chart. Potholes led. Requests by category, last week: Po'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from bot.errors import ChartError

KINDS = ("bar", "column", "line")
MAX_ALT_CHARS = 1_000
MAX_LABEL_CHARS = 300  # a label longer than this cannot be shown anyway
BLANK = "(blank)"  # how an empty label from the data is drawn and read


def write_alt_text(
    kind: str,
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str,
    period_label: str,
    source_line: str,
    long_labels: Sequence[str] | None = None,
    name: str = "",
) -> str:
    """Describe a chart in plain sentences, at most 1,000 characters, never empty.

    Items read "label, number" and are separated by semicolons, so a label that ends in a
    number ("November 2025") never runs into its value. When the text would be too long the
    list is cut after a whole item ("...; and 187 more"); the highest, lowest and total stay.
    """
    labels, values = _check_points(name or title, kind, points, long_labels)
    names = [_plain(s) or BLANK for s in (long_labels if long_labels is not None else labels)]
    unit = _plain(unit) or "values"
    numbers = [format_number(v) for v in values]
    n = len(values)

    def compose(shown: int) -> str:
        items = [f"{names[i]}, {numbers[i]}" for i in range(shown)]
        if shown == n:
            listing = _join_and(items)
        elif shown:
            listing = f"{'; '.join(items)}; and {n - shown:,} more"
        else:
            listing = f"{n:,} {'categories' if kind == 'bar' else 'periods'}"
        if kind == "bar":
            intro = _join_nonempty([f"{_capitalise(unit)} by category", _plain(period_label)])
        else:
            span = f"{names[0]} to {names[-1]}" if n > 1 else ""
            intro = _join_nonempty([f"{_capitalise(unit)} per period", span])
        sentences = [f"{kind.capitalize()} chart.", _sentence(title), f"{intro}: {listing}."]
        if n > 1:
            high = values.index(max(values))
            low = values.index(min(values))
            sentences += [
                f"Highest: {names[high]}, {numbers[high]}.",
                f"Lowest: {names[low]}, {numbers[low]}.",
            ]
        if kind == "bar":
            sentences.append(f"Total shown: {format_number(math.fsum(values))} {unit}.")
        elif n > 1:
            sentences.append(_describe_trend(values[0], values[-1], names[0], names[-1]))
        sentences.append(_sentence(source_line))
        return " ".join(s for s in sentences if s)

    text = compose(n)
    if len(text) > MAX_ALT_CHARS:
        lo, hi = 0, n - 1  # largest `shown` whose text fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if len(compose(mid)) <= MAX_ALT_CHARS else (lo, mid - 1)
        text = compose(lo)
    if len(text) > MAX_ALT_CHARS:  # the title or source alone is too long: cut at a word
        head = text[: MAX_ALT_CHARS - 1]
        text = (head.rsplit(" ", 1)[0] if " " in head else head).rstrip(" ,;:") + "…"
    return text


def format_number(value: float) -> str:
    """Write a number with thousands separators, and one decimal only when it has a fraction.

    >>> format_number(12345.0), format_number(1234.56), format_number(2.96), format_number(-0.0)
    ('12,345', '1,234.6', '3', '0')
    """
    rounded = round(value, 1)
    if rounded == round(rounded):
        return f"{round(rounded):,}"
    return f"{rounded:,.1f}"


def _describe_trend(first: float, last: float, first_name: str, last_name: str) -> str:
    if first == 0:
        if last == 0:
            return f"Trend: about the same from {first_name} to {last_name}."
        return f"Trend: from 0 in {first_name} to {format_number(last)} in {last_name}."
    exact = (Decimal(repr(last)) - Decimal(repr(first))) * 100 / abs(Decimal(repr(first)))
    if abs(exact) < 2:
        change = "about the same"
    else:
        pct = int(abs(exact).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        change = f"{'up' if exact > 0 else 'down'} {pct:,}%"
    return f"Trend: {change} from {first_name} to {last_name}."


def _check_points(
    name: str, kind: str, points: Sequence[tuple[str, float]], long_labels: Sequence[str] | None
) -> tuple[list[str], list[float]]:
    if kind not in KINDS:
        raise ChartError(f"chart {name!r}: unknown kind {kind!r} (use one of: {', '.join(KINDS)})")
    if not points:
        raise ChartError(
            f"chart {name!r} has no data to draw (the figures for this period are "
            "empty; check the recipe's source filters and period)"
        )
    labels: list[str] = []
    values: list[float] = []
    for i, point in enumerate(points, start=1):
        try:
            label, raw = point
            value = float(raw)
        except (TypeError, ValueError):
            raise ChartError(
                f"chart {name!r}: point {i} ({point!r}) is not a (label, number) "
                "pair (check the figures that feed this chart)"
            ) from None
        if not math.isfinite(value):
            raise ChartError(
                f"chart {name!r}: point {label!r} has no finite value ({value}); "
                "drop or fill it before charting"
            )
        labels.append(_plain(str(label)) or BLANK)
        values.append(value)
    if long_labels is not None and len(long_labels) != len(labels):
        raise ChartError(
            f"chart {name!r}: {len(long_labels)} long labels for {len(labels)} "
            "points (pass one long label per point, or none)"
        )
    return labels, values


def _plain(text: str) -> str:
    return " ".join(str(text).split())


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = _plain(text)
    return text if not text or text[-1] in ".!?…" else text + "."


def _join_nonempty(parts: Sequence[str]) -> str:
    return ", ".join(p for p in parts if p)


def _join_and(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return "; ".join(items[:-1]) + "; and " + items[-1]
