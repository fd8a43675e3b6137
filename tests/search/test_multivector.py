"""MultiVectors: ragged input, exact MaxSim against a numpy loop, files, pruning."""

from __future__ import annotations


import numpy as np
import pytest
from fresh_process import run_python

import omnivec
from omnivec.embeddings import Embeddings
from omnivec.errors import DimensionError, DuplicateKeyError, FormatError, InputError, KeyNotFound
from omnivec.search.multivector import MultiVectors


def ragged(n=40, dim=12, most=9, seed=0, unit=True):
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        x = rng.standard_normal((int(rng.integers(1, most + 1)), dim)).astype(np.float32)
        sets.append(x / np.linalg.norm(x, axis=1, keepdims=True) if unit else x)
    return [f"doc{i}" for i in range(n)], sets


def brute_maxsim(queries, docs):
    out = np.zeros((len(queries), len(docs)))
    for i, q in enumerate(queries):
        for j, d in enumerate(docs):
            total = 0.0
            for qv in q:
                total += max(float(np.dot(qv.astype(np.float64), dv.astype(np.float64))) for dv in d)
            out[i, j] = total
    return out


def brute_topk(S, k):
    # best first, ties to the lower row
    return np.array([sorted(range(S.shape[1]), key=lambda j: (-S[i, j], j))[:k] for i in range(len(S))])


@pytest.fixture
def data():
    keys, docs = ragged()
    rng = np.random.default_rng(5)
    queries = [rng.standard_normal((int(rng.integers(1, 6)), 12)).astype(np.float32) for _ in range(9)]
    return keys, docs, queries


def test_search_ranks_by_maxsim_as_a_numpy_loop_does(data):
    keys, docs, queries = data
    mv = MultiVectors.from_ragged(keys, docs)
    S = brute_maxsim(queries, docs)
    found = mv.search(queries, k=7)
    assert found.ids.shape == (9, 7)
    np.testing.assert_array_equal(found.ids, brute_topk(S, 7))
    np.testing.assert_allclose(found.scores, np.take_along_axis(S, found.ids, 1), rtol=1e-5, atol=1e-5)
    assert found.keys[0] == [keys[j] for j in found.ids[0]]
    np.testing.assert_allclose(mv.maxsim(queries), S, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mv.maxsim(queries, keys=["doc3", "doc0"]), S[:, [3, 0]], rtol=1e-5, atol=1e-5)


def test_the_exact_scan_in_small_blocks_gives_the_same_answer(data, monkeypatch):
    import omnivec.search.multivector as M

    keys, docs, queries = data
    mv = MultiVectors.from_ragged(keys, docs)
    want = mv.search(queries, k=40)
    monkeypatch.setattr(M, "BLOCK_BYTES", 64)        # one document per block
    monkeypatch.setattr(M, "QUERY_CHUNK", 3)         # about one query per pass
    got = mv.search(queries, k=40)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-6)


def test_every_ragged_form_of_input_builds_the_same_model(data):
    keys, docs, queries = data
    flat = np.concatenate(docs)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    a = MultiVectors.from_ragged(keys, docs)
    b = MultiVectors.from_ragged(keys, flat, offsets)
    np.testing.assert_array_equal(a.counts, [len(d) for d in docs])
    np.testing.assert_array_equal(a.offsets, offsets)
    for key, d in zip(keys, docs):
        np.testing.assert_array_equal(b.vectors(key), d)
    qflat = np.concatenate(queries)
    qoff = np.concatenate([[0], np.cumsum([len(q) for q in queries])])
    np.testing.assert_array_equal(a.search(queries, k=5).ids, b.search((qflat, qoff), k=5).ids)
    same = MultiVectors.from_ragged(["x", "y"], np.stack([docs[0][:1], docs[1][:1]]))   # a 3-D array
    np.testing.assert_array_equal(same.vectors("y"), docs[1][:1])
    one = a.search(queries[0], k=3)          # one 2-D array is one query of several vectors
    np.testing.assert_array_equal(one.ids, a.search(queries[:1], k=3).ids)


def test_len_keys_and_the_mean_vector_table(data):
    keys, docs, _ = data
    mv = MultiVectors.from_ragged(keys, docs)
    assert len(mv) == 40 and list(mv.keys) == keys and mv.dim == 12
    assert mv.total_vectors == sum(len(d) for d in docs)
    np.testing.assert_allclose(mv["docs"]["doc5"], docs[5].mean(axis=0), rtol=1e-6, atol=1e-7)
    assert mv["docs"].search(docs[5].mean(axis=0)[None], k=1).keys == [["doc5"]]
    with pytest.raises(KeyNotFound, match="nope"):
        mv.vectors("nope")


