"""Exact nearest neighbours: the one exact top-k of omnivec.

`topk_any` serves every exact search: `Embeddings.search`/`most_similar`, the
flat index, index evaluation and the explorer's k-NN.  Rows are scored a block
at a time (queries x rows, so one block of scores never exceeds BLOCK_BYTES and
stays in cache while it is read) and folded into a running top-k per query by
compiled kernels: a row whose selection key does not beat the current k-th best
costs one comparison, so no block is ever sorted or partitioned.

- One query on float32 rows of GEMV_DIMS dims or more: a BLAS matrix-vector
  product over the rows (every thread reads them), then one serial pass of
  selection, which costs a fraction of it.
- A few queries (fewer than FEW, or one of fewer dims): the dot products
  fused into the scan, threads splitting the rows, each keeping its own
  top-k, merged in row order, so each row is read from memory once (float32,
  int8 with the scale folded into the queries, float16 widened in registers).  Small float32
  tables take the same pass on one thread: no pool to wake.
- Many queries: a BLAS product per block of rows (queries x rows, float16,
  int8 and binary rows widened per block on one thread) folded into the
  top-k with threads splitting the queries.  Sign vectors under a metric that
  ranks them by Hamming distance are compared bit by bit.  Very large k uses
  a partial sort per block.
- Metric behaviour comes from the Metric object: `selection` turns dot products
  into keys that rank rows as the score does, `finish` turns keys back into
  scores, `rescore_winners` asks for the winners' scores to be computed
  directly, `sign_hamming` for sign bits to be compared by Hamming distance.
  Ties go to the lower row.
"""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

from ..errors import DimensionError, InputError
from ..metrics import Metric
from .vectors import VectorStore
from .._lazy import kernels

K = kernels("omnivec.core._exact_kernels")

BLOCK_BYTES = 16 * 2**20  # one block of scores (queries x rows): stays in cache while it is selected
FEW = 16                  # fewer queries: dot products fused into a scan whose threads split the rows
GEMV_DIMS = 64            # one query with at least this many dims: BLAS's matrix-vector product beats the scan
FUSED_ROWS = 32768        # few queries on at most this many float32 rows: one thread, no pool to wake
MAX_RUNNING_K = 512       # insertion into the running top-k is O(k); past this a partial sort wins
WIDEN_ROWS = 32768        # rows scored at a time by all_scores
WIDEN_BYTES = 16 * 2**20  # rows widened to float32 for BLAS (float16, int8, binary): at most this per block

RERANK_FACTOR = 4
RERANK_EXTRA = 32


