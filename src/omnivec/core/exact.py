"""Exact nearest neighbours: chunked matrix products plus a partial sort.

Memory stays bounded: rows are scored a block at a time so that one block of
scores never exceeds BLOCK_BYTES, and only the running top-k is kept.  Float32
blocks go straight to BLAS (a single matrix-vector product over a memory map
for one query); float16 blocks are widened per block; int8 and binary rows are
read by compiled kernels without widening the whole table.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..metrics import Metric
from .vectors import VectorStore
from .._lazy import kernels

K = kernels("omnivec.core._exact_kernels")

BLOCK_BYTES = 64 * 2**20
PARALLEL_MIN = 2**24     # int8 values below which one thread beats a parallel region
F16_BLOCK_ROWS = 32768


def raw_dots(store: VectorStore, start: int, stop: int, Q: np.ndarray) -> np.ndarray:
    """Return <row, query> for rows [start, stop) and float32 queries Q, as (rows x queries)."""
    if store.dtype == "float32":
        return np.ascontiguousarray(store.data[start:stop] @ Q.T, dtype=np.float32)
    if store.dtype == "float16":
        out = np.empty((stop - start, len(Q)), np.float32)
        for s in range(start, stop, F16_BLOCK_ROWS):
            e = min(stop, s + F16_BLOCK_ROWS)
            np.matmul(store.data[s:e].astype(np.float32), Q.T, out=out[s - start:e - start])
        return out
    if store.dtype == "int8":
        Qs = np.ascontiguousarray(Q * store.scale[None, :], dtype=np.float32)
        out = np.empty((stop - start, len(Q)), np.float32)
        block = store.data[start:stop]
        if len(Q) == 1:
            kernel = K.dot_int8 if block.size >= PARALLEL_MIN else K.dot_int8_serial
            kernel(block, Qs[0], out[:, 0])
        else:
            K.dot_int8_many(block, Qs, out)
        return out
    # binary: decode a block at a time
    out = np.empty((stop - start, len(Q)), np.float32)
    for s in range(start, stop, F16_BLOCK_ROWS):
        e = min(stop, s + F16_BLOCK_ROWS)
        np.matmul(store.decode_raw(store.data[s:e]), Q.T, out=out[s - start:e - start])
    return out


def block_scores(store: VectorStore, metric: Metric, start: int, stop: int,
                 Q: np.ndarray, q_norms: np.ndarray) -> np.ndarray:
    """Return metric scores (higher = closer) of rows [start, stop) against queries Q."""
    if store.dtype == "binary" and metric.name == "cosine":
        # Sign vectors: rank by Hamming distance; score = 1 - 2 * hamming / dim.
        qbits = np.packbits(Q > 0, axis=1)
        ham = np.empty((stop - start, len(Q)), np.int32)
        K.hamming_many(store.data[start:stop], qbits, ham)
        return (1.0 - 2.0 * ham.astype(np.float32) / store.dim).astype(np.float32)
    dots = raw_dots(store, start, stop, Q)
    return metric.scores(dots, store.norms[start:stop], q_norms)


RERANK_FACTOR = 4
RERANK_EXTRA = 32


def topk(store: VectorStore, metric: Metric, Q: np.ndarray, k: int, *,
         limit: int | None = None, exclude: Sequence[Sequence[int]] | None = None,
         allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, scores), each (queries x k'), best first, k' = min(k, candidates).

    `limit` scores only the first `limit` rows (gensim's restrict_vocab);
    `exclude[i]` lists rows never returned for query i; `allowed` is an optional
    boolean mask of rows that may be returned.  A store with a re-ranking copy
    is scanned on its codes for max(4k, k + 32) candidates, which are then
    re-scored exactly from the copy.
    """
    if store.rerank is None or k <= 0:
        return _scan_topk(store, metric, Q, k, limit=limit, exclude=exclude, allowed=allowed)
    Q = np.ascontiguousarray(np.atleast_2d(Q), dtype=np.float32)
    kc = max(RERANK_FACTOR * int(k), int(k) + RERANK_EXTRA)
    cand, _ = _scan_topk(store, metric, Q, kc, limit=limit, exclude=exclude, allowed=allowed)
    q_norms = np.linalg.norm(Q, axis=1).astype(np.float32)
    width = min(int(k), cand.shape[1])
    rows = np.empty((len(Q), width), np.int64)
    scores = np.empty((len(Q), width), np.float32)
    for i in range(len(Q)):
        c = np.sort(cand[i])                      # sorted rows read the copy in file order
        dots = (store.rerank[c].astype(np.float32) @ Q[i])[:, None]
        s = metric.scores(dots, store.norms[c], q_norms[i:i + 1])[:, 0]
        order = np.lexsort((c, -s))[:width]
        rows[i], scores[i] = c[order], s[order]
    return rows, scores


