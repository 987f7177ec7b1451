"""The read and write heads: attention placed by a hidden state, and what it reads or writes.

A head bundles three layers, each tested on its own:

1. :func:`draw_np.attention.attention_params_forward`: the grid's placement from a hidden
   state ``h`` (eqs. 21-24);
2. :func:`draw_np.attention.filterbank_forward`: the filterbank ``F_X, F_Y`` (eqs. 19-26);
3. the products of :mod:`draw_np.readwrite`: read (eq. 27) or write (eqs. 28-29), one
   filterbank for every channel (spec, "Images with C channels").

With ``N = None`` a head works without attention: the read returns whole images (eq. 17) and
the write a whole canvas (eq. 18).

A head knows its own parameters. :func:`read_head_param_shapes` and
:func:`write_head_param_shapes` give their names and shapes, a model's table is the union of
its heads' and its other layers', and the backward passes return gradients under the same
names. Names start with the head's ``prefix``: the read head ``"read"`` owns ``read_attn.W``,
``read_attn.b``; the write head ``"write"`` owns ``write.W``, ``write.b`` (the patch, eq. 28)
and ``write_attn.W``, ``write_attn.b``.

The read head reads any tuple of images, each ``(n, C_k, H, W)`` or ``(n, H, W)``: DRAW reads
``(x, x̂)`` with ``h = h^dec_{t−1}``; an attention classifier reads ``(x,)`` with its own LSTM's
state. Its backward pass computes an image's gradient only where asked (``wrt``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from .attention import (AttentionParams, attention_params_backward, attention_params_forward,
                        attention_params_matmul_shapes, filterbank_backward, filterbank_forward,
                        filterbank_matmul_shapes)
from .linear import linear_matmul_shapes
from .readwrite import (read_attention_backward, read_attention_forward,
                        read_attention_matmul_shapes, read_backward, read_forward,
                        write_attention_backward, write_attention_forward,
                        write_attention_matmul_shapes, write_backward, write_forward)


def attention_names(prefix: str) -> tuple:
    """The names of an attention head's weight and bias (eq. 21)."""
    return f"{prefix}_attn.W", f"{prefix}_attn.b"


def attention_param_shapes(prefix: str, hidden_size: int) -> dict:
    """``{prefix_attn.W: (hidden_size, 5), prefix_attn.b: (5,)}``: the five numbers of eq. 21."""
    W, b = attention_names(prefix)
    return {W: (hidden_size, 5), b: (5,)}


# ------------------------------------------------------------------------------ the glimpse
class Glimpse(NamedTuple):
    """An attention grid placed for one step: its parameters, filterbank and their caches."""
    params: AttentionParams  # (n,) each: g_X, g_Y, σ², δ, γ
    params_cache: object     # AttentionParamsCache
    filters: tuple           # (Fx, Fy): (n, N, W), (n, N, H)
    filters_cache: object    # FilterbankCache


def glimpse_forward(h, W, b, N: int, height: int, width: int) -> Glimpse:
    """Place an N x N grid from a hidden state (eqs. 21-24) and build its filters (19-26)."""
    params, params_cache = attention_params_forward(h, W, b, N, height, width)
    filters, filters_cache = filterbank_forward(params.gx, params.gy, params.sigma2,
                                                params.delta, N, height, width)
    return Glimpse(params, params_cache, filters, filters_cache)


def glimpse_backward(dFx, dFy, dgamma, glimpse: Glimpse):
    """Undo eqs. 19-26 and 21-24: filterbank and intensity gradients -> dh, dW, db."""
    dgx, dgy, dsigma2, ddelta = filterbank_backward(dFx, dFy, glimpse.filters_cache)
    return attention_params_backward(AttentionParams(dgx, dgy, dsigma2, ddelta, dgamma),
                                     glimpse.params_cache)


