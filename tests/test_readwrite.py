"""Read and write, with and without attention: gradients and what they compute."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from draw_np import backend as B
from draw_np.attention import filterbank
from draw_np.readwrite import (read_attention_backward, read_attention_forward, read_backward,
                               read_forward, write_attention_backward, write_attention_forward,
                               write_backward, write_forward)

from .helpers import assert_gradients_match, batch, randn, seeds, side

grid = st.integers(1, 4)


def positive(rng, *shape):
    return B.xp().asarray(rng.uniform(0.5, 2.0, shape))


channels = st.integers(1, 3)


def image(rng, n, C, H, W):
    """A random image batch; C = None gives the grey (n, H, W) layout."""
    return randn(rng, n, H, W) if C is None else randn(rng, n, C, H, W)


maybe_channels = st.one_of(st.none(), channels)


@given(n=batch, C=maybe_channels, C2=maybe_channels, H=side, W=side, seed=seeds)
def test_read_gradients(backend, n, C, C2, H, W, seed):
    rng = np.random.default_rng(seed)
    x, x_hat = image(rng, n, C, H, W), image(rng, n, C2, H, W)
    r, cache = read_forward((x, x_hat))
    assert r.shape == (n, ((C or 1) + (C2 or 1)) * H * W)
    dr = randn(rng, *r.shape)
    dx, dx_hat = read_backward(dr, cache)
    assert_gradients_match(lambda: read_forward((x, x_hat))[0], dict(x=x, x_hat=x_hat),
                           dict(x=dx, x_hat=dx_hat), dr)


def test_read_is_each_image_flattened_row_major_over_channels_rows_columns(backend):
    xp = backend
    x = xp.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    x_hat = -x
    r, cache = read_forward((x, x_hat))
    np.testing.assert_array_equal(B.to_numpy(r[1, :60]), B.to_numpy(x[1]).ravel())
    np.testing.assert_array_equal(B.to_numpy(r[1, 60:]), B.to_numpy(x_hat[1]).ravel())
    dx, dx_hat = read_backward(r, cache, wrt=(False, True))
    assert dx is None
    np.testing.assert_array_equal(B.to_numpy(dx_hat), B.to_numpy(x_hat))


@given(n=batch, C=maybe_channels, N=grid, H=side, W=side, seed=seeds)
def test_read_attention_gradients(backend, n, C, N, H, W, seed):
    rng = np.random.default_rng(seed)
    x, x_hat = image(rng, n, C, H, W), image(rng, n, C, H, W)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    r, cache = read_attention_forward((x, x_hat), Fx, Fy, gamma)
    assert r.shape == (n, 2 * (C or 1) * N * N)
    dr = randn(rng, *r.shape)
    (dx, dx_hat), dFx, dFy, dgamma = read_attention_backward(dr, cache)
    assert_gradients_match(lambda: read_attention_forward((x, x_hat), Fx, Fy, gamma)[0],
                           dict(x=x, x_hat=x_hat, Fx=Fx, Fy=Fy, gamma=gamma),
                           dict(x=dx, x_hat=dx_hat, Fx=dFx, Fy=dFy, gamma=dgamma), dr)


@given(n=batch, C=channels, N=grid, H=side, W=side, seed=seeds)
def test_read_attention_of_one_image_gradients(backend, n, C, N, H, W, seed):
    """The classifier's read: the C planes of x alone."""
    rng = np.random.default_rng(seed)
    x = image(rng, n, C, H, W)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    r, cache = read_attention_forward((x,), Fx, Fy, gamma)
    assert r.shape == (n, C * N * N)
    dr = randn(rng, *r.shape)
    (dx,), dFx, dFy, dgamma = read_attention_backward(dr, cache)
    assert_gradients_match(lambda: read_attention_forward((x,), Fx, Fy, gamma)[0],
                           dict(x=x, Fx=Fx, Fy=Fy, gamma=gamma),
                           dict(x=dx, Fx=dFx, Fy=dFy, gamma=dgamma), dr)


def test_read_attention_backward_without_dx_skips_only_dx(backend):
    """The model reads data x, which needs no gradient: wrt=(False, True) leaves out dx, nothing else."""
    rng = np.random.default_rng(1)
    x, x_hat = randn(rng, 3, 2, 6, 5), randn(rng, 3, 2, 6, 5)
    Fx, Fy, gamma = randn(rng, 3, 2, 5), randn(rng, 3, 2, 6), positive(rng, 3)
    r, cache = read_attention_forward((x, x_hat), Fx, Fy, gamma)
    dr = randn(rng, *r.shape)
    full = read_attention_backward(dr, cache)
    without = read_attention_backward(dr, cache, wrt=(False, True))
    assert without[0][0] is None
    none = read_attention_backward(dr, cache, wrt=(False, False))
    assert none[0] == (None, None)
    np.testing.assert_array_equal(B.to_numpy(full[0][1]), B.to_numpy(without[0][1]))
    for a, b, c in zip(full[1:], without[1:], none[1:]):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(c))


