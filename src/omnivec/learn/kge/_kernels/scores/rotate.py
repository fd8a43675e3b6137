"""RotatE (Sun et al., 2019): -||h o r - t|| with |r_k| = 1; entity 2d = [re | im], relation d phases.

The training form of a relation is its phases; the inference form [cos | sin].
"""

from __future__ import annotations

import math

from numba import njit

from ..common import FAST
from ._shared import complex_make_query as make_query  # noqa: F401
from ._shared import complex_query_backward as query_backward  # noqa: F401

PENALIZE_RELATIONS = False  # phases are not magnitudes: regularisers leave them alone
HAS_QUERY = True


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple: sum of moduli (p = 1) or the L2 norm (p = 2), negated."""
    s = 0.0
    d = h.shape[0] // 2
    for k in range(d):
        a, b, c, sn, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
        vr = a * c - b * sn - e
        vi = a * sn + b * c - f
        if p == 1:
            s += math.sqrt(vr * vr + vi * vi)
        else:
            s += vr * vr + vi * vi
    return -s if p == 1 else -math.sqrt(s)


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    d = h.shape[0] // 2
    nrm = 1.0
    if p != 1:
        s = 0.0
        for k in range(d):
            a, b, cc, sn, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
            vr = a * cc - b * sn - e
            vi = a * sn + b * cc - f
            s += vr * vr + vi * vi
        nrm = math.sqrt(s)
        if nrm < 1e-12:
            return
    for k in range(d):
        a, b, cc, sn, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
        vr = a * cc - b * sn - e
        vi = a * sn + b * cc - f
        if p == 1:
            m = math.sqrt(vr * vr + vi * vi)
            if m < 1e-12:
                continue
            gvr, gvi = -c * vr / m, -c * vi / m
        else:
            gvr, gvi = -c * vr / nrm, -c * vi / nrm
        gh[k] += gvr * cc + gvi * sn
        gh[d + k] += -gvr * sn + gvi * cc
        gr[k] += gvr * a + gvi * b
        gr[d + k] += -gvr * b + gvi * a
        gt[k] -= gvr
        gt[d + k] -= gvi


@njit(**FAST)
def rel_forward(rp, tau, gumbel, state, rinf, aux):
    """Phases to unit complex numbers [cos | sin]."""
    d = rp.shape[0]
    for k in range(d):
        rinf[k] = math.cos(rp[k])
        rinf[d + k] = math.sin(rp[k])


@njit(**FAST)
def rel_backward(rp, rinf, grinf, aux, tau, gr):
    d = rp.shape[0]
    for k in range(d):
        gr[k] += -grinf[k] * rinf[d + k] + grinf[d + k] * rinf[k]


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: [cos | sin] of its phases."""
    rel_forward(rp, tau, False, state, rinf, aux)


@njit(**FAST)
def score_query(p, x, q):
    """-||x - q||: per complex coordinate moduli summed (p = 1) or the L2 norm (p = 2)."""
    s = 0.0
    if p == 1:
        d = x.shape[0] // 2
        for k in range(d):
            vr = x[k] - q[k]
            vi = x[d + k] - q[d + k]
            s += math.sqrt(vr * vr + vi * vi)
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
        d = x.shape[0] // 2
        for k in range(d):
            vr = x[k] - q[k]
            vi = x[d + k] - q[d + k]
            m = math.sqrt(vr * vr + vi * vi)
            if m < 1e-12:
                continue
            gr_, gi_ = -c * vr / m, -c * vi / m
            gx[k] += gr_
            gx[d + k] += gi_
            gq[k] -= gr_
            gq[d + k] -= gi_
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
