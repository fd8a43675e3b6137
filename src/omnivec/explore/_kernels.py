"""Compiled loops of the explorer: representative rows of contiguous groups.

Kernels take plain arrays: `order` lists point ids grouped so that each group
(a quadtree tile, a cluster) is one contiguous range `starts[g]:starts[g+1]`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def representatives(order, starts, rank, unit, centroids, min_cand, n_cand, m, out):
    """Fill out[g, :m] with up to m point ids of group g, -1 padded.

    The candidates are the group's best-ranked points (lowest `rank`: most
    frequent), between `min_cand` and `n_cand` of them (one in 32 of the
    group's points); of those, the ones whose unit vector is nearest the
    group's centroid come first, so a label is both common and typical: a big
    tile looks past its handful of most frequent (and least specific) keys.
    """
    n_groups = len(starts) - 1
    d = unit.shape[1]
    cand = np.empty(n_cand, np.int64)
    cand_rank = np.empty(n_cand, np.int64)
    sims = np.empty(n_cand, np.float32)
    for g in range(n_groups):
        s = starts[g]
        e = starts[g + 1]
        c = 0
        cap = min(n_cand, max(min_cand, (e - s) // 32))
        # Keep the n_cand lowest ranks by insertion into a small sorted buffer.
        for j in range(s, e):
            p = order[j]
            r = rank[p]
            if c < cap:
                pos = c
                c += 1
            elif r < cand_rank[c - 1]:
                pos = c - 1
            else:
                continue
            while pos > 0 and cand_rank[pos - 1] > r:
                cand_rank[pos] = cand_rank[pos - 1]
                cand[pos] = cand[pos - 1]
                pos -= 1
            cand_rank[pos] = r
            cand[pos] = p
        for i in range(c):
            acc = 0.0
            for t in range(d):
                acc += unit[cand[i], t] * centroids[g, t]
            sims[i] = acc
        for i in range(m):
            if i >= c:
                out[g, i] = -1
                continue
            best = -1
            for j in range(c):
                if sims[j] > -np.inf and (best < 0 or sims[j] > sims[best]):
                    best = j
            out[g, i] = cand[best]
            sims[best] = -np.inf
