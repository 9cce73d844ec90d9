"""Plain-voice wording for figures: the Jinja2 filters thread templates use.

Every function here is pure and returns the exact words a post shows. Missing figures
(``None``, NaN, pandas ``NA``/``NaT``) read "no figure" (dates read "no date") rather than
failing, so a gap in the data shows up in the draft for a person to judge; a value of the
wrong kind (a string where a number belongs) raises ``TypeError``.

Numbers round half away from zero (2.5 -> 3, -2.5 -> -3), as people do, not to even.
Dates follow AP style ("Monday, Oct. 21"; "Oct. 19–25" with an en dash).

    >>> import jinja2
    >>> env = jinja2.Environment()
    >>> register_filters(env)
    >>> env.from_string("{{ n|number }} requests, {{ n|change(1100, 'the week before') }}"
    ...                 ).render(n=1234)
    '1,234 requests, up 12% from the week before'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import jinja2

NO_FIGURE = "no figure"
NO_DATE = "no date"

_AP_MONTHS = tuple("Jan. Feb. March April May June July Aug. Sept. Oct. Nov. Dec.".split())
_MONTHS = tuple(
    "January February March April May June July August September October November December".split()
)
_SHORT_MONTHS = tuple("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_WEEKDAYS = tuple("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
_EN_DASH = "\u2013"


def _is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA/NaT (recognised without importing pandas)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, float | Decimal):
        return value != value  # NaN is the one value unequal to itself
    return False


def _decimal(value: Any, name: str) -> Decimal:
    """The exact decimal a person reads from `value` (floats by their shortest repr)."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Integral):
        return Decimal(int(value))
    if isinstance(value, Real):
        return Decimal(repr(float(value)))
    raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")


def _quantize(value: Decimal, exponent: int) -> Decimal:
    """Round `value` half away from zero to a multiple of 10**exponent."""
    precision = max(28, value.adjusted() - exponent + 2)
    context = Context(prec=precision, rounding=ROUND_HALF_UP)
    rounded = value.quantize(Decimal(1).scaleb(exponent), context=context)
    return abs(rounded) if rounded == 0 else rounded  # no "-0"


def _round_fraction(value: Fraction) -> int:
    """Round a fraction half away from zero to a whole number."""
    whole = int(abs(value) + Fraction(1, 2))
    return whole if value >= 0 else -whole


def number(n: Any, digits: int = 0) -> str:
    """A number with thousands separators, rounded half away from zero to `digits` places.

    >>> number(1234567890), number(1234.5), number(12.345, 1), number(None)
    ('1,234,567,890', '1,235', '12.3', 'no figure')
    """
    if _is_missing(n):
        return NO_FIGURE
    if digits < 0:
        raise ValueError(f"number: digits must be 0 or more, got {digits}")
    rounded = _quantize(_decimal(n, "number"), -digits)
    return format(rounded, f",.{digits}f")


def approx(n: Any) -> str:
    """A figure as people say it: exact below 100, else two significant figures.

    >>> approx(56), approx(618), approx(45626), approx(1200), approx(1234567), approx(3e6)
    ('56', 'about 620', 'about 46,000', '1,200', 'about 1.2 million', '3 million')
    """
    if _is_missing(n):
        return NO_FIGURE
    value = _decimal(n, "approx")
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size < 100:
        return number(value)
    rounded = _quantize(size, size.adjusted() - 1)
    about = "" if rounded == size else "about "
    for scale, word in ((10**9, "billion"), (10**6, "million")):
        if rounded >= scale:
            scaled = (rounded / scale).normalize()
            return f"{about}{sign}{scaled:,f} {word}"
    return f"{about}{sign}{number(rounded)}"


