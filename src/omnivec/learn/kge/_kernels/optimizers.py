"""Row-wise optimiser updates: apply(P, G, M, V, step, rows, nrows, lr, beta1, beta2, eps, nblocks, mask, T).

Each applies and clears the gradients G of `rows` to P, then re-projects the
masked blocks of each row to unit norm.  T == 0: sparse ("lazy") updates, each
row counts its own steps.  T > 0: dense updates at global step T, as if every
row took a step after every batch.  SGD and Adagrad take no step on a zero
gradient, so for them both are the same; Adam's skipped zero-gradient steps
are taken in the same pass over the row as this step (`adam`) and at the end
of an epoch (`catch_up`), with coefficients from a table shared by the call.
Each inner loop is plain float32 over a row, so it vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import FAST, normalize_blocks


@njit(**FAST)
def sgd(P, G, M, V, step, rows, nrows, lr, beta1, beta2, eps, nblocks, mask, T):
    """p -= lr * g."""
    for ii in range(nrows):
        i = rows[ii]
        if T > 0:
            step[i] = T
        else:
            step[i] += 1
        p = P[i]
        g = G[i]
        a = np.float32(lr)
        for k in range(p.shape[0]):
            p[k] -= a * g[k]
            g[k] = 0.0
        if mask != 0:
            normalize_blocks(p, nblocks, mask)


@njit(**FAST)
def adagrad(P, G, M, V, step, rows, nrows, lr, beta1, beta2, eps, nblocks, mask, T):
    """v += g^2; p -= lr * g / (sqrt(v) + eps)."""
    for ii in range(nrows):
        i = rows[ii]
        if T > 0:
            step[i] = T
        else:
            step[i] += 1
        p = P[i]
        g = G[i]
        a = np.float32(lr)
        e = np.float32(eps)
        v = V[i]
        for k in range(p.shape[0]):
            gk = g[k]
            vk = v[k] + gk * gk
            v[k] = vk
            p[k] -= a * gk / (np.sqrt(vk) + e)
            g[k] = 0.0
        if mask != 0:
            normalize_blocks(p, nblocks, mask)


# Rows whose last update is at most this many steps behind take their skipped
# Adam steps from per-call tables; older ones compute their coefficients alone.
SKIP_TABLE = 128


@njit(**FAST)
def skip_coefs(s, T1, lr, beta1, beta2):
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
def skip_tables(T1, lr, beta1, beta2, tab):
    """Fill tab[k] = skip_coefs(T1 - k, T1) for k < min(len(tab), T1 + 1); return that count.

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
    return skip_coefs(s, T1, lr, beta1, beta2)


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
    """Bring every row whose Adam state is behind global step T up to it (see skip_coefs)."""
    tab = np.empty((SKIP_TABLE, 3), dtype=np.float64)
    nt = skip_tables(T, lr, beta1, beta2, tab)
    es = np.float32(eps * math.sqrt(1.0 - beta2 ** T))
    for i in range(P.shape[0]):
        k = T - step[i]
        if k <= 0:
            continue
        c, f1, f2 = _skip_lookup(tab, nt, step[i], T, lr, beta1, beta2)
        _skip_row(P[i], M[i], V[i], np.float32(c), es, np.float32(f1), np.float32(f2))
        step[i] = T
        if mask != 0:
            normalize_blocks(P[i], nblocks, mask)


@njit(**FAST)
def adam(P, G, M, V, step, rows, nrows, lr, beta1, beta2, eps, nblocks, mask, T):
    """Adam (Kingma & Ba) with bias correction; dense (T > 0) or per-row sparse (T == 0) steps."""
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    tab = np.empty((SKIP_TABLE, 3), dtype=np.float64)
    nt = 0
    es = np.float32(1.0)
    if T > 1:
        nt = skip_tables(T - 1, lr, beta1, beta2, tab)
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
            normalize_blocks(P[i], nblocks, mask)


@njit(**FAST)
def no_catch_up(P, M, V, step, T, lr, beta1, beta2, eps, nblocks, mask):
    """Nothing to catch up: the optimiser takes no step on a zero gradient."""
    pass
