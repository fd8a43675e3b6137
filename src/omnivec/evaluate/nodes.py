"""Node embeddings: node classification and link prediction.

Node classification follows DeepWalk's and node2vec's protocol: the labelled
nodes are shuffled `repeats` times (one seeded permutation per repeat, used
at every training ratio); the first `ratio` of each permutation trains a
one-vs-rest L2 logistic regression (scikit-learn's liblinear, C=1, the
classifier those papers used), and every test node is given its `k` most
probable labels, `k` being the number of labels it truly has (one for
single-label data).  Micro- and macro-F1 are averaged over the repeats.

Link prediction follows node2vec's: `split_edges` removes a fraction of a
graph's edges (never one that would disconnect what the rest connects) and
draws as many node pairs that are not edges; the embeddings learnt on the
remaining graph are scored by a logistic regression on the Hadamard product
of the two nodes' vectors (ROC-AUC), and by the plain cosine of the pair.

scikit-learn is an optional dependency: ``pip install 'omnivec[graph]'``.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..embeddings import Embeddings
from .._textlines import utf8_lines
from ..errors import InputError, ParseError, require

DEFAULT_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

Labels = Mapping[Any, Iterable[Any]]


def _sklearn(purpose: str):
    require("sklearn", "graph", purpose)
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    return LogisticRegression, OneVsRestClassifier


# -- labels ---------------------------------------------------------------------

def read_labels(path: str | os.PathLike) -> dict[str, list[str]]:
    """Return {node: [labels]} from a file of ``node<TAB>label`` rows.

    A node may have several rows (multi-label data); a row may also carry
    several labels after the node.  Fields are separated by tabs (or spaces
    when a line has no tab); blank lines and lines starting with ``#`` are
    skipped.  Labels keep their first-seen order; a repeated row counts once.
    ParseError names the file and line of a malformed row; InputError is
    raised for a file without labels.
    """
    out: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for lineno, line in utf8_lines(path, "labels"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        parts = [p.strip() for p in parts]
        if len(parts) < 2 or any(not p for p in parts):
            raise ParseError(f"expected 'node<TAB>label', got {line[:60]!r}", path=path, line=lineno)
        node = parts[0]
        labels = out.setdefault(node, [])
        for lab in parts[1:]:
            if (node, lab) not in seen:
                seen.add((node, lab))
                labels.append(lab)
    if not out:
        raise InputError(f"{os.fspath(path)}: no labels (the file has no 'node<TAB>label' rows)")
    return out


def _labels_of(labels: Labels | str | os.PathLike) -> tuple[dict[str, list[str]], str]:
    if isinstance(labels, (str, os.PathLike)):
        return read_labels(labels), os.fspath(labels)
    if not isinstance(labels, Mapping):
        raise InputError(f"labels must be a file path or a mapping node -> labels, "
                         f"not {type(labels).__name__}")
    out: dict[str, list[str]] = {}
    for node, labs in labels.items():
        if isinstance(labs, (str, bytes, int, np.integer)):
            labs = [labs]
        got = list(dict.fromkeys(str(x) for x in labs))
        if not got:
            raise InputError(f"labels: node {node!r} has no labels")
        out[str(node)] = got
    if not out:
        raise InputError("labels: no labelled nodes (the mapping is empty)")
    return out, "the labels"


def _node_table(emb) -> Embeddings:
    if isinstance(emb, Embeddings):
        return emb
    tables = getattr(emb, "tables", None)
    if isinstance(tables, Mapping):
        if "nodes" in tables and len(tables) > 1:
            return tables["nodes"]
        return emb.table()
    raise InputError(f"expected an Embeddings table or a Model, not {type(emb).__name__}")


def _rows_for(emb: Embeddings, nodes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, kept) for the nodes the table holds (string ids matched to int keys too)."""
    rows = np.full(len(nodes), -1, np.int64)
    integer_keys = emb.keys.kind == "int"
    for i, node in enumerate(nodes):
        key: Any = node
        if integer_keys:
            try:
                key = int(node)
            except ValueError:
                continue
        rows[i] = emb.get_index(key, -1)
    kept = np.flatnonzero(rows >= 0)
    return rows[kept], kept


# -- F1 -------------------------------------------------------------------------

