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
