"""Adam and gradient clipping."""
import math

import numpy as np
import pytest

from draw_np.optim import (Adam, SpikeFilter, WeightAverage, clip_by_global_norm, global_norm,
                           warmed_up_rate)


def test_first_adam_step_moves_each_parameter_by_lr():
    """After bias correction, m̂ = g and v̂ = g², so the first step is lr · sign(g)."""
    params = {"w": np.array([1.0, -2.0, 3.0])}
    Adam(params, lr=0.1).step(params, {"w": np.array([0.5, -4.0, 1e-3])})
    np.testing.assert_allclose(params["w"], [0.9, -1.9, 2.9], rtol=1e-4)


def test_a_warm_up_raises_the_rate_linearly_then_keeps_it():
    assert [warmed_up_rate(1e-3, t, 4) for t in (1, 2, 4, 5, 100)] == pytest.approx(
        [2.5e-4, 5e-4, 1e-3, 1e-3, 1e-3])
    assert warmed_up_rate(1e-3, 1, 0) == 1e-3


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


def test_weight_decay_shrinks_the_weight_matrices_and_nothing_else():
    """With zero gradients Adam's own step is 0, so only the decay acts: each step multiplies
    every ``*.W`` by (1 − lr λ) and leaves biases and initial states alone."""
    start = {"enc.W": np.full((2, 3), 2.0), "enc.b": np.ones(3), "h0": np.ones(2)}
    params = {k: v.copy() for k, v in start.items()}
    opt = Adam(params, lr=0.1, weight_decay=0.5)
    for _ in range(3):
        opt.step(params, {k: np.zeros_like(v) for k, v in params.items()})
    np.testing.assert_allclose(params["enc.W"], 2.0 * (1 - 0.1 * 0.5) ** 3)
    np.testing.assert_array_equal(params["enc.b"], start["enc.b"])
    np.testing.assert_array_equal(params["h0"], start["h0"])


def adamw_by_the_paper(theta, grads, lr, wd, beta1=0.9, beta2=0.999, eps=1e-8):
    """Loshchilov & Hutter's Algorithm 2 (AdamW, schedule multiplier 1), written out."""
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        theta = theta - lr * (m_hat / (np.sqrt(v_hat) + eps) + wd * theta)
    return theta


def test_weight_decay_is_decoupled_adamw():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    params = {"out.W": theta.copy(), "out.b": theta[0].copy()}
    opt = Adam(params, lr=0.01, weight_decay=0.3)
    for g in grads:
        opt.step(params, {"out.W": g, "out.b": g[0]})
    np.testing.assert_allclose(params["out.W"], adamw_by_the_paper(theta, grads, 0.01, 0.3),
                               rtol=1e-12)
    np.testing.assert_allclose(params["out.b"],
                               adamw_by_the_paper(theta[0], [g[0] for g in grads], 0.01, 0.0),
                               rtol=1e-12)


def test_weight_decay_round_trips_and_old_states_have_none():
    params = {"w.W": np.ones(3)}
    a = Adam(params, lr=0.1, weight_decay=0.2)
    a.step(params, {"w.W": np.ones(3)})
    b = Adam({"w.W": np.ones(3)})
    b.load_state_dict(a.state_dict())
    assert b.weight_decay == 0.2
    old = {k: v for k, v in a.state_dict().items() if k != "weight_decay"}
    b.load_state_dict(old)
    assert b.weight_decay == 0.0
    with pytest.raises(ValueError, match="weight_decay"):
        Adam(params, weight_decay=-0.1)


def test_the_weight_average_is_the_exponential_average_of_the_iterates():
    params = {"w": np.array([0.0, 4.0])}
    average = WeightAverage(params, decay=0.5)
    for value in ([2.0, 4.0], [4.0, 0.0]):
        params["w"][...] = value
        average.update(params)
    # θ̄ = 0.5 (0.5 θ0 + 0.5 θ1) + 0.5 θ2
    np.testing.assert_allclose(average.params["w"], [0.5 * 1.0 + 2.0, 0.5 * 4.0 + 0.0])
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        WeightAverage(params, decay=1.0)


def test_the_weight_average_swaps_in_and_back_and_round_trips():
    params = {"w": np.array([1.0, 2.0]), "b": np.array([3.0])}
    average = WeightAverage(params, decay=0.9)
    params["w"] += 10.0
    average.update(params)
    with pytest.raises(RuntimeError):
        with average.swapped_into(params):
            np.testing.assert_allclose(params["w"], [2.0, 3.0])
            raise RuntimeError("a failure inside the block")
    np.testing.assert_allclose(params["w"], [11.0, 12.0])     # the trained values are back
    again = WeightAverage(params, decay=0.9)
    assert again.load_state_dict(average.state_dict())
    np.testing.assert_allclose(again.params["w"], average.params["w"])
    assert not WeightAverage(params, decay=0.9).load_state_dict({"m/w": params["w"]})
    with pytest.raises(ValueError, match="no array for b"):
        again.load_state_dict({"average/w": params["w"]})




def test_the_spike_filter_skips_a_norm_far_above_the_recent_median():
    spikes = SpikeFilter(factor=10, window=5, least=3)
    assert all(spikes.admits(n) for n in (100.0, 5000.0, 120.0))   # too little history to judge
    assert spikes.admits(1100.0)          # under 10 times the median, 120
    assert not spikes.admits(7000.0)      # over 10 times the median of 100, 120, 1,100, 5,000
    # the skipped norm joined the history, and the oldest norm left it: the median is 1,100
    # now, and what would have been a spike at first passes
    assert spikes.norms == [100.0, 5000.0, 120.0, 1100.0, 7000.0]
    assert spikes.admits(10000.0) and spikes.norms[0] == 5000.0
    assert not spikes.admits(70001.0)     # over 10 times the median of the last five, 7,000


def test_the_spike_filter_round_trips_and_refuses_bad_states():
    spikes = SpikeFilter(factor=3, window=4, least=1)
    for norm in (1.0, 2.0, 3.0, 4.0, 5.0):
        spikes.admits(norm)
    again = SpikeFilter(factor=3, window=4, least=1)
    assert again.load_state_dict(spikes.state_dict()) and again.norms == [2.0, 3.0, 4.0, 5.0]
    assert not SpikeFilter(factor=3).load_state_dict({"m/w": np.ones(2)})
    for bad in (np.array([1.0, np.nan]), np.array([[1.0]]), np.array([-1.0]), np.array([1, 2])):
        with pytest.raises(ValueError, match="spikes/norms must be"):
            again.load_state_dict({SpikeFilter.KEY: bad})
    for factor in (1.0, 0.5, np.inf):
        with pytest.raises(ValueError, match="factor must be a finite number > 1"):
            SpikeFilter(factor)
