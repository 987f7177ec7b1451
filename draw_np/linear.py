"""The affine map ``y = x W + b``, the building block of every learned map in DRAW.

Used for the LSTM gates, the latent heads ``mu`` and ``logsigma`` (spec eqs. 1-2), the write
patch (eqs. 18, 28) and the attention parameters (eq. 21). Weights are ``(in, out)``, so a batch
of row vectors multiplies from the left.
"""
from __future__ import annotations

from typing import NamedTuple

from .validate import check_array, check_same_dtype


class LinearCache(NamedTuple):
    x: object  # (n, in) the input, needed for dW
    W: object  # (in, out) the weights, needed for dx


def linear_forward(x, W, b):
    """``y = x W + b``.

    Args:
        x: (n, in) inputs.  W: (in, out) weights.  b: (out,) bias.
    Returns:
        y: (n, out), and a :class:`LinearCache`.
    """
    dims = {}
    check_array("x", x, ("n", "in"), dims)
    check_array("W", W, ("in", "out"), dims)
    check_array("b", b, ("out",), dims)
    check_same_dtype(x=x, W=W, b=b)
    return x @ W + b, LinearCache(x, W)


def linear_backward(dy, cache: LinearCache):
    """Gradients of ``y = x W + b``.

    Args:
        dy: (n, out) gradient of the loss with respect to y.
    Returns:
        dx: (n, in) = dy W^T;  dW: (in, out) = x^T dy;  db: (out,) = sum over the batch of dy.
    """
    x, W = cache
    check_array("dy", dy, (x.shape[0], W.shape[1]))
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


def linear_matmul_shapes(label: str, n: int, n_in: int, n_out: int, weight_grad: bool = True):
    """The products of one forward and backward pass, as ``(label, rows, inner, cols, count)``:
    ``x W``, ``dy W^T`` and, unless the caller sums it elsewhere, ``x^T dy``."""
    shapes = [(f"{label}.forward", n, n_in, n_out, 1), (f"{label}.grad_input", n, n_out, n_in, 1)]
    if weight_grad:
        shapes.append((f"{label}.grad_weight", n_in, n, n_out, 1))
    return shapes