def glimpse_matmul_shapes(label: str, n: int, hidden_size: int, N: int, H: int, W: int) -> list:
    """The products of :func:`glimpse_forward` and :func:`glimpse_backward`."""
    return (attention_params_matmul_shapes(label, n, hidden_size)
            + filterbank_matmul_shapes(label, n, N, H, W))


# -------------------------------------------------------------------------------- read head
def read_size(N: int | None, planes: int, height: int, width: int) -> int:
    """Length of what a read head returns for ``planes`` image planes: P N², or P H W (eq. 17)."""
    return planes * (N * N if N is not None else height * width)


def read_head_param_shapes(prefix: str, hidden_size: int, N: int | None) -> dict:
    """The read head's parameters: its attention map, or nothing without attention."""
    return attention_param_shapes(prefix, hidden_size) if N is not None else {}


class ReadHeadCache(NamedTuple):
    prefix: str
    glimpse: Glimpse | None  # None without attention
    read: object             # ReadAttentionCache, or ReadCache without attention


class ReadHeadGrads(NamedTuple):
    dh: object       # (n, hidden_size); None without attention (the read ignores h)
    dimages: tuple   # one per image, in its shape; None where not asked for
    params: dict     # name -> gradient, the head's own parameters


def read_head_forward(params: dict, prefix: str, h, images, N: int | None):
    """``r = γ [F_Y X⁽¹⁾ F_X^T, …]`` over every plane of ``images``, steered by ``h`` (eqs. 21-27).

    Args:
        params: the model's parameters (the head takes its own, by name).  prefix: its name.
        h: (n, hidden_size) the state that places the grid (ignored without attention).
        images: tuple of (n, C_k, H, W) or (n, H, W) arrays; DRAW passes ``(x, x̂)``.
        N: grid side, or None to read the whole images (eq. 17).
    Returns:
        r: (n, read_size(N, P, H, W)), and a :class:`ReadHeadCache`.
    """
    if N is None:
        r, cache = read_forward(images)
        return r, ReadHeadCache(prefix, None, cache)
    height, width = images[0].shape[-2:]
    W, b = attention_names(prefix)
    glimpse = glimpse_forward(h, params[W], params[b], N, height, width)
    r, cache = read_attention_forward(images, *glimpse.filters, glimpse.params.gamma)
    return r, ReadHeadCache(prefix, glimpse, cache)


def read_head_backward(dr, cache: ReadHeadCache, wrt=None) -> ReadHeadGrads:
    """Gradients of :func:`read_head_forward`.

    Args:
        dr: (n, read_size).  wrt: one bool per image, whether to compute its gradient (all if
            None): DRAW passes ``(False, True)`` (x is data), a classifier ``(False,)``.
    """
    if cache.glimpse is None:
        return ReadHeadGrads(None, read_backward(dr, cache.read, wrt), {})
    dimages, dFx, dFy, dgamma = read_attention_backward(dr, cache.read, wrt)
    dh, dW, db = glimpse_backward(dFx, dFy, dgamma, cache.glimpse)
    W, b = attention_names(cache.prefix)
    return ReadHeadGrads(dh, dimages, {W: dW, b: db})


def read_head_matmul_shapes(prefix: str, n: int, hidden_size: int, N: int | None,
                            planes: tuple, wrt: tuple, H: int, W: int) -> list:
    """The products of one read head's forward and backward pass on a batch of n, as
    ``(label, rows, inner, cols, count)``: ``planes`` holds each image's plane count and
    ``wrt`` whether it gets a gradient, as in :func:`read_head_backward`. None without
    attention: reading whole images multiplies nothing."""
    if N is None:
        return []
    label = attention_names(prefix)[0][:-2]
    wanted = sum(p for p, w in zip(planes, wrt) if w)
    return (glimpse_matmul_shapes(label, n, hidden_size, N, H, W)
            + read_attention_matmul_shapes(prefix, n, N, sum(planes), wanted, H, W))


