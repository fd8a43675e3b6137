import json
import warnings

import numpy as np
import pytest

from omnivec import Embeddings
from omnivec.errors import InputError, ParseError
from omnivec.evaluate.nodes import (f1_scores, node_classification, read_labels, top_k_predictions)

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402


def _clusters(n_per=30, n_labels=4, dim=8, seed=0, noise=0.3):
    """Nodes in well-separated clusters, one label per cluster; a few nodes carry a second label."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_labels, dim)) * 3
    keys, vecs, labels = [], [], {}
    for c in range(n_labels):
        for i in range(n_per):
            node = f"n{c}_{i}"
            keys.append(node)
            vecs.append(centres[c] + noise * rng.standard_normal(dim))
            labels[node] = [f"L{c}"]
    return Embeddings(keys, np.asarray(vecs, np.float32)), labels


def test_f1_scores_equal_sklearn_on_multilabel_matrices():
    rng = np.random.default_rng(1)
    for trial in range(20):
        t = (rng.random((40, 7)) < 0.3).astype(int)
        p = (rng.random((40, 7)) < 0.3).astype(int)
        t[:, 3] = 0
        p[:, 3] = 0          # a label nobody has and nobody predicts scores 0 in the macro mean
        if trial % 2:
            p[:, 5] = 0      # predicted never
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = (f1_score(t, p, average="micro", zero_division=0),
                    f1_score(t, p, average="macro", zero_division=0))
        assert f1_scores(t, p) == pytest.approx(want, abs=1e-12)


def test_top_k_predictions_give_each_node_as_many_labels_as_it_has():
    scores = np.array([[0.1, 0.9, 0.5, 0.3],
                       [0.8, 0.1, 0.7, 0.6],
                       [0.2, 0.2, 0.2, 0.9]])
    pred = top_k_predictions(scores, np.array([1, 3, 2]))
    assert pred.tolist() == [[0, 1, 0, 0], [1, 0, 1, 1], [1, 0, 0, 1]]   # tie goes to the lower label
    assert pred.sum(axis=1).tolist() == [1, 3, 2]


def test_report_equals_a_hand_built_sklearn_run_of_the_protocol():
    emb, labels = _clusters(noise=2.5, seed=4)
    # a second label on some nodes makes the data multi-label
    for i, node in enumerate(list(labels)):
        if i % 5 == 0:
            labels[node].append("L9")
    rep = node_classification(emb, labels, train_ratios=(0.3, 0.7), repeats=2, seed=11)
    assert rep.multilabel and rep.labels == 5 and rep.nodes == len(emb)

    nodes = list(labels)
    names = sorted({lab for labs in labels.values() for lab in labs})
    Y = np.array([[int(n in labels[node]) for n in names] for node in nodes])
    X = np.asarray(emb.vectors_of(nodes), np.float64)
    rng = np.random.default_rng(11)
    perms = [rng.permutation(len(nodes)) for _ in range(2)]
    for ratio, mean_mi, mean_ma in zip((0.3, 0.7), rep.micro_f1, rep.macro_f1):
        mis, mas = [], []
        for perm in perms:
            n_train = int(len(nodes) * ratio)
            tr, te = perm[:n_train], perm[n_train:]
            clf = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(X[tr], Y[tr])
            probs = clf.predict_proba(X[te])
            pred = np.zeros_like(Y[te])
            for r, k in enumerate(Y[te].sum(axis=1)):
                pred[r, np.argsort(-probs[r], kind="stable")[:k]] = 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mis.append(f1_score(Y[te], pred, average="micro", zero_division=0))
                mas.append(f1_score(Y[te], pred, average="macro", zero_division=0))
        assert mean_mi == pytest.approx(np.mean(mis), abs=1e-12)
        assert mean_ma == pytest.approx(np.mean(mas), abs=1e-12)


def test_separated_clusters_score_near_one_and_shuffled_labels_do_not():
    emb, labels = _clusters()
    good = node_classification(emb, labels, train_ratios=(0.5,), repeats=3)
    assert good.micro_f1[0] > 0.95 and good.macro_f1[0] > 0.95
    rng = np.random.default_rng(0)
    values = list(labels.values())
    shuffled = dict(zip(labels, [values[i] for i in rng.permutation(len(values))]))
    bad = node_classification(emb, shuffled, train_ratios=(0.5,), repeats=3)
    assert bad.micro_f1[0] < 0.6
    assert len(good.rows()) == 1 and good.at(0.5)["train"] == len(emb) // 2
    assert set(good.as_dict()) >= {"results", "repeats", "nodes", "labels", "missing"}


def test_same_seed_same_report_and_another_seed_other_splits():
    emb, labels = _clusters(noise=2.0)
    a = node_classification(emb, labels, train_ratios=(0.2,), repeats=3, seed=5)
    b = node_classification(emb, labels, train_ratios=(0.2,), repeats=3, seed=5)
    c = node_classification(emb, labels, train_ratios=(0.2,), repeats=3, seed=6)
    assert a.runs == b.runs
    assert a.runs != c.runs


def test_read_labels_multilabel_rows_comments_and_spaces(tmp_path):
    p = tmp_path / "labels.tsv"
    p.write_text("# node label\n1\t3\n1\t5\n2\t3\n\n1\t3\n3 7\n")
    assert read_labels(p) == {"1": ["3", "5"], "2": ["3"], "3": ["7"]}


@pytest.mark.parametrize("text,line", [("1\t3\n2\n", 2), ("1\t3\n\t4\n", 2), ("a\tb\nc\t\n", 2)])
def test_read_labels_names_file_and_line_of_a_malformed_row(tmp_path, text, line):
    p = tmp_path / "bad.tsv"
    p.write_text(text)
    with pytest.raises(ParseError, match=rf"bad\.tsv, line {line}:") as info:
        read_labels(p)
    assert info.value.line == line


def test_empty_labels_are_refused(tmp_path):
    p = tmp_path / "empty.tsv"
    p.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty.tsv: no labels"):
        read_labels(p)
    with pytest.raises(InputError, match="nope.tsv: no such labels file"):
        read_labels(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="is a folder"):
        read_labels(tmp_path)
    emb, _ = _clusters()
    with pytest.raises(InputError, match="empty"):
        node_classification(emb, {})
    with pytest.raises(InputError, match="'n0_0' has no labels"):
        node_classification(emb, {"n0_0": []})


def test_labels_for_nodes_the_table_lacks_are_counted_and_none_at_all_is_an_error(tmp_path):
    emb, labels = _clusters()
    labels = dict(labels, ghost1=["L0"], ghost2=["L1"])
    rep = node_classification(emb, labels, train_ratios=(0.5,), repeats=1)
    assert rep.missing == 2 and set(rep.missing_examples) == {"ghost1", "ghost2"}
    assert rep.nodes == len(emb)
    p = tmp_path / "other.tsv"
    p.write_text("x\t1\ny\t2\n")
    with pytest.raises(InputError, match=r"none of the 2 labelled nodes in .*other\.tsv is in the table"):
        node_classification(emb, p)


def test_integer_keyed_tables_match_labels_read_as_text(tmp_path):
    emb, labels = _clusters(n_per=10)
    ints = Embeddings(list(range(len(emb))), emb.vectors)
    p = tmp_path / "labels.tsv"
    p.write_text("".join(f"{i}\t{labels[k][0]}\n" for i, k in enumerate(emb.index_to_key)))
    a = node_classification(ints, p, train_ratios=(0.5,), repeats=2)
    b = node_classification(emb, labels, train_ratios=(0.5,), repeats=2)
    assert a.micro_f1 == b.micro_f1 and a.missing == 0


@pytest.mark.parametrize("kw,msg", [(dict(train_ratios=(0.0,)), "strictly between 0 and 1"),
                                    (dict(train_ratios=(1.0,)), "strictly between 0 and 1"),
                                    (dict(train_ratios=()), "empty"),
                                    (dict(train_ratios=("x",)), "numbers"),
                                    (dict(repeats=0), "repeats"),
                                    (dict(C=0.0), "C must be positive"),
                                    (dict(train_ratios=(0.001,)), "leaves no training node")])
def test_bad_parameters_are_refused(kw, msg):
    emb, labels = _clusters()
    with pytest.raises(InputError, match=msg):
        node_classification(emb, labels, **kw)


def test_cli_eval_nodes_prints_json_and_a_table(tmp_path, capsys):
    from omnivec.cli import main

    emb, labels = _clusters(n_per=12)
    model = tmp_path / "nodes.ov"
    emb.save(model)
    lab = tmp_path / "labels.tsv"
    lab.write_text("".join(f"{n}\t{ls[0]}\n" for n, ls in labels.items()) + "ghost\tL0\n")
    assert main(["eval", "nodes", str(model), str(lab), "--train-ratios", "0.5,0.9", "--repeats", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["ratio"] for r in out["results"]] == [0.5, 0.9]
    assert out["missing"] == 1 and out["repeats"] == 2
    assert main(["eval", "nodes", str(model), str(lab), "--train-ratios", "0.5", "--repeats", "1"]) == 0
    text = capsys.readouterr().out
    assert "micro-F1" in text and "50%" in text and "ghost" in text
    assert main(["eval", "nodes", str(model), str(lab), "--train-ratios", "a,b"]) == 1
    assert "--train-ratios" in capsys.readouterr().err


def test_cli_eval_nodes_help_fits_80_columns(capsys, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    try:
        from test_help import test_help_fits_80_columns_and_cuts_nothing as check
    finally:
        sys.path.pop(0)
    check(capsys, monkeypatch, ["eval", "nodes"])


# -- link prediction -------------------------------------------------------------

from pathlib import Path  # noqa: E402

from omnivec.evaluate.nodes import EdgeSplit, link_prediction, roc_auc, split_edges  # noqa: E402
from omnivec.learn.graph import Graph, read_graph  # noqa: E402

KARATE = Path(__file__).resolve().parents[1] / "data" / "graphs" / "karate" / "karate.adjlist"


def _components(n, pairs):
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a
    for a, b in pairs:
        parent[find(a)] = find(b)
    return len({find(i) for i in range(n)})


def _pairs(g):
    src = np.repeat(np.arange(len(g)), np.diff(g.indptr))
    return {(min(a, b), max(a, b)) for a, b in zip(src.tolist(), g.indices.tolist())}


def test_split_edges_holds_out_edges_keeps_connectivity_and_draws_true_non_edges():
    g = read_graph(KARATE, directed=False)
    s = split_edges(g, 0.3, seed=2)
    full, train = _pairs(g), _pairs(s.train)
    test = {tuple(p) for p in s.test_pos.tolist()}
    assert len(s.train) == len(g) and list(s.train.nodes) == list(g.nodes)
    assert train | test == full and not train & test
    assert len(test) == round(0.3 * len(full)) == s.requested
    assert {tuple(p) for p in s.train_pos.tolist()} == train
    assert _components(len(g), train) == _components(len(g), full) == 1
    negs = [tuple(sorted(p)) for p in np.concatenate([s.train_neg, s.test_neg]).tolist()]
    assert len(negs) == len(set(negs)) == len(full)
    assert not set(negs) & full and all(a != b for a, b in negs)
    again = split_edges(g, 0.3, seed=2)
    assert np.array_equal(again.test_pos, s.test_pos) and np.array_equal(again.test_neg, s.test_neg)
    assert not np.array_equal(split_edges(g, 0.3, seed=3).test_pos, s.test_pos)


def test_split_edges_holds_out_fewer_when_the_rest_would_fall_apart_and_refuses_a_tree():
    # a path 0-1-2-3-4-5 plus one chord: only one edge of the triangle 0-1-2 may go
    g = Graph.from_edges([0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 2])
    s = split_edges(g, 0.75, seed=0)
    assert s.requested == 4 and len(s.test_pos) == 1
    assert {tuple(p) for p in s.test_pos.tolist()} <= {(0, 1), (1, 2), (0, 2)}
    dense = Graph.from_edges([0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3])
    with pytest.raises(InputError, match="too few non-edges"):
        split_edges(dense, 0.5)
    tree = Graph.from_edges([0, 1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="every edge is needed"):
        split_edges(tree, 0.5)
    with pytest.raises(InputError, match="test_fraction"):
        split_edges(g, 1.0)


def test_roc_auc_equals_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(10):
        y = rng.random(200) < 0.4
        s = np.round(rng.standard_normal(200) + y, 1)     # rounding makes ties
        assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    with pytest.raises(InputError, match="both positive and negative"):
        roc_auc(np.ones(3, bool), np.arange(3.0))


def _communities(seed=0, n=48, parts=4):
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for i in range(n):
        for j in range(i + 1, n):
            same = i * parts // n == j * parts // n
            if rng.random() < (0.6 if same else 0.01):
                src.append(i)
                dst.append(j)
    return Graph.from_edges(src, dst)


def test_link_prediction_is_high_for_community_vectors_and_near_half_for_noise():
    g = _communities()
    s = split_edges(g, 0.5, seed=1)
    part = np.array([int(k) * 4 // 48 for k in s.nodes])
    good = Embeddings(list(s.nodes), np.eye(4, dtype=np.float32)[part]
                      + 0.01 * np.random.default_rng(0).standard_normal((len(part), 4)).astype(np.float32))
    rep = link_prediction(good, s)
    assert rep.auc > 0.8 and rep.cosine_auc > 0.8
    assert rep.test_pairs == 2 * len(s.test_pos) and rep.skipped_pairs == 0
    noise = Embeddings(list(s.nodes), np.random.default_rng(5).standard_normal((len(part), 16)).astype(np.float32))
    rnd = link_prediction(noise, s)
    assert abs(rnd.cosine_auc - 0.5) < 0.15
    for op in ("average", "l1", "l2"):
        assert 0.0 <= link_prediction(good, s, operator=op).auc <= 1.0


def test_link_prediction_counts_pairs_of_nodes_the_table_lacks_and_refuses_bad_arguments():
    g = _communities()
    s = split_edges(g, 0.5, seed=1)
    keep = [k for k in s.nodes if k not in ("0", "1")]
    emb = Embeddings(keep, np.random.default_rng(0).standard_normal((len(keep), 4)).astype(np.float32))
    rep = link_prediction(emb, s)
    assert rep.skipped_pairs > 0
    assert rep.train_pairs + rep.test_pairs + rep.skipped_pairs == 2 * (len(s.train_pos) + len(s.test_pos))
    with pytest.raises(InputError, match="unknown operator 'dot'"):
        link_prediction(emb, s, operator="dot")
    with pytest.raises(InputError, match="EdgeSplit"):
        link_prediction(emb, g)
    other = Embeddings(["x", "y"], np.eye(2, dtype=np.float32))
    with pytest.raises(InputError, match="none of the graph's"):
        link_prediction(other, s)
    assert isinstance(s, EdgeSplit)


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    import sys

    from omnivec.errors import MissingDependencyError

    emb, labels = _clusters(n_per=5)
    monkeypatch.setitem(sys.modules, "sklearn", None)     # import sklearn now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'omnivec\[graph\]'"):
        node_classification(emb, labels)
