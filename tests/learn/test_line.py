import json
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError
from omnivec.learn import get_learner
from omnivec.learn.graph import LINE, Graph, read_graph
from omnivec.learn.graph.line import edge_sampler, noise_weights

KARATE = Path(__file__).resolve().parents[1] / "data" / "graphs" / "karate"


def _factions() -> dict[str, str]:
    rows = (KARATE / "factions.tsv").read_text().splitlines()
    return dict(r.split("\t") for r in rows if r.strip())


def _alias_distribution(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """The exact distribution an alias table draws: column i kept with prob[i], else alias[i]."""
    n = len(prob)
    p = prob.astype(np.float64) / n
    np.add.at(p, alias, (1.0 - prob.astype(np.float64)) / n)
    return p


def _draw(prob, alias, m, rng):
    i = rng.integers(0, len(prob), m)
    keep = rng.random(m) < prob[i]
    return np.where(keep, i, alias[i])


def test_edges_are_sampled_in_proportion_to_their_weights():
    g = Graph.from_edges([0, 0, 1, 2, 3], [1, 2, 2, 3, 0], [1.0, 5.0, 0.5, 2.0, 0.0])
    src, dst, prob, alias = edge_sampler(g)
    # both directions of every undirected edge are stored and sampled alike
    assert sorted(zip(src.tolist(), dst.tolist())) == sorted(
        [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1), (2, 3), (3, 2), (3, 0), (0, 3)])
    exact = _alias_distribution(prob, alias)
    np.testing.assert_allclose(exact, g.weights / g.weights.sum(), rtol=1e-6, atol=1e-7)
    counts = np.bincount(_draw(prob, alias, 200_000, np.random.default_rng(0)), minlength=len(src))
    expected = 200_000 * g.weights / g.weights.sum()
    seen = expected > 0
    chi2 = (((counts - expected)[seen]) ** 2 / expected[seen]).sum()
    assert chi2 < 30 and counts[~seen].sum() == 0       # 7 degrees of freedom: p ~ 1e-4 at 30


def test_noise_follows_degree_to_the_three_quarters():
    g = read_graph(KARATE / "karate.adjlist")
    w = noise_weights(g, 0.75)
    np.testing.assert_allclose(w, g.degree().astype(float) ** 0.75)
    directed = Graph.from_edges([0, 0, 1], [1, 2, 2], [2.0, 1.0, 3.0], directed=True)
    np.testing.assert_allclose(noise_weights(directed, 0.75), [3.0 ** 0.75, 3.0 ** 0.75, 0.0])


@pytest.mark.parametrize("order", [1, 2, "both"])
def test_vectors_separate_the_karate_club_factions(order):
    emb = LINE(dim=16, order=order, samples=100_000, workers=1, seed=2, progress=False).fit(
        read_graph(KARATE / "karate.adjlist"))
    faction = _factions()
    hi = np.array([faction[k] == "Mr. Hi" for k in emb.index_to_key])
    V = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    S = V @ V.T
    within = (S[np.ix_(hi, hi)].mean() + S[np.ix_(~hi, ~hi)].mean()) / 2
    assert within > S[np.ix_(hi, ~hi)].mean() + 0.1
    # each member is nearer the mean of its own faction than of the other (leave-one-out not needed
    # for a margin this size): most members are placed right
    c_hi, c_off = V[hi].mean(axis=0), V[~hi].mean(axis=0)
    right = np.where(hi, V @ c_hi > V @ c_off, V @ c_off > V @ c_hi)
    assert right.mean() >= 0.85
    assert emb.name == "nodes" and emb.dim == 16


