"""The filtered evaluator against a brute-force reference, ties included, and its errors."""

import os

import numpy as np
import pytest

from kge_planted import DATA
from omnivec.errors import InputError, KeyNotFound
from omnivec.evaluate.linkpred import evaluate, evaluate_labels, rank_triples
from omnivec.learn.kge import KGE, load_triples


class TableModel:
    """A stand-in model whose scores are a fixed (head, relation, tail) table."""

    def __init__(self, S):
        self.S = S
        self.num_entities, self.num_relations = S.shape[0], S.shape[1]

    def score_tails(self, h, r):
        return self.S[h, r, :].astype(np.float32)

    def score_heads(self, r, t):
        return self.S[:, r, t].T.astype(np.float32)


def brute_force(S, test, known):
    known = {tuple(x) for x in np.concatenate([known, test])}
    ranks = []
    for h, r, t in test:
        for side in ("head", "tail"):
            cands = range(S.shape[0])
            if side == "tail":
                target = S[h, r, t]
                others = [S[h, r, e] for e in cands if e != t and (h, r, e) not in known]
            else:
                target = S[h, r, t]
                others = [S[e, r, t] for e in cands if e != h and (e, r, t) not in known]
            optimistic = 1 + sum(o > target for o in others)
            pessimistic = 1 + sum(o >= target for o in others)
            ranks.append((optimistic + pessimistic) / 2)
    ranks = np.array(ranks)
    return np.mean(1 / ranks), {k: np.mean(ranks <= k) for k in (1, 3, 10)}


@pytest.mark.parametrize("levels", [1000, 3])   # 3 score levels: many ties
def test_evaluator_matches_brute_force(levels):
    rng = np.random.default_rng(levels)
    n, m = 15, 3
    S = rng.integers(0, levels, size=(n, m, n)).astype(np.float32)
    all_triples = np.array([(h, r, t) for h in range(n) for r in range(m) for t in range(n)])
    pick = rng.choice(len(all_triples), size=120, replace=False)
    test, known = all_triples[pick[:40]], all_triples[pick[40:]]
    res = evaluate(TableModel(S), test, known=known, batch_size=7)
    mrr, hits = brute_force(S, test, known)
    assert res.mrr == pytest.approx(mrr, abs=1e-12)
    for k in (1, 3, 10):
        assert res.hits[k] == pytest.approx(hits[k], abs=1e-12)
    assert res.n == 40 and set(res.sides) == {"head", "tail"}


def test_batch_size_does_not_change_ranks():
    rng = np.random.default_rng(3)
    S = rng.normal(size=(12, 2, 12))
    test = np.array([[0, 0, 1], [2, 1, 3], [4, 0, 4], [5, 1, 0]])
    a = rank_triples(TableModel(S), test, batch_size=1)
    b = rank_triples(TableModel(S), test, batch_size=100)
    for side in a:
        np.testing.assert_array_equal(a[side], b[side])


def test_all_tied_scores_give_the_middle_rank():
    S = np.zeros((10, 1, 10))
    res = evaluate(TableModel(S), np.array([[0, 0, 1]]))
    # 10 candidates (minus the other filtered true answers: none) -> ranks 1..10, realistic 5.5
    assert res.mrr == pytest.approx(1 / 5.5)


def test_evaluate_on_a_trained_model_and_by_labels():
    ts = load_triples(os.path.join(DATA, "nations"))
    km = KGE("DistMult", 8, epochs=5, progress=False).fit(ts)
    res = evaluate(km, ts.splits["test"], known=ts.all_known())
    rows = [(ts.entities[h], ts.relations[r], ts.entities[t]) for h, r, t in ts.splits["test"]]
    known = [(ts.entities[h], ts.relations[r], ts.entities[t]) for h, r, t in ts.all_known()]
    res2, skipped = evaluate_labels(km, rows, known=known)
    assert skipped == 0 and res2.mrr == pytest.approx(res.mrr)
    with pytest.raises(KeyNotFound, match="atlantis"):
        evaluate_labels(km, rows + [("atlantis", rows[0][1], rows[0][2])])
    res3, skipped = evaluate_labels(km, rows + [("atlantis", rows[0][1], rows[0][2])], known=known,
                                    unknown="skip")
    assert skipped == 1 and res3.mrr == pytest.approx(res.mrr)


def test_evaluator_refuses_empty_or_out_of_range():
    S = np.zeros((4, 1, 4))
    with pytest.raises(InputError, match="empty"):
        evaluate(TableModel(S), np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(InputError, match="entity ids"):
        evaluate(TableModel(S), np.array([[0, 0, 9]]))
    with pytest.raises(InputError, match="shape"):
        evaluate(TableModel(S), np.array([0, 0, 1]))


def test_rotate_candidates_are_scored_exactly_also_when_relations_are_not_unit():
    """Scoring every head against one query is exact only for |r| = 1; other relations take the full score."""
    from omnivec import Embeddings
    from omnivec.learn.kge import KGModel, get_model

    rng = np.random.default_rng(5)
    d, n = 4, 7
    E = rng.normal(size=(n, 2 * d)).astype(np.float32)
    for scale in (1.0, 1.7):
        ph = rng.uniform(0, 2 * np.pi, (2, d))
        R = (scale * np.concatenate([np.cos(ph), np.sin(ph)], axis=1)).astype(np.float32)
        km = KGModel(Embeddings([f"e{i}" for i in range(n)], E, meta={"learner": "kge", "model": "RotatE", "dim": d, "p": 2}),
                     Embeddings(["r0", "r1"], R))
        heads = km.score_heads(np.array([0, 1]), np.array([3, 5]))
        tails = km.score_tails(np.array([3, 5]), np.array([0, 1]))
        score = get_model("RotatE").kernels.score
        for i, (r, a) in enumerate(((0, 3), (1, 5))):
            want_h = [score(2, E[x], R[r], E[a]) for x in range(n)]
            want_t = [score(2, E[a], R[r], E[x]) for x in range(n)]
            np.testing.assert_allclose(heads[i], want_h, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(tails[i], want_t, rtol=1e-5, atol=1e-5)
