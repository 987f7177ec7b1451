"""Pictures of DRAW at work, and the ``plot`` command that draws them from a checkpoint.

Each figure is a function that returns a matplotlib :class:`~matplotlib.figure.Figure`; the
caller saves it (``fig.savefig("out.png")``), and Jupyter shows it inline. Nothing here opens a
window or picks a GUI backend, and matplotlib is imported inside the functions, so ``import draw_np.plot`` is cheap.

What lives where (every name below is re-exported here):

* :mod:`~draw_np.plot.geometry` — the paper's 1-based coordinates on ``imshow``'s axes:
  :func:`glimpse_box`, :func:`glimpse_line_width`, the read and write colours;
* :mod:`~draw_np.plot.layout` — grids of square frames sized to the images (:data:`MIN_ZOOM`),
  grey or RGB, the steps shown (:func:`choose_steps`) and the limits on a figure's size
  (:data:`MAX_FRAMES`, :data:`MAX_SIDE_PIXELS`, :data:`MAX_PIXELS`);
* :mod:`~draw_np.plot.drawing` — :func:`plot_generation` (the paper's Figure 1; Figure 7
  without attention) and :func:`plot_reconstruction` (read glimpse in green on the input, write
  glimpse in red on the canvas);
* :mod:`~draw_np.plot.filterbank` — :func:`plot_filterbank`, the paper's Figure 3;
* :mod:`~draw_np.plot.animation` — :func:`animate_generation`, a GIF of digits being drawn;
  :func:`generation_animation` and :func:`animation_page`, the same as HTML with a JavaScript player;
* :mod:`~draw_np.plot.training_log` — :func:`read_training_log`, the records of a ``log.jsonl``;
* :mod:`~draw_np.plot.curves` — :func:`plot_training_curves` from that log;
* :mod:`~draw_np.plot.quality` — :func:`plot_time_to_quality`, the bound against CPU hours
  and epochs with the paper's figures marked;
* :mod:`~draw_np.plot.kl` — :func:`plot_kl_per_step`, which steps carry information;
* :mod:`~draw_np.plot.classifier` — :func:`plot_classifier_glimpses`, where the attention
  classifier looked and what it read, right and wrong (:func:`choose_examples`);
* :mod:`~draw_np.plot.cli` — the ``plot`` command (``add_parser``), which writes atomically.
"""
from .animation import (HOLD_LAST_FRAME_S, animate_generation, animation_page,
                        generation_animation)
from .classifier import choose_examples, plot_classifier_glimpses
from .cli import ASSETS, DEFAULT_CHECKPOINT, DEFAULT_DATA, add_parser
from .curves import plot_training_curves
from .drawing import plot_generation, plot_reconstruction
from .filterbank import FilterSetting, paper_filter_settings, plot_filterbank, read_patch
from .geometry import (LINE_WIDTH_AT_UNIT_SIGMA, LINE_WIDTH_RANGE, READ_COLOUR, WRITE_COLOUR, Box,
                       glimpse_box, glimpse_line_width)
from .kl import plot_kl_per_step
from .quality import plot_time_to_quality
from .layout import DPI, MAX_FRAMES, MAX_PIXELS, MAX_SIDE_PIXELS, MIN_ZOOM, choose_steps
from .training_log import EPOCH_FIELDS, STEP_FIELDS, read_training_log

__all__ = [
    "ASSETS", "Box", "DEFAULT_CHECKPOINT", "DEFAULT_DATA", "DPI", "EPOCH_FIELDS", "FilterSetting",
    "HOLD_LAST_FRAME_S", "LINE_WIDTH_AT_UNIT_SIGMA", "LINE_WIDTH_RANGE", "MAX_FRAMES",
    "MAX_PIXELS", "MAX_SIDE_PIXELS", "MIN_ZOOM", "READ_COLOUR", "STEP_FIELDS", "WRITE_COLOUR",
    "add_parser", "animate_generation", "animation_page", "choose_examples", "choose_steps",
    "generation_animation", "glimpse_box", "glimpse_line_width", "paper_filter_settings",
    "plot_classifier_glimpses", "plot_filterbank", "plot_generation", "plot_kl_per_step",
    "plot_reconstruction", "plot_time_to_quality", "plot_training_curves", "read_patch",
    "read_training_log",
]
