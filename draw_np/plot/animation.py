"""A grid of digits being drawn, one frame per step: a GIF, or HTML that plays with JavaScript."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from .geometry import WRITE_COLOUR
from .layout import (add_glimpse, check_drawing, frame_grid, glimpse_at, least_frame_size,
                     move_glimpse, new_figure, picture, show_image)

#: How long an animation holds its last frame, in seconds.
HOLD_LAST_FRAME_S = 1.5
#: The fastest an animation can play: a GIF's frame delays are whole hundredths of a second,
#: and viewers slow delays under two hundredths down to ten.
MAX_FPS = 50


def check_fps(fps, name: str = "fps") -> None:
    """Refuse a frame rate that a GIF cannot play: it must be finite, > 0 and <= MAX_FPS."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"{name} must be a number of frames per second above 0 and at most "
                         f"{MAX_FPS}, got {fps!r}")


def _check_grid(drawing, config, rows, cols, fps) -> int:
    """Check a drawing, a grid that it fills and a frame rate; return T."""
    T, n = check_drawing(drawing, config)
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if rows * cols > n:
        raise ValueError(f"a {rows} x {cols} grid needs {rows * cols} digits, the drawing has {n}")
    check_fps(fps)
    return T


def _animation_figure(drawing, config, rows: int, cols: int):
    """The figure of a rows x cols grid of digits, and ``show_step(t)`` that puts it at 0-based
    step t (the canvases, the write glimpses and the label)."""
    T = drawing.canvases.shape[0]
    fig = new_figure(1, 1, facecolor="black")
    frame = max(1.0, least_frame_size(max(config.H, config.W)))
    axes = frame_grid(fig, [rows], [cols], frame, left_in=0.05, right_in=0.05, top_in=0.35,
                       bottom_in=0.05, gap=0.04)
    attention = drawing.write_attention
    images, rects = [], []
    for i, ax in enumerate(axes.ravel()):
        images.append(show_image(ax, drawing.canvases[0, i]))
        if attention is not None:
            rects.append(add_glimpse(ax, *glimpse_at(attention, 0, i), config.write_n,
                                      WRITE_COLOUR))
    label = fig.text(0.5, 1 - 0.06 / fig.get_size_inches()[1], "", ha="center", va="top",
                     color="white", fontsize=11)

    def show_step(t: int) -> None:
        for i, image in enumerate(images):
            image.set_data(picture(drawing.canvases[t, i]))
            if attention is not None:
                move_glimpse(rects[i], *glimpse_at(attention, t, i), config.write_n)
        label.set_text(f"DRAW, step t = {t + 1} / {T}")

    return fig, show_step


def animate_generation(drawing, config, path, rows: int = 4, cols: int = 4, fps: float = 8):
    """Write a GIF of a rows x cols grid of digits being drawn, one frame per step.

    Args:
        drawing: ``model.generate(n)`` with ``n >= rows * cols``, grey or colour (shown in
            RGB).  config: the model's config.
        path: where to write the ``.gif`` (atomically: a failure leaves no partial file).
        fps: frames (steps) per second, at most :data:`MAX_FPS`; the last frame is held for
            :data:`HOLD_LAST_FRAME_S` seconds more.
    Returns:
        the path written.

    Each frame is rendered with matplotlib's Agg canvas and handed to Pillow, which writes the
    GIF with a duration per frame (so the finished digits can stay on screen a little longer).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image
    T = _check_grid(drawing, config, rows, cols, fps)
    path = Path(path)
    fig, show_step = _animation_figure(drawing, config, rows, cols)
    canvas = FigureCanvasAgg(fig)
    frames = []
    for t in range(T):
        show_step(t)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # the buffer is reused: copy it
        frames.append(Image.fromarray(rgb))
    step_ms = 1000 / fps
    durations = [round(step_ms)] * (T - 1) + [round(step_ms + 1000 * HOLD_LAST_FRAME_S)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: frames[0].save(f, format="GIF", save_all=True,
                                                    append_images=frames[1:],
                                                    duration=durations, loop=0))
    return path


def generation_animation(drawing, config, rows: int = 4, cols: int = 4, fps: float = 8):
    """The same animation as :func:`animate_generation`, as a matplotlib ``Animation``.

    Its ``to_jshtml()`` is HTML with a JavaScript player and every frame embedded, which plays
    inline in Jupyter (``IPython.display.HTML(anim.to_jshtml())``) and in a browser
    (:func:`animation_page`). A frame rate cannot vary within it, so the last frame is
    repeated to hold it for :data:`HOLD_LAST_FRAME_S` seconds, as the GIF does.
    """
    from matplotlib.animation import FuncAnimation
    T = _check_grid(drawing, config, rows, cols, fps)
    fig, show_step = _animation_figure(drawing, config, rows, cols)
    held = [T - 1] * round(fps * HOLD_LAST_FRAME_S)
    return FuncAnimation(fig, show_step, frames=list(range(T)) + held, interval=1000 / fps,
                         repeat=True)


def animation_page(animation, title: str = "DRAW") -> str:
    """A whole HTML page that plays ``animation`` in a browser, every frame embedded in it.

    (matplotlib's player takes its buttons' icons from a web font; offline they are blank
    buttons that still work.)
    """
    head = f'<head><meta charset="utf-8"><title>{title}</title></head>'
    return f"<!DOCTYPE html>\n<html>\n{head}\n<body>\n{animation.to_jshtml()}\n</body>\n</html>\n"
