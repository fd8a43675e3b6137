"""Compiled kernels for graph learners: random walks (first and second order) and k-cores.

Graphs arrive as CSR arrays (`indptr` int64, `indices` int32 sorted within
each row, `weights` float32 or an empty array when unweighted).  Random
numbers come from the word trainer's xorshift64* state seeded per chunk, so
the walks of a chunk of start nodes depend only on (seed, chunk).

Walks of node2vec (Grover and Leskovec 2016) move from v (reached from t) to
a neighbour x with probability ∝ alpha(t, x) * w(v, x), alpha = 1/p when
x == t, 1 when x is an out-neighbour of t, 1/q otherwise.  Two samplers:

- precomputed (mode 1): an alias table per edge (t -> v) over v's
  neighbours, sum over edges of deg(v) entries: O(1) per step, memory
  ∝ sum of squared degrees, so only for graphs where that is small;
- rejection (mode 2): propose x ∝ w(v, x) (a per-node alias table, or
  uniform when unweighted), accept with probability alpha / max(alpha); the
  neighbour test is a binary search in t's sorted row.  Memory O(E).

Mode 0 is the first-order walk of DeepWalk (p = q = 1).  A walk stops early
at a node without out-edges (or whose out-edges all weigh 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..._jit import prefetch_row
from .._kernels import SIG_SIZE, _below, _negative, _next, _sig_index, _subsample, splitmix64
from .._kernels import alias_segment as _alias_segment

ONE_32 = np.float32(2.3283064e-10)


@njit(cache=True, nogil=True, inline="always")
def _unit(r):
    # uniform float32 in [0, 1) from the low 32 bits of a draw
    return np.float32(np.uint32(r & np.uint64(0xFFFFFFFF))) * ONE_32


@njit(cache=True, nogil=True)
def _alias_scratch(indptr):
    """Return the work arrays (weights, scaled, small, large) of an alias table as long as the largest degree."""
    dmax = 1
    for v in range(indptr.shape[0] - 1):
        d = indptr[v + 1] - indptr[v]
        if d > dmax:
            dmax = d
    return (np.empty(dmax, np.float64), np.empty(dmax, np.float64), np.empty(dmax, np.int64),
            np.empty(dmax, np.int64))


@njit(cache=True, nogil=True)
def node_alias(indptr, weights):
    """Return (prob float32[E], alias int32[E], total float64[n]): per-node alias tables of the out-edge weights.

    Node v's table is entries indptr[v]:indptr[v+1] (alias indices local to the
    row); total[v] is its out-weight (0: the walk stops there).
    """
    n = indptr.shape[0] - 1
    m = weights.shape[0]
    prob = np.ones(m, np.float32)
    alias = np.zeros(m, np.int32)
    total = np.zeros(n, np.float64)
    w, scaled, small, large = _alias_scratch(indptr)
    for v in range(n):
        a = indptr[v]
        d = indptr[v + 1] - a
        s = 0.0
        for k in range(d):
            w[k] = weights[a + k]
            s += w[k]
        total[v] = s
        if d > 0 and s > 0.0:
            _alias_segment(w, d, prob[a:a + d], alias[a:a + d], scaled, small, large)
    return prob, alias, total


@njit(cache=True, nogil=True)
def edge_alias_offsets(indptr, indices):
    """Return eoff int64[E+1]: edge e = (t -> v) owns entries eoff[e]:eoff[e+1] (deg(v) of them)."""
    m = indices.shape[0]
    eoff = np.zeros(m + 1, np.int64)
    for e in range(m):
        v = indices[e]
        eoff[e + 1] = eoff[e] + indptr[v + 1] - indptr[v]
    return eoff


@njit(cache=True, nogil=True)
def edge_alias(indptr, indices, weights, weighted, inv_p, inv_q, eoff):
    """Return (prob float32[T], alias int32[T]): node2vec's transition table of every edge (t -> v)."""
    n = indptr.shape[0] - 1
    size = eoff[eoff.shape[0] - 1]
    prob = np.ones(size, np.float32)
    alias = np.zeros(size, np.int32)
    w, scaled, small, large = _alias_scratch(indptr)
    for t in range(n):
        ta = indptr[t]
        tb = indptr[t + 1]
        for e in range(ta, tb):
            v = indices[e]
            va = indptr[v]
            d = indptr[v + 1] - va
            if d == 0:
                continue
            j = ta  # merge walk over t's sorted row
            s = 0.0
            for k in range(d):
                x = indices[va + k]
                while j < tb and indices[j] < x:
                    j += 1
                if x == t:
                    a = inv_p
                elif j < tb and indices[j] == x:
                    a = 1.0
                else:
                    a = inv_q
                wk = a * (weights[va + k] if weighted else 1.0)
                w[k] = wk
                s += wk
            if s > 0.0:
                o = eoff[e]
                _alias_segment(w, d, prob[o:o + d], alias[o:o + d], scaled, small, large)
    return prob, alias


