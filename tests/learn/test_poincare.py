"""Poincaré embeddings: the distance's gradient, the Riemannian step, the ball, reconstruction and bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError, OmnivecError, ParseError
from omnivec.evaluate.hierarchy import reconstruction
from omnivec.learn import _poincare_kernels as PK
from omnivec.learn.poincare import Poincare, find_cycles, read_relations

CANINE = Path(__file__).resolve().parents[1] / "data" / "poincare" / "canine_closure.tsv"


def dist(u, v):
    return np.arccosh(1 + 2 * np.sum((u - v) ** 2) / ((1 - u @ u) * (1 - v @ v)))


def test_distance_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    for _ in range(20):
        u, v = rng.uniform(-1, 1, (2, 7))
        u *= rng.uniform(0.05, 0.95) / np.linalg.norm(u)
        v *= rng.uniform(0.05, 0.95) / np.linalg.norm(v)
        gu, gv = np.zeros(7), np.zeros(7)
        d = PK.pair_gradients(u, v, gu, gv)
        assert d == pytest.approx(dist(u, v), rel=1e-12)
        h = 1e-6
        for k in range(7):
            e = np.zeros(7)
            e[k] = h
            assert gu[k] == pytest.approx((dist(u + e, v) - dist(u - e, v)) / (2 * h), rel=1e-5, abs=1e-6)
            assert gv[k] == pytest.approx((dist(u, v + e) - dist(u, v - e)) / (2 * h), rel=1e-5, abs=1e-6)
    gu, gv = np.ones(7), np.ones(7)
    assert PK.pair_gradients(u, u.copy(), gu, gv) == 0.0 and not gu.any() and not gv.any()


def test_one_step_is_riemannian_sgd_on_the_softmax_loss():
    """Three nodes, relation 0 -> 1, one negative (node 2 is the only candidate): one step against numpy."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-0.5, 0.5, (3, 4))
    lr = 0.05

    def loss(X):
        d01, d02 = dist(X[0], X[1]), dist(X[0], X[2])
        return d01 + np.log(np.exp(-d01) + np.exp(-d02))

    grad = np.zeros_like(X)
    h = 1e-6
    for r in range(3):
        for k in range(4):
            e = np.zeros_like(X)
            e[r, k] = h
            grad[r, k] = (loss(X + e) - loss(X - e)) / (2 * h)
    want = X - lr * ((1 - (X * X).sum(1)) ** 2 / 4)[:, None] * grad
    got = X.copy()
    stats = np.zeros(3)
    prob, alias = PK.alias_table(np.ones(3))
    PK.train_chunk(got, np.array([0]), np.array([1]), np.array([0]), 0, 1, np.array([0, 1, 1, 1]),
                   np.array([1]), prob, alias, 1, lr, 1e-5, 0.0, 10, np.uint64(7), stats, np.zeros(1, np.int64))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert stats[0] == pytest.approx(loss(X)) and stats[1] == 1 and stats[2] == 0


def test_every_vector_stays_inside_the_ball():
    # a learning rate far too large throws rows at the boundary: each is pulled back to 1 - eps
    emb = Poincare(dim=3, epochs=5, burn_in=0, lr=50.0, eps=1e-4, workers=1, progress=False).fit(CANINE)
    norms = np.linalg.norm(emb.vectors.astype(np.float64), axis=1)
    assert np.isfinite(emb.vectors).all()
    assert norms.max() <= 1 - 1e-4 + 1e-6 and norms.max() > 0.99


def test_reconstruction_of_a_small_tree_reaches_a_good_map():
    emb = Poincare(dim=5, epochs=40, burn_in=5, lr=0.3, workers=1, seed=2, progress=False).fit(CANINE)
    assert emb.metric == "poincare" and len(emb) == 224 and emb.meta["relations"]["relations"] == 798
    res = reconstruction(emb, CANINE)
    assert res.map > 0.8 and res.mean_rank < 3.0
    # a table of random points in the ball reconstructs far worse
    rnd = omnivec.Embeddings(list(emb.keys), np.random.default_rng(0).uniform(-0.3, 0.3, (224, 5))
                             .astype(np.float32), metric="poincare")
    assert reconstruction(rnd, CANINE).map < res.map - 0.4


