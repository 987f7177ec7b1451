"""Reading a pickle safely: an unpickler that rebuilds NumPy arrays and nothing else.

Loading a pickle calls whatever functions the pickle names (``os.system`` included); every such
name goes through ``find_class``, so refusing all but the few NumPy names needed to rebuild
arrays makes the file inert. Data sets distributed as pickles (the classic ``mnist.pkl.gz``,
CIFAR-10's batches) are read through :func:`load_numpy_pickle`.
"""
from __future__ import annotations

import pickle

import numpy as np

from ..errors import DataError


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """Stand-in for ``_codecs.encode``, which Python 3 writes into protocol-2 pickles of bytes.

    Only the harmless latin-1 case that such pickles use is allowed.
    """
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise DataError("refusing a pickle that calls _codecs.encode other than for latin-1 text")
    return text.encode("latin1")


def _allowed_globals() -> dict:
    """The only names a pickle may refer to: what NumPy needs to rebuild plain arrays.

    NumPy 2 renamed ``numpy.core`` to ``numpy._core``; old pickles (the classic MNIST one
    included) name the former, new ones the latter, and both point to the same functions.
    """
    try:
        from numpy._core import multiarray, numeric     # NumPy >= 2
    except ImportError:                                 # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return allowed


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays (in tuples, lists, dicts) and nothing else."""

    def find_class(self, module, name):
        try:
            return _allowed_globals()[(module, name)]
        except KeyError:
            raise DataError(f"refusing to load a pickle that refers to {module}.{name}: a data "
                            f"pickle holds only NumPy arrays") from None


def load_numpy_pickle(stream, where: str, what: str):
    """Unpickle ``stream`` with :class:`NumpyOnlyUnpickler`; any failure is one DataError.

    Python 2 pickles hold array data as byte strings, read as latin-1 (byte n -> character n),
    which NumPy turns back into the same bytes. ``what`` names the file in messages.
    """
    try:
        return NumpyOnlyUnpickler(stream, encoding="latin1").load()
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged pickle can raise almost anything
        raise DataError(f"{where} is not a readable {what} ({type(error).__name__}: "
                        f"{error})") from error
