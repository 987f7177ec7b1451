"""Finite-difference gradient checking: the test every hand-written backward pass must pass.

The idea: for a function ``out = f(inputs)`` and a fixed random upstream gradient ``dout``, the
scalar ``L = Σ out ⊙ dout`` has derivatives that a backward pass computes analytically. The
central difference ``(L(θ + h) − L(θ − h)) / 2h`` estimates each one with error ``O(h²)``.
A random ``dout`` (not all ones) makes every output element count with a different weight, so a
transposed or mis-summed gradient cannot hide.

Run in float64: with ``h = 1e-6`` the rounding error is about ``1e-16 / 1e-6 = 1e-10``, far below
the ``1e-7`` threshold for a single op (``1e-5`` for the whole unrolled model). In float32 the
same check would drown in rounding.

The relative error is ``max |a − b| / max(1e-8, max |a| + max |b|)``: the largest disagreement,
measured against the size of the gradient as a whole, so an element that should be zero but is
1e-12 does not count as a 100% error.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .backend import array_module, to_numpy

DEFAULT_STEP = 1e-6


def rel_error(a, b) -> float:
    """``max |a − b| / max(1e-8, max |a| + max |b|)`` for two arrays of the same shape."""
    a, b = to_numpy(a), to_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare gradients of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = abs(a).max() + abs(b).max()
    return float(abs(a - b).max() / max(1e-8, scale))


def _weighted_sum(out, dout):
    if isinstance(out, (tuple, list)):
        return sum(_weighted_sum(o, d) for o, d in zip(out, dout))
    return float((out * dout).sum()) if hasattr(out, "sum") else float(out) * float(dout)


def numerical_gradient(f: Callable[[], object], array, dout, h: float = DEFAULT_STEP):
    """Central-difference gradient of ``Σ f() ⊙ dout`` with respect to ``array``.

    ``f`` takes no arguments and reads ``array``, which is perturbed in place one element at a
    time and restored afterwards. ``f()`` may return an array or a tuple of arrays, and ``dout``
    is then a matching array or tuple.
    """
    if array.dtype.kind != "f" or array.dtype.itemsize < 8:
        raise ValueError(f"gradient checks need float64 arrays, got {array.dtype}")
    xp = array_module(array)
    grad = xp.zeros_like(array)
    if not array.flags.c_contiguous:  # reshape would copy, and the perturbation be lost
        raise ValueError("numerical_gradient needs a C-contiguous array to perturb in place")
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        original = float(flat[k])
        flat[k] = original + h
        plus = _weighted_sum(f(), dout)
        flat[k] = original - h
        minus = _weighted_sum(f(), dout)
        flat[k] = original
        grad_flat[k] = (plus - minus) / (2 * h)
    return grad


def check_gradients(f: Callable[[], object], inputs: Mapping[str, object],
                    analytic: Mapping[str, object], dout, h: float = DEFAULT_STEP) -> dict:
    """Compare analytic gradients with central differences; return ``{name: rel_error}``.

    Args:
        f: a function of no arguments computing the output from the arrays in ``inputs``.
        inputs: name -> float64 array that ``f`` reads (perturbed in place, then restored).
        analytic: name -> the backward pass's gradient for that input.
        dout: the upstream gradient that was fed to the backward pass.
    """
    missing = set(inputs) ^ set(analytic)
    if missing:
        raise ValueError(f"inputs and analytic gradients must have the same names: {sorted(missing)}")
    return {name: rel_error(analytic[name], numerical_gradient(f, inputs[name], dout, h))
            for name in inputs}


def directional_check(loss: Callable[[], float], params: Mapping[str, object],
                      grads: Mapping[str, object], rng, h: float = DEFAULT_STEP) -> float:
    """Check every parameter at once along one random direction (two evaluations of the loss).

    For a random unit direction ``v`` over all parameters, ``(L(θ + h v) − L(θ − h v)) / 2h``
    must equal ``Σ grad ⊙ v``. Returns the relative error of the two numbers. Cheap enough for
    big models where the element-by-element check is not; a wrong gradient anywhere shows up
    unless it happens to be orthogonal to ``v``, which a random ``v`` makes vanishingly unlikely.
    ``rng`` is a ``draw_np.backend.Random``.
    """
    direction = {k: rng.normal(p.shape, "float64") for k, p in params.items()}
    norm = sum(float((v * v).sum()) for v in direction.values()) ** 0.5
    expected = sum(float((grads[k] * v).sum()) for k, v in direction.items()) / norm
    originals = {k: p.copy() for k, p in params.items()}

    def shifted(step):
        for k, p in params.items():
            p[...] = originals[k] + step * direction[k] / norm
        return loss()

    try:
        numerical = (shifted(h) - shifted(-h)) / (2 * h)
    finally:
        for k, p in params.items():
            p[...] = originals[k]
    return abs(numerical - expected) / max(1e-8, abs(numerical) + abs(expected))
