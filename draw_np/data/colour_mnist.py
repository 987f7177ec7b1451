"""Colour MNIST: each digit's strokes in a random colour on a random-coloured background.

No colour data set can be fetched where this project is developed, so this one is made from
MNIST, to train and test colour DRAW (paper section 4.3; spec, "Images with C channels"). Every
image of every split gets two colours, a background ``b`` and a foreground ``f`` (RGB bytes,
each channel uniform in 0..255), and its pixel of grey byte ``k`` (0 paper .. 255 ink) becomes,
in each channel,

    x = ((255 − k) · b + k · f) / 255²  =  (1 − g) · b/255 + g · f/255,   g = k / 255,

a float32 in [0, 1], shape (3, 28, 28) (:func:`colour_images`). So that digit and background
always differ visibly, a pair closer than :data:`MIN_COLOUR_DISTANCE` (Euclidean, in RGB
scaled to [0, 1], whose largest distance is √3) is drawn again, until none is
(:func:`draw_colours`).

All three splits are fixed (the colours of split ``i`` of :data:`~draw_np.data.mnist.SPLITS`
drawn with ``np.random.default_rng([seed, i])``), made once from the verified MNIST grey bytes
and cached as ``colour_mnist_seed{seed}.npz`` through
:func:`~draw_np.data.derived.load_derived`, with the hashes of the default seed pinned.

Storage: only the colours are cached, uint8 of shape (n, 2, 3) per split, ``[:, 0]`` the
background and ``[:, 1]`` the foreground, 420 kB in all; the images are decoded from them and
the MNIST bytes with the formula above (exactly: the products are whole numbers below 2²⁴, so
float32 holds them, and one division rounds), the training images batch by batch.

The images are not binary: DRAW's loss on them is eq. 9's cross-entropy against the grey levels
of each channel, not a bound on a likelihood (``binary=False`` in the DataSplits).
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

__all__ = ["COLOUR_SEED", "MIN_COLOUR_DISTANCE", "colour_images", "draw_colours",
           "load_colour_mnist", "load_splits"]

COLOUR_SEED = 0               # the seed of the project's colour MNIST
MIN_COLOUR_DISTANCE = 0.5     # in RGB scaled to [0, 1]: about a third of the largest, √3
_LABEL = "colour MNIST"

# The colours of load_colour_mnist(seed=COLOUR_SEED) drawn for the reference MNIST with
# NumPy 2.4.6, hashed as every array is (sha256 of the uint8 bytes in C order).
_PINNED_SHA256 = {
    "train": "1d542c958b06636789c1d4c5e041dd190bfbdb9faced779c2da5ad89b63c7e32",
    "valid": "d5e7b08731c61055a160f818b480c90f54d3934aee15c3a71203299129585914",
    "test": "1f89b7fb668f2c45bf6d872a37b25cb39b1d54b348076ef59b77a3aa7f8e2a51",
}
_RECORDED_WITH = "NumPy 2.4.6"


def draw_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2, 3) uint8: a background and a foreground colour per image, at least
    :data:`MIN_COLOUR_DISTANCE` apart; the pairs too close are drawn again, all at once."""
    colours = rng.integers(0, 256, size=(n, 2, 3), dtype=np.uint8)
    while True:
        close = _distance(colours) < MIN_COLOUR_DISTANCE
        if not close.any():
            return colours
        colours[close] = rng.integers(0, 256, size=(int(close.sum()), 2, 3), dtype=np.uint8)


