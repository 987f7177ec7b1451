"""How fast could a step be? This machine's matrix multiply on the step's own shapes."""
from __future__ import annotations

import statistics

from .. import backend
from ..model import DRAWConfig
from .flops import Product, check_int, step_products
from .timing import Timer


def _product_operands(p: Product, rng: backend.Random, dtype: str, stacked_T: int = 1):
    """Random operands laid out as the model's code lays them out, and the product to time.

    ``x W`` multiplies two C-ordered arrays; ``dy Wᵀ`` takes a contiguous ``Wᵀ``, as the model
    does for its big layers (:meth:`draw_np.model.DRAW.weights_T`: the faster layout, so the
    limit is the stricter); ``xᵀ dy`` takes a transposed view, as ``x.T @ dy`` does.
    """
    if p.role == "forward":
        a, b = rng.normal((p.m, p.k), dtype), rng.normal((p.k, p.n), dtype)
        return lambda: a @ b
    if p.role == "grad_input":
        a, w_T = rng.normal((p.m, p.k), dtype), rng.normal((p.k, p.n), dtype)
        return lambda: a @ w_T
    if p.role == "grad_weight":
        x, dy = rng.normal((p.k * stacked_T, p.m), dtype), rng.normal((p.k * stacked_T, p.n), dtype)
        return lambda: x.T @ dy
    a, b = rng.normal((p.batch, p.m, p.k), dtype), rng.normal((p.batch, p.k, p.n), dtype)
    return lambda: a @ b


def matmul_limit(config: DRAWConfig, batch: int, dtype: str = "float32", repeats: int = 5,
                 warmup: int = 1, seed: int = 0, between=None) -> dict:
    """This machine's matrix-multiply throughput on the step's own shapes, and the step-time limit.

    Every linear map's three products (:func:`step_products`) are timed on the current backend
    in ``dtype``: the median of ``repeats`` samples. The weight gradient is timed both ways a
    model can make it: per step, ``(in, n) @ (n, out)`` T times, and stacked over the unroll,
    one ``(in, T·n) @ (T·n, out)``; the limit takes the faster (both are reported).

    The throughput is weighted by the step's FLOP mix: ``Σ FLOPs / Σ count · seconds``, i.e. the
    rate at which this machine would do exactly the step's dense products back to back. The
    **limit** on the step time is ``matmul FLOPs / throughput``: all of the step's products,
    the small batched attention products included, at that rate. The attention products are
    also timed as NumPy/CuPy run them (stacks of tiny matrices, far below peak) and reported
    apart as ``attention_s``: that is an implementation cost, not the machine's limit.

    The samples are taken in ``repeats`` rounds of one sample of every shape. ``between``, if
    given, is called after each round: :func:`benchmark_step` times training steps there, so
    that the step and the limit are measured over the same stretch of time on a machine whose
    speed drifts.

    Returns a dict: ``gflops`` (weighted dense throughput), ``limit_s``, ``dense_s`` (the dense
    products at their measured speeds), ``weight_grad_per_step_s``, ``weight_grad_stacked_s``,
    ``attention_s``, ``attention_gflops``, ``shapes`` (one row per timed shape), and the FLOPs.
    """
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    check_int("repeats", repeats)
    check_int("warmup", warmup, 0)
    products = step_products(config, batch)
    rng = backend.Random([seed, 2])
    # (product, role label, steps stacked into the weight gradient) for every timed shape
    shapes = []
    for p in products:
        if p.role == "grad_weight":
            shapes += [(p, "grad_weight", 1), (p, "grad_weight_stacked", p.count)]
        else:
            shapes.append((p, p.role, 1))
    timers = [Timer(_product_operands(p, rng, str(dtype), stacked_T), warmup)
              for p, _, stacked_T in shapes]
    samples = [[] for _ in shapes]
    for _ in range(repeats):
        for timer, taken in zip(timers, samples):
            taken.append(timer.sample())
        if between is not None:
            between()
    rows = []
    dense_s = per_step_wg = stacked_wg = attention_s = 0.0
    dense_flops = attention_flops = 0
    for (p, label, stacked_T), taken in zip(shapes, samples):
        per_call = statistics.median(taken)
        k = p.k * stacked_T
        rows.append(dict(layer=p.layer, role=label, shape=_shape_str(p, k),
                         calls=p.count // stacked_T, seconds_per_call=per_call,
                         gflops=2 * p.m * k * p.n * p.batch / per_call / 1e9))
        if label == "batched":
            attention_s += p.count * per_call
            attention_flops += p.flops
        elif label == "grad_weight":             # the stacked form of p comes next
            per_step = p.count * per_call
            per_step_wg += per_step
        elif label == "grad_weight_stacked":
            stacked_wg += per_call
            dense_s += min(per_step, per_call)
            dense_flops += p.flops
        else:
            dense_s += p.count * per_call
            dense_flops += p.flops
    gflops = dense_flops / dense_s / 1e9
    matmul_flops = dense_flops + attention_flops
    return dict(dtype=str(dtype), backend=backend.get_backend(), repeats=repeats,
                gflops=gflops, limit_s=matmul_flops / (gflops * 1e9), dense_s=dense_s,
                dense_flops=dense_flops, attention_flops=attention_flops,
                matmul_flops=matmul_flops, weight_grad_per_step_s=per_step_wg,
                weight_grad_stacked_s=stacked_wg, attention_s=attention_s,
                attention_gflops=(attention_flops / attention_s / 1e9) if attention_s else None,
                shapes=rows)


def _shape_str(p: Product, k: int) -> str:
    stack = f"{p.batch} x " if p.batch > 1 else ""
    return f"{stack}({p.m}, {k}) @ ({k}, {p.n})"