def f1_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Return (micro-F1, macro-F1) of two 0/1 indicator matrices (samples x labels).

    As scikit-learn's ``f1_score`` with ``average="micro"|"macro"``: a label with
    no true and no predicted sample scores 0 in the macro mean.
    """
    t = np.asarray(y_true, bool)
    p = np.asarray(y_pred, bool)
    if t.shape != p.shape or t.ndim != 2:
        raise InputError(f"f1_scores needs two matrices of one shape; got {t.shape} and {p.shape}")
    tp = (t & p).sum(axis=0).astype(np.float64)
    fp = (~t & p).sum(axis=0).astype(np.float64)
    fn = (t & ~p).sum(axis=0).astype(np.float64)
    den = 2 * tp + fp + fn
    per_label = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    micro_den = den.sum()
    micro = float(2 * tp.sum() / micro_den) if micro_den > 0 else 0.0
    macro = float(per_label.mean()) if per_label.size else 0.0
    return micro, macro


def top_k_predictions(scores: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Return the 0/1 matrix marking each row's `k[i]` highest scores (DeepWalk's scoring rule).

    Ties go to the lower label index.
    """
    scores = np.asarray(scores, np.float64)
    k = np.asarray(k, np.int64)
    if scores.ndim != 2 or len(k) != len(scores):
        raise InputError(f"top_k_predictions needs scores (n x labels) and n counts; "
                         f"got {scores.shape} and {k.shape}")
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    return (rank < k[:, None]).astype(np.int8)


# -- node classification -------------------------------------------------------

@dataclass
class NodeClassificationReport:
    """Micro- and macro-F1 per training ratio, averaged over `repeats` shuffled splits."""

    ratios: tuple[float, ...]
    micro_f1: tuple[float, ...]
    macro_f1: tuple[float, ...]
    micro_f1_std: tuple[float, ...]
    macro_f1_std: tuple[float, ...]
    train_sizes: tuple[int, ...]
    repeats: int
    nodes: int                     # labelled nodes the table holds (those evaluated)
    labels: int                    # distinct labels
    multilabel: bool
    missing: int                   # labelled nodes the table lacks (left out)
    missing_examples: tuple[str, ...] = ()
    unlabeled: int = 0             # table rows without a label (not evaluated)
    seed: int = 0
    source: str = ""
    runs: list[dict] = field(default_factory=list, repr=False)   # one row per (ratio, repeat)

    def at(self, ratio: float) -> dict:
        """Return the row of one training ratio: its means and standard deviations."""
        for i, r in enumerate(self.ratios):
            if math.isclose(r, ratio):
                return self.rows()[i]
        raise InputError(f"ratio {ratio} was not evaluated; ratios: {', '.join(map(str, self.ratios))}")

    def rows(self) -> list[dict]:
        return [dict(ratio=r, train=n, micro_f1=mi, micro_f1_std=mis, macro_f1=ma, macro_f1_std=mas)
                for r, n, mi, mis, ma, mas in zip(self.ratios, self.train_sizes, self.micro_f1,
                                                  self.micro_f1_std, self.macro_f1, self.macro_f1_std)]

    def as_dict(self) -> dict:
        return dict(results=self.rows(), repeats=self.repeats, nodes=self.nodes, labels=self.labels,
                    multilabel=self.multilabel, missing=self.missing,
                    missing_examples=list(self.missing_examples), unlabeled=self.unlabeled,
                    seed=self.seed, source=self.source)

    to_dict = as_dict


def _check_ratios(train_ratios) -> tuple[float, ...]:
    try:
        ratios = tuple(float(r) for r in train_ratios)
    except (TypeError, ValueError):
        raise InputError(f"train_ratios must be numbers in (0, 1); got {train_ratios!r}") from None
    if not ratios:
        raise InputError("train_ratios is empty; give at least one ratio in (0, 1)")
    for r in ratios:
        if not (0.0 < r < 1.0):
            raise InputError(f"train_ratios must lie strictly between 0 and 1; got {r}")
    return ratios


