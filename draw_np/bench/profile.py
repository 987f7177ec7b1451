"""One step under cProfile: where the time goes, function by function."""
from __future__ import annotations

import cProfile
import io
import os
import pstats

from .timing import synchronize


def profile_step(step, top: int) -> list:
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