# ------------------------------------------------------------------------------- write head
def write_size(N: int | None, canvas_shape: tuple) -> int:
    """Length of the write head's linear output: C N² (eq. 28), or C H W (eq. 18)."""
    channels = canvas_shape[0] if len(canvas_shape) == 3 else 1
    return channels * N * N if N is not None else math.prod(canvas_shape)


def write_head_param_shapes(prefix: str, hidden_size: int, N: int | None,
                            canvas_shape: tuple) -> dict:
    """``prefix.W: (hidden_size, write_size)``, ``prefix.b``, and the attention map with N."""
    size = write_size(N, canvas_shape)
    shapes = {f"{prefix}.W": (hidden_size, size), f"{prefix}.b": (size,)}
    if N is not None:
        shapes.update(attention_param_shapes(prefix, hidden_size))
    return shapes


class WriteHeadCache(NamedTuple):
    prefix: str
    glimpse: Glimpse | None  # None without attention
    write: object            # WriteAttentionCache, or the LinearCache of eq. 18


class WriteHeadGrads(NamedTuple):
    dh: object    # (n, hidden_size)
    params: dict  # name -> gradient, the head's own parameters


def write_head_forward(params: dict, prefix: str, h, N: int | None, canvas_shape: tuple):
    """The canvas update ``(1/γ̂) F̂_Y^T w⁽ᶜ⁾ F̂_X`` for each channel, with ``w = h W + b`` (eqs. 28-29).

    Args:
        params: the model's parameters.  prefix: the head's name.  h: (n, hidden_size).
        N: grid side, or None to write a whole canvas (eq. 18).
        canvas_shape: (C, H, W), or (H, W) for a grey canvas.
    Returns:
        the update, (n, *canvas_shape), and a :class:`WriteHeadCache`.
    """
    W, b = params[f"{prefix}.W"], params[f"{prefix}.b"]
    if N is None:
        update, cache = write_forward(h, W, b, canvas_shape)
        return update, WriteHeadCache(prefix, None, cache)
    attn_W, attn_b = attention_names(prefix)
    glimpse = glimpse_forward(h, params[attn_W], params[attn_b], N, *canvas_shape[-2:])
    channels = canvas_shape[0] if len(canvas_shape) == 3 else None
    update, cache = write_attention_forward(h, W, b, *glimpse.filters, glimpse.params.gamma,
                                            channels)
    return update, WriteHeadCache(prefix, glimpse, cache)


def write_head_backward(dupdate, cache: WriteHeadCache) -> WriteHeadGrads:
    """Gradients of :func:`write_head_forward`: dupdate (n, *canvas_shape) -> dh and the head's."""
    prefix = cache.prefix
    if cache.glimpse is None:
        dh, dW, db = write_backward(dupdate, cache.write)
        return WriteHeadGrads(dh, {f"{prefix}.W": dW, f"{prefix}.b": db})
    dh, dW, db, dFx, dFy, dgamma = write_attention_backward(dupdate, cache.write)
    dh_glimpse, dW_attn, db_attn = glimpse_backward(dFx, dFy, dgamma, cache.glimpse)
    attn_W, attn_b = attention_names(prefix)
    return WriteHeadGrads(dh + dh_glimpse, {f"{prefix}.W": dW, f"{prefix}.b": db,
                                            attn_W: dW_attn, attn_b: db_attn})


def write_head_matmul_shapes(prefix: str, n: int, hidden_size: int, N: int | None,
                             canvas_shape: tuple) -> list:
    """The products of one write head's forward and backward pass on a batch of n, as
    ``(label, rows, inner, cols, count)``."""
    shapes = linear_matmul_shapes(prefix, n, hidden_size, write_size(N, canvas_shape))
    if N is None:
        return shapes
    height, width = canvas_shape[-2:]
    channels = canvas_shape[0] if len(canvas_shape) == 3 else 1
    return (shapes + glimpse_matmul_shapes(attention_names(prefix)[0][:-2], n, hidden_size, N,
                                           height, width)
            + write_attention_matmul_shapes(prefix, n, N, channels, height, width))
