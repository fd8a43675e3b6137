"""Every registered metric against a direct numpy oracle: a new metric gets these tests by registering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.metrics import METRICS, Metric, get_metric

DATA = Path(__file__).parent / "data" / "glove6b50d_top2100.npz"


def _cos(a, b):
    return (a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))


def _into_ball(x, eps=1e-5):
    """The point a Poincaré table stands for: rows at or past the boundary at norm 1 - eps."""
    n = np.linalg.norm(x)
    return x * ((1 - eps) / n) if n >= 1 - eps else x


def _poincare(a, b):
    a, b = _into_ball(a), _into_ball(b)
    return np.arccosh(1 + 2 * np.sum((a - b) ** 2) / ((1 - a @ a) * (1 - b @ b)))


#: the metric's score of two vectors, written the obvious way (one entry per registered metric)
ORACLES = {
    "cosine": _cos,
    "dot": lambda a, b: a @ b,
    "euclidean": lambda a, b: -np.linalg.norm(a - b),
    "poincare": lambda a, b: -_poincare(a, b),
}
DISTANCES = {
    "cosine": lambda a, b: 1 - _cos(a, b),
    "dot": lambda a, b: -(a @ b),
    "euclidean": lambda a, b: np.linalg.norm(a - b),
    "poincare": _poincare,
}


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    v = np.load(DATA, allow_pickle=False)["vectors"][:300].astype(np.float64)
    v[7] = 0.0                      # a zero row: cosine must not divide by zero
    v[8] *= 25.0                    # a long row: dot and euclidean must feel the length
    return v


def test_every_registered_metric_has_an_oracle():
    assert sorted(ORACLES) == sorted(METRICS.names()) == sorted(DISTANCES)


@pytest.mark.parametrize("name", METRICS.names())
def test_scores_match_the_oracle(name, vectors):
    m = get_metric(name)
    rows, Q = vectors[:200], vectors[200:205]
    want = np.array([[ORACLES[name](r, q) if np.linalg.norm(r) else 0.0 for q in Q] for r in rows])
    if name != "cosine":
        want = np.array([[ORACLES[name](r, q) for q in Q] for r in rows])
    got = m.scores((rows @ Q.T).astype(np.float32), np.linalg.norm(rows, axis=1).astype(np.float32),
                   np.linalg.norm(Q, axis=1).astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)
    pairs = m.pair_scores(rows[:5], Q)
    np.testing.assert_allclose(pairs, np.diag(want[:5]), rtol=2e-4, atol=2e-3)
    np.testing.assert_allclose(m.to_distance(pairs),
                               [DISTANCES[name](r, q) if np.linalg.norm(r) or name != "cosine" else 1.0
                                for r, q in zip(rows[:5], Q)], rtol=2e-4, atol=2e-3)


@pytest.mark.parametrize("name", METRICS.names())
def test_selection_keys_rank_rows_as_the_scores_do(name, vectors):
    """The per-row (scale, bias) compiled top-k kernels compare, and the way back to scores."""
    m = get_metric(name)
    rows, Q = vectors[:250].astype(np.float32), vectors[250:260].astype(np.float32)
    norms, qn = np.linalg.norm(rows, axis=1).astype(np.float32), np.linalg.norm(Q, axis=1).astype(np.float32)
    scale, bias = m.selection(norms)
    scores = m.scores((rows @ Q.T).astype(np.float32), norms, qn).T
    if not m.row_keys:
        # no per-row keys: exact search folds the metric's scores as keys, so the selection must
        # be the identity and finish must hand the scores back unchanged
        np.testing.assert_array_equal(scale, 1.0)
        np.testing.assert_array_equal(bias, 0.0)
        np.testing.assert_array_equal(m.finish(scores, qn), scores)
        return
    keys = (Q @ rows.T) * scale[None, :] + bias[None, :]          # (queries x rows)
    for i in range(len(Q)):
        np.testing.assert_array_equal(np.argsort(-keys[i], kind="stable")[:20],
                                      np.argsort(-scores[i], kind="stable")[:20])
    np.testing.assert_allclose(m.finish(keys, qn), scores, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name", METRICS.names())
def test_engine_space_and_prepared_vectors_give_the_metric_scores(name, vectors):
    """What FAISS/usearch compute on prepared vectors turns back into the metric's scores."""
    m = get_metric(name)
    rows, q = vectors[:50].astype(np.float32), vectors[60:61].astype(np.float32)
    if not m.space:        # no engine searches this geometry: its scores are refused, not guessed
        with pytest.raises(omnivec.InputError, match=name):
            m.engine_scores(np.ones(3, np.float32))
        return
    P, Pq = m.prepare(rows), m.prepare(q)
    assert P.dtype == np.float32 and P.flags.c_contiguous
    raw = (P @ Pq[0]) if m.space == "ip" else ((P - Pq[0]) ** 2).sum(axis=1)
    want = np.array([ORACLES[name](r, q[0]) if np.linalg.norm(r) or name != "cosine" else 0.0
                     for r in rows.astype(np.float64)])
    np.testing.assert_allclose(m.engine_scores(raw.astype(np.float32)), want, rtol=2e-4, atol=2e-3)


@pytest.mark.parametrize("name", METRICS.names())
def test_a_table_searches_by_its_metric(name, vectors):
    keys = [f"w{i}" for i in range(len(vectors))]
    emb = omnivec.Embeddings(keys, vectors.astype(np.float32), metric=name)
    q = vectors[3].astype(np.float32)
    stored = vectors.astype(np.float32).astype(np.float64)     # the rows as the table holds them
    want = np.array([ORACLES[name](r, q.astype(np.float64)) if np.linalg.norm(r) or name != "cosine" else 0.0
                     for r in stored])
    top = emb.search(q, 5)
    np.testing.assert_allclose(np.sort(want)[::-1][:5], top.scores[0], rtol=2e-4, atol=2e-3)


def test_names_normalise_and_metric_objects_pass_through():
    assert get_metric("Inner-Product") is get_metric("dot")
    assert get_metric(get_metric("l2")) is get_metric("euclidean")
    assert isinstance(get_metric("cos"), Metric) and len({m.code for _, m in METRICS.items()}) == len(METRICS.names())
    with pytest.raises(omnivec.UnknownNameError, match="cosine, dot, euclidean, poincare"):
        get_metric("manhattan")
