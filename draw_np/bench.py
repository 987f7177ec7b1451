"""``python -m draw_np bench``: how long one training step takes, and how long it could take.

One training step is what :func:`draw_np.train.train` does per batch: ``loss_and_grads``
(the unrolled forward pass and backprop through time), clipping by global norm, an Adam update.
This module answers three questions about it, in one run, on the current backend:

1. **How long does it take?** :func:`benchmark_step` times repeated steps after a warm-up and
   reports the median and the spread (min, max, interquartile range), the forward pass alone,
   the peak memory of a step and the time an epoch of 50,000 images would take.
2. **How much arithmetic is it?** :func:`count_step_flops` counts the floating-point work of one
   step from the model's matrix products, ``2·m·k·n`` for each ``(m, k) @ (k, n)``. Almost all
   of it is in the two LSTMs: every linear map ``y = x W`` costs three products per step, the
   forward ``x W``, the input gradient ``dy Wᵀ`` and the weight gradient ``xᵀ dy``.
3. **How fast could it be?** :func:`matmul_limit` times this machine's own matrix multiply on
   exactly those shapes and dtype. The step cannot beat ``step FLOPs / that throughput``: the
   fraction of this limit a step reaches says how much time goes elsewhere (elementwise work,
   small operations, Python).

GPU timings synchronise the device before each clock reading, so they measure the work and not
the queueing of kernels. Nothing here changes the model; the numbers are only as good as the
machine is quiet (the load average is reported, with a warning when the machine is busy).
"""
from __future__ import annotations

import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc
from typing import NamedTuple

from . import backend, memory
from .model import DRAW, DRAWConfig, param_shapes
from .optim import Adam, clip_by_global_norm
from .presets import PRESETS, preset
from .validate import trusted

#: Images in one epoch of binarised MNIST training (the standard 50,000 / 10,000 / 10,000 split).
EPOCH_IMAGES = 50_000

#: Rough elementwise cost, in FLOPs per element, of the pieces of one step (forward + backward).
#: Counted from the code: e.g. an LSTM's gates, cell and output take about 25 operations per
#: hidden unit forward (three sigmoids at ~4 each, two tanh, the cell update, the bias add) and
#: about 25 backward; a filterbank axis ~7 per filter entry forward and ~13 backward. These
#: are estimates: elementwise work is limited by memory traffic, not arithmetic, so its FLOP
#: count says little about its time. It is reported, and kept out of the matmul limit.
ELEMENTWISE_COST = {"lstm_unit": 50, "pixel": 15, "filter_entry": 20, "latent": 20,
                    "attention_param": 30, "optimiser_param": 12}


# ------------------------------------------------------------------------------ FLOP counting
class Product(NamedTuple):
    """One family of matrix products in a training step: ``count`` times ``(m, k) @ (k, n)``,
    each a stack of ``batch`` independent products (``batch = 1`` for a plain 2-D product)."""
    part: str   # encoder_lstm, decoder_lstm, heads, attention
    layer: str  # the parameter prefix (enc, dec, mu, ...) or the attention operation
    role: str   # forward, grad_input, grad_weight, or batched (attention filterbank products)
    m: int
    k: int
    n: int
    batch: int
    count: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.batch * self.count

    def as_dict(self) -> dict:
        return dict(self._asdict(), flops=self.flops)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def linear_layers(config: DRAWConfig) -> list:
    """The step's linear maps ``y = x W + b`` as ``(part, layer, in, out)``.

    An LSTM's fused gate map takes ``u = [input, h_prev]``, so its ``in`` is input + size and
    its ``out`` is 4·size (spec, "LSTM"); the encoder's input is ``[r_t, h^dec_{t−1}]``.
    """
    c = config
    layers = [
        ("encoder_lstm", "enc", c.read_size + c.dec_size + c.enc_size, 4 * c.enc_size),
        ("decoder_lstm", "dec", c.z_size + c.dec_size, 4 * c.dec_size),
        ("heads", "mu", c.enc_size, c.z_size),
        ("heads", "logsigma", c.enc_size, c.z_size),
        ("heads", "write", c.dec_size, c.write_size),
    ]
    if c.attention:
        layers += [("heads", "read_attn", c.dec_size, 5), ("heads", "write_attn", c.dec_size, 5)]
    return layers


