"""TransE (Bordes et al., 2013): -||h + r - t||_p; entity d, relation d."""

from __future__ import annotations

import math

from numba import njit

from ..common import FAST
from ..common import same_backward as rel_backward  # noqa: F401
from ..common import same_forward as rel_forward  # noqa: F401
from ..common import same_forward as _same

HAS_QUERY = True


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    if p == 1:
        for k in range(h.shape[0]):
            s += abs(h[k] + r[k] - t[k])
        return -s
    for k in range(h.shape[0]):
        v = h[k] + r[k] - t[k]
        s += v * v
    return -math.sqrt(s)


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    n = h.shape[0]
    if p == 1:
        for k in range(n):
            v = h[k] + r[k] - t[k]
            g = -c if v > 0 else (c if v < 0 else 0.0)
            gh[k] += g
            gr[k] += g
            gt[k] -= g
        return
    s = 0.0
    for k in range(n):
        v = h[k] + r[k] - t[k]
        s += v * v
    nrm = math.sqrt(s)
    if nrm < 1e-12:
        return
    for k in range(n):
        g = -c * (h[k] + r[k] - t[k]) / nrm
        gh[k] += g
        gr[k] += g
        gt[k] -= g


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: its vector."""
    _same(rp, tau, False, state, rinf, aux)


@njit(**FAST)
def make_query(tail, f, r, q):
    """q = h + r (tails) or t - r (heads): the score is -||x - q||."""
    sg = 1.0 if tail else -1.0
    for k in range(f.shape[0]):
        q[k] = f[k] + sg * r[k]


@njit(**FAST)
def query_backward(tail, f, r, gq, gf, gr):
    sg = 1.0 if tail else -1.0
    for k in range(f.shape[0]):
        gf[k] += gq[k]
        gr[k] += sg * gq[k]


@njit(**FAST)
def score_query(p, x, q):
    s = 0.0
    if p == 1:
        for k in range(x.shape[0]):
            s += abs(x[k] - q[k])
        return -s
    for k in range(x.shape[0]):
        v = x[k] - q[k]
        s += v * v
    return -math.sqrt(s)


@njit(**FAST)
def grad_query(p, x, q, c, gx, gq):
    if c == 0.0:
        return
    if p == 1:
        for k in range(x.shape[0]):
            v = x[k] - q[k]
            g = -c if v > 0 else (c if v < 0 else 0.0)
            gx[k] += g
            gq[k] -= g
        return
    s = 0.0
    for k in range(x.shape[0]):
        v = x[k] - q[k]
        s += v * v
    nrm = math.sqrt(s)
    if nrm < 1e-12:
        return
    w = -c / nrm
    for k in range(x.shape[0]):
        g = w * (x[k] - q[k])
        gx[k] += g
        gq[k] -= g