def test_read_attention_reads_each_channel_as_that_grey_image_alone(backend):
    """One filterbank for every channel: channel c's patch is the grey read of channel c."""
    rng = np.random.default_rng(2)
    n, C, N, H, W = 2, 3, 2, 6, 5
    x, x_hat = randn(rng, n, C, H, W), randn(rng, n, C, H, W)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    r, _ = read_attention_forward((x, x_hat), Fx, Fy, gamma)
    patches = B.to_numpy(r).reshape(n, 2, C, N * N)
    for c in range(C):
        grey, _ = read_attention_forward((x[:, c], x_hat[:, c]), Fx, Fy, gamma)
        grey = B.to_numpy(grey).reshape(n, 2, N * N)
        np.testing.assert_allclose(patches[:, :, c], grey, rtol=1e-12, atol=1e-12)


def test_grey_images_read_the_same_with_or_without_a_channel_axis(backend):
    rng = np.random.default_rng(3)
    x, x_hat = randn(rng, 2, 6, 5), randn(rng, 2, 6, 5)
    Fx, Fy, gamma = randn(rng, 2, 3, 5), randn(rng, 2, 3, 6), positive(rng, 2)
    r3, cache3 = read_attention_forward((x, x_hat), Fx, Fy, gamma)
    r4, cache4 = read_attention_forward((x[:, None], x_hat[:, None]), Fx, Fy, gamma)
    np.testing.assert_array_equal(B.to_numpy(r3), B.to_numpy(r4))
    dr = randn(rng, *r3.shape)
    g3, g4 = read_attention_backward(dr, cache3), read_attention_backward(dr, cache4)
    for a, b in zip(g3[0], g4[0]):
        assert a.shape == (2, 6, 5) and b.shape == (2, 1, 6, 5)
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b[:, 0]))
    for a, b in zip(g3[1:], g4[1:]):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))


@pytest.mark.parametrize("wrt", [(True,), (True, True, False), (1, 0)])
def test_read_backward_refuses_a_wrong_wrt(wrt):
    x = np.zeros((2, 5, 7))
    _, cache = read_attention_forward((x, x), np.zeros((2, 3, 7)), np.zeros((2, 3, 5)), np.ones(2))
    with pytest.raises(ValueError, match="wrt must hold one True or False per image"):
        read_attention_backward(np.zeros((2, 18)), cache, wrt=wrt)


@given(n=batch, size=side, C=maybe_channels, H=side, W=side, seed=seeds)
def test_write_gradients(backend, n, size, C, H, W, seed):
    rng = np.random.default_rng(seed)
    shape = (H, W) if C is None else (C, H, W)
    pixels = int(np.prod(shape))
    h, Ww, bw = randn(rng, n, size), randn(rng, size, pixels), randn(rng, pixels)
    out, cache = write_forward(h, Ww, bw, shape)
    assert out.shape == (n,) + shape
    dout = randn(rng, n, *shape)
    dh, dW, db = write_backward(dout, cache)
    assert_gradients_match(lambda: write_forward(h, Ww, bw, shape)[0], dict(h=h, W=Ww, b=bw),
                           dict(h=dh, W=dW, b=db), dout)


@given(n=batch, size=side, C=maybe_channels, N=grid, H=side, W=side, seed=seeds)
def test_write_attention_gradients(backend, n, size, C, N, H, W, seed):
    rng = np.random.default_rng(seed)
    planes = C or 1
    h, Ww, bw = randn(rng, n, size), randn(rng, size, planes * N * N), randn(rng, planes * N * N)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    out, cache = write_attention_forward(h, Ww, bw, Fx, Fy, gamma, C)
    assert out.shape == ((n, H, W) if C is None else (n, C, H, W))
    dout = randn(rng, *out.shape)
    grads = write_attention_backward(dout, cache)
    assert_gradients_match(lambda: write_attention_forward(h, Ww, bw, Fx, Fy, gamma, C)[0],
                           dict(h=h, W=Ww, b=bw, Fx=Fx, Fy=Fy, gamma=gamma),
                           dict(zip(["h", "W", "b", "Fx", "Fy", "gamma"], grads)), dout)


