"""The exact backend: every query scored against every live row.

No approximation and no engine state: the index is the table itself plus the
shared key mapping, deletes and added keys, so it saves as a few bytes and
serves as the reference the approximate backends are measured against.

Float32 and float16 tables go through `fast_topk`: a BLAS product per block
of rows (queries x rows, so each query's scores are contiguous) and a
compiled running top-k; other storage dtypes (int8, binary with Hamming) use
`exact.topk`, which reads them with its own kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import Metric
from ..core.vectors import VectorStore
from ..core import exact
from .._lazy import kernels

IK = kernels("omnivec.search._index_kernels")
from .index import BACKENDS, Index, merge_topk

BLOCK_BYTES = 16 * 2**20     # one block of scores: stays in cache while it is scanned
SERIAL_BELOW = 8             # fewer queries than this: one thread, dot products fused into the scan
SCAN_BLOCK = 1 << 18         # rows per fused scan (bounds the per-block scale/bias arrays)
MAX_FAST_K = 512             # insertion into the running top-k is O(k); past this, partial sort wins


def fast_topk(store: VectorStore, metric: Metric, Q: np.ndarray, k: int,
              allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Return exact (rows, scores), (queries x k), best first; None when the store needs exact.topk.

    Rows that the mask `allowed` rejects are never returned; slots with no row
    left are -1 with score -inf.  Ties go to the lower row, as in exact.topk.
    """
    if store.dtype not in ("float32", "float16") or k > MAX_FAST_K or k < 1:
        return None
    Q = np.ascontiguousarray(np.atleast_2d(Q), dtype=np.float32)
    nq, n = len(Q), len(store)
    best_v = np.full((nq, k), -np.inf, np.float32)
    best_i = np.full((nq, k), -1, np.int64)
    norms = store.norms
    block = max(1024, BLOCK_BYTES // (4 * max(nq, 1)))
    empty = np.zeros(0, np.uint8)
    few = nq < SERIAL_BELOW
    merge = IK.merge_block_topk if not few else IK.merge_block_topk_serial
    # A Fortran-ordered table is scanned too (about 10x slower than C order, still ahead of BLAS
    # for one query); tables built from C-ordered arrays or opened from files are C-ordered.
    fused = few and store.dtype == "float32"
    if fused:
        block = SCAN_BLOCK
    for s in range(0, n, block):
        e = min(n, s + block)
        data = store.data[s:e]
        if data.dtype != np.float32:
            data = data.astype(np.float32)
        if not fused:
            S = Q @ data.T                               # (queries, rows), C-contiguous
        scale, bias = metric.selection(norms[s:e])
        mask = empty if allowed is None else np.ascontiguousarray(allowed[s:e]).view(np.uint8)
        if fused:
            IK.scan_topk(data, Q, scale, bias, mask, s, best_v, best_i)
        else:
            merge(S, scale, bias, mask, s, best_v, best_i)
    qn = np.linalg.norm(Q, axis=1).astype(np.float32)
    found = best_i >= 0
    scores = metric.finish(best_v, qn)
    scores = np.where(found, scores, -np.inf).astype(np.float32)
    return best_i, scores


def topk_any(store: VectorStore, metric: Metric, Q: np.ndarray, k: int,
             allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return exact (rows, scores) (queries x k, -1/-inf where fewer rows pass) for any storage dtype."""
    res = fast_topk(store, metric, Q, k, allowed)
    if res is not None:
        return res
    rows, scores = exact.topk(store, metric, Q, k, allowed=allowed)
    if rows.shape[1] < k:  # exact.topk trims to the narrowest query; pad to k
        pad = k - rows.shape[1]
        rows = np.concatenate([rows, np.full((len(rows), pad), -1, np.int64)], axis=1)
        scores = np.concatenate([scores, np.full((len(rows), pad), -np.inf, np.float32)], axis=1)
    return rows, scores


@BACKENDS.register("flat", aliases=("exact", "brute_force"))
class FlatIndex(Index):
    """Exact search over all stored dtypes and metrics, with filters, deletes and upserts."""

    name = "flat"
    build_defaults: dict[str, Any] = {}
    search_defaults: dict[str, Any] = {}
    # Gathering the allowed rows first beats a masked scan of the whole table
    # once few rows pass: the gather reads only them.
    exact_fraction = 0.05

    def _engine_build(self, task) -> None:
        task.advance(self.n_base)

    def _engine_add(self, X: np.ndarray, ids: np.ndarray) -> None:
        pass

    def _engine_search(self, Q, k, allowed, n_ok, sp, filtered):
        parts = []
        if self.n_base:
            mask = None if allowed is None else allowed[:self.n_base]
            if mask is None or mask.any():
                parts.append(topk_any(self.emb.store, self.metric, Q, k, mask))
        if self.extra_keys:
            mask = None if allowed is None else allowed[self.n_base:]
            if mask is None or mask.any():
                r, s = topk_any(self._extras(), self.metric, Q, k, mask)
                parts.append((np.where(r >= 0, r + self.n_base, -1), s))
        return merge_topk(parts, k)
