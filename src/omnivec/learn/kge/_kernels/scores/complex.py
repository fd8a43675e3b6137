"""ComplEx (Trouillon et al., 2016): Re(sum(h * r * conj(t))); entity 2d = [re | im], relation 2d."""

from __future__ import annotations

from numba import njit

from ..common import FAST
from ..common import same_backward as rel_backward  # noqa: F401
from ..common import same_forward as rel_forward  # noqa: F401
from ..common import same_forward as _same
from ._shared import complex_make_query as make_query  # noqa: F401
from ._shared import complex_query_backward as query_backward  # noqa: F401
from ._shared import dot_grad_query as grad_query  # noqa: F401
from ._shared import dot_score_query as score_query  # noqa: F401

HAS_QUERY = True


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    d = h.shape[0] // 2
    for k in range(d):
        a, b, c, dd, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
        s += (a * c - b * dd) * e + (a * dd + b * c) * f
    return s


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    d = h.shape[0] // 2
    for k in range(d):
        a, b, cc, dd, e, f = h[k], h[d + k], r[k], r[d + k], t[k], t[d + k]
        gh[k] += c * (cc * e + dd * f)
        gh[d + k] += c * (-dd * e + cc * f)
        gr[k] += c * (a * e + b * f)
        gr[d + k] += c * (-b * e + a * f)
        gt[k] += c * (a * cc - b * dd)
        gt[d + k] += c * (a * dd + b * cc)


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: its vector."""
    _same(rp, tau, False, state, rinf, aux)
