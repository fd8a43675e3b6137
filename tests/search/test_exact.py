"""omnivec's one exact top-k (core.exact.topk_any) against a direct numpy oracle.

Every registered metric x every storage dtype x every shape the search takes
a different route for: one query (matrix-vector product), a few queries (the
fused scan, on one thread for small tables and with threads splitting the
rows for large ones), many queries (BLAS blocks), k past the table, k past the
running top-k's limit, allowed subsets, exclusions and a row limit.  The
oracle scores the decoded rows in float64; a result is right when its rows'
true scores equal the returned scores, are sorted, and reach the true k-th
best (tie-tolerant).
"""

from __future__ import annotations

import numpy as np
import pytest

from omnivec.core import exact
from omnivec.core.vectors import STORAGE, VectorStore
from omnivec.errors import DimensionError, InputError
from omnivec.metrics import METRICS, get_metric

N = 700


@pytest.fixture(scope="module")
def rows(glove_arrays) -> np.ndarray:
    _, vecs = glove_arrays
    X = vecs[:N].copy()
    X[5] = 0.0                   # a zero row: cosine scores it 0
    return X


def truth(store: VectorStore, metric, Q: np.ndarray) -> np.ndarray:
    """Return the oracle's (queries x rows) scores of every stored row, in float64."""
    D = store.decode(np.arange(len(store))).astype(np.float64)
    Q = Q.astype(np.float64)
    if store.dtype == "binary" and metric.sign_hamming:
        differ = (D[None, :, :] > 0) != (Q[:, None, :] > 0)
        return 1.0 - 2.0 * differ.mean(axis=2)
    dots = Q @ D.T
    if metric.name == "dot":
        return dots
    if metric.name == "euclidean":
        return -np.sqrt(np.maximum((Q * Q).sum(1)[:, None] - 2 * dots + (D * D).sum(1)[None, :], 0))
    if metric.name == "poincare":     # rows past the boundary stand for their projection to 1 - 1e-5
        def ball(x):
            n = np.linalg.norm(x, axis=1, keepdims=True)
            return np.where(n >= 1 - 1e-5, x * ((1 - 1e-5) / np.maximum(n, 1e-300)), x)
        Qb, Db = ball(Q), ball(D)
        sq = ((Qb[:, None, :] - Db[None, :, :]) ** 2).sum(axis=2)
        den = (1 - (Qb * Qb).sum(1))[:, None] * (1 - (Db * Db).sum(1))[None, :]
        return -np.arccosh(1 + 2 * sq / den)
    den = np.linalg.norm(Q, axis=1)[:, None] * np.linalg.norm(D, axis=1)[None, :]
    return np.divide(dots, den, out=np.zeros_like(dots), where=den > 0)


def check(store, metric, Q, k, ids, scores, *, allowed=None, exclude=None, limit=None):
    """Assert (ids, scores) are an exact top-k of the oracle under the given restrictions."""
    T = truth(store, metric, Q)
    n = len(store) if limit is None else min(limit, len(store))
    ok = np.zeros(T.shape, bool)
    ok[:, :n] = True
    if allowed is not None:
        ok &= allowed[None, :]
    if exclude is not None:
        for i, ex in enumerate(exclude):
            ok[i, [r for r in ex if 0 <= r < len(store)]] = False
    assert ids.shape == scores.shape == (len(Q), k)
    tol = 1e-4 * max(1.0, float(np.abs(T).max()))
    for i in range(len(Q)):
        eligible = np.flatnonzero(ok[i])
        m = min(k, len(eligible))
        got = ids[i, :m]
        assert (ids[i, m:] == -1).all() and np.isneginf(scores[i, m:]).all()
        assert len(set(got.tolist())) == m and ok[i, got].all()
        np.testing.assert_allclose(scores[i, :m], T[i, got], atol=tol)
        assert (np.diff(scores[i, :m]) <= tol).all()
        if m:
            kth = np.sort(T[i, eligible])[::-1][m - 1]
            assert (T[i, got] >= kth - tol).all()


def store_of(rows, storage) -> VectorStore:
    return VectorStore.encode(rows, storage)


def queries(rows, nq, seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), nq)
    return (rows[pick] + 0.3 * rows.std(axis=0) * rng.standard_normal((nq, rows.shape[1]))).astype(np.float32)


SHAPES = [(1, 10), (5, 10), (40, 10), (1, N + 50), (5, N + 50), (3, 600)]


@pytest.fixture(params=["small", "large"])
def route(request, monkeypatch):
    """'large' makes every table count as large: the threaded fused scan instead of the one-thread one."""
    if request.param == "large":
        monkeypatch.setattr(exact, "FUSED_ROWS", 0)
    return request.param


@pytest.mark.parametrize("storage", STORAGE.names())
@pytest.mark.parametrize("metric", METRICS.names())
@pytest.mark.parametrize("nq,k", SHAPES)
def test_topk_matches_the_oracle(rows, storage, metric, nq, k, route):
    store, m = store_of(rows, storage), get_metric(metric)
    Q = queries(rows, nq)
    ids, scores = exact.topk_any(store, m, Q, k)
    check(store, m, Q, k, ids, scores)


