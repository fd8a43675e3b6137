"""Fusion of ranked lists: reciprocal-rank fusion and convex combinations, on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from omnivec.errors import InputError
from omnivec.search import BM25, Neighbors, convex, rrf


def nb(rows, scores=None):
    """Neighbors from lists of keys (ids = a fixed id per key, so fused ids can be checked)."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), -1, np.int64)
    sc = np.full((len(rows), width), -np.inf, np.float32)
    for q, r in enumerate(rows):
        ids[q, :len(r)] = [ord(k) for k in r]
        sc[q, :len(r)] = scores[q] if scores is not None else np.arange(len(r), 0, -1)
    return Neighbors(ids, sc, [list(r) for r in rows])


def test_rrf_sums_reciprocal_ranks():
    a = nb([["x", "y", "z"]])
    b = nb([["y", "w"]])
    out = rrf([a, b], rank_constant=60)
    want = {"x": 1 / 61, "y": 1 / 62 + 1 / 61, "z": 1 / 63, "w": 1 / 62}
    assert out.keys[0] == ["y", "x", "w", "z"]
    np.testing.assert_allclose(out.scores[0], [want[k] for k in out.keys[0]], rtol=1e-6)
    assert out.ids[0].tolist() == [ord(k) for k in out.keys[0]]
    weighted = rrf([a, b], rank_constant=0, weights=[3, 1])
    # x: 3/1, y: 3/2 + 1/1, z: 3/3, w: 1/2
    assert weighted.keys[0] == ["x", "y", "z", "w"]
    np.testing.assert_allclose(weighted.scores[0], [3, 2.5, 1, 0.5], rtol=1e-6)
    assert rrf([a, b], k=2).keys[0] == ["y", "x"] and rrf([a, b], k=2).ids.shape == (1, 2)


def test_rrf_ties_keep_the_order_documents_were_first_met():
    out = rrf([nb([["p", "q"]]), nb([["q", "p"]])])
    assert out.keys[0] == ["p", "q"] and out.scores[0, 0] == out.scores[0, 1]


def test_convex_combines_minmax_normalised_scores():
    a = nb([["x", "y", "z"]], scores=[[10.0, 6.0, 2.0]])         # -> 1, 0.5, 0
    b = nb([["z", "w"]], scores=[[0.9, 0.7]])                     # -> 1, 0
    out = convex([a, b], alpha=0.25)
    want = {"x": 0.25, "y": 0.125, "z": 0.75, "w": 0.0}
    assert out.keys[0] == ["z", "x", "y", "w"]
    np.testing.assert_allclose(out.scores[0], [want[k] for k in out.keys[0]], atol=1e-7)
    raw = convex([a, b], weights=[1, 2], normalize="none")
    np.testing.assert_allclose(raw.scores[0], [10, 6, 2 + 1.8, 1.4], rtol=1e-6)
    assert raw.keys[0] == ["x", "y", "z", "w"]
    equal = convex([a, b])                                        # default: weights 1/2 each
    np.testing.assert_allclose(sorted(equal.scores[0].tolist(), reverse=True), [0.5, 0.5, 0.25, 0.0])
    one = convex([nb([["x"]], scores=[[3.0]])])                   # a single score normalises to 1
    assert one.scores[0].tolist() == [1.0]


def test_rows_of_different_lengths_and_empty_rows():
    a = nb([["x", "y"], []])
    b = nb([["y"], ["v"]])
    out = rrf([a, b])
    assert out.ids.shape == (2, 2)
    assert out.keys == [["y", "x"], ["v"]] and out.ids[1, 1] == -1 and np.isneginf(out.scores[1, 1])
    idx = BM25().fit(["wing", "flow"])
    empty = idx.search(["the", "wing"], k=2)
    fused = rrf([empty, empty])
    assert fused.keys == [[], [0]] and "stopwords" in fused.reasons[0] and fused.reasons[1] is None


def test_bad_input_is_named():
    a, b = nb([["x"]]), nb([["x"], ["y"]])
    with pytest.raises(InputError, match="different numbers of queries"):
        rrf([a, b])
    with pytest.raises(InputError, match="different numbers of queries"):
        convex([a, b])
    with pytest.raises(InputError, match="list of one or more Neighbors"):
        rrf([])
    with pytest.raises(InputError, match="list of one or more Neighbors"):
        rrf(a)
    with pytest.raises(InputError, match="result 1 is list"):
        rrf([a, [1, 2]])
    with pytest.raises(InputError, match="2 weights for 1 results"):
        rrf([a], weights=[1, 2])
    with pytest.raises(InputError, match="weight 0 is -1"):
        rrf([a], weights=[-1])
    with pytest.raises(InputError, match="rank_constant"):
        rrf([a], rank_constant=-5)
    with pytest.raises(InputError, match="alpha must be a number from 0 to 1"):
        convex([a, a], alpha=2)
    with pytest.raises(InputError, match="got 3 results"):
        convex([a, a, a], alpha=0.5)
    with pytest.raises(InputError, match="not both"):
        convex([a, a], alpha=0.5, weights=[1, 1])
    with pytest.raises(InputError, match="normalize must be one of"):
        convex([a, a], normalize="zscore")
    with pytest.raises(InputError, match="k must be an int >= 1"):
        rrf([a], k=0)
