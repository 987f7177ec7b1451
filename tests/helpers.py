"""Strategies and helpers shared by the layer tests."""
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
    """Assert that every analytic gradient matches central differences within ``tol``."""
    from draw_np.gradcheck import check_gradients
    errors = check_gradients(f, inputs, analytic, dout)
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradients off (relative error, tolerance {tol}): {bad}"
