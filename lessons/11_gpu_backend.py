# %% [markdown]
# # Lesson 11: the same code on a GPU. draw_np.backend, NumPy and CuPy
#
# What you will learn:
#
# * how one code base runs on NumPy (CPU) and CuPy (NVIDIA GPU): library code asks
#   `draw_np.backend` for the array module (`xp`) instead of importing numpy;
# * `array_module(a)` (compute where your arrays live), `to_numpy` / `to_device` (convert at
#   the edges: data in, plots and logs out), and `Random` (the same random stream on both);
# * running one DRAW training step on the GPU and checking it against the CPU, if this
#   machine has a GPU; otherwise what you would do, and that the error is a clear one.

# %%
from typing import NamedTuple

import numpy as np

from draw_np import backend
from draw_np.errors import BackendError
from draw_np.model import DRAW, DRAWConfig
from _common import Lesson, load_sample_digits

lesson = Lesson("Lesson 11: the same code on a GPU")

# %% [markdown]
# ## 1. The array module: `xp`
#
# NumPy and CuPy share an API: `cupy.tanh`, `cupy.concatenate`, `a @ b` all work the same way
# on GPU arrays. So the layers never name numpy: they call `xp = array_module(x)` and compute
# with `xp.tanh(x)`.
#
# The model creates new arrays with `backend.xp()`, the current backend, chosen by
# `DRAW_NP_BACKEND=numpy|cupy` or `backend.set_backend(name)`.

# %%
lesson.step("The array module: xp")
print(f"  current backend: {backend.get_backend()}, xp() is {backend.xp().__name__}")
a = np.ones((2, 3))
assert backend.array_module(a) is np            # a NumPy array is computed on with NumPy

# %% [markdown]
# ## 2. Converting at the edges: `to_numpy` and `to_device`
#
# Mixing host and device arrays raises an error, and every conversion is a copy across the
# PCI bus, so convert only at the edges: data onto the device once per batch, results back
# to the host for plots and logs.
#
# Both functions accept containers (dicts, lists, tuples, NamedTuples) and leave non-arrays
# alone, so `to_numpy(model.params)` just works.

# %%
lesson.step("Converting at the edges: to_numpy and to_device")


class Pair(NamedTuple):
    mu: object
    note: str


tree = {"params": [np.arange(3.0), np.eye(2)], "pair": Pair(np.zeros(2), "text"), "lr": 1e-3}
on_device = backend.to_device(tree)
back = backend.to_numpy(on_device)
assert isinstance(back["pair"], Pair) and back["pair"].note == "text" and back["lr"] == 1e-3
assert all(type(v) is np.ndarray for v in back["params"])
assert np.array_equal(back["params"][1], np.eye(2))
print("  to_device then to_numpy returns the same tree, NamedTuples and numbers kept: OK")

# %% [markdown]
# ## 3. `Random`: one stream on every backend
#
# NumPy's and CuPy's random generators give different streams, and NumPy's default dtype is
# float64 (slow on most GPUs). `draw_np.backend.Random` draws on the host with an explicit
# dtype, then moves the numbers to the current backend: a run started on a GPU and resumed
# on a CPU sees the same noise $\epsilon$ (eq. 6). Its state is a small dict a checkpoint can
# store.

# %%
lesson.step("Random: one stream on every backend")
rng = backend.Random(3)
state = rng.state
first = backend.to_numpy(rng.normal((2, 3), "float32"))
assert first.dtype == np.float32
assert np.array_equal(first, np.random.default_rng(3).standard_normal((2, 3), dtype=np.float32))
rng.set_state(state)
assert np.array_equal(backend.to_numpy(rng.normal((2, 3), "float32")), first)
print("  Random(3) == numpy.random.default_rng(3), float32, and set_state replays it: OK")

# %% [markdown]
# ## 4. One DRAW training step on the GPU
#
# The test of a backend is that it computes the same numbers. We build the same small model
# twice from the same seed, once per backend, take one `loss_and_grads` on the same digits
# and noise, and compare in float64, where they must agree to rounding error. (Train in
# float32, which GPUs run fast; check in float64.)
#
# Without a GPU we show what asking for one does.

# %%
lesson.step("One DRAW training step on the GPU")
config = DRAWConfig(T=4, enc_size=32, dec_size=32, z_size=4, read_n=2, write_n=3)
backend.set_backend("numpy")                    # the CPU reference, whatever DRAW_NP_BACKEND says
x = load_sample_digits()[0][:8].astype(np.float64)
eps = backend.Random(4).normal((config.T, len(x), config.z_size), "float64")
cpu_loss, cpu_grads = DRAW(config, seed=0, dtype="float64").loss_and_grads(x, eps)
if backend.gpu_available():
    xp = backend.set_backend("cupy")
    try:
        gpu_model = DRAW(config, seed=0, dtype="float64")   # same seed: same weights
        assert backend.array_module(gpu_model.params["enc.W"]) is xp
        gpu_loss, gpu_grads = gpu_model.loss_and_grads(xp.asarray(x), backend.to_device(eps))
        gpu_grads = backend.to_numpy(gpu_grads)
    finally:
        backend.set_backend("numpy")
    print(f"  loss on the CPU {cpu_loss:.10f}, on the GPU {gpu_loss:.10f}")
    assert np.isclose(cpu_loss, gpu_loss, rtol=1e-10)
    for name, g in cpu_grads.items():
        assert np.allclose(g, gpu_grads[name], rtol=1e-7, atol=1e-10), name
    print(f"  all {len(cpu_grads)} gradients agree: OK")
else:
    try:
        backend.set_backend("cupy")
    except BackendError as exc:
        print(f"  no GPU here, so this part is skipped. Asking for one says:\n    {exc}")
    else:
        raise AssertionError("set_backend('cupy') should fail when gpu_available() is False")
    assert backend.get_backend() == "numpy"           # a failed switch leaves NumPy in place
    print(f"  (on the CPU: loss {cpu_loss:.4f} nats; on a machine with an NVIDIA GPU, install "
          "CuPy\n   with `pip install -e '.[gpu]'` and run this lesson again)")
# %% [markdown]
# To time GPU code, synchronise the device (`cupyx.profiler.benchmark` does): kernels run
# asynchronously, and a CPU clock around them measures only the launch. See
# `python -m draw_np bench` for the library's own measurements.
#
# What a GPU buys depends on the size of the kernels. Measured on an NVIDIA H200 (README,
# "Speed"): the attention classifier's step took 21 ms there against 64 ms on one CPU core,
# but the paper's DRAW step took 0.40 s against 0.58 s on one core of a busy VM. Each of
# DRAW's matrix products works on 100 rows, one time step at a time, and cost 15-20 µs a call
# on the GPU whatever its size: the price of launching a kernel from Python, not of its
# arithmetic. 64 sequential time steps of small kernels, forward and backward, are bound by
# how many kernels they launch.

# %%

lesson.done()
