"""memory.keep_freed_memory: freed blocks are reused instead of being faulted back in.

Each check runs in a fresh interpreter, because the setting is process-wide and glibc's
allocator adapts its thresholds to what a process has already done.
"""
import platform
import subprocess
import sys
import textwrap

import pytest

from draw_np import memory

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's; elsewhere keep_freed_memory does nothing")

# What a training step does to the allocator: make many 400 KB arrays (a batch of LSTM gate
# pre-activations), touch them, free them all, and again. Prints the page faults of the last
# three rounds.
ROUNDS = textwrap.dedent("""
    import sys
    import numpy as np
    from draw_np import memory
    if sys.argv[1] == "keep":
        assert memory.keep_freed_memory()
    faults = []
    for _ in range(5):
        before = memory.minor_page_faults()
        arrays = [np.ones((100, 1024), dtype=np.float32) for _ in range(50)]
        del arrays
        faults.append(memory.minor_page_faults() - before)
    print(sum(faults[2:]))
""")


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@glibc_only
def test_kept_memory_is_reused_without_page_faults():
    # 3 rounds x 50 arrays x 100 pages: glibc's defaults hand the heap back after each round
    assert _faults("default") > 3000
    assert _faults("keep") < 300


@glibc_only
def test_keep_freed_memory_reports_success_and_can_be_called_again():
    code = ("from draw_np import memory; a = memory.keep_freed_memory(); "
            "b = memory.keep_freed_memory(); print(a, b, memory.freed_memory_kept())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]

