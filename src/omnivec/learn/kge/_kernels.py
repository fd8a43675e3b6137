"""Compiled kernels for knowledge-graph embeddings: scores, gradients, training, ranking.

Every function takes plain numpy arrays and scalars.  A model is a small
integer `kind` (see KIND_* below); the score and its gradient are written out
by hand per model, so one training kernel serves all of them.

Relations have two forms.  The *training* form is what the optimiser moves
(RotatE phases, DihEdral logits over the 8 elements of D4); the *inference*
form is what the score reads and what the saved file holds (unit complex
numbers, 2x2 block matrices).  `rel_forward` maps one to the other and
`rel_backward` carries gradients back; for the other models both forms are
the same vector.

Vector layouts (d = the model's rank):
  TransE, DistMult   entity d, relation d
  ComplEx            entity 2d = [re | im], relation 2d = [re | im]
  RotatE             entity 2d = [re | im], relation phases d -> [cos | sin]
  QuatE              entity 4d = [a | b | c | d], relation 4d, unit-normalised per coordinate
  DihEdral (K=4)     entity d (even), relation logits 8 per 2-block -> 2x2 matrices, row-major
  TranS              entity 2d = [e | e_aux], relation 3d = [r_head | r | r_tail]

TranS scores -|| h * (t_aux + u) - t * (h_aux + u) + r_head * h + r + r_tail * t ||_1: the
single relation vector of TransE replaced by a synthetic one built from three
relation vectors and the entity pair.  The unit-norm constraints on e, e_aux,
r_head and r_tail are kept as projections after each update (see _apply).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._codes import (KIND_COMPLEX, KIND_DIHEDRAL, KIND_DISTMULT, KIND_QUATE, KIND_ROTATE,  # noqa: F401
                     KIND_TRANS, KIND_TRANSE, LOSS_MARGIN, LOSS_NSSA, LOSS_SOFTPLUS, OPT_ADAGRAD, OPT_ADAM,
                     OPT_SGD, REG_L2, REG_N3, REG_NONE)


# The 8 elements of the dihedral group D4 as 2x2 matrices (row-major):
# rotations by m*90 degrees, then reflections.
D4 = np.zeros((8, 4), dtype=np.float32)
for _m in range(4):
    _c, _s = round(math.cos(_m * math.pi / 2)), round(math.sin(_m * math.pi / 2))
    D4[2 * _m] = (_c, -_s, _s, _c)
    D4[2 * _m + 1] = (_c, _s, _s, -_c)

# Options of the arithmetic kernels.  error_model="numpy": a float division by
# zero gives inf/nan instead of raising, so numba emits no zero check inside a
# loop, and loops with a division or square root (Adam's update, norms)
# vectorise; with the default "python" model they stay scalar, about 4x slower.
# The kernels guard their own divisions (norms below 1e-12, Adam's eps).
FAST = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")

TRANS_U = 1.0  # the constant offset added to the auxiliary entity vectors in TranS


# -- random numbers: xorshift64 with explicit state, so runs are reproducible ------------------
@njit(cache=True, nogil=True, inline="always")
def _next(state):
    x = state[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    state[0] = x
    return x


@njit(cache=True, nogil=True, inline="always")
def _uniform(state):
    return float(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _randint(state, n):
    return np.int64(_next(state) % np.uint64(n))


# -- scores and gradients on inference-form vectors --------------------------------------------
@njit(**FAST)
def score_one(kind, p, h, r, t):
    """Return the score of one triple (higher is more plausible)."""
    s = 0.0
    if kind == KIND_TRANSE:
        if p == 1:
            for k in range(h.shape[0]):
                s += abs(h[k] + r[k] - t[k])
            return -s
        for k in range(h.shape[0]):
            v = h[k] + r[k] - t[k]
            s += v * v
        return -math.sqrt(s)
    if kind == KIND_DISTMULT:
        for k in range(h.shape[0]):
            s += h[k] * r[k] * t[k]
        return s
    if kind == KIND_COMPLEX:
        d = h.shape[0] // 2
        for k in range(d):
            a, b, c, dd, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
            s += (a * c - b * dd) * e + (a * dd + b * c) * f
        return s
    if kind == KIND_ROTATE:
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
    if kind == KIND_QUATE:
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
    if kind == KIND_DIHEDRAL:
        for blk in range(h.shape[0] // 2):
            h0, h1, t0, t1 = h[2 * blk], h[2 * blk + 1], t[2 * blk], t[2 * blk + 1]
            m = r[4 * blk:4 * blk + 4]
            s += h0 * (m[0] * t0 + m[1] * t1) + h1 * (m[2] * t0 + m[3] * t1)
        return s
    # KIND_TRANS
    d = h.shape[0] // 2
    for k in range(d):
        he, ha, te, ta = h[k], h[d + k], t[k], t[d + k]
        v = he * (ta + TRANS_U) - te * (ha + TRANS_U) + r[k] * he + r[d + k] + r[2 * d + k] * te
        s += abs(v)
    return -s


@njit(**FAST)
def grad_one(kind, p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score_one(h, r, t) to gh, gr, gt; returns nothing."""
    if c == 0.0:
        return
    if kind == KIND_TRANSE:
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
        return
    if kind == KIND_DISTMULT:
        for k in range(h.shape[0]):
            gh[k] += c * r[k] * t[k]
            gr[k] += c * h[k] * t[k]
            gt[k] += c * h[k] * r[k]
        return
    if kind == KIND_COMPLEX:
        d = h.shape[0] // 2
        for k in range(d):
            a, b, cc, dd, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
            gh[k] += c * (cc * e + dd * f)
            gh[d + k] += c * (-dd * e + cc * f)
            gr[k] += c * (a * e + b * f)
            gr[d + k] += c * (-b * e + a * f)
            gt[k] += c * (a * cc - b * dd)
            gt[d + k] += c * (a * dd + b * cc)
        return
    if kind == KIND_ROTATE:
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
        return
    if kind == KIND_QUATE:
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
        return
    if kind == KIND_DIHEDRAL:
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
        return
    # KIND_TRANS
    d = h.shape[0] // 2
    for k in range(d):
        he, ha, te, ta = h[k], h[d + k], t[k], t[d + k]
        rb, rm, rt = r[k], r[d + k], r[2 * d + k]
        v = he * (ta + TRANS_U) - te * (ha + TRANS_U) + rb * he + rm + rt * te
        g = -c if v > 0 else (c if v < 0 else 0.0)
        gh[k] += g * (ta + TRANS_U + rb)
        gh[d + k] -= g * te
        gt[k] += g * (rt - ha - TRANS_U)
        gt[d + k] += g * he
        gr[k] += g * he
        gr[d + k] += g
        gr[2 * d + k] += g * te


