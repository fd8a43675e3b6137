"""Compiled kernel of LINE: edge-sampled updates of first- or second-order proximity.

One call trains `n_samples` edge samples with the GIL released, so several
Python threads can run it over the same arrays (Hogwild).  Its random draws
come from a xorshift64* state seeded by the caller per chunk, so with one
worker a run is reproducible bit for bit.  Edges are drawn from an alias
table over the stored (directed) edges' weights, noise nodes from an alias
table over degree ** 0.75; the update of one sample is the skip-gram step
with negative sampling shared with the word learners (`_neg_step`).  As in
the authors' implementation, a noise node that is one of the edge's ends is
not skipped: drawn as its own noise, a node's first-order vector shrinks, a
pull on high-degree nodes that measurably helps node classification.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._kernels import _neg_step, _negative, splitmix64


@njit(cache=True, nogil=True, fastmath=True)
def line_chunk(emb, ctx, second, esrc, edst, eprob, ealias, nprob, nalias, negative, lr0, done0,
               total, n_samples, seed, sig, nls, stats, stop):
    """Train `n_samples` edge samples; returns how many ran (fewer when `stop[0]` is set).

    `second` picks second-order proximity (targets are rows of `ctx`) over
    first-order (targets are rows of `emb` itself).  The learning rate falls
    linearly from lr0 over `total` samples (`done0` already done before this
    chunk), floored at lr0 * 1e-4, as in LINE.  `stats` receives (loss sum,
    number of predictions, samples done).
    """
    state = np.empty(1, np.uint64)
    state[0] = splitmix64(np.uint64(seed)) | np.uint64(1)
    dim = emb.shape[1]
    grad = np.empty(dim, np.float32)
    out = ctx if second else emb
    floor = lr0 * 1e-4
    loss = 0.0
    preds = 0
    done = 0
    for s in range(n_samples):
        if (s & 1023) == 0 and stop[0]:
            break
        lr = lr0 * (1.0 - (done0 + s) / (total + 1.0))
        if lr < floor:
            lr = floor
        lrf = np.float32(lr)
        e = _negative(state, eprob, ealias)
        u = esrc[e]
        v = edst[e]
        h = emb[u]
        for d in range(dim):
            grad[d] = 0.0
        loss += _neg_step(h, grad, out, v, True, lrf, sig, nls)
        preds += 1
        for k in range(negative):
            t = _negative(state, nprob, nalias)
            loss += _neg_step(h, grad, out, t, False, lrf, sig, nls)
            preds += 1
        for d in range(dim):
            h[d] += grad[d]
        done += 1
    stats[0] += loss
    stats[1] += preds
    stats[2] += done
    return done