def _attention_products(config: DRAWConfig, n: int) -> list:
    """The batched filterbank products of eqs. 27 and 29 and their gradients, per step.

    They follow :mod:`draw_np.readwrite`, where ``A @ B @ C`` runs left to right. Read
    (eq. 27) filters the image and the error image: a stack of 2n products of each shape.
    """
    c = config
    H, W, R, N = c.H, c.W, c.read_n, c.write_n
    read = [  # P = F_Y X F_Xᵀ, then dX = F_Yᵀ G F_X, dF_Y = G F_X Xᵀ, dF_X = Gᵀ F_Y X
        ("read_forward", R, H, W), ("read_forward", R, W, R),
        ("read_grad_image", H, R, R), ("read_grad_image", H, R, W),
        ("read_grad_Fy", R, R, W), ("read_grad_Fy", R, W, H),
        ("read_grad_Fx", R, R, H), ("read_grad_Fx", R, H, W),
    ]
    write = [  # out = F_Yᵀ w F_X, then dw = F_Y G F_Xᵀ, dF_Y = w F_X Gᵀ, dF_X = wᵀ F_Y G
        ("write_forward", H, N, N), ("write_forward", H, N, W),
        ("write_grad_patch", N, H, W), ("write_grad_patch", N, W, N),
        ("write_grad_Fy", N, N, W), ("write_grad_Fy", N, W, H),
        ("write_grad_Fx", N, N, H), ("write_grad_Fx", N, H, W),
    ]
    return ([Product("attention", name, "batched", m, k, k2, 2 * n, c.T)
             for name, m, k, k2 in read]
            + [Product("attention", name, "batched", m, k, k2, n, c.T)
               for name, m, k, k2 in write])


def step_products(config: DRAWConfig, batch: int) -> list:
    """Every matrix product of one training step, as :class:`Product` families.

    Each linear map ``y = x W`` with ``x: (n, in)``, ``W: (in, out)`` costs, at each of the T
    steps, ``x W`` (n, in) @ (in, out), ``dy Wᵀ`` (n, out) @ (out, in) and ``xᵀ dy``
    (in, n) @ (n, out). The weight gradient is listed per step (``k = n``, T products); the
    model may instead make it one product over the whole unroll (``k = T·n``), which does the
    same FLOPs (:func:`matmul_limit` times both shapes).
    """
    _check_positive_int("batch", batch)
    T, n = config.T, batch
    products = []
    for part, layer, n_in, n_out in linear_layers(config):
        products += [Product(part, layer, "forward", n, n_in, n_out, 1, T),
                     Product(part, layer, "grad_input", n, n_out, n_in, 1, T),
                     Product(part, layer, "grad_weight", n_in, n, n_out, 1, T)]
    if config.attention:
        products += _attention_products(config, n)
    return products


def elementwise_flops(config: DRAWConfig, batch: int) -> dict:
    """A rough count of the step's elementwise FLOPs (see :data:`ELEMENTWISE_COST`), by piece."""
    c, e = config, ELEMENTWISE_COST
    per_example_step = {
        "lstm": e["lstm_unit"] * (c.enc_size + c.dec_size),
        "canvas": e["pixel"] * c.H * c.W,            # σ(c), x̂, c + write, their gradients
        "latent": e["latent"] * c.z_size,            # sample, KL and their gradients
    }
    if c.attention:
        per_example_step["filterbanks"] = e["filter_entry"] * (c.read_n + c.write_n) * (c.H + c.W)
        per_example_step["attention_params"] = 2 * e["attention_param"] * 5
    out = {k: v * c.T * batch for k, v in per_example_step.items()}
    n_params = sum(math.prod(s) for s in param_shapes(config).values())
    out["clip_and_adam"] = e["optimiser_param"] * n_params
    return out