# -- queries: one side fixed ------------------------------------------------------------------
# For TransE, DistMult, ComplEx and RotatE the score of (h, r, x) or (x, r, t) is a
# function of x and one "query" vector q computed once from the fixed entity and
# the relation: a dot product <x, q> (DistMult, ComplEx) or a distance
# -||x - q|| (TransE, RotatE; for RotatE |r| = 1, so ||x o r - t|| = ||x - t o conj(r)||).
# A positive and its negatives share the fixed side, so each negative costs one
# pass over x instead of the full three-vector score and gradient.

@njit(cache=True, nogil=True, inline="always")
def has_query(kind):
    return kind == KIND_TRANSE or kind == KIND_DISTMULT or kind == KIND_COMPLEX or kind == KIND_ROTATE


@njit(**FAST)
def make_query(kind, tail, f, r, q):
    """Write into q the query of fixed entity f and relation r (inference form); tail: f is the head."""
    if kind == KIND_TRANSE:
        sg = 1.0 if tail else -1.0
        for k in range(f.shape[0]):
            q[k] = f[k] + sg * r[k]
        return
    if kind == KIND_DISTMULT:
        for k in range(f.shape[0]):
            q[k] = f[k] * r[k]
        return
    # ComplEx, RotatE: q = f o r (tail side) or f o conj(r) (head side), [re | im]
    d = f.shape[0] // 2
    sg = 1.0 if tail else -1.0
    for k in range(d):
        a, b, c, dd = f[k], f[d + k], r[k], sg * r[d + k]
        q[k] = a * c - b * dd
        q[d + k] = a * dd + b * c


