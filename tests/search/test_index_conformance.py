"""Every registered index backend held to the same bar, on real GloVe vectors.

Recall is measured against brute force with a tie-tolerant comparison;
persistence, deletes, upserts, filters and bad input are checked for each
backend.  The flat (exact) backend needs no optional engine and always runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import omnivec
from omnivec.errors import (DimensionError, DuplicateKeyError, FormatError, InputError, KeyNotFound,
                            OmnivecError, UnknownNameError)
from omnivec.search import BACKENDS, Filter, build_index, index_path, open_index

from search_helpers import BUILD, ENGINES, SEARCH, backend_params, need_engine, oracle, tie_tolerant_recall

MIN_RECALL = {"flat": 1.0, "hnsw": 0.95, "ivfpq": 0.90}


def test_every_backend_has_conformance_settings():
    # A backend registered without an entry here would silently skip these tests.
    assert set(BACKENDS.names()) == set(ENGINES) == set(BUILD) == set(SEARCH)


@pytest.fixture(scope="module", params=backend_params())
def built(request, glove):
    need_engine(request.param)
    idx = build_index(glove, request.param, **BUILD[request.param])
    idx.search_params.update(SEARCH[request.param])
    return idx


def fresh(glove, backend):
    need_engine(backend)
    idx = build_index(glove, backend, **BUILD[backend])
    idx.search_params.update(SEARCH[backend])
    return idx


def test_recall_against_brute_force(built, glove, glove_arrays, glove_queries):
    _, vecs = glove_arrays
    hits = built.search(glove_queries, 10)
    assert hits.ids.shape == (len(glove_queries), 10) and hits.scores.dtype == np.float32
    S = oracle(vecs, glove_queries)
    assert tie_tolerant_recall(hits.ids, S, 10) >= MIN_RECALL[built.name]
    # scores are best first and agree with the true scores of the returned ids
    assert (np.diff(hits.scores, axis=1) <= 1e-6).all()
    true = np.take_along_axis(S, hits.ids, axis=1)
    assert np.allclose(hits.scores, true, atol=0.05 if built.name == "ivfpq" and not
                       built.search_params.get("refine") else 1e-4)


def test_flat_is_exact_on_every_metric_and_storage(glove, glove_arrays, glove_queries):
    keys, vecs = glove_arrays
    for metric in ("cosine", "dot", "euclidean"):
        emb = omnivec.Embeddings(keys, vecs, metric=metric)
        hits = build_index(emb, "flat").search(glove_queries[:50], 7)
        ref = emb.search(glove_queries[:50], 7)
        assert tie_tolerant_recall(hits.ids, oracle(vecs, glove_queries[:50], metric), 7) == 1.0
        np.testing.assert_allclose(hits.scores, ref.scores, rtol=1e-4, atol=1e-4)
    for storage in ("float16", "int8", "binary"):
        emb = glove.astype(storage)
        hits = build_index(emb, "flat").search(glove_queries[:20], 5)
        ref = emb.search(glove_queries[:20], 5)
        np.testing.assert_allclose(hits.scores, ref.scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["hnsw", "ivfpq"])
@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_approximate_backends_follow_the_metric(backend, metric, glove_arrays, glove_queries):
    need_engine(backend)
    keys, vecs = glove_arrays
    emb = omnivec.Embeddings(keys, vecs, metric=metric)
    idx = build_index(emb, backend, **BUILD[backend])
    hits = idx.search(glove_queries[:100], 10, **SEARCH[backend])
    S = oracle(vecs, glove_queries[:100], metric)
    assert tie_tolerant_recall(hits.ids, S, 10, tol=1e-3) >= MIN_RECALL[backend] - 0.05
    true = np.take_along_axis(S, hits.ids, axis=1)
    np.testing.assert_allclose(hits.scores, true, rtol=1e-3, atol=1e-3)


def test_single_and_batch_queries_share_one_shape(built, glove, glove_queries):
    one = built.search(glove_queries[0], 5)
    many = built.search(glove_queries[:3], 5)
    assert one.ids.shape == (1, 5) and many.ids.shape == (3, 5)
    assert one.ids[0].tolist() == many.ids[0].tolist()
    # one plain float32 vector takes a shorter path: same answer, same dtypes
    assert np.allclose(one.scores[0], many.scores[0], atol=1e-5)
    assert one.ids.dtype == np.int64 and one.scores.dtype == np.float32
    scaled = built.search(glove_queries[0] * np.float32(7.0), 5)
    if built.metric.name == "cosine":  # the length of a query does not change cosine neighbours
        assert scaled.ids[0].tolist() == one.ids[0].tolist()
    by_key = built.search(["king", "queen"], 3, exclude_self=False)
    assert by_key.keys[0][0] == "king" and by_key.keys[1][0] == "queen"
    assert by_key.pairs(0)[0][0] == "king"
    others = built.search(["king", "queen"], 3)      # a key query never finds itself by default
    assert others.keys[0] == by_key.keys[0][1:] + others.keys[0][2:] and "queen" not in others.keys[1]
    assert by_key.keys[0] == glove.keys_of(by_key.ids[0]) if hasattr(glove, "keys_of") else True


def test_persistence_round_trip(built, glove, glove_queries, tmp_path):
    path = tmp_path / "model.ov.idx"
    built.save(path)
    again = open_index(path, glove)
    assert type(again) is type(built) and again.params == built.params
    again.search_params.update(SEARCH[built.name])
    a, b = built.search(glove_queries[:50], 10), again.search(glove_queries[:50], 10)
    assert (a.ids == b.ids).all()
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_open_refuses_an_index_built_for_other_data(built, glove, glove_arrays, tmp_path):
    path = tmp_path / "model.ov.idx"
    built.save(path)
    keys, vecs = glove_arrays
    other = omnivec.Embeddings(keys, vecs * 2, counts=glove.counts, name="words")
    with pytest.raises(FormatError, match="does not belong.*vectors differ"):
        open_index(path, other)
    with pytest.raises(FormatError, match="metric"):
        open_index(path, glove.with_metric("dot"))
    fewer = omnivec.Embeddings(keys[:100], vecs[:100], name="words")
    with pytest.raises(FormatError, match="built for 2100 rows but the table has 100"):
        open_index(path, fewer)


def test_deleted_keys_never_come_back_and_stay_deleted(glove, glove_arrays, tmp_path):
    keys, vecs = glove_arrays
    for backend in BACKENDS.names():
        if ENGINES[backend] is not None:
            pytest.importorskip(ENGINES[backend])
        idx = fresh(glove, backend)
        gone = ["king", "queen", "prince", "president"]
        assert idx.delete(gone) == 4 and len(idx) == len(keys) - 4
        hits = idx.search(glove.vectors_of(gone), 20)
        assert not set(gone) & {k for row in hits.keys for k in row}
        # the nearest survivors still come back: recall holds after deletes
        S = oracle(vecs, glove.vectors_of(gone))
        S[:, glove.rows(gone)] = -np.inf
        assert tie_tolerant_recall(hits.ids, S, 20) >= MIN_RECALL[backend] - 0.05
        with pytest.raises(KeyNotFound, match="king"):
            idx.delete(["king"])
        assert idx.delete(["king", "man"], missing="ignore") == 1
        path = tmp_path / f"m.{backend}"
        idx.save(path)
        again = open_index(path, glove)
        assert len(again) == len(keys) - 5
        hits = again.search(glove.vectors_of(["king", "man"]), 10)
        assert not {"king", "man"} & {k for row in hits.keys for k in row}


def test_upsert_replaces_and_add_extends(glove, glove_arrays, tmp_path):
    keys, vecs = glove_arrays
    for backend in BACKENDS.names():
        if ENGINES[backend] is not None:
            pytest.importorskip(ENGINES[backend])
        idx = fresh(glove, backend)
        king_old = glove["king"].copy()
        far = glove["banana"] if "banana" in glove else glove[keys[-1]]
        idx.upsert(["king"], far + 1e-3)
        hits = idx.search(king_old, 10)
        assert "king" not in hits.keys[0]                    # its old place is empty
        assert idx.search(far + 1e-3, 1).keys[0] == ["king"]  # found at its new place
        new = vecs[glove.row("paris")] * 0.99
        ids = idx.add(["zz-new-city"], new)
        assert ids.tolist() == [len(keys) + 1]   # ids run on after the upserted king (2100)
        assert "zz-new-city" in idx.search(new, 2).keys[0]
        with pytest.raises(DuplicateKeyError):
            idx.add(["zz-new-city"], new)
        with pytest.raises(DuplicateKeyError):
            idx.add(["paris"], new)
        with pytest.raises(DimensionError):
            idx.add(["x1"], new[:10])
        with pytest.raises(InputError):
            idx.add([123], new)
        # Upsert an added key.  The new place is near real words: a vector far from
        # every other (e.g. -new) can be left without in-links by any HNSW graph.
        moved = vecs[glove.row("london")] * 1.01
        idx.upsert(["zz-new-city"], moved)
        assert len(idx) == len(keys) + 1
        path = tmp_path / f"m.{backend}"
        idx.save(path)
        again = open_index(path, glove)
        again.search_params.update(SEARCH[backend])
        assert "zz-new-city" in again.search(moved, 2).keys[0]
        # its old place (a copy of paris) no longer answers with score ~1
        assert all(sc < 0.99 for k, sc in again.search(new, 5).pairs(0) if k == "zz-new-city")
        assert again.search(far + 1e-3, 1).keys[0] == ["king"]
        assert again.ids_of(["zz-new-city", "king", "nope"])[2] == -1
        # a table key can be mutated after reopening (a memory view becomes writable)
        moved = vecs[glove.row("china")] * 0.98
        again.upsert(["paris"], moved)
        assert "paris" in again.search(moved, 2).keys[0]


def test_filters_return_k_matches(built, glove, glove_arrays, glove_queries):
    keys, vecs = glove_arrays
    counts = glove.counts
    Q = glove_queries[:60]
    for frac in (0.01, 0.3):
        thr = int(np.quantile(counts, 1 - frac))
        allowed = counts >= thr
        hits = built.search(Q, 10, filter=Filter(where=f"counts >= {thr}"))
        assert hits.ids.shape == (len(Q), 10)
        assert allowed[hits.ids].all()
        S = oracle(vecs, Q, allowed=allowed)
        assert tie_tolerant_recall(hits.ids, S, 10) >= (0.95 if frac < 0.05 else MIN_RECALL[built.name] - 0.05)
    allow = ["paris", "london", "france", "china", "king"]
    hits = built.search(Q, 10, filter=Filter(allow=allow))
    assert hits.ids.shape == (len(Q), 5) and all(set(r) == set(allow) for r in hits.keys)
    hits = built.search(glove["king"], 5, filter=Filter(deny=["king", "queen"]))
    assert not {"king", "queen"} & set(hits.keys[0]) and len(hits.keys[0]) == 5
    # text conditions, dicts and masks are filters too
    hits = built.search(Q[:5], 3, filter={"where": [("row", "<", 50)]})
    assert (hits.ids < 50).all() and hits.ids.shape == (5, 3)
    mask = np.zeros(len(keys), bool)
    mask[::7] = True
    hits = built.search(Q[:5], 4, filter=mask)
    assert (hits.ids % 7 == 0).all()


def test_k_larger_than_the_index_and_zero(built, glove, glove_queries):
    hits = built.search(glove_queries[:2], 10, filter=Filter(allow=["king", "queen", "man"]))
    assert hits.ids.shape == (2, 3)
    assert built.search(glove_queries[:2], 0).ids.shape == (2, 0)
    with pytest.raises(InputError, match="k must be"):
        built.search(glove_queries[:2], -1)
    with pytest.raises(InputError, match="k must be"):
        built.search(glove_queries[:2], 2.5)


def test_k_beyond_n_returns_every_key(glove_arrays):
    keys, vecs = glove_arrays
    small = omnivec.Embeddings(keys[:40], vecs[:40])
    for backend in ("flat", "hnsw"):
        need_engine(backend)
        idx = build_index(small, backend)
        hits = idx.search(vecs[:3], 100)
        assert hits.ids.shape == (3, 40) and sorted(hits.ids[0].tolist()) == list(range(40))


def test_empty_tables_and_fully_deleted_indexes(glove_arrays):
    keys, vecs = glove_arrays
    empty = omnivec.Embeddings([], np.zeros((0, 50), np.float32))
    for backend in ("hnsw", "ivfpq"):
        need_engine(backend)
        with pytest.raises(InputError, match="empty table"):
            build_index(empty, backend)
    flat = build_index(empty, "flat")
    assert flat.search(vecs[:2], 5).ids.shape == (2, 0)
    small = omnivec.Embeddings(keys[:3], vecs[:3])
    idx = build_index(small, "flat")
    idx.delete(keys[:3])
    assert len(idx) == 0 and idx.search(vecs[:2], 5).ids.shape == (2, 0)


def test_bad_queries_and_names_get_clear_errors(built, glove_queries):
    with pytest.raises(DimensionError, match="50 dims"):
        built.search(glove_queries[:2, :20], 5)
    with pytest.raises(DimensionError):
        built.search(np.zeros((2, 3, 50), np.float32), 5)
    bad = glove_queries[:3].copy()
    bad[1, 4] = np.nan
    with pytest.raises(InputError, match="query 1 holds NaN"):
        built.search(bad, 5)
    with pytest.raises(InputError, match="query 0 holds NaN"):
        built.search(bad[1], 5)
    with pytest.raises(KeyNotFound):
        built.search(["no-such-word-xyz"], 5)
    with pytest.raises(InputError, match="unknown search parameter"):
        built.search(glove_queries[:1], 5, bogus=3)
    with pytest.raises(UnknownNameError, match="valid names are: flat, hnsw, ivfpq"):
        build_index(built.emb, "annoy")
    with pytest.raises(InputError, match="unknown parameter 'bogus'"):
        build_index(built.emb, built.name, bogus=1)
    for exc in (DimensionError, UnknownNameError):
        assert issubclass(exc, OmnivecError)


def test_index_files_live_beside_the_model(tmp_path, glove):
    assert str(index_path(tmp_path / "m.ov", "HNSW")).endswith("m.ov.hnsw")
    assert str(index_path(tmp_path / "m.ov", "exact")).endswith("m.ov.flat")
    with pytest.raises(FormatError, match="not an omnivec index"):
        glove.save(tmp_path / "m.ov")
        open_index(tmp_path / "m.ov", glove)


def test_integer_keys_and_added_keys_as_queries(glove_arrays):
    _, vecs = glove_arrays
    emb = omnivec.Embeddings(list(range(1000, 1300)), vecs[:300])
    idx = build_index(emb, "flat")
    hits = idx.search([1005, 1007], 3, exclude_self=False)   # a list of ints names keys, not a vector
    assert [row[0] for row in hits.keys] == [1005, 1007]
    idx.add([7], vecs[400])
    assert idx.search(7, 1, exclude_self=False).keys == [[7]]   # added keys can be queries too
    assert 7 not in idx.search(7, 3).keys[0]
    with pytest.raises(KeyNotFound):
        idx.search([8], 1)
    with pytest.raises(InputError, match="integer keys"):
        idx.add(["seven"], vecs[401])


def test_builds_show_progress_when_asked(glove, capsys):
    need_engine("hnsw")
    build_index(glove, "hnsw", show_progress=True, M=8)
    assert "Building hnsw index" in capsys.readouterr().err


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_compiled_reranking_matches_exact_rescoring(metric, glove_arrays, glove_queries):
    keys, X = glove_arrays
    emb = omnivec.Embeddings(keys, X, metric=metric)
    idx = build_index(emb, "flat")
    rng = np.random.default_rng(3)
    for Q in (glove_queries[:1], glove_queries[:12]):
        cand = rng.integers(0, len(X), (len(Q), 40))
        cand[:, ::7] = -1                       # missing candidates are skipped
        cand[:, 5] = cand[:, 4]                 # a duplicate row: equal scores keep candidate order
        ids, scores = idx._refine(Q, cand, 10)
        S = oracle(X, Q, metric)
        ref = np.where(cand >= 0, np.take_along_axis(S, np.maximum(cand, 0), axis=1), -np.inf)
        order = np.argsort(-ref, axis=1, kind="stable")[:, :10]
        assert np.allclose(scores, np.take_along_axis(ref, order, axis=1), atol=1e-4)
        assert np.array_equal(ids, np.take_along_axis(cand, order, axis=1))
