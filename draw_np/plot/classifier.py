"""Where the attention classifier looked: its T glimpses on each image, and what each one read."""
from __future__ import annotations

import numpy as np

from .layout import add_glimpse, bare, check_rows, frame_grid, new_figure, titles

#: The colour map that tells the steps apart: glimpse t of T gets colour t / (T − 1).
STEP_COLOURS = "plasma"
RIGHT, WRONG = "#1a9e1a", "#d62020"


def choose_examples(predicted, labels, rows: int) -> np.ndarray:
    """Indices of ``rows`` examples showing wrong and right predictions: up to half of them
    the first mistakes, the rest the first correct ones, in the data's order."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.ndim != 1:
        raise ValueError(f"predicted and labels must be two (n,) arrays, got shapes "
                         f"{predicted.shape} and {labels.shape}")
    rows = check_rows(rows, len(labels))
    wrong, right = np.flatnonzero(predicted != labels), np.flatnonzero(predicted == labels)
    n_right = min(len(right), rows - min(len(wrong), rows // 2))
    n_wrong = rows - n_right                  # more mistakes where too few are right
    return np.sort(np.concatenate([wrong[:n_wrong], right[:rows - n_wrong]]))


def _as_picture(a) -> np.ndarray:
    """(H, W) or (C, H, W) values -> what ``imshow`` shows: grey (H, W) or RGB (H, W, C),
    clipped to [0, 1] (a patch is scaled by γ, eq. 27, and may exceed 1)."""
    a = np.clip(np.asarray(a, dtype=np.float64), 0, 1)
    if a.ndim == 3:
        return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)
    return a


def _show(ax, a):
    bare(ax)
    return ax.imshow(_as_picture(a), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def plot_classifier_glimpses(images, labels, predicted, glimpses, config):
    """One row per image: the image with the T glimpses as squares, then the patch each read.

    Args:
        images: (n, H, W) or (n, C, H, W) values in [0, 1].  labels, predicted: (n,) integers.
        glimpses: ``model.glimpses(images)``: attention (T, n) each, patches (T, n, C, N, N).
        config: the model's :class:`draw_np.classifier.ClassifierConfig`.
    Returns:
        a Figure. Glimpse t is drawn in colour t of :data:`STEP_COLOURS` on the image and around
        its patch (thicker border = sharper filters); each patch is shown scaled to its
        brightest pixel (a wide glimpse averages ink away). Each row says the true and the
        predicted class, green when they agree and red when they do not.
    """
    import matplotlib
    images, labels, predicted = np.asarray(images), np.asarray(labels), np.asarray(predicted)
    attention, patches = glimpses
    n, T = len(images), config.T
    if images.shape[1:] != tuple(config.image_shape) or labels.shape != (n,) \
            or predicted.shape != (n,):
        raise ValueError(f"images must be (n, {', '.join(map(str, config.image_shape))}) with "
                         f"one label and one prediction each, got {images.shape}, "
                         f"{labels.shape}, {predicted.shape}")
    N = config.read_n
    if np.shape(patches) != (T, n, config.channels, N, N) or \
            any(np.shape(f) != (T, n) for f in attention):
        raise ValueError(f"glimpses must hold (T, n) = ({T}, {n}) placements and patches of "
                         f"shape {(T, n, config.channels, N, N)}")
    colours = matplotlib.colormaps[STEP_COLOURS](np.linspace(0, 0.85, T))
    fig = new_figure(1, 1)
    axes = frame_grid(fig, [1] * n, [1, T], 1.1, left_in=1.0, top_in=0.8, gap=0.06,
                      group_gap=0.15)
    for i in range(n):
        ax = axes[i, 0]
        _show(ax, images[i])
        ok = labels[i] == predicted[i]
        ax.set_ylabel(f"true {labels[i]}\nsaid {predicted[i]}", fontsize=8, rotation=0,
                      ha="right", va="center", color=RIGHT if ok else WRONG)
        for t in range(T):
            add_glimpse(ax, attention.gx[t, i], attention.gy[t, i], attention.sigma2[t, i],
                        attention.delta[t, i], N, colours[t])
            patch = axes[i, 1 + t]
            _show(patch, patches[t, i] / max(float(patches[t, i].max()), 1e-12))
            for spine in patch.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor(colours[t])
                spine.set_linewidth(2)
            if i == 0:
                patch.set_title(f"t={t + 1}", fontsize=8, pad=3)
        if i == 0:
            ax.set_title("image, glimpses", fontsize=8, pad=3)
    titles(fig, f"The attention classifier's {T} glimpses of {N} x {N}",
           "each glimpse's square in the colour of its step; right: the patch it read (scaled "
           "to its brightest pixel); labels green when right, red when wrong")
    return fig
