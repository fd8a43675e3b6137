"""DistMult (Yang et al., 2015): sum(h * r * t); entity d, relation d."""

from __future__ import annotations

from numba import njit

from ..common import FAST
from ..common import same_backward as rel_backward  # noqa: F401
from ..common import same_forward as rel_forward  # noqa: F401
from ..common import same_forward as _same
from ._shared import dot_grad_query as grad_query  # noqa: F401
from ._shared import dot_score_query as score_query  # noqa: F401

HAS_QUERY = True


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    for k in range(h.shape[0]):
        s += h[k] * r[k] * t[k]
    return s


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    for k in range(h.shape[0]):
        gh[k] += c * r[k] * t[k]
        gr[k] += c * h[k] * t[k]
        gt[k] += c * h[k] * r[k]


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: its vector."""
    _same(rp, tau, False, state, rinf, aux)


@njit(**FAST)
def make_query(tail, f, r, q):
    """q = f * r on either side: the score is <x, q>."""
    for k in range(f.shape[0]):
        q[k] = f[k] * r[k]


@njit(**FAST)
def query_backward(tail, f, r, gq, gf, gr):
    for k in range(f.shape[0]):
        gf[k] += gq[k] * r[k]
        gr[k] += gq[k] * f[k]
