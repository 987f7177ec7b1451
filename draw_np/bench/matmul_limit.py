"""How fast could a step be? This machine's matrix multiply on the step's own shapes."""
from __future__ import annotations

import statistics

from .. import backend
from .flops import Product, check_int, step_products
from .timing import Timer

#: A product of fewer FLOPs than this is *small* (a filterbank product of 2 x 28 by 28 x 28, a
#: filter's row sums): a model runs such products as stacks, and one alone measures the cost of
#: a call, not the machine's arithmetic. The smallest dense product of the paper's DRAW, the
#: attention map (100, 256) @ (256, 5), is 256 kFLOP; its largest small one 44 kFLOP.
SMALL_PRODUCT_FLOPS = 100_000

#: Small products are timed in stacks of at most this many (``a @ b`` on 3-D arrays).
SMALL_STACK = 256


def _operands(p: Product, rng: backend.Random, dtype: str):
    """Random operands laid out as a model's code lays them out, and the product to time.

    A weight gradient ``xᵀ dy`` takes a transposed view, as ``x.T @ dy`` does; every other
    product multiplies two C-ordered arrays (the input gradients ``dy Wᵀ`` of DRAW's big layers
    take a contiguous ``Wᵀ``: the faster layout, so the limit is the stricter). A small product
    is a stack of ``min(count, SMALL_STACK)``; the timer then gives the seconds per stack.
    """
    if p.flops_each < SMALL_PRODUCT_FLOPS:
        stack = min(p.count, SMALL_STACK)
        a, b = rng.normal((stack, p.rows, p.inner), dtype), rng.normal((stack, p.inner, p.cols), dtype)
        return stack, lambda: a @ b
    if p.role == "grad_weight":
        x, dy = rng.normal((p.inner, p.rows), dtype), rng.normal((p.inner, p.cols), dtype)
        return 1, lambda: x.T @ dy
    a, b = rng.normal((p.rows, p.inner), dtype), rng.normal((p.inner, p.cols), dtype)
    return 1, lambda: a @ b


def matmul_limit(model, batch: int, dtype: str = "float32", repeats: int = 5, warmup: int = 1,
                 seed: int = 0, between=None) -> dict:
    """This machine's matrix-multiply throughput on the step's own shapes, and the step-time limit.

    Every product family the model reports (``model.matmul_shapes(batch)``) is timed on the
    current backend in ``dtype``: the median of ``repeats`` samples. The throughput of the
    *dense* ones (at least :data:`SMALL_PRODUCT_FLOPS` each) is weighted by the step's mix,
    ``Σ FLOPs / Σ count · seconds``: the rate at which this machine would do exactly the step's
    dense products back to back. The **limit** on the step time is ``matmul FLOPs /
    throughput``: all of the step's products, the small ones included, at that rate. The small
    ones are also timed as stacks (far below peak) and reported apart as ``small_s``: how long
    they take as a model can run them, an implementation cost rather than the machine's limit.

    The samples are taken in ``repeats`` rounds of one sample of every shape. ``between``, if
    given, is called after each round: :func:`benchmark_step` times training steps there, so
    that the step and the limit are measured over the same stretch of time on a machine whose
    speed drifts.

    Returns a dict: ``gflops`` (weighted dense throughput), ``limit_s``, ``dense_s`` (the dense
    products at their measured speeds), ``small_s``, ``small_gflops``, ``shapes`` (one row per
    product family), and the FLOPs.
    """
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    check_int("repeats", repeats)
    check_int("warmup", warmup, 0)
    products = step_products(model, batch)
    rng = backend.Random([seed, 2])
    operands = [_operands(p, rng, str(dtype)) for p in products]
    timers = [Timer(fn, warmup) for _, fn in operands]
    samples = [[] for _ in products]
    for _ in range(repeats):
        for timer, taken in zip(timers, samples):
            taken.append(timer.sample())
        if between is not None:
            between()
    rows = []
    dense_s = small_s = 0.0
    dense_flops = small_flops = 0
    for p, (stack, _), taken in zip(products, operands, samples):
        per_product = statistics.median(taken) / stack
        small = p.flops_each < SMALL_PRODUCT_FLOPS
        rows.append(dict(label=p.label, layer=p.layer, role=p.role, shape=p.shape(),
                         calls=p.count, small=small, seconds_per_call=per_product,
                         gflops=p.flops_each / per_product / 1e9))
        if small:
            small_s += p.count * per_product
            small_flops += p.flops
        else:
            dense_s += p.count * per_product
            dense_flops += p.flops
    if not dense_flops:
        raise ValueError(f"the model reports no product of {SMALL_PRODUCT_FLOPS} FLOPs or more at "
                         f"batch {batch}: there is no dense throughput to measure a limit with")
    gflops = dense_flops / dense_s / 1e9
    matmul_flops = dense_flops + small_flops
    return dict(dtype=str(dtype), backend=backend.get_backend(), repeats=repeats,
                gflops=gflops, limit_s=matmul_flops / (gflops * 1e9), dense_s=dense_s,
                dense_flops=dense_flops, small_flops=small_flops, matmul_flops=matmul_flops,
                small_s=small_s, small_gflops=(small_flops / small_s / 1e9) if small_s else None,
                shapes=rows)
