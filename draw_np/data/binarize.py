"""Grey levels to bits: each pixel is on with probability equal to its grey level."""
from __future__ import annotations

import numpy as np


def binarize(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample bits from grey levels: each pixel is 1 with probability equal to its grey level.

    Args:
        grey: float array of any shape, values in [0, 1].
        rng: the generator to draw from; the same generator state gives the same bits.
    Returns:
        uint8 array of ``grey``'s shape, values 0 or 1.
    """
    grey = np.asarray(grey)
    if not np.issubdtype(grey.dtype, np.floating):
        # uint8 pixels 0..255 would silently come out (almost) all ones
        raise ValueError(f"binarize needs grey levels as floats in [0, 1], got dtype {grey.dtype}")
    # float32 uniforms: half the memory and time of float64 for a 40-million-pixel training set,
    # and 24 bits of resolution are ample for probabilities known to 8 bits.
    u = rng.random(grey.shape, dtype=np.float32)
    return (u < grey).astype(np.uint8)
