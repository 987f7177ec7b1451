"""Softmax cross-entropy: its gradient, and what it means."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from draw_np import backend as B
from draw_np.softmax import (softmax, softmax_cross_entropy_backward,
                             softmax_cross_entropy_forward)

from .helpers import assert_gradients_match, batch, randn, seeds


@given(n=batch, K=st.integers(2, 7), seed=seeds)
def test_softmax_cross_entropy_gradients(backend, n, K, seed):
    rng = np.random.default_rng(seed)
    logits = randn(rng, n, K, scale=2.0)
    labels = B.xp().asarray(rng.integers(0, K, n))
    _, cache = softmax_cross_entropy_forward(logits, labels)
    dloss = randn(rng, n)
    dlogits = softmax_cross_entropy_backward(dloss, cache)
    assert_gradients_match(lambda: softmax_cross_entropy_forward(logits, labels)[0],
                           dict(logits=logits), dict(logits=dlogits), dloss)


def test_equal_logits_cost_log_k_and_a_sure_right_answer_costs_nothing(backend):
    xp = backend
    loss, _ = softmax_cross_entropy_forward(xp.zeros((3, 10)), xp.asarray([0, 4, 9]))
    np.testing.assert_allclose(B.to_numpy(loss), np.log(10), rtol=1e-12)
    sure = xp.asarray([[0.0, 500.0, 0.0]])
    right, _ = softmax_cross_entropy_forward(sure, xp.asarray([1]))
    wrong, _ = softmax_cross_entropy_forward(sure, xp.asarray([2]))
    assert float(right[0]) == 0.0 and float(wrong[0]) == pytest.approx(500.0)  # no overflow


def test_loss_is_minus_log_of_the_softmax_and_shift_invariant(backend):
    rng = np.random.default_rng(0)
    logits = randn(rng, 4, 5)
    labels = B.xp().asarray([0, 1, 2, 4])
    loss, cache = softmax_cross_entropy_forward(logits, labels)
    probs = B.to_numpy(softmax(logits))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(loss), -np.log(probs[range(4), B.to_numpy(labels)]),
                               rtol=1e-12)
    shifted, _ = softmax_cross_entropy_forward(logits + 123.0, labels)
    np.testing.assert_allclose(B.to_numpy(shifted), B.to_numpy(loss), rtol=1e-9)
    dlogits = B.to_numpy(softmax_cross_entropy_backward(B.xp().ones(4), cache))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-12)  # p sums to 1, minus one


def test_backward_does_not_modify_the_upstream_gradient(backend):
    rng = np.random.default_rng(1)
    _, cache = softmax_cross_entropy_forward(randn(rng, 2, 3), B.xp().asarray([0, 2]))
    dloss = randn(rng, 2)
    before = B.to_numpy(dloss).copy()
    probs_before = B.to_numpy(cache.probs).copy()
    softmax_cross_entropy_backward(dloss, cache)
    np.testing.assert_array_equal(B.to_numpy(dloss), before)
    np.testing.assert_array_equal(B.to_numpy(cache.probs), probs_before)


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 10]), r"labels must lie in \[0, 9\], got values in \[0, 10\]"),
    (np.array([-1, 3]), r"labels must lie in \[0, 9\]"),
    (np.array([0.0, 1.0]), "labels must be integers, got dtype float64"),
    (np.array([0, 1, 2]), r"labels must have shape \(2,\), one per image, got \(3,\)"),
    ([0, 1], "labels must be an integer array of shape"),
])
def test_bad_labels_are_refused_clearly(labels, message):
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy_forward(np.zeros((2, 10)), labels)
