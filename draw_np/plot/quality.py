"""Time to quality: the validation figure against CPU hours and against epochs, with anchors.

How good a DRAW gets for the compute spent, from one or more ``log.jsonl`` files (a long run,
or pilots side by side). On binarised MNIST the anchors are the figures this project measures
itself against (``../shared/draw-spec.md``, the issue of the Table 2 campaign): the paper's
bounds, the best public reproduction's, and the project's own first milestone. The paper gives
no figure for its other data sets, so their curves are drawn without anchors. An attention
classifier's logs (cluttered MNIST) are drawn the same way, with the validation error in %.
"""
from __future__ import annotations

from .layout import new_figure
from .training_log import MODEL_NAMES, log_kind, read_training_log

#: (bound in nats, label, line style): horizontal lines on both panels.
ANCHORS = ((80.97, "paper, with attention: 80.97", (0, (5, 3))),
           (85.0, "first milestone: 85", (0, (1, 2))),
           (87.40, "paper, without attention: 87.40", (0, (5, 2, 1, 2))))

#: model kind -> (the validation figure of its epoch records, the training figure of its step
#: records in the same unit, the axis label).
FIGURES = {"draw": ("valid_bound", "loss", "validation bound $L^x + L^z$ (nats)"),
           "classifier": ("valid_error", "error", "validation error (%)")}

#: Points of the best public reproduction (jbornschein/draw issue 4): (epoch, bound, label).
REPRODUCTION = ((50, 90.0, "< 90"), (200, 83.0, "< 83"), (300, 81.9, "81.9"))


def plot_time_to_quality(logs: dict, dataset: str | None = None, steps: bool = False):
    """Validation bound (or a classifier's error) against CPU hours (left) and epochs (right).

    Args:
        logs: label -> path of a ``log.jsonl`` written by ``train``, all of DRAW runs or all of
            classifier runs (its epoch records need
            ``cpu_s``, which ``train`` writes since the time budgets exist; older logs are
            drawn against epochs only).
        dataset: the data set the runs trained on (a name of ``train --dataset``; default
            "mnist" for DRAW logs, "cluttered" for classifier logs): "mnist" draws the
            anchors; any other only the curves.
        steps: also draw each run's training loss as logged every few steps (thin lines), the
            mean bound (a classifier's: error) on the training batches since the last record:
            short pilots end after an epoch or two, which the validation figures alone show as
            two points.
    """
    if not logs:
        raise ValueError("name at least one training log")
    read = {label: read_training_log(path) for label, path in logs.items()}
    kinds = {label: log_kind(*records) for label, records in read.items()}
    if len(set(kinds.values())) > 1:
        raise ValueError(f"the logs mix DRAW and classifier runs ({kinds}); compare one kind")
    kind = next(iter(kinds.values()))
    figure_key, step_key, axis_label = FIGURES[kind]
    dataset = dataset or ("cluttered" if kind == "classifier" else "mnist")
    anchored = dataset == "mnist" and kind == "draw"
    fig = new_figure(12, 4.4, layout="constrained")
    by_time, by_epoch = fig.subplots(1, 2, sharey=True)
    highest, lowest = [], []
    for i, (label, path) in enumerate(logs.items()):
        step_records, epochs = read[label]
        if not epochs:
            raise ValueError(f"{path} has no epoch records yet (a validation figure comes at the "
                             f"end of each epoch)")
        figures = [r[figure_key] for r in epochs]
        highest.append(max(figures))
        lowest.append(min(figures))
        by_epoch.plot([r["epoch"] for r in epochs], figures, "o-", color=f"C{i}", markersize=3,
                      linewidth=1.2, label=label)
        timed = [(r["cpu_s"] / 3600, r[figure_key]) for r in epochs
                 if isinstance(r.get("cpu_s"), (int, float))]
        if timed:
            hours, timed_figures = zip(*timed)
            by_time.plot(hours, timed_figures, "o-", color=f"C{i}", markersize=3,
                         linewidth=1.2, label=label)
        if steps:
            _plot_training_loss(by_time, by_epoch, step_records, epochs, f"C{i}", step_key)
            highest.append(max(r[step_key] for r in step_records))
    for ax in (by_time, by_epoch):
        for bound, text, style in ANCHORS if anchored else ():
            ax.axhline(bound, color="0.35", linestyle=style, linewidth=0.9,
                       label=text if ax is by_epoch else None)
        ax.grid(alpha=0.3)
    if anchored:
        epochs, bounds, texts = zip(*REPRODUCTION)
        by_epoch.plot(epochs, bounds, "k^", markersize=5,
                      label="best public reproduction (jbornschein/draw #4)")
        for epoch, bound, text in REPRODUCTION:
            by_epoch.annotate(text, (epoch, bound), textcoords="offset points", xytext=(0, 6),
                              ha="center", fontsize=7)
        by_time.set_ylim(78, min(max(highest) + 5, 220))
    elif kind == "classifier":  # errors fall from ~80 % to a few: show up to thrice the lowest
        by_time.set_ylim(0, min(max(highest), 3 * min(lowest)) * 1.05)
    else:  # the first epochs' bounds dwarf the rest: show from the lowest to twice its height
        by_time.set_ylim(min(lowest) - 5, min(max(highest), 2 * min(lowest)) + 5)
    by_time.set_xlabel("CPU hours of training (all sessions)")
    by_epoch.set_xlabel("epoch")
    by_time.set_ylabel(axis_label)
    if kind == "draw":   # a DRAW run gains most of its bound in its first few epochs
        by_epoch.set_xscale("log")
    if steps:
        by_epoch.plot([], [], color="0.4", linewidth=0.8, alpha=0.6,
                      label=f"thin: training {step_key} (every few steps)")
    by_time.legend(fontsize=8, loc="lower left")
    by_epoch.legend(fontsize=7, loc="upper right")
    title = "binarised MNIST" if anchored else dataset
    fig.suptitle(f"{MODEL_NAMES[kind]} on {title}: time to quality", fontsize=11)
    return fig


def _plot_training_loss(by_time, by_epoch, step_records, epochs, colour, key) -> None:
    """A run's logged training figure ``key`` against CPU hours and (fractional) epochs."""
    steps_per_epoch = epochs[0]["step"] / epochs[0]["epoch"]
    by_epoch.plot([r["step"] / steps_per_epoch for r in step_records],
                  [r[key] for r in step_records], color=colour, linewidth=0.8, alpha=0.6)
    timed = [(r["cpu_s"] / 3600, r[key]) for r in step_records
             if isinstance(r.get("cpu_s"), (int, float))]
    if timed:
        by_time.plot(*zip(*timed), color=colour, linewidth=0.8, alpha=0.6)
