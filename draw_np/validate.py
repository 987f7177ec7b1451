"""Checks at the door of every public function, so bad input fails early and says why.

A wrong shape deep inside a matrix product gives a traceback that names neither the argument
nor what was expected. These helpers raise a ``ValueError`` that does both, e.g.
``x must have shape (n, 7, 5), got (3, 5, 7)``.

They look only at shapes and dtypes, which is free on every backend. Value checks (NaN, range)
read the data, and on a GPU that forces a device sync, so only the model's entry points make them.

Inside its unrolled loop the model calls the layers thousands of times per training step with
arrays it built itself, whose shapes are right by construction. It checks its own inputs at the
door and then runs the loop under :func:`trusted`, which turns these checks off (they would
otherwise cost about a tenth of a step). Called directly, every layer checks its arguments.
"""
from __future__ import annotations

import numbers
import threading
from contextlib import contextmanager

_state = threading.local()


@contextmanager
def trusted():
    """Within this block, :func:`check_array` and :func:`check_same_dtype` do nothing."""
    previous = getattr(_state, "trusted", False)
    _state.trusted = True
    try:
        yield
    finally:
        _state.trusted = previous


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_array(name: str, a, shape, dims: dict | None = None):
    """Check that ``a`` is a floating-point array of the given ``shape`` and return it.

    ``shape`` is a tuple whose entries are ints (fixed sizes) or strings (named sizes such as
    ``"n"``). A named size seen for the first time is recorded in ``dims``; later arrays must
    agree with it. Pass the same ``dims`` dict to check several arrays against each other.
    """
    if getattr(_state, "trusted", False):
        return a
    if dims is None:
        dims = {}
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise ValueError(f"{name} must be an array of shape {_fmt(shape)}, got {type(a).__name__}")
    if a.dtype.kind != "f":  # NumPy and CuPy arrays both carry NumPy dtypes
        raise ValueError(f"{name} must be a floating-point array, got dtype {a.dtype}")
    expected = tuple(dims.get(s, s) if isinstance(s, str) else s for s in shape)
    ok = len(a.shape) == len(shape)
    if ok:
        for want, got in zip(expected, a.shape):
            if isinstance(want, str):
                continue
            ok = ok and want == got
    if not ok:
        raise ValueError(f"{name} must have shape {_fmt(expected)}, got {_fmt(a.shape)}")
    for s, got in zip(shape, a.shape):
        if isinstance(s, str):
            dims.setdefault(s, got)
    return a


def check_same_dtype(**arrays) -> None:
    """All arrays must share one dtype: mixing float32 and float64 silently upcasts."""
    if getattr(_state, "trusted", False):
        return
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in dtypes.items())
        raise ValueError(f"arrays must share one dtype, got {listing}")


def is_integer(value) -> bool:
    """Whether ``value`` is an integer: a Python int or a NumPy integer, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name: str, value) -> int:
    """``value`` must be an integer >= 1 (NumPy integers too; bools are refused); returns an int."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)
