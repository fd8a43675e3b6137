"""Compiled re-ranking for the approximate indexes: candidates re-scored exactly in one pass.

The running top-k they fold into is exact search's (omnivec.core._exact_kernels).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import variants
from ..core._exact_kernels import _dot, _push


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
