"""``python -m draw_np``: train, evaluate, plot and benchmark from the command line.

Every subcommand lives in its own module, which provides ``add_parser(subparsers)``; that
registers the subcommand and sets ``func`` to a function of the parsed arguments. Errors meant
for the user (a missing file, a bad argument, a corrupt checkpoint, a config that does not match)
print one line and exit with status 2; Ctrl-C exits with 130 (``train`` saves first); a
traceback means a bug.
"""
from __future__ import annotations

import argparse
import sys


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``draw_np: error: ...``, status 2."""

    def error(self, message):
        print(f"draw_np: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from . import bench, evaluate, plot, train
    parser = _OneLineParser(prog="python -m draw_np",
                            description="DRAW from scratch in NumPy: train on binarised MNIST, "
                                        "evaluate the test bound, plot glimpses, benchmark.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_OneLineParser)
    for module in (train, evaluate, plot, bench):
        module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run one subcommand; user errors print one line and give 2, Ctrl-C gives 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before a subcommand installs its own handler, or a third Ctrl-C
        print("\ndraw_np: interrupted", file=sys.stderr)
        return 130


def _main(argv) -> int:
    from . import memory
    from .errors import BackendError, user_errors
    try:
        from . import backend  # DRAW_NP_BACKEND=cupy without a GPU fails here
    except BackendError as exc:
        print(f"draw_np: error: {exc}", file=sys.stderr)
        return 2
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "keep_freed_memory", True):  # bench --release-memory says no
            memory.keep_freed_memory()  # the subcommands run the model's steps: see memory.py
        if getattr(args, "backend", None):  # every subcommand that computes takes --backend
            backend.set_backend(args.backend)
        result = args.func(args)
    except user_errors() as exc:
        print(f"draw_np: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("draw_np: error: not enough memory for this model and batch on this machine "
              "(try a smaller --batch-size, or a smaller model)", file=sys.stderr)
        return 2
    return int(result or 0)
