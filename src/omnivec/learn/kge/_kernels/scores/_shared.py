"""Query forms several scoring functions share.

For TransE, DistMult, ComplEx and RotatE the score of (h, r, x) or (x, r, t) is a
function of x and one "query" vector q computed once from the fixed entity and
the relation: a dot product <x, q> (DistMult, ComplEx) or a distance
-||x - q|| (TransE, RotatE; for RotatE |r| = 1, so ||x o r - t|| = ||x - t o conj(r)||).
A positive and its negatives share the fixed side, so each negative costs one
pass over x instead of the full three-vector score and gradient.
"""

from __future__ import annotations

from numba import njit

from ..common import FAST


@njit(**FAST)
def complex_make_query(tail, f, r, q):
    """q = f o r (tail side) or f o conj(r) (head side), complex vectors as [re | im]."""
    d = f.shape[0] // 2
    sg = 1.0 if tail else -1.0
    for k in range(d):
        a, b, c, dd = f[k], f[d + k], r[k], sg * r[d + k]
        q[k] = a * c - b * dd
        q[d + k] = a * dd + b * c


@njit(**FAST)
def complex_query_backward(tail, f, r, gq, gf, gr):
    """Add the gradients of complex_make_query's q w.r.t. f and r, given gq, to gf and gr."""
    d = f.shape[0] // 2
    sg = 1.0 if tail else -1.0
    for k in range(d):
        a, b, c, dd = f[k], f[d + k], r[k], sg * r[d + k]
        gre, gim = gq[k], gq[d + k]
        gf[k] += gre * c + gim * dd
        gf[d + k] += -gre * dd + gim * c
        gr[k] += gre * a + gim * b
        gr[d + k] += sg * (-gre * b + gim * a)


@njit(**FAST)
def dot_score_query(p, x, q):
    """<x, q>."""
    s = 0.0
    for k in range(x.shape[0]):
        s += x[k] * q[k]
    return s


@njit(**FAST)
def dot_grad_query(p, x, q, c, gx, gq):
    """Add c times the gradient of <x, q> w.r.t. x to gx and w.r.t. q to gq."""
    if c == 0.0:
        return
    for k in range(x.shape[0]):
        gx[k] += c * q[k]
        gq[k] += c * x[k]
