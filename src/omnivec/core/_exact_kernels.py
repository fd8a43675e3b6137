"""Compiled kernels of exact search: scoring stored dtypes that BLAS cannot read, and running top-k selection."""

from __future__ import annotations

import numpy as np
import numba
from numba import njit, prange

from .._jit import variants


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
    """Return <data[r], Q[i]> accumulated in float32 (float32 or int8 rows)."""
    acc = np.float32(0.0)
    for t in range(data.shape[1]):
        acc += np.float32(data[r, t]) * Q[i, t]
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


@njit(cache=True, nogil=True, parallel=True, fastmath=True)
def scan_split_topk(data, Q, scale, bias, mask, start, parts, best_v, best_i):
    """scan_topk with threads splitting the rows, each keeping its own top-k, merged in row order.

    The dot products are fused into the scan, so each row is read from memory
    once and no block of scores is written: the shape for a few queries on a
    large table, where the scan is bound by memory bandwidth.  Rows are
    float32, or int8 with the scale folded into the queries.
    """
    nr = data.shape[0]
    nq = Q.shape[0]
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
                lv[i, t] = best_v[i, k - 1]
                li[i, t] = -1
        lo = p * step
        hi = min(nr, lo + step)
        for j in range(lo, hi):
            if use_mask and mask[j] == 0:
                continue
            for i in range(nq):
                v = _dot(data, j, Q, i) * scale[j] + bias[j]
                if v > lv[i, k - 1]:
                    _push(lv, li, i, v, start + j)
    for p in range(parts):
        for i in range(nq):
            for t in range(k):
                if loc_i[p, i, t] < 0:
                    break
                v = loc_v[p, i, t]
                if v > best_v[i, k - 1]:
                    _push(best_v, best_i, i, v, loc_i[p, i, t])


_F16_MAGIC = np.float32(2.0 ** 112)


@njit(inline="always")
def _widen_f16_row(bits, j, buf, ubuf):
    """Write row j of float16 values (given as their uint16 bits) into the float32 buf.

    Branch-free: the exponent and mantissa bits shifted into float32 place and
    scaled by 2^112 give the value for normal and subnormal halves alike.
    """
    for t in range(bits.shape[1]):
        ubuf[t] = (np.uint32(bits[j, t]) & np.uint32(0x7FFF)) << np.uint32(13)
    for t in range(bits.shape[1]):
        sign = np.float32(1.0) - np.float32(2.0) * np.float32(bits[j, t] >> 15)
        buf[t] = buf[t] * _F16_MAGIC * sign


@njit(cache=True, nogil=True, parallel=True, fastmath=True)
def scan_split_topk_f16(bits, Q, scale, bias, mask, start, parts, best_v, best_i):
    """scan_split_topk for float16 rows given as their uint16 bits: each row widened in registers."""
    nr, d = bits.shape
    nq = Q.shape[0]
    k = best_v.shape[1]
    use_mask = mask.shape[0] > 0
    loc_v = np.empty((parts, nq, k), np.float32)
    loc_i = np.empty((parts, nq, k), np.int64)
    step = (nr + parts - 1) // parts
    for p in prange(parts):
        lv = loc_v[p]
        li = loc_i[p]
        ubuf = np.empty(d, np.uint32)
        buf = ubuf.view(np.float32)
        for i in range(nq):
            for t in range(k):
                lv[i, t] = best_v[i, k - 1]
                li[i, t] = -1
        lo = p * step
        hi = min(nr, lo + step)
        for j in range(lo, hi):
            if use_mask and mask[j] == 0:
                continue
            _widen_f16_row(bits, j, buf, ubuf)
            for i in range(nq):
                acc = np.float32(0.0)
                for t in range(d):
                    acc += buf[t] * Q[i, t]
                v = acc * scale[j] + bias[j]
                if v > lv[i, k - 1]:
                    _push(lv, li, i, v, start + j)
    for p in range(parts):
        for i in range(nq):
            for t in range(k):
                if loc_i[p, i, t] < 0:
                    break
                v = loc_v[p, i, t]
                if v > best_v[i, k - 1]:
                    _push(best_v, best_i, i, v, loc_i[p, i, t])


# The widening kernels run on one thread: they alternate with BLAS calls, whose
# threads still spin for a while after each call, so a thread pool here would
# fight them for the cores.

@njit(cache=True, nogil=True, fastmath=True)
def widen_f16(bits, out):
    """out = the float16 rows (given as their uint16 bits) as float32."""
    n, d = bits.shape
    for j in range(n):
        ubuf = out[j].view(np.uint32)
        _widen_f16_row(bits, j, out[j], ubuf)


@njit(cache=True, nogil=True)
def widen_int8(data, out):
    """out = the int8 rows as float32."""
    n, d = data.shape
    for j in range(n):
        for t in range(d):
            out[j, t] = np.float32(data[j, t])
