"""The read and write heads: gradients through placement, filterbank and products; their names."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from draw_np import backend as B
from draw_np.heads import (read_head_backward, read_head_forward, read_head_param_shapes,
                           write_head_backward, write_head_forward, write_head_param_shapes)

from .helpers import assert_gradients_match, batch, randn, seeds, side

maybe_grid = st.one_of(st.none(), st.integers(1, 3))
channels = st.integers(1, 3)


def head_params(rng, shapes):
    """Random parameters; attention maps small, so the grid stays on the image."""
    return {name: randn(rng, *shape, scale=0.3 if "attn" in name else 1.0)
            for name, shape in shapes.items()}


def planes(rng, n, C, H, W):
    return randn(rng, n, H, W) if C == 1 else randn(rng, n, C, H, W)


@given(n=batch, size=side, C=channels, N=maybe_grid, H=side, W=side, seed=seeds)
def test_read_head_gradients(backend, n, size, C, N, H, W, seed):
    rng = np.random.default_rng(seed)
    params = head_params(rng, read_head_param_shapes("read", size, N))
    h = randn(rng, n, size)
    x, x_hat = planes(rng, n, C, H, W), planes(rng, n, C, H, W)
    r, cache = read_head_forward(params, "read", h, (x, x_hat), N)
    assert r.shape == (n, 2 * C * (N * N if N else H * W))
    dr = randn(rng, *r.shape)
    grads = read_head_backward(dr, cache)
    assert set(grads.params) == set(params)
    inputs = dict(params, x=x, x_hat=x_hat)
    analytic = dict(grads.params, x=grads.dimages[0], x_hat=grads.dimages[1])
    if N is not None:
        inputs["h"], analytic["h"] = h, grads.dh
    else:
        assert grads.dh is None
    assert_gradients_match(lambda: read_head_forward(params, "read", h, (x, x_hat), N)[0],
                           inputs, analytic, dr)


@given(n=batch, size=side, C=channels, N=st.integers(1, 3), H=side, W=side, seed=seeds)
def test_read_head_of_one_image_without_image_gradient(backend, n, size, C, N, H, W, seed):
    """The classifier's use: the C planes of x, its own state h, no image gradient at all."""
    rng = np.random.default_rng(seed)
    params = head_params(rng, read_head_param_shapes("read", size, N))
    h, x = randn(rng, n, size), planes(rng, n, C, H, W)
    r, cache = read_head_forward(params, "read", h, (x,), N)
    assert r.shape == (n, C * N * N)
    dr = randn(rng, *r.shape)
    grads = read_head_backward(dr, cache, wrt=(False,))
    assert grads.dimages == (None,)
    assert_gradients_match(lambda: read_head_forward(params, "read", h, (x,), N)[0],
                           dict(params, h=h), dict(grads.params, h=grads.dh), dr)


@given(n=batch, size=side, C=channels, N=maybe_grid, H=side, W=side, seed=seeds)
def test_write_head_gradients(backend, n, size, C, N, H, W, seed):
    rng = np.random.default_rng(seed)
    canvas_shape = (H, W) if C == 1 else (C, H, W)
    params = head_params(rng, write_head_param_shapes("write", size, N, canvas_shape))
    h = randn(rng, n, size)
    out, cache = write_head_forward(params, "write", h, N, canvas_shape)
    assert out.shape == (n,) + canvas_shape
    dout = randn(rng, *out.shape)
    grads = write_head_backward(dout, cache)
    assert set(grads.params) == set(params)
    assert_gradients_match(lambda: write_head_forward(params, "write", h, N, canvas_shape)[0],
                           dict(params, h=h), dict(grads.params, h=grads.dh), dout)


def test_heads_know_their_parameter_names_and_shapes():
    assert read_head_param_shapes("read", 7, 2) == {"read_attn.W": (7, 5), "read_attn.b": (5,)}
    assert read_head_param_shapes("read", 7, None) == {}
    assert write_head_param_shapes("write", 7, 2, (3, 6, 5)) == {
        "write.W": (7, 12), "write.b": (12,), "write_attn.W": (7, 5), "write_attn.b": (5,)}
    assert write_head_param_shapes("write", 7, None, (3, 6, 5)) == {
        "write.W": (7, 90), "write.b": (90,)}
    assert write_head_param_shapes("write", 7, 2, (6, 5))["write.W"] == (7, 4)


def test_a_colour_image_of_three_equal_channels_reads_as_the_grey_image_three_times(backend):
    """One attention head for every channel: same placement, same patch in every channel."""
    rng = np.random.default_rng(0)
    n, size, N, H, W = 2, 4, 3, 7, 5
    params = head_params(rng, read_head_param_shapes("read", size, N))
    h, grey = randn(rng, n, size), randn(rng, n, H, W)
    colour = B.xp().stack([grey] * 3, axis=1)
    r_grey, c_grey = read_head_forward(params, "read", h, (grey,), N)
    r_colour, c_colour = read_head_forward(params, "read", h, (colour,), N)
    np.testing.assert_allclose(B.to_numpy(r_colour).reshape(n, 3, -1),
                               np.stack([B.to_numpy(r_grey)] * 3, axis=1), rtol=1e-12)
    for a, b in zip(c_grey.glimpse.params, c_colour.glimpse.params):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))


def test_grey_read_head_is_the_same_with_or_without_a_channel_axis(backend):
    rng = np.random.default_rng(1)
    n, size, N, H, W = 2, 4, 2, 6, 5
    params = head_params(rng, read_head_param_shapes("read", size, N))
    h, x, x_hat = randn(rng, n, size), randn(rng, n, H, W), randn(rng, n, H, W)
    r3, cache3 = read_head_forward(params, "read", h, (x, x_hat), N)
    r4, cache4 = read_head_forward(params, "read", h, (x[:, None], x_hat[:, None]), N)
    np.testing.assert_array_equal(B.to_numpy(r3), B.to_numpy(r4))
    dr = randn(rng, *r3.shape)
    g3, g4 = read_head_backward(dr, cache3), read_head_backward(dr, cache4)
    np.testing.assert_array_equal(B.to_numpy(g3.dh), B.to_numpy(g4.dh))
    for k in g3.params:
        np.testing.assert_array_equal(B.to_numpy(g3.params[k]), B.to_numpy(g4.params[k]))
    for a, b in zip(g3.dimages, g4.dimages):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b[:, 0]))


def test_write_head_without_attention_is_the_whole_canvas_row_major():
    rng = np.random.default_rng(2)
    params = head_params(rng, write_head_param_shapes("write", 3, None, (2, 4, 5)))
    h = randn(rng, 1, 3)
    out, _ = write_head_forward(params, "write", h, None, (2, 4, 5))
    np.testing.assert_allclose(out.ravel(), (h @ params["write.W"] + params["write.b"]).ravel())


@pytest.mark.parametrize("N", [None, 2])
def test_read_head_refuses_bad_images(N):
    params = {"read_attn.W": np.zeros((3, 5)), "read_attn.b": np.zeros(5)}
    with pytest.raises(ValueError, match="images"):
        read_head_forward(params, "read", np.zeros((2, 3)), (np.zeros((2, 5, 7)),
                                                           np.zeros((2, 4, 7))), N)