@njit(**FAST)
def query_backward(kind, tail, f, r, gq, gf, gr):
    """Add the gradients of the query w.r.t. f and r, given gq w.r.t. the query, to gf and gr."""
    if kind == KIND_TRANSE:
        sg = 1.0 if tail else -1.0
        for k in range(f.shape[0]):
            gf[k] += gq[k]
            gr[k] += sg * gq[k]
        return
    if kind == KIND_DISTMULT:
        for k in range(f.shape[0]):
            gf[k] += gq[k] * r[k]
            gr[k] += gq[k] * f[k]
        return
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
def score_query(kind, p, x, q):
    """Score of candidate x against query q (equal to score_one of the full triple)."""
    s = 0.0
    if kind == KIND_DISTMULT or kind == KIND_COMPLEX:
        for k in range(x.shape[0]):
            s += x[k] * q[k]
        return s
    if p == 1:
        if kind == KIND_TRANSE:
            for k in range(x.shape[0]):
                s += abs(x[k] - q[k])
        else:
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
def grad_query(kind, p, x, q, c, gx, gq):
    """Add c times the gradient of score_query(x, q) w.r.t. x to gx and w.r.t. q to gq."""
    if c == 0.0:
        return
    if kind == KIND_DISTMULT or kind == KIND_COMPLEX:
        for k in range(x.shape[0]):
            gx[k] += c * q[k]
            gq[k] += c * x[k]
        return
    if p == 1:
        if kind == KIND_TRANSE:
            for k in range(x.shape[0]):
                v = x[k] - q[k]
                g = -c if v > 0 else (c if v < 0 else 0.0)
                gx[k] += g
                gq[k] -= g
        else:
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


# -- relation forms -----------------------------------------------------------------------------
@njit(**FAST)
def rel_forward(kind, rp, tau, gumbel, state, rinf, aux):
    """Write the inference form of relation parameters rp into rinf (aux keeps what backward needs)."""
    if kind == KIND_ROTATE:
        d = rp.shape[0]
        for k in range(d):
            rinf[k] = math.cos(rp[k])
            rinf[d + k] = math.sin(rp[k])
        return
    if kind == KIND_QUATE:
        d = rp.shape[0] // 4
        for k in range(d):
            n = math.sqrt(rp[k] ** 2 + rp[d + k] ** 2 + rp[2 * d + k] ** 2 + rp[3 * d + k] ** 2) + 1e-12
            aux[k] = n
            for q in range(4):
                rinf[q * d + k] = rp[q * d + k] / n
        return
    if kind == KIND_DIHEDRAL:
        nblk = rp.shape[0] // 8
        for blk in range(nblk):
            mx = -1e30
            for e in range(8):
                z = rp[8 * blk + e]
                if gumbel:
                    u = _uniform(state)
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
        return
    for k in range(rp.shape[0]):
        rinf[k] = rp[k]


@njit(**FAST)
def rel_backward(kind, rp, rinf, grinf, aux, tau, gr):
    """Add the gradient w.r.t. relation parameters rp, given grinf w.r.t. the inference form, to gr."""
    if kind == KIND_ROTATE:
        d = rp.shape[0]
        for k in range(d):
            gr[k] += -grinf[k] * rinf[d + k] + grinf[d + k] * rinf[k]
        return
    if kind == KIND_QUATE:
        d = rp.shape[0] // 4
        for k in range(d):
            dot = 0.0
            for q in range(4):
                dot += rinf[q * d + k] * grinf[q * d + k]
            for q in range(4):
                gr[q * d + k] += (grinf[q * d + k] - rinf[q * d + k] * dot) / aux[k]
        return
    if kind == KIND_DIHEDRAL:
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
        return
    for k in range(rp.shape[0]):
        gr[k] += grinf[k]


