"""Filtered link-prediction evaluation: rank the true head and tail of each test triple.

For a test triple (h, r, t) every entity is scored as the tail of (h, r, ?)
and as the head of (?, r, t).  Candidates that form another known triple
(from any split given as `known`) are left out ("filtered" setting).  Ties
are handled realistically: the rank is the mean of the optimistic rank (1 +
candidates scoring strictly higher) and the pessimistic rank (candidates
scoring higher or equal, the target included), as PyKEEN's "realistic" rank.
Scores are computed a batch of queries at a time, so memory stays bounded by
batch_size x entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..learn.kge import _kernels as K

HITS_AT = (1, 3, 10)


@dataclass
class LinkPredResult:
    """Filtered MRR and Hits@k (realistic ranks) on both sides and per side; ranks kept per triple."""

    mrr: float
    hits: dict[int, float]
    n: int
    sides: dict[str, dict] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        """Return the metrics as a JSON-able dict."""
        out = {"mrr": self.mrr, **{f"hits@{k}": v for k, v in self.hits.items()}, "triples": self.n}
        out["sides"] = self.sides
        return out


def _index(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (sorted unique keys, CSR pointers, answer ids) grouping `ids` by `keys`."""
    order = np.argsort(keys, kind="stable")
    k, a = keys[order], ids[order]
    uniq, start = np.unique(k, return_index=True)
    ptr = np.append(start, len(k)).astype(np.int64)
    return uniq.astype(np.int64), ptr, np.ascontiguousarray(a, dtype=np.int64)


def _metrics(ranks: np.ndarray) -> dict:
    return {"mrr": float(np.mean(1.0 / ranks)), **{f"hits@{k}": float(np.mean(ranks <= k)) for k in HITS_AT}}


def rank_triples(model, triples: np.ndarray, *, known: np.ndarray | None = None,
                 batch_size: int = 256) -> dict[str, np.ndarray]:
    """Return {'head': (n x 2), 'tail': (n x 2)} optimistic/pessimistic filtered ranks of id triples.

    `model` is anything with num_entities, num_relations, score_tails(heads,
    rels) and score_heads(rels, tails) (a KGModel); `known` are the id
    triples filtered out (pass train+valid+test; the test triples themselves
    are always filtered).
    """
    triples = np.asarray(triples, dtype=np.int64)
    if triples.ndim != 2 or triples.shape[1] != 3:
        raise InputError(f"triples must be an (n x 3) id array; got shape {triples.shape}")
    if len(triples) == 0:
        raise InputError("no triples to evaluate: the split is empty")
    ne, nr = model.num_entities, model.num_relations
    if (triples[:, [0, 2]].min() < 0 or triples[:, [0, 2]].max() >= ne
            or triples[:, 1].min() < 0 or triples[:, 1].max() >= nr):
        raise InputError(f"triples must have entity ids in [0, {ne}) and relation ids in [0, {nr})")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be a positive int; got {batch_size!r}")
    kn = triples if known is None else np.concatenate([np.asarray(known, dtype=np.int64).reshape(-1, 3),
                                                        triples])
    kn = np.unique(kn, axis=0)
    tail_idx = _index(kn[:, 0] * nr + kn[:, 1], kn[:, 2])
    head_idx = _index(kn[:, 2] * nr + kn[:, 1], kn[:, 0])
    out = {"head": np.empty((len(triples), 2), dtype=np.int64),
           "tail": np.empty((len(triples), 2), dtype=np.int64)}
    for lo in range(0, len(triples), batch_size):
        b = triples[lo:lo + batch_size]
        h, r, t = (np.ascontiguousarray(b[:, i]) for i in range(3))
        s = model.score_tails(h, r)
        K.filtered_ranks(s, t, h * nr + r, *tail_idx, out["tail"][lo:lo + len(b)])
        s = model.score_heads(r, t)
        K.filtered_ranks(s, h, t * nr + r, *head_idx, out["head"][lo:lo + len(b)])
    return out


def evaluate(model, triples: np.ndarray, *, known: np.ndarray | None = None,
             batch_size: int = 256) -> LinkPredResult:
    """Return filtered MRR and Hits@1/3/10 (realistic ranks, both sides) of `model` on id triples."""
    raw = rank_triples(model, triples, known=known, batch_size=batch_size)
    ranks = {side: r.mean(axis=1) for side, r in raw.items()}
    both = np.concatenate([ranks["head"], ranks["tail"]])
    m = _metrics(both)
    sides = {side: {**_metrics(ranks[side]),
                    "optimistic_mrr": float(np.mean(1.0 / raw[side][:, 0])),
                    "pessimistic_mrr": float(np.mean(1.0 / raw[side][:, 1]))} for side in ranks}
    return LinkPredResult(mrr=m["mrr"], hits={k: m[f"hits@{k}"] for k in HITS_AT}, n=len(triples),
                          sides=sides, ranks=ranks)


def evaluate_labels(model, triples: list[tuple[str, str, str]], *,
                    known: list[tuple[str, str, str]] | None = None, batch_size: int = 256,
                    unknown: str = "error") -> tuple[LinkPredResult, int]:
    """Return (result, skipped) for labelled triples on a KGModel; unknown labels raise or are skipped.

    unknown="skip" leaves out test triples whose labels the model lacks and
    returns how many were left out; known triples with unknown labels never
    match a candidate, so they are dropped from the filter.
    """
    if unknown not in ("error", "skip"):
        raise InputError(f"unknown must be 'error' or 'skip'; got {unknown!r}")

    def ids(rows, strict):
        out, skipped = [], 0
        for h, r, t in rows:
            if (h in model.entities and t in model.entities and r in model.relations):
                out.append((model.entities.row(h), model.relations.row(r), model.entities.row(t)))
            elif strict:
                model.entity_id(h), model.relation_id(r), model.entity_id(t)  # raises KeyNotFound
            else:
                skipped += 1
        return np.array(out, dtype=np.int64).reshape(-1, 3), skipped

    test, skipped = ids(triples, unknown == "error")
    kn = ids(known, False)[0] if known else None
    return evaluate(model, test, known=kn, batch_size=batch_size), skipped
