"""Grids of frames: figure and axes making, the choice of steps shown, and size limits.

Figures are made with ``matplotlib.figure.Figure`` directly, which renders headless and picks
no GUI backend (and shows inline in Jupyter, :func:`new_figure`); matplotlib is imported inside
the functions, so importing the package is cheap.
"""
from __future__ import annotations

import functools
import io
import math

import numpy as np

from .geometry import glimpse_box, glimpse_line_width

#: Resolution of the PNG files the ``plot`` command writes, in dots per inch.
DPI = 150
#: The most frames (small images) one figure may hold: the paper's largest figure has 640, and
#: a figure of many thousands takes minutes and gigabytes to draw and shows nothing legible.
MAX_FRAMES = 2500
#: The most pixels a figure may have on a side at :data:`DPI` (matplotlib's Agg renderer draws
#: less than 2^16), and in all (10^8 pixels are 400 MB of RGBA while being drawn).
MAX_SIDE_PIXELS = 2 ** 16 - 1
MAX_PIXELS = 10 ** 8
#: The fewest figure pixels per image pixel a frame may have at :data:`DPI`, so that a large
#: image (60 x 60 two-digit MNIST) keeps its strokes when many steps share a row.
MIN_ZOOM = 1.5


def choose_steps(T: int, steps: int | None) -> list[int]:
    """``steps`` evenly spaced 1-based step numbers ending with ``T`` (all T if None).

    Step ``⌈j T / k⌉`` for ``j = 1..k``: e.g. T = 64, k = 8 gives 8, 16, ..., 64.
    """
    if steps is None:
        return list(range(1, T + 1))
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= T:
        raise ValueError(f"steps must be an integer from 1 to T = {T}, got {steps!r}")
    return [math.ceil(j * T / steps) for j in range(1, steps + 1)]


def check_grid(rows: int, cols: int) -> None:
    """Refuse a grid of ``rows x cols`` frames beyond :data:`MAX_FRAMES`, before anything is drawn.

    Called by the figures before they make their axes, and by the ``plot`` command before it
    makes the digits to show (a million digits would exhaust the memory long before a figure).
    """
    if rows * cols > MAX_FRAMES:
        raise ValueError(f"a figure of {rows} x {cols} frames is too large to draw (at most "
                         f"{MAX_FRAMES} frames); ask for fewer rows or steps")


def check_figure_size(width_in: float, height_in: float) -> None:
    """Refuse a figure that matplotlib cannot draw at :data:`DPI`, or only with gigabytes."""
    width, height = round(width_in * DPI), round(height_in * DPI)
    if max(width, height) > MAX_SIDE_PIXELS or width * height > MAX_PIXELS:
        raise ValueError(f"a figure of {width} x {height} pixels is too large to draw (at most "
                         f"{MAX_SIDE_PIXELS} on a side and {MAX_PIXELS:.0e} in all); ask for "
                         f"fewer rows or steps")


@functools.cache
def _shown_figure_class():
    """``Figure`` with ``_repr_png_``: Jupyter shows it inline when it is a cell's last
    expression (IPython's rich display), as it shows pyplot's figures, though pyplot never
    tracks it. Made once, on first use, so that importing this module imports no matplotlib."""
    from matplotlib.figure import Figure  # a Figure needs no pyplot and no GUI backend

    class ShownFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()

    return ShownFigure


def new_figure(width_in: float, height_in: float, **kwargs):
    return _shown_figure_class()(figsize=(width_in, height_in), **kwargs)


def bare(ax) -> None:
    """No ticks, no frame; unlike ``axis("off")`` a y label can still be shown."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def picture(image) -> np.ndarray:
    """An image as ``imshow`` takes it: (H, W) grey as it is, (3, H, W) colour as (H, W, 3) RGB.

    Values are clipped to [0, 1] (``imshow`` clips RGB floats anyway, with a warning).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"an image to show must be (H, W) grey or (3, H, W) colour, got shape "
                         f"{image.shape}")
    return np.clip(np.moveaxis(image, 0, -1), 0.0, 1.0)


def show_image(ax, image):
    """An (H, W) grey image of values in [0, 1], white ink on black as in the paper, or a
    (3, H, W) colour image in RGB."""
    bare(ax)
    image = picture(image)
    if image.ndim == 3:
        return ax.imshow(image, interpolation="nearest")
    return ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def add_glimpse(ax, gx, gy, sigma2, delta, N, colour):
    """Draw a glimpse's square on an image's axes (clipped to the axes); return the patch."""
    from matplotlib.patches import Rectangle
    box = glimpse_box(gx, gy, delta, N)
    rect = Rectangle((box.x, box.y), box.width, box.height, fill=False, edgecolor=colour,
                     linewidth=glimpse_line_width(sigma2))
    ax.add_patch(rect)
    return rect


