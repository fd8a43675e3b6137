"""Compiled kernels of exact search: scoring stored dtypes that BLAS cannot read, and running top-k selection."""

from __future__ import annotations

import numpy as np
import numba
from numba import njit, prange

from .._jit import variants


def _dot_int8(data, q, out):
    """out[i] = sum_j data[i, j] * q[j] for int8 rows and a float32 query (scale folded into q)."""
    n, d = data.shape
    for i in prange(n):
        acc = np.float32(0.0)
        for j in range(d):
            acc += np.float32(data[i, j]) * q[j]
        out[i] = acc


# the serial one is for small tables, where starting threads costs more than it saves
dot_int8, dot_int8_serial = variants(_dot_int8, fastmath=True)


@njit(cache=True, nogil=True, parallel=True, fastmath=True)
def dot_int8_many(data, Q, out):
    """out[i, k] = sum_j data[i, j] * Q[k, j] for int8 rows and float32 queries."""
    n, d = data.shape
    m = Q.shape[0]
    for i in prange(n):
        for k in range(m):
            acc = np.float32(0.0)
            for j in range(d):
                acc += np.float32(data[i, j]) * Q[k, j]
            out[i, k] = acc


@njit(cache=True, nogil=True, parallel=True)
def hamming_many(data, Qbits, out):
    """out[i, k] = number of differing bits between packed rows data[i] and Qbits[k]."""
    n, b = data.shape
    m = Qbits.shape[0]
    for i in prange(n):
        for k in range(m):
            c = 0
            for j in range(b):
                x = data[i, j] ^ Qbits[k, j]
                # popcount of one byte
                x = x - ((x >> 1) & 0x55)
                x = (x & 0x33) + ((x >> 2) & 0x33)
                c += (x + (x >> 4)) & 0x0F
            out[i, k] = c


@njit(cache=True, nogil=True, fastmath=True)
def dot_int8_rows(data, Q, out):
    """out[k, i] = sum_j data[i, j] * Q[k, j] for int8 rows and a few float32 queries, one thread."""
    n, d = data.shape
    m = Q.shape[0]
    for i in range(n):
        for k in range(m):
            acc = np.float32(0.0)
            for j in range(d):
                acc += np.float32(data[i, j]) * Q[k, j]
            out[k, i] = acc


# -- running top-k selection ---------------------------------------------------
# Every exact search keeps, per query, the k best selection keys seen so far in
# descending order (best_v) with their rows (best_i), -inf / -1 while empty.  A
# key is dot * scale[row] + bias[row] (Metric.selection), so one comparison
# against the current k-th best rejects almost every row: no block is ever
# sorted or partitioned.  Rows arrive in ascending order and equal keys stay
# behind those already in, so ties go to the lower row.

@njit(inline="always")
def _push(best_v, best_i, i, v, idx):
    """Insert (v, idx) into query i's descending top-k; the caller has checked v > best_v[i, -1].

    Equal keys stay behind those already in (a stable order: the earlier wins).
    """
    p = best_v.shape[1] - 1
    while p > 0 and best_v[i, p - 1] < v:
        best_v[i, p] = best_v[i, p - 1]
        best_i[i, p] = best_i[i, p - 1]
        p -= 1
    best_v[i, p] = v
    best_i[i, p] = idx


@njit(inline="always")
def _dot(data, r, Q, i):
    """Return <data[r], Q[i]> accumulated in float32."""
    acc = np.float32(0.0)
    for t in range(data.shape[1]):
        acc += data[r, t] * Q[i, t]
    return acc


def _merge_block_topk(S, scale, bias, mask, start, best_v, best_i):
    """Fold the scores S (queries x rows) of rows start.. into each query's sorted top-k.

    The selection key of row j is S[i, j] * scale[j] + bias[j]; rows whose mask
    entry is 0 are skipped (an empty mask lets every row through).  Threads
    split the queries: the shape for many queries.
    """
    nq, nr = S.shape
    k = best_v.shape[1]
    use_mask = mask.shape[0] > 0
    for i in prange(nq):
        thr = best_v[i, k - 1]
        for j in range(nr):
            if use_mask and mask[j] == 0:
                continue
            v = S[i, j] * scale[j] + bias[j]
            if v > thr:
                _push(best_v, best_i, i, v, start + j)
                thr = best_v[i, k - 1]


# Threads pay off only with several queries: waking a pool for one query costs
# more than its scan on a busy machine, so one or few queries run serially.
merge_block_topk, merge_block_topk_serial = variants(_merge_block_topk)


@njit(cache=True, nogil=True, parallel=True)
def merge_split_topk(S, scale, bias, mask, start, parts, best_v, best_i):
    """merge_block_topk with threads splitting the rows: the shape for one or a few queries.

    The rows are cut into `parts` ranges; each keeps its own top-k per query,
    and the ranges are folded into best_v/best_i in row order, so ties still go
    to the lower row.
    """
    nq, nr = S.shape
    k = best_v.shape[1]
    use_mask = mask.shape[0] > 0
    loc_v = np.empty((parts, nq, k), np.float32)
    loc_i = np.empty((parts, nq, k), np.int64)
    step = (nr + parts - 1) // parts
    for p in prange(parts):
        lv = loc_v[p]
        li = loc_i[p]
        for i in range(nq):
            for t in range(k):
                lv[i, t] = best_v[i, k - 1]      # nothing at or below the current k-th best can enter
                li[i, t] = -1
        lo = p * step
        hi = min(nr, lo + step)
        for i in range(nq):
            thr = lv[i, k - 1]
            for j in range(lo, hi):
                if use_mask and mask[j] == 0:
                    continue
                v = S[i, j] * scale[j] + bias[j]
                if v > thr:
                    _push(lv, li, i, v, start + j)
                    thr = lv[i, k - 1]
    for p in range(parts):
        for i in range(nq):
            for t in range(k):
                if loc_i[p, i, t] < 0:
                    break
                v = loc_v[p, i, t]
                if v > best_v[i, k - 1]:
                    _push(best_v, best_i, i, v, loc_i[p, i, t])


@njit(cache=True, nogil=True, fastmath=True)
def scan_topk(data, Q, scale, bias, mask, start, best_v, best_i):
    """Score float32 rows against a few queries and fold them into each query's sorted top-k.

    One pass over the rows with the dot products fused in, on one thread: for
    one or a few queries on a small table this reads each row once and wakes
    no thread pool.  Keys, mask and ties follow merge_block_topk.
    """
    nr = data.shape[0]
    nq = Q.shape[0]
    k = best_v.shape[1]
    use_mask = mask.shape[0] > 0
    for j in range(nr):
        if use_mask and mask[j] == 0:
            continue
        for i in range(nq):
            v = _dot(data, j, Q, i) * scale[j] + bias[j]
            if v > best_v[i, k - 1]:
                _push(best_v, best_i, i, v, start + j)


def threads() -> int:
    """Return how many threads the compiled kernels run on."""
    return numba.get_num_threads()
