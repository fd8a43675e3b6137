"""Recall of an approximate nearest-neighbour index against exact search.

`index_recall` draws rows of the table as queries, asks the index and an
exact search over the same live ids, and counts the returned keys whose
exact score reaches the k-th exact score (tie-tolerant: a key tied with
the k-th counts).  It reports both sides' queries per second.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import InputError

BATCH = 100   # queries per search call


def index_recall(emb_or_index, k: int = 10, queries: int = 1000, seed: int = 0, *,
                 params: dict[str, Any] | None = None) -> dict:
    """Return recall@k of an index against exact search, with both sides' queries/s.

    `emb_or_index` is an index from omnivec.search, or a table whose index is
    attached (or stored beside its model file).  Queries are `queries` rows of
    the table drawn with `seed`; `params` are search parameters (ef, nprobe,
    ...) for the index.  Returns a dict: k, queries, recall, index_qps,
    exact_qps, backend, search_params.
    """
    index = _index_of(emb_or_index)
    for name, value in (("k", k), ("queries", queries)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be an integer of at least 1; got {value!r}")
    emb = index.emb
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(emb), min(queries, len(emb)), replace=False))
    Q = emb.store.decode(rows).astype(np.float32)
    kk = min(k, len(index))
    start = time.perf_counter()
    hits = [index.search(Q[s:s + BATCH], kk, **(params or {})) for s in range(0, len(Q), BATCH)]
    t_index = time.perf_counter() - start
    ids = np.concatenate([h.ids for h in hits]) if hits else np.zeros((0, kk), np.int64)
    start = time.perf_counter()
    exact = [index.search(Q[s:s + BATCH], kk, exact=True) for s in range(0, len(Q), BATCH)]
    t_exact = time.perf_counter() - start
    kth = np.concatenate([e.scores for e in exact])[:, kk - 1:kk]
    true = index.rescore(Q, ids)
    recall = float((true >= kth - 1e-5).sum() / max(1, ids.size))
    return {"backend": index.name, "k": kk, "queries": len(Q), "recall": recall,
            "index_qps": len(Q) / t_index if t_index else None,
            "exact_qps": len(Q) / t_exact if t_exact else None,
            "search_params": {**index.search_params, **(params or {})}}


def _index_of(obj):
    from ..embeddings import Embeddings
    from ..search.index import Index

    if isinstance(obj, Index):
        return obj
    if not isinstance(obj, Embeddings):
        raise InputError(f"index_recall takes an index or a table (Embeddings); got {type(obj).__name__}")
    if obj.index is None:
        raise InputError("index_recall needs an index, or a table with one attached (emb.attach(index)) or "
                         "stored beside its model file (`omnivec index build`)")
    return obj.index
