"""``python -m draw_np bench``: how long one training step takes, and how long it could take.

One training step is what :func:`draw_np.train.train` does per batch: ``loss_and_grads``
(the unrolled forward pass and backprop through time), clipping by global norm, an Adam update.
This module answers three questions about it, in one run, on the current backend:

1. **How long does it take?** :func:`benchmark_step` times repeated steps after a warm-up and
   reports the median and the spread (min, max, interquartile range), the forward pass alone,
   the peak memory of a step and the time an epoch of 50,000 images would take.
2. **How much arithmetic is it?** :func:`count_step_flops` counts the floating-point work of one
   step from the matrix products the model reports (``model.matmul_shapes``, the interface of
   :mod:`draw_np.models`), ``2·m·k·n`` for each ``(m, k) @ (k, n)``. In DRAW almost all of it is
   in the two LSTMs: every linear map ``y = x W`` costs three products per step, the forward
   ``x W``, the input gradient ``dy Wᵀ`` and the weight gradient ``xᵀ dy``.
3. **How fast could it be?** :func:`matmul_limit` times this machine's own matrix multiply on
   exactly those shapes and dtype. The step cannot beat ``step FLOPs / that throughput``: the
   fraction of this limit a step reaches says how much time goes elsewhere (elementwise work,
   small operations, Python).

``--compare torch`` also times the same DRAW step by PyTorch's autograd
(:mod:`draw_np.torch_reference`), alternating with draw_np's, and reports the ratio. The model
comes from the preset's config through :mod:`draw_np.models`, so any model kind's preset works.

GPU timings synchronise the device before each clock reading, so they measure the work and not
the queueing of kernels. Nothing here changes the model; the numbers are only as good as the
machine is quiet (the load average is reported, with a warning when the machine is busy).

What lives where (the public names are re-exported here):

* :mod:`~draw_np.bench.flops` — the FLOP count: :func:`count_step_flops`, :func:`step_products`;
* :mod:`~draw_np.bench.timing` — :func:`synchronize`, the self-calibrating timer, summaries;
* :mod:`~draw_np.bench.matmul_limit` — :func:`matmul_limit`, the machine's limit on the step;
* :mod:`~draw_np.bench.footprint` — the peak memory of a step and :func:`cache_breakdown`, what
  the forward pass keeps for the backward pass;
* :mod:`~draw_np.bench.profile` — one step under cProfile;
* :mod:`~draw_np.bench.machine` — :func:`machine_info` and the warnings of a busy machine;
* :mod:`~draw_np.bench.step` — :func:`benchmark_step`, which puts all of these together, and
  :func:`compare_torch`;
* :mod:`~draw_np.bench.report` — :func:`format_report`, the human-readable table;
* :mod:`~draw_np.bench.cli` — the ``bench`` command (``add_parser``, ``run``).
"""
from .cli import add_parser, run
from .flops import Product, count_step_flops, step_products
from .footprint import CACHE_PARTS, cache_breakdown
from .machine import blas_threads, machine_info
from .matmul_limit import SMALL_PRODUCT_FLOPS, matmul_limit
from .report import format_report
from .step import (COMPARISONS, EPOCH_IMAGES, INSTALL_TORCH, benchmark_step, compare_torch,
                   synthetic_batch)
from .timing import synchronize

__all__ = [
    "CACHE_PARTS", "COMPARISONS", "EPOCH_IMAGES", "INSTALL_TORCH", "Product",
    "SMALL_PRODUCT_FLOPS", "add_parser", "benchmark_step", "blas_threads", "cache_breakdown",
    "compare_torch", "count_step_flops", "format_report", "machine_info", "matmul_limit", "run",
    "step_products", "synchronize", "synthetic_batch",
]
