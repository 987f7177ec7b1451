"""Clocks that measure device work: synchronisation, a self-calibrating timer, summaries."""
from __future__ import annotations

import statistics
import time

from .. import backend


def is_cupy() -> bool:
    return backend.get_backend() == "cupy"


def synchronize() -> None:
    """Wait for the device to finish its queued work (a no-op on NumPy)."""
    if is_cupy():
        backend.xp().cuda.Device().synchronize()


class Timer:
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
        if is_cupy():
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


def summary(samples: list) -> dict:
    """Median, min, max and interquartile range of a list of seconds."""
    if len(samples) > 1:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    else:
        q1 = q3 = samples[0]
    return dict(median_s=statistics.median(samples), min_s=min(samples), max_s=max(samples),
                iqr_s=q3 - q1, samples_s=list(samples))
