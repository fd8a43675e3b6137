"""Compiled kernels of the Poincaré learner and the hierarchy evaluation.

Plain arrays in and out: the vectors (float64, rows x dim, every row inside
the unit ball), the relations (child, parent), each node's related nodes in
CSR form (sorted, so membership is a binary search), the alias table negatives
are drawn from, and a random state passed as a seed.  `train_chunk` releases
the GIL, so threads share the vectors Hogwild-style; one thread and a seed
give the same vectors bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import alias_segment

@njit(cache=True, nogil=True)
def _next(state):
    """Advance a splitmix64 state (a 1-element uint64 array) and return 64 random bits."""
    state[0] = state[0] + np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _uniform(state):
    """Return a float64 in [0, 1)."""
    return (_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def alias_table(weights):
    """Return (prob, alias) of Walker's alias method for drawing i with probability ∝ weights[i]."""
    n = len(weights)
    prob = np.ones(n, np.float64)
    alias = np.arange(n).astype(np.int64)
    alias_segment(weights, n, prob, alias, np.empty(n, np.float64), np.empty(n, np.int64), np.empty(n, np.int64))
    return prob, alias


@njit(cache=True, nogil=True)
def _draw(state, prob, alias):
    n = len(prob)
    x = _uniform(state) * n
    i = min(np.int64(x), n - 1)
    # the fraction left over decides between the column and its alias
    if x - i < prob[i]:
        return i
    return alias[i]


