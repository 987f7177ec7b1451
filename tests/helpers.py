"""Strategies and helpers shared by the tests."""
import numpy as np
from hypothesis import strategies as st

from draw_np import backend as B


def randn(rng, *shape, scale=1.0):
    """float64 standard-normal array on the current backend (gradient checks run in float64)."""
    return B.xp().asarray(scale * rng.standard_normal(shape))


# Small sizes whose sides all differ expose a transposed or mis-summed gradient.
batch = st.integers(1, 3)
side = st.integers(2, 7)
seeds = st.integers(0, 2**31 - 1)


def assert_gradients_match(f, inputs, analytic, dout, tol=1e-7):
    """Assert that every analytic gradient matches central differences within ``tol``.

    Each error is measured against the largest gradient of the whole check, not against that
    input's own. A gradient can nearly cancel for one drawn example (δ's gradient sums filter
    offsets that are symmetric about the grid centre, and one example gives a single number);
    measured against itself it would then be judged by the finite difference's own rounding
    noise, ε |L| / h ~ 1e-10, and fail by chance. A wrong gradient is off by far more than 1e-7
    of the largest one.
    """
    from draw_np.gradcheck import numerical_gradient
    assert set(inputs) == set(analytic), "one analytic gradient per input"
    numerical = {k: B.to_numpy(numerical_gradient(f, v, dout)) for k, v in inputs.items()}
    analytic = {k: B.to_numpy(v) for k, v in analytic.items()}
    for k in inputs:
        assert analytic[k].shape == numerical[k].shape, f"gradient of {k} has the wrong shape"
    scale = max(1e-8, max(abs(analytic[k]).max(initial=0) + abs(numerical[k]).max(initial=0)
                          for k in inputs))
    errors = {k: float(abs(analytic[k] - numerical[k]).max(initial=0)) / scale for k in inputs}
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradients off (error relative to the largest gradient, tolerance {tol}): {bad}"


def replace_mnist(monkeypatch, grey_bytes: dict, labels: dict | None = None) -> None:
    """Put made-up digits in place of MNIST's loaders, so no test needs the network.

    ``grey_bytes``: split -> (n, 28, 28) uint8, what MNIST's files hold; ``load_mnist`` gives
    them as grey levels ``k / 255`` and ``load_binarized_mnist`` as the bits ``k >= 128`` (made-up
    digits of 0s and 255s are the same either way). ``labels``: split -> (n,) ints for
    ``load_mnist_labels``; without them that loader is left alone.
    """
    import draw_np.data.mnist as mnist
    levels = {split: b.astype(np.float32) / 255 for split, b in grey_bytes.items()}
    bits = {split: (b >= 128).astype(np.uint8) for split, b in grey_bytes.items()}
    monkeypatch.setattr(mnist, "load_mnist",
                        lambda **kw: {k: v.copy() for k, v in levels.items()})
    monkeypatch.setattr(mnist, "load_binarized_mnist",
                        lambda **kw: {k: v.copy() for k, v in bits.items()})
    if labels is not None:
        monkeypatch.setattr(mnist, "load_mnist_labels",
                            lambda **kw: {k: v.copy() for k, v in labels.items()})