def count_step_flops(config: DRAWConfig, batch: int) -> dict:
    """The floating-point work of one training step (forward + backward), counted analytically.

    Matrix products count ``2·m·k·n`` each (a multiply and an add per term); see
    :func:`step_products` for the list. For the paper's model (T = 64, LSTMs of 256, z = 100,
    read 2×2, write 5×5) at batch 100 the matrix products come to 37.2 GFLOP:

    * encoder LSTM  3 · 64 · 2·100·520·1024  = 20.4 GFLOP  (in = 8 + 256 + 256, out = 4·256)
    * decoder LSTM  3 · 64 · 2·100·356·1024  = 14.0 GFLOP  (in = 100 + 256)
    * heads (μ, log σ, write, two attention maps)       2.3 GFLOP
    * attention filterbank products (eqs. 27, 29)       0.4 GFLOP

    The optimiser and the elementwise work (gates, filterbanks, canvas, about 0.3 GFLOP) are a
    rough estimate, reported apart: they are limited by memory traffic, not arithmetic.

    Returns a dict: ``matmul`` (the FLOPs of all matrix products: the figure the matmul limit
    applies to), ``elementwise`` (the estimate), ``total`` (their sum), ``parts`` (encoder_lstm,
    decoder_lstm, heads, attention, elementwise; they add up to ``total``), ``layers`` (FLOPs
    per linear map or attention operation) and ``products`` (every product family as a dict).
    """
    if not isinstance(config, DRAWConfig):
        raise ValueError(f"config must be a DRAWConfig, got {type(config).__name__}")
    products = step_products(config, batch)
    parts = {p: 0 for p in ("encoder_lstm", "decoder_lstm", "heads", "attention")}
    layers = {}
    for p in products:
        parts[p.part] += p.flops
        layers[p.layer] = layers.get(p.layer, 0) + p.flops
    matmul = sum(parts.values())
    elementwise = elementwise_flops(config, batch)
    parts["elementwise"] = sum(elementwise.values())
    return dict(batch=batch, T=config.T, matmul=matmul, elementwise=parts["elementwise"],
                total=matmul + parts["elementwise"], parts=parts, layers=layers,
                elementwise_pieces=elementwise, products=[p.as_dict() for p in products])


# ----------------------------------------------------------------------------------- timing
def _is_cupy() -> bool:
    return backend.get_backend() == "cupy"


def synchronize() -> None:
    """Wait for the device to finish its queued work (a no-op on NumPy)."""
    if _is_cupy():
        backend.xp().cuda.Device().synchronize()