def change(value: Any, previous: Any, versus: str = "the period before") -> str:
    """How a figure moved against the one before, in words.

    Percents are whole and shown only between half and double; outside that, words.

    >>> change(112, 100, "the week before"), change(95, 100, "the week before")
    ('up 12% from the week before', 'down 5% from the week before')
    >>> change(250, 100, "last year"), change(0, 34, "the week before")
    ('more than double last year', 'none, down from 34 the week before')
    """
    if _is_missing(value):
        return f"no figure to compare with {versus}"
    if _is_missing(previous):
        return f"with no figure from {versus} to compare"
    now = Fraction(_decimal(value, "change"))
    before = Fraction(_decimal(previous, "change"))
    if now < 0 or before < 0:  # net figures: a ratio means nothing, say the difference
        difference = now - before
        if difference == 0:
            return f"the same as {versus}"
        direction = "up" if difference > 0 else "down"
        return f"{direction} {number(abs(difference))} from {number(previous)} {versus}"
    if now == 0 and before == 0:
        return f"none, the same as {versus}"
    if now == 0:
        return f"none, down from {number(previous)} {versus}"
    if before == 0:
        return f"up from none {versus}"
    ratio = now / before
    if ratio >= 3:
        times = _round_fraction(ratio)
        about = "" if ratio == times else "about "
        return f"{about}{number(times)} times {versus}"
    if ratio > 2:
        return f"more than double {versus}"
    if ratio == 2:
        return f"double {versus}"
    if ratio == Fraction(1, 2):
        return f"half {versus}"
    if ratio < Fraction(1, 2):
        return f"less than half {versus}"
    percent_change = _round_fraction((ratio - 1) * 100)
    if abs(percent_change) < 2:
        return f"about the same as {versus}"
    direction = "up" if percent_change > 0 else "down"
    return f"{direction} {number(abs(percent_change))}% from {versus}"


def one_in(part: Any, whole: Any) -> str:
    """A share as "1 in 4": exact, or the simplest fraction (at most tenths) within 2 points.

    >>> one_in(25, 100), one_in(21, 100), one_in(66, 100), one_in(1, 120), one_in(97, 100)
    ('1 in 4', 'about 1 in 5', 'about 2 in 3', '1 in 120', 'nearly all')
    """
    if _is_missing(part) or _is_missing(whole):
        return NO_FIGURE
    numerator = Fraction(_decimal(part, "one_in"))
    denominator = Fraction(_decimal(whole, "one_in"))
    if denominator <= 0:
        return NO_FIGURE
    if numerator < 0 or numerator > denominator:
        raise ValueError(f"one_in: part {part} must be between 0 and whole {whole}")
    share = numerator / denominator
    if share == 0:
        return "none"
    if share == 1:
        return "all"
    if share > Fraction(95, 100):
        return "nearly all"
    if share.denominator <= 10:
        return f"{share.numerator} in {share.denominator}"
    for tenths in range(2, 11):
        count = _round_fraction(share * tenths)
        if 0 < count < tenths and abs(Fraction(count, tenths) - share) <= Fraction(2, 100):
            return f"about {count} in {tenths}"
    if share > Fraction(9, 10):
        return "about 9 in 10"
    every = _round_fraction(1 / share)
    about = "" if share == Fraction(1, every) else "about "
    return f"{about}1 in {number(every)}"


def percent(share: Any, digits: int = 0) -> str:
    """A share (0.1234) as a percent ("12%").

    >>> percent(0.1234), percent(0.1234, 1), percent(None)
    ('12%', '12.3%', 'no figure')
    """
    if _is_missing(share):
        return NO_FIGURE
    return f"{number(_decimal(share, 'percent') * 100, digits)}%"


def _plural_of(word: str) -> str:
    lower = word.lower()
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def plural(n: Any, singular: str, plural: str | None = None) -> str:
    """A count with its noun, singular only when the shown number is 1.

    >>> plural(1, "request"), plural(1234, "request"), plural(3, "city")
    ('1 request', '1,234 requests', '3 cities')
    >>> plural(2, "person", "people")
    '2 people'
    """
    if _is_missing(n):
        return NO_FIGURE
    shown = number(n)
    word = singular if shown == "1" else (plural or _plural_of(singular))
    return f"{shown} {word}"