@pytest.mark.parametrize("storage", STORAGE.names())
@pytest.mark.parametrize("metric", METRICS.names())
@pytest.mark.parametrize("nq", [1, 5, 40])
def test_allowed_exclude_and_limit(rows, storage, metric, nq, route):
    store, m = store_of(rows, storage), get_metric(metric)
    Q = queries(rows, nq, seed=nq)
    rng = np.random.default_rng(nq)
    allowed = rng.random(N) < 0.1
    exclude = [rng.choice(N, 3, replace=False).tolist() + [-1, N + 5] for _ in range(nq)]
    ids, scores = exact.topk_any(store, m, Q, 15, allowed, exclude=exclude)
    check(store, m, Q, 15, ids, scores, allowed=allowed, exclude=exclude)
    # excluding each query's own best rows hands back the next ones
    first, _ = exact.topk_any(store, m, Q, 4)
    ids, scores = exact.topk_any(store, m, Q, 6, exclude=first.tolist(), limit=300)
    check(store, m, Q, 6, ids, scores, exclude=first.tolist(), limit=300)
    # a mask that lets nothing through finds nothing
    ids, scores = exact.topk_any(store, m, Q, 3, np.zeros(N, bool))
    assert (ids == -1).all() and np.isneginf(scores).all()


@pytest.mark.parametrize("storage", ["float32", "float16", "int8"])
@pytest.mark.parametrize("nq", [1, 5, 40])
def test_ties_go_to_the_lower_row(storage, nq, route):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 16)).astype(np.float32)
    X = np.tile(base, (500, 1))                 # row r equals row r % 4
    store, m = store_of(X, storage), get_metric("dot")
    Q = np.tile(base[:1], (nq, 1))
    ids, _ = exact.topk_any(store, m, Q, 5)
    best = int(np.argmax(store.decode(np.arange(4)) @ base[0]))
    assert (ids == best + 4 * np.arange(5)).all()


def test_trimmed_topk_and_empty_inputs(rows):
    store, m = store_of(rows, "float32"), get_metric("cosine")
    Q = queries(rows, 2)
    ids, scores = exact.topk(store, m, Q, 5, exclude=[[], list(range(N - 2))])
    assert ids.shape == (2, 2)                  # the second query has only two rows left
    assert exact.topk_any(store, m, Q, 0)[0].shape == (2, 0)
    assert exact.topk_any(store, m, Q[:0], 5)[0].shape == (0, 5)


def test_bad_input_is_refused(rows):
    store, m = store_of(rows, "float32"), get_metric("cosine")
    with pytest.raises(DimensionError, match="50 dims"):
        exact.topk_any(store, m, np.zeros((2, 49), np.float32), 3)
    with pytest.raises(InputError, match="k must be"):
        exact.topk_any(store, m, np.zeros((2, 50), np.float32), -1)
    with pytest.raises(InputError, match="exclude lists rows for 1 queries; there are 2"):
        exact.topk_any(store, m, np.zeros((2, 50), np.float32), 3, exclude=[[1]])
    with pytest.raises(DimensionError, match="allowed mask"):
        exact.topk_any(store, m, np.zeros((2, 50), np.float32), 3, np.ones(10, bool))


@pytest.mark.parametrize("storage", ["float32", "int8"])
def test_every_caller_gets_the_same_answer(glove, storage):
    """Embeddings.search, most_similar, the flat index and the explorer's k-NN agree."""
    from omnivec.explore import layout
    from omnivec.search import build_index

    emb = glove.astype(storage)
    key = "king"
    hits = emb.search(key, 8)
    pairs = emb.most_similar(key, topn=8)
    assert list(hits.keys[0]) == [k for k, _ in pairs]
    np.testing.assert_allclose(hits.scores[0], [s for _, s in pairs], rtol=1e-6)
    flat = build_index(emb, "flat", show_progress=False).search(emb[key][None, :], 9)
    assert list(flat.keys[0][1:]) == list(hits.keys[0])
    if storage == "float32":
        r, _ = layout.knn(emb.vectors, emb[key][None, :], 9, "cosine", engine="exact")
        assert [emb.key(i) for i in r[0][1:]] == list(hits.keys[0])


def test_many_queries_through_embeddings(glove, glove_queries):
    hits = glove.search(glove_queries, 10)
    check(glove.store, get_metric("cosine"), glove_queries, 10, hits.ids, hits.scores)


def test_a_reranking_copy_rescores_exactly(rows):
    store = VectorStore.encode(rows, "int8").astype("int8", rerank="float16")
    m = get_metric("dot")
    Q = queries(rows, 4)
    ids, scores = exact.topk_any(store, m, Q, 5)
    T = Q.astype(np.float64) @ store.rerank.astype(np.float64).T
    for i in range(4):
        np.testing.assert_allclose(scores[i], T[i, ids[i]], rtol=1e-5, atol=1e-4)
        assert (np.diff(scores[i]) <= 1e-6).all()