def topk_any(store: VectorStore, metric: Metric, Q: np.ndarray, k: int,
             allowed: np.ndarray | None = None, *, limit: int | None = None,
             exclude: Sequence[Sequence[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return exact (rows, scores), each (queries x k), best first; -1 / -inf where fewer rows qualify.

    `allowed` is an optional boolean mask over the rows (rows it rejects are
    never returned); `limit` scores only the first `limit` rows (gensim's
    restrict_vocab); `exclude[i]` lists rows never returned for query i.  A
    store with a re-ranking copy is scanned on its codes for max(4k, k + 32)
    candidates, which are then re-scored exactly from the copy.  Ties go to
    the lower row.  The first scan of a table opened from a file checks its
    stored CRC-32s first (`VectorStore.check_before_scan`).
    """
    store.check_before_scan()
    Q = _queries(store, Q)
    k = int(k)
    if k < 0:
        raise InputError(f"k must be >= 0; got {k}")
    n = len(store) if limit is None else max(0, min(int(limit), len(store)))
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape[0] < n:
            raise DimensionError(f"the allowed mask has {allowed.shape[0]} entries; {n} rows are searched")
        allowed = allowed[:n]
    extra = _exclusions(exclude, len(Q), n)
    want = min(k + (0 if extra is None else extra.shape[1]), n)
    if store.rerank is not None and want > 0:
        rows, scores = _rerank(store, metric, Q, want, n, allowed)
    else:
        rows, scores = _scan(store, metric, Q, want, n, allowed)
    if extra is not None:
        rows, scores = _drop(rows, scores, extra)
    return _width(rows, scores, k)


def topk(store: VectorStore, metric: Metric, Q: np.ndarray, k: int, *,
         limit: int | None = None, exclude: Sequence[Sequence[int]] | None = None,
         allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, scores), each (queries x k'), best first, k' = the fewest rows any query found.

    `topk_any` trimmed to the columns every query fills: the shape
    `Embeddings.search` returns.
    """
    rows, scores = topk_any(store, metric, Q, k, allowed, limit=limit, exclude=exclude)
    if rows.size:
        width = int((rows >= 0).sum(axis=1).min())
        rows, scores = rows[:, :width], scores[:, :width]
    return rows, scores


def all_scores(store: VectorStore, metric: Metric, q: np.ndarray, *, limit: int | None = None) -> np.ndarray:
    """Return the score of every row (or the first `limit`) against one query vector.

    Exact: a store with a re-ranking copy is scored from the copy.
    """
    store.check_before_scan()
    q = _queries(store, q)[:1]
    n = len(store) if limit is None else max(0, min(int(limit), len(store)))
    q_norms = np.linalg.norm(q, axis=1).astype(np.float32)
    out = np.empty(n, np.float32)
    final = _hamming(store, metric)
    for s in range(0, n, WIDEN_ROWS):
        e = min(n, s + WIDEN_ROWS)
        if store.rerank is not None:
            dots = (store.rerank[s:e].astype(np.float32) @ q[0])[:, None]
        elif final:
            out[s:e] = _hamming_scores(store, s, e, q)[0]
            continue
        else:
            dots = np.ascontiguousarray(_dots(store, s, e, q).T)
        out[s:e] = metric.scores(dots, store.norms[s:e], q_norms)[:, 0]
    return out


# -- the scan -------------------------------------------------------------------

def _scan(store: VectorStore, metric: Metric, Q: np.ndarray, k: int, n: int,
          allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, scores) (queries x k, -1 / -inf where empty) of the first n rows."""
    nq = len(Q)
    best_v = np.full((nq, k), -np.inf, np.float32)
    best_i = np.full((nq, k), -1, np.int64)
    if k == 0 or nq == 0 or n == 0:
        return best_i, best_v
    final = _hamming(store, metric)          # scores straight from the bits: no keys to finish
    mask = np.zeros(0, np.uint8) if allowed is None else np.ascontiguousarray(allowed).view(np.uint8)
    if final:
        unit = np.ones(n, np.float32), np.zeros(n, np.float32)
        _blocks(store, Q, n, unit, mask, best_v, best_i, scorer=_hamming_scores)
    else:
        keys = _selection(store, metric, n)
        gemv = nq == 1 and store.dtype == "float32" and store.dim >= GEMV_DIMS
        scorer = _dots if metric.row_keys else _metric_scorer(metric, Q)
        if nq == 1 and store.dtype == "float32" and "numba" not in sys.modules:
            # The first query after opening a file: BLAS and a numpy partial sort answer it
            # without starting the compiler (a third of a second or more); the same neighbours,
            # scores equal up to float rounding (BLAS sums in another order than the scan).
            _blocks_numpy(store, Q, n, keys, mask, best_v, best_i, scorer=scorer)
        elif nq >= FEW or k > MAX_RUNNING_K or store.dtype == "binary" or gemv or not metric.row_keys:
            _blocks(store, Q, n, keys, mask, best_v, best_i, scorer=scorer)
        else:
            _fused(store, Q, n, keys, mask, best_v, best_i)
    found = best_i >= 0
    scores = best_v if final else metric.finish(best_v, np.linalg.norm(Q, axis=1).astype(np.float32))
    scores = np.where(found, scores, np.float32(-np.inf)).astype(np.float32)
    if metric.rescore_winners and not final:
        _rescore(store, metric, Q, best_i, scores)
    return best_i, scores


def _metric_scorer(metric: Metric, Q: np.ndarray):
    """Return a block scorer giving the metric's own scores (queries x rows): for metrics without
    per-row selection keys (`metric.row_keys` False), whose keys are then the identity."""
    q_norms = np.linalg.norm(Q, axis=1).astype(np.float32)

    def scorer(store: VectorStore, start: int, stop: int, Qb: np.ndarray) -> np.ndarray:
        dots = np.ascontiguousarray(_dots(store, start, stop, Qb).T)
        return np.ascontiguousarray(metric.scores(dots, store.norms[start:stop], q_norms).T, dtype=np.float32)

    return scorer


def _selection(store: VectorStore, metric: Metric, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the metric's (scale, bias) of the first n rows, computed once per table and metric."""
    cache = store.__dict__.setdefault("_selection", {})
    hit = cache.get(metric)
    if hit is None or hit[0] is not store.norms:
        hit = cache[metric] = (store.norms, *metric.selection(store.norms))
    return hit[1][:n], hit[2][:n]


def _blocks(store: VectorStore, Q: np.ndarray, n: int, keys, mask, best_v, best_i, *, scorer) -> None:
    """Score blocks of rows (queries x rows, BLAS where it can read them) and fold each into the top-k."""
    nq = len(Q)
    scale, bias = keys
    threads = K.threads()
    block = max(1024, BLOCK_BYTES // (4 * nq))
    if store.dtype != "float32":     # rows widened to float32 for BLAS, a block at a time
        block = min(block, max(1024, WIDEN_BYTES // (4 * store.dim)))
    for s in range(0, n, block):
        e = min(n, s + block)
        m = mask[s:e] if mask.shape[0] else mask
        _select(scorer(store, s, e, Q), scale[s:e], bias[s:e], m, s, best_v, best_i, threads)


def _blocks_numpy(store: VectorStore, Q: np.ndarray, n: int, keys, mask, best_v, best_i, *, scorer=None) -> None:
    """_blocks for one float32 query with numpy only (no compiled kernel): BLAS's matrix-vector
    product, then a partial sort that keeps every row tied with the k-th (ties go to the lower row)."""
    scale, bias = keys
    k = best_v.shape[1]
    block = max(1024, BLOCK_BYTES // 4)
    for s in range(0, n, block):
        e = min(n, s + block)
        sel = (scorer or _dots)(store, s, e, Q)[0] * scale[s:e] + bias[s:e]
        if mask.shape[0]:
            sel[mask[s:e] == 0] = -np.inf
        if len(sel) > k:
            kth = np.partition(sel, len(sel) - k)[len(sel) - k]
            cand = np.flatnonzero(sel >= kth)
        else:
            cand = np.arange(len(sel))
        allv = np.concatenate([best_v[0], sel[cand]])
        alli = np.concatenate([best_i[0], cand + s])
        alli[np.isneginf(allv)] = np.iinfo(np.int64).max      # empty slots sort last
        order = np.lexsort((alli, -allv))[:k]
        best_v[0], best_i[0] = allv[order], alli[order]
        best_i[0][np.isneginf(best_v[0])] = -1


def _fused(store: VectorStore, Q: np.ndarray, n: int, keys, mask, best_v, best_i) -> None:
    """Score a few queries with the dot products fused into the scan: each row read once."""
    scale, bias = keys
    threads = K.threads()
    data = store.data[:n]
    if store.dtype == "float32" and (n <= FUSED_ROWS or threads == 1):
        K.scan_topk(data, Q, scale, bias, mask, 0, best_v, best_i)  # one thread: no pool to wake
    elif store.dtype == "float16":
        K.scan_split_topk_f16(data.view(np.uint16), Q, scale, bias, mask, 0, threads, best_v, best_i)
    else:
        if store.dtype == "int8":
            Q = np.ascontiguousarray(Q * store.scale[None, :], dtype=np.float32)
        K.scan_split_topk(data, Q, scale, bias, mask, 0, threads, best_v, best_i)


def _select(S, scale, bias, mask, start, best_v, best_i, threads: int) -> None:
    """Fold a block of scores (queries x rows) into the running top-k, by the cheapest route."""
    nq, nr = S.shape
    if best_v.shape[1] > MAX_RUNNING_K:
        _merge_partition(S, scale, bias, mask, start, best_v, best_i)
    elif nq >= FEW and threads > 1:
        K.merge_block_topk(S, scale, bias, mask, start, best_v, best_i)
    else:   # one query's selection costs a fraction of its scan: no thread pool to wake
        K.merge_block_topk_serial(S, scale, bias, mask, start, best_v, best_i)


def _merge_partition(S, scale, bias, mask, start, best_v, best_i) -> None:
    """merge_block_topk for a large k: a partial sort of the block's keys with the current best."""
    keys = S * scale[None, :] + bias[None, :]
    if mask.shape[0]:
        keys[:, mask == 0] = -np.inf
    k = best_v.shape[1]
    rows = np.broadcast_to(np.arange(start, start + S.shape[1], dtype=np.int64), keys.shape)
    allv = np.concatenate([best_v, keys], axis=1)
    alli = np.concatenate([best_i, rows], axis=1)
    alli[np.isneginf(allv)] = np.iinfo(np.int64).max     # empty slots sort last
    if allv.shape[1] > k:
        part = np.argpartition(-allv, k - 1, axis=1)[:, :k]
        allv = np.take_along_axis(allv, part, axis=1)
        alli = np.take_along_axis(alli, part, axis=1)
    order = np.lexsort((alli, -allv), axis=1)
    best_v[:] = np.take_along_axis(allv, order, axis=1)
    best_i[:] = np.take_along_axis(alli, order, axis=1)
    best_i[np.isneginf(best_v)] = -1


def _dots(store: VectorStore, start: int, stop: int, Q: np.ndarray) -> np.ndarray:
    """Return <row, query> for rows [start, stop) and float32 queries Q, as (queries x rows) float32."""
    data = store.data[start:stop]
    if store.dtype == "float32":
        if len(Q) == 1:     # a matrix-vector product: BLAS reads the rows once, with every thread
            return (data @ Q[0])[None, :]
        return Q @ data.T
    Qs = Q * store.scale[None, :] if store.dtype == "int8" else Q
    if store.dtype == "float16":
        wide = np.empty((stop - start, store.dim), np.float32)
        K.widen_f16(data.view(np.uint16), wide)
    elif store.dtype == "int8":
        wide = np.empty((stop - start, store.dim), np.float32)
        K.widen_int8(data, wide)
    else:
        wide = store.decode_raw(data)
    return Qs @ wide.T


def _hamming(store: VectorStore, metric: Metric) -> bool:
    """Return True when rows are sign bits compared by Hamming distance (the metric asks for it)."""
    return store.dtype == "binary" and metric.sign_hamming


def _hamming_scores(store: VectorStore, start: int, stop: int, Q: np.ndarray) -> np.ndarray:
    """Return 1 - 2 * hamming / dim of sign rows [start, stop) against the queries' signs (queries x rows)."""
    qbits = np.packbits(Q > 0, axis=1)
    ham = np.empty((stop - start, len(Q)), np.int32)
    K.hamming_many(store.data[start:stop], qbits, ham)
    return np.ascontiguousarray((1.0 - 2.0 * ham.T.astype(np.float32) / store.dim).astype(np.float32))


def _rescore(store: VectorStore, metric: Metric, Q: np.ndarray, rows: np.ndarray, scores: np.ndarray) -> None:
    """Replace the winners' scan scores by their scores computed directly (metric.rescore_winners)."""
    for i in range(len(Q)):
        ok = rows[i] >= 0
        if ok.any():
            r = rows[i][ok]
            scores[i][ok] = metric.pair_scores(store.decode(r), np.broadcast_to(Q[i], (len(r), Q.shape[1])))


def _rerank(store: VectorStore, metric: Metric, Q: np.ndarray, k: int, n: int,
            allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Scan the codes for candidates, then re-score them exactly from the re-ranking copy."""
    kc = min(n, max(RERANK_FACTOR * k, k + RERANK_EXTRA))
    cand, _ = _scan(store, metric, Q, kc, n, allowed)
    q_norms = np.linalg.norm(Q, axis=1).astype(np.float32)
    rows = np.full((len(Q), k), -1, np.int64)
    scores = np.full((len(Q), k), -np.inf, np.float32)
    for i in range(len(Q)):
        c = np.sort(cand[i][cand[i] >= 0])        # sorted rows read the copy in file order
        dots = (store.rerank[c].astype(np.float32) @ Q[i])[:, None]
        s = metric.scores(dots, store.norms[c], q_norms[i:i + 1])[:, 0]
        order = np.lexsort((c, -s))[:k]
        rows[i, :len(order)], scores[i, :len(order)] = c[order], s[order]
    return rows, scores


# -- queries, exclusions and widths ------------------------------------------------

def _queries(store: VectorStore, Q: np.ndarray) -> np.ndarray:
    """Return the queries as C-ordered float32 (queries x dim), checked against the table."""
    Q = np.ascontiguousarray(np.atleast_2d(Q), dtype=np.float32)
    if Q.ndim != 2 or Q.shape[1] != store.dim:
        raise DimensionError(f"queries have shape {Q.shape}; the table has {store.dim} dims")
    return Q


def _exclusions(exclude, nq: int, n: int) -> np.ndarray | None:
    """Return the rows to exclude per query as a (queries x m) array padded with -1, or None."""
    if exclude is None:
        return None
    if len(exclude) != nq:
        raise InputError(f"exclude lists rows for {len(exclude)} queries; there are {nq}")
    lists = [[int(r) for r in rows if 0 <= int(r) < n] for rows in exclude]
    m = max((len(x) for x in lists), default=0)
    if m == 0:
        return None
    out = np.full((nq, m), -1, np.int64)
    for i, x in enumerate(lists):
        out[i, :len(x)] = x
    return out


def _drop(rows: np.ndarray, scores: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's excluded rows, keeping the order of the rest."""
    bad = (rows[:, :, None] == extra[:, None, :]).any(axis=2) | (rows < 0)
    order = np.argsort(bad, axis=1, kind="stable")
    rows = np.take_along_axis(rows, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    gone = np.take_along_axis(bad, order, axis=1)
    rows[gone], scores[gone] = -1, -np.inf
    return rows, scores


def _width(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the results cut or padded (-1 / -inf) to exactly k columns."""
    w = rows.shape[1]
    if w >= k:
        return rows[:, :k], scores[:, :k]
    pad = k - w
    return (np.concatenate([rows, np.full((len(rows), pad), -1, np.int64)], axis=1),
            np.concatenate([scores, np.full((len(rows), pad), -np.inf, np.float32)], axis=1))
