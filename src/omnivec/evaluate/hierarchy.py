"""Hierarchy evaluation: reconstruction and link prediction, Nickel & Kiela's protocol.

Reconstruction (`reconstruction(emb, closure)`): for every node u with
relations in the closure and each of its related nodes v (u's ancestors in
a transitive closure of ``child parent`` pairs), the rank of v is 1 + the
number of nodes strictly closer to u than v that u is not related to (u's
other related nodes do not count, nor u itself); a node's average precision
takes its related nodes in order of rank, precision (j + 1) / (rank_j + j).
The result is the mean rank over all relations and the mean average
precision (MAP) over the nodes: gensim's ``ReconstructionEvaluation``, with
the node itself left out as the paper's evaluation does (gensim counts it as
a closer non-neighbour: ``include_self=True`` gives gensim's figures).

Link prediction (`link_prediction(emb, train, test)`): the same ranks for the
held-out (test) relations, with the training relations also left out of the
nodes that count as closer (gensim's ``LinkPredictionEvaluation``).
`split_closure` holds out a fraction of a closure's relations.

Distances are the table's metric's; Poincaré tables are ranked by a compiled
kernel (threads over nodes, float64), any other metric by its scores
computed one node at a time.  Closure nodes the table lacks are counted and
their relations left out; cycles in the closure are reported in the result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from .._lazy import kernels
from ..core import exact
from ..errors import InputError
from ..learn.poincare import Relations, csr, read_relations

K = kernels("omnivec.learn._poincare_kernels")

log = logging.getLogger("omnivec.evaluate")

__all__ = ["HierarchyResult", "reconstruction", "link_prediction", "split_closure", "rank_relations"]


@dataclass
class HierarchyResult:
    """Mean rank and MAP of a hierarchy task, with what was left out."""

    task: str                   # "reconstruction" or "link_prediction"
    mean_rank: float
    map: float
    relations: int              # relations ranked
    nodes: int                  # nodes with at least one ranked relation (the MAP's terms)
    unknown_nodes: int          # closure nodes the table lacks
    skipped_relations: int      # relations left out because a node is unknown
    cycles: list = field(default_factory=list)   # cycles found in the closure (node names)
    include_self: bool = False
    seconds: float = 0.0
    ranks: np.ndarray = field(default=None, repr=False)

    def as_dict(self) -> dict:
        """Return the figures as a JSON-able dict."""
        return {"task": self.task, "mean_rank": self.mean_rank, "map": self.map,
                "relations": self.relations, "nodes": self.nodes, "unknown_nodes": self.unknown_nodes,
                "skipped_relations": self.skipped_relations,
                "cycles": [list(map(str, c[:10])) for c in self.cycles[:5]],
                "include_self": self.include_self, "seconds": round(self.seconds, 3)}


def _rows(emb, rel: Relations) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Return (child rows, parent rows, kept mask, unknown node count) of `rel` in the table."""
    found = np.array([k in emb for k in rel.keys], bool) if rel.n_nodes else np.zeros(0, bool)
    rows = np.full(rel.n_nodes, -1, np.int64)
    if found.any():
        rows[found] = emb.rows([k for k, f in zip(rel.keys, found) if f])
    keep = found[rel.child] & found[rel.parent] if len(rel) else np.zeros(0, bool)
    return rows[rel.child[keep]], rows[rel.parent[keep]], keep, int((~found).sum())


def _relations(source, what: str) -> Relations:
    rel = read_relations(source, cycles="warn", allow_empty=True)
    if not len(rel):
        raise InputError(f"{rel.source}: no {what} relations to evaluate")
    return rel


