"""index_recall: an index's recall@k against exact search, checked against a numpy oracle.

Real vectors: tests/data/glove6b50d_top2100.npz (the 2,100 most frequent
GloVe 6B 50d words).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError
from omnivec.evaluate.recall import index_recall
from omnivec.search import build_index

DATA = Path(__file__).resolve().parents[1] / "data" / "glove6b50d_top2100.npz"


@pytest.fixture(scope="module")
def emb():
    data = np.load(DATA)
    return omnivec.Embeddings([str(k) for k in data["keys"]], data["vectors"].astype(np.float32))


def _cosine(Q: np.ndarray, V: np.ndarray) -> np.ndarray:
    Q = Q.astype(np.float64)
    V = V.astype(np.float64)
    return (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (V / np.linalg.norm(V, axis=1, keepdims=True)).T


def _oracle_recall(emb, ids: np.ndarray, rows: np.ndarray, k: int) -> float:
    S = _cosine(emb.vectors[rows], emb.vectors)
    kth = np.sort(S, axis=1)[:, -k][:, None]
    got = np.take_along_axis(S, ids, axis=1)
    return float((got >= kth - 1e-5).sum() / ids.size)


def test_an_exact_index_has_recall_one(emb):
    res = index_recall(build_index(emb, "flat"), k=10, queries=200, seed=1)
    assert res["recall"] == 1.0
    assert (res["backend"], res["k"], res["queries"]) == ("flat", 10, 200)
    assert res["index_qps"] > 0 and res["exact_qps"] > 0


def test_recall_of_an_approximate_index_matches_the_oracle(emb):
    pytest.importorskip("usearch")
    idx = build_index(emb, "hnsw", M=4, ef_construction=8)
    res = index_recall(idx, k=10, queries=300, seed=3, params={"ef": 10})
    rows = np.sort(np.random.default_rng(3).choice(len(emb), 300, replace=False))
    found = idx.search(emb.vectors[rows], 10, ef=10)
    assert res["recall"] == pytest.approx(_oracle_recall(emb, found.ids, rows, 10), abs=1e-9)
    assert res["search_params"]["ef"] == 10
    assert 0.0 < res["recall"] <= 1.0


def test_a_table_with_an_attached_index(emb):
    table = emb.replace()
    with pytest.raises(InputError, match="needs an index"):
        index_recall(table)
    table.attach(build_index(table, "flat"))
    assert index_recall(table, k=5, queries=50)["recall"] == 1.0


def test_bad_arguments_are_refused(emb):
    idx = build_index(emb, "flat")
    for bad in ({"k": 0}, {"queries": 0}, {"k": 2.5}, {"k": True}):
        with pytest.raises(InputError, match="must be an integer of at least 1"):
            index_recall(idx, **bad)
    with pytest.raises(InputError, match="takes an index or a table"):
        index_recall([1, 2, 3])


def test_exact_search_and_rescore_agree_with_numpy(emb):
    idx = build_index(emb, "flat")
    Q = emb.vectors[[0, 7, 99]]
    exact = idx.search(Q, 5, exact=True)
    S = _cosine(Q, emb.vectors)
    assert np.array_equal(exact.ids, np.argsort(-S, axis=1, kind="stable")[:, :5])
    scores = idx.rescore(Q, exact.ids)
    assert np.allclose(scores, np.take_along_axis(S, exact.ids, axis=1), atol=1e-5)
    none = idx.rescore(Q, np.full((3, 2), -1))
    assert np.isneginf(none).all()
    with pytest.raises(InputError, match="ids run from -1"):
        idx.rescore(Q, np.full((3, 1), len(emb)))
    with pytest.raises(InputError, match="one row per query"):
        idx.rescore(Q, np.zeros((2, 1), np.int64))
