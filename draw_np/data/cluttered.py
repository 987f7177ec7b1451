"""Cluttered MNIST: the 100 x 100 classification task of the paper's Table 1.

Made as DeepMind's ``mnist-cluttered`` generator makes it (the paper's own data; spec,
"Cluttered MNIST"). For each image:

1. a 100 x 100 canvas of zeros;
2. 8 distractors: each an 8 x 8 crop, at a uniformly random offset, of a uniformly random
   digit of the same split, added at a uniformly random position;
3. the target digit (28 x 28 grey levels), added at a uniformly random position;
4. the sum clipped to [0, 1]. Nothing is binarised; the label is the target's.

Every position is drawn so the piece lies wholly inside the canvas (a crop offset in
``0..28 − 8``, a distractor at ``0..100 − 8``, the target at ``0..100 − 28``, top-left
corners, 0-based). A draw is a :class:`Placements`; :func:`render` turns it into images.

Exactness. MNIST's grey levels are bytes ``k / 255``, so every cluttered pixel is
``min(Σ k, 255) / 255``: :func:`render` sums the bytes in integers, clips at 255 and decodes
with ``float32(byte) / 255``, exactly as :func:`draw_np.data.load_mnist` decodes MNIST.
The result does not depend on the order of the additions or on floating-point rounding.

The splits:

* **train**: new images every epoch from the 50,000 training digits (a
  :class:`~draw_np.data.dataset.RegeneratedTrainingSet`): each batch draws its own placements
  for its target digits, so an epoch of 100 x 100 images never exists at once and a resumed
  run makes the very same batches;
* **valid**, **test**: fixed, one image per digit of the 10,000 validation and 10,000 test
  digits (in their order), with placements drawn once from :data:`CLUTTER_SEED`. Only the
  placements are cached (``cache_dir/cluttered_mnist_seed0.npz``, 3.4 MB, verified by
  :func:`~draw_np.data.derived.load_derived` and pinned by their sha256); the images are
  rendered from them and the verified MNIST bytes on every load, about 2 s per split on one
  core (the images themselves, uint8, would be 100 MB per split). In memory each fixed split
  is 10,000 x 100 x 100 float32, 400 MB.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import DataError
from .cache import cache_dir_or_default
from .derived import Pinned, load_derived
from .progress import Log, stderr_log

SIDE = 100          # the canvas is SIDE x SIDE
DIGIT = 28          # MNIST digits are DIGIT x DIGIT
DISTRACTORS = 8     # distractor crops per image
CROP = 8            # each CROP x CROP
CLUTTER_SEED = 0    # the seed of the fixed validation and test placements
FIXED_SPLITS = ("valid", "test")
#: Images rendered at once: bounds the integer canvas (RENDER_BLOCK x 100 x 100 uint16).
RENDER_BLOCK = 1000
_LABEL = "cluttered MNIST"

#: The fixed placements of CLUTTER_SEED for the standard 10,000 validation and 10,000 test
#: digits, as NumPy 2.4.6 drew them: sha256 of each array's bytes in C order.
_PINNED = Pinned(
    {"seed": CLUTTER_SEED, "valid_digits": 10_000, "test_digits": 10_000},
    {"valid_digit": "f8e30968a45435b9fbd3fac9a23173988c1e409cff01bd8322a65856b51db57a",
     "valid_crop": "08dbb4685e83b8ebd540562f7dd235e0097dc7bf493a50e873bfa5d03f2d84f8",
     "valid_at": "98074349473bb06e92efb47c0fd3a4b3b210bd4a2655da90c38ef17d668655e8",
     "valid_target_at": "bc4c6c4d8fe74309447c398f826f39c1ad55dc219b9b08fe2e621f91870809aa",
     "test_digit": "a7c6f74c1359375990cb3571928415acc56daf494dd4a3bd0ecde458dd15d6df",
     "test_crop": "24c75ef486a05484af4eece653e5a8b36ad3f78d2594e0b57a7061a1590db5d1",
     "test_at": "37dfd19cd8cbd24b2fd9190f217e43a44e80981cb8303bc15bfcb13fafcb172a",
     "test_target_at": "4f97db5891a2c226af27538fd4bd5222957c4e7def9134442af0c0469e8056b8"},
    "NumPy 2.4.6")


class Placements(NamedTuple):
    """Where the pieces of n cluttered images go: top-left corners (row, col), 0-based."""
    digit: np.ndarray      # (n, DISTRACTORS) int32: which digit of the split each crop is from
    crop: np.ndarray       # (n, DISTRACTORS, 2) int32: the crop's corner in that digit, 0..20
    at: np.ndarray         # (n, DISTRACTORS, 2) int32: the crop's corner on the canvas, 0..92
    target_at: np.ndarray  # (n, 2) int32: the target digit's corner on the canvas, 0..72


def draw_placements(rng: np.random.Generator, n: int, digits: int) -> Placements:
    """Uniformly random placements for n images whose distractors come from ``digits`` digits."""
    if digits < 1:
        raise DataError("cluttered MNIST needs at least one digit to take distractors from")
    corner = lambda high, shape: rng.integers(0, high + 1, size=shape, dtype=np.int32)
    return Placements(digit=rng.integers(0, digits, size=(n, DISTRACTORS), dtype=np.int32),
                      crop=corner(DIGIT - CROP, (n, DISTRACTORS, 2)),
                      at=corner(SIDE - CROP, (n, DISTRACTORS, 2)),
                      target_at=corner(SIDE - DIGIT, (n, 2)))


def _block(corners, size: int):
    """Fancy indices of ``size x size`` blocks at ``corners`` (n, 2): rows (n, size, 1) and
    columns (n, 1, size), which broadcast to each image's block."""
    offsets = np.arange(size)
    return ((corners[:, 0, None] + offsets)[:, :, None],
            (corners[:, 1, None] + offsets)[:, None, :])