def node_classification(emb, labels: Labels | str | os.PathLike, *,
                        train_ratios: Sequence[float] = DEFAULT_RATIOS, repeats: int = 10,
                        seed: int = 0, C: float = 1.0, normalize: bool = False,
                        max_iter: int = 100) -> NodeClassificationReport:
    """Evaluate node embeddings by one-vs-rest logistic regression (DeepWalk/node2vec protocol).

    `emb` is an `Embeddings` table (or a `Model`: its "nodes" table); `labels`
    a path read by `read_labels` or a mapping node -> label(s).  Node ids are
    matched as strings (a table with integer keys matches "17" to 17).
    Labelled nodes the table lacks are left out and counted (`missing`);
    InputError names the labels when none of them is in the table.
    `normalize` scales each vector to unit length first (off in the papers).
    """
    LogisticRegression, OneVsRestClassifier = _sklearn("node classification")
    table = _node_table(emb)
    ratios = _check_ratios(train_ratios)
    if int(repeats) != repeats or repeats < 1:
        raise InputError(f"repeats must be a positive integer; got {repeats!r}")
    if not (C > 0):
        raise InputError(f"C must be positive; got {C!r}")
    by_node, source = _labels_of(labels)
    nodes = list(by_node)
    rows, kept = _rows_for(table, nodes)
    missing = [nodes[i] for i in np.setdiff1d(np.arange(len(nodes)), kept)]
    if len(kept) == 0:
        raise InputError(f"none of the {len(nodes):,} labelled nodes in {source} is in the table "
                         f"{table.name!r} ({len(table):,} rows; e.g. {nodes[0]!r} is not a key)")
    if len(kept) < 2:
        raise InputError(f"only {len(kept)} labelled node of {source} is in the table; "
                         f"node classification needs at least 2")
    names = sorted({lab for i in kept for lab in by_node[nodes[i]]})
    col = {lab: j for j, lab in enumerate(names)}
    Y = np.zeros((len(kept), len(names)), np.int8)
    for r, i in enumerate(kept):
        for lab in by_node[nodes[i]]:
            Y[r, col[lab]] = 1
    counts = Y.sum(axis=1)
    X = np.asarray(table.vectors[rows], np.float64)
    if normalize:
        n = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(n > 0, n, 1.0)
    n = len(kept)
    for r in ratios:
        if int(n * r) < 1 or int(n * r) >= n:
            raise InputError(f"training ratio {r} leaves no {'training' if int(n * r) < 1 else 'test'} "
                             f"node among the {n} labelled nodes")
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(n) for _ in range(int(repeats))]
    runs: list[dict] = []
    means_mi, means_ma, stds_mi, stds_ma, sizes = [], [], [], [], []
    for ratio in ratios:
        n_train = int(n * ratio)
        mi_list, ma_list = [], []
        for rep, perm in enumerate(perms):
            tr, te = perm[:n_train], perm[n_train:]
            clf = OneVsRestClassifier(LogisticRegression(solver="liblinear", C=C, max_iter=max_iter))
            with warnings.catch_warnings():
                # a label absent from a small training split gets a constant predictor
                warnings.simplefilter("ignore", UserWarning)
                clf.fit(X[tr], Y[tr])
                probs = clf.predict_proba(X[te])
            pred = top_k_predictions(probs, counts[te])
            mi, ma = f1_scores(Y[te], pred)
            mi_list.append(mi)
            ma_list.append(ma)
            runs.append(dict(ratio=ratio, repeat=rep, micro_f1=mi, macro_f1=ma))
        sizes.append(n_train)
        means_mi.append(float(np.mean(mi_list)))
        means_ma.append(float(np.mean(ma_list)))
        stds_mi.append(float(np.std(mi_list)))
        stds_ma.append(float(np.std(ma_list)))
    return NodeClassificationReport(
        ratios=ratios, micro_f1=tuple(means_mi), macro_f1=tuple(means_ma),
        micro_f1_std=tuple(stds_mi), macro_f1_std=tuple(stds_ma), train_sizes=tuple(sizes),
        repeats=int(repeats), nodes=n, labels=len(names), multilabel=bool((counts > 1).any()),
        missing=len(missing), missing_examples=tuple(missing[:5]),
        unlabeled=len(table) - n, seed=seed, source=source, runs=runs)


# -- link prediction -------------------------------------------------------------

@dataclass
class EdgeSplit:
    """A graph's edges split for link prediction (node ids of `train`, which keeps every node).

    `train` is the graph less the held-out edges; `train_pos`/`train_neg` and
    `test_pos`/`test_neg` are (m, 2) int64 arrays of node-id pairs: edges of
    `train` and as many non-edges; held-out edges and as many non-edges.  No
    negative pair is an edge of the original graph, and the two negative sets
    do not share a pair.
    """

    train: Any
    train_pos: np.ndarray
    train_neg: np.ndarray
    test_pos: np.ndarray
    test_neg: np.ndarray
    requested: int          # held-out edges asked for (test_fraction of the edges)
    seed: int = 0

    @property
    def nodes(self) -> np.ndarray:
        return self.train.nodes

    def as_dict(self) -> dict:
        return dict(nodes=len(self.train), train_edges=len(self.train_pos), test_edges=len(self.test_pos),
                    requested=self.requested, negatives=len(self.train_neg) + len(self.test_neg),
                    seed=self.seed)


