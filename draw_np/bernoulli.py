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


def bernoulli_entropy(x):
    """``H(x) = −Σ_pixels x log x + (1 − x) log(1 − x)`` per example, in nats (0 log 0 = 0).

    The least value eq. 9 can take on targets ``x``: ``L^x`` is the cross-entropy of the
    canvas's Bernoulli distributions against ``x`` and equals ``H(x)`` plus their KL
    divergence. It is 0 for bits; for grey levels (colour images) it is the floor under the
    reported figure, so ``L^x − H(x)`` says how far the model is from drawing ``x`` exactly.

    Args:
        x: (n, ...) values in [0, 1].
    Returns:
        (n,) in the precision of ``x``.
    """
    if not hasattr(x, "shape") or x.ndim < 2:
        raise ValueError(f"x must have shape (n, ...), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    xp = array_module(x)
    if not bool(((x >= 0) & (x <= 1)).all()):   # also False for NaN
        raise ValueError("x must hold values in [0, 1]")
    x_log_x = lambda p: p * xp.log(xp.where(p > 0, p, 1))   # 0 where p == 0
    return -(x_log_x(x) + x_log_x(1 - x)).sum(axis=tuple(range(1, x.ndim)))
