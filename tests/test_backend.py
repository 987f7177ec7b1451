"""The backend switch: names, clear errors without a GPU, host/device transfers, random numbers."""
import subprocess
import sys

import numpy as np
import pytest

from draw_np import backend as B


def test_unknown_backend_names_the_choices():
    with pytest.raises(B.BackendError, match="unknown backend 'torch': choose one of numpy, cupy"):
        B.set_backend("torch")
    assert B.get_backend() == "numpy"


def test_cupy_without_cupy_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(B.BackendError, match="pip install cupy-cuda12x"):
        B.set_backend("cupy")
    assert B.get_backend() == "numpy" and B.xp() is np
    assert not B.gpu_available()


@pytest.mark.skipif(B.gpu_available(), reason="this machine has a GPU")
def test_environment_variable_cupy_fails_with_one_clear_message_without_gpu():
    result = subprocess.run([sys.executable, "-c", "import draw_np.backend"],
                            env={"DRAW_NP_BACKEND": "cupy", "PATH": ""},
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "BackendError: the cupy backend needs" in result.stderr


def test_environment_variable_picks_numpy():
    code = "import draw_np.backend as B; print(B.get_backend())"
    out = subprocess.run([sys.executable, "-c", code], env={"DRAW_NP_BACKEND": "numpy"},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "numpy"


def test_to_numpy_and_to_device_walk_containers(backend):
    tree = {"a": backend.ones(2), "b": [backend.zeros(1), (backend.arange(3), 5)], "c": "text"}
    host = B.to_numpy(tree)
    assert isinstance(host["a"], np.ndarray) and isinstance(host["b"][1][0], np.ndarray)
    assert host["b"][1][1] == 5 and host["c"] == "text"
    back = B.to_device(host)
    assert B.array_module(back["a"]) is backend


def test_array_module_follows_the_arrays(backend):
    assert B.array_module(np.ones(1)) is np
    assert B.array_module(backend.ones(1)) is backend


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_takes_a_dtype_and_is_reproducible(backend, dtype):
    a = B.Random(7).normal((3, 4), dtype)
    b = B.Random(7).normal((3, 4), dtype)
    assert a.dtype == np.dtype(dtype) and B.array_module(a) is backend
    np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    u = B.Random(7).uniform((1000,), dtype)
    assert 0 <= float(u.min()) and float(u.max()) < 1


def test_random_state_round_trips():
    rng = B.Random(3)
    rng.normal((5,))
    state = rng.state
    first = B.to_numpy(rng.normal((4,)))
    rng.set_state(state)
    np.testing.assert_array_equal(B.to_numpy(rng.normal((4,))), first)


def test_random_refuses_integer_dtype():
    with pytest.raises(ValueError, match="float32 or float64"):
        B.Random(0).normal((2,), "int32")
