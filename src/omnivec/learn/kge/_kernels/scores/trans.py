"""TranS (Zhang et al., 2022): -|| h * (t_aux + u) - t * (h_aux + u) + r_head * h + r + r_tail * t ||_1.

The single relation vector of TransE replaced by a synthetic one built from
three relation vectors and the entity pair.  Entities 2d = [e | e_aux],
relations 3d = [r_head | r | r_tail]; the unit-norm constraints on e, e_aux,
r_head and r_tail are kept as projections after each update.
"""

from __future__ import annotations

from numba import njit

from ..common import FAST
from ..common import no_grad_query as grad_query  # noqa: F401
from ..common import no_make_query as make_query  # noqa: F401
from ..common import no_query_backward as query_backward  # noqa: F401
from ..common import no_score_query as score_query  # noqa: F401
from ..common import same_backward as rel_backward  # noqa: F401
from ..common import same_forward as rel_forward  # noqa: F401
from ..common import same_forward as _same

HAS_QUERY = False
U = 1.0  # the constant offset added to the auxiliary entity vectors


@njit(**FAST)
def score(p, h, r, t):
    """Return the score of one triple."""
    s = 0.0
    d = h.shape[0] // 2
    for k in range(d):
        he, ha, te, ta = h[k], h[d + k], t[k], t[d + k]
        v = he * (ta + U) - te * (ha + U) + r[k] * he + r[d + k] + r[2 * d + k] * te
        s += abs(v)
    return -s


@njit(**FAST)
def grad(p, h, r, t, c, gh, gr, gt):
    """Add c times the gradient of score(h, r, t) to gh, gr, gt."""
    if c == 0.0:
        return
    d = h.shape[0] // 2
    for k in range(d):
        he, ha, te, ta = h[k], h[d + k], t[k], t[d + k]
        rb, rm, rt = r[k], r[d + k], r[2 * d + k]
        v = he * (ta + U) - te * (ha + U) + rb * he + rm + rt * te
        g = -c if v > 0 else (c if v < 0 else 0.0)
        gh[k] += g * (ta + U + rb)
        gh[d + k] -= g * te
        gt[k] += g * (rt - ha - U)
        gt[d + k] += g * he
        gr[k] += g * he
        gr[d + k] += g
        gr[2 * d + k] += g * te


@njit(**FAST)
def rel_infer(rp, tau, state, rinf, aux):
    """The saved form of a relation: its vector."""
    _same(rp, tau, False, state, rinf, aux)
