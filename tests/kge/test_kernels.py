"""Every registered model's hand-written gradient matches finite differences of its score."""

import numpy as np
import pytest

from omnivec.learn.kge import _kernels as K
from omnivec.learn.kge.models import MODELS


def _score(spec, p, h, rp, t, tau):
    _, dr, dro = spec.widths(len(h) // spec.entity_width)
    ri = np.zeros(dro)
    K.rel_forward(spec.kind, rp, tau, False, np.ones(1, np.uint64), ri, np.zeros(dr))
    return K.score_one(spec.kind, p, h, ri, t)


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("p", [1, 2])
def test_gradient_matches_finite_differences(name, p):
    spec = MODELS.get(name)
    rng = np.random.default_rng(7)
    de, dr, dro = spec.widths(6)
    h, t, rp = rng.normal(size=de), rng.normal(size=de), rng.normal(size=dr)
    tau = 1.3
    ri, aux = np.zeros(dro), np.zeros(dr)
    K.rel_forward(spec.kind, rp, tau, False, np.ones(1, np.uint64), ri, aux)
    gh, gri, gt, gr = np.zeros(de), np.zeros(dro), np.zeros(de), np.zeros(dr)
    K.grad_one(spec.kind, p, h, ri, t, 2.0, gh, gri, gt)
    K.rel_backward(spec.kind, rp, ri, gri, aux, tau, gr)
    for which, got in ((0, gh), (1, gr), (2, gt)):
        args = [h, rp, t]
        num = np.zeros_like(args[which])
        for i in range(len(num)):
            up, dn = [a.copy() for a in args], [a.copy() for a in args]
            up[which][i] += 1e-6
            dn[which][i] -= 1e-6
            num[i] = (_score(spec, p, *up, tau) - _score(spec, p, *dn, tau)) / 2e-6
        np.testing.assert_allclose(got, 2.0 * num, atol=1e-5, err_msg=f"{name} argument {which}")


@pytest.mark.parametrize("name", [n for n in MODELS.names() if K.has_query(MODELS.get(n).kind)])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("tail", [True, False])
def test_query_of_the_fixed_side_gives_the_full_score_and_gradients(name, p, tail):
    """Training scores negatives against one query per positive: same score, same parameter gradients."""
    spec = MODELS.get(name)
    rng = np.random.default_rng(11)
    de, dr, dro = spec.widths(6)
    h, t, rp = rng.normal(size=de), rng.normal(size=de), rng.normal(size=dr)
    ri, aux = np.zeros(dro), np.zeros(dr)
    K.rel_forward(spec.kind, rp, 1.0, False, np.ones(1, np.uint64), ri, aux)
    fixed, x = (h, t) if tail else (t, h)
    q = np.zeros(de)
    K.make_query(spec.kind, tail, fixed, ri, q)
    assert K.score_query(spec.kind, p, x, q) == pytest.approx(K.score_one(spec.kind, p, h, ri, t), rel=1e-12)
    # full path
    gh, gri, gt, gr = np.zeros(de), np.zeros(dro), np.zeros(de), np.zeros(dr)
    K.grad_one(spec.kind, p, h, ri, t, 1.5, gh, gri, gt)
    K.rel_backward(spec.kind, rp, ri, gri, aux, 1.0, gr)
    # query path: gradient to x and the query, then the query's to the fixed side and relation
    gx, gq, gf, gri2, gr2 = np.zeros(de), np.zeros(de), np.zeros(de), np.zeros(dro), np.zeros(dr)
    K.grad_query(spec.kind, p, x, q, 1.5, gx, gq)
    K.query_backward(spec.kind, tail, fixed, ri, gq, gf, gri2)
    K.rel_backward(spec.kind, rp, ri, gri2, aux, 1.0, gr2)
    want_x, want_f = (gt, gh) if tail else (gh, gt)
    np.testing.assert_allclose(gx, want_x, atol=1e-12)
    np.testing.assert_allclose(gf, want_f, atol=1e-12)
    np.testing.assert_allclose(gr2, gr, atol=1e-12)   # RotatE: equal on the phases (|r| = 1)


def test_scores_match_the_published_formulas():
    rng = np.random.default_rng(1)
    d = 5
    h, r, t = rng.normal(size=d), rng.normal(size=d), rng.normal(size=d)
    assert K.score_one(K.KIND_TRANSE, 1, h, r, t) == pytest.approx(-np.abs(h + r - t).sum())
    assert K.score_one(K.KIND_TRANSE, 2, h, r, t) == pytest.approx(-np.linalg.norm(h + r - t))
    assert K.score_one(K.KIND_DISTMULT, 2, h, r, t) == pytest.approx((h * r * t).sum())
    hc, rc, tc = (rng.normal(size=d) + 1j * rng.normal(size=d) for _ in range(3))
    split = lambda z: np.concatenate([z.real, z.imag])  # noqa: E731
    assert K.score_one(K.KIND_COMPLEX, 2, split(hc), split(rc), split(tc)) == pytest.approx(
        np.real(np.sum(hc * rc * np.conj(tc))))
    ru = np.exp(1j * rng.uniform(0, 2 * np.pi, d))
    assert K.score_one(K.KIND_ROTATE, 1, split(hc), split(ru), split(tc)) == pytest.approx(
        -np.abs(hc * ru - tc).sum())
    assert K.score_one(K.KIND_ROTATE, 2, split(hc), split(ru), split(tc)) == pytest.approx(
        -np.linalg.norm(hc * ru - tc))


def test_quaternion_score_is_the_hamilton_product():
    rng = np.random.default_rng(2)
    d = 3
    h, r, t = (rng.normal(size=(4, d)) for _ in range(3))

    def ham(p, q):
        a1, b1, c1, d1 = p
        a2, b2, c2, d2 = q
        return np.array([a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2, a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                         a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2, a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2])

    # i*j = k, j*k = i, k*i = j: the defining products of the quaternions
    e = np.eye(4)
    np.testing.assert_allclose(ham(e[1], e[2]), e[3])
    np.testing.assert_allclose(ham(e[2], e[3]), e[1])
    np.testing.assert_allclose(ham(e[3], e[1]), e[2])
    want = float(np.sum(ham(h, r) * t))
    assert K.score_one(K.KIND_QUATE, 2, h.ravel(), r.ravel(), t.ravel()) == pytest.approx(want)


def test_dihedral_elements_form_the_group_d4():
    mats = [K.D4[i].reshape(2, 2) for i in range(8)]
    keys = {tuple(m.ravel()) for m in mats}
    assert len(keys) == 8
    for a in mats:
        for b in mats:
            assert tuple((a @ b).ravel()) in keys   # closed under composition
    rot90 = mats[2]
    np.testing.assert_allclose(np.linalg.matrix_power(rot90, 4), np.eye(2))
    for m in mats[1::2]:
        np.testing.assert_allclose(m @ m, np.eye(2))   # reflections are involutions


@pytest.mark.parametrize("steps", [60, 300])
def test_dense_adam_caught_up_lazily_equals_a_dense_step_after_every_batch(steps):
    """Rows a batch skips take Adam's zero-gradient steps when next touched: the same as updating every row.

    With 300 steps row 0 is touched at steps 1 and 200 only: a gap longer than
    the shared coefficient table, so its own coefficients are computed.
    """
    rng = np.random.default_rng(3)
    n, d, lr, b1, b2, eps = 40, 8, 0.01, 0.9, 0.999, 1e-8
    assert 200 - 1 > K.SKIP_TABLE
    P0 = rng.standard_normal((n, d)).astype(np.float32)
    grads = []
    for t in range(1, steps + 1):
        G = np.zeros((n, d), np.float32)
        rows = set(rng.choice(np.arange(1, n), size=int(rng.integers(1, 8)), replace=False).tolist())
        if t in (1, 200):
            rows.add(0)
        rows = np.array(sorted(rows), np.int64)
        G[rows] = rng.standard_normal((len(rows), d))
        grads.append((rows, G))
    # reference: a dense Adam step over every row after every batch
    P, M, V = P0.astype(np.float64), np.zeros((n, d)), np.zeros((n, d))
    for t, (_, G) in enumerate(grads, 1):
        M = b1 * M + (1 - b1) * G
        V = b2 * V + (1 - b2) * G * G
        P -= lr * (M / (1 - b1 ** t)) / (np.sqrt(V / (1 - b2 ** t)) + eps)
    # ours: only touched rows per batch (global step t), the rest caught up at the end
    Q, Mq, Vq = P0.copy(), np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
    step = np.zeros(n, np.int64)
    for t, (rows, G) in enumerate(grads, 1):
        K._apply(Q, G.copy(), Mq, Vq, step, rows, len(rows), K.OPT_ADAM, lr, b1, b2, eps, 1, 0, t)
    K.catch_up(Q, Mq, Vq, step, steps, lr, b1, b2, eps, 1, 0)
    assert (step == steps).all()
    np.testing.assert_allclose(Q, P, rtol=0, atol=2e-5)
    assert np.abs(Q - P0).max() > 0.05  # rows did move
    # sparse updates differ: untouched rows stay where they were
    S, Ms, Vs = P0.copy(), np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
    step[:] = 0
    for rows, G in grads:
        K._apply(S, G.copy(), Ms, Vs, step, rows, len(rows), K.OPT_ADAM, lr, b1, b2, eps, 1, 0, 0)
    assert np.abs(S - P).max() > 1e-3


def test_skip_table_equals_the_coefficients_computed_one_gap_at_a_time():
    lr, b1, b2 = 0.01, 0.9, 0.999
    tab = np.zeros((K.SKIP_TABLE, 3))
    for T1 in (1, 2, 7, 127, 128, 129, 5000):
        n = K._skip_tables(T1, lr, b1, b2, tab)
        assert n == min(K.SKIP_TABLE, T1 + 1)
        for k in range(n):
            np.testing.assert_allclose(tab[k], K._skip_coefs(T1 - k, T1, lr, b1, b2), rtol=1e-9, atol=1e-15)
