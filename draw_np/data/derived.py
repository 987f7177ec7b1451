"""Derived data sets: made once from a seed, cached, and verified by a recorded SHA-256.

Some data sets are not downloaded but *made*, by a seeded random draw from another data set:
the fixed binarisation of MNIST today; cluttered, two-digit or colour MNIST tomorrow. Such a set
must be the same for every run and every user, yet its bits depend on NumPy's random stream,
which a NumPy release may change. :func:`load_derived` makes it reproducible and checks that it
is:

* the arrays are made once by the data set's ``make`` and cached beside their **recipe** (what
  they were made from: the seed, the sha256 of the source arrays) and the sha256 of each array;
* a cached copy is reused only if its recipe matches what is asked for and every array still
  has its recorded sha256 (otherwise it was damaged or edited: it is deleted and remade);
* a data set can **pin** a recipe to the hashes its arrays must have (:class:`Pinned`),
  recorded in the code. Freshly made arrays that differ raise :class:`DataError` naming the
  NumPy that drew them and the one that recorded them, never silently a different data set; a
  cached copy that differs is remade.

A new derived data set is a ``make`` function, a structure check and, once its hashes are
known, a :class:`Pinned` entry; see ``load_binarized_mnist`` in :mod:`draw_np.data.mnist`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..errors import DataError
from .cache import read_cache, write_cache
from .progress import Log
from .verify import array_sha256

# In the cached .npz, array NAME's recorded hash is "sha256/NAME"; every other key that is not
# an array with a hash is an entry of the recipe (as the binarised MNIST cache always had them).
_SHA256 = "sha256/"


class Pinned(NamedTuple):
    """A recipe whose result is known: made from ``recipe``, the arrays have these hashes."""
    recipe: dict          # e.g. {"seed": 0, "grey_sha256": [...]}, as ``make`` reports it
    sha256: dict          # array name -> sha256 hex of its canonical bytes
    recorded_with: str    # the software that made them, e.g. "NumPy 2.4.6"


def load_derived(path: Path, make: Callable[[], tuple[dict, dict]], *, requires: dict,
                 check: Callable[[dict, str], None], pinned: Sequence[Pinned] = (),
                 what: str, label: str, log: Log) -> dict[str, np.ndarray]:
    """The arrays of a derived data set, from the cache at ``path`` or made and cached there.

    Args:
        path: the cache file (``.npz``).
        make: ``() -> (arrays, recipe)``: makes the arrays (name -> array) and says what from
            (name -> int, str or list of str).
        requires: the recipe entries a cached copy must have to be reused (e.g. the seed).
        check: ``check(arrays, where)`` raises DataError unless the arrays' shapes, dtypes and
            values are right; applied to a cached copy before it is trusted.
        pinned: recipes with recorded hashes (see :class:`Pinned`).
        what: what the arrays are, for messages (e.g. "fixed binarisation of MNIST").
        label: the data set's name that starts progress messages (e.g. "MNIST").
        log: where progress messages go.
    Raises:
        DataError: freshly made arrays differ from the hashes pinned for their recipe.
    """
    cached = read_cache(path, lambda npz: _read_verified(npz, requires, check, pinned))
    if cached is not None:
        return cached
    arrays, recipe = make()
    digests = {name: array_sha256(a) for name, a in arrays.items()}
    for pin in _pins_of(recipe, pinned):
        differ = [name for name, digest in pin.sha256.items() if digests.get(name) != digest]
        if differ:
            raise DataError(
                f"the {what} made here differs from the recorded one (sha256 of "
                f"{', '.join(differ)}): NumPy {np.__version__} draws another random stream "
                f"than {pin.recorded_with}, which recorded it; install {pin.recorded_with} "
                f"(or a NumPy that draws the same) to get the project's data")
    stored = {**arrays, **{k: np.array(v) for k, v in recipe.items()},
              **{_SHA256 + k: np.array(d) for k, d in digests.items()}}
    write_cache(path, stored, log, label)
    return arrays


def _plain(value):
    """A recipe value as it reads back from an npz: int, str or list of str."""
    return np.array(value).tolist()


def _pins_of(recipe: dict, pinned: Sequence[Pinned]) -> list[Pinned]:
    """The pinned entries whose recipe this one is."""
    plain = {k: _plain(v) for k, v in recipe.items()}
    return [pin for pin in pinned if all(plain.get(k) == _plain(v) for k, v in pin.recipe.items())]


def _read_verified(npz, requires: dict, check, pinned) -> dict:
    """A cached derived data set's arrays, if its recipe, structure and hashes are right."""
    digests = {key[len(_SHA256):]: str(npz[key]) for key in npz.files if key.startswith(_SHA256)}
    if not digests:
        raise DataError("it does not record the sha256 of its arrays")
    arrays = {name: npz[name] for name in digests if name in npz.files}
    recipe = {key: npz[key].tolist() for key in npz.files
              if key not in digests and not key.startswith(_SHA256)}
    for key, wanted in requires.items():
        stored, wanted = recipe.get(key), _plain(wanted)
        if stored != wanted:
            said = (f"{key} {stored}, not {wanted}" if isinstance(wanted, (int, str))
                    else f"another {key} than the one asked for")
            raise DataError(f"it was made with {said}")
    check(arrays, "it")
    damaged = [name for name, a in arrays.items() if array_sha256(a) != digests[name]]
    if damaged:
        raise DataError(f"its {', '.join(damaged)} no longer match their recorded sha256 "
                        f"(damaged or edited)")
    for pin in _pins_of(recipe, pinned):
        if digests != pin.sha256:
            raise DataError(f"its arrays differ from the ones recorded with {pin.recorded_with}")
    return arrays
