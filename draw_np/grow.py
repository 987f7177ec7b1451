"""A larger read glimpse for a trained model that computes exactly what the model computed.

``train --init-from`` uses :func:`grow_read` to start a model with an N' x N' read from one
trained with an N x N read: the idea of function-preserving growth (Net2Net, Chen et al.,
2016) applied to the read of eq. 27, so a long run can go on with a larger glimpse instead of
starting again.

Why it is exact. The filter centres of an N-point grid lie at ``g + (i − N/2 − 1/2) δ``
(eqs. 19-20): half-integer multiples of the stride δ for even N, whole multiples for odd N.
So a grid of N' > N points of the same parity and the *same stride* holds the N-point grid as
its central N x N block. The stride is ``δ = (max(H, W) − 1)/(N − 1) · δ̃`` (eq. 24), so
keeping it means ``log δ̃' = log δ̃ + log((N' − 1)/(N − 1))``: a shift of one bias of the
attention head. The centre, σ² and γ do not change, and each filter is normalised on its own
(eqs. 25-26), so the central block of the larger read *is* the smaller read, number for
number. The weights that take the read (the first rows of the LSTM that r_t feeds) are
copied to the central block's places and are zero for the new points, which the model then
reads but does not yet use. Their gradient is not zero (r_t times the gates' error), so
training is free to use them.
"""
from __future__ import annotations

import math

import numpy as np

#: The row of the attention head's output (eq. 21: g̃_X, g̃_Y, log σ², log δ̃, log γ) that
#: holds log δ̃.
LOG_STRIDE = 3


def check_growable(old_n: int, new_n: int) -> None:
    """A ValueError unless an ``old_n``-point read grows exactly into a ``new_n``-point one."""
    if new_n < old_n:
        raise ValueError(f"the read glimpse can grow but not shrink: {old_n} x {old_n} there, "
                         f"{new_n} x {new_n} here")
    if old_n < 2:
        raise ValueError("a 1 x 1 read has no stride for a larger grid to keep: it cannot grow")
    if (new_n - old_n) % 2:
        raise ValueError(f"a {old_n} x {old_n} read grows only by an even number of points "
                         f"(so that it is the larger grid's central block), not to "
                         f"{new_n} x {new_n}")


def grow_read(params: dict, config, new_n: int, read_input: str) -> dict:
    """The parameters of the same model with a ``new_n`` x ``new_n`` read instead of its own,
    which compute exactly what ``params`` computed (see the module).

    Args:
        params: name -> NumPy array (a checkpoint's), the trained model's; not modified.
        config: the trained model's config (its ``read_n`` and ``read_size``: the planes read
            at each step, 2C in DRAW and C in the classifier, lie in r_t one N x N patch after
            another, eq. 27).
        new_n: the read grid's side after (the same parity as ``config.read_n``, not smaller).
        read_input: the weight whose first ``config.read_size`` rows take r_t (``"enc.W"``
            in DRAW).
    Returns:
        a new dict; only ``read_input`` and ``read_attn.b`` differ from ``params``.
    """
    old_n = config.read_n
    check_growable(old_n, new_n)
    grown = dict(params)
    if new_n == old_n:
        return grown
    W = params[read_input]
    read_rows = config.read_size
    planes = read_rows // old_n ** 2
    rows = np.zeros((planes, new_n, new_n, W.shape[1]), dtype=W.dtype)
    edge = (new_n - old_n) // 2
    rows[:, edge:edge + old_n, edge:edge + old_n] = W[:read_rows].reshape(planes, old_n, old_n, -1)
    grown[read_input] = np.concatenate([rows.reshape(-1, W.shape[1]), W[read_rows:]])
    bias = params["read_attn.b"].copy()
    bias[LOG_STRIDE] += math.log((new_n - 1) / (old_n - 1))
    grown["read_attn.b"] = bias
    return grown