def test_a_key_query_never_finds_itself(data):
    keys, docs, _ = data
    mv = MultiVectors.from_ragged(keys, docs)
    found = mv.search(["doc2", "doc7"], k=4)
    assert "doc2" not in found.keys[0] and "doc7" not in found.keys[1] and found.ids.shape == (2, 4)
    S = brute_maxsim([docs[2]], docs)[0]
    S[2] = -np.inf
    assert found.ids[0].tolist() == brute_topk(S[None], 4)[0].tolist()
    assert mv.search(["doc2"], k=1, exclude_self=False).keys == [["doc2"]]
    with pytest.raises(KeyNotFound, match="zzz"):
        mv.search(["zzz"])


def test_a_key_without_vectors_is_an_error_naming_it_unless_skipped_or_zeroed(data):
    keys, docs, _ = data
    docs = list(docs)
    docs[4] = np.zeros((0, 12), np.float32)
    with pytest.raises(InputError, match="'doc4'.*no vectors"):
        MultiVectors.from_ragged(keys, docs)
    skipped = MultiVectors.from_ragged(keys, docs, on_empty="skip")
    assert len(skipped) == 39 and "doc4" not in list(skipped.keys)
    zeroed = MultiVectors.from_ragged(keys, docs, on_empty="zero")
    assert len(zeroed) == 40 and zeroed.counts[4] == 1 and not zeroed.vectors("doc4").any()
    flat = np.concatenate([d for d in docs])
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    with pytest.raises(InputError, match="'doc4'"):
        MultiVectors.from_ragged(keys, flat, offsets)
    with pytest.raises(InputError, match="on_empty"):
        MultiVectors.from_ragged(keys, docs, on_empty="drop")


@pytest.mark.parametrize("damage, error, match", [
    (lambda d: d.__setitem__(3, d[3][:, :5]), DimensionError, r"'doc3'.*5 dims.*12"),
    (lambda d: d.__setitem__(6, np.where(np.arange(12) == 2, np.nan, d[6]).astype(np.float32)),
     InputError, r"'doc6'.*NaN"),
    (lambda d: d.__setitem__(1, d[1][0]), DimensionError, r"'doc1'.*2-D"),
    (lambda d: d.__setitem__(2, np.array([["a"] * 12])), InputError, r"'doc2'.*numeric"),
])
def test_bad_vectors_are_errors_naming_the_key(data, damage, error, match):
    keys, docs, _ = data
    docs = [d.copy() for d in docs]
    damage(docs)
    with pytest.raises(error, match=match):
        MultiVectors.from_ragged(keys, docs)


def test_bad_keys_offsets_and_queries_are_clear_errors(data):
    keys, docs, queries = data
    with pytest.raises(InputError, match="40 keys but 39"):
        MultiVectors.from_ragged(keys, docs[:39])
    with pytest.raises(DuplicateKeyError):
        MultiVectors.from_ragged(["a", "a"], docs[:2])
    flat = np.concatenate(docs)
    with pytest.raises(InputError, match="offsets"):
        MultiVectors.from_ragged(keys[:2], flat, [0, 5, 3])
    with pytest.raises(InputError, match="offsets must have one entry per item"):
        MultiVectors.from_ragged(keys[:2], flat, [0, len(flat)])
    with pytest.raises(InputError, match="at least one key"):
        MultiVectors.from_ragged([], [])
    mv = MultiVectors.from_ragged(keys, docs)
    with pytest.raises(DimensionError, match="query 1 have 4 dims; this model has 12"):
        mv.search([queries[0], queries[1][:, :4]])
    with pytest.raises(InputError, match="query 0.*NaN"):
        mv.search([np.full((2, 12), np.nan, np.float32)])
    with pytest.raises(InputError, match="query 0 has no vectors"):
        mv.search([np.zeros((0, 12), np.float32)])
    with pytest.raises(InputError, match="k must be"):
        mv.search(queries, k=-1)


def test_save_and_open_round_trip(tmp_path, data):
    keys, docs, queries = data
    mv = MultiVectors.from_ragged(keys, docs)
    path = tmp_path / "docs.ov"
    mv.save(path)
    back = omnivec.open(path)
    assert isinstance(back, MultiVectors) and back.kind == "multivector" and back.path == str(path)
    assert len(back) == 40 and list(back.keys) == keys
    for key, d in zip(keys, docs):
        np.testing.assert_array_equal(back.vectors(key), d)
    got, want = back.search(queries, k=6), mv.search(queries, k=6)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.scores, want.scores)
    assert isinstance(MultiVectors.open(path), MultiVectors)
    assert omnivec.verify(path)["ok"]
    assert back.search(queries, k=6, approx=True).ids.tolist() == want.ids.tolist()   # no index: exact


def test_opening_a_multivector_file_starts_no_compiler(tmp_path, data):
    keys, docs, _ = data
    path = tmp_path / "docs.ov"
    MultiVectors.from_ragged(keys, docs).save(path)
    code = ("import sys, omnivec\n"
            "mv = omnivec.open(sys.argv[1])\n"
            "assert len(mv) == 40 and mv.vectors('doc3').shape[1] == 12\n"
            "print('numba' in sys.modules)\n")
    assert run_python(code, path).split() == ["False"]