class _Timer:
    """Times one product: ``sample()`` gives the seconds per call of ``fn()``.

    Made after ``warmup`` calls; a sample runs ``fn`` enough times to last about a millisecond,
    so small products are not lost in the clock's resolution. On CuPy a sample is a CUDA event
    time on the current stream; the device is synchronised first.
    """

    def __init__(self, fn, warmup: int = 1):
        self.fn = fn
        for _ in range(warmup):
            fn()
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        single = time.perf_counter() - start
        self.inner = max(1, min(1000, int(1e-3 / max(single, 1e-9))))

    def sample(self) -> float:
        fn, inner = self.fn, self.inner
        if _is_cupy():
            cuda = backend.xp().cuda
            begin, end = cuda.Event(), cuda.Event()
            begin.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return cuda.get_elapsed_time(begin, end) / 1e3 / inner  # ms -> s
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - start) / inner


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
    _check_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    products = step_products(config, batch)
    rng = backend.Random([seed, 2])
    # (product, role label, steps stacked into the weight gradient) for every timed shape
    shapes = []
    for p in products:
        if p.role == "grad_weight":
            shapes += [(p, "grad_weight", 1), (p, "grad_weight_stacked", p.count)]
        else:
            shapes.append((p, p.role, 1))
    timers = [_Timer(_product_operands(p, rng, str(dtype), stacked_T), warmup)
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


# ------------------------------------------------------------------------ the step benchmark
def _nbytes(arrays) -> int:
    return int(sum(a.nbytes for a in arrays))


def _step_memory(step) -> tuple:
    """Peak bytes allocated during one call of ``step()`` beyond what was held before it.

    NumPy reports its array allocations to ``tracemalloc``: the peak of the memory traced
    during the step is the step's own high-water mark (caches of all T steps, gradients,
    temporaries). CuPy allocates from its memory pool: after releasing the pool's cached free
    blocks, what the pool holds after the step is its high-water mark for the step, an upper
    bound on the peak within the pool's rounding of block sizes.
    """
    if _is_cupy():
        pool = backend.xp().get_default_memory_pool()
        synchronize()
        pool.free_all_blocks()
        base = pool.used_bytes()
        step()
        synchronize()
        return int(pool.total_bytes() - base), "CuPy memory pool high-water mark during the step"
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(peak - base), "tracemalloc: peak of the allocations made during the step"


#: The parts of a step that the backward pass needs, as fields of :class:`draw_np.model.StepCache`.
CACHE_PARTS = {
    "encoder LSTM (eq. 5): input [r, h_dec, h_enc], gates, cells": ("enc",),
    "decoder LSTM (eq. 7): input [z, h_dec], gates, cells": ("dec",),
    "canvas sigma(c_t-1) (eq. 3), for the error image's gradient": ("canvas_prob",),
    "mu, log sigma, sample, KL (eqs. 1-2, 6, 11): h_enc, eps, sigma": ("mu", "logsigma",
                                                                     "sample", "kl"),
    "read and its glimpse (eqs. 4, 19-27): F_Y X, X F_X^T, filters": ("read", "read_glimpse"),
    "write and its glimpse (eqs. 8, 28-29): h_dec, patch, filters": ("write", "write_glimpse"),
}


def cache_breakdown(model: DRAW, x, eps) -> dict:
    """Bytes that the forward pass keeps for the backward pass, by part of the step, over all T.

    Each array is counted once, by the buffer it views, at the first part that holds it (the
    decoder state h^dec_t, for one, is the write head's input and the next read head's too).
    Parameters and the images x are not counted; the noise ε is, under the latent part.
    Returns ``{"parts": {label: bytes}, "total": bytes, "per_step": bytes}``.
    """
    with trusted():
        _, _, caches, _ = model._forward(x, eps)   # the same caches loss_and_grads keeps
    skip = {id(a) for a in model.params.values()} | {id(x)}
    seen, parts = set(), dict.fromkeys(CACHE_PARTS, 0)

    def arrays(tree):
        if isinstance(tree, tuple):
            for item in tree:
                yield from arrays(item)
        elif hasattr(tree, "nbytes") and hasattr(tree, "shape"):
            yield tree if tree.base is None else tree.base

    for cache in caches:
        for label, fields in CACHE_PARTS.items():
            for field in fields:
                for a in arrays(getattr(cache, field)):
                    if id(a) not in seen and id(a) not in skip:
                        seen.add(id(a))
                        parts[label] += int(a.nbytes)
    total = sum(parts.values())
    return dict(parts=parts, total=total, per_step=total / len(caches))


def _summary(samples: list) -> dict:
    """Median, min, max and interquartile range of a list of seconds."""
    if len(samples) > 1:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    else:
        q1 = q3 = samples[0]
    return dict(median_s=statistics.median(samples), min_s=min(samples), max_s=max(samples),
                iqr_s=q3 - q1, samples_s=list(samples))


def _profile(step, top: int) -> list:
    """Run ``step()`` once under cProfile; the ``top`` entries by own time (tottime)."""
    profiler = cProfile.Profile()
    profiler.enable()
    step()
    synchronize()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        short = filename.split("draw_np" + os.sep, 1)[-1] if "draw_np" in filename else filename
        rows.append(dict(function=f"{short}:{line}({name})", calls=ncalls, tottime_s=tottime,
                         cumtime_s=cumtime, share=tottime / total if total else 0.0))
    rows.sort(key=lambda r: -r["tottime_s"])
    return rows[:top]


def machine_info() -> dict:
    """CPU model and cores, load, Python, NumPy and its BLAS; the GPU on the CuPy backend."""
    import numpy
    info = {"backend": backend.get_backend(), "python": platform.python_version(),
            "numpy": numpy.__version__, "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    info["load_1min"] = _load()
    info["blas"] = _blas_info()
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "MKL_NUM_THREADS") if k in os.environ}
    if threads:
        info["thread_env"] = threads
    if _is_cupy():
        info["gpu"] = _gpu_info()
    return info


