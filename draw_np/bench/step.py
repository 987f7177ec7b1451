"""The benchmark of one training step: timed, counted and put against the matmul limit."""
from __future__ import annotations

import math
import time

from .. import backend, memory, models
from ..errors import BackendError
from ..optim import Adam, clip_by_global_norm
from ..presets import PRESETS, preset
from .flops import check_int, count_step_flops
from .footprint import arrays_nbytes, cache_breakdown, step_memory
from .machine import blas_threads, load_average, machine_info, machine_warnings
from .matmul_limit import matmul_limit
from .profile import profile_step
from .timing import summary, synchronize


#: Images in one epoch of binarised MNIST training (the standard 50,000 / 10,000 / 10,000 split).
EPOCH_IMAGES = 50_000

#: What ``--compare`` can time a step against.
COMPARISONS = ("torch",)

#: How to get PyTorch for ``--compare torch``: the CPU wheel (a plain ``pip install torch`` on
#: Linux brings gigabytes of CUDA libraries that a CPU comparison never uses).
INSTALL_TORCH = ("bench --compare torch needs PyTorch: pip install 'draw_np[compare]' "
                 "--extra-index-url https://download.pytorch.org/whl/cpu")


def benchmark_step(preset: str = "paper", batch_size: int | None = None, repeats: int = 10,
                   warmup: int = 2, dtype: str = "float32", seed: int = 0,
                   matmul_repeats: int = 5, forward: bool = True, profile: int = 0,
                   compare: str | None = None, progress=None) -> dict:
    """Time the training step of a preset on the current backend, and put it against the limit.

    The model is the preset's, of whatever kind (:mod:`draw_np.models`): its class comes from
    its config, its products from its own ``matmul_shapes``, so nothing here is DRAW's but the
    breakdown of what DRAW's forward pass keeps (reported for DRAW only).

    Args:
        preset: a name of :data:`draw_np.presets.PRESETS` (``tiny``, ``quick``, ``paper``, ...).
        batch_size: examples per step; the preset's (100 for ``paper``) if None.
        repeats: timed steps, after ``warmup`` untimed ones.
        dtype: ``float32`` (training) or ``float64``.
        seed: seeds the model, the batch and the noise.
        matmul_repeats: samples per shape in :func:`matmul_limit`, taken in as many rounds;
            the timed steps are spread over the gaps between the rounds.
        forward: also time the forward pass alone, where the model offers one
            (``model.loss_terms(*batch)``, DRAW's).
        profile: if > 0, run one more step under cProfile and keep this many entries.
        compare: ``"torch"`` to also time :class:`draw_np.torch_reference.TorchDRAWStep`, the
            same step by PyTorch's autograd, alternating with draw_np's (float32, NumPy backend,
            torch with as many threads as the BLAS); a :class:`BackendError` without torch.
        progress: an optional function called with a short message before each phase.
    Returns:
        a JSON-able dict: ``step`` (median_s, min_s, max_s, iqr_s, samples_s), ``forward``,
        ``flops`` (:func:`count_step_flops`), ``limit`` (:func:`matmul_limit`),
        ``achieved_gflops``, ``fraction_of_limit``, ``memory``, ``epoch_s``, ``machine``,
        ``compare`` (None, or :func:`compare_torch`'s result), ...
    """
    config, settings = _preset(preset)
    batch = settings.batch_size if batch_size is None else batch_size
    check_int("batch_size", batch)
    if batch > EPOCH_IMAGES:
        raise ValueError(f"batch_size must be at most the {EPOCH_IMAGES} images of an epoch, "
                         f"got {batch}")
    check_int("repeats", repeats)
    check_int("warmup", warmup, 0)
    check_int("matmul_repeats", matmul_repeats)
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    check_int("profile", profile, 0)
    check_int("seed", seed, 0)
    kind = models.kind_for_config(config)
    if compare is not None:
        _check_comparison(compare, kind, dtype)
    say = progress or (lambda message: None)
    load_before = load_average()

    model = models.model_class(kind)(config, seed=seed, dtype=dtype)
    opt = Adam(model.params, lr=settings.lr)
    data = synthetic_batch(config, batch, dtype, backend.Random([seed, 1]))

    def step():
        _, grads = model.loss_and_grads(*data)
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

    flops = count_step_flops(model, batch)
    limit = matmul_limit(model, batch, dtype, repeats=matmul_repeats, seed=seed,
                         between=time_steps)
    step_stats = summary(step_samples)
    faults = faults[-1] if faults else None  # the last round: the heap has settled by then
    forward_stats = None
    if forward and hasattr(model, "loss_terms"):   # the forward pass alone, where a model has it
        say(f"timing the forward pass ({repeats} time(s))")
        timed(lambda: model.loss_terms(*data), 1)
        forward_stats = summary(timed(lambda: model.loss_terms(*data), repeats))
    say("measuring the peak memory of one step")
    peak, how = step_memory(step)
    kept = cache_breakdown(model, *data) if kind == "draw" else None
    state_bytes = sum(arrays_nbytes(state.values()) for state in (model.params, opt.m, opt.v))
    profile_rows = None
    if profile:
        say("profiling one step")
        profile_rows = profile_step(step, profile)
    compared = None
    if compare is not None:
        say(f"timing {repeats} step(s) each of draw_np and {compare}, alternating")
        compared = compare_torch(config, batch, repeats, warmup, seed)

    median = step_stats["median_s"]
    machine = machine_info()
    machine["load_1min_before"] = load_before
    machine["blas_threads"] = blas_threads()
    return dict(
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), preset=preset, kind=kind,
        config=config.to_dict(),
        batch_size=batch, dtype=str(dtype),
        backend=backend.get_backend(), repeats=repeats, warmup=warmup, seed=seed,
        step=step_stats, forward=forward_stats,
        flops=flops, limit=limit,
        achieved_gflops=flops["matmul"] / median / 1e9,
        fraction_of_limit=limit["limit_s"] / median,
        memory=dict(step_peak_bytes=peak, method=how, params_and_adam_bytes=state_bytes,
                    params_bytes=arrays_nbytes(model.params.values()),
                    page_faults_per_step=faults, freed_memory_kept=memory.freed_memory_kept(),
                    caches=kept),
        steps_per_epoch=math.ceil(EPOCH_IMAGES / batch),
        epoch_s=math.ceil(EPOCH_IMAGES / batch) * median,
        compare=compared, profile=profile_rows, machine=machine,
        warnings=machine_warnings(machine, limit),
    )


