"""Attention parameters and the Gaussian filterbank: gradients and geometry."""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from draw_np import backend as B
from draw_np.attention import (AttentionParams, attention_params_backward,
                               attention_params_forward, filterbank, filterbank_backward,
                               filterbank_forward)

from .helpers import assert_gradients_match, batch, randn, seeds, side

grid = st.integers(1, 4)


@given(n=batch, size=side, N=grid, H=side, W=side, seed=seeds)
def test_attention_params_gradients(backend, n, size, N, H, W, seed):
    rng = np.random.default_rng(seed)
    h, Wa, ba = randn(rng, n, size), randn(rng, size, 5, scale=0.3), randn(rng, 5, scale=0.3)
    _, cache = attention_params_forward(h, Wa, ba, N, H, W)
    dparams = AttentionParams(*(randn(rng, n) for _ in range(5)))
    dh, dWa, dba = attention_params_backward(dparams, cache)
    assert_gradients_match(lambda: tuple(attention_params_forward(h, Wa, ba, N, H, W)[0]),
                           dict(h=h, W=Wa, b=ba), dict(h=dh, W=dWa, b=dba), tuple(dparams))


def random_placement(rng, n, H, W):
    xp = B.xp()
    return (xp.asarray(rng.uniform(-1, W + 2, n)), xp.asarray(rng.uniform(-1, H + 2, n)),
            xp.asarray(rng.uniform(0.3, 3.0, n)), xp.asarray(rng.uniform(0.2, 2.5, n)))


@given(n=batch, N=grid, H=side, W=side, seed=seeds)
@example(n=1, N=4, H=4, W=4, seed=4)  # dδ nearly cancels: -0.00089 from terms of about 0.5
def test_filterbank_gradients(backend, n, N, H, W, seed):
    rng = np.random.default_rng(seed)
    gx, gy, sigma2, delta = random_placement(rng, n, H, W)
    _, cache = filterbank_forward(gx, gy, sigma2, delta, N, H, W)
    dFx, dFy = randn(rng, n, N, W), randn(rng, n, N, H)
    dgx, dgy, dsigma2, ddelta = filterbank_backward(dFx, dFy, cache)
    assert_gradients_match(lambda: filterbank(gx, gy, sigma2, delta, N, H, W),
                           dict(gx=gx, gy=gy, sigma2=sigma2, delta=delta),
                           dict(gx=dgx, gy=dgy, sigma2=dsigma2, delta=ddelta), (dFx, dFy))


def centred_filterbank(xp, N, H, W, n=1):
    """The filterbank that a zero attention head gives: g̃ = 0, σ² = δ̃ = γ = 1."""
    h = xp.zeros((n, 3))
    params, _ = attention_params_forward(h, xp.zeros((3, 5)), xp.zeros(5), N, H, W)
    return params, filterbank(params.gx, params.gy, params.sigma2, params.delta, N, H, W)


@pytest.mark.parametrize("N, H, W", [(3, 28, 28), (5, 7, 5), (1, 6, 9), (4, 5, 8)])
def test_filterbank_has_the_promised_shapes_and_rows_sum_to_one(backend, N, H, W):
    params, (Fx, Fy) = centred_filterbank(backend, N, H, W, n=2)
    assert Fx.shape == (2, N, W) and Fy.shape == (2, N, H)
    np.testing.assert_allclose(B.to_numpy(Fx.sum(axis=2)), 1, rtol=1e-7)
    np.testing.assert_allclose(B.to_numpy(Fy.sum(axis=2)), 1, rtol=1e-7)


@pytest.mark.parametrize("N, H, W", [(3, 5, 8), (2, 9, 4)])
def test_each_axis_filters_depend_only_on_that_axis(backend, N, H, W):
    """Both axes are computed in one stack over max(H, W) pixels: the shorter side's filters
    must not spill past its edge, so they equal those of a square image of that side."""
    rng = np.random.default_rng(0)
    gx, gy, sigma2, delta = random_placement(rng, 3, H, W)
    Fx, Fy = filterbank(gx, gy, sigma2, delta, N, H, W)
    Fx_square, _ = filterbank(gx, gy, sigma2, delta, N, W, W)
    _, Fy_square = filterbank(gx, gy, sigma2, delta, N, H, H)
    np.testing.assert_allclose(B.to_numpy(Fx), B.to_numpy(Fx_square), rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(Fy), B.to_numpy(Fy_square), rtol=1e-12)


