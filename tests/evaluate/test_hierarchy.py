"""Hierarchy reconstruction and link prediction: against a brute-force oracle and gensim's evaluations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.errors import InputError
from omnivec.evaluate.hierarchy import link_prediction, reconstruction, split_closure
from omnivec.learn.poincare import read_relations

CANINE = Path(__file__).resolve().parents[1] / "data" / "poincare" / "canine_closure.tsv"


def _dist(u, v):
    return np.arccosh(1 + 2 * np.sum((u - v) ** 2) / ((1 - u @ u) * (1 - v @ v)))


def _table(seed=0, dim=4, metric="poincare"):
    rel = read_relations(CANINE)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (rel.n_nodes, dim))
    X *= (rng.uniform(0, 0.95, rel.n_nodes) / np.linalg.norm(X, axis=1))[:, None]
    return rel, omnivec.Embeddings(rel.keys, X.astype(np.float32), metric=metric)


def _oracle(emb, rel, *, known=None, include_self=False, distance=_dist):
    """Mean rank and MAP written out: every node, every relation, every other node compared."""
    X = emb.vectors.astype(np.float64)
    pos: dict[int, set] = {}
    for c, p in zip(rel.child, rel.parent):
        pos.setdefault(emb.row(rel.keys[c]), set()).add(emb.row(rel.keys[p]))
    kn: dict[int, set] = {}
    if known is not None:
        for c, p in zip(known.child, known.parent):
            kn.setdefault(emb.row(known.keys[c]), set()).add(emb.row(known.keys[p]))
    ranks, aps = [], []
    for u, vs in pos.items():
        d = np.array([distance(X[u], x) for x in X])
        skip = vs | kn.get(u, set()) | (set() if include_self else {u})
        others = [w for w in range(len(X)) if w not in skip]
        r = sorted(1 + sum(d[w] < d[v] for w in others) for v in vs)
        ranks += r
        aps.append(np.mean([(j + 1) / (r[j] + j) for j in range(len(r))]))
    return np.mean(ranks), np.mean(aps), len(ranks)


@pytest.mark.parametrize("include_self", [False, True])
def test_reconstruction_matches_the_brute_force_oracle(include_self):
    rel, emb = _table()
    res = reconstruction(emb, CANINE, include_self=include_self)
    mr, mp, n = _oracle(emb, rel, include_self=include_self)
    assert res.relations == n == 798 and res.nodes == len({int(c) for c in rel.child})
    assert res.mean_rank == pytest.approx(mr, rel=1e-12) and res.map == pytest.approx(mp, rel=1e-12)
    assert res.unknown_nodes == 0 and res.skipped_relations == 0


def test_other_metrics_rank_by_their_own_distance():
    rel, emb = _table(metric="euclidean")
    res = reconstruction(emb, CANINE)
    mr, mp, _ = _oracle(emb, rel, distance=lambda u, v: np.linalg.norm(u - v))
    assert res.mean_rank == pytest.approx(mr, rel=1e-9) and res.map == pytest.approx(mp, rel=1e-9)


def test_link_prediction_leaves_the_training_relations_out():
    rel, emb = _table(seed=1)
    train, test = split_closure(CANINE, 0.2, seed=3)
    assert len(train) + len(test) == len(rel) and abs(len(test) - 0.2 * len(rel)) <= 1
    res = link_prediction(emb, train, test)
    mr, mp, n = _oracle(emb, test, known=train)
    assert res.task == "link_prediction" and res.relations == n == len(test)
    assert res.mean_rank == pytest.approx(mr, rel=1e-12) and res.map == pytest.approx(mp, rel=1e-12)


def _gensim_files(tmp_path, train, test=None):
    """Write headerless TSV copies, the form gensim's evaluations read."""
    def write(rel, name):
        path = tmp_path / name
        path.write_text("".join(f"{rel.keys[c]}\t{rel.keys[p]}\n" for c, p in zip(rel.child, rel.parent)))
        return str(path)
    return write(train, "train.tsv"), (write(test, "test.tsv") if test is not None else None)


def _gensim_kv(emb):
    poincare = pytest.importorskip("gensim.models.poincare")
    kv = poincare.PoincareKeyedVectors(emb.dim, 0)
    kv.add_vectors(list(emb.keys), emb.vectors.astype(np.float64))
    return poincare, kv


def test_reconstruction_agrees_with_gensim(tmp_path):
    rel, emb = _table(seed=2)
    poincare, kv = _gensim_kv(emb)
    path, _ = _gensim_files(tmp_path, rel)
    want = poincare.ReconstructionEvaluation(path, kv).evaluate()
    got = reconstruction(emb, CANINE, include_self=True)     # gensim counts the node itself as closer
    assert got.mean_rank == pytest.approx(want["mean_rank"], rel=1e-9)
    assert got.map == pytest.approx(want["MAP"], rel=1e-9)


def test_link_prediction_agrees_with_gensim(tmp_path):
    rel, emb = _table(seed=4)
    train, test = split_closure(rel, 0.15, seed=1)
    poincare, kv = _gensim_kv(emb)
    tr, te = _gensim_files(tmp_path, train, test)
    want = poincare.LinkPredictionEvaluation(tr, te, kv).evaluate()
    got = link_prediction(emb, train, test, include_self=True)
    assert got.mean_rank == pytest.approx(want["mean_rank"], rel=1e-9)
    assert got.map == pytest.approx(want["MAP"], rel=1e-9)


def test_unknown_nodes_are_counted_and_cycles_reported(tmp_path, caplog):
    rel, emb = _table()
    path = tmp_path / "closure.tsv"
    path.write_text(CANINE.read_text() + "stray\tcanine.02083346\nghost\tstray\n"
                    "canine.02083346\tdog.02084071\n")
    res = reconstruction(emb, path)
    assert res.unknown_nodes == 2 and res.skipped_relations == 2 and res.relations == 799
    assert res.cycles and "canine.02083346" in res.cycles[0] and "cycle" in caplog.text
    nothing = tmp_path / "none.tsv"
    nothing.write_text("a\tb\n")
    with pytest.raises(InputError, match="none of the relations' nodes is in the table"):
        reconstruction(emb, nothing)
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(InputError, match="no closure relations"):
        reconstruction(emb, empty)


def test_the_command_line_prints_the_figures(tmp_path, capsys):
    rel, emb = _table()
    emb.save(tmp_path / "m.ov")
    assert main(["eval", "hierarchy", str(tmp_path / "m.ov"), str(CANINE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    res = reconstruction(emb, CANINE)
    assert out["task"] == "reconstruction" and out["map"] == pytest.approx(res.map)
    assert out["mean_rank"] == pytest.approx(res.mean_rank) and out["relations"] == 798
    assert main(["eval", "hierarchy", str(tmp_path / "m.ov"), str(CANINE)]) == 0
    assert "MAP" in capsys.readouterr().out