def synthetic_batch(config, n: int, dtype: str, rng: backend.Random) -> tuple:
    """A batch of ``n`` for ``loss_and_grads``: the arrays the preset's data set would give.

    Binary images of ``config.image_shape`` (a step costs the same on any bits), and for a
    classifier (a config with ``classes``) labels drawn uniformly too: ``(images,)`` or
    ``(images, labels)``, as the data sets of :mod:`draw_np.data.dataset` yield them.
    """
    images = (rng.uniform((n,) + tuple(config.image_shape), dtype) < 0.5).astype(dtype)
    if not hasattr(config, "classes"):
        return (images,)
    labels = backend.xp().floor(rng.uniform((n,), "float64") * config.classes).astype("int64")
    return images, labels


def _check_comparison(compare, kind: str, dtype: str) -> None:
    """Refuse a comparison that cannot run, before any timing: one sentence each."""
    if compare not in COMPARISONS:
        raise ValueError(f"compare must be one of {', '.join(COMPARISONS)}, got {compare!r}")
    if kind != "draw":
        raise ValueError(f"--compare torch times DRAW's training step, and this preset's model "
                         f"is a {kind!r}: draw_np.torch_reference has no training step for it")
    if str(dtype) != "float32":
        raise ValueError(f"--compare torch times float32 training steps, got --dtype {dtype}")
    if backend.get_backend() != "numpy":
        raise ValueError("--compare torch times CPU steps: use the numpy backend")
    try:
        import torch  # noqa: F401  (only to know it is there)
    except ImportError:
        raise BackendError(INSTALL_TORCH) from None


def compare_torch(config, batch: int, repeats: int, warmup: int, seed: int) -> dict:
    """draw_np's training step and PyTorch's, timed in turn (:func:`draw_np.torch_reference.
    time_against_draw_np`), torch given as many threads as the BLAS has.

    Returns ``{"draw_np": {median_s, samples_s}, "torch": {...}, "ratio": draw_np / torch,
    "torch_threads", "blas_threads", "torch_version"}``.
    """
    import torch
    from ..torch_reference import time_against_draw_np
    threads = blas_threads()
    torch.set_num_threads(threads)
    result = time_against_draw_np(config, batch_size=batch, repeats=repeats, warmup=warmup,
                                  seed=seed)
    result.update(ratio=result["draw_np"]["median_s"] / result["torch"]["median_s"],
                  blas_threads=threads, torch_version=torch.__version__)
    return result


def _preset(name: str):
    if not isinstance(name, str):
        raise ValueError(f"preset must be a name, one of {', '.join(PRESETS)}; got {name!r}")
    return preset(name)
