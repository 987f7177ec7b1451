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

    Args:
        logits: (n, H, W) the final canvas c_T.  x: (n, H, W) targets in [0, 1].
    Returns:
        nll: (n,), and the cache ``(logits, x)``.
    """
    dims = {}
    check_array("logits", logits, ("n", "H", "W"), dims)
    check_array("x", x, ("n", "H", "W"), dims)
    check_same_dtype(logits=logits, x=x)
    nll = (softplus(logits) - x * logits).sum(axis=(1, 2))
    return nll, (logits, x)


def bernoulli_nll_backward(dnll, cache):
    """Gradients of :func:`bernoulli_nll_forward`.

    Args:
        dnll: (n,).
    Returns:
        dlogits: (n, H, W) = dnll (σ(c) − x);  dx: (n, H, W) = −dnll c.
    """
    logits, x = cache
    check_array("dnll", dnll, (logits.shape[0],))
    d = dnll[:, None, None]
    return d * (sigmoid(logits) - x), -d * logits