@pytest.mark.parametrize("N, H, W", [(3, 28, 28), (5, 7, 5), (1, 6, 9), (7, 9, 4)])
def test_with_zero_head_the_middle_filter_sits_on_the_image_centre(backend, N, H, W):
    params, (Fx, Fy) = centred_filterbank(backend, N, H, W)
    assert float(params.gx[0]) == (W + 1) / 2 and float(params.gy[0]) == (H + 1) / 2
    mid = N // 2
    columns, rows = np.arange(1, W + 1), np.arange(1, H + 1)
    # The centre of mass of the middle filter, in 1-based pixels, is the image centre ...
    centre_of_mass = lambda f, pixels: (f @ pixels) / f.sum()
    assert centre_of_mass(B.to_numpy(Fx[0, mid]), columns) == pytest.approx((W + 1) / 2, abs=1e-9)
    assert centre_of_mass(B.to_numpy(Fy[0, mid]), rows) == pytest.approx((H + 1) / 2, abs=1e-9)
    # ... and for an odd side its peak is the centre pixel itself.
    if W % 2:
        assert int(B.to_numpy(Fx[0, mid]).argmax()) + 1 == (W + 1) // 2


@pytest.mark.parametrize("N, H, W", [(4, 28, 28), (5, 7, 5), (2, 9, 6)])
def test_centred_grid_is_mirror_symmetric(backend, N, H, W):
    """Filter i on pixel a equals filter N+1-i on pixel W+1-a: the grid is not shifted."""
    _, (Fx, Fy) = centred_filterbank(backend, N, H, W)
    Fx, Fy = B.to_numpy(Fx[0]), B.to_numpy(Fy[0])
    np.testing.assert_allclose(Fx, Fx[::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(Fy, Fy[::-1, ::-1], atol=1e-12)


def test_stride_places_filter_centres_delta_apart(backend):
    """With a tiny variance each filter is a spike at its centre, so the centres can be read off."""
    xp = backend
    gx, gy = xp.asarray([10.0]), xp.asarray([6.0])
    Fx, Fy = filterbank(gx, gy, xp.asarray([1e-3]), xp.asarray([3.0]), 3, 12, 20)
    assert list(B.to_numpy(Fx[0]).argmax(axis=1) + 1) == [7, 10, 13]
    assert list(B.to_numpy(Fy[0]).argmax(axis=1) + 1) == [3, 6, 9]


def test_filter_far_outside_the_image_gives_zeros_not_nan(backend):
    xp = backend
    one = lambda v: xp.asarray([v])
    for dtype in ("float32", "float64"):
        Fx, Fy = filterbank(one(-500.0).astype(dtype), one(900.0).astype(dtype),
                            one(0.5).astype(dtype), one(1.0).astype(dtype), 3, 5, 7)
        assert np.isfinite(B.to_numpy(Fx)).all() and np.isfinite(B.to_numpy(Fy)).all()
        assert float(abs(Fx).max()) == 0 and float(abs(Fy).max()) == 0


def test_filterbank_rejects_bad_input(backend):
    xp = backend
    v = xp.ones(2)
    with pytest.raises(ValueError, match=r"gy must have shape \(2,\), got \(3,\)"):
        filterbank(v, xp.ones(3), v, v, 3, 5, 5)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        filterbank(v, v, v, v, 0, 5, 5)
    with pytest.raises(ValueError, match="floating-point"):
        filterbank(xp.ones(2, dtype=int), v, v, v, 3, 5, 5)


# ------------------------------------------------------------------ extreme placements, float32
EXTREME = {  # (g_X, g_Y, σ², δ) as float32; each gave NaN or inf gradients before the clamps
    "sigma2 tiny": (14.5, 14.5, float(np.exp(np.float32(-60))), 1.0),   # σ⁴ underflows to 0
    "sigma2 subnormal": (14.5, 14.5, float(np.exp(np.float32(-100))), 1.0),  # 1/σ² overflows
    "sigma2 zero": (14.5, 14.5, 0.0, 1.0),                               # exp(−88.8) and below
    "sigma2 huge": (14.5, 14.5, 1e30, 1.0),
    "stride huge": (14.5, 14.5, 1.0, 1e38),
    "centre huge": (3e38, 14.5, 1.0, 1e38),                              # μ overflows to inf
}


@pytest.mark.parametrize("case", EXTREME)
@pytest.mark.parametrize("N", [1, 2, 5])
def test_filterbank_is_finite_at_extreme_placements_in_float32(case, N):
    """The filterbank clamps σ² and the filter centres at the source, so any finite placement
    gives finite filters and gradients. (A T = 64 run printed `invalid value encountered in
    matmul` in the backward pass: σ² far below 1e-23 makes 1/σ² and 1/σ⁴ overflow there.)"""
    rng = np.random.default_rng(0)
    placement = [np.full(3, v, dtype=np.float32) for v in EXTREME[case]]
    # over="ignore": a centre g + offset·δ past float32's range overflows to inf, then is clamped
    with np.errstate(divide="raise", invalid="raise", over="ignore"):
        (Fx, Fy), cache = filterbank_forward(*placement, N, 28, 28)
        dFx = rng.standard_normal(Fx.shape).astype(np.float32)
        dFy = rng.standard_normal(Fy.shape).astype(np.float32)
        grads = filterbank_backward(dFx, dFy, cache)
    for a in (Fx, Fy) + tuple(grads):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    assert (Fx.sum(axis=2) <= 1 + 1e-5).all() and (Fy.sum(axis=2) <= 1 + 1e-5).all()


@pytest.mark.parametrize("log_value", [-200.0, -90.0, 90.0, 200.0])
def test_attention_params_are_finite_for_huge_logarithms_in_float32(log_value):
    """exp of a log-parameter past ±88 overflows float32; the ±30 clip keeps σ², δ, γ finite
    and their gradients too (no 0·inf)."""
    h = np.ones((2, 3), dtype=np.float32)
    W = np.zeros((3, 5), dtype=np.float32)
    b = np.full(5, log_value, dtype=np.float32)
    b[:2] = 0
    with np.errstate(over="raise", invalid="raise"):
        params, cache = attention_params_forward(h, W, b, 2, 28, 28)
        grads = attention_params_backward(AttentionParams(*(np.ones(2, np.float32),) * 5), cache)
    for a in tuple(params) + tuple(grads):
        assert np.isfinite(a).all()
    np.testing.assert_array_equal(grads[2][2:], 0)   # clipped: no gradient to log σ², δ̃, γ


@pytest.mark.parametrize("sigma2, delta", [(1e-6, 1.0), (1e9, 1.0), (1.0, 1e7)])
def test_clamped_placements_have_the_gradient_of_the_clamped_function(backend, sigma2, delta):
    """Beyond the clamps the filters no longer change, and the gradient says so: finite
    differences of the clamped function agree (float64)."""
    rng = np.random.default_rng(1)
    xp = backend
    gx, gy = xp.asarray([3.2, 4.5]), xp.asarray([2.5, 3.7])
    s2, d = xp.asarray([sigma2, 0.8]), xp.asarray([delta, 0.9])
    (Fx, Fy), cache = filterbank_forward(gx, gy, s2, d, 3, 5, 6)
    dFx, dFy = randn(rng, *Fx.shape), randn(rng, *Fy.shape)
    grads = filterbank_backward(dFx, dFy, cache)
    assert_gradients_match(lambda: filterbank_forward(gx, gy, s2, d, 3, 5, 6)[0],
                           dict(gx=gx, gy=gy, sigma2=s2, delta=d),
                           dict(zip(["gx", "gy", "sigma2", "delta"], grads)), (dFx, dFy))


def test_negligible_filter_values_are_exact_zeros_never_subnormal(backend):
    """A sharp glimpse on a large image: values below exp(FLUSH_EXPONENT) of the peak are exactly
    0 (no float32 subnormals, which are slow), rows still sum to 1, and the gradient is that of
    the flushed function (finite differences in float64, on a glimpse with flushed tails)."""
    from draw_np.attention import FLUSH_EXPONENT
    xp = backend
    N, H, W = 4, 100, 90
    args = [xp.asarray(v, dtype="float32") for v in ([20.0, 50.0, 80.0], [30.0, 60.0, 10.0],
                                                     [1.0, 4.0, 0.5], [3.0, 2.0, 1.0])]
    (Fx, Fy), cache = filterbank_forward(*args, N, H, W)
    tiny = np.finfo(np.float32).tiny
    for F in (B.to_numpy(Fx), B.to_numpy(Fy)):
        assert not ((F != 0) & (np.abs(F) < tiny)).any()
        assert (F == 0).mean() > 0.5                      # most of a sharp filter's row is tail
        np.testing.assert_allclose(F.sum(axis=-1), 1.0, rtol=1e-5)
        assert F[F > 0].min() >= np.exp(FLUSH_EXPONENT) / 2
    rng = np.random.default_rng(2)
    args64 = [xp.asarray(B.to_numpy(a), dtype="float64") for a in args]
    (Fx, Fy), cache = filterbank_forward(*args64, N, 12, 11)
    dFx, dFy = randn(rng, *Fx.shape), randn(rng, *Fy.shape)
    grads = filterbank_backward(dFx, dFy, cache)
    assert_gradients_match(lambda: filterbank_forward(*args64, N, 12, 11)[0],
                           dict(zip(["gx", "gy", "sigma2", "delta"], args64)),
                           dict(zip(["gx", "gy", "sigma2", "delta"], grads)), (dFx, dFy))
