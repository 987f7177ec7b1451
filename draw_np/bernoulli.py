"""The reconstruction loss ``L^x``: Bernoulli negative log-likelihood from logits (spec eq. 9).

The canvas ``c_T`` holds logits; the pixel probabilities are ``σ(c_T)``. For one pixel,
``−log p(x | c) = −x log σ(c) − (1 − x) log(1 − σ(c)) = softplus(c) − x c``. Written this way,
from the logits, it needs no clipping: ``softplus(c) = max(c, 0) + log(1 + exp(−|c|))`` is exact
and finite for any finite ``c``.
"""
from __future__ import annotations

from .activations import sigmoid
from .backend import array_module
from .validate import check_array, check_same_dtype


def softplus(a):
    """``log(1 + exp(a))``, stable for large ``|a|``."""
    xp = array_module(a)
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


def bernoulli_nll_forward(logits, x):
    """``L^x = Σ_pixels softplus(c) − x c`` per example (eq. 9), in nats.

    Sums over every axis but the batch's, so grey (n, H, W) and colour (n, C, H, W) images
    are the same code.

    Args:
        logits: (n, ...) the final canvas c_T.  x: the targets in [0, 1], of the same shape.
    Returns:
        nll: (n,), and the cache ``(logits, x)``.
    """
    if not hasattr(logits, "shape") or logits.ndim < 2:
        raise ValueError(f"logits must have shape (n, ...), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    dims = {}
    pixel_axes = tuple(f"d{i}" for i in range(1, logits.ndim))
    check_array("logits", logits, ("n",) + pixel_axes, dims)
    check_array("x", x, ("n",) + pixel_axes, dims)
    check_same_dtype(logits=logits, x=x)
    nll = (softplus(logits) - x * logits).sum(axis=tuple(range(1, logits.ndim)))
    return nll, (logits, x)


def bernoulli_nll_backward(dnll, cache):
    """Gradients of :func:`bernoulli_nll_forward`.

    Args:
        dnll: (n,).
    Returns:
        dlogits = dnll (σ(c) − x);  dx = −dnll c; both of the logits' shape.
    """
    logits, x = cache
    check_array("dnll", dnll, (logits.shape[0],))
    d = dnll.reshape((-1,) + (1,) * (logits.ndim - 1))
    return d * (sigmoid(logits) - x), -d * logits
