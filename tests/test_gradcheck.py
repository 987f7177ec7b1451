"""The gradient checker itself must catch wrong gradients, or every other test means nothing."""
import numpy as np
import pytest

from draw_np import backend as B
from draw_np.gradcheck import check_gradients, directional_check, numerical_gradient, rel_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    dout = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: np.sin(x), x, dout)
    np.testing.assert_allclose(grad, np.cos(x) * dout, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.5]])  # restored after perturbing


def test_check_gradients_flags_a_transposed_gradient():
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    dout = rng.standard_normal((3, 2))
    right = check_gradients(lambda: A @ x, {"x": x}, {"x": A.T @ dout}, dout)
    wrong = check_gradients(lambda: A @ x, {"x": x}, {"x": A @ dout}, dout)
    assert right["x"] < 1e-9 and wrong["x"] > 1e-2


def test_rel_error_is_scale_aware():
    assert rel_error(np.array([1e-12, 1.0]), np.array([0.0, 1.0])) < 1e-11
    assert rel_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.zeros(2), np.zeros(3))


def test_gradient_checks_refuse_float32():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda: x * 2, x, np.ones(3))


def test_directional_check_catches_a_wrong_parameter_gradient():
    rng = np.random.default_rng(1)
    params = {"a": rng.standard_normal(4), "b": rng.standard_normal((2, 3))}
    loss = lambda: float((params["a"] ** 2).sum() + np.sin(params["b"]).sum())
    grads = {"a": 2 * params["a"], "b": np.cos(params["b"])}
    assert directional_check(loss, params, grads, B.Random(0)) < 1e-8
    grads["b"] = np.sin(params["b"])
    assert directional_check(loss, params, grads, B.Random(0)) > 1e-3
