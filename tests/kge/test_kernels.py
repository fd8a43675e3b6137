"""Conformance of every registered KGE model, loss, regulariser and optimiser.

Each family is checked against a numpy oracle kept in a table here: a new
registry entry needs one oracle line, and the meta-test below fails while it
has none.  Models: score against the published formula, gradients (through
the relation forms) against finite differences, the query form against the
full score and gradients, every candidate's score and the filtered ranks
against brute force.  Losses and regularisers: value and score gradients
against the oracle.  Optimisers: lazily caught-up dense steps against a step
of every row after every batch.
"""

import numpy as np
import pytest

from omnivec.learn.kge import KGModel, LOSSES, MODELS, OPTIMIZERS, REGULARIZERS
from omnivec.learn.kge._kernels import optimizers as KO
from omnivec.learn.kge._kernels.scores import dihedral
from omnivec.learn.kge.ranking import filtered_mrr, rank_triples


# -- oracles -------------------------------------------------------------------------------------
def _cplx(v):
    d = len(v) // 2
    return v[:d] + 1j * v[d:]


def _ham(p, q):
    a1, b1, c1, d1 = p
    a2, b2, c2, d2 = q
    return np.array([a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2, a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                     a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2, a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2])


def _dihedral(p, h, r, t):
    return sum(h[2 * b:2 * b + 2] @ r[4 * b:4 * b + 4].reshape(2, 2) @ t[2 * b:2 * b + 2]
               for b in range(len(h) // 2))


def _trans(p, h, r, t):
    d = len(h) // 2
    he, ha, te, ta = h[:d], h[d:], t[:d], t[d:]
    return -np.abs(he * (ta + 1.0) - te * (ha + 1.0) + r[:d] * he + r[d:2 * d] + r[2 * d:] * te).sum()


# score(p, h, r, t) of inference-form vectors, as published
SCORE_ORACLES = {
    "TransE": lambda p, h, r, t: -np.linalg.norm(h + r - t, ord=p),
    "DistMult": lambda p, h, r, t: np.sum(h * r * t),
    "ComplEx": lambda p, h, r, t: np.real(np.sum(_cplx(h) * _cplx(r) * np.conj(_cplx(t)))),
    "RotatE": lambda p, h, r, t: -np.linalg.norm(np.abs(_cplx(h) * _cplx(r) - _cplx(t)), ord=p),
    "QuatE": lambda p, h, r, t: np.sum(_ham(h.reshape(4, -1), r.reshape(4, -1)) * t.reshape(4, -1)),
    "DihEdral": _dihedral,
    "TranS": _trans,
}


def _softplus(x):
    return np.logaddexp(0.0, x)


def _nssa(spos, sneg, margin, adv, weights_of):
    w = np.exp(adv * weights_of - np.max(adv * weights_of))
    w /= w.sum()
    return 0.5 * (_softplus(-(margin + spos)) + np.sum(w * _softplus(sneg + margin)))


# loss of one positive score and its negatives' scores (before the 1 / batch size);
# weights_of: the scores the self-adversarial weights are taken from (held constant in the gradient)
LOSS_ORACLES = {
    "margin": lambda spos, sneg, margin, adv, weights_of: np.mean(np.maximum(0.0, margin - spos + sneg)),
    "softplus": lambda spos, sneg, margin, adv, weights_of: (_softplus(-spos) + _softplus(sneg).sum())
    / (1 + len(sneg)),
    "nssa": _nssa,
}

# penalty of one row (before the weight); None: the entry has no kernel, nothing is penalised
REG_ORACLES = {
    "none": None,
    "l2": lambda x: np.sum(x * x),
    "n3": lambda x: np.sum(np.abs(x) ** 3),
}


def _sgd(P, M, V, G, t, lr, b1, b2, eps):
    return P - lr * G, M, V


def _adagrad(P, M, V, G, t, lr, b1, b2, eps):
    V = V + G * G
    return P - lr * G / (np.sqrt(V) + eps), M, V


def _adam(P, M, V, G, t, lr, b1, b2, eps):
    M = b1 * M + (1 - b1) * G
    V = b2 * V + (1 - b2) * G * G
    return P - lr * (M / (1 - b1 ** t)) / (np.sqrt(V / (1 - b2 ** t)) + eps), M, V


# one dense step of every row at step t: (P, M, V, G, t, lr, beta1, beta2, eps) -> (P, M, V)
OPT_ORACLES = {"sgd": _sgd, "adagrad": _adagrad, "adam": _adam}


@pytest.mark.parametrize("registry,table", [(MODELS, SCORE_ORACLES), (LOSSES, LOSS_ORACLES),
                                            (REGULARIZERS, REG_ORACLES), (OPTIMIZERS, OPT_ORACLES)],
                         ids=["models", "losses", "regularizers", "optimizers"])
def test_every_registered_member_has_an_oracle(registry, table):
    assert sorted(registry.names()) == sorted(table), f"give every registered {registry.family} an oracle here"


# -- models --------------------------------------------------------------------------------------
def _forms(spec, rp, dro, tau):
    """(inference form of width dro, aux) of training-form relation parameters rp."""
    ri, aux = np.zeros(dro), np.zeros(len(rp))
    spec.kernels.rel_forward(rp, tau, False, np.ones(1, np.uint64), ri, aux)
    return ri, aux


def _vectors(spec, rng, dim=6):
    de, dr, dro = spec.widths(dim)
    return rng.normal(size=de), rng.normal(size=dr), rng.normal(size=de), dro


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("p", [1, 2])
def test_score_is_the_published_formula(name, p):
    spec = MODELS.get(name)
    rng = np.random.default_rng(1)
    de, _, dro = spec.widths(6)
    h, r, t = rng.normal(size=de), rng.normal(size=dro), rng.normal(size=de)
    assert spec.kernels.score(p, h, r, t) == pytest.approx(SCORE_ORACLES[name](p, h, r, t), rel=1e-10)


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("p", [1, 2])
def test_gradient_matches_finite_differences(name, p):
    spec = MODELS.get(name)
    K = spec.kernels
    rng = np.random.default_rng(7)
    h, rp, t, dro = _vectors(spec, rng)
    tau = 1.3

    def score(h, rp, t):
        ri, _ = _forms(spec, rp, dro, tau)
        return K.score(p, h, ri, t)

    ri, aux = _forms(spec, rp, dro, tau)
    gh, gri, gt, gr = np.zeros_like(h), np.zeros(dro), np.zeros_like(t), np.zeros_like(rp)
    K.grad(p, h, ri, t, 2.0, gh, gri, gt)
    K.rel_backward(rp, ri, gri, aux, tau, gr)
    for which, got in ((0, gh), (1, gr), (2, gt)):
        args = [h, rp, t]
        num = np.zeros_like(args[which])
        for i in range(len(num)):
            up, dn = [a.copy() for a in args], [a.copy() for a in args]
            up[which][i] += 1e-6
            dn[which][i] -= 1e-6
            num[i] = (score(*up) - score(*dn)) / 2e-6
        np.testing.assert_allclose(got, 2.0 * num, atol=1e-5, err_msg=f"{name} argument {which}")


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("tail", [True, False])
def test_query_of_the_fixed_side_gives_the_full_score_and_gradients(name, p, tail):
    """Training scores negatives against one query per positive: same score, same parameter gradients."""
    spec = MODELS.get(name)
    K = spec.kernels
    if not K.HAS_QUERY:
        pytest.skip(f"{name} has no query form: training scores every triple in full")
    rng = np.random.default_rng(11)
    h, rp, t, dro = _vectors(spec, rng)
    ri, aux = _forms(spec, rp, dro, 1.0)
    fixed, x = (h, t) if tail else (t, h)
    q = np.zeros_like(h)
    K.make_query(tail, fixed, ri, q)
    assert K.score_query(p, x, q) == pytest.approx(K.score(p, h, ri, t), rel=1e-12)
    # full path
    gh, gri, gt, gr = np.zeros_like(h), np.zeros(dro), np.zeros_like(t), np.zeros_like(rp)
    K.grad(p, h, ri, t, 1.5, gh, gri, gt)
    K.rel_backward(rp, ri, gri, aux, 1.0, gr)
    # query path: gradient to x and the query, then the query's to the fixed side and relation
    gx, gq, gf, gri2, gr2 = (np.zeros_like(h), np.zeros_like(h), np.zeros_like(h), np.zeros(dro),
                             np.zeros_like(rp))
    K.grad_query(p, x, q, 1.5, gx, gq)
    K.query_backward(tail, fixed, ri, gq, gf, gri2)
    K.rel_backward(rp, ri, gri2, aux, 1.0, gr2)
    want_x, want_f = (gt, gh) if tail else (gh, gt)
    np.testing.assert_allclose(gx, want_x, atol=1e-12)
    np.testing.assert_allclose(gf, want_f, atol=1e-12)
    np.testing.assert_allclose(gr2, gr, atol=1e-12)   # RotatE: equal on the phases (|r| = 1)


def _random_model(spec, rng, n_ent=30, n_rel=3, dim=4, p=2):
    de, dr, dro = spec.widths(dim)
    E, R = spec.init(n_ent, n_rel, dim, rng)
    Rinf = spec.relation_table()(R, dro, 1.0)
    meta = {"learner": "kge", "model": spec.name, "dim": dim, "p": p}
    from omnivec import Embeddings
    return KGModel(Embeddings([f"e{i}" for i in range(n_ent)], E, meta=meta),
                   Embeddings([f"r{i}" for i in range(n_rel)], Rinf)), E.astype(np.float64), Rinf.astype(np.float64)


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("p", [1, 2])
def test_candidate_scores_and_filtered_ranks_match_brute_force(name, p):
    spec = MODELS.get(name)
    rng = np.random.default_rng(13)
    km, E, R = _random_model(spec, rng, p=p)
    n = len(E)
    oracle = SCORE_ORACLES[name]
    triples = np.array([[rng.integers(n), rng.integers(3), rng.integers(n)] for _ in range(12)], np.int64)
    known = np.concatenate([triples, np.array([[h, r, (t + 1) % n] for h, r, t in triples])])
    tails = km.score_tails(triples[:, 0], triples[:, 1])
    heads = km.score_heads(triples[:, 1], triples[:, 2])
    for i, (h, r, t) in enumerate(triples):
        want_t = np.array([oracle(p, E[h], R[r], E[x]) for x in range(n)])
        want_h = np.array([oracle(p, E[x], R[r], E[t]) for x in range(n)])
        np.testing.assert_allclose(tails[i], want_t, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(heads[i], want_h, rtol=1e-4, atol=1e-4)
    got = rank_triples(km, triples, known=known)
    ks = {tuple(x) for x in known.tolist()}
    for i, (h, r, t) in enumerate(triples):
        for side, scores, target, other in (("tail", tails[i], t, lambda x: (h, r, x)),
                                            ("head", heads[i], h, lambda x: (x, r, t))):
            keep = [x for x in range(n) if x == target or other(x) not in ks]
            s = scores[keep]
            st = scores[target]
            want = (1 + np.sum(s > st), np.sum(s >= st))
            assert tuple(got[side][i]) == want, f"{name} {side} of triple {i}"
    both = np.concatenate([got["head"].mean(1), got["tail"].mean(1)])
    assert filtered_mrr(km, triples, known=known) == pytest.approx(np.mean(1.0 / both))


def test_dihedral_elements_form_the_group_d4():
    mats = [dihedral.D4[i].reshape(2, 2) for i in range(8)]
    keys = {tuple(m.ravel()) for m in mats}
    assert len(keys) == 8
    for a in mats:
        for b in mats:
            assert tuple((a @ b).ravel()) in keys   # closed under composition
    rot90 = mats[2]
    np.testing.assert_allclose(np.linalg.matrix_power(rot90, 4), np.eye(2))
    for m in mats[1::2]:
        np.testing.assert_allclose(m @ m, np.eye(2))   # reflections are involutions


def test_quaternion_oracle_is_the_hamilton_product():
    # i*j = k, j*k = i, k*i = j: the defining products of the quaternions
    e = np.eye(4)
    np.testing.assert_allclose(_ham(e[1], e[2]), e[3])
    np.testing.assert_allclose(_ham(e[2], e[3]), e[1])
    np.testing.assert_allclose(_ham(e[3], e[1]), e[2])


# -- losses and regularisers ------------------------------------------------------------------------
@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_value_and_score_gradients_match_the_oracle(name):
    rng = np.random.default_rng(17)
    oracle = LOSS_ORACLES[name]
    spos, sneg = float(rng.normal()), rng.normal(size=6)
    margin, adv, bsz, acc0 = 0.7, 1.3, 4, 0.25
    cneg = np.zeros_like(sneg)
    acc, cpos = LOSSES.get(name).kernel(acc0, spos, sneg, cneg, bsz, margin, adv)
    assert acc - acc0 == pytest.approx(oracle(spos, sneg, margin, adv, sneg) / bsz, rel=1e-10)
    eps = 1e-6
    f = lambda sp, sn: oracle(sp, sn, margin, adv, sneg) / bsz  # noqa: E731
    assert cpos == pytest.approx((f(spos + eps, sneg) - f(spos - eps, sneg)) / (2 * eps), abs=1e-7)
    for j in range(len(sneg)):
        up, dn = sneg.copy(), sneg.copy()
        up[j] += eps
        dn[j] -= eps
        assert cneg[j] == pytest.approx((f(spos, up) - f(spos, dn)) / (2 * eps), abs=1e-7), f"negative {j}"


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_regularizer_value_and_gradient_match_the_oracle(name):
    entry = REGULARIZERS.get(name)
    oracle = REG_ORACLES[name]
    if oracle is None:
        assert entry.kernel is None   # nothing to run: the training loop skips the penalty
        return
    rng = np.random.default_rng(19)
    x, w = rng.normal(size=9), 0.3
    g = np.full_like(x, 0.5)
    assert entry.kernel(x, g, w) == pytest.approx(w * oracle(x), rel=1e-10)
    num = np.array([(oracle(x + e) - oracle(x - e)) / 2e-6 for e in np.eye(len(x)) * 1e-6])
    np.testing.assert_allclose(g - 0.5, w * num, rtol=1e-6, atol=1e-8)


# -- optimisers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", OPTIMIZERS.names())
@pytest.mark.parametrize("steps", [60, 300])
def test_dense_steps_caught_up_lazily_equal_a_step_of_every_row_after_every_batch(name, steps):
    """Rows a batch skips take the zero-gradient steps when next touched: the same as updating every row.

    With 300 steps row 0 is touched at steps 1 and 200 only: a gap longer than
    Adam's shared coefficient table, so its own coefficients are computed.
    """
    opt = OPTIMIZERS.get(name)
    rng = np.random.default_rng(3)
    n, d, lr, b1, b2, eps = 40, 8, 0.01, opt.beta1, opt.beta2, opt.eps
    assert 200 - 1 > KO.SKIP_TABLE
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
    # reference: a dense step over every row after every batch
    P, M, V = P0.astype(np.float64), np.zeros((n, d)), np.zeros((n, d))
    for t, (_, G) in enumerate(grads, 1):
        P, M, V = OPT_ORACLES[name](P, M, V, G.astype(np.float64), t, lr, b1, b2, eps)
    # ours: only touched rows per batch (global step t), the rest caught up at the end
    Q, Mq, Vq = P0.copy(), np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
    step = np.zeros(n, np.int64)
    for t, (rows, G) in enumerate(grads, 1):
        opt.kernel(Q, G.copy(), Mq, Vq, step, rows, len(rows), lr, b1, b2, eps, 1, 0, t)
    opt.catch_up(Q, Mq, Vq, step, steps, lr, b1, b2, eps, 1, 0)
    np.testing.assert_allclose(Q, P, rtol=0, atol=2e-5)
    assert np.abs(Q - P0).max() > 2 * lr  # rows did move, more than one step


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_updates_clear_the_gradients_and_keep_masked_blocks_unit_norm(name):
    opt = OPTIMIZERS.get(name)
    rng = np.random.default_rng(5)
    P = rng.standard_normal((5, 6)).astype(np.float32)
    G = rng.standard_normal((5, 6)).astype(np.float32)
    M, V, step = np.zeros_like(P), np.zeros_like(P), np.zeros(5, np.int64)
    rows = np.array([1, 3], np.int64)
    before = P.copy()
    opt.kernel(P, G, M, V, step, rows, 2, 0.1, opt.beta1, opt.beta2, opt.eps, 2, 0b01, 0)
    assert (G[rows] == 0).all() and (G[[0, 2, 4]] != 0).all()
    np.testing.assert_array_equal(P[[0, 2, 4]], before[[0, 2, 4]])
    np.testing.assert_allclose(np.linalg.norm(P[rows, :3], axis=1), 1.0, rtol=1e-6)  # the masked block
    assert list(step) == [0, 1, 0, 1, 0]


def test_sparse_adam_leaves_untouched_rows_where_they_were():
    opt = OPTIMIZERS.get("adam")
    rng = np.random.default_rng(3)
    P0 = rng.standard_normal((6, 4)).astype(np.float32)
    S, M, V, step = P0.copy(), np.zeros_like(P0), np.zeros_like(P0), np.zeros(6, np.int64)
    for _ in range(5):
        G = np.zeros_like(P0)
        G[0] = rng.standard_normal(4)
        opt.kernel(S, G, M, V, step, np.array([0], np.int64), 1, 0.01, 0.9, 0.999, 1e-8, 1, 0, 0)
    np.testing.assert_array_equal(S[1:], P0[1:])
    assert list(step) == [5, 0, 0, 0, 0, 0]


def test_skip_table_equals_the_coefficients_computed_one_gap_at_a_time():
    lr, b1, b2 = 0.01, 0.9, 0.999
    tab = np.zeros((KO.SKIP_TABLE, 3))
    for T1 in (1, 2, 7, 127, 128, 129, 5000):
        n = KO.skip_tables(T1, lr, b1, b2, tab)
        assert n == min(KO.SKIP_TABLE, T1 + 1)
        for k in range(n):
            np.testing.assert_allclose(tab[k], KO.skip_coefs(T1 - k, T1, lr, b1, b2), rtol=1e-9, atol=1e-15)
