"""The CRC-32 that model files, index files and in-memory fingerprints share."""

from __future__ import annotations

import zlib

import numpy as np

COPY_BLOCK = 64 * 2**20


def crc32(arr: np.ndarray) -> str:
    """Return the CRC-32 of an array's bytes as 8 hex digits."""
    crc = 0
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    for s in range(0, len(flat), COPY_BLOCK):
        crc = zlib.crc32(flat[s:s + COPY_BLOCK], crc)
    return f"{crc & 0xFFFFFFFF:08x}"
