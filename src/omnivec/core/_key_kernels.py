"""Compiled kernels of the key index: hashing, building and probing.

The index is an open-addressing table (linear probing, power-of-two size,
load <= 0.5) of int64 row numbers, -1 marking an empty slot.  A key's home
slot is CRC-32 (zlib's, polynomial 0xEDB88320) of its bytes, masked to the
table size: the UTF-8 bytes of a string key, the 8 little-endian bytes of an
integer key.  CRC-32 is fixed (files are portable, docs/format.md) and is in
every language's standard library; in Python it is zlib.crc32, which lets a
single-key lookup run without entering compiled code at all (keys.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .keys import CORRUPT, EMPTY  # noqa: F401  (plain ints, defined where no compiler is needed)


def _crc_table() -> np.ndarray:
    table = np.zeros(256, np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else (c >> 1)
        table[i] = c
    return table


CRC_TABLE = _crc_table()


@njit(cache=True, nogil=True)
def crc32(buf, start, end):
    """Return zlib.crc32 of buf[start:end] (uint8 array or bytes)."""
    c = np.uint32(0xFFFFFFFF)
    for i in range(start, end):
        c = CRC_TABLE[(c ^ np.uint32(buf[i])) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
    return c ^ np.uint32(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def crc32_int(x):
    """Return zlib.crc32 of the 8 little-endian bytes of int64 x."""
    u = np.uint64(x)
    c = np.uint32(0xFFFFFFFF)
    for k in range(8):
        b = np.uint32((u >> np.uint64(8 * k)) & np.uint64(0xFF))
        c = CRC_TABLE[(c ^ b) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
    return c ^ np.uint32(0xFFFFFFFF)


def index_capacity(n: int) -> int:
    """Return the slot count for n keys: the smallest power of two >= 2n (at least 8)."""
    cap = 8
    while cap < 2 * n:
        cap *= 2
    return cap


@njit(cache=True, nogil=True)
def _equal(blob, s, e, q, qs, qe):
    if e - s != qe - qs:
        return False
    for j in range(e - s):
        if blob[s + j] != q[qs + j]:
            return False
    return True


@njit(cache=True, nogil=True)
def build_str_index(blob, offsets, index):
    """Fill `index` with the rows of the keys in (blob, offsets).

    Returns the number of duplicate keys found; for a duplicate, the first row
    wins and the row number of the first duplicate is written to dup[0].
    """
    mask = np.uint64(index.shape[0] - 1)
    n = offsets.shape[0] - 1
    dups = 0
    first_dup = -1
    for r in range(n):
        s = offsets[r]
        e = offsets[r + 1]
        i = np.uint64(crc32(blob, s, e)) & mask
        while True:
            cur = index[i]
            if cur == EMPTY:
                index[i] = r
                break
            if _equal(blob, offsets[cur], offsets[cur + 1], blob, s, e):
                dups += 1
                if first_dup < 0:
                    first_dup = r
                break
            i = (i + np.uint64(1)) & mask
    return dups, first_dup


@njit(cache=True, nogil=True)
def build_int_index(ids, index):
    """Fill `index` with the rows of integer keys; returns (duplicates, first duplicate row)."""
    mask = np.uint64(index.shape[0] - 1)
    dups = 0
    first_dup = -1
    for r in range(ids.shape[0]):
        i = np.uint64(crc32_int(ids[r])) & mask
        while True:
            cur = index[i]
            if cur == EMPTY:
                index[i] = r
                break
            if ids[cur] == ids[r]:
                dups += 1
                if first_dup < 0:
                    first_dup = r
                break
            i = (i + np.uint64(1)) & mask
    return dups, first_dup


@njit(cache=True, nogil=True)
def _find_str(blob, offsets, index, q, qs, qe):
    # Bounds are checked on every probe: a damaged file gives CORRUPT, never a crash.
    mask = np.uint64(index.shape[0] - 1)
    n = offsets.shape[0] - 1
    i = np.uint64(crc32(q, qs, qe)) & mask
    for _ in range(index.shape[0]):
        r = index[i]
        if r == EMPTY:
            return -1
        if r < 0 or r >= n:
            return CORRUPT
        s = offsets[r]
        e = offsets[r + 1]
        if s < 0 or e < s or e > blob.shape[0]:
            return CORRUPT
        if _equal(blob, s, e, q, qs, qe):
            return r
        i = (i + np.uint64(1)) & mask
    return -1


@njit(cache=True, nogil=True)
def probe_str(blob, offsets, index, q):
    """Return the row of the UTF-8 key `q` (bytes), -1 if absent, -2 if the index is damaged."""
    return _find_str(blob, offsets, index, q, 0, len(q))


@njit(cache=True, nogil=True)
def probe_str_many(blob, offsets, index, qblob, qoffsets, out):
    """Write the row of each query key (qblob, qoffsets) to out (-1 absent, -2 damaged index)."""
    for k in range(qoffsets.shape[0] - 1):
        out[k] = _find_str(blob, offsets, index, qblob, qoffsets[k], qoffsets[k + 1])


@njit(cache=True, nogil=True)
def probe_int_many(ids, index, queries, out):
    """Write the row of each integer query key to out (-1 absent, -2 damaged index)."""
    mask = np.uint64(index.shape[0] - 1)
    n = ids.shape[0]
    for k in range(queries.shape[0]):
        q = queries[k]
        i = np.uint64(crc32_int(q)) & mask
        out[k] = -1
        for _ in range(index.shape[0]):
            r = index[i]
            if r == EMPTY:
                break
            if r < 0 or r >= n:
                out[k] = CORRUPT
                break
            if ids[r] == q:
                out[k] = r
                break
            i = (i + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def check_index(index, n):
    """Return True when every slot holds -1 or a row in [0, n) and no row appears twice."""
    seen = np.zeros(n, np.bool_)
    count = 0
    for i in range(index.shape[0]):
        r = index[i]
        if r == EMPTY:
            continue
        if r < 0 or r >= n or seen[r]:
            return False
        seen[r] = True
        count += 1
    return count == n
