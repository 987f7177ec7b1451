"""``python -m draw_np bench``: the command line of the step benchmark."""
from __future__ import annotations

import json
import sys

from .. import backend
from ..presets import PRESETS
from .report import format_report
from .step import COMPARISONS, benchmark_step


def add_parser(subparsers) -> None:
    """Register ``bench``: time a training step against this machine's matmul limit."""
    p = subparsers.add_parser(
        "bench", help="time a training step against this machine's matrix-multiply limit",
        description="Time forward + backward + optimiser step for a preset (median and spread "
                    "after a warm-up), count its floating-point work from the model's own matrix products, measure this machine's "
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
    p.add_argument("--compare", choices=COMPARISONS, default=None,
                   help="also time the same step in PyTorch (draw_np/torch_reference.py), "
                        "alternating with draw_np's, torch on as many threads as the BLAS; "
                        "needs the optional extra: pip install 'draw_np[compare]'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--release-memory", dest="keep_freed_memory", action="store_false",
                   help="leave the C allocator's defaults, which return freed memory to the OS "
                        "(to measure what keeping it saves; see draw_np/memory.py)")
    p.set_defaults(func=run)


def run(args) -> int:
    """The ``bench`` command: benchmark, then print the table (or JSON with ``--json``)."""
    say = lambda message: print(f"bench: {message} ...", file=sys.stderr, flush=True)
    try:
        result = benchmark_step(args.preset, batch_size=args.batch_size, repeats=args.repeats,
                                warmup=args.warmup, dtype=args.dtype, seed=args.seed,
                                profile=args.profile, compare=args.compare, progress=say)
    except MemoryError:   # NumPy refuses an array larger than the memory before allocating it
        raise ValueError(f"a step of {args.preset} at --batch-size {args.batch_size} needs more "
                         f"memory than this machine has; pass a smaller --batch-size") from None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
    return 0