def _scan_topk(store: VectorStore, metric: Metric, Q: np.ndarray, k: int, *,
               limit: int | None = None, exclude: Sequence[Sequence[int]] | None = None,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    Q = np.ascontiguousarray(np.atleast_2d(Q), dtype=np.float32)
    nq = len(Q)
    n = len(store) if limit is None else max(0, min(int(limit), len(store)))
    q_norms = np.linalg.norm(Q, axis=1).astype(np.float32)
    k = max(0, min(int(k), n))
    best_rows = np.zeros((nq, 0), np.int64)
    best_scores = np.zeros((nq, 0), np.float32)
    if k == 0 or nq == 0:
        return np.zeros((nq, k), np.int64), np.zeros((nq, k), np.float32)
    if nq == 1 and store.dtype == "float32" and metric.name in ("cosine", "dot") and allowed is None:
        return _one_query_f32(store, metric, Q[0], q_norms[0], k, n, exclude)
    block = max(1024, BLOCK_BYTES // (4 * nq))
    for s in range(0, n, block):
        e = min(n, s + block)
        S = block_scores(store, metric, s, e, Q, q_norms)          # (rows, nq)
        if allowed is not None:
            S[~allowed[s:e], :] = -np.inf
        if exclude is not None:
            for qi, rows in enumerate(exclude):
                for r in rows:
                    if s <= r < e:
                        S[r - s, qi] = -np.inf
        kk = min(k, e - s)
        if kk < e - s:
            part = np.argpartition(-S, kk - 1, axis=0)[:kk]      # (kk, nq)
        else:
            part = np.broadcast_to(np.arange(e - s)[:, None], (e - s, nq))
        cand_scores = np.take_along_axis(S, part, axis=0).T       # (nq, kk)
        cand_rows = (part + s).T.astype(np.int64)
        best_rows = np.concatenate([best_rows, cand_rows], axis=1)
        best_scores = np.concatenate([best_scores, cand_scores], axis=1)
        if best_rows.shape[1] > k:
            keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_rows = np.take_along_axis(best_rows, keep, axis=1)
            best_scores = np.take_along_axis(best_scores, keep, axis=1)
    # Best first; ties broken by row so results are deterministic.
    order = np.lexsort((best_rows, -best_scores), axis=1) if best_rows.size else None
    if order is not None:
        best_rows = np.take_along_axis(best_rows, order, axis=1)
        best_scores = np.take_along_axis(best_scores, order, axis=1)
    # Drop slots that were excluded or filtered out (score -inf).
    if np.isneginf(best_scores).any():
        valid = ~np.isneginf(best_scores)
        width = int(valid.sum(axis=1).min())
        best_rows, best_scores = best_rows[:, :width], best_scores[:, :width]
    if metric.name == "euclidean" and store.dtype != "binary" and best_rows.size:
        # The scan's expanded |v|^2 - 2<v,q> + |q|^2 loses ~|q|*sqrt(eps) near zero;
        # the k winners get their distances computed directly.
        for i in range(nq):
            diff = store.decode(best_rows[i]) - Q[i]
            best_scores[i] = -np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return best_rows, best_scores


def _one_query_f32(store: VectorStore, metric: Metric, q: np.ndarray, q_norm: float, k: int, n: int,
                   exclude) -> tuple[np.ndarray, np.ndarray]:
    # The commonest query (most_similar on float32 rows): one matrix-vector product over the
    # memory map, scaled in place, one partial sort -- no per-query temporaries beyond the scores.
    scores = store.data[:n] @ q
    if metric.name == "cosine":
        scores /= store.safe_norms()[:n]
        scores *= np.float32(1.0 / q_norm) if q_norm > 0 else np.float32(0.0)
    if exclude is not None:
        for r in exclude[0]:
            if 0 <= r < n:
                scores[r] = -np.inf
    top = np.argpartition(scores, n - k)[n - k:] if k < n else np.arange(n)
    top = top[np.lexsort((top, -scores[top]))]
    vals = scores[top]
    keep = ~np.isneginf(vals)
    return top[keep][None, :].astype(np.int64), vals[keep][None, :].astype(np.float32)


def all_scores(store: VectorStore, metric: Metric, q: np.ndarray, *, limit: int | None = None) -> np.ndarray:
    """Return the score of every row (or the first `limit`) against one query vector.

    Exact: a store with a re-ranking copy is scored from the copy.
    """
    q = np.ascontiguousarray(np.atleast_2d(q), dtype=np.float32)
    n = len(store) if limit is None else min(int(limit), len(store))
    q_norms = np.linalg.norm(q, axis=1).astype(np.float32)
    if store.rerank is None:
        return block_scores(store, metric, 0, n, q, q_norms)[:, 0]
    out = np.empty(n, np.float32)
    for s in range(0, n, F16_BLOCK_ROWS):
        e = min(n, s + F16_BLOCK_ROWS)
        dots = (store.rerank[s:e].astype(np.float32) @ q[0])[:, None]
        out[s:e] = metric.scores(dots, store.norms[s:e], q_norms)[:, 0]
    return out
