"""The array-module switch: NumPy on the CPU, CuPy on an NVIDIA GPU.

Library code never imports numpy or cupy for its arithmetic. It asks this module:

* ``xp()`` - the module of the current backend, for creating new arrays;
* ``array_module(*arrays)`` - the module the given arrays live in, for computing on them
  (the layers use this, so a layer works on whatever arrays it is handed);
* ``to_numpy(tree)`` / ``to_device(tree)`` - move arrays, or dicts/lists/tuples of them, to the
  host or to the current backend's device. Convert at the edges: data in, plots and logs out.

The backend is chosen by ``DRAW_NP_BACKEND=numpy|cupy`` at import, or by ``set_backend(name)``
at run time. CuPy is imported lazily, only when asked for, so a machine without it or without a
GPU works normally with NumPy and gets one clear error if it asks for CuPy.

Random numbers come from :class:`Random`, a NumPy ``Generator`` (PCG64) that draws on the host
with an explicit dtype and moves the result to the current backend. Drawing on the host makes
the stream identical on both backends, so a run started on a GPU and resumed on a CPU sees the
same noise, and its state is a small JSON-able dict that a checkpoint can store. The noise of a
training step is a few MB, so the host-to-device copy costs little next to the step itself.
"""
from __future__ import annotations

import os
from types import ModuleType

import numpy

from .errors import BackendError

BACKENDS = ("numpy", "cupy")

_name = "numpy"
_module: ModuleType = numpy


def _import_cupy() -> ModuleType:
    """Import CuPy and make sure a GPU answers, or raise one BackendError that says what to do."""
    try:
        import cupy  # the only place in draw_np that imports cupy
    except ImportError as exc:
        raise BackendError(
            "the cupy backend needs CuPy: install the wheel for your CUDA version, "
            "e.g. `pip install cupy-cuda12x` (https://docs.cupy.dev/en/stable/install.html)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: CuPy raises its own error types
        raise BackendError(
            f"the cupy backend needs an NVIDIA GPU with a working CUDA driver ({exc}); "
            "use DRAW_NP_BACKEND=numpy on this machine"
        ) from exc
    if count < 1:
        raise BackendError("the cupy backend needs an NVIDIA GPU, and none was found; "
                           "use DRAW_NP_BACKEND=numpy on this machine")
    return cupy


def set_backend(name: str) -> ModuleType:
    """Switch the current backend to ``"numpy"`` or ``"cupy"`` and return its array module."""
    global _name, _module
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    _module = numpy if name == "numpy" else _import_cupy()
    _name = name
    return _module


def get_backend() -> str:
    """The name of the current backend: ``"numpy"`` or ``"cupy"``."""
    return _name


def xp() -> ModuleType:
    """The array module of the current backend (numpy or cupy)."""
    return _module


def gpu_available() -> bool:
    """True when the cupy backend can run here (CuPy installed and a GPU found)."""
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def _is_cupy_array(a) -> bool:
    # Looking at the type's module avoids importing cupy on machines that do not have it. The
    # model asks thousands of times a step, so a NumPy array is answered first, without a look.
    kind = type(a)
    return kind is not numpy.ndarray and kind.__module__.split(".")[0] == "cupy"


def array_module(*arrays) -> ModuleType:
    """The module the arrays live in: cupy if any is a CuPy array, else numpy.

    Like ``cupy.get_array_module``, but usable without CuPy installed.
    """
    for a in arrays:
        if _is_cupy_array(a):
            import cupy
            return cupy
    return numpy


def _map_arrays(tree, fn):
    if isinstance(tree, dict):
        return {k: _map_arrays(v, fn) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # NamedTuple: keep its type
        return type(tree)(*(_map_arrays(v, fn) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map_arrays(v, fn) for v in tree)
    return fn(tree)


def to_numpy(tree):
    """Bring an array, or a dict/list/tuple of arrays, to the host as NumPy arrays.

    Anything that is not a CuPy array (NumPy arrays, Python numbers, strings) passes unchanged.
    """
    return _map_arrays(tree, lambda a: a.get() if _is_cupy_array(a) else a)


def to_device(tree):
    """Move an array, or a dict/list/tuple of arrays, to the current backend.

    Non-array leaves (numbers, strings, None) pass unchanged.
    """
    def move(a):
        if isinstance(a, numpy.ndarray) or _is_cupy_array(a):
            return _module.asarray(a)
        return a
    return _map_arrays(tree, move)


class Random:
    """Reproducible random numbers with an explicit dtype, the same on every backend.

    ``Random(seed).normal((T, n, z), "float32")`` returns a standard-normal array on the current
    backend. ``state`` / ``set_state`` give and restore the generator state as a JSON-able dict.
    """

    def __init__(self, seed=0):
        # seed: an int, or a sequence of ints (NumPy's SeedSequence mixes them into one stream)
        self._gen = numpy.random.default_rng(seed)

    def normal(self, shape, dtype="float32"):
        """Standard normal samples of ``shape`` and ``dtype`` on the current backend."""
        dtype = numpy.dtype(dtype)
        if dtype not in (numpy.float32, numpy.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return _module.asarray(self._gen.standard_normal(shape, dtype=dtype))

    def uniform(self, shape, dtype="float32"):
        """Samples from U[0, 1) of ``shape`` and ``dtype`` on the current backend."""
        dtype = numpy.dtype(dtype)
        if dtype not in (numpy.float32, numpy.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return _module.asarray(self._gen.random(shape, dtype=dtype))

    def permutation(self, n: int):
        """A random permutation of ``range(n)`` as a host NumPy array (used to index host data)."""
        return self._gen.permutation(n)

    @property
    def state(self) -> dict:
        """The generator state, a dict of plain Python values (JSON-able)."""
        return self._gen.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :attr:`state`."""
        self._gen.bit_generator.state = state


set_backend(os.environ.get("DRAW_NP_BACKEND", "numpy"))