def render(digit_bytes: np.ndarray, targets: np.ndarray, placements: Placements) -> np.ndarray:
    """The cluttered images: float32 (n, 100, 100) in [0, 1].

    Args:
        digit_bytes: (D, 28, 28) uint8 MNIST bytes of one split (distractors come from here).
        targets: (n,) indices into ``digit_bytes`` of each image's target digit.
        placements: a :class:`Placements` for n images.
    """
    n = len(targets)
    images = np.empty((n, SIDE, SIDE), dtype=np.float32)
    for start in range(0, n, RENDER_BLOCK):
        part = slice(start, start + RENDER_BLOCK)
        images[part] = _render_bytes(digit_bytes, targets[part],
                                     Placements(*(a[part] for a in placements)))
    images /= 255                                    # decoded as load_mnist decodes MNIST
    return images


def _render_bytes(digit_bytes, targets, p: Placements) -> np.ndarray:
    """Steps 1-4 of the recipe in integers: the clipped sum of bytes, as float32 0..255."""
    n = len(targets)
    canvas = np.zeros((n, SIDE, SIDE), dtype=np.uint16)   # 8 crops + a digit < 2^16
    image = np.arange(n)[:, None, None]
    for d in range(DISTRACTORS):                     # one fancy-indexed add per distractor
        rows, cols = _block(p.crop[:, d], CROP)
        crops = digit_bytes[p.digit[:, d, None, None], rows, cols]        # (n, 8, 8)
        rows, cols = _block(p.at[:, d], CROP)
        canvas[image, rows, cols] += crops
    rows, cols = _block(p.target_at, DIGIT)
    canvas[image, rows, cols] += digit_bytes[targets]
    return np.minimum(canvas, 255).astype(np.float32)


def digit_bytes(grey: np.ndarray) -> np.ndarray:
    """MNIST grey levels ``k / 255`` (float, (D, 28, 28)) back to their bytes k."""
    if grey.ndim != 3 or grey.shape[1:] != (DIGIT, DIGIT):
        raise DataError(f"cluttered MNIST is made of 28 x 28 digits, got an array of shape "
                        f"{grey.shape}")
    return np.rint(np.asarray(grey, dtype=np.float64) * 255).clip(0, 255).astype(np.uint8)


