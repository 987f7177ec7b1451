"""The IDX format of the MNIST family: a header of dimensions, then unsigned bytes in C order.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then each
dimension as a big-endian uint32, then the data. Files are often gzipped.
"""
from __future__ import annotations

import struct

import numpy as np

from ..errors import DataError
from .sources import gunzip


def idx_size(dims: tuple) -> int:
    """Bytes of an uncompressed IDX file of unsigned bytes with these dimensions."""
    return 4 + 4 * len(dims) + int(np.prod(dims))


def parse_idx(raw: bytes, dims: tuple, where: str) -> np.ndarray:
    """Decode one IDX file of unsigned bytes (gzipped or not) that must have shape ``dims``."""
    ndim = len(dims)
    expected_size = idx_size(dims)
    if raw[:2] == b"\x1f\x8b":
        raw = gunzip(raw, expected_size, where)
    magic = raw[:4]
    if magic != bytes([0, 0, 0x08, ndim]):
        raise DataError(f"{where} is not an IDX file of bytes with {ndim} dimension(s) "
                        f"(magic number {magic.hex() or 'missing'}, expected "
                        f"{bytes([0, 0, 8, ndim]).hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{where} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    if shape != dims:
        raise DataError(f"{where} holds an array of shape {shape}, expected {dims}")
    if len(raw) != expected_size:
        raise DataError(f"{where} has {len(raw) - header} bytes of data, expected "
                        f"{expected_size - header} (truncated or padded)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
