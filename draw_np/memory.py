"""Keep the memory a training step frees, so the next step does not page it back in.

Every NumPy operation returns a fresh array, and one training step of the paper's model makes
and drops tens of thousands of them, many of 100 KB to 7 MB (a batch of gate pre-activations is
400 KB, a block of 16 steps' gate gradients 6.5 MB). glibc's ``malloc`` serves blocks above its
mmap threshold with fresh pages from the kernel, and hands the top of the heap back to the
kernel once more than its trim threshold lies free there. At the end of every step the whole
unroll's caches are freed, so the next step faults every page back in, zero-filled. Measured on
the paper preset (2-core EPYC VM): about 15,000 minor page faults per step, 50 ms of system time,
and the cache misses of zeroing 60 MB on top of that.

:func:`keep_freed_memory` raises both thresholds (``mallopt``), so freed blocks stay in the heap
and are reused: page faults fall to none, or a few dozen, per step (``python -m draw_np bench``
reports them; ``--release-memory`` shows the default). The process then holds on to the peak
memory of a step between steps, which it needs again a moment later anyway.

It is process-wide, so the library never does it on import: the command line does it for every
subcommand, and a script that trains through the Python API can call it first thing. Only glibc
(Linux) has ``mallopt``; elsewhere this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util

try:
    import resource
except ImportError:  # Windows
    resource = None

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems (4 * 1024 * 1024 * sizeof(long)).
#: Blocks bigger than this (none in a paper-sized step) are still mmapped.
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
_NEVER_TRIM = 2**31 - 1

_kept = False


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed memory for reuse. Returns whether it took effect.

    Safe to call more than once; returns False, changing nothing, where there is no glibc.
    """
    global _kept
    if _kept:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # no C library found, or not glibc
        return False
    # mallopt returns 1 on success. Setting either threshold by hand also turns off glibc's
    # dynamic adjustment of both, which is what keeps them low after a step frees its caches.
    _kept = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    return _kept


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` has taken effect in this process."""
    return _kept


def minor_page_faults() -> int | None:
    """Minor page faults of this process so far (the kernel's count), None where unknown."""
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