def test_both_concatenates_unit_length_halves_of_the_two_orders():
    g = read_graph(KARATE / "karate.adjlist")
    both = LINE(dim=8, order="both", samples=20_000, workers=1, seed=4, progress=False).fit(g)
    first = LINE(dim=4, order=1, samples=20_000, workers=1, seed=4, progress=False).fit(g)
    np.testing.assert_allclose(np.linalg.norm(both.vectors[:, :4], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(both.vectors[:, 4:], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(both.vectors[:, :4], first.vectors)   # the first order is trained first
    runs = both.meta["training"][0]["orders"]
    assert [r["order"] for r in runs] == ["first", "second"] and all(r["samples"] == 20_000 for r in runs)
    raw = LINE(dim=4, order=2, samples=20_000, normalize=False, workers=1, seed=4, progress=False).fit(g)
    assert not np.allclose(np.linalg.norm(raw.vectors, axis=1), 1.0)


def test_one_worker_and_a_seed_reproduce_and_threads_still_train():
    g = read_graph(KARATE / "karate.adjlist")
    kw = dict(dim=8, samples=150_000, seed=9, progress=False)
    a, b = LINE(workers=1, **kw).fit(g), LINE(workers=1, **kw).fit(g)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    c = LINE(workers=2, **kw).fit(g)     # Hogwild: not bit-identical, but a trained model
    assert np.isfinite(c.vectors).all() and c.meta["training"][0]["workers"] == 2
    assert sum(r["samples"] for r in c.meta["training"][0]["orders"]) == 300_000


def test_ctrl_c_keeps_the_model_trained_so_far():
    g = read_graph(KARATE / "karate.adjlist")

    def stop(report):
        raise KeyboardInterrupt

    learner = LINE(dim=8, samples=20_000, workers=1, seed=1, progress=False, callbacks=[stop])
    emb = learner.fit(g)
    assert learner.interrupted_ and emb.meta["training"][0]["interrupted"]
    assert [r["order"] for r in emb.meta["training"][0]["orders"]] == ["first"]
    assert emb.dim == 8 and np.isfinite(emb.vectors).all()
    first = LINE(dim=4, order=1, samples=20_000, workers=1, seed=1, progress=False).fit(g)
    np.testing.assert_array_equal(emb.vectors[:, :4], first.vectors)


def test_sinks_of_a_directed_graph_are_counted_and_keep_finite_vectors():
    g = Graph.from_edges([0, 1, 2, 0], [1, 2, 3, 3], directed=True)
    emb = LINE(dim=4, order=2, samples=5_000, workers=1, seed=1, progress=False).fit(g)
    assert emb.meta["training"][0]["nodes_without_out_edges"] == 1
    assert np.isfinite(emb.vectors).all()


@pytest.mark.parametrize("kw,msg", [(dict(order="third"), "order"), (dict(order=3), "order"),
                                    (dict(dim=7), "dim must be even"), (dict(samples=0), "samples"),
                                    (dict(negative=0), "negative"), (dict(lr=0.0), "lr")])
def test_bad_parameters_are_refused(kw, msg):
    with pytest.raises(InputError, match=msg):
        LINE(**kw)


def test_order_names_and_numbers_mean_the_same():
    assert LINE(order=1).order == LINE(order="1").order == LINE(order="First").order == "first"
    assert LINE(order=2).order == "second" and LINE(order="1+2").order == "both"
    assert get_learner("line") is LINE


def test_a_graph_without_edges_is_refused():
    g = Graph.from_edges(np.zeros(0, np.int64), np.zeros(0, np.int64), nodes=["a", "b"])
    with pytest.raises(InputError, match="no edges"):
        LINE(progress=False).fit(g)


def test_command_line_trains_a_model_that_classifies_the_factions(tmp_path, capsys):
    from omnivec.cli import main

    out = tmp_path / "line.ov"
    assert main(["train", "line", str(KARATE / "karate.adjlist"), "-o", str(out), "--dim", "16",
                 "--samples", "100000", "--workers", "1", "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == 34 and [o["order"] for o in summary["orders"]] == ["first", "second"]
    emb = omnivec.open(out)
    assert emb.meta["learner"] == "line" and emb.dim == 16
    pytest.importorskip("sklearn")
    assert main(["eval", "nodes", str(out), str(KARATE / "factions.tsv"), "--train-ratios", "0.5",
                 "--repeats", "5", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["results"][0]["micro_f1"] > 0.8


def test_train_line_help_fits_80_columns(capsys, monkeypatch):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    try:
        from test_help import test_help_fits_80_columns_and_cuts_nothing as check
    finally:
        sys.path.pop(0)
    check(capsys, monkeypatch, ["train", "line"])
