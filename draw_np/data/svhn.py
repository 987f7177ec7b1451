"""SVHN, the cropped digits (Format 2), from the .mat files a user downloads (paper section 4.3).

Get ``train_32x32.mat`` and ``test_32x32.mat`` from http://ufldl.stanford.edu/housenumbers/ and
pass the folder holding them (or one of the two files) as ``--data DIR`` (``source=``).
Nothing is downloaded or cached: the files are read every time. ``extra_32x32.mat`` is not used.

The format: MATLAB v5 files, read with ``scipy.io.loadmat`` (SciPy is an optional extra:
``pip install scipy`` or ``pip install 'draw_np[formats]'``), each holding ``X``, uint8 of
shape (32, 32, 3, N) (row, column, channel, image), and ``y``, shape (N, 1), the digits as
labels 1..10 where 10 means the digit 0.

Checks: the structure of each file (``X`` and ``y`` present, shapes, dtypes, label range); then,
for a file of the official size (73,257 training and 26,032 test images), the MD5 published for
it (as torchvision records them). A copy of other sizes is used with a note
(:mod:`draw_np.data.downloaded`).

Splits: "train" is all of ``train_32x32.mat`` but its last 5,000 images, which are "valid";
"test" is ``test_32x32.mat``. Images ``(n, 3, 32, 32)`` in [0, 1] (``byte / 255``); DRAW's loss
on them is eq. 9's cross-entropy against the grey levels, not a bound on a likelihood
(``binary=False``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .downloaded import byte_image_splits, check_published_md5, split_off_validation
from .progress import Log, stderr_log

__all__ = ["IMAGE_SHAPE", "load_splits", "load_svhn"]

IMAGE_SHAPE = (3, 32, 32)
FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
OFFICIAL_SIZES = {"train": 73_257, "test": 26_032}
#: The MD5s of the official files (as torchvision's SVHN records them).
FILE_MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373",
            "test": "eb5a983be6a315427106f1b164d9cef3"}
_HOW_TO_PROVIDE = ("download train_32x32.mat and test_32x32.mat (the cropped digits, Format 2) "
                   "from http://ufldl.stanford.edu/housenumbers/ and pass --data DIR, the folder "
                   "holding them")


def load_svhn(source, log: Log | None = None) -> dict[str, np.ndarray]:
    """SVHN as bytes: ``{"train", "valid", "test"}`` -> uint8 (n, 3, 32, 32) and
    ``{split}_labels`` -> int64 (n,) digits 0..9 (the files' label 10 is the digit 0).

    Args:
        source: the folder holding ``train_32x32.mat`` and ``test_32x32.mat``, or one of them.
        log: where the note about a non-official copy goes (default: stderr).
    Raises:
        DataError: no source, SciPy missing, a missing or unreadable file, a bad structure, or
            an official-size file whose MD5 is not the published one; one sentence each.
    """
    log = log or stderr_log
    if source is None:
        raise DataError(f"SVHN is read from the files you download: {_HOW_TO_PROVIDE}")
    folder = Path(source).expanduser()
    if folder.is_file():
        folder = folder.parent
    missing = [name for name in FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}; {_HOW_TO_PROVIDE}")
    images, labels = {}, {}
    for split, name in FILES.items():
        images[split], labels[split] = _read_mat(folder / name)
        check_published_md5(folder / name, FILE_MD5[split],
                            len(images[split]) == OFFICIAL_SIZES[split], "SVHN", log)
    train, valid = split_off_validation(images["train"], str(folder / FILES["train"]), "SVHN")
    return {"train": train, "valid": valid, "test": images["test"],
            "train_labels": labels["train"][:len(train)],
            "valid_labels": labels["train"][len(train):], "test_labels": labels["test"]}


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """SVHN as a :class:`~draw_np.data.dataset.DataSplits` of images for DRAW (``cache_dir`` is
    unused: nothing is cached; ``dynamic`` is refused: the images are not binary)."""
    if dynamic:
        raise ValueError("dynamic binarisation does not apply to SVHN (colour images are "
                         "modelled as grey levels, not bits)")
    arrays = load_svhn(source, log)
    return byte_image_splits("svhn", arrays["train"], arrays["valid"], arrays["test"])


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One .mat file -> (images uint8 (n, 3, 32, 32), labels int64 (n,) digits 0..9)."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError("reading SVHN's .mat files needs SciPy, which is not installed: "
                        "pip install scipy (or pip install 'draw_np[formats]')") from None
    try:
        contents = loadmat(path, variable_names=("X", "y"))
    except Exception as error:  # noqa: BLE001 - a damaged .mat can raise almost anything
        raise DataError(f"{path} is not a readable MATLAB v5 file ({type(error).__name__}: "
                        f"{error}); {_HOW_TO_PROVIDE}") from error
    if "X" not in contents or "y" not in contents:
        raise DataError(f"{path} lacks the variable {'X' if 'X' not in contents else 'y'}: "
                        f"not an SVHN cropped-digits file")
    X, y = contents["X"], contents["y"]
    side, channels = IMAGE_SHAPE[1], IMAGE_SHAPE[0]
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[:3] != (side, side, channels) \
            or X.shape[3] < 1:
        raise DataError(f"{path} has X of shape {X.shape} and dtype {X.dtype}, expected "
                        f"({side}, {side}, {channels}, N) uint8")
    n = X.shape[3]
    if y.shape not in ((n, 1), (n,)) or not np.issubdtype(y.dtype, np.number) \
            or not np.all((y >= 1) & (y <= 10) & (y == np.round(y))):
        raise DataError(f"{path} has y of shape {y.shape} that is not {n} labels 1..10")
    images = np.ascontiguousarray(X.transpose(3, 2, 0, 1))   # (row, col, channel, n) -> (n, C, H, W)
    return images, y.reshape(n).astype(np.int64) % 10          # label 10 is the digit 0
