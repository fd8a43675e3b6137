"""Compiled BM25 retrieval: posting lists summed into per-query scores, then a partial top-k.

The index is term-major (CSC): the documents of term t are
docs[indptr[t]:indptr[t + 1]] (increasing) with their precomputed float32
scores.  A query's scores are summed in float32 in the order of its terms
(a repeated term counts again), as bm25s sums them; only the documents a
query touches are selected from, so the cost is that of its postings.
"""

from __future__ import annotations

import numba
from numba import njit
import numpy as np
from numba import prange

from .._jit import variants


def _select(acc, touched, m, out_ids, out_scores, q):
    """Write the k best of the m touched documents of query q (k = out_ids.shape[1]); return how many.

    Best first: score descending, the lower row first on equal scores.  A
    running list of the k best so far, in order; most documents fail the one
    comparison with its last entry, so the cost is about one read per document.
    """
    k = out_ids.shape[1]
    n = 0
    for i in range(m):
        d = touched[i]
        v = acc[d]
        if n == k:
            last_v = out_scores[q, k - 1]
            if v < last_v or (v == last_v and d > out_ids[q, k - 1]):
                continue
            j = k - 1
        else:
            j = n
            n += 1
        # shift worse entries down, then place (v, d)
        while j > 0:
            pv = out_scores[q, j - 1]
            if pv > v or (pv == v and out_ids[q, j - 1] < d):
                break
            out_scores[q, j] = pv
            out_ids[q, j] = out_ids[q, j - 1]
            j -= 1
        out_scores[q, j] = v
        out_ids[q, j] = d
    return n


def _bm25_topk(indptr, docs, scores, qptr, qterms, n_docs, blocks, out_ids, out_scores, out_n):
    """Fill out_ids/out_scores (queries x k, pre-set to -1/-inf) and out_n (results per query).

    Queries are split into `blocks` blocks (a few per thread); each owns a dense
    accumulator of n_docs float32 (cleared document by document after each
    query) and the list of documents its query touched.
    """
    nq = len(qptr) - 1
    blocks = max(1, min(nq, blocks))
    for blk in prange(blocks):
        start = nq * blk // blocks
        end = nq * (blk + 1) // blocks
        acc = np.zeros(n_docs, np.float32)
        touched = np.empty(n_docs, np.int32)
        for q in range(start, end):
            m = 0
            for j in range(qptr[q], qptr[q + 1]):
                t = qterms[j]
                for p in range(indptr[t], indptr[t + 1]):
                    d = docs[p]
                    if acc[d] == 0:
                        touched[m] = d
                        m += 1
                    acc[d] += scores[p]
            out_n[q] = _select(acc, touched, m, out_ids, out_scores, q)
            for i in range(m):
                acc[touched[i]] = 0


_select = njit(cache=True, nogil=True)(_select)
bm25_topk, bm25_topk_serial = variants(_bm25_topk)


def threads() -> int:
    """Return how many threads the parallel kernel runs on."""
    return numba.get_num_threads()

