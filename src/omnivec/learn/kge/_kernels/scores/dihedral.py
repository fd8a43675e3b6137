"""DihEdral (Xu & Li, 2019): sum over 2-blocks of h_b^T M_b t_b with M_b in the dihedral group D4.

Entities d (even); a relation's training form is 8 logits per block over the
group's elements, relaxed by a Gumbel-softmax of temperature tau; its
inference form is one 2x2 matrix (row-major) per block, the most likely element.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..common import FAST, uniform
from ..common import no_grad_query as grad_query  # noqa: F401
from ..common import no_make_query as make_query  # noqa: F401
from ..common import no_query_backward as query_backward  # noqa: F401
from ..common import no_score_query as score_query  # noqa: F401

NOISY_RELATIONS = True  # Gumbel noise per triple: the inference form is not cached per batch
PENALIZE_RELATIONS = False  # group logits are not magnitudes: regularisers leave them alone
HAS_QUERY = False

# The 8 elements of the dihedral group D4 as 2x2 matrices (row-major):
# rotations by m*90 degrees, then reflections.
D4 = np.zeros((8, 4), dtype=np.float32)
for _m in range(4):
    _c, _s = round(math.cos(_m * math.pi / 2)), round(math.sin(_m * math.pi / 2))
    D4[2 * _m] = (_c, -_s, _s, _c)
    D4[2 * _m + 1] = (_c, _s, _s, -_c)


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    for blk in range(h.shape[0] // 2):
        h0, h1, t0, t1 = h[2 * blk], h[2 * blk + 1], t[2 * blk], t[2 * blk + 1]
        m = r[4 * blk:4 * blk + 4]
        s += h0 * (m[0] * t0 + m[1] * t1) + h1 * (m[2] * t0 + m[3] * t1)
    return s


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    for blk in range(h.shape[0] // 2):
        i0, i1 = 2 * blk, 2 * blk + 1
        h0, h1, t0, t1 = h[i0], h[i1], t[i0], t[i1]
        j = 4 * blk
        m0, m1, m2, m3 = r[j], r[j + 1], r[j + 2], r[j + 3]
        gh[i0] += c * (m0 * t0 + m1 * t1)
        gh[i1] += c * (m2 * t0 + m3 * t1)
        gt[i0] += c * (h0 * m0 + h1 * m2)
        gt[i1] += c * (h0 * m1 + h1 * m3)
        gr[j] += c * h0 * t0
        gr[j + 1] += c * h0 * t1
        gr[j + 2] += c * h1 * t0
        gr[j + 3] += c * h1 * t1


@njit(**FAST)
def rel_forward(rp, tau, gumbel, state, rinf, aux):
    """Softmax (with Gumbel noise when `gumbel`) of each block's logits, mixing the elements of D4."""
    nblk = rp.shape[0] // 8
    for blk in range(nblk):
        mx = -1e30
        for e in range(8):
            z = rp[8 * blk + e]
            if gumbel:
                u = uniform(state)
                z += -math.log(-math.log(u + 1e-20) + 1e-20)
            z /= tau
            aux[8 * blk + e] = z
            if z > mx:
                mx = z
        tot = 0.0
        for e in range(8):
            w = math.exp(aux[8 * blk + e] - mx)
            aux[8 * blk + e] = w
            tot += w
        for q in range(4):
            rinf[4 * blk + q] = 0.0
        for e in range(8):
            w = aux[8 * blk + e] / tot
            aux[8 * blk + e] = w
            for q in range(4):
                rinf[4 * blk + q] += w * D4[e, q]


@njit(**FAST)
def rel_backward(rp, rinf, grinf, aux, tau, gr):
    nblk = rp.shape[0] // 8
    for blk in range(nblk):
        gm = 0.0
        for q in range(4):
            gm += grinf[4 * blk + q] * rinf[4 * blk + q]
        for e in range(8):
            ge = 0.0
            for q in range(4):
                ge += grinf[4 * blk + q] * D4[e, q]
            gr[8 * blk + e] += aux[8 * blk + e] * (ge - gm) / tau


@njit(cache=True, nogil=True)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: the most likely element of D4 per block."""
    for blk in range(rp.shape[0] // 8):
        best = 0
        for e in range(1, 8):
            if rp[8 * blk + e] > rp[8 * blk + best]:
                best = e
        for q in range(4):
            rinf[4 * blk + q] = D4[best, q]