def colour_images(grey_bytes: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 grey bytes and (n, 2, 3) uint8 colours -> (n, 3, 28, 28) float32 in
    [0, 1]: ``((255 − k) · background + k · foreground) / 255²`` in each channel."""
    k = grey_bytes[:, None].astype(np.float32)                     # (n, 1, 28, 28)
    background = colours[:, 0, :, None, None].astype(np.float32)   # (n, 3, 1, 1)
    foreground = colours[:, 1, :, None, None].astype(np.float32)
    return ((255 - k) * background + k * foreground) / np.float32(255 * 255)


def load_colour_mnist(cache_dir=None, source=None, seed=COLOUR_SEED, *,
                      log: Log | None = None) -> dict[str, np.ndarray]:
    """Colour MNIST: ``{"train", "valid", "test"}`` -> float32 (n, 3, 28, 28) in [0, 1].

    ``cache_dir`` and ``source`` as for :func:`~draw_np.data.mnist.load_mnist`. This decodes
    every split at once (660 MB); :func:`load_splits` decodes the training images per batch.
    """
    grey, colours = _grey_and_colours(cache_dir, source, seed, log or stderr_log)
    return {split: colour_images(grey[split], colours[split]) for split in mnist.SPLITS}


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """Colour MNIST as a :class:`~draw_np.data.dataset.DataSplits`: every split fixed, the
    training images decoded batch by batch; ``binary`` False (see the module docstring)."""
    if dynamic:
        raise ValueError("dynamic binarisation does not apply to colour MNIST (colour images "
                         "are modelled as grey levels, not bits)")
    grey, colours = _grey_and_colours(cache_dir, source, COLOUR_SEED, log or stderr_log)
    train_grey, train_colours = grey["train"], colours["train"]
    decode = lambda indices, rng: (colour_images(train_grey[indices], train_colours[indices]),)
    fixed = {split: (colour_images(grey[split], colours[split]),) for split in ("valid", "test")}
    return DataSplits("colour-mnist", (3, mnist.SIDE, mnist.SIDE),
                      RegeneratedTrainingSet(decode, len(train_grey)), fixed["valid"],
                      fixed["test"], binary=False)


def _distance(colours: np.ndarray) -> np.ndarray:
    """(n,) Euclidean distance between each pair's two colours, in RGB scaled to [0, 1]."""
    scaled = colours.astype(np.float64) / 255
    return np.linalg.norm(scaled[:, 1] - scaled[:, 0], axis=-1)


def _grey_and_colours(cache_dir, source, seed, log: Log) -> tuple[dict, dict]:
    """MNIST's grey bytes per split and the colours drawn for them (cached, verified)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed, cache = int(seed), cache_dir_or_default(cache_dir)
    levels = mnist.load_mnist(cache_dir=cache, source=source, log=log)
    grey = {split: np.rint(levels[split] * 255).astype(np.uint8) for split in mnist.SPLITS}
    grey_sha256 = [array_sha256(grey[split]) for split in mnist.SPLITS]
    sizes = {split: len(grey[split]) for split in mnist.SPLITS}

    def make():
        log(f"{_LABEL}: drawing the colours (seed {seed})...")
        colours = {split: draw_colours(sizes[split], np.random.default_rng([seed, i]))
                   for i, split in enumerate(mnist.SPLITS)}
        return colours, {"seed": seed, "grey_sha256": grey_sha256}

    def check(arrays, where):
        for split in mnist.SPLITS:
            a = arrays.get(split)
            if a is None or a.shape != (sizes[split], 2, 3) or a.dtype != np.uint8:
                raise DataError(f"{where} has no {split} colours of shape ({sizes[split]}, 2, 3) "
                                f"uint8")
            if np.any(_distance(a) < MIN_COLOUR_DISTANCE):
                raise DataError(f"{where} has {split} colours closer than "
                                f"{MIN_COLOUR_DISTANCE}")

    reference = [mnist._SPEC.image_sha256[split] for split in mnist.SPLITS]
    pinned = Pinned({"seed": COLOUR_SEED, "grey_sha256": reference}, _PINNED_SHA256,
                    _RECORDED_WITH)
    colours = load_derived(cache / f"colour_mnist_seed{seed}.npz", make,
                           requires={"seed": seed, "grey_sha256": grey_sha256}, check=check,
                           pinned=[pinned], what=f"colour MNIST (seed {seed})", label=_LABEL,
                           log=log)
    return grey, colours
