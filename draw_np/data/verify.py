"""SHA-256 of arrays and files: how every data set is checked against its recorded hashes.

An array's hash is taken over its canonical bytes: its elements in C order, in its own dtype
(uint8 pixels 0..255, uint8 labels, uint8 bits), so it does not depend on the format the data
came in or on the array's memory layout.

:func:`file_md5` exists only to compare a file with the MD5 checksum its publisher gives (the
CIFAR-10 and SVHN pages publish MD5s, nothing else): MD5 is broken as a defence against a
forger, but it still tells a damaged or different download from the official one.
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
    return _file_digest(path, hashlib.sha256())


def file_md5(path: Path) -> str:
    """md5 hex of a file's bytes, for comparing with a published MD5 checksum only."""
    return _file_digest(path, hashlib.md5())


def _file_digest(path: Path, digest) -> str:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