def test_one_worker_and_a_seed_are_reproducible_and_threads_train_too():
    kw = dict(dim=4, epochs=3, burn_in=1, progress=False)
    a = Poincare(**kw, workers=1, seed=5).fit(CANINE).vectors
    b = Poincare(**kw, workers=1, seed=5).fit(CANINE).vectors
    np.testing.assert_array_equal(a, b)
    c = Poincare(**kw, workers=2, seed=5).fit(CANINE)
    assert np.isfinite(c.vectors).all() and c.meta["training"]["workers"] == 2


def test_the_table_searches_and_saves_as_hyperbolic(tmp_path):
    emb = Poincare(dim=5, epochs=5, burn_in=1, workers=1, progress=False).fit(CANINE)
    emb.save(tmp_path / "m.ov")
    back = omnivec.open(tmp_path / "m.ov")
    assert back.metric == "poincare"
    X = back.vectors.astype(np.float64)
    key = back.key(3)
    want = np.argsort([dist(X[3], x) for x in X], kind="stable")[1:6]
    got = back.most_similar(key, topn=5)
    assert [back.row(k) for k, _ in got] == want.tolist()
    assert [-s for _, s in got] == pytest.approx([dist(X[3], X[r]) for r in want], rel=1e-4)


def test_ctrl_c_keeps_the_vectors_trained_so_far():
    def stop(report):
        if report.epoch == 2:
            raise KeyboardInterrupt

    learner = Poincare(dim=3, epochs=10, burn_in=1, workers=1, progress=False, callbacks=[stop])
    emb = learner.fit(CANINE)
    assert emb.meta["training"]["interrupted"] and emb.meta["training"]["epochs_done"] == 2
    assert len(learner.history_) == 2 and np.abs(emb.vectors).max() > 0.001


# -- reading relations ---------------------------------------------------------------

def test_reading_files_pairs_gzip_headers_and_duplicates(tmp_path):
    gz = tmp_path / "r.tsv.gz"
    with gzip.open(gz, "wt") as f:
        f.write("id1\tid2\n# a comment\n\na\tb\nb c\na\tb\n")
    rel = read_relations(gz)
    assert rel.keys == ["a", "b", "c"] and len(rel) == 2 and rel.duplicates == 1 and rel.lines == 3
    assert read_relations([(1, 2), (2, 3)]).keys == [1, 2, 3]


def test_cycles_are_refused_naming_their_nodes_or_kept_with_a_warning(tmp_path, caplog):
    path = tmp_path / "cyc.tsv"
    path.write_text("dog\tcanine\ncanine\tcarnivore\ncarnivore\tdog\nwolf\tcanine\n")
    with pytest.raises(InputError, match="cycle") as err:
        Poincare(workers=1, progress=False).fit(path)
    assert all(n in str(err.value) for n in ("dog", "canine", "carnivore")) and "wolf" not in str(err.value)
    assert str(path) in str(err.value)
    rel = read_relations(path, cycles="warn")
    assert sorted(rel.cycles[0]) == ["canine", "carnivore", "dog"] and "cycle" in caplog.text
    assert find_cycles(read_relations(CANINE)) == []


@pytest.mark.parametrize("text,line,match", [
    ("a\tb\nc\n", 2, "expected 2 fields"),
    ("a\tb\nc\td\te\n", 2, "expected 2 fields"),
    ("id1\tid2\na\tb\nx\tx\n", 3, "related to itself"),
    ("a\tb\n\xff\xfe\tz\n", 2, "UTF-8"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, text, line, match):
    path = tmp_path / "bad.tsv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ParseError, match=match) as err:
        read_relations(path)
    assert err.value.path == str(path) and err.value.line == line


def test_empty_missing_and_self_related_inputs_are_refused(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("id1\tid2\n")
    with pytest.raises(InputError, match="no relations"):
        Poincare(progress=False).fit(empty)
    with pytest.raises(InputError, match="no such relations file"):
        read_relations(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="relation 2: 'x' is related to itself"):
        read_relations([("a", "b"), ("x", "x")])
    with pytest.raises(InputError, match="relation 1: expected a"):
        read_relations([("a", "b", "c")])
    with pytest.raises(OmnivecError, match="cycles"):
        read_relations([("a", "b")], cycles="maybe")


def test_damaged_gzip_is_reported_with_the_file(tmp_path):
    path = tmp_path / "r.tsv.gz"
    data = gzip.compress(b"".join(b"n%d\tn%d\n" % (i, i + 1) for i in range(2000)))
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ParseError, match="damaged gzip data") as err:
        read_relations(path)
    assert err.value.path == str(path)
