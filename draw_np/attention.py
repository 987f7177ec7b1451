"""DRAW's selective attention: a grid of N x N Gaussian filters (spec eqs. 19-26).

Two pieces, each a pure forward/backward pair:

1. :func:`attention_params_forward` turns a decoder state into the five numbers that place the
   grid (eqs. 21-24): centre ``(g_X, g_Y)``, stride ``δ``, isotropic variance ``σ²`` and
   intensity ``γ``.
2. :func:`filterbank_forward` turns those into the filterbank matrices ``F_X: (N, W)`` and
   ``F_Y: (N, H)`` (eqs. 19-20, 25-26), one pair per example.

Geometry, exactly as the paper's 1-based formulas: filter ``i = 1..N`` is centred at
``μ_X^i = g_X + (i − N/2 − 0.5) δ`` and compared with pixel columns ``a = 1..W``. In code, with
``i0 = i − 1``, the offset is ``i0 − (N − 1)/2`` and the pixel coordinate is ``a0 + 1``: the same
numbers. With ``g̃ = 0`` the centre is ``(W + 1)/2``, the middle of pixels 1..W, so for odd N the
middle filter sits exactly on the image centre. (Code that uses 0-based ``i0`` in
``i − N/2 − 0.5`` shifts the whole grid by one stride; this module does not.)
"""
from __future__ import annotations

from typing import NamedTuple

from .backend import array_module
from .linear import LinearCache, linear_backward, linear_forward, linear_matmul_shapes
from .validate import check_array, check_positive_int, check_same_dtype

#: Added to each filter's row sum (eqs. 25-26), so a filter far outside the image gives a row of
#: zeros rather than 0/0 = NaN.
NORMALISER_EPS = 1e-8

#: The three positive parameters are ``exp`` of a linear map (eq. 21); their logarithms are
#: clipped to ±30 first, so ``exp`` stays finite in float32 (it overflows past 88) and a product
#: of two of them does too. Ordinary values are far inside: γ = e^30 would be 10^13.
LOG_PARAM_LIMIT = 30.0

#: The filterbank clamps σ² to this range. Below 1e-4 (σ = 0.01 pixel) every filter is already
#: a one-pixel spike, and the backward pass's 1/σ² and 1/σ⁴ overflow float32 (σ⁴ underflows to
#: 0 once σ² < 4e-23: the ``invalid value encountered in matmul`` of a T = 64 run came from
#: there). Above 1e8 (σ = 10^4 pixels) every filter is flat over any image.
SIGMA2_RANGE = (1e-4, 1e8)

#: A filter value below exp(−60) ≈ 9e-27 of its peak is set to exactly 0. It changes no read or
#: write by more than that, but left in, float32 products with such values go subnormal, which
#: this CPU computes about ten times slower: the first 100 x 100 read of the attention
#: classifier (12 x 12 glimpse, batch 100) took 57 ms with them and 5 ms without.
FLUSH_EXPONENT = -60.0

#: Filter centres are clamped to ±1e6 pixels, so ``a − μ`` and its square stay finite (a centre
#: ``g + offset·δ`` that overflows to inf would give 0·inf = NaN in the backward pass); a filter
#: that far out reads nothing anyway.
CENTRE_LIMIT = 1e6


class AttentionParams(NamedTuple):
    """The grid's placement, each of shape (n,). Also used for their gradients."""
    gx: object      # centre column, in 1-based pixel coordinates (eq. 22)
    gy: object      # centre row, in 1-based pixel coordinates (eq. 23)
    sigma2: object  # variance σ² of every filter
    delta: object   # stride δ between filter centres (eq. 24)
    gamma: object   # intensity γ: read multiplies by it (eq. 27), write divides (eq. 29)


class AttentionParamsCache(NamedTuple):
    linear: LinearCache
    params: AttentionParams
    inside: object       # (n, 3) bool: log σ², log δ̃, log γ within ±LOG_PARAM_LIMIT
    stride_scale: float  # (max(H, W) − 1) / (N − 1) of eq. 24
    height: int
    width: int


def _clamp(a, low: float, high: float):
    """``a`` clipped to [low, high]; two ufuncs cost a third of ``xp.clip`` on these small arrays."""
    xp = array_module(a)
    return xp.minimum(xp.maximum(a, low), high)


def stride_scale(N: int, height: int, width: int) -> float:
    """The factor of eq. 24, ``(max(H, W) − 1) / (N − 1)``; ``max(H, W) − 1`` when N = 1.

    With ``δ̃ = 1`` the N filter centres then span the larger side of the image. A single filter
    has no stride to speak of; the N = 1 form keeps δ finite.
    """
    return (max(height, width) - 1) / (N - 1 if N > 1 else 1)


