"""The KL of each step: which steps carry information about the image."""
from __future__ import annotations

import numpy as np

from .layout import new_figure


def plot_kl_per_step(kl_per_step):
    """Mean KL of each step over a batch: which steps carry information about the image.

    Args:
        kl_per_step: (T, n) ``KL(Q(z_t | x) || N(0, I))`` per step and example, in nats
            (``model.loss_terms(x).kl_per_step``).
    Returns:
        a Figure: one bar per step, its height the mean over the n examples and its error bar
        one standard deviation across them. The bars add up to the mean L^z.
    """
    from .. import backend
    kl = np.asarray(backend.to_numpy(kl_per_step), dtype=np.float64)
    if kl.ndim != 2 or kl.size == 0:
        raise ValueError(f"kl_per_step must have shape (T, n), got {kl.shape}")
    T, n = kl.shape
    mean = kl.mean(axis=1)
    spread = kl.std(axis=1, ddof=1) if n > 1 else np.zeros(T)
    fig = new_figure(float(np.clip(2 + 0.22 * T, 5, 11)), 3.6, layout="constrained")
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
