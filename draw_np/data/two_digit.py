"""Two-digit MNIST (paper section 4.2): 60 x 60 binary images, each holding two MNIST digits.

An image (:func:`two_digit_images`): a 60 x 60 canvas of zeros and two 28 x 28 digits of one
split, each placed with its top-left corner at a uniformly random pixel (row and column each
uniform in 0..32, so the digit lies inside the canvas). The digits may overlap; a pixel is on if
it is on in either (a logical or). The digits are the **fixed binarisation's bits** of the split
(:func:`~draw_np.data.mnist.load_binarized_mnist`), so the data set is reproducible. DRAW
models the images with the Bernoulli loss of eq. 9 (``binary=True``: L is a bound on
``-log p(x)``).

* Training images are made afresh every epoch (a
  :class:`~draw_np.data.dataset.RegeneratedTrainingSet`), batch by batch: image k of a batch
  has the training digit ``indices[k]`` of the epoch's shuffle as its first digit, a uniformly
  random training digit as its second, and new positions for both.
* Validation and test are fixed, 10,000 images each, one per digit of the split (first digit k
  for image k), made once with ``np.random.default_rng([seed, i])`` (``i`` the split's index
  in :data:`~draw_np.data.mnist.SPLITS`) and cached as ``two_digit_mnist_seed{seed}.npz``
  through :func:`~draw_np.data.derived.load_derived`, their hashes pinned for the default seed.

Storage: the cached images are bits packed eight to a byte, ``np.packbits(images.reshape(n,
3600), axis=1)``, shape (n, 450) uint8 (4.5 MB a split instead of 36 MB); they are unpacked
with ``np.unpackbits(packed, axis=1).reshape(n, 60, 60)``. The hashes are of the packed arrays.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from . import mnist
from .cache import cache_dir_or_default
from .dataset import DataSplits, RegeneratedTrainingSet
from .derived import Pinned, load_derived
from .progress import Log, stderr_log
from .verify import array_sha256

__all__ = ["SIDE", "TWO_DIGIT_SEED", "count_separate_digits", "load_splits", "load_two_digit_mnist",
           "two_digit_images"]

SIDE = 60                         # the images are SIDE x SIDE pixels
TWO_DIGIT_SEED = 0                # the seed of the fixed validation and test images
FIXED_SPLITS = ("valid", "test")
_DIGIT = mnist.SIDE
_LABEL = "two-digit MNIST"

# The packed images of load_two_digit_mnist(seed=TWO_DIGIT_SEED) made from the reference fixed
# binarisation with NumPy 2.4.6, hashed as every array is (sha256 of its bytes in C order).
_PINNED_SHA256 = {
    "valid": "1e76eea9589c315c6a80cdae249812fe5f5895d680e59c6aa9372b6bdde219d2",
    "test": "7e0c5e33feb320951c3d3edae88bd33a4505093fb3db5da7b73fea660e0a5540",
}
_RECORDED_WITH = "NumPy 2.4.6"


def two_digit_images(first: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``len(first)`` two-digit images: ``first[k]`` and a random digit of ``pool`` in image k.

    Args:
        first: (n, 28, 28) uint8 bits, the first digit of each image.
        pool: (m, 28, 28) uint8 bits, the digits the second one is drawn from (uniformly).
        rng: draws, in this order, the second digits' indices (n,) and the top-left corners
            (2, n, 2): digit, image, (row, column), each uniform in 0..SIDE − 28.
    Returns:
        (n, 60, 60) uint8 bits: the two digits, or-ed where they overlap.
    """
    n = len(first)
    second = pool[rng.integers(len(pool), size=n)]
    corners = rng.integers(0, SIDE - _DIGIT + 1, size=(2, n, 2))
    canvas = np.zeros((n, SIDE, SIDE), dtype=np.uint8)
    image, span = np.arange(n)[:, None, None], np.arange(_DIGIT)
    for digits, corner in zip((first, second), corners):
        rows = (corner[:, 0, None] + span)[:, :, None]        # (n, 28, 1)
        cols = (corner[:, 1, None] + span)[:, None, :]        # (n, 1, 28)
        # One digit's 28 x 28 pixels of one image are distinct, so this or-in is exact.
        canvas[image, rows, cols] |= digits
    return canvas


