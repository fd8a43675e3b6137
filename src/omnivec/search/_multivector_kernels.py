"""Compiled late-interaction re-ranking: MaxSim of each query against its candidate documents.

Each candidate's vectors are read in place from the tokens table (no gathered
copy, no per-candidate matrix product call): every document vector is loaded
once and scored against four query vectors at a time, the running maximum
per query vector kept in a small array.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._jit import variants


def _maxsim_rescore(tokens, start, count, Q, qoff, cand, out):
    """out[i, j] = sum over query i's vectors of the max dot product with document cand[i, j]'s vectors.

    tokens: (T x d) float32; start/count: int64 per document; Q: (query
    vectors x d) float32, query i owning rows qoff[i]:qoff[i+1]; cand
    (queries x c) int64 document rows, < 0 skipped (out left untouched).
    """
    nq, c = cand.shape
    d = tokens.shape[1]
    for i in prange(nq):
        a = qoff[i]
        m = qoff[i + 1] - a
        best = np.empty(m, np.float32)
        for j in range(c):
            doc = cand[i, j]
            if doc < 0:
                continue
            for u in range(m):
                best[u] = -np.inf
            s = start[doc]
            for r in range(s, s + count[doc]):
                u = 0
                while u + 4 <= m:
                    a0 = np.float32(0.0)
                    a1 = np.float32(0.0)
                    a2 = np.float32(0.0)
                    a3 = np.float32(0.0)
                    for t in range(d):
                        x = tokens[r, t]
                        a0 += x * Q[a + u, t]
                        a1 += x * Q[a + u + 1, t]
                        a2 += x * Q[a + u + 2, t]
                        a3 += x * Q[a + u + 3, t]
                    if a0 > best[u]:
                        best[u] = a0
                    if a1 > best[u + 1]:
                        best[u + 1] = a1
                    if a2 > best[u + 2]:
                        best[u + 2] = a2
                    if a3 > best[u + 3]:
                        best[u + 3] = a3
                    u += 4
                while u < m:
                    acc = np.float32(0.0)
                    for t in range(d):
                        acc += tokens[r, t] * Q[a + u, t]
                    if acc > best[u]:
                        best[u] = acc
                    u += 1
            total = np.float32(0.0)
            for u in range(m):
                total += best[u]
            out[i, j] = total


maxsim_rescore, maxsim_rescore_serial = variants(_maxsim_rescore, fastmath=True)
