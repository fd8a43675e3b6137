"""Compiled top-k selection for the flat index: one pass over a block of scores per query.

numpy's argpartition over a (rows x queries) block costs more than the matrix
product that made it when dims are few; a running top-k per query rejects
almost every score with one comparison against the current k-th best.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import variants


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
    entry is 0 are skipped (an empty mask lets every row through).  best_v and
    best_i (queries x k) hold the best keys so far, descending, -inf/-1 when
    empty; ties keep the lower row, as rows arrive in ascending order.
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
    one or a few queries this reads each row once and wakes no thread pool.
    Keys, mask and ties follow merge_block_topk.
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


def _gather_dots(data, Q, ids, out):
    """out[i, j] = <data[ids[i, j]], Q[i]> for float32 rows; ids < 0 are left untouched.

    Re-ranking reads each candidate row once, in place: no gathered copy of
    the candidates and no per-query matrix product.
    """
    nq, c = ids.shape
    for i in prange(nq):
        for j in range(c):
            r = ids[i, j]
            if r >= 0:
                out[i, j] = _dot(data, r, Q, i)


gather_dots, gather_dots_serial = variants(_gather_dots, fastmath=True)


def _refine_topk(data, norms, Q, ids, metric, out_ids, out_scores):
    """Re-rank each query's candidate rows by their exact score; keep the best k (k = out_ids.shape[1]).

    metric: 0 cosine, 1 dot, 2 euclidean (as -distance).  Candidates < 0 are
    skipped; out_ids/out_scores end -1/-inf where fewer than k are valid.
    Equal scores keep candidate order, as a stable sort would.  Scoring and
    selecting in one pass costs one read of each candidate row and no
    (queries x candidates) score matrix.
    """
    nq, c = ids.shape
    k = out_ids.shape[1]
    for i in prange(nq):
        q2 = _dot(Q, i, Q, i)
        qn = np.sqrt(q2)
        for j in range(k):
            out_ids[i, j] = -1
            out_scores[i, j] = -np.inf
        for j in range(c):
            r = ids[i, j]
            if r < 0:
                continue
            acc = _dot(data, r, Q, i)
            if metric == 0:
                den = norms[r] * qn
                v = acc / den if den > 0 else np.float32(0.0)
            elif metric == 1:
                v = acc
            else:
                v = -np.sqrt(max(norms[r] * norms[r] - 2.0 * acc + q2, 0.0))
            if v > out_scores[i, k - 1]:
                _push(out_scores, out_ids, i, v, r)


refine_topk, refine_topk_serial = variants(_refine_topk, fastmath=True)
