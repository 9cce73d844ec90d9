"""bot/png.py: a figure's pixels as an RGB PNG, the same as savefig draws them."""

from __future__ import annotations

import io

from bot.png import figure_png, png_size


def _figure():  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.barh([0, 1, 2], [3, 1, 2], color="#0072B2")
    ax.set_title("Three bars")
    return fig


def test_the_png_has_savefigs_pixels_in_rgb() -> None:
    from PIL import Image

    fig = _figure()
    ours = figure_png(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, facecolor="white", metadata={"Software": None})
    theirs = Image.open(io.BytesIO(buf.getvalue()))
    mine = Image.open(io.BytesIO(ours))
    assert (mine.mode, mine.size, theirs.size) == ("RGB", (300, 200), (300, 200))
    assert mine.tobytes() == theirs.convert("RGB").tobytes()
    assert png_size(ours) == (300, 200)
    assert figure_png(fig) == ours  # the same figure, the same bytes


def test_png_size_of_something_else_is_none() -> None:
    assert png_size(b"GIF89a" + b"\x00" * 30) is None
    assert png_size(b"") is None