def _edge_list(graph) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return each edge once (undirected: source <= target), with its weight."""
    src = np.repeat(np.arange(len(graph), dtype=np.int64), np.diff(graph.indptr))
    dst = graph.indices.astype(np.int64)
    w = graph.weights
    if not graph.directed:
        keep = src <= dst
        src, dst = src[keep], dst[keep]
        w = None if w is None else w[keep]
    return src, dst, w


def _spanning_forest(n: int, src: np.ndarray, dst: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Return a mask of the edges (visited in `order`) that join two components (Kruskal, union-find)."""
    parent = list(range(n))
    keep = np.zeros(len(src), bool)
    s_list, d_list = src.tolist(), dst.tolist()
    for e in order.tolist():
        a, b = s_list[e], d_list[e]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            parent[a] = b
            keep[e] = True
    return keep


def _sample_non_edges(n: int, count: int, taken: np.ndarray, directed: bool,
                      rng: np.random.Generator) -> np.ndarray:
    """Return `count` distinct node pairs (u != v) whose codes u*n+v are not in sorted `taken`."""
    out = np.zeros(0, np.int64)
    possible = n * (n - 1) // (1 if directed else 2)
    if count > possible - len(taken):
        raise InputError(f"the graph has too few non-edges for {count:,} negative pairs")
    while len(out) < count:
        want = (count - len(out)) * 2 + 16
        u = rng.integers(0, n, want)
        v = rng.integers(0, n, want)
        if not directed:
            u, v = np.minimum(u, v), np.maximum(u, v)
        code = u * n + v
        code = code[u != v]
        pos = np.searchsorted(taken, code)
        hit = (pos < len(taken)) & (taken[np.minimum(pos, len(taken) - 1)] == code)
        code = code[~hit]
        # keep first occurrences, in drawing order, of pairs not drawn before
        _, first = np.unique(code, return_index=True)
        code = code[np.sort(first)]
        code = code[~np.isin(code, out)]
        out = np.concatenate([out, code[:count - len(out)]])
    return np.stack([out // n, out % n], axis=1)


def split_edges(graph, test_fraction: float = 0.5, seed: int = 0) -> EdgeSplit:
    """Hold out `test_fraction` of a graph's edges for link prediction (node2vec's protocol).

    The held-out edges are drawn at random among those whose removal leaves
    the rest connected as before (a random spanning forest is always kept),
    so fewer are held out when the graph has too few such edges (`requested`
    says how many were asked for).  Self-loops stay in the training graph.
    Negatives are node pairs drawn uniformly among the original graph's
    non-edges.  The same graph, fraction and seed give the same split.
    """
    from ..learn.graph import Graph

    if not (0.0 < float(test_fraction) < 1.0):
        raise InputError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction!r}")
    n = len(graph)
    src, dst, w = _edge_list(graph)
    if len(src) == 0:
        raise InputError("split_edges: the graph has no edges")
    rng = np.random.default_rng(seed)
    loops = src == dst
    forest = _spanning_forest(n, src, dst, rng.permutation(len(src)))
    candidates = np.flatnonzero(~forest & ~loops)
    requested = int(round(float(test_fraction) * int((~loops).sum())))
    if len(candidates) == 0:
        raise InputError("split_edges: every edge is needed to keep the graph connected "
                         "(a forest has no edge to hold out)")
    held = np.sort(rng.choice(candidates, size=min(requested, len(candidates)), replace=False))
    mask = np.ones(len(src), bool)
    mask[held] = False
    train = Graph.from_edges(src[mask], dst[mask], None if w is None else w[mask],
                             directed=graph.directed, nodes=list(graph.nodes))
    codes = src * n + dst
    if not graph.directed:
        codes = np.minimum(src, dst) * n + np.maximum(src, dst)
    taken = np.unique(codes)
    train_pos = np.stack([src[mask & ~loops], dst[mask & ~loops]], axis=1)
    test_pos = np.stack([src[held], dst[held]], axis=1)
    neg = _sample_non_edges(n, len(train_pos) + len(test_pos), taken, graph.directed, rng)
    return EdgeSplit(train=train, train_pos=train_pos, train_neg=neg[:len(train_pos)],
                     test_pos=test_pos, test_neg=neg[len(train_pos):], requested=requested, seed=seed)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the area under the ROC curve of binary `labels` ranked by `scores` (ties count half)."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise InputError(f"roc_auc needs two 1-D arrays of one length; got {y.shape} and {s.shape}")
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InputError("roc_auc needs both positive and negative examples")
    uniq, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts
    ranks = (before + (counts + 1) / 2.0)[inv]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


#: node2vec's binary operators: pair features from the two nodes' vectors
EDGE_OPERATORS = {
    "hadamard": lambda a, b: a * b,
    "average": lambda a, b: (a + b) / 2.0,
    "l1": lambda a, b: np.abs(a - b),
    "l2": lambda a, b: (a - b) ** 2,
}


@dataclass
class LinkPredictionReport:
    """ROC-AUC of a logistic regression on pair features, and of the pairs' plain cosine."""

    auc: float
    cosine_auc: float
    operator: str
    train_pairs: int
    test_pairs: int
    skipped_pairs: int = 0     # pairs with a node the table lacks (left out)
    split: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(auc=self.auc, cosine_auc=self.cosine_auc, operator=self.operator,
                    train_pairs=self.train_pairs, test_pairs=self.test_pairs,
                    skipped_pairs=self.skipped_pairs, split=self.split)

    to_dict = as_dict


def link_prediction(emb, split: EdgeSplit, *, operator: str = "hadamard", C: float = 1.0
                    ) -> LinkPredictionReport:
    """Score node embeddings learnt on `split.train` at telling held-out edges from non-edges.

    A logistic regression (liblinear, L2, `C`) is fit on `operator` features
    of the training pairs (the train graph's edges and as many non-edges) and
    scored by ROC-AUC on the held-out pairs; `cosine_auc` ranks the held-out
    pairs by the cosine of their vectors, with no classifier.  Pairs with a
    node the table lacks are left out and counted.
    """
    LogisticRegression, _ = _sklearn("link prediction")
    if operator not in EDGE_OPERATORS:
        raise InputError(f"unknown operator {operator!r}; valid names are: {', '.join(EDGE_OPERATORS)}")
    if not (C > 0):
        raise InputError(f"C must be positive; got {C!r}")
    if not isinstance(split, EdgeSplit):
        raise InputError(f"link_prediction takes the EdgeSplit of split_edges, not {type(split).__name__}")
    table = _node_table(emb)
    rows_kept, kept = _rows_for(table, list(split.nodes))
    row_of = np.full(len(split.nodes), -1, np.int64)
    row_of[kept] = rows_kept
    if len(kept) == 0:
        raise InputError(f"none of the graph's {len(split.nodes):,} nodes is in the table {table.name!r}")
    V = np.asarray(table.vectors, np.float64)
    op = EDGE_OPERATORS[operator]
    skipped = 0

    def pairs(pos, neg):
        nonlocal skipped
        P = np.concatenate([pos, neg])
        y = np.r_[np.ones(len(pos), np.int8), np.zeros(len(neg), np.int8)]
        r = row_of[P]
        ok = (r >= 0).all(axis=1)
        skipped += int((~ok).sum())
        return r[ok], y[ok]

    tr, y_tr = pairs(split.train_pos, split.train_neg)
    te, y_te = pairs(split.test_pos, split.test_neg)
    for name, y in (("training", y_tr), ("held-out", y_te)):
        if len(np.unique(y)) < 2:
            raise InputError(f"link prediction: the {name} pairs lack positives or negatives "
                             "among the nodes the table holds")
    clf = LogisticRegression(solver="liblinear", C=C)
    clf.fit(op(V[tr[:, 0]], V[tr[:, 1]]), y_tr)
    auc = roc_auc(y_te, clf.decision_function(op(V[te[:, 0]], V[te[:, 1]])))
    norms = np.linalg.norm(V, axis=1)
    norms[norms == 0] = 1.0
    cos = (V[te[:, 0]] * V[te[:, 1]]).sum(axis=1) / (norms[te[:, 0]] * norms[te[:, 1]])
    return LinkPredictionReport(auc=auc, cosine_auc=roc_auc(y_te, cos), operator=operator,
                                train_pairs=len(tr), test_pairs=len(te), skipped_pairs=skipped,
                                split=split.as_dict())
