"""What a data set hands to training, evaluation and plots, and the registry of data sets.

Every data set, whatever its files, becomes one :class:`DataSplits`: a training set that can
produce an epoch, and fixed validation and test arrays. ``train``, ``evaluate`` and ``plot``
ask for a data set by name (``--dataset``) through :func:`load_dataset` and use nothing else,
so a new data set is one module with a ``load_splits`` function and one line in
:data:`DATASETS`.

The arrays of a split are a tuple aligned along axis 0, exactly the arguments a model's
``loss_and_grads`` takes after ``x``: ``(images,)`` for DRAW, ``(images, labels)`` for the
attention classifier. Images are ``(N, H, W)`` (grey) or ``(N, C, H, W)`` (colour), values in
[0, 1].

A training set has a ``size`` and makes epochs: ``epoch = train.epoch(rng)``, then
``epoch.batch(indices, b)`` is batch ``b`` of it, made from the examples ``indices`` of the
epoch's shuffle. Training sets come in three kinds, one per way an epoch is made:

* :class:`FixedTrainingSet`: the same arrays every epoch (the fixed binarisation of MNIST);
* :class:`DynamicBinarisation`: fresh bits from grey levels every epoch;
* :class:`RegeneratedTrainingSet`: images made afresh every epoch by a generator (cluttered
  MNIST, two-digit MNIST: new positions every time), batch by batch, so an epoch of 100 x 100
  images never has to exist at once.

Each draws whatever randomness it needs from the generator it is handed, after the epoch's
shuffle, so an epoch is a pure function of the data generator's state and a resumed run
replays it exactly.
"""
from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

import numpy as np

from ..errors import DataError


class _Arrays:
    """An epoch whose arrays all exist: a batch is an index into them."""

    def __init__(self, arrays: tuple):
        self.arrays = arrays

    def batch(self, indices, b: int) -> tuple:
        return tuple(a[indices] for a in self.arrays)


class FixedTrainingSet:
    """The same arrays every epoch."""

    def __init__(self, *arrays):
        self.arrays = _aligned(arrays)

    @property
    def size(self) -> int:
        return len(self.arrays[0])

    def epoch(self, rng: np.random.Generator) -> _Arrays:
        return _Arrays(self.arrays)

    def limited(self, n: int) -> "FixedTrainingSet":
        return FixedTrainingSet(*(a[:n] for a in self.arrays))


class DynamicBinarisation:
    """Fresh bits every epoch: a pixel is on with probability equal to its grey level."""

    def __init__(self, grey, *others):
        self.grey, self.others = grey, _aligned((grey,) + others)[1:]

    @property
    def size(self) -> int:
        return len(self.grey)

    def epoch(self, rng: np.random.Generator) -> _Arrays:
        return _Arrays((rng.random(self.grey.shape, dtype=np.float32) < self.grey,) + self.others)

    def limited(self, n: int) -> "DynamicBinarisation":
        return DynamicBinarisation(self.grey[:n], *(a[:n] for a in self.others))


class _Made:
    """An epoch made batch by batch: batch ``b`` from its own stream of the epoch's seed, so
    any batch can be made without the ones before it (a resume skips them)."""

    def __init__(self, make, seed: int):
        self.make, self.seed = make, seed

    def batch(self, indices, b: int) -> tuple:
        return _aligned(self.make(indices, np.random.default_rng([self.seed, b])))


class RegeneratedTrainingSet:
    """Examples made afresh every epoch: ``make(indices, rng) -> arrays`` makes one batch from
    the source examples ``indices`` (e.g. the target digits of cluttered MNIST, placed anew)."""

    def __init__(self, make: Callable[[np.ndarray, np.random.Generator], tuple], size: int):
        self.make, self.size = make, size

    def epoch(self, rng: np.random.Generator) -> _Made:
        return _Made(self.make, int(rng.integers(2 ** 63)))

    def limited(self, n: int) -> "RegeneratedTrainingSet":
        return RegeneratedTrainingSet(self.make, min(n, self.size))


