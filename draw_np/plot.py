"""Pictures of DRAW at work, and the ``plot`` command that draws them from a checkpoint.

Each figure is a function that returns a matplotlib :class:`~matplotlib.figure.Figure`; the
caller saves it (``fig.savefig("out.png")``). Nothing here opens a window or picks a GUI
backend: figures are made with ``matplotlib.figure.Figure`` directly, which renders headless,
and matplotlib is imported inside the functions so that ``import draw_np.plot`` stays cheap.

* :func:`plot_generation` — the paper's Figure 1 (Figure 7 without attention): digits drawn
  from the prior, one row per digit, one column per step, the write glimpse in red.
* :func:`plot_reconstruction` — test digits: the read glimpse (green) on the input and the
  write glimpse (red) on the canvas, step by step.
* :func:`plot_filterbank` — the paper's Figure 3: N x N patches read from one image with
  different strides and variances.
* :func:`animate_generation` — a GIF of a grid of digits being drawn.
* :func:`plot_training_curves` — the curves of ``DIR/log.jsonl`` written by ``train``.
* :func:`plot_kl_per_step` — the KL of each step: which steps carry information.

Coordinates. The attention parameters are in the paper's 1-based pixel coordinates: column
``a = 1..W`` is array index ``a − 1`` (spec, eqs. 19-26). ``imshow`` puts array index ``k`` at
``k``, its pixel spanning ``[k − ½, k + ½]``. So a 1-based coordinate ``u`` is drawn at
``u − 1``: a glimpse centred at ``g`` with side ``s`` spans ``[g − s/2, g + s/2]`` in 1-based
coordinates, which is ``[g − s/2 − 1, g + s/2 − 1]`` on the axes. :func:`glimpse_box` does this
conversion, in one place.

A glimpse is drawn as a square of side ``N δ``: N filters, one stride apart, each covering about
one stride. Its border is thick for sharp filters (small σ) and thin for blurry ones: the line
width is proportional to ``1 / σ``, clipped to a legible range (:func:`glimpse_line_width`).
"""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: The paper's colours: the read glimpse in green, the write glimpse in red.
READ_COLOUR = "#3ee03e"
WRITE_COLOUR = "#ff3b30"
#: Line width (points) of a glimpse's border for σ = 1, and the range it is clipped to.
LINE_WIDTH_AT_UNIT_SIGMA = 1.6
LINE_WIDTH_RANGE = (0.5, 3.2)
#: Resolution of the PNG files the ``plot`` command writes.
DPI = 150
#: How long an animation holds its last frame, in seconds.
HOLD_LAST_FRAME_S = 1.5

ASSETS = Path(__file__).parent / "assets"
DEFAULT_CHECKPOINT = ASSETS / "quick.npz"     # a model trained with `train --preset quick`
DEFAULT_DATA = ASSETS / "mnist_sample.npz"    # 100 binarised MNIST test digits


# ------------------------------------------------------------------------------ geometry
class Box(NamedTuple):
    """A rectangle in ``imshow`` coordinates: the corner ``(x, y)`` with the smaller
    coordinates, then width and height. On an image's axes y grows downwards, so that corner is
    the top-left one on screen (``matplotlib.patches.Rectangle((x, y), width, height)``)."""
    x: float
    y: float
    width: float
    height: float


def glimpse_box(gx: float, gy: float, delta: float, N: int) -> Box:
    """The square covered by an N x N glimpse, in ``imshow`` (0-based) coordinates.

    The grid is centred at ``(g_X, g_Y)`` (1-based pixel coordinates, eqs. 22-23) and its filters
    are ``δ`` apart (eq. 24), so it covers a side ``s = N δ``: ``[g − s/2, g + s/2]`` in 1-based
    coordinates, minus 1 on the axes of ``imshow`` (where pixel ``a`` is centred at ``a − 1``).
    """
    side = N * float(delta)
    return Box(float(gx) - side / 2 - 1, float(gy) - side / 2 - 1, side, side)


def glimpse_line_width(sigma2: float) -> float:
    """Border width in points: ``∝ 1/σ`` (thick = sharp filters), clipped to a legible range."""
    width = LINE_WIDTH_AT_UNIT_SIGMA / math.sqrt(max(float(sigma2), 1e-12))
    return float(np.clip(width, *LINE_WIDTH_RANGE))


