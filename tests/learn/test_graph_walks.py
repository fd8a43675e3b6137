"""Random walks against a brute-force node2vec oracle, k-cores, and node vectors that mean something."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from omnivec import Embeddings
from omnivec.cli import main
from omnivec.errors import InputError
from omnivec.learn.graph import DeepWalk, Graph, Node2Vec, core_numbers, random_walks, read_graph

DATA = Path(__file__).resolve().parents[1] / "data" / "graphs"
KARATE = DATA / "karate" / "karate.adjlist"

# a small graph with triangles, a hub, a pendant node and uneven weights
EDGES = [(0, 1, 1.0), (0, 2, 2.0), (1, 2, 1.0), (2, 3, 3.0), (3, 4, 1.0), (3, 5, 0.5), (4, 5, 2.0),
         (5, 6, 1.0), (2, 5, 1.5), (1, 3, 1.0)]


# directed: every edge one way and a few back, so that walks meet every kind of step
BACK = [(2, 0, 1.0), (3, 2, 2.0), (5, 3, 1.0), (6, 5, 1.0), (5, 4, 1.0), (3, 1, 0.5)]


def small(weighted: bool, directed: bool = False) -> Graph:
    s, d, w = zip(*(EDGES + BACK if directed else EDGES))
    return Graph.from_edges(np.array(s), np.array(d), np.array(w) if weighted else None,
                            nodes=[f"n{i}" for i in range(7)], directed=directed)


def oracle(g: Graph, t: int, v: int, p: float, q: float) -> dict[int, float]:
    """node2vec's transition probabilities from v having come from t, by the definition."""
    out = {}
    for x, w in zip(g.neighbors(v).tolist(), g.edge_weights(v).tolist()):
        if x == t:
            a = 1 / p
        elif x in set(g.neighbors(t).tolist()):
            a = 1.0
        else:
            a = 1 / q
        out[x] = a * w
    z = sum(out.values())
    return {x: w / z for x, w in out.items()}


def transitions(nodes: np.ndarray, ends: np.ndarray) -> Counter:
    c: Counter = Counter()
    start = 0
    for e in ends.tolist():
        walk = nodes[start:e].tolist()
        for a, b, x in zip(walk, walk[1:], walk[2:]):
            c[(a, b, x)] += 1
        start = e
    return c


def chi_square(g: Graph, counts: Counter, p: float, q: float) -> tuple[float, int]:
    """Pearson's statistic over every (t, v) pair seen, and its degrees of freedom."""
    stat, dof = 0.0, 0
    pairs = {(t, v) for t, v, _ in counts}
    for t, v in pairs:
        probs = oracle(g, t, v, p, q)
        n = sum(counts[(t, v, x)] for x in probs)
        for x, pr in probs.items():
            assert counts[(t, v, x)] == 0 or pr > 0
            stat += (counts[(t, v, x)] - n * pr) ** 2 / (n * pr)
        dof += len(probs) - 1
    return stat, dof


