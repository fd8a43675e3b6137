"""Filtered link-prediction ranks: where the true head and tail of each triple rank among all entities.

For a triple (h, r, t) every entity is scored as the tail of (h, r, ?) and as
the head of (?, r, t).  Candidates that form another known triple (from any
split given as `known`) are left out ("filtered" setting).  Ties are handled
realistically: the rank is the mean of the optimistic rank (1 + candidates
scoring strictly higher) and the pessimistic rank (candidates scoring higher
or equal, the target included), as PyKEEN's "realistic" rank.  Scores are
computed a batch of queries at a time, so memory stays bounded by
batch_size x entities.

The trainer uses `filtered_mrr` for early stopping; `omnivec.evaluate.linkpred`
builds its report (Hits@k, per side) on `rank_triples`.
"""

from __future__ import annotations

import numpy as np

from ..._lazy import kernels
from ...errors import InputError

K = kernels("omnivec.learn.kge._kernels.ranking")


def _index(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (sorted unique keys, CSR pointers, answer ids) grouping `ids` by `keys`."""
    order = np.argsort(keys, kind="stable")
    k, a = keys[order], ids[order]
    uniq, start = np.unique(k, return_index=True)
    ptr = np.append(start, len(k)).astype(np.int64)
    return uniq.astype(np.int64), ptr, np.ascontiguousarray(a, dtype=np.int64)


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


def realistic_ranks(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return per side the realistic rank (mean of the optimistic and pessimistic) of rank_triples' output."""
    return {side: r.mean(axis=1) for side, r in raw.items()}


def mrr(ranks: np.ndarray) -> float:
    """Return the mean reciprocal rank."""
    return float(np.mean(1.0 / np.asarray(ranks)))


def filtered_mrr(model, triples: np.ndarray, *, known: np.ndarray | None = None,
                 batch_size: int = 256) -> float:
    """Return the filtered MRR of realistic ranks over both sides of id triples."""
    ranks = realistic_ranks(rank_triples(model, triples, known=known, batch_size=batch_size))
    return mrr(np.concatenate([ranks["head"], ranks["tail"]]))
