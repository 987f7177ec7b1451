"""A larger read or write glimpse for a trained model that computes exactly what it computed.

``train --init-from`` uses :func:`grow_read` and :func:`grow_write` to start a model with an
N' x N' glimpse from one trained with an N x N glimpse: the idea of function-preserving growth
(Net2Net, Chen et al., 2016) applied to the read of eq. 27 and the write of eqs. 28-29, so a
long run can go on with a larger glimpse instead of starting again.

Why it is exact. The filter centres of an N-point grid lie at ``g + (i − N/2 − 1/2) δ``
(eqs. 19-20): half-integer multiples of the stride δ for even N, whole multiples for odd N.
So a grid of N' > N points of the same parity and the *same stride* holds the N-point grid as
its central N x N block. The stride is ``δ = (max(H, W) − 1)/(N − 1) · δ̃`` (eq. 24), so
keeping it means ``log δ̃' = log δ̃ + log((N' − 1)/(N − 1))``: a shift of one bias of the
attention head. The centre, σ² and γ do not change, and each filter is normalised on its own
(eqs. 25-26), so the central block of the larger grid's filterbank *is* the smaller grid's,
number for number.

- Read: the central block of the larger read is the smaller read. The weights that take the
  read (the first rows of the LSTM that r_t feeds) are copied to the central block's places
  and are zero for the new points, which the model then reads but does not yet use.
- Write: the patch w_t = W h + b (eq. 28) gets the smaller patch in its central block and
  zeros at the new points (their columns of W and entries of b are zero), so
  ``F̂_Y^T w_t F̂_X`` (eq. 29) adds only what the smaller write added.

The new points' weights get a gradient (r_t times the gates' error for the read; the filters'
view of the canvas gradient times h for the write), so training is free to use them.
"""
from __future__ import annotations

import math

import numpy as np

#: The row of the attention head's output (eq. 21: g̃_X, g̃_Y, log σ², log δ̃, log γ) that
#: holds log δ̃.
LOG_STRIDE = 3


def check_growable(old_n: int, new_n: int, glimpse: str = "read") -> None:
    """A ValueError unless an ``old_n``-point ``glimpse`` (read or write) grows exactly into a
    ``new_n``-point one."""
    if new_n < old_n:
        raise ValueError(f"the {glimpse} glimpse can grow but not shrink: {old_n} x {old_n} "
                         f"there, {new_n} x {new_n} here")
    if old_n < 2:
        raise ValueError(f"a 1 x 1 {glimpse} has no stride for a larger grid to keep: it "
                         f"cannot grow")
    if (new_n - old_n) % 2:
        raise ValueError(f"a {old_n} x {old_n} {glimpse} grows only by an even number of points "
                         f"(so that it is the larger grid's central block), not to "
                         f"{new_n} x {new_n}")


def _centred(grids, old_n: int, new_n: int):
    """``grids``, shaped (planes, old_n, old_n, k), as the central blocks of zero
    (planes, new_n, new_n, k) grids, flattened back to (planes · new_n², k)."""
    planes, k = grids.shape[0], grids.shape[-1]
    out = np.zeros((planes, new_n, new_n, k), dtype=grids.dtype)
    edge = (new_n - old_n) // 2
    out[:, edge:edge + old_n, edge:edge + old_n] = grids
    return out.reshape(planes * new_n ** 2, k)


def _same_stride(bias, old_n: int, new_n: int):
    """The attention head's bias with log δ̃ shifted so that ``new_n`` points keep the stride
    that ``old_n`` points had (eq. 24)."""
    bias = bias.copy()
    bias[LOG_STRIDE] += math.log((new_n - 1) / (old_n - 1))
    return bias


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
    if new_n == old_n:
        return dict(params)
    check_growable(old_n, new_n, "read")
    grown = dict(params)
    W, read_rows = params[read_input], config.read_size
    planes = read_rows // old_n ** 2
    read = W[:read_rows].reshape(planes, old_n, old_n, -1)
    grown[read_input] = np.concatenate([_centred(read, old_n, new_n), W[read_rows:]])
    grown["read_attn.b"] = _same_stride(params["read_attn.b"], old_n, new_n)
    return grown


def grow_write(params: dict, config, new_n: int) -> dict:
    """The parameters of the same DRAW with a ``new_n`` x ``new_n`` write instead of its own,
    which compute exactly what ``params`` computed (see the module).

    Args:
        params: name -> NumPy array (a checkpoint's), the trained model's; not modified.
        config: the trained model's :class:`~draw_np.model.DRAWConfig` (its ``write_n`` and
            ``channels``: the patch w_t holds C N x N planes, eq. 28).
        new_n: the write grid's side after (the same parity as ``config.write_n``, not
            smaller).
    Returns:
        a new dict; only ``write.W``, ``write.b`` and ``write_attn.b`` differ from ``params``.
    """
    old_n, planes = config.write_n, config.channels
    if new_n == old_n:
        return dict(params)
    check_growable(old_n, new_n, "write")
    grown = dict(params)
    W, b = params["write.W"], params["write.b"]
    columns = W.T.reshape(planes, old_n, old_n, -1)
    grown["write.W"] = np.ascontiguousarray(_centred(columns, old_n, new_n).T)
    grown["write.b"] = _centred(b.reshape(planes, old_n, old_n, 1), old_n, new_n)[:, 0]
    grown["write_attn.b"] = _same_stride(params["write_attn.b"], old_n, new_n)
    return grown
