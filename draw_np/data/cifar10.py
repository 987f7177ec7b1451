"""CIFAR-10 from the "CIFAR-10 python version" a user downloads (paper section 4.3, Table 3).

Get ``cifar-10-python.tar.gz`` from https://www.cs.toronto.edu/~kriz/cifar.html and pass it,
or the folder ``cifar-10-batches-py/`` it unpacks to (or a folder holding either), as
``--data PATH`` (``source=``). Nothing is downloaded or cached: the file is read every time.

The format: six pickled dicts, ``data_batch_1`` … ``data_batch_5`` (training) and
``test_batch``, each with ``b"data"``, a (10000, 3072) uint8 array whose row is an image's red,
green and blue planes of 32 x 32 pixels in row-major order, and ``b"labels"``, a list of
10,000 class numbers 0..9. They are Python 2 pickles, so they are read with the project's
restricted unpickler (:mod:`draw_np.data.unpickle`): a dict of lists, strings and NumPy arrays
gets through, and a pickle that would run code is refused before anything runs.

Checks: the structure of every batch (keys, shapes, dtypes, label range); then, for the
official sizes, the MD5 published for the archive (on the CIFAR page) or, for the folder, the
MD5 of each batch file (as torchvision records them). A copy of other sizes is used with a note
(:mod:`draw_np.data.downloaded`).

Splits: "train" is the first 45,000 training images, "valid" the last 5,000, "test" the 10,000
of ``test_batch``. Images ``(n, 3, 32, 32)`` in [0, 1] (``byte / 255``); DRAW's loss on them is
eq. 9's cross-entropy against the grey levels, not a bound on a likelihood (``binary=False``).
"""
from __future__ import annotations

import io
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .downloaded import byte_image_splits, check_published_md5, split_off_validation
from .progress import Log, stderr_log
from .unpickle import load_numpy_pickle

__all__ = ["IMAGE_SHAPE", "load_cifar10", "load_splits"]

IMAGE_SHAPE = (3, 32, 32)
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_BATCH = "test_batch"
OFFICIAL_BATCH_SIZE = 10_000
#: Published on https://www.cs.toronto.edu/~kriz/cifar.html for cifar-10-python.tar.gz.
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
#: The MD5 of each file of the unpacked archive, as torchvision's CIFAR10 records them.
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
#: No batch of the official archive is larger than this (each is about 31 MB): a larger member
#: is not a CIFAR-10 batch, and is refused before it is read into memory.
MAX_BATCH_BYTES = 64 * 2 ** 20
_HOW_TO_PROVIDE = (f"download {ARCHIVE} (the \"CIFAR-10 python version\") from "
                   f"https://www.cs.toronto.edu/~kriz/cifar.html and pass --data PATH to it or "
                   f"to the {FOLDER}/ folder it unpacks to")


def load_cifar10(source, log: Log | None = None) -> dict[str, np.ndarray]:
    """CIFAR-10 as bytes: ``{"train", "valid", "test"}`` -> uint8 (n, 3, 32, 32) and
    ``{split}_labels`` -> int64 (n,) classes 0..9.

    Args:
        source: ``cifar-10-python.tar.gz``, the ``cifar-10-batches-py/`` folder, or a folder
            holding either.
        log: where the note about a non-official copy goes (default: stderr).
    Raises:
        DataError: no source, a missing or unreadable file, a bad structure, or an official-size
            file whose MD5 is not the published one; one sentence each.
    """
    log = log or stderr_log
    if source is None:
        raise DataError(f"CIFAR-10 is read from the files you download: {_HOW_TO_PROVIDE}")
    path = _find(Path(source).expanduser())
    batches = _read_archive(path) if path.is_file() else _read_folder(path)
    official = all(len(labels) == OFFICIAL_BATCH_SIZE for _, labels in batches.values())
    if path.is_file():
        check_published_md5(path, ARCHIVE_MD5, official, "CIFAR-10", log)
    else:
        for name in batches:
            check_published_md5(path / name, BATCH_MD5[name], official, "CIFAR-10", log)
    train_images = np.concatenate([batches[name][0] for name in TRAIN_BATCHES])
    train_labels = np.concatenate([batches[name][1] for name in TRAIN_BATCHES])
    train, valid = split_off_validation(train_images, str(path), "CIFAR-10")
    return {"train": train, "valid": valid, "test": batches[TEST_BATCH][0],
            "train_labels": train_labels[:len(train)], "valid_labels": train_labels[len(train):],
            "test_labels": batches[TEST_BATCH][1]}


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """CIFAR-10 as a :class:`~draw_np.data.dataset.DataSplits` of images for DRAW (``cache_dir``
    is unused: nothing is cached; ``dynamic`` is refused: the images are not binary)."""
    if dynamic:
        raise ValueError("dynamic binarisation does not apply to CIFAR-10 (colour images are "
                         "modelled as grey levels, not bits)")
    arrays = load_cifar10(source, log)
    return byte_image_splits("cifar10", arrays["train"], arrays["valid"], arrays["test"])


