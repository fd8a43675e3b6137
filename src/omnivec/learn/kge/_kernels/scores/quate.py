"""QuatE (Zhang et al., 2019): <h (x) r / |r|, t>, the Hamilton product; entity and relation 4d = [a | b | c | d].

The inference form of a relation is unit-normalised per quaternion coordinate.
"""

from __future__ import annotations

import math

from numba import njit

from ..common import FAST
from ..common import no_grad_query as grad_query  # noqa: F401
from ..common import no_make_query as make_query  # noqa: F401
from ..common import no_query_backward as query_backward  # noqa: F401
from ..common import no_score_query as score_query  # noqa: F401

HAS_QUERY = False


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    d = h.shape[0] // 4
    for k in range(d):
        a1, b1, c1, d1 = h[k], h[d + k], h[2 * d + k], h[3 * d + k]
        a2, b2, c2, d2 = r[k], r[d + k], r[2 * d + k], r[3 * d + k]
        w = a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2
        x = a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2
        y = a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2
        z = a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2
        s += w * t[k] + x * t[d + k] + y * t[2 * d + k] + z * t[3 * d + k]
    return s


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    d = h.shape[0] // 4
    for k in range(d):
        a1, b1, c1, d1 = h[k], h[d + k], h[2 * d + k], h[3 * d + k]
        a2, b2, c2, d2 = r[k], r[d + k], r[2 * d + k], r[3 * d + k]
        t0, t1, t2, t3 = t[k], t[d + k], t[2 * d + k], t[3 * d + k]
        gh[k] += c * (a2 * t0 + b2 * t1 + c2 * t2 + d2 * t3)
        gh[d + k] += c * (-b2 * t0 + a2 * t1 - d2 * t2 + c2 * t3)
        gh[2 * d + k] += c * (-c2 * t0 + d2 * t1 + a2 * t2 - b2 * t3)
        gh[3 * d + k] += c * (-d2 * t0 - c2 * t1 + b2 * t2 + a2 * t3)
        gr[k] += c * (a1 * t0 + b1 * t1 + c1 * t2 + d1 * t3)
        gr[d + k] += c * (-b1 * t0 + a1 * t1 + d1 * t2 - c1 * t3)
        gr[2 * d + k] += c * (-c1 * t0 - d1 * t1 + a1 * t2 + b1 * t3)
        gr[3 * d + k] += c * (-d1 * t0 + c1 * t1 - b1 * t2 + a1 * t3)
        gt[k] += c * (a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2)
        gt[d + k] += c * (a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2)
        gt[2 * d + k] += c * (a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2)
        gt[3 * d + k] += c * (a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2)


@njit(**FAST)
def rel_forward(rp, tau, gumbel, state, rinf, aux):
    """Normalise each quaternion coordinate of rp to unit norm (aux keeps the norms)."""
    d = rp.shape[0] // 4
    for k in range(d):
        n = math.sqrt(rp[k] ** 2 + rp[d + k] ** 2 + rp[2 * d + k] ** 2 + rp[3 * d + k] ** 2) + 1e-12
        aux[k] = n
        for q in range(4):
            rinf[q * d + k] = rp[q * d + k] / n


@njit(**FAST)
def rel_backward(rp, rinf, grinf, aux, tau, gr):
    d = rp.shape[0] // 4
    for k in range(d):
        dot = 0.0
        for q in range(4):
            dot += rinf[q * d + k] * grinf[q * d + k]
        for q in range(4):
            gr[q * d + k] += (grinf[q * d + k] - rinf[q * d + k] * dot) / aux[k]


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: unit quaternions."""
    rel_forward(rp, tau, False, state, rinf, aux)
