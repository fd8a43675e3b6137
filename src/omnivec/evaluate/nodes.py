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
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise ParseError(f"not UTF-8 ({exc.reason})", path=path, line=lineno) from None
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