def join_and(items: Iterable[Any]) -> str:
    """Items joined AP style, with no serial comma.

    >>> join_and([]), join_and(["a"]), join_and(["a", "b"]), join_and(["a", "b", "c"])
    ('', 'a', 'a and b', 'a, b and c')
    """
    words = [str(item) for item in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _as_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value).date()
    raise TypeError(f"{name}: expected a date, got {type(value).__name__} {value!r}")


def _ap_date(d: date, year: bool) -> str:
    text = f"{_AP_MONTHS[d.month - 1]} {d.day}"
    return f"{text}, {d.year}" if year else text


def day(d: Any, year: bool = False) -> str:
    """A day in AP style, with its weekday.

    >>> day(date(2019, 10, 21)), day(date(2019, 10, 21), year=True)
    ('Monday, Oct. 21', 'Monday, Oct. 21, 2019')
    """
    if _is_missing(d):
        return NO_DATE
    when = _as_date(d, "day")
    return f"{_WEEKDAYS[when.weekday()]}, {_ap_date(when, year)}"


def month(d: Any, year: bool = False) -> str:
    """A month spelled out.

    >>> month(date(2026, 10, 5)), month(date(2026, 10, 5), year=True)
    ('October', 'October 2026')
    """
    if _is_missing(d):
        return NO_DATE
    when = _as_date(d, "month")
    name = _MONTHS[when.month - 1]
    return f"{name} {when.year}" if year else name


def short_month(d: Any) -> str:
    """A three-letter month for chart ticks.

    >>> short_month(date(2026, 9, 1)), short_month(date(2026, 6, 1))
    ('Sep', 'Jun')
    """
    if _is_missing(d):
        return NO_DATE
    return _SHORT_MONTHS[_as_date(d, "short_month").month - 1]


def span(first: Any, last: Any) -> str:
    """A range of days in AP style, with an en dash; the year only when it changes.

    >>> span(date(2019, 10, 19), date(2019, 10, 25)), span(date(2019, 10, 31), date(2019, 11, 1))
    ('Oct. 19–25', 'Oct. 31–Nov. 1')
    >>> span(date(2025, 12, 29), date(2026, 1, 4))
    'Dec. 29, 2025–Jan. 4, 2026'
    """
    if _is_missing(first) or _is_missing(last):
        return NO_DATE
    start, end = _as_date(first, "span"), _as_date(last, "span")
    if start > end:
        raise ValueError(f"span: first day {start} is after last day {end}")
    if start == end:
        return _ap_date(start, year=False)
    if start.year != end.year:
        return f"{_ap_date(start, year=True)}{_EN_DASH}{_ap_date(end, year=True)}"
    if start.month != end.month:
        return f"{_ap_date(start, year=False)}{_EN_DASH}{_ap_date(end, year=False)}"
    return f"{_ap_date(start, year=False)}{_EN_DASH}{end.day}"


def ordinal(n: Any) -> str:
    """A whole number as an ordinal.

    >>> ordinal(1), ordinal(2), ordinal(3), ordinal(11), ordinal(22), ordinal(111), ordinal(1001)
    ('1st', '2nd', '3rd', '11th', '22nd', '111th', '1,001st')
    """
    if _is_missing(n):
        return NO_FIGURE
    value = _decimal(n, "ordinal")
    if value != value.to_integral_value():
        raise ValueError(f"ordinal: expected a whole number, got {n!r}")
    whole = int(value)
    last_two = abs(whole) % 100
    if 11 <= last_two <= 13:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(last_two % 10, "th")
    return f"{number(whole)}{suffix}"


FILTERS = {
    "number": number,
    "approx": approx,
    "change": change,
    "one_in": one_in,
    "percent": percent,
    "plural": plural,
    "join_and": join_and,
    "day": day,
    "month": month,
    "short_month": short_month,
    "span": span,
    "ordinal": ordinal,
}


def register_filters(env: jinja2.Environment) -> None:
    """Install every voice function as a filter, and `change`, `one_in` also as globals."""
    env.filters.update(FILTERS)
    env.globals.update(change=change, one_in=one_in)