def attention_params_forward(h, W, b, N: int, height: int, width: int):
    """Attention parameters from a decoder state (eqs. 21-24).

    ``(g̃_X, g̃_Y, log σ², log δ̃, log γ) = h W + b``, then ``g_X = (W + 1)/2 (g̃_X + 1)``,
    ``g_Y = (H + 1)/2 (g̃_Y + 1)``, ``δ = (max(H, W) − 1)/(N − 1) δ̃``; σ², δ̃, γ by ``exp``.

    Args:
        h: (n, size) decoder state.  W: (size, 5), b: (5,) the attention head.
        N: grid side.  height, width: image size H, W.
    Returns:
        :class:`AttentionParams` of (n,) arrays, and a cache.
    """
    check_positive_int("N", N)
    check_positive_int("height", height)
    check_positive_int("width", width)
    dims = {}
    check_array("h", h, ("n", "size"), dims)
    check_array("W", W, ("size", 5), dims)
    check_array("b", b, (5,))
    xp = array_module(h)
    a, linear_cache = linear_forward(h, W, b)
    scale = stride_scale(N, height, width)
    log_params = a[:, 2:]
    clipped = _clamp(log_params, -LOG_PARAM_LIMIT, LOG_PARAM_LIMIT)
    inside = clipped == log_params                          # where the clip lets gradients pass
    exp = xp.exp(clipped)                                   # σ², δ̃, γ in one call
    params = AttentionParams(
        gx=(width + 1) / 2 * (a[:, 0] + 1),
        gy=(height + 1) / 2 * (a[:, 1] + 1),
        sigma2=exp[:, 0],
        delta=scale * exp[:, 1],
        gamma=exp[:, 2],
    )
    return params, AttentionParamsCache(linear_cache, params, inside, scale, height, width)


def attention_params_backward(dparams: AttentionParams, cache: AttentionParamsCache):
    """Gradients of :func:`attention_params_forward`.

    Args:
        dparams: :class:`AttentionParams` holding the gradient of each parameter, (n,) each.
    Returns:
        dh: (n, size), dW: (size, 5), db: (5,).
    """
    xp = array_module(dparams.gx)
    p = cache.params
    for name, d in zip(AttentionParams._fields, dparams):
        check_array("d" + name, d, p.gx.shape)
    da = xp.stack([
        dparams.gx * ((cache.width + 1) / 2),   # g_X = (W + 1)/2 (g̃_X + 1)
        dparams.gy * ((cache.height + 1) / 2),  # g_Y = (H + 1)/2 (g̃_Y + 1)
        dparams.sigma2 * p.sigma2,              # σ² = exp(log σ²): d/d(log σ²) = σ²
        dparams.delta * p.delta,                # δ = scale exp(log δ̃): d/d(log δ̃) = δ
        dparams.gamma * p.gamma,                # γ = exp(log γ)
    ], axis=1)
    da[:, 2:] = xp.where(cache.inside, da[:, 2:], 0)  # a clipped logarithm passes no gradient
    return linear_backward(da, cache.linear)


class FilterbankCache(NamedTuple):
    offsets: object        # (N,) i0 − (N − 1)/2
    diff: object           # (n, 2, N, L) pixel coordinate minus filter centre, a − μ^i, x axis first
    F: object              # (n, 2, N, L) the normalised filters of both axes, L = max(H, W)
    sigma2: object         # (n,) σ² clamped to SIGMA2_RANGE
    sigma2_inside: object  # (n,) bool: σ² was inside SIGMA2_RANGE (elsewhere no gradient)
    centre_inside: object  # (n, 2, N) bool: μ^i was within ±CENTRE_LIMIT
    height: int
    width: int


def _sum_last(a):
    """``a.sum(axis=-1)``, as one matrix-vector product with a vector of ones.

    The filters' last axis is short (one row of pixels); NumPy's ``sum`` along it costs about
    three times as much as the product, and the filterbank takes several such sums per step.
    """
    xp = array_module(a)
    ones = xp.ones(a.shape[-1], dtype=a.dtype)
    return (a.reshape(-1, a.shape[-1]) @ ones).reshape(a.shape[:-1])