# ----------------------------------------------------------------------------- reading
def _find(path: Path) -> Path:
    """The archive or the batches' folder that ``path`` names or holds."""
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in (path, path / FOLDER):
            if (candidate / TRAIN_BATCHES[0]).is_file():
                return candidate
        if (path / ARCHIVE).is_file():
            return path / ARCHIVE
        raise DataError(f"{path} holds neither {ARCHIVE} nor the {FOLDER} batches; "
                        f"{_HOW_TO_PROVIDE}")
    raise DataError(f"there is no CIFAR-10 file or folder at {path}; {_HOW_TO_PROVIDE}")


def _read_archive(path: Path) -> dict[str, tuple]:
    """The six batches from the (gzipped) tar archive, read in memory, never unpacked."""
    batches = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for name in TRAIN_BATCHES + (TEST_BATCH,):
                member = f"{FOLDER}/{name}"
                try:
                    info = archive.getmember(member)
                except KeyError:
                    raise DataError(f"{path} lacks {member}: it is not the CIFAR-10 python "
                                    f"version archive; {_HOW_TO_PROVIDE}") from None
                if not info.isfile() or info.size > MAX_BATCH_BYTES:
                    raise DataError(f"{path}:{member} is not a CIFAR-10 batch (not a file, or "
                                    f"larger than {MAX_BATCH_BYTES} bytes)")
                raw = archive.extractfile(info).read()
                batches[name] = _parse_batch(io.BytesIO(raw), f"{path}:{member}")
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:  # truncated, not a tar
        raise DataError(f"{path} is not a readable tar.gz archive ({type(error).__name__}: "
                        f"{error}); {_HOW_TO_PROVIDE}") from error
    return batches


def _read_folder(folder: Path) -> dict[str, tuple]:
    missing = [name for name in TRAIN_BATCHES + (TEST_BATCH,) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} lacks the CIFAR-10 batches {', '.join(missing)}; "
                        f"{_HOW_TO_PROVIDE}")
    batches = {}
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        try:
            with open(folder / name, "rb") as f:
                batches[name] = _parse_batch(f, str(folder / name))
        except OSError as error:
            raise DataError(f"cannot read {folder / name} ({error})") from error
    return batches


def _parse_batch(stream, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (images uint8 (n, 3, 32, 32), labels int64 (n,))."""
    batch = load_numpy_pickle(stream, where, "CIFAR-10 batch")
    if not isinstance(batch, dict):
        raise DataError(f"{where} holds a {type(batch).__name__}, not a CIFAR-10 batch's dict")
    # Python 2 wrote the keys as str; a Python 3 copy (or encoding="bytes") has bytes keys.
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value
             for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{where} lacks 'data' or 'labels': not a CIFAR-10 batch")
    data, labels = batch["data"], batch["labels"]
    size = int(np.prod(IMAGE_SHAPE))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == size and len(data) >= 1):
        shape = getattr(data, "shape", None)
        raise DataError(f"{where} has 'data' of shape {shape} and type "
                        f"{getattr(data, 'dtype', type(data).__name__)}, expected (n, {size}) "
                        f"uint8")
    try:
        labels = np.asarray(labels)
    except ValueError:                                    # a ragged list
        labels = None
    if labels is None or labels.shape != (len(data),) \
            or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{where} has 'labels' that are not {len(data)} classes 0..9")
    return data.reshape((len(data),) + IMAGE_SHAPE), labels.astype(np.int64)
