"""bot/canvas.py: one chart page per thread, kept and cleared for each chart."""

from __future__ import annotations

import threading

from bot.canvas import HEIGHT, WIDTH, Page, kept_page


def test_a_thread_keeps_its_page_and_gets_it_back_cleared() -> None:
    first = kept_page()
    first.fig.add_axes((0, 0, 1, 1))
    first.text(10, 10, "left behind", 20)
    again = kept_page()
    assert again is first and again.fig.axes == [] and again.fig.texts == []
    size = again.fig.get_size_inches() * again.fig.dpi
    assert (round(size[0]), round(size[1])) == (WIDTH, HEIGHT)
    other: list[Page] = []
    thread = threading.Thread(target=lambda: other.append(kept_page()))
    thread.start()
    thread.join(timeout=30)
    assert other and other[0] is not first  # another thread draws on a page of its own


def test_fit_wraps_at_words_and_cuts_with_an_ellipsis() -> None:
    page = Page()
    one_line = page.fit("potholes", 20, 1000, 2)
    assert one_line == "potholes"
    wrapped = page.fit("rat extermination visits and more words besides", 20, 200, 2)
    assert wrapped.count("\n") == 1 and wrapped.endswith("…")
    assert all(page.width(line, 20) <= 200 for line in wrapped.split("\n"))
