"""Linear map and LSTM step: gradients against finite differences, and what they mean."""
import numpy as np
import pytest
from hypothesis import given

from draw_np import backend as B
from draw_np.activations import sigmoid
from draw_np.linear import linear_backward, linear_forward
from draw_np.lstm import lstm_backward, lstm_forward

from .helpers import assert_gradients_match, batch, randn, seeds, side


@given(n=batch, n_in=side, n_out=side, seed=seeds)
def test_linear_gradients(backend, n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x, W, b = randn(rng, n, n_in), randn(rng, n_in, n_out), randn(rng, n_out)
    _, cache = linear_forward(x, W, b)
    dy = randn(rng, n, n_out)
    dx, dW, db = linear_backward(dy, cache)
    assert_gradients_match(lambda: linear_forward(x, W, b)[0], dict(x=x, W=W, b=b),
                           dict(x=dx, W=dW, b=db), dy)


def test_linear_is_the_affine_map(backend):
    x = backend.asarray([[1.0, 2.0]])
    W = backend.asarray([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    b = backend.asarray([0.5, 0.0, 1.0])
    y, _ = linear_forward(x, W, b)
    np.testing.assert_allclose(B.to_numpy(y), [[1.5, 2.0, 1.0]])


@given(n=batch, n_in=side, size=side, seed=seeds)
def test_lstm_gradients(backend, n, n_in, size, seed):
    rng = np.random.default_rng(seed)
    x, h, c = randn(rng, n, n_in), randn(rng, n, size), randn(rng, n, size)
    W, b = randn(rng, n_in + size, 4 * size, scale=0.5), randn(rng, 4 * size)
    _, cache = lstm_forward(x, h, c, W, b)
    dh, dc = randn(rng, n, size), randn(rng, n, size)
    g = lstm_backward(dh, dc, cache)
    assert_gradients_match(
        lambda: lstm_forward(x, h, c, W, b)[0],
        dict(x=x, h_prev=h, cell_prev=c, W=W, b=b),
        dict(x=g.dx, h_prev=g.dh_prev, cell_prev=g.dcell_prev, W=g.dW, b=g.db), (dh, dc))


def test_lstm_matches_the_gate_equations_written_out(backend):
    """The fused map, split by hand into its four gates in the order [i, f, o, g]."""
    rng = np.random.default_rng(0)
    n, n_in, size = 3, 4, 5
    x, h, c = randn(rng, n, n_in), randn(rng, n, size), randn(rng, n, size)
    W, b = randn(rng, n_in + size, 4 * size), randn(rng, 4 * size)
    (h1, c1), _ = lstm_forward(x, h, c, W, b)
    gate = lambda k: x @ W[:n_in, k * size:(k + 1) * size] + h @ W[n_in:, k * size:(k + 1) * size] \
        + b[k * size:(k + 1) * size]
    i, f, o, g = sigmoid(gate(0)), sigmoid(gate(1)), sigmoid(gate(2)), backend.tanh(gate(3))
    c_expected = f * c + i * g
    np.testing.assert_allclose(B.to_numpy(c1), B.to_numpy(c_expected), rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(h1), B.to_numpy(o * backend.tanh(c_expected)), rtol=1e-12)


def test_lstm_with_open_forget_gate_and_closed_input_gate_keeps_its_memory(backend):
    rng = np.random.default_rng(1)
    n, n_in, size = 2, 3, 4
    x, h, c = randn(rng, n, n_in), randn(rng, n, size), randn(rng, n, size)
    W = backend.zeros((n_in + size, 4 * size))
    b = backend.zeros(4 * size)
    b[:size] = -50      # input gate shut
    b[size:2 * size] = 50  # forget gate open
    (_, c1), _ = lstm_forward(x, h, c, W, b)
    np.testing.assert_allclose(B.to_numpy(c1), B.to_numpy(c), rtol=1e-12)


def test_lstm_backward_does_not_mutate_upstream_gradients(backend):
    rng = np.random.default_rng(2)
    x, h, c = randn(rng, 2, 3), randn(rng, 2, 4), randn(rng, 2, 4)
    W, b = randn(rng, 7, 16), randn(rng, 16)
    _, cache = lstm_forward(x, h, c, W, b)
    dh, dc = randn(rng, 2, 4), randn(rng, 2, 4)
    dh0, dc0 = dh.copy(), dc.copy()
    lstm_backward(dh, dc, cache)
    assert (dh == dh0).all() and (dc == dc0).all()


@pytest.mark.parametrize("bad, message", [
    (dict(x=np.zeros((2, 3, 1))), r"x must have shape \(n, in\)"),
    (dict(h_prev=np.zeros((3, 4))), r"h_prev must have shape \(2, size\), got \(3, 4\)"),
    (dict(W=np.zeros((6, 16))), r"W must have shape \(7, 16\)"),
    (dict(b=np.zeros(15)), r"b must have shape \(16,\)"),
    (dict(x=np.zeros((2, 3), dtype=np.int64)), r"x must be a floating-point array"),
    (dict(W=np.zeros((7, 16), dtype=np.float32)), r"share one dtype"),
])
def test_lstm_rejects_bad_input_by_name(bad, message):
    args = dict(x=np.zeros((2, 3)), h_prev=np.zeros((2, 4)), cell_prev=np.zeros((2, 4)),
                W=np.zeros((7, 16)), b=np.zeros(16))
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        lstm_forward(**args)


def test_trusted_block_skips_checks_and_ends_with_it():
    from draw_np.validate import trusted
    bad = dict(x=np.zeros((2, 3)), W=np.zeros((4, 5)), b=np.zeros(5))
    with trusted():
        with pytest.raises(ValueError, match="matmul"):  # numpy's own error: no check ran
            linear_forward(**bad)
    with pytest.raises(ValueError, match=r"W must have shape \(3, out\)"):
        linear_forward(**bad)
