"""A larger read or write glimpse, or larger LSTMs, for a trained model that computes exactly
what it computed; and a larger image for it, at its glimpses' own scale.

``train --init-from`` uses :func:`grow_read` and :func:`grow_write` to start a model with an
N' x N' glimpse from one trained with an N x N glimpse, and :func:`grow_lstms` to start a DRAW
with more LSTM units than the one it was trained with: the idea of function-preserving growth
(Net2Net, Chen et al., 2016) applied to the read of eq. 27, the write of eqs. 28-29 and the
LSTMs of eqs. 5 and 7, so a long run can go on with a larger model instead of starting again.

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

LSTMs (:func:`grow_lstms`): a new unit whose gate weights and biases are all zero has
i = f = o = σ(0) and g = tanh(0) = 0, so its cell, which starts at 0, stays 0, and so does its
output h = o tanh(cell), at every step. Whatever reads h (the other LSTM, the latent maps of
eqs. 1-2, the attention heads, the write) then sees exactly what it saw. Those outgoing
weights start small and random rather than zero: a new unit's only way to a gradient is
through them (dL/dh), and random ones also make the new units differ from each other. At
first only the candidate g's weights get a gradient (the others are multiplied by g = 0 or
cell = 0), which is enough to start the unit.

A larger canvas (:func:`at_own_scale`) is the one change here that is *not* exact. The
parameters of a model trained on H x W images fit one for larger images unchanged (but for
DRAW's canvas bias c0), and then eqs. 22-24 stretch every glimpse over the new image: the
same head output puts the centre (W' + 1)/(W + 1) times as far from the corner and the stride
(max(H', W') − 1)/(max(H, W) − 1) times as wide. :func:`at_own_scale` keeps the glimpses'
own scale instead: each centre moves by the offset of the old image centred in the new one,
the stride stays, and c0 is padded. A glimpse that lies inside the old image then sees and
draws exactly what it did there; one that reached past its edge does not, because each
filter is normalised over the image it lies on (eqs. 25-26), which is now larger.
"""
from __future__ import annotations

import math

import numpy as np

#: The rows of the attention head's output (eq. 21: g̃_X, g̃_Y, log σ², log δ̃, log γ) that
#: hold g̃_X, g̃_Y and log δ̃.
CENTRE_X, CENTRE_Y, LOG_STRIDE = 0, 1, 3


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


#: The standard deviation of a new LSTM unit's outgoing weights: small enough that the units,
#: once training starts them, change what the model computes gently; nonzero so that they get a
#: gradient at all (see the module).
NEW_UNIT_OUTGOING_STD = 1e-3


def grow_lstms(params: dict, config, enc_size: int, dec_size: int,
               rng: np.random.Generator) -> dict:
    """The parameters of the same DRAW with ``enc_size`` and ``dec_size`` LSTM units instead of
    its own, which compute exactly what ``params`` computed (see the module).

    Args:
        params: name -> NumPy array (a checkpoint's), the trained model's; not modified.
        config: the trained model's :class:`~draw_np.model.DRAWConfig`.
        enc_size, dec_size: the LSTMs' sizes after (not smaller).
        rng: draws the new units' outgoing weights, ~ N(0, NEW_UNIT_OUTGOING_STD²).
    Returns:
        a new dict: the new units' gate columns of ``enc.W`` and ``dec.W`` (and their biases)
        and their entries of ``h0_enc`` and ``h0_dec`` are zero; their rows of every weight
        that reads h^enc or h^dec (``enc.W``, ``dec.W``, ``mu.W``, ``logsigma.W`` and the
        heads' ``*.W``) are small and random.
    """
    old_e, old_d = config.enc_size, config.dec_size
    if (enc_size, dec_size) == (old_e, old_d):
        return dict(params)
    for name, old, new in (("encoder", old_e, enc_size), ("decoder", old_d, dec_size)):
        if new < old:
            raise ValueError(f"the {name} LSTM can grow but not shrink: {old} units there, "
                             f"{new} here")

    def outgoing(W, old: int, new: int):
        """``W``'s rows for ``old`` units, then small random rows for the new ones."""
        fresh = NEW_UNIT_OUTGOING_STD * rng.standard_normal((new - old,) + W.shape[1:])
        return np.concatenate([W, fresh.astype(W.dtype)])

    def gates(a, old: int, new: int):
        """``a``'s last axis, four gate blocks [i, f, o, g] of ``old`` units each, as four
        blocks of ``new`` units, the new units' entries zero."""
        blocks = a.reshape(a.shape[:-1] + (4, old))
        out = np.zeros(a.shape[:-1] + (4, new), dtype=a.dtype)
        out[..., :old] = blocks
        return out.reshape(a.shape[:-1] + (4 * new,))

    def padded(h0, new: int):
        return np.concatenate([h0, np.zeros(new - len(h0), dtype=h0.dtype)])

    grown = dict(params)
    # enc.W's rows take [r_t, h^dec_{t-1}] (eq. 4) and then h^enc_{t-1}; dec.W's take z_t and
    # then h^dec_{t-1} (eq. 7).
    read_rows, z_rows = config.read_size, config.z_size
    enc_W = params["enc.W"]
    enc_W = np.concatenate([enc_W[:read_rows],
                            outgoing(enc_W[read_rows:read_rows + old_d], old_d, dec_size),
                            outgoing(enc_W[read_rows + old_d:], old_e, enc_size)])
    grown["enc.W"], grown["enc.b"] = (gates(enc_W, old_e, enc_size),
                                      gates(params["enc.b"], old_e, enc_size))
    dec_W = params["dec.W"]
    dec_W = np.concatenate([dec_W[:z_rows], outgoing(dec_W[z_rows:], old_d, dec_size)])
    grown["dec.W"], grown["dec.b"] = (gates(dec_W, old_d, dec_size),
                                      gates(params["dec.b"], old_d, dec_size))
    for name in ("mu.W", "logsigma.W"):
        grown[name] = outgoing(params[name], old_e, enc_size)
    for name in ("read_attn.W", "write_attn.W", "write.W"):
        if name in params:   # a DRAW without attention has no attention heads
            grown[name] = outgoing(params[name], old_d, dec_size)
    grown["h0_enc"], grown["h0_dec"] = padded(params["h0_enc"], enc_size), padded(
        params["h0_dec"], dec_size)
    return grown


