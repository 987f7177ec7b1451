"""Image data sets read from files the user downloads (CIFAR-10, SVHN): what they share.

Such files cannot be fetched here, so the loaders read what the user names (``--data PATH``)
every time (no cache: the user's files are the copy of record) and check it:

* structure first (shapes, dtypes, label ranges), by the data set's own reader;
* then, for files of the official sizes, the MD5 checksum the data set's page publishes
  (:func:`check_published_md5`): a file of the official size that differs is refused. A copy of
  other sizes (a small test copy in the official format) has no published checksum; it is used
  as given, with a one-line note.

Images are stored as bytes and handed to a model as ``byte / 255`` in [0, 1]
(:func:`unit_interval`), shape ``(n, 3, 32, 32)``. A colour image is not binary: DRAW's loss on
it is eq. 9's cross-entropy against the grey levels of each channel, not a bound on a
likelihood (``DataSplits.binary`` is False). The training images stay bytes in memory and each
batch is turned into floats when it is needed (a quarter of the memory of float32).
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .dataset import DataSplits, RegeneratedTrainingSet
from .progress import Log
from .verify import file_md5

#: The validation split: the last VALID_SIZE training images (the paper names no split for
#: SVHN or CIFAR-10; the last 5,000 is the common choice, and keeps train and valid disjoint).
VALID_SIZE = 5_000


def unit_interval(images: np.ndarray) -> np.ndarray:
    """uint8 bytes 0..255 -> float32 in [0, 1]: ``byte / 255``."""
    return images.astype(np.float32) / np.float32(255)


def check_published_md5(path, published: str, official: bool, what: str, log: Log) -> None:
    """Refuse a file of the official sizes whose MD5 is not the published one; note a copy of
    other sizes, which has no published checksum, and accept it.

    Args:
        path: the file.  published: the MD5 hex its publisher gives.
        official: whether its contents have the official sizes (the caller has decoded it).
        what: how messages name it (e.g. "CIFAR-10").
    """
    if not official:
        log(f"{what}: {path} is not of the official size, so it has no published checksum; "
            f"using it as given")
        return
    digest = file_md5(path)
    if digest != published:
        raise DataError(f"{path} has the official {what} sizes but MD5 {digest}, not the "
                        f"published {published}: it is damaged or not the official file; "
                        f"download it again")


def split_off_validation(images: np.ndarray, where: str, what: str) -> tuple:
    """``(train, valid)``: the last :data:`VALID_SIZE` images are valid (a tenth of a smaller
    copy's), the rest train."""
    n = len(images)
    valid = min(VALID_SIZE, n // 10)
    if valid < 1:
        raise DataError(f"{where} holds {n} {what} training images, too few to split off a "
                        f"validation set (at least 10 are needed)")
    return images[:n - valid], images[n - valid:]


def byte_image_splits(name: str, train: np.ndarray, valid: np.ndarray,
                      test: np.ndarray) -> DataSplits:
    """A DataSplits of uint8 images ``(n, C, H, W)``: valid and test as floats in [0, 1], the
    training images as bytes turned into floats batch by batch; ``binary`` False."""
    decode = lambda indices, rng: (unit_interval(train[indices]),)   # no randomness needed
    return DataSplits(name, tuple(train.shape[1:]), RegeneratedTrainingSet(decode, len(train)),
                      (unit_interval(valid),), (unit_interval(test),), binary=False)