def _blas_info() -> str:
    """The BLAS NumPy uses: threadpoolctl's view if installed, else NumPy's build config."""
    try:
        from threadpoolctl import threadpool_info
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            return ", ".join(f"{p.get('internal_api')} {p.get('version')} "
                             f"({p.get('num_threads')} threads)" for p in blas)
    except Exception:  # not installed, or an old version: fall back to NumPy's own account
        pass
    try:
        import numpy
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # NumPy < 1.25 has no mode="dicts"
        return "unknown"


def _gpu_info() -> dict:
    cp = backend.xp()
    info = {"cupy": cp.__version__}
    try:
        device = cp.cuda.Device()
        props = cp.cuda.runtime.getDeviceProperties(device.id)
        name = props.get("name", b"")
        info["name"] = name.decode() if isinstance(name, bytes) else str(name)
        info["memory_bytes"] = int(props.get("totalGlobalMem", 0))
        info["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
    except Exception as exc:  # information only: never fail a benchmark over it
        info["error"] = str(exc)
    return info


def benchmark_step(preset: str = "paper", batch_size: int | None = None, repeats: int = 10,
                   warmup: int = 2, dtype: str = "float32", seed: int = 0,
                   matmul_repeats: int = 5, forward: bool = True, profile: int = 0,
                   progress=None) -> dict:
    """Time the training step of a preset on the current backend, and put it against the limit.

    Args:
        preset: ``tiny``, ``quick`` or ``paper`` (:mod:`draw_np.presets`).
        batch_size: images per step; the preset's (100 for ``paper``) if None.
        repeats: timed steps, after ``warmup`` untimed ones.
        dtype: ``float32`` (training) or ``float64``.
        seed: seeds the model, the batch and the noise.
        matmul_repeats: samples per shape in :func:`matmul_limit`, taken in as many rounds;
            the timed steps are spread over the gaps between the rounds.
        forward: also time the forward pass alone (``model.loss_terms``).
        profile: if > 0, run one more step under cProfile and keep this many entries.
        progress: an optional function called with a short message before each phase.
    Returns:
        a JSON-able dict: ``step`` (median_s, min_s, max_s, iqr_s, samples_s), ``forward``,
        ``flops`` (:func:`count_step_flops`), ``limit`` (:func:`matmul_limit`),
        ``achieved_gflops``, ``fraction_of_limit``, ``memory``, ``epoch_s``, ``machine``, ...
    """
    config, settings = _preset(preset)
    batch = settings.batch_size if batch_size is None else batch_size
    _check_positive_int("batch_size", batch)
    _check_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    _check_positive_int("matmul_repeats", matmul_repeats)
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if isinstance(profile, bool) or not isinstance(profile, int) or profile < 0:
        raise ValueError(f"profile must be an integer >= 0, got {profile!r}")
    say = progress or (lambda message: None)
    load_before = _load()

    model = DRAW(config, seed=seed, dtype=dtype)
    opt = Adam(model.params, lr=settings.lr)
    data_rng = backend.Random([seed, 1])
    x = (data_rng.uniform((batch, config.H, config.W), dtype) < 0.5).astype(dtype)

    def step():
        _, grads = model.loss_and_grads(x)
        grads, _ = clip_by_global_norm(grads, settings.clip)
        opt.step(model.params, grads)

    def timed(fn, n):
        samples = []
        for _ in range(n):
            synchronize()
            start = time.perf_counter()
            fn()
            synchronize()
            samples.append(time.perf_counter() - start)
        return samples

    say(f"warm-up: {warmup} step(s)")
    timed(step, warmup)
    # The steps are timed between the rounds of the matrix-multiply measurement, so that both
    # see the same stretch of a machine whose speed drifts (a shared VM's does, by tens of %).
    say(f"timing {repeats} step(s), alternating with matrix products on the step's shapes")
    step_samples, faults = [], []
    rounds = iter([repeats // matmul_repeats + (i < repeats % matmul_repeats)
                   for i in range(matmul_repeats)])

    def time_steps():
        steps, before = next(rounds), memory.minor_page_faults()
        step_samples.extend(timed(step, steps))
        if before is not None and steps:
            faults.append((memory.minor_page_faults() - before) / steps)

    flops = count_step_flops(config, batch)
    limit = matmul_limit(config, batch, dtype, repeats=matmul_repeats, seed=seed,
                         between=time_steps)
    step_stats = _summary(step_samples)
    faults = faults[-1] if faults else None  # the last round: the heap has settled by then
    forward_stats = None
    if forward:
        say(f"timing the forward pass ({repeats} time(s))")
        timed(lambda: model.loss_terms(x), 1)
        forward_stats = _summary(timed(lambda: model.loss_terms(x), repeats))
    say("measuring the peak memory of one step")
    peak, how = _step_memory(step)
    kept = cache_breakdown(model, x, model.rng.normal((config.T, batch, config.z_size), dtype))
    state_bytes = _nbytes(model.params.values()) + _nbytes(opt.m.values()) + _nbytes(opt.v.values())
    profile_rows = None
    if profile:
        say("profiling one step")
        profile_rows = _profile(step, profile)

    median = step_stats["median_s"]
    machine = machine_info()
    machine["load_1min_before"] = load_before
    return dict(
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), preset=preset, config=config.to_dict(), batch_size=batch, dtype=str(dtype),
        backend=backend.get_backend(), repeats=repeats, warmup=warmup, seed=seed,
        step=step_stats, forward=forward_stats,
        flops=flops, limit=limit,
        achieved_gflops=flops["matmul"] / median / 1e9,
        fraction_of_limit=limit["limit_s"] / median,
        memory=dict(step_peak_bytes=peak, method=how, params_and_adam_bytes=state_bytes,
                    params_bytes=_nbytes(model.params.values()),
                    page_faults_per_step=faults, freed_memory_kept=memory.freed_memory_kept(),
                    caches=kept),
        steps_per_epoch=math.ceil(EPOCH_IMAGES / batch),
        epoch_s=math.ceil(EPOCH_IMAGES / batch) * median,
        profile=profile_rows, machine=machine, warnings=_warnings(machine, limit),
    )


