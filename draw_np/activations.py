"""Element-wise nonlinearities shared by several layers."""
from __future__ import annotations

from .backend import array_module


def sigmoid(a):
    """The logistic function ``σ(a) = 1 / (1 + exp(-a))``, computed as ``(1 + tanh(a/2)) / 2``.

    The two are equal; the tanh form never overflows (``exp(-a)`` does for ``a < -88`` in
    float32), so it needs no clipping and raises no warnings for large ``|a|``.
    """
    xp = array_module(a)
    return 0.5 * (xp.tanh(0.5 * a) + 1)