@njit(cache=True, nogil=True)
def _related(ptr, idx, u, w):
    """Return True when w is among u's related nodes (idx[ptr[u]:ptr[u+1]], sorted)."""
    lo = ptr[u]
    hi = ptr[u + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        x = idx[mid]
        if x == w:
            return True
        if x < w:
            lo = mid + 1
        else:
            hi = mid
    return False


@njit(cache=True, nogil=True)
def pair_gradients(xu, xw, gu, gw):
    """Write d(u, w)'s gradients in u and w into gu, gw; return the distance.

    d = arccosh(g), g = 1 + 2|u - w|^2 / ((1 - |u|^2)(1 - |w|^2)); where
    u = w the gradient is 0 (the distance's minimum).
    """
    dim = len(xu)
    sq = 0.0
    nu = 0.0
    nw = 0.0
    for k in range(dim):
        d = xu[k] - xw[k]
        sq += d * d
        nu += xu[k] * xu[k]
        nw += xw[k] * xw[k]
    a = 1.0 - nu
    b = 1.0 - nw
    g = 1.0 + 2.0 * sq / (a * b)
    if g < 1.0:
        g = 1.0
    root = np.sqrt(g * g - 1.0)
    if root <= 0.0:
        for k in range(dim):
            gu[k] = 0.0
            gw[k] = 0.0
        return 0.0
    c = 4.0 / (a * b * root)
    cu = (sq + a) / a
    cw = (sq + b) / b
    for k in range(dim):
        gu[k] = c * (cu * xu[k] - xw[k])
        gw[k] = c * (cw * xw[k] - xu[k])
    return np.log(g + root)       # arccosh(g), reusing the root


@njit(cache=True, nogil=True)
def _project(X, r, bound):
    nr = 0.0
    for k in range(X.shape[1]):
        nr += X[r, k] * X[r, k]
    nr = np.sqrt(nr)
    if nr >= bound:
        f = bound / nr
        for k in range(X.shape[1]):
            X[r, k] *= f


@njit(cache=True, nogil=True)
def train_chunk(X, child, parent, order, start, stop, ptr, idx, prob, alias, negatives, lr, eps,
                reg, batch, seed, stats, halt):
    """Train on relations order[start:stop] in batches of `batch`; return nothing.

    For each relation (u, v): `negatives` distinct nodes w drawn from the
    alias table, none of them u, v or related to u (rejection; a node with too
    few candidates gets fewer, counted in stats[2]); loss = d(u, v) + log sum
    over {v} and the negatives of exp(-d(u, w)); Riemannian SGD: each touched
    row moves by -lr * (1 - |x|^2)^2 / 4 * (its Euclidean gradient), the
    gradients of a batch computed from the vectors at its start and applied
    together, then rows with |x| >= 1 - eps are pulled back to 1 - eps.
    stats: [loss sum, relations, missing negatives].  `halt[0]` != 0 stops
    between batches.
    """
    dim = X.shape[1]
    state = np.empty(1, np.uint64)
    state[0] = seed
    width = 1 + negatives
    rows = np.empty(batch * (1 + width), np.int64)
    upd = np.zeros((batch * (1 + width), dim), np.float64)
    cand = np.empty(width, np.int64)
    dist = np.empty(width, np.float64)
    gus = np.empty((width, dim), np.float64)
    gws = np.empty((width, dim), np.float64)
    gu = np.empty(dim, np.float64)
    max_tries = 50 * negatives + 100
    bound = 1.0 - eps
    t = start
    while t < stop:
        if halt[0] != 0:
            return
        end = min(stop, t + batch)
        m = 0
        for j in range(t, end):
            r = order[j]
            u = child[r]
            v = parent[r]
            cand[0] = v
            nc = 1
            tries = 0
            while nc < width and tries < max_tries:
                tries += 1
                w = _draw(state, prob, alias)
                if w == u or w == v or _related(ptr, idx, u, w):
                    continue
                dup = False
                for i in range(1, nc):
                    if cand[i] == w:
                        dup = True
                        break
                if dup:
                    continue
                cand[nc] = w
                nc += 1
            stats[2] += width - nc
            best = np.inf
            for i in range(nc):
                dist[i] = pair_gradients(X[u], X[cand[i]], gus[i], gws[i])
                if dist[i] < best:
                    best = dist[i]
            z = 0.0
            for i in range(nc):
                dist[i] = np.exp(best - dist[i])      # from here on: the unnormalised softmax weight
                z += dist[i]
            stats[0] += -np.log(dist[0] / z)
            stats[1] += 1.0
            # dL/d(distance i) = [i == 0] - softmax(-d)_i
            for k in range(dim):
                gu[k] = 0.0
            nu = 0.0
            for k in range(dim):
                nu += X[u, k] * X[u, k]
            fu = lr * (1.0 - nu) * (1.0 - nu) / 4.0
            for i in range(nc):
                coef = -dist[i] / z
                if i == 0:
                    coef += 1.0
                w = cand[i]
                nw = 0.0
                for k in range(dim):
                    nw += X[w, k] * X[w, k]
                fw = lr * (1.0 - nw) * (1.0 - nw) / 4.0
                for k in range(dim):
                    gu[k] += coef * gus[i, k]
                    g = coef * gws[i, k]
                    if i == 0:
                        g += 2.0 * reg * X[w, k]
                    upd[m, k] = -fw * g
                rows[m] = w
                m += 1
            for k in range(dim):
                upd[m, k] = -fu * gu[k]
            rows[m] = u
            m += 1
        for i in range(m):
            r = rows[i]
            for k in range(dim):
                X[r, k] += upd[i, k]
        for i in range(m):
            _project(X, rows[i], bound)
        t = end


@njit(cache=True, nogil=True, parallel=True)
def rank_nodes(X, nodes, pos_ptr, pos_idx, known_ptr, known_idx, include_self, ranks, offsets, aps):
    """Ranks of each node's positive nodes among its non-neighbours, and its average precision.

    For node u = nodes[i] and each positive v (pos_idx[pos_ptr[u]:pos_ptr[u+1]]):
    rank = 1 + the number of nodes w strictly closer to u than v that are
    neither positives of u, nor known relations of u (known_idx, for link
    prediction), nor u itself unless `include_self` (gensim counts the node
    itself, at distance 0, as a closer non-neighbour); written to
    ranks[offsets[i] + j].  aps[i] is the average precision of u's ranking,
    gensim's formula: positives sorted by rank, precision (j+1) / (rank_j + j).
    Distances are compared through 2|u - w|^2 / ((1 - |u|^2)(1 - |w|^2)),
    which arccosh(1 + .) keeps in order; float64 throughout.
    """
    n = X.shape[0]
    dim = X.shape[1]
    nn = len(nodes)
    inv = np.empty(n, np.float64)
    for r in range(n):
        s = 0.0
        for k in range(dim):
            s += X[r, k] * X[r, k]
        inv[r] = 1.0 / max(1.0 - s, 1e-300)
    blocks = min(nn, 256)
    for b in prange(blocks):
        mark = np.zeros(n, np.bool_)
        lo_i = b * nn // blocks
        hi_i = (b + 1) * nn // blocks
        for i in range(lo_i, hi_i):
            u = nodes[i]
            p0 = pos_ptr[u]
            m = pos_ptr[u + 1] - p0
            if m == 0:
                aps[i] = np.nan
                continue
            pv = np.empty(m, np.float64)
            for j in range(m):
                w = pos_idx[p0 + j]
                sq = 0.0
                for k in range(dim):
                    t = X[u, k] - X[w, k]
                    sq += t * t
                pv[j] = sq * inv[w]
                mark[w] = True
            for j in range(known_ptr[u], known_ptr[u + 1]):
                mark[known_idx[j]] = True
            if not include_self:
                mark[u] = True
            order = np.argsort(pv, kind="mergesort")
            ps = pv[order]
            hist = np.zeros(m + 1, np.int64)
            for r in range(n):
                if mark[r]:
                    continue
                sq = 0.0
                for k in range(dim):
                    t = X[u, k] - X[r, k]
                    sq += t * t
                val = sq * inv[r]
                # strictly closer than the positives whose value exceeds val
                hist[np.searchsorted(ps, val, side="right")] += 1
            closer = 0
            ap = 0.0
            for j in range(m):
                closer += hist[j]
                ranks[offsets[i] + order[j]] = 1 + closer
                ap += (j + 1.0) / (1.0 + closer + j)
            aps[i] = ap / m
            for j in range(m):
                mark[pos_idx[p0 + j]] = False
            for j in range(known_ptr[u], known_ptr[u + 1]):
                mark[known_idx[j]] = False
            mark[u] = False