@njit(cache=True, nogil=True)
def rel_inference(kind, R, dri, tau):
    """Return the inference form of every relation (DihEdral: the most likely element per block)."""
    out = np.zeros((R.shape[0], dri), dtype=np.float32)
    aux = np.zeros(max(R.shape[1], 1), dtype=np.float32)
    state = np.ones(1, dtype=np.uint64)
    for i in range(R.shape[0]):
        if kind == KIND_DIHEDRAL:
            for blk in range(R.shape[1] // 8):
                best = 0
                for e in range(1, 8):
                    if R[i, 8 * blk + e] > R[i, 8 * blk + best]:
                        best = e
                for q in range(4):
                    out[i, 4 * blk + q] = D4[best, q]
        else:
            rel_forward(kind, R[i], tau, False, state, out[i], aux)
    return out


# -- training -----------------------------------------------------------------------------------
@njit(**FAST)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(**FAST)
def _softplus(x):
    if x > 30:
        return x
    return math.log1p(math.exp(x))


@njit(**FAST)
def _normalize_blocks(x, nblocks, mask):
    """Scale to unit L2 norm each of the nblocks equal parts of x whose bit is set in mask."""
    w = x.shape[0] // nblocks
    for b in range(nblocks):
        if (mask >> b) & 1:
            s = 0.0
            for k in range(b * w, (b + 1) * w):
                s += x[k] * x[k]
            s = math.sqrt(s)
            if s > 1e-12:
                for k in range(b * w, (b + 1) * w):
                    x[k] /= s


# Rows whose last update is at most this many steps behind take their skipped
# Adam steps from per-call tables; older ones compute their coefficients alone.
SKIP_TABLE = 128


@njit(**FAST)
def _skip_coefs(s, T1, lr, beta1, beta2):
    """Return (c, f1, f2): T1 - s zero-gradient Adam steps after step s, in closed form.

    A zero-gradient step only decays the moments (m *= beta1, v *= beta2), so
    the parameter moves by m_s / sqrt(v_s) times the scalar
    c = sum_j lr_t * (beta1 / sqrt(beta2))^j, with lr_t Adam's bias-corrected rate at
    step t = s + j; f1 = beta1^(T1 - s) and f2 = beta2^(T1 - s) decay the moments.
    The sum stops once its factor falls below 1e-9.  It is exact but for eps,
    which is taken at its value at step T1 instead of growing relative to the
    decaying sqrt(v).
    """
    rho = beta1 / math.sqrt(beta2)
    b1t = beta1 ** s
    b2t = beta2 ** s
    c = 0.0
    rj = 1.0
    for _ in range(T1 - s):
        rj *= rho
        b1t *= beta1
        b2t *= beta2
        c += lr * math.sqrt(1.0 - b2t) / (1.0 - b1t) * rj
        if rj < 1e-9:
            break
    k = T1 - s
    return c, beta1 ** k, beta2 ** k


@njit(**FAST)
def _skip_tables(T1, lr, beta1, beta2, tab):
    """Fill tab[k] = _skip_coefs(T1 - k, T1) for k < min(len(tab), T1 + 1); return that count.

    One pass backwards from T1: with s = T1 - k, c(k) = rho * (lr_(s+1) + c(k - 1)).
    """
    n = min(tab.shape[0], T1 + 1)
    rho = beta1 / math.sqrt(beta2)
    b1t = beta1 ** T1
    b2t = beta2 ** T1
    c = 0.0
    f1 = 1.0
    f2 = 1.0
    tab[0, 0] = 0.0
    tab[0, 1] = 1.0
    tab[0, 2] = 1.0
    for k in range(1, n):
        # step t = T1 - k + 1 joins the front of the skipped run
        c = rho * (lr * math.sqrt(1.0 - b2t) / (1.0 - b1t) + c)
        b1t /= beta1
        b2t /= beta2
        f1 *= beta1
        f2 *= beta2
        tab[k, 0] = c
        tab[k, 1] = f1
        tab[k, 2] = f2
    return n


@njit(**FAST)
def _adam_row(p, g, m, v, cs, es, f1, f2, a, e, b1, b2):
    """One pass over a row: its skipped zero-gradient steps (cs, es, f1, f2), then an Adam step with g.

    cs = 0 and f1 = f2 = 1 skip nothing; es must be > 0 (m and v are 0 together).
    """
    one = np.float32(1.0)
    for q in range(p.shape[0]):
        m0 = m[q]
        v0 = v[q]
        gq = g[q]
        pq = p[q] - cs * m0 / (np.sqrt(v0) + es)
        mq = b1 * (f1 * m0) + (one - b1) * gq
        vq = b2 * (f2 * v0) + (one - b2) * gq * gq
        m[q] = mq
        v[q] = vq
        p[q] = pq - a * mq / (np.sqrt(vq) + e)
        g[q] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _skip_lookup(tab, nt, s, T1, lr, beta1, beta2):
    """(c, f1, f2) of the steps from s to T1: from the call's table when the gap fits, else computed."""
    k = T1 - s
    if k < nt:
        return tab[k, 0], tab[k, 1], tab[k, 2]
    return _skip_coefs(s, T1, lr, beta1, beta2)


@njit(**FAST)
def _skip_row(p, m, v, cs, es, f1, f2):
    """Take a row's skipped zero-gradient Adam steps: move by cs * m / sqrt(v), decay m and v."""
    for q in range(p.shape[0]):
        m0 = m[q]
        v0 = v[q]
        p[q] -= cs * m0 / (np.sqrt(v0) + es)
        m[q] = f1 * m0
        v[q] = f2 * v0


@njit(**FAST)
def catch_up(P, M, V, step, T, lr, beta1, beta2, eps, nblocks, mask):
    """Bring every row whose Adam state is behind global step T up to it (see _skip_coefs)."""
    tab = np.empty((SKIP_TABLE, 3), dtype=np.float64)
    nt = _skip_tables(T, lr, beta1, beta2, tab)
    es = np.float32(eps * math.sqrt(1.0 - beta2 ** T))
    for i in range(P.shape[0]):
        k = T - step[i]
        if k <= 0:
            continue
        c, f1, f2 = _skip_lookup(tab, nt, step[i], T, lr, beta1, beta2)
        _skip_row(P[i], M[i], V[i], np.float32(c), es, np.float32(f1), np.float32(f2))
        step[i] = T
        if mask != 0:
            _normalize_blocks(P[i], nblocks, mask)


@njit(**FAST)
def _apply(P, G, M, V, step, rows, nrows, opt, lr, beta1, beta2, eps, nblocks, mask, T):
    """Apply and clear the gradients G of `rows` to P with SGD, Adagrad or Adam; re-project masked blocks.

    T == 0: sparse ("lazy") updates, each row counts its own Adam steps.  T > 0:
    dense updates at global step T, as if every row took a step after every
    batch: a row's skipped zero-gradient Adam steps (SGD and Adagrad do
    nothing on a zero gradient) are taken in the same pass over the row as
    this step, with coefficients from a table shared by the call.  Each
    optimiser's inner loop is plain float32 over a row, so it vectorises.
    """
    one = np.float32(1.0)
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    if opt == OPT_ADAM:
        tab = np.empty((SKIP_TABLE, 3), dtype=np.float64)
        nt = 0
        es = np.float32(1.0)
        if T > 1:
            nt = _skip_tables(T - 1, lr, beta1, beta2, tab)
            es = np.float32(eps * math.sqrt(1.0 - beta2 ** (T - 1)))
        a = np.float32(lr)
        e = np.float32(eps)
        if T > 0:
            a = np.float32(lr * math.sqrt(1.0 - beta2 ** T) / (1.0 - beta1 ** T))
            e = np.float32(eps * math.sqrt(1.0 - beta2 ** T))
        for ii in range(nrows):
            i = rows[ii]
            c, f1, f2 = 0.0, 1.0, 1.0
            if T > 0:
                k = T - 1 - step[i]
                if k > 0:
                    c, f1, f2 = _skip_lookup(tab, nt, step[i], T - 1, lr, beta1, beta2)
                step[i] = T
            else:
                step[i] += 1
                bc2 = 1.0 - beta2 ** step[i]
                a = np.float32(lr * math.sqrt(bc2) / (1.0 - beta1 ** step[i]))
                e = np.float32(eps * math.sqrt(bc2))
            _adam_row(P[i], G[i], M[i], V[i], np.float32(c), es, np.float32(f1), np.float32(f2), a, e, b1, b2)
            if mask != 0:
                _normalize_blocks(P[i], nblocks, mask)
        return
    for ii in range(nrows):
        i = rows[ii]
        if T > 0:
            step[i] = T
        else:
            step[i] += 1
        p = P[i]
        g = G[i]
        if opt == OPT_ADAGRAD:
            a = np.float32(lr)
            e = np.float32(eps)
            v = V[i]
            for k in range(p.shape[0]):
                gk = g[k]
                vk = v[k] + gk * gk
                v[k] = vk
                p[k] -= a * gk / (np.sqrt(vk) + e)
                g[k] = 0.0
        else:
            a = np.float32(lr)
            for k in range(p.shape[0]):
                p[k] -= a * g[k]
                g[k] = 0.0
        if mask != 0:
            _normalize_blocks(p, nblocks, mask)


@njit(**FAST)
def _reg(x, g, kind, w):
    loss = 0.0
    if kind == REG_L2:
        for k in range(x.shape[0]):
            loss += x[k] * x[k]
            g[k] += 2.0 * w * x[k]
    elif kind == REG_N3:
        for k in range(x.shape[0]):
            a = abs(x[k])
            loss += a * a * a
            g[k] += 3.0 * w * x[k] * a
    return w * loss


@njit(**FAST)
def train_batches(kind, p, E, R, triples, order, b_start, b_end, batch_size, num_neg,
                  head_prob, loss_kind, margin, adv_temp, reg_kind, reg_weight,
                  opt, lr, beta1, beta2, eps, e_blocks, e_mask, r_blocks, r_mask, tau,
                  mE, vE, stepE, mR, vR, stepR, gE, gR, markE, markR, listE, listR,
                  state, out, gstep, stop):
    """Train on batches [b_start, b_end) of `order`, updating E and R in place (Hogwild-safe).

    out[0] += summed batch losses, out[1] += number of batches.  After each
    update, rows are projected to unit norm block-wise: the e_blocks (r_blocks)
    equal parts of an entity (relation) row whose bit is set in e_mask (r_mask).
    gstep[0] >= 0 counts the global optimiser steps of dense updates: every row
    moves after every batch, as with a dense optimiser (Adam's moments keep
    moving rows a batch did not touch), caught up lazily when a batch next
    touches the row (`_apply`) and by `catch_up` at the end of an epoch.
    gstep[0] < 0: sparse updates, only the touched rows take a step.
    stop[0] != 0 asks the kernel to return before its next batch (Ctrl-C).  Gradient
    buffers gE/gR, marks and row lists are this thread's own; E, R and the
    optimiser moments are shared between threads.
    """
    n = order.shape[0]
    n_ent = E.shape[0]
    dri = R.shape[1]
    if kind == KIND_ROTATE:
        dri = 2 * R.shape[1]
    elif kind == KIND_DIHEDRAL:
        dri = R.shape[1] // 2
    rinf = np.zeros(dri, dtype=np.float32)
    grinf = np.zeros(dri, dtype=np.float32)
    aux = np.zeros(max(R.shape[1], 1), dtype=np.float32)
    negh = np.zeros(num_neg, dtype=np.int64)
    negt = np.zeros(num_neg, dtype=np.int64)
    sneg = np.zeros(num_neg, dtype=np.float64)
    cneg = np.zeros(num_neg, dtype=np.float64)
    qv = np.zeros(E.shape[1], dtype=np.float32)
    gq = np.zeros(E.shape[1], dtype=np.float32)
    # a relation's inference form changes only when the batch's update is applied:
    # computed once per batch and relation (not for DihEdral, whose Gumbel noise is per triple)
    cache_rel = kind != KIND_DIHEDRAL
    n_rc = R.shape[0] if cache_rel else 1
    RC = np.zeros((n_rc, dri), dtype=np.float32)
    AC = np.zeros((n_rc, aux.shape[0]), dtype=np.float32)
    rstamp = np.full(n_rc, -1, dtype=np.int64)
    query = has_query(kind)
    for b in range(b_start, b_end):
        if stop[0] != 0:
            break
        lo = b * batch_size
        hi = min(lo + batch_size, n)
        bsz = hi - lo
        if bsz <= 0:
            continue
        nE = 0
        nR = 0
        loss = 0.0
        if loss_kind == LOSS_MARGIN:
            norm = 1.0 / (bsz * num_neg)
        elif loss_kind == LOSS_SOFTPLUS:
            norm = 1.0 / (bsz * (1 + num_neg))
        else:
            norm = 0.5 / bsz
        for ii in range(lo, hi):
            tr = order[ii]
            h = triples[tr, 0]
            r = triples[tr, 1]
            t = triples[tr, 2]
            if cache_rel:
                if rstamp[r] != b:
                    rel_forward(kind, R[r], tau, True, state, RC[r], AC[r])
                    rstamp[r] = b
                rel = RC[r]
                ax = AC[r]
            else:
                rel_forward(kind, R[r], tau, True, state, rinf, aux)
                rel = rinf
                ax = aux
            # one side per positive, all its negatives corrupt it (as PyKEEN and the RotatE
            # reference code do): self-adversarial weights compare like with like
            head_side = _uniform(state) < head_prob[r]
            fixed = t if head_side else h      # the side the negatives keep
            true_x = h if head_side else t     # the side they replace
            if query:
                make_query(kind, not head_side, E[fixed], rel, qv)
                spos = score_query(kind, p, E[true_x], qv)
            else:
                spos = score_one(kind, p, E[h], rel, E[t])
            for j in range(num_neg):
                x = _randint(state, n_ent - 1)
                x = x + 1 if x >= true_x else x
                negh[j] = x if head_side else h
                negt[j] = t if head_side else x
                if query:
                    sneg[j] = score_query(kind, p, E[x], qv)
                else:
                    sneg[j] = score_one(kind, p, E[negh[j]], rel, E[negt[j]])
            cpos = 0.0
            if loss_kind == LOSS_MARGIN:
                for j in range(num_neg):
                    z = margin - spos + sneg[j]
                    if z > 0:
                        loss += z * norm
                        cpos -= norm
                        cneg[j] = norm
                    else:
                        cneg[j] = 0.0
            elif loss_kind == LOSS_SOFTPLUS:
                loss += _softplus(-spos) * norm
                cpos = -_sigmoid(-spos) * norm
                for j in range(num_neg):
                    loss += _softplus(sneg[j]) * norm
                    cneg[j] = _sigmoid(sneg[j]) * norm
            else:
                mx = -1e30
                for j in range(num_neg):
                    if sneg[j] * adv_temp > mx:
                        mx = sneg[j] * adv_temp
                tot = 0.0
                for j in range(num_neg):
                    cneg[j] = math.exp(sneg[j] * adv_temp - mx)
                    tot += cneg[j]
                loss += _softplus(-(margin + spos)) * norm
                cpos = -_sigmoid(-(margin + spos)) * norm
                for j in range(num_neg):
                    w = cneg[j] / tot
                    loss += w * _softplus(sneg[j] + margin) * norm
                    cneg[j] = w * _sigmoid(sneg[j] + margin) * norm
            # loss gradients: negative scores are minimised, so descend on +dL/ds
            for k in range(dri):
                grinf[k] = 0.0
            if query:
                for k in range(gq.shape[0]):
                    gq[k] = 0.0
                grad_query(kind, p, E[true_x], qv, cpos, gE[true_x], gq)
            else:
                grad_one(kind, p, E[h], rel, E[t], cpos, gE[h], grinf, gE[t])
            for j in range(num_neg):
                if query:
                    x = negh[j] if head_side else negt[j]
                    grad_query(kind, p, E[x], qv, cneg[j], gE[x], gq)
                else:
                    grad_one(kind, p, E[negh[j]], rel, E[negt[j]], cneg[j], gE[negh[j]], grinf, gE[negt[j]])
                for e in (negh[j], negt[j]):
                    if markE[e] == 0:
                        markE[e] = 1
                        listE[nE] = e
                        nE += 1
            if query:
                query_backward(kind, not head_side, E[fixed], rel, gq, gE[fixed], grinf)
            rel_backward(kind, R[r], rel, grinf, ax, tau, gR[r])
            if reg_kind != REG_NONE and reg_weight > 0:
                w = reg_weight / bsz
                loss += _reg(E[h], gE[h], reg_kind, w)
                loss += _reg(E[t], gE[t], reg_kind, w)
                # phases and group logits are not magnitudes: only real-valued relations are penalised
                if kind != KIND_ROTATE and kind != KIND_DIHEDRAL:
                    loss += _reg(R[r], gR[r], reg_kind, w)
            for e in (h, t):
                if markE[e] == 0:
                    markE[e] = 1
                    listE[nE] = e
                    nE += 1
            if markR[r] == 0:
                markR[r] = 1
                listR[nR] = r
                nR += 1
        for ii in range(nE):
            markE[listE[ii]] = 0
        for ii in range(nR):
            markR[listR[ii]] = 0
        T = 0
        if gstep[0] >= 0:
            T = gstep[0] + 1
            gstep[0] = T
        _apply(E, gE, mE, vE, stepE, listE, nE, opt, lr, beta1, beta2, eps, e_blocks, e_mask, T)
        _apply(R, gR, mR, vR, stepR, listR, nR, opt, lr, beta1, beta2, eps, r_blocks, r_mask, T)
        out[0] += loss
        out[1] += 1.0


# -- scoring all candidates and filtered ranking ------------------------------------------------
@njit(parallel=True, **FAST)
def score_candidates(kind, p, E, Rinf, anchors, rels, side_tail, out, use_query):
    """Fill out[i, e] with the score of (anchor_i, rel_i, e) (tails) or (e, rel_i, anchor_i) (heads).

    use_query: score against one query vector per row (see make_query); the
    caller says False for RotatE relations that are not of unit modulus.
    """
    query = use_query and has_query(kind)
    for i in prange(anchors.shape[0]):
        a = E[anchors[i]]
        r = Rinf[rels[i]]
        if query:
            q = np.empty(E.shape[1], dtype=E.dtype)
            make_query(kind, side_tail, a, r, q)
            for e in range(E.shape[0]):
                out[i, e] = score_query(kind, p, E[e], q)
        elif side_tail:
            for e in range(E.shape[0]):
                out[i, e] = score_one(kind, p, a, r, E[e])
        else:
            for e in range(E.shape[0]):
                out[i, e] = score_one(kind, p, E[e], r, a)


@njit(cache=True, nogil=True, parallel=True)
def filtered_ranks(scores, targets, qkeys, known_keys, known_ptr, known_ids, out):
    """Write (optimistic, pessimistic) filtered ranks of targets[i] in scores[i] to out[i].

    Candidates that are known true answers of the same query (other than the
    target itself) are left out; qkeys[i] is looked up in the sorted
    known_keys, whose answers are known_ids[known_ptr[j]:known_ptr[j+1]].
    """
    for i in prange(scores.shape[0]):
        row = scores[i]
        tgt = targets[i]
        st = row[tgt]
        gt = 0
        ge = 0
        for e in range(row.shape[0]):
            v = row[e]
            if v > st:
                gt += 1
            elif v == st:
                ge += 1
        # the target itself counted once in ge; non-finite target scores rank last
        if not np.isfinite(st):
            gt = row.shape[0] - 1
            ge = 1
        j = np.searchsorted(known_keys, qkeys[i])
        if j < known_keys.shape[0] and known_keys[j] == qkeys[i]:
            for q in range(known_ptr[j], known_ptr[j + 1]):
                e = known_ids[q]
                if e == tgt:
                    continue
                v = row[e]
                if v > st:
                    gt -= 1
                elif v == st:
                    ge -= 1
        out[i, 0] = gt + 1
        out[i, 1] = gt + ge