def filterbank_forward(gx, gy, sigma2, delta, N: int, H: int, W: int):
    """The Gaussian filterbank matrices (eqs. 19-20, 25-26).

    ``F_X[i, a] = exp(−(a − μ_X^i)² / 2σ²) / Z_X`` with ``μ_X^i = g_X + (i − N/2 − 0.5) δ``, and
    the same along y. Both axes are computed together, as one stack of two, over pixels
    ``1..max(H, W)``: the arrays are small, so the number of operations sets the cost. Pixels
    beyond the shorter side are masked out of its filters.

    Args:
        gx, gy: (n,) grid centre in 1-based pixel coordinates.  sigma2: (n,) filter variance.
        delta: (n,) stride.  N: grid side.  H, W: image height and width.
    Returns:
        ``(Fx, Fy)`` with Fx: (n, N, W) and Fy: (n, N, H), each row summing to 1 (or 0 for a
        filter far outside the image), and a :class:`FilterbankCache`.
    """
    check_positive_int("N", N)
    check_positive_int("H", H)
    check_positive_int("W", W)
    dims = {}
    for name, a in (("gx", gx), ("gy", gy), ("sigma2", sigma2), ("delta", delta)):
        check_array(name, a, ("n",), dims)
    check_same_dtype(gx=gx, gy=gy, sigma2=sigma2, delta=delta)
    xp = array_module(gx)
    offsets = xp.arange(N, dtype=gx.dtype) - (N - 1) / 2               # i − N/2 − 0.5, 1-based i
    centres = xp.stack([gx, gy], axis=1)                               # (n, 2): g_X, g_Y
    mu = centres[:, :, None] + offsets * delta[:, None, None]          # (n, 2, N) filter centres
    # Clamped so that every number below stays finite (see SIGMA2_RANGE, CENTRE_LIMIT); at
    # ordinary parameters both clamps leave the values as they are.
    clamped = _clamp(mu, -CENTRE_LIMIT, CENTRE_LIMIT)
    centre_inside, mu = clamped == mu, clamped
    clamped = _clamp(sigma2, *SIGMA2_RANGE)
    sigma2_inside, sigma2 = clamped == sigma2, clamped
    pixels = xp.arange(1, max(H, W) + 1, dtype=gx.dtype)               # a = 1..max(H, W)
    diff = pixels - mu[..., None]                                      # (n, 2, N, L)
    exponent = diff * diff * (-0.5 / sigma2)[:, None, None, None]
    unnormalised = xp.where(exponent > FLUSH_EXPONENT,                 # see FLUSH_EXPONENT
                            xp.exp(xp.maximum(exponent, FLUSH_EXPONENT)), 0)
    if H != W:                                                         # the shorter side ends
        unnormalised *= (pixels <= xp.asarray([[W], [H]], dtype=gx.dtype))[:, None]
    rowsum = _sum_last(unnormalised)[..., None] + NORMALISER_EPS
    F = unnormalised / rowsum
    cache = FilterbankCache(offsets, diff, F, sigma2, sigma2_inside, centre_inside, H, W)
    return (F[:, 0, :, :W], F[:, 1, :, :H]), cache


def filterbank(gx, gy, sigma2, delta, N: int, H: int, W: int):
    """``(Fx, Fy)`` of :func:`filterbank_forward`, without the cache (for plots and lessons)."""
    return filterbank_forward(gx, gy, sigma2, delta, N, H, W)[0]


def filterbank_backward(dFx, dFy, cache: FilterbankCache):
    """Gradients of :func:`filterbank_forward`.

    Args:
        dFx: (n, N, W), dFy: (n, N, H) upstream gradients.
    Returns:
        dgx, dgy, dsigma2, ddelta: each (n,).
    """
    offsets, diff, F, sigma2, sigma2_inside, centre_inside, H, W = cache
    xp = array_module(F)
    n, _, N, _ = F.shape
    check_array("dFx", dFx, (n, N, W))
    check_array("dFy", dFy, (n, N, H))
    dF = xp.zeros_like(F)                                              # masked pixels: zero
    dF[:, 0, :, :W] = dFx
    dF[:, 1, :, :H] = dFy
    # F = e / s with s = Σ_a e + ε gives de = (dF − Σ_a dF ⊙ F) / s. Every path to μ and σ²
    # goes through e = exp(−diff² / 2σ²), whose derivatives carry a factor e = F s; so the
    # row sum s cancels:  de ⊙ e = (dF − Σ_a dF ⊙ F) ⊙ F.
    de_e = (dF - _sum_last(dF * F)[..., None]) * F
    de_e_diff = de_e * diff
    dmu = _sum_last(de_e_diff) / sigma2[:, None, None]                 # de/dμ = e diff / σ²
    dsigma2 = _sum_last(de_e_diff * diff).sum(axis=(1, 2)) / (2 * sigma2 * sigma2)  # e diff²/2σ⁴
    dmu = xp.where(centre_inside, dmu, 0)                              # a clamp passes no gradient
    dsigma2 = xp.where(sigma2_inside, dsigma2, 0)
    # μ^i = g + offset_i δ, on both axes
    dcentres = dmu.sum(axis=2)                                         # (n, 2)
    return dcentres[:, 0], dcentres[:, 1], dsigma2, (dmu @ offsets).sum(axis=1)


def attention_params_matmul_shapes(label: str, n: int, size: int) -> list:
    """The products of :func:`attention_params_forward` and its backward: one linear map to 5."""
    return linear_matmul_shapes(label, n, size, 5)


def filterbank_matmul_shapes(label: str, n: int, N: int, H: int, W: int) -> list:
    """The products of :func:`filterbank_forward` and its backward, as
    ``(label, rows, inner, cols, count)``: the row sums of :func:`_sum_last` (one forward,
    three backward) over the ``n·2·N`` filters of both axes, and ``dμ`` times the offsets."""
    rows, L = n * 2 * N, max(H, W)
    return [(f"{label}.filter_row_sums", rows, L, 1, 4), (f"{label}.grad_offsets", n * 2, N, 1, 1)]