def training_set(digits: np.ndarray, labels: np.ndarray):
    """Cluttered images made afresh for every batch from the training digits (bytes, labels)."""
    from .dataset import RegeneratedTrainingSet

    def make(indices, rng):
        indices = np.asarray(indices)
        return (render(digits, indices, draw_placements(rng, len(indices), len(digits))),
                labels[indices])

    return RegeneratedTrainingSet(make, len(digits))


def fixed_placements(sizes: dict, cache_dir=None, seed: int = CLUTTER_SEED,
                     log: Log | None = None) -> dict:
    """The validation and test placements: ``{"valid": Placements, "test": Placements}``.

    Split ``i`` of :data:`FIXED_SPLITS` draws with ``np.random.default_rng([seed, i + 1])``,
    one image per digit of the split (``sizes[split]`` digits). Cached with
    :func:`~draw_np.data.derived.load_derived`; the standard sizes with the default seed are
    pinned, so a NumPy that draws another stream is caught by name.
    """
    log = log or stderr_log

    def make():
        arrays = {}
        for i, split in enumerate(FIXED_SPLITS):
            p = draw_placements(np.random.default_rng([seed, i + 1]), sizes[split], sizes[split])
            arrays.update({f"{split}_{field}": a for field, a in zip(Placements._fields, p)})
        return arrays, recipe

    recipe = {"seed": seed, **{f"{split}_digits": int(sizes[split]) for split in FIXED_SPLITS}}
    arrays = load_derived(cache_dir_or_default(cache_dir) / f"cluttered_mnist_seed{seed}.npz",
                          make, requires=recipe, check=lambda a, where: _check(a, sizes, where),
                          pinned=[_PINNED], what=f"cluttered MNIST placements (seed {seed})",
                          label=_LABEL, log=log)
    return {split: Placements(*(arrays[f"{split}_{field}"] for field in Placements._fields))
            for split in FIXED_SPLITS}


def _check(arrays: dict, sizes: dict, where: str) -> None:
    """Raise DataError unless the placements have the shapes and ranges of the recipe."""
    for split in FIXED_SPLITS:
        n = sizes[split]
        shapes = {"digit": ((n, DISTRACTORS), n - 1), "crop": ((n, DISTRACTORS, 2), DIGIT - CROP),
                  "at": ((n, DISTRACTORS, 2), SIDE - CROP), "target_at": ((n, 2), SIDE - DIGIT)}
        for field, (shape, high) in shapes.items():
            a = arrays.get(f"{split}_{field}")
            if a is None or a.shape != shape or a.dtype != np.int32 or \
                    (a.size and (a.min() < 0 or a.max() > high)):
                raise DataError(f"{where} has no {split} {field} placements of shape {shape}, "
                                f"int32 in [0, {high}]")


def load_splits(source=None, cache_dir=None, dynamic=False, log: Log | None = None):
    """Cluttered MNIST as a :class:`~draw_np.data.dataset.DataSplits`: ``(images, labels)``
    splits, images (N, 100, 100) float32 in [0, 1], labels int64 0..9; made from the MNIST of
    :func:`draw_np.data.load_mnist` (``source``, ``cache_dir`` as there)."""
    from . import mnist
    from .dataset import DataSplits
    if dynamic:
        raise ValueError("cluttered MNIST is grey levels, never binarised: "
                         "--dynamic-binarization does not apply to it")
    grey = mnist.load_mnist(cache_dir=cache_dir, source=source, log=log)
    labels = mnist.load_mnist_labels(cache_dir=cache_dir, source=source, log=log)
    digits = {split: digit_bytes(grey[split]) for split in mnist.SPLITS}
    placements = fixed_placements({s: len(digits[s]) for s in FIXED_SPLITS}, cache_dir, log=log)
    fixed = {split: (render(digits[split], np.arange(len(digits[split])), placements[split]),
                     np.asarray(labels[split], dtype=np.int64))
             for split in FIXED_SPLITS}
    return DataSplits("cluttered", (SIDE, SIDE), training_set(digits["train"], labels["train"]),
                      fixed["valid"], fixed["test"], binary=False)