def load_two_digit_mnist(cache_dir=None, source=None, seed=TWO_DIGIT_SEED, *,
                         log: Log | None = None) -> dict[str, np.ndarray]:
    """The fixed validation and test images: ``{"valid", "test"}`` -> uint8 bits (n, 60, 60).

    Made from the fixed binarisation of MNIST (``cache_dir``, ``source`` as for
    :func:`~draw_np.data.mnist.load_binarized_mnist`) as the module docstring says, cached
    and verified; a NumPy that draws other images for the pinned seed raises DataError.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    log = log or stderr_log
    bits = mnist.load_binarized_mnist(cache_dir=cache_dir, source=source, log=log)
    return _fixed_images(bits, cache_dir_or_default(cache_dir), int(seed), log)


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """Two-digit MNIST as a :class:`~draw_np.data.dataset.DataSplits`: training images made
    afresh every epoch, the fixed validation and test images; ``binary`` True; its objects
    counted by :func:`count_separate_digits`."""
    if dynamic:
        raise ValueError("dynamic binarisation does not apply to two-digit MNIST: its training "
                         "images are made afresh every epoch from the fixed bits")
    log = log or stderr_log
    bits = mnist.load_binarized_mnist(cache_dir=cache_dir, source=source, log=log)
    fixed = _fixed_images(bits, cache_dir_or_default(cache_dir), TWO_DIGIT_SEED, log)
    digits = bits["train"]
    make = lambda indices, rng: (two_digit_images(digits[indices], digits, rng),)
    return DataSplits("two-digit", (SIDE, SIDE), RegeneratedTrainingSet(make, len(digits)),
                      (fixed["valid"],), (fixed["test"],), binary=True,
                      count_objects=count_separate_digits)


def _fixed_images(bits: dict, cache, seed: int, log: Log) -> dict[str, np.ndarray]:
    """The validation and test images made from ``bits`` (the fixed binarisation), cached."""
    bits_sha256 = [array_sha256(bits[split]) for split in FIXED_SPLITS]
    sizes = {split: len(bits[split]) for split in FIXED_SPLITS}

    def make():
        log(f"{_LABEL}: making the fixed validation and test images (seed {seed})...")
        packed = {}
        for split in FIXED_SPLITS:
            rng = np.random.default_rng([seed, mnist.SPLITS.index(split)])
            images = two_digit_images(bits[split], bits[split], rng)
            packed[split] = np.packbits(images.reshape(len(images), -1), axis=1)
        return packed, {"seed": seed, "bits_sha256": bits_sha256}

    def check(arrays, where):
        for split in FIXED_SPLITS:
            a = arrays.get(split)
            if a is None or a.shape != (sizes[split], SIDE * SIDE // 8) or a.dtype != np.uint8:
                raise DataError(f"{where} has no {split} images of shape "
                                f"({sizes[split]}, {SIDE * SIDE // 8}) uint8 (packed bits)")

    reference = [mnist._SPEC.bits_sha256[split] for split in FIXED_SPLITS]
    pinned = Pinned({"seed": TWO_DIGIT_SEED, "bits_sha256": reference}, _PINNED_SHA256,
                    _RECORDED_WITH)
    packed = load_derived(cache / f"two_digit_mnist_seed{seed}.npz", make,
                          requires={"seed": seed, "bits_sha256": bits_sha256}, check=check,
                          pinned=[pinned], what=f"two-digit MNIST (seed {seed})", label=_LABEL,
                          log=log)
    return {split: np.unpackbits(packed[split], axis=1).reshape(-1, SIDE, SIDE)
            for split in FIXED_SPLITS}


#: Ink a separate digit must have (pixels above the threshold) to be counted: a binarised MNIST
#: digit has about 100-150 on pixels, so this ignores specks but not a thin "1".
MIN_DIGIT_PIXELS = 20


def count_separate_digits(images, threshold: float = 0.5,
                          min_pixels: int = MIN_DIGIT_PIXELS) -> np.ndarray:
    """How many separate digits each image shows: its groups of ink of ``min_pixels`` or more.

    A pixel is ink when it is above ``threshold`` (bits, or the probabilities of a final canvas
    σ(c_T)). Two ink pixels belong to one group when they are at most two pixels apart (8-
    connected after growing the ink by one pixel), so the speckled strokes of a binarised digit
    stay one group while two digits with a visible gap between them count as two; two digits
    that touch or overlap count as one.

    Args:
        images: (n, H, W) real or integer array (one channel).
    Returns:
        (n,) int64 counts.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype.kind not in "biuf":
        raise ValueError(f"images must be a real (n, H, W) array, got shape {images.shape} "
                         f"and dtype {images.dtype}")
    if images.dtype.kind == "f" and np.isnan(images).any():
        raise ValueError("images contain NaN")
    ink = images > threshold
    n, height, width = ink.shape
    group = _groups(_grow(ink))                     # a group id for every pixel of grown ink
    roots, pixels = np.unique(group[ink.ravel()], return_counts=True)
    digits = roots[pixels >= min_pixels]            # each root is a pixel of its group's image
    return np.bincount(digits // (height * width), minlength=n)


def _groups(mask: np.ndarray) -> np.ndarray:
    """The 8-connected groups of a (n, H, W) mask, as one id per pixel (flat, n·H·W): the
    flat index of a pixel of the pixel's group (-1 off the mask). Union-find over the mask's
    neighbouring pairs, all of them at once: each round hooks every pair's larger root under
    the smaller and then compresses the paths, until every pair shares its root."""
    n, height, width = mask.shape
    on = np.flatnonzero(mask)
    compact = np.full(mask.size, -1, dtype=np.int64)
    compact[on] = np.arange(len(on))
    grid = compact.reshape(n, height, width)
    pairs = [(grid[:, :, :-1], grid[:, :, 1:]), (grid[:, :-1, :], grid[:, 1:, :]),
             (grid[:, :-1, :-1], grid[:, 1:, 1:]), (grid[:, :-1, 1:], grid[:, 1:, :-1])]
    both = [(first >= 0) & (second >= 0) for first, second in pairs]
    a = np.concatenate([first[on_both] for (first, _), on_both in zip(pairs, both)])
    b = np.concatenate([second[on_both] for (_, second), on_both in zip(pairs, both)])
    parent = np.arange(len(on))
    while True:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            break
        np.minimum.at(parent, np.maximum(ra, rb)[apart], np.minimum(ra, rb)[apart])
        while True:                                 # path compression
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    group = np.full(mask.size, -1, dtype=np.int64)
    group[on] = on[parent]
    return group


def _grow(a: np.ndarray) -> np.ndarray:
    """A one-pixel dilation of a (n, H, W) mask: each pixel becomes the maximum of its 3 x 3
    neighbourhood."""
    padded = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    height, width = a.shape[1:]
    out = a.copy()
    for dr in range(3):
        for dc in range(3):
            np.maximum(out, padded[:, dr:dr + height, dc:dc + width], out=out)
    return out
