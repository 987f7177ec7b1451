"""One step of a long short-term memory cell, without peepholes (spec, "LSTM").

One fused affine map of the concatenated input ``u = [x, h_prev]`` gives the four gate
pre-activations in the order ``[i, f, o, g]``::

    a = u W + b                         W: (in + size, 4 size)
    i = σ(a_i)   f = σ(a_f)   o = σ(a_o)   g = tanh(a_g)
    cell = f ⊙ cell_prev + i ⊙ g
    h    = o ⊙ tanh(cell)

The step is a pure function: it keeps no state between calls. The DRAW model's time loop keeps
the list of caches and walks it backwards (backprop through time).
"""
from __future__ import annotations

from typing import NamedTuple

from .activations import sigmoid
from .backend import array_module
from .linear import LinearCache, linear_backward, linear_forward
from .validate import check_array, check_same_dtype


class LSTMCache(NamedTuple):
    linear: LinearCache  # u = [x, h_prev] and W, for the gradients of the affine map
    i: object            # (n, size) input gate
    f: object            # (n, size) forget gate
    o: object            # (n, size) output gate
    g: object            # (n, size) candidate cell values
    cell_prev: object    # (n, size)
    tanh_cell: object    # (n, size) tanh(cell)


class LSTMGrads(NamedTuple):
    dx: object       # (n, in)
    dh_prev: object  # (n, size)
    dcell_prev: object  # (n, size)
    dW: object       # (in + size, 4 size)
    db: object       # (4 size,)


def lstm_forward(x, h_prev, cell_prev, W, b):
    """One LSTM step.

    Args:
        x: (n, in) input.  h_prev, cell_prev: (n, size) previous hidden and cell state.
        W: (in + size, 4 size) fused gate weights, gate order [i, f, o, g].  b: (4 size,).
    Returns:
        ``(h, cell)``, each (n, size), and an :class:`LSTMCache`.
    """
    dims = {}
    check_array("x", x, ("n", "in"), dims)
    check_array("h_prev", h_prev, ("n", "size"), dims)
    check_array("cell_prev", cell_prev, ("n", "size"), dims)
    size, n_in = h_prev.shape[1], x.shape[1]
    check_array("W", W, (n_in + size, 4 * size))
    check_array("b", b, (4 * size,))
    check_same_dtype(x=x, h_prev=h_prev, cell_prev=cell_prev, W=W, b=b)
    xp = array_module(x)

    u = xp.concatenate([x, h_prev], axis=1)
    a, linear_cache = linear_forward(u, W, b)
    i, f, o = (sigmoid(a[:, k * size:(k + 1) * size]) for k in range(3))
    g = xp.tanh(a[:, 3 * size:])
    cell = f * cell_prev + i * g
    tanh_cell = xp.tanh(cell)
    h = o * tanh_cell
    return (h, cell), LSTMCache(linear_cache, i, f, o, g, cell_prev, tanh_cell)


def lstm_gates_backward(dh, dcell, cache: LSTMCache):
    """Undo the gate nonlinearities: from (dh, dcell) to the pre-activation gradient ``da``.

    Args:
        dh: (n, size) gradient with respect to h.  dcell: (n, size) gradient with respect to
            cell arriving from the next step (zeros at the last step).
    Returns:
        da: (n, 4 size) gradient with respect to the gate pre-activations, order [i, f, o, g];
        dcell_prev: (n, size).
    """
    xp = array_module(dh)
    i, f, o, g, cell_prev, tanh_cell = cache[1:]
    check_array("dh", dh, i.shape)
    check_array("dcell", dcell, i.shape)
    do = dh * tanh_cell                                   # h = o ⊙ tanh(cell)
    dcell = dcell + dh * o * (1 - tanh_cell * tanh_cell)  # ... and through tanh(cell)
    di = dcell * g                                        # cell = f ⊙ cell_prev + i ⊙ g
    df = dcell * cell_prev
    dg = dcell * i
    dcell_prev = dcell * f
    da = xp.concatenate([
        di * i * (1 - i),                                 # i = σ(a_i), σ' = σ(1 − σ)
        df * f * (1 - f),                                 # f = σ(a_f)
        do * o * (1 - o),                                 # o = σ(a_o)
        dg * (1 - g * g),                                 # g = tanh(a_g), tanh' = 1 − tanh²
    ], axis=1)
    return da, dcell_prev


def lstm_backward(dh, dcell, cache: LSTMCache) -> LSTMGrads:
    """Gradients of one LSTM step with respect to every input and parameter.

    Args:
        dh, dcell: (n, size) upstream gradients of h and cell.
    Returns:
        :class:`LSTMGrads` ``(dx, dh_prev, dcell_prev, dW, db)``.
    """
    da, dcell_prev = lstm_gates_backward(dh, dcell, cache)
    du, dW, db = linear_backward(da, cache.linear)        # a = u W + b
    n_in = du.shape[1] - dh.shape[1]
    return LSTMGrads(du[:, :n_in], du[:, n_in:], dcell_prev, dW, db)  # u = [x, h_prev]
