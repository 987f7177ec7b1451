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


@given(n=batch, H=side, W=side, seed=seeds)
def test_read_gradients(backend, n, H, W, seed):
    rng = np.random.default_rng(seed)
    x, x_hat = randn(rng, n, H, W), randn(rng, n, H, W)
    r, shape = read_forward(x, x_hat)
    assert r.shape == (n, 2 * H * W)
    dr = randn(rng, *r.shape)
    dx, dx_hat = read_backward(dr, shape)
    assert_gradients_match(lambda: read_forward(x, x_hat)[0], dict(x=x, x_hat=x_hat),
                           dict(x=dx, x_hat=dx_hat), dr)


@given(n=batch, N=grid, H=side, W=side, seed=seeds)
def test_read_attention_gradients(backend, n, N, H, W, seed):
    rng = np.random.default_rng(seed)
    x, x_hat = randn(rng, n, H, W), randn(rng, n, H, W)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    r, cache = read_attention_forward(x, x_hat, Fx, Fy, gamma)
    assert r.shape == (n, 2 * N * N)
    dr = randn(rng, *r.shape)
    grads = read_attention_backward(dr, cache)
    assert_gradients_match(lambda: read_attention_forward(x, x_hat, Fx, Fy, gamma)[0],
                           dict(x=x, x_hat=x_hat, Fx=Fx, Fy=Fy, gamma=gamma),
                           dict(zip(["x", "x_hat", "Fx", "Fy", "gamma"], grads)), dr)


def test_read_attention_backward_without_dx_skips_only_dx(backend):
    """The model reads data x, which needs no gradient: wrt_x=False leaves out dx, nothing else."""
    rng = np.random.default_rng(1)
    x, x_hat = randn(rng, 3, 6, 5), randn(rng, 3, 6, 5)
    Fx, Fy, gamma = randn(rng, 3, 2, 5), randn(rng, 3, 2, 6), positive(rng, 3)
    r, cache = read_attention_forward(x, x_hat, Fx, Fy, gamma)
    dr = randn(rng, *r.shape)
    full = read_attention_backward(dr, cache)
    without = read_attention_backward(dr, cache, wrt_x=False)
    assert without[0] is None
    for a, b in zip(full[1:], without[1:]):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))


@given(n=batch, size=side, H=side, W=side, seed=seeds)
def test_write_gradients(backend, n, size, H, W, seed):
    rng = np.random.default_rng(seed)
    h, Ww, bw = randn(rng, n, size), randn(rng, size, H * W), randn(rng, H * W)
    out, cache = write_forward(h, Ww, bw, (H, W))
    assert out.shape == (n, H, W)
    dout = randn(rng, n, H, W)
    dh, dW, db = write_backward(dout, cache)
    assert_gradients_match(lambda: write_forward(h, Ww, bw, (H, W))[0], dict(h=h, W=Ww, b=bw),
                           dict(h=dh, W=dW, b=db), dout)


@given(n=batch, size=side, N=grid, H=side, W=side, seed=seeds)
def test_write_attention_gradients(backend, n, size, N, H, W, seed):
    rng = np.random.default_rng(seed)
    h, Ww, bw = randn(rng, n, size), randn(rng, size, N * N), randn(rng, N * N)
    Fx, Fy, gamma = randn(rng, n, N, W), randn(rng, n, N, H), positive(rng, n)
    out, cache = write_attention_forward(h, Ww, bw, Fx, Fy, gamma)
    assert out.shape == (n, H, W)
    dout = randn(rng, n, H, W)
    grads = write_attention_backward(dout, cache)
    assert_gradients_match(lambda: write_attention_forward(h, Ww, bw, Fx, Fy, gamma)[0],
                           dict(h=h, W=Ww, b=bw, Fx=Fx, Fy=Fy, gamma=gamma),
                           dict(zip(["h", "W", "b", "Fx", "Fy", "gamma"], grads)), dout)


def identity_filterbank(xp, H, W):
    """N = H = W, stride 1, centred, tiny σ: each filter picks exactly one pixel."""
    one = lambda v: xp.asarray([float(v)])
    return filterbank(one((W + 1) / 2), one((H + 1) / 2), one(1e-4), one(1.0), H, H, W)


def test_read_with_identity_filters_returns_the_image(backend):
    """γ = 1, N = W = H and a tiny σ: the patch is the image itself (square grid, so H = W)."""
    rng = np.random.default_rng(0)
    x, x_hat = randn(rng, 1, 6, 6), randn(rng, 1, 6, 6)
    Fx, Fy = identity_filterbank(backend, 6, 6)
    r, _ = read_attention_forward(x, x_hat, Fx, Fy, backend.ones(1))
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
    r, _ = read_attention_forward(x, xp.zeros_like(x), Fx, Fy, xp.ones(1))
    assert float(r[0, 0]) == pytest.approx(1.0, abs=1e-6)
    Fx, Fy = filterbank(one(2), one(2), one(0.01), one(1.0), 1, 4, 7)
    r, _ = read_attention_forward(x, xp.zeros_like(x), Fx, Fy, xp.ones(1))
    assert float(r[0, 0]) == pytest.approx(0.0, abs=1e-6)


def test_read_attention_rejects_mismatched_filterbank():
    x = np.zeros((2, 5, 7))
    with pytest.raises(ValueError, match=r"Fx must have shape \(2, N, 7\), got \(2, 3, 5\)"):
        read_attention_forward(x, x, np.zeros((2, 3, 5)), np.zeros((2, 3, 5)), np.ones(2))
