"""Figures of a :class:`~draw_np.model.Drawing`: digits drawn or reconstructed, step by step."""
from __future__ import annotations

import numpy as np

from .geometry import READ_COLOUR, WRITE_COLOUR
from .layout import (add_glimpse, check_drawing, check_rows, choose_steps, frame_grid,
                     frame_size, glimpse_at, new_figure, show_image, titles)


def _frame(cols: int, config) -> float:
    """Inches per frame for ``cols`` frames a row of this config's images."""
    return frame_size(cols, max(config.H, config.W))


def plot_generation(drawing, config, rows: int | None = None, steps: int | None = None):
    """Digits drawn step by step (the paper's Figure 1; Figure 7 without attention).

    Args:
        drawing: a :class:`draw_np.model.Drawing`, e.g. from ``model.generate(n)``.
        config: the model's :class:`draw_np.model.DRAWConfig` (gives the write grid ``N``).
        rows: how many digits (rows) to show; all of the drawing's if None.
        steps: show this many evenly spaced steps ending with T; all T if None.
    Returns:
        a Figure: one row per digit, one column per step, each frame ``σ(c_t)`` (in grey, or
        in RGB for a colour model) with
        the write glimpse of step t as a red square (none without attention). Squares are
        clipped to their frame, so a glimpse larger than the whole image (common early in
        training) shows no border at all.
    """
    T, n = check_drawing(drawing, config)
    rows = check_rows(rows, n)
    shown = choose_steps(T, steps)
    frame = _frame(len(shown), config)
    fig = new_figure(1, 1)
    axes = frame_grid(fig, [rows], [len(shown)], frame, left_in=0.1, top_in=0.75)
    attention = drawing.write_attention
    for i in range(rows):
        for col, t in enumerate(shown):
            ax = axes[i, col]
            show_image(ax, drawing.canvases[t - 1, i])
            if attention is not None:
                add_glimpse(ax, *glimpse_at(attention, t - 1, i), config.write_n, WRITE_COLOUR)
            if i == 0:
                ax.set_title(f"t={t}", fontsize=8 if frame > 0.5 else 6, pad=3)
    title = "DRAW generating digits, one glimpse per step"
    note = (r"$\sigma(c_t)$ at each step t; red: the write glimpse (thicker border = sharper "
            "filters)" if attention is not None else r"$\sigma(c_t)$ at each step t; no "
            "attention: every step writes the whole canvas")
    titles(fig, title, note)
    return fig


def plot_reconstruction(x, drawing, config, rows: int | None = None, steps: int | None = None):
    """How DRAW reconstructs given images, glimpse by glimpse.

    Args:
        x: (n, H, W) the images that were reconstructed, values in [0, 1]; (n, C, H, W) for a
            colour model (shown in RGB).
        drawing: ``model.reconstruct(x)``.  config: the model's DRAWConfig.
        rows: how many of the images to show (all if None).
        steps: show this many evenly spaced steps ending with T; all T if None.
    Returns:
        a Figure. With attention, two rows per image: the input with the read glimpse of step t
        (green; it is placed from h^dec_{t−1}, eq. 4) and the canvas σ(c_t) after that step's
        write, with the write glimpse (red). Without attention, one row per image: the input,
        then σ(c_t).
    """
    from .. import backend
    x = np.asarray(backend.to_numpy(x))
    T, n = check_drawing(drawing, config, need_read=config.attention)
    if x.shape != (n,) + tuple(config.canvas_shape):
        raise ValueError(f"x must have shape {(n,) + tuple(config.canvas_shape)} to match the "
                         f"drawing, got {x.shape}")
    rows = check_rows(rows, n)
    shown = choose_steps(T, steps)
    read, write = drawing.read_attention, drawing.write_attention
    frame = _frame(len(shown) + (0 if config.attention else 1), config)
    fig = new_figure(1, 1)
    label = dict(fontsize=8 if frame > 0.5 else 6, rotation=0, ha="right", va="center")
    if config.attention:
        axes = frame_grid(fig, [2] * rows, [len(shown)], frame, left_in=0.75, top_in=0.75)
        for i in range(rows):
            top, bottom = axes[2 * i], axes[2 * i + 1]
            for col, t in enumerate(shown):
                show_image(top[col], x[i])
                add_glimpse(top[col], *glimpse_at(read, t - 1, i), config.read_n, READ_COLOUR)
                show_image(bottom[col], drawing.canvases[t - 1, i])
                add_glimpse(bottom[col], *glimpse_at(write, t - 1, i), config.write_n,
                             WRITE_COLOUR)
            top[0].set_ylabel("x, read", **label)
            bottom[0].set_ylabel("$\\sigma(c_t)$,\nwrite", **label)
        note = r"green: read glimpse on the input x; red: write glimpse on the canvas $\sigma(c_t)$"
    else:
        axes = frame_grid(fig, [rows], [1, len(shown)], frame, left_in=0.1, top_in=0.75)
        for i in range(rows):
            show_image(axes[i, 0], x[i])
            for col, t in enumerate(shown, start=1):
                show_image(axes[i, col], drawing.canvases[t - 1, i])
        axes[0, 0].set_title("input", fontsize=label["fontsize"], pad=3)
        note = r"the input, then $\sigma(c_t)$ after each step (no attention: whole-canvas writes)"
    for col, t in enumerate(shown, start=0 if config.attention else 1):
        axes[0, col].set_title(f"t={t}", fontsize=label["fontsize"], pad=3)
    titles(fig, "DRAW reconstructing test digits", note)
    return fig
