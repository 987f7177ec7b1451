"""SHA-256 of arrays and files: how every data set is checked against its recorded hashes.

An array's hash is taken over its canonical bytes: its elements in C order, in its own dtype
(uint8 pixels 0..255, uint8 labels, uint8 bits), so it does not depend on the format the data
came in or on the array's memory layout.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def array_sha256(array: np.ndarray) -> str:
    """sha256 hex of an array's bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 hex of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

