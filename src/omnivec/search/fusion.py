"""Fusing ranked lists: reciprocal-rank fusion and convex combinations of normalised scores.

    hybrid = rrf([bm25.search(texts, k=100), emb.search(vectors, k=100)], k=10)
    hybrid = convex([sparse, dense], alpha=0.3, k=10)      # 0.3 * sparse + 0.7 * dense

Both take several `Neighbors` answering the same queries (in the same order)
and return one `Neighbors`.  A document is identified by its key, so lists
from different indexes over the same documents (a BM25 index and the
table's vector search) fuse; its id in the result is the one the first list
holding it gave.  A document missing from a list gets nothing from that list.
Equal fused scores keep the order in which the documents were first met,
walking the lists rank by rank (rank 1 of every list, then rank 2, ...).
Rows can come out shorter than k (ids -1, scores -inf after the results),
as the inputs can.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..core.keys import Key
from ..core.neighbors import Neighbors
from ..errors import InputError

NORMALIZE = ("minmax", "none")


def _check(results, weights, k) -> tuple[list[Neighbors], list[float]]:
    if isinstance(results, Neighbors) or not isinstance(results, (list, tuple)) or not results:
        raise InputError("fusion takes a list of one or more Neighbors results (one per retriever)")
    for i, r in enumerate(results):
        if not isinstance(r, Neighbors):
            raise InputError(f"result {i} is {type(r).__name__}, not Neighbors")
    counts = [len(r) for r in results]
    if len(set(counts)) > 1:
        raise InputError(f"the results answer different numbers of queries ({', '.join(map(str, counts))}); "
                         f"fuse results of the same queries, in the same order")
    if weights is None:
        w = [1.0] * len(results)
    else:
        w = list(weights)
        if len(w) != len(results):
            raise InputError(f"{len(w)} weights for {len(results)} results; give one weight per result")
        for i, x in enumerate(w):
            if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(x)) or x < 0:
                raise InputError(f"weight {i} is {x!r}; weights are finite numbers >= 0")
        w = [float(x) for x in w]
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise InputError(f"k must be an int >= 1 or None; got {k!r}")
    return list(results), w


def _rows(r: Neighbors, q: int) -> tuple[list[Key], list[int], list[float]]:
    """Return the keys, ids and scores of query q's results in r (padding left out)."""
    ids = r.ids[q].tolist()
    scores = r.scores[q].tolist()
    keys = r.keys[q]
    n = 0
    while n < len(ids) and n < len(keys) and ids[n] >= 0 and scores[n] != -math.inf:
        n += 1
    return keys[:n], ids[:n], scores[:n]


def _fuse(results: list[Neighbors], k: int | None,
          contributions: Callable[[int, list[float]], list[float]]) -> Neighbors:
    """Sum each list's contributions per key and rank the keys; contributions(list no, scores) -> values."""
    nq = len(results[0])
    rows: list[list[tuple[Key, int, float]]] = []
    reasons: list[str | None] = []
    for q in range(nq):
        lists = [_rows(r, q) for r in results]
        fused: dict[Key, list] = {}         # key -> [score, id, first-seen order]
        adds = [contributions(j, sc) for j, (_, _, sc) in enumerate(lists)]
        depth = max((len(keys) for keys, _, _ in lists), default=0)
        for rank in range(depth):
            for j, (keys, ids, _) in enumerate(lists):
                if rank < len(keys):
                    ent = fused.get(keys[rank])
                    if ent is None:
                        fused[keys[rank]] = [adds[j][rank], ids[rank], len(fused)]
                    else:
                        ent[0] += adds[j][rank]
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1][0], kv[1][2]))
        rows.append([(key, ent[1], ent[0]) for key, ent in ranked])
        why = [r.reasons[q] for r in results if getattr(r, "reasons", None) and r.reasons[q]]
        reasons.append("; ".join(dict.fromkeys(why)) if not ranked and why else None)
    kk = max((len(r) for r in rows), default=0) if k is None else int(k)
    width = min(kk, max((len(r) for r in rows), default=0))
    ids = np.full((nq, width), -1, np.int64)
    scores = np.full((nq, width), -np.inf, np.float32)
    keys: list[list[Key]] = []
    for q, row in enumerate(rows):
        row = row[:width]
        ids[q, :len(row)] = [i for _, i, _ in row]
        scores[q, :len(row)] = [s for _, _, s in row]
        keys.append([key for key, _, _ in row])
    return Neighbors(ids, scores, keys, reasons=reasons)


def rrf(results: Sequence[Neighbors], k: int | None = None, rank_constant: float = 60,
        weights: Sequence[float] | None = None) -> Neighbors:
    """Return the reciprocal-rank fusion of several results of the same queries.

    A document at rank r (1 = best) of list i adds weights[i] / (rank_constant + r)
    (Cormack, Clarke and Buettcher 2009; rank_constant 60 as there); the
    fused score is the sum.  `k` caps the results per query (default: every
    document of any list).
    """
    results, w = _check(results, weights, k)
    if isinstance(rank_constant, bool) or not isinstance(rank_constant, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(rank_constant)) or rank_constant < 0:
        raise InputError(f"rank_constant must be a finite number >= 0; got {rank_constant!r}")
    c = float(rank_constant)

    def contributions(j: int, scores: list[float]) -> list[float]:
        return [w[j] / (c + r) for r in range(1, len(scores) + 1)]

    return _fuse(results, k, contributions)


def convex(results: Sequence[Neighbors], alpha: float | None = None, weights: Sequence[float] | None = None,
           k: int | None = None, normalize: str = "minmax") -> Neighbors:
    """Return a convex combination of several results' scores, normalised per query and list.

    With normalize="minmax" each list's scores for a query are mapped to
    [0, 1] ((s - min) / (max - min); all 1 when they are equal), so lists on
    different scales (BM25, cosine) combine; "none" uses the raw scores.
    `alpha` is the weight of the first list when there are two (the second
    gets 1 - alpha); otherwise `weights`, one per list (default: equal
    weights summing to 1).  A document missing from a list gets 0 from it.
    `k` caps the results per query (default: every document of any list).
    """
    if alpha is not None and weights is not None:
        raise InputError("give alpha (two results) or weights, not both")
    if alpha is not None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
                or not 0 <= float(alpha) <= 1:
            raise InputError(f"alpha must be a number from 0 to 1; got {alpha!r}")
        if not isinstance(results, (list, tuple)) or len(results) != 2:
            n = len(results) if isinstance(results, (list, tuple)) else "not a list of"
            raise InputError(f"alpha weighs the first of two results against the second; got {n} results: "
                             f"use weights= for more")
        weights = [float(alpha), 1.0 - float(alpha)]
    if not isinstance(normalize, str) or normalize.lower() not in NORMALIZE:
        raise InputError(f"normalize must be one of: {', '.join(NORMALIZE)}; got {normalize!r}")
    minmax = normalize.lower() == "minmax"
    results, w = _check(results, weights, k)
    if weights is None:
        w = [1.0 / len(results)] * len(results)

    def contributions(j: int, scores: list[float]) -> list[float]:
        if not scores:
            return []
        if minmax:
            lo, hi = min(scores), max(scores)
            scores = [1.0] * len(scores) if hi == lo else [(s - lo) / (hi - lo) for s in scores]
        return [w[j] * s for s in scores]

    return _fuse(results, k, contributions)


__all__ = ["rrf", "convex", "NORMALIZE"]