@njit(cache=True, nogil=True, inline="always")
def _first_order(state, indptr, v, weighted, nprob, nalias, total):
    # local index of a neighbour of v drawn ∝ weight, or -1 when v has nowhere to go
    a = indptr[v]
    d = indptr[v + 1] - a
    if d == 0:
        return -1
    r = _next(state)
    j = _below(r, d)
    if weighted:
        if total[v] <= 0.0:
            return -1
        if _unit(r) >= nprob[a + j]:
            j = nalias[a + j]
    return j


@njit(cache=True, nogil=True, inline="always")
def _is_neighbor(indptr, indices, t, x):
    lo = indptr[t]
    hi = indptr[t + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        y = indices[mid]
        if y < x:
            lo = mid + 1
        elif y > x:
            hi = mid
        else:
            return True
    return False


@njit(cache=True, nogil=True)
def walk_chunk(indptr, indices, weighted, nprob, nalias, total, mode, inv_p, inv_q, eoff, eprob,
               ealias, starts, walk_length, seed, tokens, ends, visits, stats):
    """Return the number of tokens written; one walk from each of `starts` into tokens/ends.

    tokens[ends[i-1]:ends[i]] is the walk from starts[i] (at most walk_length
    nodes).  visits[x] counts the nodes written.  stats gets (walks, nodes,
    walks stopped early at a dead end, proposals drawn by rejection).
    """
    state = np.empty(1, np.uint64)
    state[0] = splitmix64(np.uint64(seed)) | np.uint64(1)
    amax = max(inv_p, 1.0, inv_q)
    pos = 0
    stopped = 0
    proposals = 0
    for i in range(starts.shape[0]):
        v = np.int64(starts[i])
        tokens[pos] = v
        visits[v] += 1
        pos += 1
        t = np.int64(-1)
        e = np.int64(-1)
        for step in range(1, walk_length):
            if t < 0 or mode == 0:
                j = _first_order(state, indptr, v, weighted, nprob, nalias, total)
                if j < 0:
                    stopped += 1
                    break
            elif mode == 1:
                a = indptr[v]
                d = indptr[v + 1] - a
                if d == 0 or (weighted and total[v] <= 0.0):
                    stopped += 1
                    break
                o = eoff[e]
                r = _next(state)
                j = _below(r, d)
                if _unit(r) >= eprob[o + j]:
                    j = ealias[o + j]
            else:
                while True:
                    j = _first_order(state, indptr, v, weighted, nprob, nalias, total)
                    if j < 0:
                        break
                    proposals += 1
                    x = np.int64(indices[indptr[v] + j])
                    if x == t:
                        a = inv_p
                    elif _is_neighbor(indptr, indices, t, x):
                        a = 1.0
                    else:
                        a = inv_q
                    if a >= amax or _unit(_next(state)) * amax < a:
                        break
                if j < 0:
                    stopped += 1
                    break
            e = indptr[v] + j
            t = v
            v = np.int64(indices[e])
            tokens[pos] = v
            visits[v] += 1
            pos += 1
        ends[i] = pos
    stats[0] += starts.shape[0]
    stats[1] += pos
    stats[2] += stopped
    stats[3] += proposals
    return pos


@njit(cache=True, nogil=True)
def core_numbers(indptr, indices):
    """Return int32[n] core numbers of an undirected CSR graph (Batagelj and Zaversnik, O(E)).

    Self-loops are ignored; each stored edge counts once per direction, so the
    rows must hold both directions.
    """
    n = indptr.shape[0] - 1
    deg = np.zeros(n, np.int64)
    md = 0
    for v in range(n):
        c = 0
        for k in range(indptr[v], indptr[v + 1]):
            if indices[k] != v:
                c += 1
        deg[v] = c
        if c > md:
            md = c
    bins = np.zeros(md + 2, np.int64)
    for v in range(n):
        bins[deg[v]] += 1
    start = 0
    for d in range(md + 1):
        num = bins[d]
        bins[d] = start
        start += num
    pos = np.empty(n, np.int64)
    vert = np.empty(n, np.int64)
    for v in range(n):
        pos[v] = bins[deg[v]]
        vert[pos[v]] = v
        bins[deg[v]] += 1
    for d in range(md, 0, -1):
        bins[d] = bins[d - 1]
    bins[0] = 0
    for i in range(n):
        v = vert[i]
        for k in range(indptr[v], indptr[v + 1]):
            u = indices[k]
            if u == v:
                continue
            if deg[u] > deg[v]:
                du = deg[u]
                pu = pos[u]
                pw = bins[du]
                w = vert[pw]
                if u != w:
                    pos[u] = pw
                    vert[pu] = w
                    pos[w] = pu
                    vert[pw] = u
                bins[du] += 1
                deg[u] -= 1
    return deg.astype(np.int32)


@njit(cache=True, nogil=True)
def propagate(indptr, indices, order, done, vectors):
    """Return the number of nodes given a vector; fill the rest from their embedded neighbours.

    Nodes are visited in `order` (higher core numbers first); a node whose
    `done` flag is 0 becomes the mean of its neighbours already done, and
    counts as done from then on.  Passes repeat until one adds nothing, so a
    node reached only through another peripheral node is filled too.
    """
    dim = vectors.shape[1]
    acc = np.empty(dim, np.float64)
    filled = 0
    changed = True
    while changed:
        changed = False
        for i in range(order.shape[0]):
            v = order[i]
            if done[v]:
                continue
            for d in range(dim):
                acc[d] = 0.0
            c = 0
            for k in range(indptr[v], indptr[v + 1]):
                u = indices[k]
                if u != v and done[u]:
                    row = vectors[u]
                    for d in range(dim):
                        acc[d] += row[d]
                    c += 1
            if c > 0:
                for d in range(dim):
                    vectors[v, d] = acc[d] / c
                done[v] = 1
                filled += 1
                changed = True
    return filled


@njit(cache=True, nogil=True, fastmath=True)
def train_walks_batched(win, wout, tokens, ends, n_walks, keep, negative, window, alias_p, alias_i, lr0, lr1,
                        pos0, total, seed, max_len, sig, nls, stats, stop):
    """Return nothing; skip-gram over walks [0, n_walks), each window as one small matrix product.

    For the centre node c with contexts x_1..x_m (its reduced window), the
    inputs are the contexts' rows win[x_a] and the outputs c and `negative`
    noise nodes drawn once per window (Ji et al. 2016, "Parallelizing
    Word2Vec in Shared and Distributed Memory"): every (context, output) pair
    gets its own logistic gradient, as in word2vec's skip-gram; the scores
    against one output are computed before that output moves, the contexts'
    rows move once at the end of the window, so each output row is read once
    per window instead of once per pair and the contexts' rows stay in cache.
    """
    dim = win.shape[1]
    state = np.empty(1, np.uint64)
    state[0] = splitmix64(np.uint64(seed)) | np.uint64(1)
    buf = np.empty(max_len, np.int32)
    span = 2 * window
    ctx = np.empty(span, np.int64)
    outs = np.empty(negative + 1, np.int64)
    G = np.empty(span, np.float32)
    dIn = np.empty((span, dim), np.float32)
    loss = 0.0
    npred = 0
    seen = 0
    start = 0
    for s in range(n_walks):
        if stop[0] != 0:
            break
        end = ends[s]
        progress = (pos0 + seen) / total
        if progress > 1.0:
            progress = 1.0
        lr = np.float32(lr0 - (lr0 - lr1) * progress)
        n = _subsample(tokens, start, end, keep, state, buf)
        seen += end - start
        start = end
        for i in range(n):
            b = np.int64(_below(_next(state), window))
            lo = i - window + b
            if lo < 0:
                lo = 0
            hi = i + window - b + 1
            if hi > n:
                hi = n
            m = 0
            for j in range(lo, hi):
                if j != i:
                    ctx[m] = buf[j]
                    m += 1
            if m == 0:
                continue
            c = buf[i]
            outs[0] = c
            no = 1
            for k in range(negative):
                t = _negative(state, alias_p, alias_i)
                if t != c:
                    outs[no] = t
                    no += 1
            for a in range(m):
                for d in range(dim):
                    dIn[a, d] = 0.0
            for o in range(no):
                row = wout[outs[o]]
                if o + 1 < no:
                    prefetch_row(wout, outs[o + 1])
                # every context's score against this output, from the weights as they are
                for a in range(m):
                    h = win[ctx[a]]
                    f = np.float32(0.0)
                    for d in range(dim):
                        f += h[d] * row[d]
                    kk = _sig_index(f)
                    if o == 0:
                        G[a] = (np.float32(1.0) - sig[kk]) * lr
                        loss += nls[kk]
                    else:
                        G[a] = -sig[kk] * lr
                        loss += nls[SIG_SIZE - kk]
                # then the gradients: the contexts' (applied after the window), the output's (now)
                for a in range(m):
                    g = G[a]
                    h = win[ctx[a]]
                    for d in range(dim):
                        dIn[a, d] += g * row[d]
                        row[d] += g * h[d]
            npred += m * no
            for a in range(m):
                h = win[ctx[a]]
                for d in range(dim):
                    h[d] += dIn[a, d]
    stats[0] += loss
    stats[1] += npred
    stats[2] += seen
