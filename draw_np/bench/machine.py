"""What the numbers were measured on: CPU, cores, load, BLAS, GPU; warnings when they mislead."""
from __future__ import annotations

import os
import platform
import statistics

from .. import backend
from .report import format_seconds
from .timing import is_cupy


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
    info["load_1min"] = load_average()
    info["blas"] = _blas_info()
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "MKL_NUM_THREADS") if k in os.environ}
    if threads:
        info["thread_env"] = threads
    if is_cupy():
        info["gpu"] = _gpu_info()
    return info


def blas_threads() -> int:
    """How many threads NumPy's BLAS runs a product on.

    threadpoolctl's answer where it is installed; else the thread variables OpenBLAS and MKL
    read at start-up (the first set, in their order of precedence); else the usable cores,
    which is what OpenBLAS starts with by default.
    """
    try:
        from threadpoolctl import threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return int(counts[0])
    except Exception:  # not installed, or an old version: fall back to the environment
        pass
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


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


def load_average():
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine_warnings(machine: dict, limit: dict) -> list:
    """Say so when other processes share the CPU: the timings then measure the contention.

    A multithreaded BLAS suffers most: each product waits until all its threads get a core,
    which on a busy machine can cost a scheduler time slice (milliseconds) per product. Such
    stalls show as mid-sized products far slower than the best shape's rate.
    """
    if is_cupy():
        return gpu_launch_warnings(limit)
    warnings = []
    cores = machine.get("usable_cores") or machine.get("cores") or 1
    loads = [v for v in (machine.get("load_1min_before"), machine.get("load_1min")) if v is not None]
    if loads and max(loads) > cores + 0.5:
        warnings.append(f"the machine is busy (load average {max(loads)} on {cores} cores): other "
                        f"processes share the CPU, so these timings are slower and noisier than "
                        f"on a quiet machine")
    dense = [row for row in limit["shapes"] if not row["small"]]
    best = max(row["gflops"] for row in dense)
    stalled = [row for row in dense
               if row["seconds_per_call"] > 1e-3 and row["gflops"] < best / 20]
    if stalled:
        worst = min(stalled, key=lambda row: row["gflops"])
        warnings.append(f"{len(stalled)} of the timed products stalled: e.g. {worst['label']} "
                        f"{worst['shape']} took "
                        f"{format_seconds(worst['seconds_per_call'])}"
                        f" ({worst['gflops']:.1f} GFLOP/s, the best shape ran at {best:.0f}): "
                        f"BLAS threads waiting for a free core, so the limit is not the "
                        f"machine's")
    if warnings and cores > 1 and "thread_env" not in machine:
        warnings.append("on a shared machine a single BLAS thread is often much faster: "
                        "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m draw_np bench")
    return warnings


#: A GPU product that takes less than this per call is timed by its launch, not its arithmetic:
#: CuPy's own cost of starting a kernel from Python is some 5-20 microseconds.
LAUNCH_BOUND_S = 50e-6


def gpu_launch_warnings(limit: dict) -> list:
    """On a GPU, say so when the step's products are too small to measure the GPU's arithmetic.

    A product of one time step (100 rows) is a few microseconds of GPU work, less than the cost
    of launching it, so each call is timed at the launch rate: the "limit" is then the step's
    products launched one after another, and the fraction of it a step reaches says how many
    other kernels the step launches, not how well it uses the GPU.
    """
    dense = [row["seconds_per_call"] for row in limit["shapes"] if not row["small"]]
    typical = statistics.median(dense)
    if typical >= LAUNCH_BOUND_S:
        return []
    return [f"on this GPU a product of the step takes {format_seconds(typical)} a call (median), "
            f"the cost of launching a kernel rather than of its arithmetic: the limit and the "
            f"fraction measure launches, and the step is bound by how many kernels it launches"]
