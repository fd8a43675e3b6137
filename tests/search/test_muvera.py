"""MUVERA: fixed dimensional encodings and the index that re-ranks their candidates by exact MaxSim."""

from __future__ import annotations

import json

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.errors import CorruptFileError, DimensionError, FormatError, InputError
from omnivec.search.multivector import MultiVectors
from omnivec.search.muvera import FDEEncoder, MuveraIndex, muvera_path, open_muvera, verify_muvera


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n_docs=150, dim=32, seed=0):
    """Documents whose vectors sit near three of 100 topic centres; queries drawn from one document."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((100, dim)))
    docs = []
    for _ in range(n_docs):
        own = rng.choice(100, 3, replace=False)
        n = int(rng.integers(4, 12))
        docs.append(unit(topics[rng.choice(own, n)] + 0.4 / np.sqrt(dim) * rng.standard_normal((n, dim))))
    queries = []
    for i in range(25):
        src = docs[(7 * i) % n_docs]
        m = min(4, len(src))
        queries.append(unit(src[:m] + 0.3 / np.sqrt(dim) * rng.standard_normal((m, dim))))
    return [f"d{i}" for i in range(n_docs)], docs, queries


@pytest.fixture
def setup():
    keys, docs, queries = clustered()
    return MultiVectors.from_ragged(keys, docs), docs, queries


def test_the_fde_dot_product_is_the_sum_over_buckets_of_query_sums_and_document_means():
    rng = np.random.default_rng(1)
    enc = FDEEncoder(6, k_sim=2, reps=3, d_proj=4, fill_empty=False, seed=7)
    Q = rng.standard_normal((5, 6)).astype(np.float32)
    D = rng.standard_normal((9, 6)).astype(np.float32)
    fq = enc.encode_queries([Q])[0]
    fd = enc.encode_documents([D])[0]
    assert fq.shape == fd.shape == (3 * 4 * 4,) == (enc.out_dim,)
    want = 0.0
    for r in range(3):
        bq, bd = enc.buckets_of(Q, r), enc.buckets_of(D, r)
        pq, pd = enc.project(Q, r), enc.project(D, r)
        for b in range(4):
            if (bq == b).any() and (bd == b).any():
                want += float(pq[bq == b].sum(axis=0) @ pd[bd == b].mean(axis=0))
    assert np.dot(fq.astype(np.float64), fd) == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_buckets_are_the_sides_of_the_hyperplanes():
    enc = FDEEncoder(3, k_sim=3, reps=1, seed=0)
    X = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    b = enc.buckets_of(X)
    assert b.min() >= 0 and b.max() < 8
    assert len(np.unique(b)) > 2
    # opposite vectors fall on the opposite side of every hyperplane
    np.testing.assert_array_equal(enc.buckets_of(-X), 7 - b)


def test_empty_document_buckets_take_the_nearest_vector():
    enc = FDEEncoder(5, k_sim=3, reps=2, d_proj=None, fill_empty=True, seed=3)
    v = np.random.default_rng(2).standard_normal((1, 5)).astype(np.float32)
    f = enc.encode_documents([v])[0].reshape(2, 8, 5)
    np.testing.assert_allclose(f, np.broadcast_to(v[0], (2, 8, 5)), rtol=1e-6)   # one vector fills every bucket
    empty = FDEEncoder(5, k_sim=3, reps=2, d_proj=None, fill_empty=False, seed=3).encode_documents([v])[0]
    assert np.count_nonzero(np.abs(empty.reshape(2, 8, 5)).sum(axis=2)) == 2       # one bucket per repetition
    # two vectors: an empty bucket takes the one whose SimHash bits differ in fewer places
    X = np.random.default_rng(4).standard_normal((2, 5)).astype(np.float32)
    f = enc.encode_documents([X])[0].reshape(2, 8, 5)
    b = enc.buckets_of(X, 0)
    ham = lambda x, y: bin(int(x) ^ int(y)).count("1")  # noqa: E731
    for bucket in range(8):
        if bucket in b:
            continue
        d0, d1 = ham(bucket, b[0]), ham(bucket, b[1])
        nearest = 0 if d0 <= d1 else 1
        np.testing.assert_allclose(f[0, bucket], X[nearest], rtol=1e-6)
    # queries are never filled
    q = enc.encode_queries([v])[0].reshape(2, 8, 5)
    assert np.count_nonzero(np.abs(q).sum(axis=2)) == 2


def test_encodings_are_fixed_by_the_seed_and_settings():
    X = [np.random.default_rng(i).standard_normal((6, 10)).astype(np.float32) for i in range(3)]
    a = FDEEncoder(10, k_sim=3, reps=4, d_proj=5, seed=11).encode_documents(X)
    b = FDEEncoder(10, k_sim=3, reps=4, d_proj=5, seed=11).encode_documents(X)
    c = FDEEncoder(10, k_sim=3, reps=4, d_proj=5, seed=12).encode_documents(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    s = FDEEncoder(10, k_sim=3, reps=4, d_proj=5, seed=11, final_dim=64)
    fs = s.encode_documents(X)
    assert fs.shape == (3, 64)
    np.testing.assert_array_equal(fs, FDEEncoder(10, k_sim=3, reps=4, d_proj=5, seed=11, final_dim=64).encode_documents(X))
    # the count sketch is linear: it maps the full encoding's sum to the sum of the sketches
    assert not np.allclose(fs[0], 0)


def test_encoder_refuses_bad_settings_and_input():
    for kwargs, match in [({"k_sim": -1}, "k_sim"), ({"reps": 0}, "reps"), ({"d_proj": 0}, "d_proj"),
                          ({"final_dim": 0}, "final_dim"), ({"k_sim": 2.5}, "k_sim"),
                          ({"center": np.zeros(3)}, "center")]:
        with pytest.raises(InputError, match=match):
            FDEEncoder(8, **kwargs)
    enc = FDEEncoder(8)
    with pytest.raises(DimensionError, match="query 1 have 3 dims; this encoder takes 8"):
        enc.encode_queries([np.ones((2, 8)), np.ones((2, 3))])
    with pytest.raises(InputError, match="document 0.*NaN"):
        enc.encode_documents([np.full((2, 8), np.nan)])


def test_muvera_with_every_candidate_is_exact_maxsim(setup):
    mv, docs, queries = setup
    idx = MuveraIndex.build(mv, "flat", k_sim=3, reps=4, d_proj=8)
    got = idx.search(queries, k=10, candidates=len(mv))
    want = mv.search(queries, k=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5)


def test_muvera_recall_on_clustered_sets(setup):
    mv, docs, queries = setup
    want = mv.search(queries, k=5).ids

    def recall(ids):
        return np.mean([len(set(a) & set(b)) / 5 for a, b in zip(want, ids)])

    idx = MuveraIndex.build(mv, "flat", k_sim=3, reps=10, d_proj=16, seed=0)
    cand = idx.candidates_of(queries, 30)
    got = idx.search(queries, k=5, candidates=30)
    assert recall(got.ids) >= 0.9
    # the encodings find more of the MaxSim neighbours than the mean vectors do (one bucket, no projection)
    mean = MuveraIndex.build(mv, "flat", k_sim=0, reps=1, d_proj=None)
    assert recall(got.ids) > recall(mean.search(queries, k=5, candidates=30).ids)
    # re-ranking keeps the candidates' best: every result is a candidate, in MaxSim order
    for row, c in zip(got.ids, cand):
        assert set(row) <= set(c)
    assert (np.diff(got.scores, axis=1) <= 1e-6).all()
    # the document each query was drawn from is found
    assert np.mean([(7 * i) % len(mv) in row for i, row in enumerate(got.ids)]) >= 0.9


def test_save_open_and_approx_search_through_the_index_beside_the_model(tmp_path, setup):
    mv, docs, queries = setup
    path = tmp_path / "docs.ov"
    mv.save(path)
    mv = omnivec.open(path)
    idx = MuveraIndex.build(mv, "hnsw", k_sim=3, reps=6, d_proj=8, candidates=40, M=8)
    saved = idx.save()
    assert saved == muvera_path(path) and saved.exists() and (tmp_path / "docs.ov.muvera.hnsw").exists()
    back = open_muvera(saved)
    assert back.backend == "hnsw" and back.candidates == 40 and back.encoder.params() == idx.encoder.params()
    np.testing.assert_array_equal(back.search(queries, k=5).ids, idx.search(queries, k=5).ids)
    again = omnivec.open(path)
    np.testing.assert_array_equal(again.search(queries, k=5, approx=True).ids, idx.search(queries, k=5).ids)
    assert verify_muvera(saved)["ok"]


def test_an_index_of_another_model_or_a_damaged_file_is_refused(tmp_path, setup):
    mv, docs, queries = setup
    path = tmp_path / "docs.ov"
    mv.save(path)
    idx = MuveraIndex.build(omnivec.open(path), "flat", k_sim=2, reps=3, d_proj=8)
    idx.save()
    other_keys, other_docs, _ = clustered(seed=5)
    other = MultiVectors.from_ragged(other_keys, other_docs)
    with pytest.raises(FormatError, match="built for another model"):
        open_muvera(muvera_path(path), other)
    with pytest.raises(InputError, match="does not belong"):
        other.attach(idx)
    with pytest.raises(FormatError, match="not a MUVERA index file"):
        open_muvera(path)
    raw = bytearray(muvera_path(path).read_bytes())
    raw[-40] ^= 0xFF   # a byte of the FDE vectors
    damaged = tmp_path / "docs.ov.muvera"
    damaged.write_bytes(bytes(raw))
    report = verify_muvera(damaged)
    assert not report["ok"] and "CRC" in " ".join(report["problems"])
    assert not omnivec.verify(damaged)["ok"]
    (tmp_path / "cut.ov.muvera").write_bytes(bytes(raw[:100]))
    with pytest.raises(FormatError):
        open_muvera(tmp_path / "cut.ov.muvera", omnivec.open(path))


def test_the_refine_stage_narrows_candidates_by_maxsim_on_the_top_axes(tmp_path, setup):
    mv, docs, queries = setup
    want = mv.search(queries, k=5)
    idx = MuveraIndex.build(mv, "flat", k_sim=3, reps=10, d_proj=16, candidates=60, refine_dim=mv.dim,
                            refine=10)
    # at full width the reduced space is the token space up to a rotation: the stage keeps the true best
    full = idx.search(queries, k=5)
    np.testing.assert_array_equal(full.ids, MuveraIndex.build(mv, "flat", k_sim=3, reps=10, d_proj=16)
                                  .search(queries, k=5, candidates=60).ids)
    # the stage's order is MaxSim in the reduced space, oracle: numpy on the projected vectors
    axes = idx.refiner.axes.vectors
    Q, qoff, _ = mv._queries(queries)
    cand = idx.candidates_of(queries, 60)
    narrowed = idx.refiner.narrow(mv, Q, qoff, cand, 10)
    for i, (row, c) in enumerate(zip(narrowed, cand)):
        q = Q[qoff[i]:qoff[i + 1]] @ axes[1:].T
        s = [((np.asarray(docs[d]) - axes[0]) @ axes[1:].T @ q.T).max(axis=0).sum() for d in c]
        assert set(row.tolist()) == set(np.asarray(c)[np.argsort(s)[::-1][:10]].tolist())
    # a narrow stage still finds most of the true neighbours, and a wider keep finds more
    small = MuveraIndex.build(mv, "flat", k_sim=3, reps=10, d_proj=16, candidates=60, refine_dim=16, refine=10)

    def recall(ids):
        return np.mean([len(set(a) & set(b)) / 5 for a, b in zip(want.ids, ids)])

    assert recall(small.search(queries, k=5).ids) >= 0.9
    assert recall(small.search(queries, k=5, refine=40).ids) > recall(small.search(queries, k=5, refine=6).ids)
    # keep never drops below k
    assert (small.search(queries, k=20, refine=1).ids >= 0).all()
    # saved with the index, opened with it, refused when it does not fit
    path = tmp_path / "docs.ov"
    mv.save(path)
    mv = omnivec.open(path)
    small = MuveraIndex.build(mv, "flat", k_sim=3, reps=10, d_proj=16, candidates=60, refine_dim=8, refine=10)
    small.save()
    back = omnivec.open(path).muvera_index()
    assert back.refiner.dim == 8 and back.refiner.keep == 10 and back.info()["refine_dim"] == 8
    np.testing.assert_array_equal(back.search(queries, k=5).ids, small.search(queries, k=5).ids)
    assert verify_muvera(muvera_path(path))["ok"]
    with pytest.raises(InputError, match="refine_dim must be an int in 1..32"):
        MuveraIndex.build(mv, "flat", refine_dim=33)
    with pytest.raises(InputError, match="refine= needs an index built with a refine stage"):
        MuveraIndex.build(mv, "flat", k_sim=2, reps=2, d_proj=4).search(queries, k=5, refine=10)
    with pytest.raises(InputError, match="refine must be an int"):
        back.search(queries, k=5, refine=0)


def test_muvera_refuses_what_is_not_a_multivector_model(glove):
    with pytest.raises(InputError, match="MultiVectors"):
        MuveraIndex.build(glove)


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_builds_and_verifies_a_muvera_index(capsys, tmp_path, setup):
    mv, docs, queries = setup
    path = tmp_path / "mv.ov"
    mv.save(path)
    code, out, err = run(capsys, "index", "build", path, "--backend", "muvera", "--k-sim", 3, "--reps", 5,
                         "--d-proj", 8, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["path"].endswith("mv.ov.muvera") and info["keys"] == len(mv) and info["fde_dim"] == 5 * 8 * 8
    idx = open_muvera(info["path"])
    assert idx.encoder.params()["k_sim"] == 3 and idx.backend == "flat"
    code, out, err = run(capsys, "verify", info["path"], "--json")
    assert code == 0, err
    assert json.loads(out)["ok"] and json.loads(out)["kind"] == "muvera"
    code, out, err = run(capsys, "index", "build", path, "--backend", "hnsw", "--k-sim", 3)
    assert code != 0 and "--k-sim applies to the muvera backend" in err
    code, out, err = run(capsys, "index", "build", path, "--backend", "muvera", "-p", "backend=hnsw", "-p", "M=8")
    assert code == 0, err
    assert "muvera index of 150 keys" in out and open_muvera(tmp_path / "mv.ov.muvera").backend == "hnsw"
    code, out, err = run(capsys, "index", "build", path, "--backend", "muvera", "--refine-dim", 8, "-p",
                         "refine=20", "-p", "candidates=50")
    assert code == 0, err
    assert "8-dim refine stage keeping 20" in out
    idx = open_muvera(tmp_path / "mv.ov.muvera")
    assert idx.refiner.dim == 8 and idx.refiner.keep == 20 and idx.candidates == 50


def test_cli_index_info_and_search_read_the_muvera_index(capsys, tmp_path, setup):
    mv, docs, queries = setup
    path = tmp_path / "mv.ov"
    mv.save(path)
    code, out, err = run(capsys, "index", "search", path, "d3", "-k", 3)
    assert code == 1 and "no MUVERA index beside the multi-vector model" in err
    code, out, err = run(capsys, "index", "build", path, "--backend", "muvera", "--refine-dim", 8)
    assert code == 0, err
    code, out, err = run(capsys, "index", "info", path, "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["indexes"]
    assert entry["backend"] == "muvera" and entry["refine_dim"] == 8 and entry["keys"] == len(mv)
    code, out, err = run(capsys, "index", "info", tmp_path / "mv.ov.muvera")
    assert code == 0, err
    assert "muvera index, 150 keys" in " ".join(out.split())
    code, out, err = run(capsys, "index", "search", path, "d3", "d10", "-k", 3, "-p", "candidates=150",
                         "--json")
    assert code == 0, err
    got = json.loads(out)
    want = omnivec.open(path).search(["d3", "d10"], k=3)
    assert [[n["key"] for n in e["neighbors"]] for e in got["keys"]] == [list(r) for r in want.keys]
    code, out, err = run(capsys, "index", "search", path, "d3", "-p", "ef=10")
    assert code == 1 and "unknown search parameter 'ef'" in err
    code, out, err = run(capsys, "index", "search", path, "d3", "--deny", "d4")
    assert code == 1 and "do not apply to a MUVERA index" in err
