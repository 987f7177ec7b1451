"""Where a glimpse goes on a picture: the paper's coordinates on matplotlib's axes.

The attention parameters are in the paper's 1-based pixel coordinates: column ``a = 1..W`` is
array index ``a − 1`` (spec, eqs. 19-26). ``imshow`` puts array index ``k`` at ``k``, its pixel
spanning ``[k − ½, k + ½]``. So a 1-based coordinate ``u`` is drawn at ``u − 1``: a glimpse
centred at ``g`` with side ``s`` spans ``[g − s/2, g + s/2]`` in 1-based coordinates, which is
``[g − s/2 − 1, g + s/2 − 1]`` on the axes. :func:`glimpse_box` does this conversion, in one
place.

A glimpse is drawn as a square of side ``N δ``: N filters, one stride apart, each covering about
one stride. Its border is thick for sharp filters (small σ) and thin for blurry ones: the line
width is proportional to ``1 / σ``, clipped to a legible range (:func:`glimpse_line_width`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

#: The paper's colours: the read glimpse in green, the write glimpse in red.
READ_COLOUR = "#3ee03e"
WRITE_COLOUR = "#ff3b30"


#: Line width (points) of a glimpse's border for σ = 1, and the range it is clipped to.
LINE_WIDTH_AT_UNIT_SIGMA = 1.6
LINE_WIDTH_RANGE = (0.5, 3.2)


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