def test_a_file_whose_offsets_run_outside_the_vectors_is_refused(tmp_path, data):
    keys, docs, _ = data
    mv = MultiVectors.from_ragged(keys, docs)
    docs_t = mv["docs"]
    count = docs_t.extras["count"].copy()
    count[-1] += 5
    bad = Embeddings.from_parts(keys=docs_t.keys, store=docs_t.store, metric=docs_t.metric, name="docs",
                                extras={"start": docs_t.extras["start"], "count": count})
    path = tmp_path / "bad.ov"
    Embeddings._codec().save(path, {"docs": bad, "tokens": mv["tokens"]}, kind="multivector")
    with pytest.raises(FormatError, match="start/count"):
        omnivec.open(path)
    report = omnivec.verify(path)
    assert not report["ok"] and "start/count" in report["problems"][0]


def test_prune_keeps_at_most_the_asked_vectors_per_key_unit_length(data):
    keys, docs, queries = data
    mv = MultiVectors.from_ragged(keys, docs)
    p = mv.prune(keep=3, seed=1)
    assert isinstance(p, MultiVectors) and list(p.keys) == keys and p.dim == 12
    np.testing.assert_array_equal(p.counts, np.minimum(mv.counts, 3))
    assert p.total_vectors == int(np.minimum(mv.counts, 3).sum())
    np.testing.assert_allclose(np.linalg.norm(p["tokens"].vectors, axis=1), 1, rtol=1e-5)
    for key, d in zip(keys, docs):   # keys with few vectors keep them as they were
        if len(d) <= 3:
            np.testing.assert_allclose(p.vectors(key), d, rtol=1e-6)
    again = mv.prune(keep=3, seed=1)
    np.testing.assert_array_equal(again["tokens"].vectors, p["tokens"].vectors)
    r = mv.prune(ratio=0.5)
    np.testing.assert_array_equal(r.counts, np.maximum(1, np.ceil(mv.counts * 0.5)).astype(int))
    assert p.search(queries, k=5).ids.shape == (9, 5)


def test_prune_centroids_summarise_clustered_vectors():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((3, 16)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    doc = np.repeat(centres, 6, axis=0) + 0.01 * rng.standard_normal((18, 16)).astype(np.float32)
    p = MultiVectors.from_ragged(["d"], [doc]).prune(keep=3)
    got = p.vectors("d")
    # each true centre is matched by one centroid
    assert (got @ centres.T).max(axis=0).min() > 0.99


def test_prune_refuses_bad_settings(data):
    keys, docs, _ = data
    mv = MultiVectors.from_ragged(keys, docs)
    for kwargs, match in [({}, "one of keep"), ({"keep": 2, "ratio": 0.5}, "one of keep"),
                          ({"keep": 0}, "keep must"), ({"ratio": 1.5}, "ratio must")]:
        with pytest.raises(InputError, match=match):
            mv.prune(**kwargs)


def test_float16_tokens_search_like_float32(data):
    keys, docs, queries = data
    a = MultiVectors.from_ragged(keys, docs)
    b = MultiVectors.from_ragged(keys, docs, storage="float16")
    assert b["tokens"].storage == "float16"
    np.testing.assert_allclose(b.maxsim(queries), a.maxsim(queries), atol=2e-2)
    cand = np.tile(np.arange(10), (len(queries), 1))
    Q = np.concatenate(queries)
    qoff = np.concatenate([[0], np.cumsum([len(q) for q in queries])])
    np.testing.assert_allclose(b.rescore(Q, qoff, cand), a.rescore(Q, qoff, cand), atol=2e-2)


@pytest.mark.parametrize("grouped", [True, False])
def test_rescore_of_candidates_equals_maxsim_on_every_route(data, monkeypatch, grouped):
    import omnivec.search.multivector as M

    keys, docs, queries = data
    mv = MultiVectors.from_ragged(keys, docs)
    monkeypatch.setattr(M, "GROUPED_MIN_PAIRS", 1 if grouped else 10**9)
    monkeypatch.setattr(M, "GROUPED_SHARE", 1 if grouped else 10**9)
    rng = np.random.default_rng(2)
    cand = np.stack([rng.choice(40, 12, replace=False) for _ in queries])
    cand[0, 3] = -1
    Q = np.concatenate(queries)
    qoff = np.concatenate([[0], np.cumsum([len(q) for q in queries])])
    got = mv.rescore(Q, qoff, cand)
    S = brute_maxsim(queries, docs)
    want = np.take_along_axis(S, np.maximum(cand, 0), 1)
    assert got[0, 3] == -np.inf
    mask = cand >= 0
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-5, atol=1e-5)
