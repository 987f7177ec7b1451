"""The benchmark of one training step: timed, counted and put against the matmul limit."""
from __future__ import annotations

import math
import time

from .. import backend, memory
from ..model import DRAW
from ..optim import Adam, clip_by_global_norm
from ..presets import PRESETS, preset
from .flops import check_int, count_step_flops
from .footprint import arrays_nbytes, cache_breakdown, step_memory
from .machine import load_average, machine_info, machine_warnings
from .matmul_limit import matmul_limit
from .profile import profile_step
from .timing import summary, synchronize


#: Images in one epoch of binarised MNIST training (the standard 50,000 / 10,000 / 10,000 split).
EPOCH_IMAGES = 50_000


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
    say = progress or (lambda message: None)
    load_before = load_average()

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
    step_stats = summary(step_samples)
    faults = faults[-1] if faults else None  # the last round: the heap has settled by then
    forward_stats = None
    if forward:
        say(f"timing the forward pass ({repeats} time(s))")
        timed(lambda: model.loss_terms(x), 1)
        forward_stats = summary(timed(lambda: model.loss_terms(x), repeats))
    say("measuring the peak memory of one step")
    peak, how = step_memory(step)
    kept = cache_breakdown(model, x, model.rng.normal((config.T, batch, config.z_size), dtype))
    state_bytes = sum(arrays_nbytes(state.values()) for state in (model.params, opt.m, opt.v))
    profile_rows = None
    if profile:
        say("profiling one step")
        profile_rows = profile_step(step, profile)

    median = step_stats["median_s"]
    machine = machine_info()
    machine["load_1min_before"] = load_before
    return dict(
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), preset=preset, config=config.to_dict(),
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
        profile=profile_rows, machine=machine, warnings=machine_warnings(machine, limit),
    )


def _preset(name: str):
    if not isinstance(name, str):
        raise ValueError(f"preset must be a name, one of {', '.join(PRESETS)}; got {name!r}")
    return preset(name)
