"""The paper's Figure 3: one image read through N x N grids of Gaussian filters."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .geometry import READ_COLOUR, glimpse_box
from .layout import add_glimpse, new_figure, show_image


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
    from ..attention import filterbank
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
        N: the grid side, from 1 to ``max(H, W)``.
    Returns:
        a Figure. Left: the image with the N x N filter centres of the first setting. Right, one
        row per setting: the glimpse's square on the image (green, thicker = smaller σ) and the
        patch it reads, ``F_Y x F_Xᵀ``, shown at the same grey scale.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must have shape (H, W), got {image.shape}")
    H, W = image.shape
    # A grid finer than the image's pixels reads nothing new, and N^2 filter centres of a huge
    # N would exhaust the memory: N is at most the image's longer side.
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or not 1 <= N <= max(H, W):
        raise ValueError(f"N must be an integer from 1 to the image's longer side {max(H, W)}, "
                         f"got {N!r}")
    settings = [FilterSetting(*s) for s in (paper_filter_settings(H, W, N) if settings is None
                                            else settings)]
    if not settings:
        raise ValueError("settings must hold at least one (gx, gy, sigma2, delta)")
    k = len(settings)
    side = 1.4                                       # inches per small panel
    fig = new_figure(3.4 + 2 * side + 2.2, max(4.2, k * (side + 0.3) + 0.7),
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
        show_image(patch_ax, read_patch(image, s.gx, s.gy, s.sigma2, s.delta, N))
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
    show_image(ax, image)
    add_glimpse(ax, s.gx, s.gy, s.sigma2, s.delta, N, READ_COLOUR).set_clip_on(False)
    box = glimpse_box(s.gx, s.gy, s.delta, N)
    ax.set_xlim(min(-0.5, box.x - 0.5), max(W - 0.5, box.x + box.width + 0.5))
    ax.set_ylim(max(H - 0.5, box.y + box.height + 0.5), min(-0.5, box.y - 0.5))
    ax.set_facecolor("0.82")   # the part of the view outside the image