def _load():
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _warnings(machine: dict, limit: dict) -> list:
    """Say so when other processes share the CPU: the timings then measure the contention.

    A multithreaded BLAS suffers most: each product waits until all its threads get a core,
    which on a busy machine can cost a scheduler time slice (milliseconds) per product. Such
    stalls show as mid-sized products far slower than the best shape's rate.
    """
    if _is_cupy():
        return []
    warnings = []
    cores = machine.get("usable_cores") or machine.get("cores") or 1
    loads = [v for v in (machine.get("load_1min_before"), machine.get("load_1min")) if v is not None]
    if loads and max(loads) > cores + 0.5:
        warnings.append(f"the machine is busy (load average {max(loads)} on {cores} cores): other "
                        f"processes share the CPU, so these timings are slower and noisier than "
                        f"on a quiet machine")
    best = max(row["gflops"] for row in limit["shapes"])
    stalled = [row for row in limit["shapes"]
               if row["seconds_per_call"] > 1e-3 and row["gflops"] < best / 20]
    if stalled:
        worst = min(stalled, key=lambda row: row["gflops"])
        warnings.append(f"{len(stalled)} of the timed products stalled: e.g. {worst['layer']} "
                        f"{worst['role']} {worst['shape']} took {_seconds(worst['seconds_per_call'])}"
                        f" ({worst['gflops']:.1f} GFLOP/s, the best shape ran at {best:.0f}): "
                        f"BLAS threads waiting for a free core, so the limit is not the "
                        f"machine's")
    if warnings and cores > 1 and "thread_env" not in machine:
        warnings.append("on a shared machine a single BLAS thread is often much faster: "
                        "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m draw_np bench")
    return warnings