def choose_steps(T: int, steps: int | None) -> list[int]:
    """``steps`` evenly spaced 1-based step numbers ending with ``T`` (all T if None).

    Step ``⌈j T / k⌉`` for ``j = 1..k``: e.g. T = 64, k = 8 gives 8, 16, ..., 64.
    """
    if steps is None:
        return list(range(1, T + 1))
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= T:
        raise ValueError(f"steps must be an integer from 1 to T = {T}, got {steps!r}")
    return [math.ceil(j * T / steps) for j in range(1, steps + 1)]


# --------------------------------------------------------------------------- the pieces
def _new_figure(width_in: float, height_in: float, **kwargs):
    from matplotlib.figure import Figure  # a Figure needs no pyplot and no GUI backend
    return Figure(figsize=(width_in, height_in), **kwargs)


def _bare(ax) -> None:
    """No ticks, no frame; unlike ``axis("off")`` a y label can still be shown."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _show_image(ax, image):
    """An (H, W) image of values in [0, 1]: white ink on black, as in the paper."""
    _bare(ax)
    return ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def _add_glimpse(ax, gx, gy, sigma2, delta, N, colour):
    """Draw a glimpse's square on an image's axes (clipped to the axes); return the patch."""
    from matplotlib.patches import Rectangle
    box = glimpse_box(gx, gy, delta, N)
    rect = Rectangle((box.x, box.y), box.width, box.height, fill=False, edgecolor=colour,
                     linewidth=glimpse_line_width(sigma2))
    ax.add_patch(rect)
    return rect


def _move_glimpse(rect, gx, gy, sigma2, delta, N) -> None:
    """Place an existing glimpse square at new parameters (for animation frames)."""
    box = glimpse_box(gx, gy, delta, N)
    rect.set_xy((box.x, box.y))
    rect.set_width(box.width)
    rect.set_height(box.height)
    rect.set_linewidth(glimpse_line_width(sigma2))


def _glimpse_at(params, t: int, i: int):
    """(gx, gy, sigma2, delta) of example i at 0-based step t, from (T, n) AttentionParams."""
    return params.gx[t, i], params.gy[t, i], params.sigma2[t, i], params.delta[t, i]


def _frame_grid(fig, row_groups, col_groups, frame_in: float, *, left_in: float,
                top_in: float, bottom_in: float = 0.08, right_in: float = 0.08,
                gap: float = 0.08, group_gap: float = 0.3):
    """Lay out square frames of side ``frame_in`` inches; size the figure to fit them exactly.

    ``row_groups`` and ``col_groups`` are counts of frames, e.g. ``[2, 2, 2]`` for three images
    of two rows each: frames are ``gap`` frames apart within a group, ``group_gap`` between
    groups. Returns the (rows, cols) array of axes.
    """
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
    fig.set_size_inches(width, height)
    axes = np.empty((len(ys), len(xs)), dtype=object)
    for r, y in enumerate(ys):   # y runs down from the top; add_axes wants it from the bottom
        for c, x in enumerate(xs):
            axes[r, c] = fig.add_axes((x / width, 1 - (y + frame_in) / height,
                                       frame_in / width, frame_in / height))
    return axes


def _frame_size(cols: int) -> float:
    """Inches per frame: generous for a few steps, smaller for long runs (T = 64)."""
    return float(np.clip(9.0 / cols, 0.38, 0.9))


def _check_drawing(drawing, config, need_read: bool = False) -> tuple[int, int]:
    """Check a Drawing against its config; return (T, n)."""
    canvases = np.asarray(drawing.canvases)
    if canvases.ndim != 4 or canvases.shape[2:] != (config.H, config.W):
        raise ValueError(f"drawing.canvases must have shape (T, n, {config.H}, {config.W}) "
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


def _check_rows(rows, n: int) -> int:
    if rows is None:
        return n
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or not 1 <= rows <= n:
        raise ValueError(f"rows must be an integer from 1 to {n} (the digits in the drawing), "
                         f"got {rows!r}")
    return int(rows)


# ------------------------------------------------------------------------------ figures
def plot_generation(drawing, config, rows: int | None = None, steps: int | None = None):
    """Digits drawn step by step (the paper's Figure 1; Figure 7 without attention).

    Args:
        drawing: a :class:`draw_np.model.Drawing`, e.g. from ``model.generate(n)``.
        config: the model's :class:`draw_np.model.DRAWConfig` (gives the write grid ``N``).
        rows: how many digits (rows) to show; all of the drawing's if None.
        steps: show this many evenly spaced steps ending with T; all T if None.
    Returns:
        a Figure: one row per digit, one column per step, each frame ``σ(c_t)`` in grey with
        the write glimpse of step t as a red square (none without attention). Squares are
        clipped to their frame, so a glimpse larger than the whole image (common early in
        training) shows no border at all.
    """
    T, n = _check_drawing(drawing, config)
    rows = _check_rows(rows, n)
    shown = choose_steps(T, steps)
    frame = _frame_size(len(shown))
    fig = _new_figure(1, 1)
    axes = _frame_grid(fig, [rows], [len(shown)], frame, left_in=0.1, top_in=0.75)
    attention = drawing.write_attention
    for i in range(rows):
        for col, t in enumerate(shown):
            ax = axes[i, col]
            _show_image(ax, drawing.canvases[t - 1, i])
            if attention is not None:
                _add_glimpse(ax, *_glimpse_at(attention, t - 1, i), config.write_n, WRITE_COLOUR)
            if i == 0:
                ax.set_title(f"t={t}", fontsize=8 if frame > 0.5 else 6, pad=3)
    title = "DRAW generating digits, one glimpse per step"
    note = (r"$\sigma(c_t)$ at each step t; red: the write glimpse (thicker border = sharper "
            "filters)" if attention is not None else r"$\sigma(c_t)$ at each step t; no "
            "attention: every step writes the whole canvas")
    _titles(fig, title, note)
    return fig


def _titles(fig, title: str, note: str) -> None:
    """A title and a one-line note above a grid of frames, sized to the figure's width."""
    width = fig.get_size_inches()[0]
    size = float(np.clip(width * 1.6, 7, 12))
    fig.suptitle(title, fontsize=size, y=1 - 0.12 / fig.get_size_inches()[1], va="top")
    fig.text(0.5, 1 - 0.38 / fig.get_size_inches()[1], note, ha="center", va="top",
             fontsize=size * 0.72, color="0.3")


def plot_reconstruction(x, drawing, config, rows: int | None = None, steps: int | None = None):
    """How DRAW reconstructs given images, glimpse by glimpse.

    Args:
        x: (n, H, W) the images that were reconstructed, values in [0, 1].
        drawing: ``model.reconstruct(x)``.  config: the model's DRAWConfig.
        rows: how many of the images to show (all if None).
        steps: show this many evenly spaced steps ending with T; all T if None.
    Returns:
        a Figure. With attention, two rows per image: the input with the read glimpse of step t
        (green; it is placed from h^dec_{t−1}, eq. 4) and the canvas σ(c_t) after that step's
        write, with the write glimpse (red). Without attention, one row per image: the input,
        then σ(c_t).
    """
    from . import backend
    x = np.asarray(backend.to_numpy(x))
    T, n = _check_drawing(drawing, config, need_read=config.attention)
    if x.shape != (n, config.H, config.W):
        raise ValueError(f"x must have shape (n, H, W) = ({n}, {config.H}, {config.W}) to match "
                         f"the drawing, got {x.shape}")
    rows = _check_rows(rows, n)
    shown = choose_steps(T, steps)
    read, write = drawing.read_attention, drawing.write_attention
    frame = _frame_size(len(shown) + (0 if config.attention else 1))
    fig = _new_figure(1, 1)
    label = dict(fontsize=8 if frame > 0.5 else 6, rotation=0, ha="right", va="center")
    if config.attention:
        axes = _frame_grid(fig, [2] * rows, [len(shown)], frame, left_in=0.75, top_in=0.75)
        for i in range(rows):
            top, bottom = axes[2 * i], axes[2 * i + 1]
            for col, t in enumerate(shown):
                _show_image(top[col], x[i])
                _add_glimpse(top[col], *_glimpse_at(read, t - 1, i), config.read_n, READ_COLOUR)
                _show_image(bottom[col], drawing.canvases[t - 1, i])
                _add_glimpse(bottom[col], *_glimpse_at(write, t - 1, i), config.write_n,
                             WRITE_COLOUR)
            top[0].set_ylabel("x, read", **label)
            bottom[0].set_ylabel("$\\sigma(c_t)$,\nwrite", **label)
        note = r"green: read glimpse on the input x; red: write glimpse on the canvas $\sigma(c_t)$"
    else:
        axes = _frame_grid(fig, [rows], [1, len(shown)], frame, left_in=0.1, top_in=0.75)
        for i in range(rows):
            _show_image(axes[i, 0], x[i])
            for col, t in enumerate(shown, start=1):
                _show_image(axes[i, col], drawing.canvases[t - 1, i])
        axes[0, 0].set_title("input", fontsize=label["fontsize"], pad=3)
        note = r"the input, then $\sigma(c_t)$ after each step (no attention: whole-canvas writes)"
    for col, t in enumerate(shown, start=0 if config.attention else 1):
        axes[0, col].set_title(f"t={t}", fontsize=label["fontsize"], pad=3)
    _titles(fig, "DRAW reconstructing test digits", note)
    return fig


class FilterSetting(NamedTuple):
    """One placement of an N x N filter grid, in 1-based pixel coordinates (eqs. 19-26)."""
    gx: float
    gy: float
    sigma2: float
    delta: float
    label: str = ""


def paper_filter_settings(H: int = 28, W: int = 28, N: int = 12) -> list[FilterSetting]:
    """The three glimpses of the paper's Figure 3, centred on an H x W image.

    ``δ = (max(H, W) − 1)/(N − 1)`` makes the N filter centres span the image (eq. 24 with
    δ̃ = 1); the zoomed-in glimpse uses under half of that. σ is a fraction of that full stride,
    so the pictures look alike for any N (for N = 12 on MNIST: σ² ≈ 0.5, 2.5 and 6).
    """
    g_x, g_y = (W + 1) / 2, (H + 1) / 2
    full = (max(H, W) - 1) / max(N - 1, 1)
    return [FilterSetting(g_x, g_y, (0.3 * full) ** 2, full, "large δ, small σ: downsampled"),
            FilterSetting(g_x, g_y, (0.65 * full) ** 2, 0.45 * full,
                          "small δ, large σ: zoomed in, blurry"),
            FilterSetting(g_x, g_y, full ** 2, full, "large δ, large σ: coarse and blurry")]


def read_patch(image, gx, gy, sigma2, delta, N: int):
    """The N x N patch ``F_Y x F_Xᵀ`` that a glimpse reads from an (H, W) image (eq. 27, γ = 1)."""
    from .attention import filterbank
    H, W = image.shape
    as_array = lambda v: np.array([v], dtype=np.float64)
    Fx, Fy = filterbank(as_array(gx), as_array(gy), as_array(sigma2), as_array(delta), N, H, W)
    return Fy[0] @ np.asarray(image, dtype=np.float64) @ Fx[0].T


def plot_filterbank(image, settings=None, N: int = 12):
    """Reading one image through N x N grids of Gaussian filters (the paper's Figure 3).

    Args:
        image: (H, W) values in [0, 1].
        settings: a sequence of :class:`FilterSetting` or ``(gx, gy, sigma2, delta)`` tuples in
            1-based pixel coordinates; :func:`paper_filter_settings` if None.
        N: the grid side.
    Returns:
        a Figure. Left: the image with the N x N filter centres of the first setting. Right, one
        row per setting: the glimpse's square on the image (green, thicker = smaller σ) and the
        patch it reads, ``F_Y x F_Xᵀ``, shown at the same grey scale.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must have shape (H, W), got {image.shape}")
    H, W = image.shape
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N must be an integer >= 1, got {N!r}")
    settings = [FilterSetting(*s) for s in (paper_filter_settings(H, W, N) if settings is None
                                            else settings)]
    if not settings:
        raise ValueError("settings must hold at least one (gx, gy, sigma2, delta)")
    k = len(settings)
    side = 1.4                                       # inches per small panel
    fig = _new_figure(3.4 + 2 * side + 2.2, max(4.2, k * (side + 0.3) + 0.7),
                      layout="constrained")
    outer = fig.add_gridspec(1, 2, width_ratios=[3.4, 2 * side + 2.2])
    big = fig.add_subplot(outer[0])
    first = settings[0]
    _show_glimpse_on_image(big, image, first, N)
    offsets = np.arange(N) - (N - 1) / 2             # i0 − (N − 1)/2, as in eqs. 19-20
    cx, cy = np.meshgrid(first.gx + offsets * first.delta - 1,   # filter centres, 1-based,
                         first.gy + offsets * first.delta - 1)   # minus 1 for imshow
    big.plot(cx.ravel(), cy.ravel(), "o", markersize=max(2.5, 7 - 0.3 * N),
             markerfacecolor=READ_COLOUR, markeredgecolor="black", markeredgewidth=0.5)
    big.plot(first.gx - 1, first.gy - 1, "+", color="yellow", markersize=12, markeredgewidth=2)
    big.set_title(f"the {N} × {N} filter centres of the first glimpse\n"
                  f"centre $(g_X, g_Y)$ = ({first.gx:.1f}, {first.gy:.1f}) (+), "
                  f"stride δ = {first.delta:.2f}", fontsize=9)
    right = outer[1].subgridspec(k, 2)
    for row, s in enumerate(settings):
        on_image = fig.add_subplot(right[row, 0])
        _show_glimpse_on_image(on_image, image, s, N)
        on_image.set_ylabel(f"δ = {s.delta:.2f}\nσ² = {s.sigma2:.2g}", rotation=0, ha="right",
                            va="center", fontsize=9)
        patch_ax = fig.add_subplot(right[row, 1])
        _show_image(patch_ax, read_patch(image, s.gx, s.gy, s.sigma2, s.delta, N))
        if s.label:
            patch_ax.set_ylabel(s.label.replace(": ", ":\n"), rotation=0, ha="left",
                                va="center", fontsize=9)
            patch_ax.yaxis.set_label_position("right")
        if row == 0:
            on_image.set_title("glimpse on the image", fontsize=9)
            patch_ax.set_title(f"{N} × {N} patch $F_Y\\, x\\, F_X^T$", fontsize=9)
    fig.suptitle("Reading through an N × N grid of Gaussian filters (DRAW, Figure 3)",
                 fontsize=11)
    return fig


def _show_glimpse_on_image(ax, image, s: FilterSetting, N: int) -> None:
    """The image with a glimpse's square; the view grows to show all of the square."""
    H, W = image.shape
    _show_image(ax, image)
    _add_glimpse(ax, s.gx, s.gy, s.sigma2, s.delta, N, READ_COLOUR).set_clip_on(False)
    box = glimpse_box(s.gx, s.gy, s.delta, N)
    ax.set_xlim(min(-0.5, box.x - 0.5), max(W - 0.5, box.x + box.width + 0.5))
    ax.set_ylim(max(H - 0.5, box.y + box.height + 0.5), min(-0.5, box.y - 0.5))
    ax.set_facecolor("0.82")   # the part of the view outside the image


def animate_generation(drawing, config, path, rows: int = 4, cols: int = 4, fps: float = 8):
    """Write a GIF of a rows x cols grid of digits being drawn, one frame per step.

    Args:
        drawing: ``model.generate(n)`` with ``n >= rows * cols``.  config: the model's config.
        path: where to write the ``.gif``.  fps: frames (steps) per second; the last frame is
            held for :data:`HOLD_LAST_FRAME_S` seconds more.
    Returns:
        the path written.

    Each frame is rendered with matplotlib's Agg canvas and handed to Pillow, which writes the
    GIF with a duration per frame (so the finished digits can stay on screen a little longer).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image
    T, n = _check_drawing(drawing, config)
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if rows * cols > n:
        raise ValueError(f"a {rows} x {cols} grid needs {rows * cols} digits, the drawing has {n}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    path = Path(path)
    fig = _new_figure(1, 1, facecolor="black")
    axes = _frame_grid(fig, [rows], [cols], 1.0, left_in=0.05, right_in=0.05, top_in=0.35,
                       bottom_in=0.05, gap=0.04)
    attention = drawing.write_attention
    images, rects = [], []
    for i, ax in enumerate(axes.ravel()):
        images.append(_show_image(ax, drawing.canvases[0, i]))
        if attention is not None:
            rects.append(_add_glimpse(ax, *_glimpse_at(attention, 0, i), config.write_n,
                                      WRITE_COLOUR))
    label = fig.text(0.5, 1 - 0.06 / fig.get_size_inches()[1], "", ha="center", va="top",
                     color="white", fontsize=11)
    canvas = FigureCanvasAgg(fig)
    frames = []
    for t in range(T):
        for i, image in enumerate(images):
            image.set_data(drawing.canvases[t, i])
            if attention is not None:
                _move_glimpse(rects[i], *_glimpse_at(attention, t, i), config.write_n)
        label.set_text(f"DRAW, step t = {t + 1} / {T}")
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # the buffer is reused: copy it
        frames.append(Image.fromarray(rgb))
    step_ms = 1000 / fps
    durations = [round(step_ms)] * (T - 1) + [round(step_ms + 1000 * HOLD_LAST_FRAME_S)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0)
    return path


STEP_FIELDS = ("epoch", "step", "loss", "Lx", "Lz")
EPOCH_FIELDS = ("epoch", "step", "train_loss", "valid_bound")


def read_training_log(log_path) -> tuple[list[dict], list[dict]]:
    """The ``"step"`` and ``"epoch"`` records of a ``log.jsonl`` written by ``train``.

    Blank lines and records of other kinds are skipped; anything else that is not a JSON object
    with the fields the plots need raises ValueError naming the file and line.
    """
    log_path = Path(log_path)
    if not log_path.is_file():
        raise ValueError(f"no training log at {log_path} (train writes DIR/log.jsonl)")
    steps, epochs = [], []
    try:
        lines = log_path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{log_path} is not a text file; is it a log.jsonl written by "
                         f"train?") from None
    except OSError as exc:
        raise ValueError(f"cannot read the training log {log_path} ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{log_path} line {number} is not JSON ({exc.msg}); is this a "
                             f"log.jsonl written by train?") from None
        kind = record.get("kind") if isinstance(record, dict) else None
        needed = {"step": STEP_FIELDS, "epoch": EPOCH_FIELDS}.get(kind)
        if needed is None:
            if not isinstance(record, dict):
                raise ValueError(f"{log_path} line {number} is not a JSON object")
            continue
        missing = [f for f in needed if not isinstance(record.get(f), (int, float))]
        if missing:
            raise ValueError(f"{log_path} line {number}: a {kind!r} record lacks the numbers "
                             f"{', '.join(missing)}")
        (steps if kind == "step" else epochs).append(record)
    if not steps and not epochs:
        raise ValueError(f"{log_path} holds no training records (no lines with kind "
                         f"'step' or 'epoch')")
    return steps, epochs


def plot_training_curves(log_path):
    """Training curves from ``DIR/log.jsonl``: the loss, L^x and L^z against the step.

    Three panels, in nats: the bound ``L = L^x + L^z``, its reconstruction term ``L^x`` and its
    latent term ``L^z``. Lines are the training means logged every few steps; dots are the
    validation set at the end of each epoch.
    """
    steps, epochs = read_training_log(log_path)
    fig = _new_figure(12, 3.8, layout="constrained")
    axes = fig.subplots(1, 3)
    panels = [("loss", "valid_bound", "bound $L = L^x + L^z$"),
              ("Lx", "valid_Lx", "reconstruction $L^x$"),
              ("Lz", "valid_Lz", "latent $L^z = \\Sigma_t\\, \\mathrm{KL}_t$")]
    for ax, (train_key, valid_key, title) in zip(axes, panels):
        curve = np.array([(r["step"], r[train_key]) for r in steps]).reshape(-1, 2)
        if len(curve):
            ax.plot(curve[:, 0], curve[:, 1], color="C0", linewidth=1.2,
                    label="training (mean of the last steps)")
        valid = np.array([(r["step"], r[valid_key]) for r in epochs if valid_key in r]
                         ).reshape(-1, 2)
        if len(valid):
            ax.plot(valid[:, 0], valid[:, 1], "o-", color="C3", markersize=4, linewidth=1,
                    label="validation, end of each epoch")
        _robust_ylim(ax, np.concatenate([curve[:, 1], valid[:, 1]]))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimiser step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("nats per image")
    axes[0].legend(fontsize=8)
    last = epochs[-1] if epochs else None
    summary = (f"epoch {last['epoch']}: validation bound {last['valid_bound']:.2f} nats"
               if last else f"step {steps[-1]['step']}: training loss {steps[-1]['loss']:.2f} nats")
    fig.suptitle(f"DRAW training ({summary})", fontsize=11)
    return fig


def _robust_ylim(ax, values) -> None:
    """Keep the first few steps (hundreds of nats) from flattening the rest of a curve."""
    values = values[np.isfinite(values)]
    if len(values) < 8:
        return
    low, high = values.min(), np.quantile(values, 0.9)
    if values.max() > high + 2 * (high - low):  # a long early tail: clip it
        pad = 0.1 * (high - low) or 1.0
        ax.set_ylim(low - pad, high + 3 * pad)


def plot_kl_per_step(kl_per_step):
    """Mean KL of each step over a batch: which steps carry information about the image.

    Args:
        kl_per_step: (T, n) ``KL(Q(z_t | x) || N(0, I))`` per step and example, in nats
            (``model.loss_terms(x).kl_per_step``).
    Returns:
        a Figure: one bar per step, its height the mean over the n examples and its error bar
        one standard deviation across them. The bars add up to the mean L^z.
    """
    from . import backend
    kl = np.asarray(backend.to_numpy(kl_per_step), dtype=np.float64)
    if kl.ndim != 2 or kl.size == 0:
        raise ValueError(f"kl_per_step must have shape (T, n), got {kl.shape}")
    T, n = kl.shape
    mean = kl.mean(axis=1)
    spread = kl.std(axis=1, ddof=1) if n > 1 else np.zeros(T)
    fig = _new_figure(float(np.clip(2 + 0.22 * T, 5, 11)), 3.6, layout="constrained")
    ax = fig.subplots()
    t = np.arange(1, T + 1)
    ax.bar(t, mean, color="C0", width=0.8, yerr=spread, ecolor="0.35",
           error_kw=dict(linewidth=0.8, capsize=min(3, 60 / T)))
    ax.set_xlabel("step t")
    ax.set_ylabel("KL (nats)")
    ax.set_xlim(0.3, T + 0.7)
    if T <= 20:
        ax.set_xticks(t)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"KL of each step, mean over {n} images ± 1 s.d.\n"
                 f"the bars add up to $L^z$ = {mean.sum():.2f} nats", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------ CLI
def add_parser(subparsers) -> None:
    """Register ``plot KIND [options] --out FILE`` with the ``python -m draw_np`` parser."""
    p = subparsers.add_parser(
        "plot", help="draw figures: generation, reconstruction, attention, curves",
        description="Draw a figure from a checkpoint (default: the bundled quick model) or a "
                    "training log, and write it to --out. Kinds: generation (the paper's "
                    "Figure 1), reconstruction, filterbank (Figure 3), animation (a GIF), "
                    "curves (DIR/log.jsonl), kl (the KL of each step).")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=type(p))

    def kind(name, help, func, out_suffix=".png"):
        k = kinds.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        k.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help=f"where to write the figure (a {out_suffix} file)")
        k.set_defaults(func=func, out_suffix=out_suffix)
        return k

    def checkpoint(k):
        k.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                       help="a checkpoint .npz (default: the bundled quick-preset model)")

    def data(k):
        k.add_argument("--data", type=Path, default=None, metavar="PATH",
                       help="an .npz with 'images' (n, H, W) in [0, 1] (default: the bundled "
                            "100 binarised MNIST test digits)")

    def seed(k):
        k.add_argument("--seed", type=int, default=0, help="seed of the noise ε (default 0)")

    def steps(k):
        k.add_argument("--steps", type=int, default=None, metavar="K",
                       help="show K evenly spaced steps ending with T (default: all)")

    k = kind("generation", "digits drawn from the prior, step by step (the paper's Figure 1)",
             _run_generation)
    checkpoint(k)
    k.add_argument("--rows", type=int, default=8, help="digits to draw (default 8)")
    steps(k)
    seed(k)
    k = kind("reconstruction", "test digits reconstructed step by step, with the read and "
             "write glimpses", _run_reconstruction)
    checkpoint(k)
    data(k)
    k.add_argument("--rows", type=int, default=4,
                   help="show the first ROWS images of the data (default 4)")
    steps(k)
    seed(k)
    k = kind("filterbank", "patches read through N x N Gaussian filters (the paper's Figure 3)",
             _run_filterbank)
    data(k)
    k.add_argument("--index", type=int, default=0, help="which image of the data (default 0)")
    k.add_argument("--n", type=int, default=12, dest="N", help="grid side N (default 12)")
    k = kind("animation", "a GIF of a grid of digits being drawn", _run_animation, ".gif")
    checkpoint(k)
    k.add_argument("--rows", type=int, default=4, help="rows of digits (default 4)")
    k.add_argument("--cols", type=int, default=4, help="columns of digits (default 4)")
    k.add_argument("--fps", type=float, default=8, help="steps per second (default 8)")
    seed(k)
    k = kind("curves", "training curves from a log.jsonl written by train", _run_curves)
    k.add_argument("--log", type=Path, required=True, metavar="PATH",
                   help="the training log, e.g. runs/quick/log.jsonl")
    k = kind("kl", "the KL of each step, averaged over images", _run_kl)
    checkpoint(k)
    data(k)
    seed(k)


def _check_out(args) -> Path:
    out = args.out
    if out.suffix.lower() != args.out_suffix:
        raise ValueError(f"--out must name a {args.out_suffix} file for `plot {args.kind}`, "
                         f"got {out}")
    return out


def _load_model(args):
    from .checkpoint import CheckpointError, load_model
    path = args.checkpoint
    if path is None:
        if not DEFAULT_CHECKPOINT.is_file():
            raise CheckpointError(f"the bundled checkpoint {DEFAULT_CHECKPOINT} is not installed; "
                                  f"pass --checkpoint PATH (e.g. runs/quick/best.npz)")
        path = DEFAULT_CHECKPOINT
    return load_model(path)


def _load_images(args) -> np.ndarray:
    """The (n, H, W) float images of --data, or of the bundled sample."""
    path = args.data
    if path is None:
        if not DEFAULT_DATA.is_file():
            raise ValueError(f"the bundled sample {DEFAULT_DATA} is not installed; pass "
                             f"--data PATH (an .npz with 'images' of shape (n, H, W))")
        path = DEFAULT_DATA
    if not Path(path).is_file():
        raise ValueError(f"no data file at {path}")
    try:
        contents = np.load(path, allow_pickle=False)
        if not isinstance(contents, np.lib.npyio.NpzFile):   # a bare .npy array
            raise ValueError("it holds one array, not named arrays")
        with contents:
            if "images" not in contents.files:
                raise ValueError(f"it has no array named 'images', only {contents.files}")
            images = contents["images"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file of images ({exc})") from None
    if images.ndim != 3 or len(images) == 0 or not (np.issubdtype(images.dtype, np.integer)
                                                   or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{path}: 'images' must be numbers of shape (n, H, W) with n >= 1, "
                         f"got {images.dtype} {images.shape}")
    images = images.astype(np.float64)
    if not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ValueError(f"{path}: 'images' must have values in [0, 1] (bits, or grey levels "
                         f"divided by 255)")
    return images


def _check_sizes(model, images, path) -> None:
    c = model.config
    if images.shape[1:] != (c.H, c.W):
        raise ValueError(f"the checkpoint's model draws {c.H}x{c.W} images but the data "
                         f"{path or DEFAULT_DATA} holds {images.shape[1]}x{images.shape[2]} images")


def _eps(model, n: int, seed: int):
    from . import backend
    c = model.config
    return backend.Random(seed).normal((c.T, n, c.z_size), model.dtype)


def _positive(name: str, value) -> None:
    if value is not None and value < 1:
        raise ValueError(f"--{name} must be >= 1, got {value}")


def _save(fig, out: Path) -> None:
    """Write a figure as a PNG file and print its path."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=DPI, facecolor=fig.get_facecolor())
    except OSError as exc:
        raise ValueError(f"cannot write {out} ({exc.strerror or exc})") from None
    print(out)


def _check_steps(args, model) -> None:
    if args.steps is not None and args.steps > model.config.T:
        raise ValueError(f"--steps must be at most T = {model.config.T} for this checkpoint, "
                         f"got {args.steps}")


def _run_generation(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("steps", args.steps)
    model = _load_model(args)
    _check_steps(args, model)
    drawing = model.generate(args.rows, eps=_eps(model, args.rows, args.seed))
    _save(plot_generation(drawing, model.config, steps=args.steps), out)
    return 0


def _run_reconstruction(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("steps", args.steps)
    model = _load_model(args)
    _check_steps(args, model)
    images = _load_images(args)
    _check_sizes(model, images, args.data)
    x = images[:args.rows]
    drawing = model.reconstruct(x, eps=_eps(model, len(x), args.seed))
    _save(plot_reconstruction(x, drawing, model.config, steps=args.steps), out)
    return 0


def _run_filterbank(args) -> int:
    out = _check_out(args)
    images = _load_images(args)
    if not 0 <= args.index < len(images):
        raise ValueError(f"--index must be from 0 to {len(images) - 1}, got {args.index}")
    _positive("n", args.N)
    _save(plot_filterbank(images[args.index], N=args.N), out)
    return 0


def _run_animation(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("cols", args.cols)
    if not args.fps > 0:
        raise ValueError(f"--fps must be > 0, got {args.fps}")
    model = _load_model(args)
    n = args.rows * args.cols
    drawing = model.generate(n, eps=_eps(model, n, args.seed))
    try:
        print(animate_generation(drawing, model.config, out, args.rows, args.cols, args.fps))
    except OSError as exc:
        raise ValueError(f"cannot write {out} ({exc.strerror or exc})") from None
    return 0


def _run_curves(args) -> int:
    out = _check_out(args)
    _save(plot_training_curves(args.log), out)
    return 0


def _run_kl(args) -> int:
    out = _check_out(args)
    model = _load_model(args)
    images = _load_images(args)
    _check_sizes(model, images, args.data)
    terms = model.loss_terms(images, eps=_eps(model, len(images), args.seed))
    _save(plot_kl_per_step(terms.kl_per_step), out)
    return 0
