"""Adam and gradient clipping."""
import math

import numpy as np
import pytest

from draw_np.optim import Adam, clip_by_global_norm, global_norm


def test_first_adam_step_moves_each_parameter_by_lr():
    """After bias correction, m̂ = g and v̂ = g², so the first step is lr · sign(g)."""
    params = {"w": np.array([1.0, -2.0, 3.0])}
    Adam(params, lr=0.1).step(params, {"w": np.array([0.5, -4.0, 1e-3])})
    np.testing.assert_allclose(params["w"], [0.9, -1.9, 2.9], rtol=1e-4)


def test_adam_minimises_a_badly_scaled_quadratic():
    scales = np.array([1e-2, 1.0, 1e2])
    params = {"w": np.ones(3)}
    opt = Adam(params, lr=0.05)
    for _ in range(2000):
        opt.step(params, {"w": 2 * scales * params["w"]})
    assert np.abs(params["w"]).max() < 1e-2


def test_adam_state_round_trips():
    params = {"w": np.ones(3)}
    a = Adam(params, lr=0.1)
    a.step(params, {"w": np.array([1.0, 2.0, 3.0])})
    b = Adam({"w": np.ones(3)}, lr=0.5)
    b.load_state_dict(a.state_dict())
    assert b.t == 1 and b.lr == 0.1
    np.testing.assert_array_equal(b.m["w"], a.m["w"])
    with pytest.raises(ValueError, match=r"no m for w of shape \(3,\)"):
        Adam({"w": np.ones(3)}).load_state_dict({"t": 1, "m/w": np.ones(2), "v/w": np.ones(2)})


def test_clipping_rescales_to_the_max_norm_and_keeps_direction():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == 5.0
    assert global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # inputs untouched
    unclipped, _ = clip_by_global_norm(grads, 10.0)
    np.testing.assert_array_equal(unclipped["b"], grads["b"])


def test_global_norm_reports_non_finite_gradients():
    assert math.isnan(global_norm({"a": np.array([1.0, np.nan])}))
    assert math.isinf(global_norm({"a": np.array([np.inf])}))


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="lr"):
        Adam({"w": np.ones(1)}, lr=0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm({"w": np.ones(1)}, -1)