def rank_relations(emb, pos_child: np.ndarray, pos_parent: np.ndarray,
                   known_child: np.ndarray | None = None, known_parent: np.ndarray | None = None, *,
                   include_self: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (nodes, ranks per relation, average precision per node) over table rows.

    Relations are (child row, parent row) pairs; `ranks[i]` belongs to the
    i-th unique positive pair in (child, parent) order, nodes are the unique
    children.
    """
    n = len(emb)
    pos_ptr, pos_idx = csr(n, pos_child, pos_parent)
    if known_child is None or not len(known_child):
        known_ptr, known_idx = np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    else:
        known_ptr, known_idx = csr(n, known_child, known_parent)
    counts = np.diff(pos_ptr)
    nodes = np.flatnonzero(counts > 0).astype(np.int64)
    offsets = pos_ptr[nodes].copy()
    ranks = np.zeros(len(pos_idx), np.int64)
    aps = np.zeros(len(nodes), np.float64)
    if emb._metric.name == "poincare":
        X = emb.vectors.astype(np.float64)
        norms = np.linalg.norm(X, axis=1)
        bound = 1.0 - emb._metric.BOUNDARY_EPS
        out = norms >= bound
        if out.any():
            X[out] *= (bound / norms[out])[:, None]
        K.rank_nodes(X, nodes, pos_ptr, pos_idx, known_ptr, known_idx, bool(include_self), ranks, offsets, aps)
    else:
        for i, u in enumerate(nodes):
            scores = exact.all_scores(emb.store, emb._metric, emb.store.decode(np.array([u]))[0])
            d = -scores.astype(np.float64)
            pos = pos_idx[pos_ptr[u]:pos_ptr[u + 1]]
            mask = np.ones(n, bool)
            mask[pos] = False
            mask[known_idx[known_ptr[u]:known_ptr[u + 1]]] = False
            if not include_self:
                mask[u] = False
            negs = np.sort(d[mask])
            r = 1 + np.searchsorted(negs, d[pos], side="left")
            ranks[offsets[i]:offsets[i] + len(pos)] = r
            rs = np.sort(r)
            aps[i] = float(np.mean(np.arange(1, len(rs) + 1) / (rs + np.arange(len(rs)))))
    return nodes, ranks, aps


def _result(task, nodes, ranks, aps, rel, skipped, unknown, include_self, t0) -> HierarchyResult:
    if not len(ranks):
        raise InputError(f"{rel.source}: none of the relations' nodes is in the table; nothing to evaluate")
    return HierarchyResult(task=task, mean_rank=float(ranks.mean()), map=float(aps.mean()),
                           relations=int(len(ranks)), nodes=int(len(nodes)), unknown_nodes=unknown,
                           skipped_relations=skipped, cycles=rel.cycles, include_self=include_self,
                           seconds=time.perf_counter() - t0, ranks=ranks)


def reconstruction(emb, closure, *, include_self: bool = False, sample: int | None = None,
                   seed: int = 0) -> HierarchyResult:
    """Return the reconstruction mean rank and MAP of `emb` on `closure` (a relations file, pairs or Relations).

    Every relation of the closure is ranked among the nodes its child is not
    related to (see the module docstring); closure nodes missing from the
    table are counted (``unknown_nodes``) and their relations skipped.
    `sample` evaluates that many nodes (with all their relations) drawn at
    random with `seed`: an estimate for large closures.
    """
    t0 = time.perf_counter()
    rel = _relations(closure, "closure")
    c, p, keep, unknown = _rows(emb, rel)
    skipped = int((~keep).sum())
    if unknown:
        log.warning("%s: %d nodes are not in the table; %d relations left out", rel.source, unknown, skipped)
    if sample is not None:
        if sample < 1:
            raise InputError(f"sample must be a number of nodes >= 1; got {sample!r}")
        children = np.unique(c)
        if sample < len(children):
            pick = np.random.default_rng(seed).choice(children, sample, replace=False)
            inside = np.isin(c, pick)
            c, p = c[inside], p[inside]
    nodes, ranks, aps = rank_relations(emb, c, p, include_self=include_self)
    return _result("reconstruction", nodes, ranks, aps, rel, skipped, unknown, include_self, t0)


def link_prediction(emb, train, test, *, include_self: bool = False) -> HierarchyResult:
    """Return the mean rank and MAP of the held-out `test` relations, the `train` ones left out of the ranking.

    For each node u with test relations, each test parent v is ranked among
    the nodes u is related to neither in `train` nor in `test`.
    """
    t0 = time.perf_counter()
    tr = _relations(train, "training")
    te = _relations(test, "test")
    tc, tp, _, unknown_train = _rows(emb, tr)
    c, p, keep, unknown = _rows(emb, te)
    skipped = int((~keep).sum())
    nodes, ranks, aps = rank_relations(emb, c, p, tc, tp, include_self=include_self)
    return _result("link_prediction", nodes, ranks, aps, te, skipped, unknown, include_self, t0)


def split_closure(closure, test_fraction: float = 0.1, *, seed: int = 0) -> tuple[Relations, Relations]:
    """Return (train, test): a random `test_fraction` of the closure's relations held out.

    Held-out relations are chosen among those whose two nodes keep at least
    one training relation each, so every test node has a training vector.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    rel = _relations(closure, "closure")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rel))
    deg = rel.degrees()
    want = int(round(test_fraction * len(rel)))
    test = np.zeros(len(rel), bool)
    taken = 0
    for i in order:
        if taken >= want:
            break
        a, b = rel.child[i], rel.parent[i]
        if deg[a] > 1 and deg[b] > 1:
            deg[a] -= 1
            deg[b] -= 1
            test[i] = True
            taken += 1

    def part(mask):
        return Relations(rel.keys, rel.child[mask], rel.parent[mask], source=rel.source,
                         lines=int(mask.sum()), cycles=rel.cycles)

    return part(~test), part(test)