def _preset(name: str):
    if not isinstance(name, str):
        raise ValueError(f"preset must be a name, one of {', '.join(PRESETS)}; got {name!r}")
    return preset(name)


# --------------------------------------------------------------------------------- reporting
def _seconds(s: float) -> str:
    if s >= 100:
        return f"{s / 60:.1f} min"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def _bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(b) < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024


def format_report(r: dict) -> str:
    """The human-readable table of a :func:`benchmark_step` result."""
    c, m, f, lim = r["config"], r["machine"], r["flops"], r["limit"]
    step = r["step"]
    G = 1e9
    model = (f"T={c['T']}, enc/dec {c['enc_size']}/{c['dec_size']}, z={c['z_size']}, "
             + (f"read {c['read_n']}x{c['read_n']}, write {c['write_n']}x{c['write_n']}"
                if c["attention"] else "no attention"))
    where = m["cpu"] + f", {m.get('usable_cores', m['cores'])} cores"
    if "gpu" in m:
        where = f"{m['gpu'].get('name', 'GPU')} (CuPy {m['gpu'].get('cupy')}); host " + where
    lines = [
        f"draw_np bench: preset {r['preset']} ({model}), batch {r['batch_size']}, {r['dtype']}, "
        f"{r['backend']} backend",
        f"machine: {where}, load average {m.get('load_1min_before', '?')} before, "
        f"{m.get('load_1min', '?')} after",
        f"software: Python {m['python']}, NumPy {m['numpy']}, BLAS {m['blas']}"
        + "".join(f", {k}={v}" for k, v in m.get("thread_env", {}).items()),
        "",
        f"training step (loss_and_grads + clip + Adam), {r['repeats']} steps after "
        f"{r['warmup']} warm-up:",
        f"  median {_seconds(step['median_s'])}   min {_seconds(step['min_s'])}   "
        f"max {_seconds(step['max_s'])}   IQR {_seconds(step['iqr_s'])}",
    ]
    if r["forward"]:
        lines.append(f"  forward pass alone (loss_terms): median {_seconds(r['forward']['median_s'])}"
                     f"  ({r['forward']['median_s'] / step['median_s']:.0%} of a step)")
    lines += [
        f"  one epoch ({r['steps_per_epoch']} steps of {r['batch_size']}): "
        f"{_seconds(r['epoch_s'])}",
        "",
        "floating-point work of one step (forward + backward):",
    ]
    labels = {"encoder_lstm": "encoder LSTM", "decoder_lstm": "decoder LSTM",
              "heads": "heads (mu, log sigma, write, attention maps)",
              "attention": "attention filterbank products",
              "elementwise": "elementwise (rough estimate)"}
    for part, label in labels.items():
        lines.append(f"  {label:<46} {f['parts'][part] / G:8.2f} GFLOP  "
                     f"{f['parts'][part] / f['total']:6.1%}")
    lines.append(f"  {'matrix products':<46} {f['matmul'] / G:8.2f} GFLOP")
    lines += [
        "",
        f"matrix-multiply throughput on the step's shapes ({lim['dtype']}, median of "
        f"{lim['repeats']}):",
        f"  {'layer':<11}{'role':<21}{'shape':<34}{'calls':>6}{'per call':>11}{'GFLOP/s':>9}",
    ]
    for row in lim["shapes"]:
        if row["role"] == "batched":
            continue
        lines.append(f"  {row['layer']:<11}{row['role']:<21}{row['shape']:<34}{row['calls']:>6}"
                     f"{_seconds(row['seconds_per_call']):>11}{row['gflops']:>9.1f}")
    lines += [
        f"  weight gradients: per step {_seconds(lim['weight_grad_per_step_s'])}, stacked over "
        f"time {_seconds(lim['weight_grad_stacked_s'])} (the limit takes the faster)",
        f"  weighted throughput {lim['gflops']:.1f} GFLOP/s -> limit "
        f"{_seconds(lim['limit_s'])} per step for {lim['matmul_flops'] / G:.2f} GFLOP",
    ]
    if lim["attention_s"]:
        lines.append(f"  attention filterbank products as run (stacks of small matrices): "
                     f"{_seconds(lim['attention_s'])} per step, "
                     f"{lim['attention_gflops']:.1f} GFLOP/s")
    lines += [
        "",
        f"achieved: {r['achieved_gflops']:.1f} GFLOP/s = {r['fraction_of_limit']:.1%} of the limit "
        f"(a step takes {1 / r['fraction_of_limit']:.1f}x the limit)",
        "",
        "memory:",
        f"  peak of one step      {_bytes(r['memory']['step_peak_bytes'])}  "
        f"({r['memory']['method']})",
        f"  parameters + Adam     {_bytes(r['memory']['params_and_adam_bytes'])}  "
        f"(parameters alone {_bytes(r['memory']['params_bytes'])})",
    ]
    kept = r["memory"].get("caches")
    if kept:
        lines.append(f"  kept for the backward pass, all {c['T']} steps: {_bytes(kept['total'])} "
                     f"({_bytes(kept['per_step'])} a step)")
        for label, nbytes in kept["parts"].items():
            lines.append(f"    {_bytes(nbytes):>10}  {label}")
    faults = r["memory"].get("page_faults_per_step")
    if faults is not None:
        kept = "kept for reuse" if r["memory"]["freed_memory_kept"] else "returned to the OS"
        lines.append(f"  page faults per step  {faults:,.0f}  (freed memory {kept}: "
                     f"draw_np/memory.py)")
    if r.get("profile"):
        lines += ["", "profile of one step (cProfile, by own time):",
                  f"  {'own time':>9} {'share':>6} {'calls':>7}  function"]
        for row in r["profile"]:
            lines.append(f"  {_seconds(row['tottime_s']):>9} {row['share']:>6.1%} "
                         f"{row['calls']:>7}  {row['function']}")
    for w in r["warnings"]:
        lines += ["", f"warning: {w}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- CLI
def add_parser(subparsers) -> None:
    """Register ``bench``: time a training step against this machine's matmul limit."""
    p = subparsers.add_parser(
        "bench", help="time a training step against this machine's matrix-multiply limit",
        description="Time forward + backward + optimiser step for a preset (median and spread "
                    "after a warm-up), count its floating-point work, measure this machine's "
                    "matrix-multiply throughput on the step's own shapes, and report the "
                    "fraction of that limit the step reaches and its peak memory.")
    p.add_argument("--preset", choices=tuple(PRESETS), default="paper",
                   help="model configuration (default paper: T=64, 256/256, z=100, 2x2/5x5)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per step (default: the preset's, 100 for paper)")
    p.add_argument("--repeats", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None,
                   help="numpy or cupy (default: DRAW_NP_BACKEND, else numpy)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="also profile one step with cProfile and show the top N functions")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--release-memory", dest="keep_freed_memory", action="store_false",
                   help="leave the C allocator's defaults, which return freed memory to the OS "
                        "(to measure what keeping it saves; see draw_np/memory.py)")
    p.set_defaults(func=run)


def run(args) -> int:
    """The ``bench`` command: benchmark, then print the table (or JSON with ``--json``)."""
    say = lambda message: print(f"bench: {message} ...", file=sys.stderr, flush=True)
    result = benchmark_step(args.preset, batch_size=args.batch_size, repeats=args.repeats,
                            warmup=args.warmup, dtype=args.dtype, seed=args.seed,
                            profile=args.profile, progress=say)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
    return 0