@pytest.mark.parametrize("mode", ["precompute", "rejection"])
@pytest.mark.parametrize("weighted,directed", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("p,q", [(0.25, 4.0), (4.0, 0.5)])
def test_second_order_steps_follow_node2vec_probabilities(mode, weighted, directed, p, q):
    from scipy.stats import chi2

    g = small(weighted, directed)
    nodes, ends = random_walks(g, walk_length=12, num_walks=600, p=p, q=q, walk_mode=mode, seed=7)
    counts = transitions(nodes, ends)
    stat, dof = chi_square(g, counts, p, q)
    assert dof > 10
    assert stat < chi2.ppf(0.999, dof), (stat, dof)
    # the same statistic tells a wrong p, q apart (the check has power)
    wrong, _ = chi_square(g, counts, q, p)
    assert wrong > chi2.ppf(0.999, dof)


def test_first_order_steps_are_proportional_to_weights():
    from scipy.stats import chi2

    g = small(True)
    nodes, ends = random_walks(g, walk_length=2, num_walks=4000, seed=3)
    assert np.all(np.diff(np.concatenate([[0], ends])) == 2)
    first = nodes.reshape(-1, 2)
    stat, dof = 0.0, 0
    for v in range(len(g)):
        got = first[first[:, 0] == v, 1]
        w = g.edge_weights(v) / g.edge_weights(v).sum()
        seen = np.array([(got == x).sum() for x in g.neighbors(v)])
        stat += (((seen - len(got) * w) ** 2) / (len(got) * w)).sum()
        dof += len(w) - 1
    assert stat < chi2.ppf(0.999, dof)


def test_walks_stop_at_sinks_of_a_directed_graph():
    g = Graph.from_edges([0, 1, 1], [1, 2, 3], nodes=["a", "b", "c", "d"], directed=True)
    nodes, ends = random_walks(g, walk_length=10, num_walks=5, p=0.5, q=2.0, seed=1)
    lengths = np.diff(np.concatenate([[0], ends]))
    assert lengths.max() == 3 and lengths.min() == 1      # a -> b -> c|d, then nowhere to go
    emb = DeepWalk(dim=4, walk_length=10, num_walks=2, workers=1, seed=1, progress=False).fit(g)
    run = emb.meta["training"][0]
    assert run["stopped_at_dead_ends"] == run["walks"] == 8
    assert emb.meta["graph"]["sinks"] == 2


def brute_core(g: Graph) -> np.ndarray:
    """Core numbers by peeling: repeatedly remove every node of degree < k."""
    adj = [set(g.neighbors(v).tolist()) - {v} for v in range(len(g))]
    core = np.zeros(len(g), int)
    alive = set(range(len(g)))
    k = 0
    while alive:
        k += 1
        changed = True
        while changed:
            changed = False
            for v in list(alive):
                if len(adj[v] & alive) < k:
                    alive.discard(v)
                    core[v] = k - 1
                    changed = True
    return core


def test_core_numbers_match_peeling_and_networkx(tmp_path):
    rng = np.random.default_rng(5)
    graphs = [read_graph(KARATE), small(False)]
    for n, m in ((60, 200), (40, 400)):
        e = rng.integers(0, n, size=(m, 2))
        graphs.append(Graph.from_edges(e[:, 0], e[:, 1], nodes=[str(i) for i in range(n)]))
    for g in graphs:
        got = core_numbers(g)
        np.testing.assert_array_equal(got, brute_core(g))
        try:
            import networkx as nx
        except ImportError:
            continue
        h = nx.Graph()
        h.add_nodes_from(range(len(g)))
        h.add_edges_from((a, b) for a in range(len(g)) for b in g.neighbors(a).tolist() if a != b)
        ref = nx.core_number(h)
        assert got.tolist() == [ref[v] for v in range(len(g))]


def factions() -> tuple[Embeddings, np.ndarray]:
    g = read_graph(KARATE)
    lab = dict(line.rstrip("\n").split("\t") for line in open(DATA / "karate" / "factions.tsv"))
    return g, np.array([lab[k] == "Mr. Hi" for k in g.nodes])


def separation(emb: Embeddings, y: np.ndarray) -> float:
    """Share of nodes whose nearest other node (cosine) is in their own faction."""
    v = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    return float((y[s.argmax(1)] == y).mean())


@pytest.mark.parametrize("learner", [
    DeepWalk(dim=16, num_walks=20, walk_length=20, window=5, sample=0, workers=1, seed=2, progress=False),
    DeepWalk(dim=16, num_walks=20, walk_length=20, window=5, sample=0, batch_windows=False, workers=1, seed=2,
             progress=False),
    Node2Vec(dim=16, num_walks=20, walk_length=20, window=5, p=0.5, q=2.0, sample=0, workers=1, seed=2,
             progress=False),
    Node2Vec(dim=16, num_walks=20, walk_length=20, window=5, p=0.5, q=2.0, kcore=3, sample=0, workers=1,
             seed=2, progress=False),
])
def test_karate_factions_are_separated_far_better_than_chance(learner):
    g, y = factions()
    emb = learner.fit(g)
    assert emb.keys.keys_of(range(3)) == ["1", "2", "3"] and len(emb) == 34
    assert emb.counts.sum() == emb.meta["training"][0]["walk_nodes"]
    # chance (a random nearest neighbour) agrees about half the time
    assert separation(emb, y) >= 0.85
    if learner.kcore:
        kc = emb.meta["kcore"]
        assert kc["core_nodes"] + kc["propagated"] + kc["unreached"] == 34 and kc["unreached"] == 0
        assert kc["core_nodes"] == int((core_numbers(g) >= 3).sum())


def test_one_worker_and_a_seed_reproduce_bit_for_bit_and_threads_run():
    g = read_graph(KARATE)
    kw = dict(dim=8, num_walks=4, walk_length=15, p=0.5, q=2.0, seed=4, progress=False)
    a = Node2Vec(workers=1, **kw).fit(g).vectors
    b = Node2Vec(workers=1, **kw).fit(g).vectors
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Node2Vec(workers=1, **{**kw, "seed": 5}).fit(g).vectors)
    c = Node2Vec(workers=2, **kw).fit(g)
    assert np.isfinite(c.vectors).all() and c.meta["training"][0]["walks"] == 4 * 34


def test_precompute_and_rejection_learn_alike():
    g, y = factions()
    kw = dict(dim=16, num_walks=20, walk_length=20, window=5, p=0.5, q=2.0, sample=0, workers=1, seed=2,
             progress=False)
    for mode in ("precompute", "rejection"):
        emb = Node2Vec(walk_mode=mode, **kw).fit(g)
        assert emb.meta["training"][0]["walk_mode"] == mode
        assert separation(emb, y) >= 0.85


def test_kcore_beyond_the_degeneracy_is_refused():
    g = read_graph(KARATE)
    with pytest.raises(InputError, match="largest core is the 4-core"):
        DeepWalk(dim=4, kcore=5, workers=1, progress=False).fit(g)


def test_ctrl_c_keeps_the_model_trained_so_far():
    g = read_graph(KARATE)

    def interrupt(report):
        raise KeyboardInterrupt

    learner = DeepWalk(dim=4, num_walks=2, walk_length=10, epochs=3, workers=1, seed=1, progress=False,
                       callbacks=[interrupt])
    emb = learner.fit(g)
    run = emb.meta["training"][0]
    assert run["interrupted"] and run["epochs_done"] == 1 and np.isfinite(emb.vectors).all()


def test_command_line_trains_and_saves_a_node_table(tmp_path, capsys):
    import json

    import omnivec

    out = tmp_path / "m.ov"
    src = tmp_path / "d.tsv"
    src.write_text("a b 1\nb c 2\nc a 1\nc d 1\n", encoding="utf-8")
    assert main(["train", "node2vec", str(src), "-o", str(out), "--directed", "--dim", "4", "-w", "1",
                 "--p", "0.5", "--num-walks", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == 4 and summary["graph"]["sinks"] == 1 and summary["graph"]["weighted"]
    assert summary["stopped_at_dead_ends"] > 0
    emb = omnivec.open(out)
    assert sorted(emb.keys.keys_of(range(4))) == ["a", "b", "c", "d"]
    assert main(["train", "deepwalk", str(tmp_path / "nope.tsv"), "-o", str(out)]) == 1
