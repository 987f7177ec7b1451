"""Training curves from a ``log.jsonl``: DRAW's bound, L^x and L^z, or an attention classifier's
cross-entropy and error, against the step."""
from __future__ import annotations

import numpy as np

from .layout import new_figure
from .training_log import MODEL_NAMES, log_kind, read_training_log


#: model kind -> its panels: (training key, validation key, title).
PANELS = {"draw": [("loss", "valid_bound", "bound $L = L^x + L^z$"),
                   ("Lx", "valid_Lx", "reconstruction $L^x$"),
                   ("Lz", "valid_Lz", "latent $L^z = \\Sigma_t\\, \\mathrm{KL}_t$")],
          "classifier": [("loss", "valid_cross_entropy", "cross-entropy"),
                         ("error", "valid_error", "error (%)")]}


def plot_training_curves(log_path):
    """Training curves from ``DIR/log.jsonl`` against the step.

    A DRAW log gives three panels, in nats: the bound ``L = L^x + L^z``, its reconstruction
    term ``L^x`` and its latent term ``L^z``; an attention classifier's log two: the
    cross-entropy (nats) and the error (%). Lines are the training means logged every few
    steps; dots are the validation set at the end of each epoch.
    """
    steps, epochs = read_training_log(log_path)
    kind = log_kind(steps, epochs)
    panels = PANELS[kind]
    fig = new_figure(4 * len(panels), 3.8, layout="constrained")
    axes = fig.subplots(1, len(panels))
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
    if kind == "classifier":
        summary = (f"epoch {last['epoch']}: validation error {last['valid_error']:.2f} %" if last
                   else f"step {steps[-1]['step']}: training error {steps[-1]['error']:.2f} %")
    else:
        summary = (f"epoch {last['epoch']}: validation bound {last['valid_bound']:.2f} nats"
                   if last else
                   f"step {steps[-1]['step']}: training loss {steps[-1]['loss']:.2f} nats")
    fig.suptitle(f"{MODEL_NAMES[kind]} training ({summary})", fontsize=11)
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