def mean_image(train_set, n: int, rng: np.random.Generator, batch: int = 1000) -> np.ndarray:
    """The mean of the first ``n`` images (all of them if fewer) of one epoch that ``train_set``
    makes from ``rng``, in float64: each pixel's rate of ink, as training sees it (a
    regenerated set's images are made afresh, a dynamic binarisation's bits drawn)."""
    n = min(int(n), train_set.size)
    if n < 1:
        raise ValueError("the mean image needs at least one training image")
    epoch, total = train_set.epoch(rng), 0.0
    for b, start in enumerate(range(0, n, batch)):
        images = epoch.batch(np.arange(start, min(start + batch, n)), b)[0]
        total = total + np.sum(images, axis=0, dtype=np.float64)
    return total / n


class DataSplits(NamedTuple):
    """A data set ready for a model."""
    name: str              # its key in DATASETS
    image_shape: tuple     # (H, W) for grey images, (C, H, W) for colour
    train: object          # a training set: .size, .epoch(rng).batch(indices, b), .limited(n)
    valid: tuple           # fixed arrays, aligned along axis 0
    test: tuple
    binary: bool           # bits (L is a bound on -log p(x)) or grey levels (a cross-entropy)
    # For data sets whose images each hold a known number of objects (two-digit MNIST): counts
    # the separate objects in each of a batch of images, so `evaluate` can compare the model's
    # samples with the data's; None for the others.
    count_objects: Callable | None = None

    @classmethod
    def of_arrays(cls, train, valid, test=None, *, name: str = "arrays", binary: bool = True,
                  dynamic: bool = False) -> "DataSplits":
        """A data set from arrays in memory (images, or tuples of images and labels), for
        lessons, tests and scripts; ``dynamic`` draws fresh bits from grey training images."""
        as_tuple = lambda a: tuple(a) if isinstance(a, (tuple, list)) else (a,)
        train, valid = as_tuple(train), as_tuple(valid)
        test = valid if test is None else as_tuple(test)
        train_set = (DynamicBinarisation if dynamic else FixedTrainingSet)(*train)
        return cls(name, tuple(train[0].shape[1:]), train_set, valid, test, binary)

    def limited(self, n: int | None) -> "DataSplits":
        """Only the first ``n`` examples of each split (smoke tests); all of them for None."""
        if n is None:
            return self
        return self._replace(train=self.train.limited(n),
                             valid=tuple(a[:n] for a in self.valid),
                             test=tuple(a[:n] for a in self.test))

    def check_fits(self, config) -> None:
        """A ``ValueError`` unless the model of ``config`` takes this data set's images."""
        if tuple(self.image_shape) != tuple(config.image_shape):
            raise ValueError(f"the model takes {'x'.join(map(str, config.image_shape))} images, "
                             f"the data set {self.name} has "
                             f"{'x'.join(map(str, self.image_shape))}")

    def split(self, name: str) -> tuple:
        """The fixed arrays of "valid" or "test"."""
        if name not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {name!r}")
        return getattr(self, name)


def _aligned(arrays: tuple) -> tuple:
    if not arrays or len({len(a) for a in arrays}) != 1:
        raise DataError(f"a split's arrays must have one length, got "
                        f"{[len(a) for a in arrays]}")
    return tuple(arrays)


#: name -> the module whose ``load_splits(source=None, cache_dir=None, dynamic=False, log=None)``
#: returns its DataSplits
DATASETS = {
    "mnist": "draw_np.data.mnist",
    # Two-digit and colour MNIST (made from MNIST), CIFAR-10 and SVHN (read from the files a
    # user downloads, --data PATH).
    "two-digit": "draw_np.data.two_digit",
    "colour-mnist": "draw_np.data.colour_mnist",
    "cifar10": "draw_np.data.cifar10",
    "svhn": "draw_np.data.svhn",
    "cluttered": "draw_np.data.cluttered",
}


def load_dataset(name: str, *, source=None, cache_dir=None, dynamic=False, limit=None,
                 log=None) -> DataSplits:
    """The data set ``name`` (a key of :data:`DATASETS`), found, verified and cached.

    Args:
        source: a file or folder the user names (``--data``), for data sets read from files.
        cache_dir: where decoded and derived data are cached (default ``~/.cache/draw_np``).
        dynamic: fresh bits every epoch, for binarised data sets made from grey levels.
        limit: only the first ``limit`` examples of each split.
        log: where progress messages go (default: stderr).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    module = importlib.import_module(DATASETS[name])
    kwargs = dict(source=source, cache_dir=cache_dir, dynamic=dynamic)
    if log is not None:
        kwargs["log"] = log
    return module.load_splits(**kwargs).limited(limit)