def test_write_attention_paints_each_channel_as_a_grey_write_of_its_patch(backend):
    rng = np.random.default_rng(4)
    n, size, C, N, H, W = 2, 4, 3, 2, 6, 5
    h, Ww, bw = randn(rng, n, size), randn(rng, size, C * N * N), randn(rng, C * N * N)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    out, _ = write_attention_forward(h, Ww, bw, Fx, Fy, gamma, C)
    for c in range(C):
        cols = slice(c * N * N, (c + 1) * N * N)
        grey, _ = write_attention_forward(h, Ww[:, cols], bw[cols], Fx, Fy, gamma)
        np.testing.assert_allclose(B.to_numpy(out[:, c]), B.to_numpy(grey), rtol=1e-12, atol=1e-12)


def identity_filterbank(xp, H, W):
    """N = H = W, stride 1, centred, tiny σ: each filter picks exactly one pixel."""
    one = lambda v: xp.asarray([float(v)])
    return filterbank(one((W + 1) / 2), one((H + 1) / 2), one(1e-4), one(1.0), H, H, W)


def test_read_with_identity_filters_returns_the_image(backend):
    """γ = 1, N = W = H and a tiny σ: the patch is the image itself (square grid, so H = W)."""
    rng = np.random.default_rng(0)
    x, x_hat = randn(rng, 1, 6, 6), randn(rng, 1, 6, 6)
    Fx, Fy = identity_filterbank(backend, 6, 6)
    r, _ = read_attention_forward((x, x_hat), Fx, Fy, backend.ones(1))
    np.testing.assert_allclose(B.to_numpy(r[0, :36].reshape(6, 6)), B.to_numpy(x[0]), atol=1e-10)
    np.testing.assert_allclose(B.to_numpy(r[0, 36:].reshape(6, 6)), B.to_numpy(x_hat[0]), atol=1e-10)


def test_write_with_identity_filters_paints_the_patch_divided_by_gamma(backend):
    rng = np.random.default_rng(1)
    h = randn(rng, 1, 3)
    Ww, bw = randn(rng, 3, 25), randn(rng, 25)
    Fx, Fy = identity_filterbank(backend, 5, 5)
    out, _ = write_attention_forward(h, Ww, bw, Fx, Fy, backend.asarray([2.0]))
    patch = (h @ Ww + bw).reshape(5, 5)
    np.testing.assert_allclose(B.to_numpy(out[0]), B.to_numpy(patch) / 2, atol=1e-10)


def test_read_attention_on_a_non_square_image_reads_the_right_place(backend):
    """A bright pixel at row 2, column 6 of a 4 x 7 image shows up where the grid looks."""
    xp = backend
    x = xp.zeros((1, 4, 7))
    x[0, 1, 5] = 1.0  # row 2, column 6 in 1-based pixels
    one = lambda v: xp.asarray([float(v)])
    Fx, Fy = filterbank(one(6), one(2), one(0.01), one(1.0), 1, 4, 7)
    r, _ = read_attention_forward((x, xp.zeros_like(x)), Fx, Fy, xp.ones(1))
    assert float(r[0, 0]) == pytest.approx(1.0, abs=1e-6)
    Fx, Fy = filterbank(one(2), one(2), one(0.01), one(1.0), 1, 4, 7)
    r, _ = read_attention_forward((x, xp.zeros_like(x)), Fx, Fy, xp.ones(1))
    assert float(r[0, 0]) == pytest.approx(0.0, abs=1e-6)


def test_read_attention_rejects_mismatched_filterbank():
    x = np.zeros((2, 5, 7))
    with pytest.raises(ValueError, match=r"Fx must have shape \(2, N, 7\), got \(2, 3, 5\)"):
        read_attention_forward((x, x), np.zeros((2, 3, 5)), np.zeros((2, 3, 5)), np.ones(2))


@pytest.mark.parametrize("images, message", [
    ([], "images must be a non-empty tuple"),
    (np.zeros((2, 5, 7)), "images must be a non-empty tuple"),
    ((np.zeros((2, 5, 7)), np.zeros((3, 5, 7))), r"images\[1\] must have shape \(2, 5, 7\)"),
    ((np.zeros((2, 5, 7)), np.zeros((2, 2, 5, 6))), r"images\[1\] must have shape \(2, C1, 5, 7\)"),
])
def test_read_refuses_bad_images_clearly(images, message):
    with pytest.raises(ValueError, match=message):
        read_forward(images)