def at_own_scale(params: dict, config, height: int, width: int) -> dict:
    """The parameters of the same model for ``height`` x ``width`` images whose glimpses keep
    their own scale in pixels, the old image's frame centred in the new one (see the module).

    With ``ox = (width − W)/2`` and ``oy = (height − H)/2``, g_X = (W + 1)/2 (g̃_X + 1) + ox
    (eq. 22 on the old image, moved) is g_X = (width + 1)/2 (g̃'_X + 1) for g̃'_X = g̃_X (W + 1)
    /(width + 1): every attention head's g̃_X row of ``*_attn.W`` and ``*_attn.b`` is scaled
    by that factor, g̃_Y's by (H + 1)/(height + 1) (eq. 23), and log δ̃'s bias gains
    log((max(H, W) − 1)/(max(height, width) − 1)) so that δ stays (eq. 24). DRAW's c0 is the
    old one in the centre and its smallest value around it (the old image's emptiest pixel).

    Args:
        params: name -> NumPy array (a checkpoint's), the trained model's; not modified.
        config: the trained model's config (its ``H`` and ``W``).
        height, width: the new image's size, each at least the old one's and larger by an even
            number of pixels (so that the old frame sits on whole pixels).
    Returns:
        a new dict; only the attention heads and ``c0`` differ from ``params``.
    """
    old_h, old_w = config.H, config.W
    if (height, width) == (old_h, old_w):
        return dict(params)
    if height < old_h or width < old_w:
        raise ValueError(f"a model keeps its glimpses' own scale only on a larger image: "
                         f"{old_h} x {old_w} there, {height} x {width} here")
    if (height - old_h) % 2 or (width - old_w) % 2:
        raise ValueError(f"a {old_h} x {old_w} image is centred on whole pixels only in an "
                         f"image larger by an even number of pixels each way, not "
                         f"{height} x {width}")
    heads = [name[:-2] for name in params if name.endswith("_attn.b")]
    if not heads:
        raise ValueError("only a model with attention has glimpses to keep at their own scale")
    moved = dict(params)
    stride = math.log((max(old_h, old_w) - 1) / (max(height, width) - 1))
    for head in heads:
        W, b = params[head + ".W"].copy(), params[head + ".b"].copy()
        for row, scale in ((CENTRE_X, (old_w + 1) / (width + 1)),
                           (CENTRE_Y, (old_h + 1) / (height + 1))):
            W[:, row] *= scale
            b[row] *= scale
        b[LOG_STRIDE] += stride
        moved[head + ".W"], moved[head + ".b"] = W, b
    if "c0" in params:
        c0 = params["c0"]
        top, left = (height - old_h) // 2, (width - old_w) // 2
        padded = np.full(c0.shape[:-2] + (height, width), c0.min(), dtype=c0.dtype)
        padded[..., top:top + old_h, left:left + old_w] = c0
        moved["c0"] = padded
    return moved
