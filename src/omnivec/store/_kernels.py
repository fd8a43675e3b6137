"""Compiled kernels of the key index: hashing, building and probing.

The index is an open-addressing table (linear probing, power-of-two size,
load <= 0.5) of int64 row numbers, -1 marking an empty slot.  String keys are
hashed with 64-bit FNV-1a over their UTF-8 bytes, integer keys with the
splitmix64 finaliser; both are fixed so that files are portable (docs/format.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)
EMPTY = -1
CORRUPT = -2


@njit(cache=True, nogil=True)
def fnv1a(buf, start, end):
    h = np.uint64(14695981039346656037)
    for i in range(start, end):
        h = (h ^ np.uint64(buf[i])) * np.uint64(1099511628211)
    return h


@njit(cache=True, nogil=True)
def splitmix64(x):
    z = np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


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
        i = fnv1a(blob, s, e) & mask
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
        i = splitmix64(ids[r]) & mask
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
    i = fnv1a(q, qs, qe) & mask
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
        i = splitmix64(q) & mask
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