def move_glimpse(rect, gx, gy, sigma2, delta, N) -> None:
    """Place an existing glimpse square at new parameters (for animation frames)."""
    box = glimpse_box(gx, gy, delta, N)
    rect.set_xy((box.x, box.y))
    rect.set_width(box.width)
    rect.set_height(box.height)
    rect.set_linewidth(glimpse_line_width(sigma2))


def glimpse_at(params, t: int, i: int):
    """(gx, gy, sigma2, delta) of example i at 0-based step t, from (T, n) AttentionParams."""
    return params.gx[t, i], params.gy[t, i], params.sigma2[t, i], params.delta[t, i]


def frame_grid(fig, row_groups, col_groups, frame_in: float, *, left_in: float,
                top_in: float, bottom_in: float = 0.08, right_in: float = 0.08,
                gap: float = 0.08, group_gap: float = 0.3):
    """Lay out square frames of side ``frame_in`` inches; size the figure to fit them exactly.

    ``row_groups`` and ``col_groups`` are counts of frames, e.g. ``[2, 2, 2]`` for three images
    of two rows each: frames are ``gap`` frames apart within a group, ``group_gap`` between
    groups. Returns the (rows, cols) array of axes. Raises ValueError for a grid too large to
    draw (:func:`check_grid`, :func:`check_figure_size`), before any axes are made.
    """
    check_grid(sum(row_groups), sum(col_groups))
    def starts(groups, margin):
        """Offsets in inches of each frame along one direction, and the total length."""
        offsets, at = [], margin
        for g, size in enumerate(groups):
            at += (group_gap if g else 0) * frame_in
            for _ in range(size):
                offsets.append(at)
                at += (1 + gap) * frame_in
        return offsets, at - gap * frame_in
    xs, width = starts(col_groups, left_in)
    ys, height = starts(row_groups, top_in)
    width, height = width + right_in, height + bottom_in
    check_figure_size(width, height)
    fig.set_size_inches(width, height)
    axes = np.empty((len(ys), len(xs)), dtype=object)
    for r, y in enumerate(ys):   # y runs down from the top; add_axes wants it from the bottom
        for c, x in enumerate(xs):
            axes[r, c] = fig.add_axes((x / width, 1 - (y + frame_in) / height,
                                       frame_in / width, frame_in / height))
    return axes


def least_frame_size(image_side: int) -> float:
    """Inches a frame needs to show ``image_side`` pixels at :data:`MIN_ZOOM` figure pixels
    each."""
    return MIN_ZOOM * image_side / DPI


def frame_size(cols: int, image_side: int = 28) -> float:
    """Inches per frame: generous for a few steps, smaller for long runs (T = 64), never less
    than an image of ``image_side`` pixels needs (:func:`least_frame_size`)."""
    least = max(0.38, least_frame_size(image_side))
    return float(np.clip(9.0 / cols, least, max(0.9, least)))


def check_drawing(drawing, config, need_read: bool = False) -> tuple[int, int]:
    """Check a Drawing against its config; return (T, n). Canvases are (T, n, H, W) grey or
    (T, n, C, H, W) for C channels (``config.canvas_shape``)."""
    canvases = np.asarray(drawing.canvases)
    shape = tuple(config.canvas_shape)
    if canvases.ndim != 2 + len(shape) or canvases.shape[2:] != shape:
        raise ValueError(f"drawing.canvases must have shape (T, n, {', '.join(map(str, shape))}) "
                         f"for this config, got {canvases.shape}")
    T, n = canvases.shape[:2]
    heads = [("write_attention", drawing.write_attention)]
    if need_read:
        heads.append(("read_attention", drawing.read_attention))
    for name, params in heads:
        if config.attention and params is None:
            raise ValueError(f"the config has attention but drawing.{name} is None")
        if params is not None and any(np.shape(f) != (T, n) for f in params):
            raise ValueError(f"drawing.{name} fields must have shape (T, n) = ({T}, {n})")
    return T, n


def check_rows(rows, n: int) -> int:
    if rows is None:
        return n
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or not 1 <= rows <= n:
        raise ValueError(f"rows must be an integer from 1 to {n} (the digits in the drawing), "
                         f"got {rows!r}")
    return int(rows)


def titles(fig, title: str, note: str) -> None:
    """A title and a one-line note above a grid of frames, sized to the figure's width."""
    width = fig.get_size_inches()[0]
    size = float(np.clip(width * 1.6, 7, 12))
    fig.suptitle(title, fontsize=size, y=1 - 0.12 / fig.get_size_inches()[1], va="top")
    fig.text(0.5, 1 - 0.38 / fig.get_size_inches()[1], note, ha="center", va="top",
             fontsize=size * 0.72, color="0.3")
