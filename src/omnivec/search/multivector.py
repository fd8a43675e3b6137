"""MultiVectors: several vectors per key (late interaction), searched by exact MaxSim.

A document embedded token by token (ColBERT-style) is a ragged set of
vectors.  `MultiVectors` stores such sets as a typed model view of kind
"multivector" with two tables:

- ``docs``: one row per key, its vector the mean of the key's vectors (so
  ordinary lookups and single-vector search work on it), with the int64
  per-row extras ``start`` and ``count`` locating the key's vectors;
- ``tokens``: every vector of every key, keys in order, each key's vectors
  contiguous (integer keys 0..T-1).

It opens memory-mapped like any model file (no compiler is loaded).
`search` scores late interaction exactly: MaxSim(Q, D) = sum over the query's
vectors q of max over the document's vectors d of q.d, as BLAS blocks of
(document vectors x query vectors) reduced by a segment maximum over the
documents' offsets.  `prune` shrinks each document to the centroids of a
k-means of its vectors; `omnivec.search.muvera` adds an approximate index.

    mv = MultiVectors.from_ragged(["d1", "d2"], [np.random.rand(5, 8), np.random.rand(3, 8)])
    mv.save("docs.ov")
    mv = omnivec.open("docs.ov")
    found = mv.search([np.random.rand(4, 8)], k=2)     # Neighbors, one row per query
"""

from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import numpy as np

from ..core.keys import Key, KeyTable
from ..core.neighbors import Neighbors
from ..core.vectors import VectorStore
from ..embeddings import Embeddings
from ..errors import DimensionError, FormatError, InputError, KeyNotFound
from ..model import Model

ON_EMPTY = ("error", "skip", "zero")
#: bytes of one block of scores (document vectors x query vectors) in the exact scan
BLOCK_BYTES = 32 << 20
#: query vectors scored in one pass of the exact scan
QUERY_CHUNK = 4096
#: re-rank document by document (one product per candidate document) from this many (query, candidate)
#: pairs, when a candidate document is shared by this many queries on average
GROUPED_MIN_PAIRS = 256
GROUPED_SHARE = 4


def _ragged(vectors, offsets, n: int | None, what: str) -> tuple[list[np.ndarray] | None, np.ndarray | None,
                                                                 np.ndarray | None]:
    """Return (list of per-item arrays, None, None) or (None, flat rows, offsets) for ragged input."""
    if offsets is not None:
        flat = np.asarray(vectors)
        off = np.asarray(offsets)
        if off.ndim != 1 or off.dtype.kind not in "iu":
            raise InputError(f"{what} offsets must be a 1-D integer array; got shape {off.shape} dtype {off.dtype}")
        if flat.ndim != 2:
            raise DimensionError(f"{what} vectors given with offsets must be one 2-D array (rows x dims); "
                                 f"got shape {flat.shape}")
        off = off.astype(np.int64)
        if n is not None and len(off) != n + 1:
            raise InputError(f"{what} offsets must have one entry per item plus one ({n + 1}); got {len(off)}")
        if len(off) == 0 or off[0] != 0 or off[-1] != len(flat) or (np.diff(off) < 0).any():
            raise InputError(f"{what} offsets must start at 0, never decrease and end at the number of "
                             f"vector rows ({len(flat)}); got {off[:3].tolist()}...{off[-1:].tolist()}")
        return None, flat, off
    if isinstance(vectors, np.ndarray):
        if vectors.ndim == 3:
            return list(vectors), None, None
        raise InputError(f"{what} vectors must be a list of (count x dims) arrays, a 3-D array, or one "
                         f"2-D array with offsets; got an array of shape {vectors.shape}")
    return [np.asarray(v) for v in vectors], None, None


def _check_rows(arr: np.ndarray, label: str, dim: int | None, expected: str = "the others have") -> np.ndarray:
    """Return one item's vectors as float32 (rows x dims), or raise an error naming `label`."""
    if arr.dtype.kind not in "fiu" or arr.dtype == bool:
        raise InputError(f"the vectors of {label} must be numeric; got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, dim or 0)
    if arr.ndim != 2:
        raise DimensionError(f"the vectors of {label} must be a 2-D array (count x dims); got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim and len(arr):
        raise DimensionError(f"the vectors of {label} have {arr.shape[1]} dims; {expected} {dim}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        r = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(f"vector {r} of {label} holds NaN or infinity")
    return arr


class MultiVectors(Model):
    """Several vectors per key: ``len(mv)``, ``mv.keys``, ``mv.vectors(key)``, ``mv.search(queries, k)``.

    Build with `from_ragged`, save with `save`, open with ``omnivec.open``.
    ``mv["docs"]`` is the table of mean vectors (one row per key, with the
    ``start``/``count`` extras), ``mv["tokens"]`` the table of all vectors.
    """

    kind = "multivector"
    required = ("docs", "tokens")

    def __init__(self, tables: Mapping[str, Embeddings], *, path: str | None = None) -> None:
        super().__init__(tables, path=path)
        docs, tokens = self.tables["docs"], self.tables["tokens"]
        where = path or "this multi-vector model"
        extra = sorted(set(self.tables) - set(self.required))
        if extra:
            raise FormatError(f"a multi-vector model holds the tables docs and tokens only; found also "
                              f"{', '.join(extra)}", path=path)
        for name in ("start", "count"):
            arr = docs.extras.get(name)
            if arr is None or arr.shape != (len(docs),) or arr.dtype != np.int64:
                raise FormatError(f"the docs table needs an int64 '{name}' per row ({len(docs)}); "
                                  f"found {None if arr is None else (arr.shape, str(arr.dtype))}", path=path)
        if docs.dim != tokens.dim:
            raise FormatError(f"the docs table has {docs.dim} dims but the tokens table {tokens.dim}", path=path)
        start, count = docs.extras["start"], docs.extras["count"]
        n_tok = len(tokens)
        if len(docs) and (int(count.min()) < 1 or int(start.min()) < 0
                          or int((start + count).max()) > n_tok):
            raise FormatError(f"{where}: the docs table's start/count run outside the {n_tok} token vectors "
                              "or give a key no vector", path=path)
        self.docs: Embeddings = docs
        self.tokens: Embeddings = tokens
        self._start = start
        self._count = count
        self._muvera = None
        self._muvera_looked = False

    @classmethod
    def from_tables(cls, tables, *, path: str | None = None) -> "MultiVectors":
        """Return the multi-vector view over 'docs' and 'tokens' tables (FormatError when they do not fit)."""
        return cls(tables, path=path)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def from_ragged(cls, keys: Sequence[Key], vectors, offsets=None, *, on_empty: str = "error",
                    metric: str = "cosine", storage: str = "float32", meta: dict | None = None
                    ) -> "MultiVectors":
        """Return a MultiVectors of `keys`, key i holding the vectors ``vectors[i]`` (count_i x dims).

        `vectors` is a list of 2-D arrays (one per key), a 3-D array, or one
        2-D array of all rows with `offsets` (len(keys) + 1 entries: key i owns
        rows offsets[i]:offsets[i+1]).  A key without vectors is an error
        naming it (on_empty="error"), dropped ("skip"), or given one zero
        vector ("zero").  `metric` is the docs table's (its mean vectors);
        `storage` the tokens table's ('float32' or 'float16').
        """
        if on_empty not in ON_EMPTY:
            raise InputError(f"on_empty must be one of {', '.join(ON_EMPTY)}; got {on_empty!r}")
        if isinstance(keys, (str, bytes)):
            raise InputError("keys must be a sequence of keys, not one string")
        keys = list(keys.tolist() if isinstance(keys, np.ndarray) else keys)
        items, flat, off = _ragged(vectors, offsets, len(keys), "the")
        if items is not None and len(items) != len(keys):
            raise InputError(f"{len(keys)} keys but {len(items)} vector sets; each key needs one")
        if not keys:
            raise InputError("a multi-vector model needs at least one key")
        dim: int | None = None
        parts: list[np.ndarray] = []
        kept: list[Key] = []
        if items is None:
            dim = flat.shape[1]
            flat = _check_rows(flat, "the vectors", dim)
            lengths = np.diff(off)
        for i, key in enumerate(keys):
            if items is not None:
                arr = items[i]
                if arr.ndim == 2 and len(arr) and dim is None:
                    dim = arr.shape[1]
                arr = _check_rows(arr, f"key {key!r} (item {i})", dim)
            else:
                arr = flat[off[i]:off[i + 1]]
            if len(arr) == 0:
                if on_empty == "error":
                    raise InputError(f"key {key!r} (item {i}) has no vectors; give it at least one, or pass "
                                     "on_empty='skip' to drop it or 'zero' to give it a zero vector")
                if on_empty == "skip":
                    continue
                arr = None  # filled once the width is known
            parts.append(arr)
            kept.append(key)
        if dim is None:
            raise InputError("no key has any vectors, so their width is unknown")
        parts = [np.zeros((1, dim), np.float32) if p is None else p for p in parts]
        if not kept:
            raise InputError("every key was skipped for having no vectors")
        if items is None and len(parts) == len(keys) and on_empty != "zero":
            all_rows, counts = flat, lengths
        else:
            counts = np.array([len(p) for p in parts], np.int64)
            all_rows = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
        return cls._assemble(kept, np.ascontiguousarray(all_rows, np.float32), counts, metric=metric,
                             storage=storage, meta=meta)

    @classmethod
    def _assemble(cls, keys: list[Key], rows: np.ndarray, counts: np.ndarray, *, metric: str,
                  storage: str, meta: dict | None) -> "MultiVectors":
        counts = np.asarray(counts, np.int64)
        start = np.zeros(len(counts), np.int64)
        np.cumsum(counts[:-1], out=start[1:])
        means = np.add.reduceat(rows, start, axis=0, dtype=np.float64) / counts[:, None]
        key_table, _ = KeyTable.from_keys(keys)
        docs = Embeddings.from_parts(keys=key_table, store=VectorStore.encode(means.astype(np.float32)),
                                     metric=metric, name="docs", meta=dict(meta or {}),
                                     extras={"start": start, "count": counts})
        tokens = Embeddings(np.arange(len(rows), dtype=np.int64), rows, metric="dot", storage=storage,
                            name="tokens")
        return cls({"docs": docs, "tokens": tokens})

    # -- facts -------------------------------------------------------------------------
    def __len__(self) -> int:  # the number of keys (a Model counts tables; this view counts documents)
        return len(self.docs)

    def __iter__(self):
        return iter(self.tables)

    @property
    def keys(self) -> KeyTable:
        """Return the keys (iterable, ``.row(key)``, ``.key(row)``), in row order."""
        return self.docs.keys

    @property
    def dim(self) -> int:
        """Return the width of every vector."""
        return self.docs.dim

    @property
    def counts(self) -> np.ndarray:
        """Return the number of vectors of each key (int64, row order)."""
        return self._count

    @property
    def offsets(self) -> np.ndarray:
        """Return the (len + 1) offsets of each key's vectors in the tokens table."""
        out = np.empty(len(self) + 1, np.int64)
        out[0] = 0
        out[1:] = self._start + self._count
        if len(self) and (self._start[0] != 0 or (self._start[1:] != out[1:-1]).any()):
            raise FormatError("the token vectors of the keys are not stored in key order", path=self.path)
        return out

    @property
    def total_vectors(self) -> int:
        """Return the number of vectors of all keys together."""
        return len(self.tokens)

    def __repr__(self) -> str:
        return (f"MultiVectors({self.path!r}, keys={len(self)}, vectors={self.total_vectors}, "
                f"dim={self.dim})")

    def _rows_of(self, r: int) -> np.ndarray:
        s, c = int(self._start[r]), int(self._count[r])
        store = self.tokens.store
        return store.data[s:s + c] if store.dtype == "float32" else store.decode(slice(s, s + c))

    def vectors(self, key: Key) -> np.ndarray:
        """Return the (count x dims) float32 vectors of `key` (KeyNotFound if absent)."""
        r = self.docs.keys.row(key)
        if r < 0:
            raise KeyNotFound(f"key {key!r} is not in {self.path or 'this multi-vector model'} "
                              f"({len(self)} keys)")
        return self._rows_of(int(r))

    def nbytes(self) -> int:
        """Return the bytes the stored vectors take (tokens and mean vectors)."""
        return int(self.tokens.store.data.nbytes + self.docs.store.data.nbytes)

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to one file at `path`, atomically; ``omnivec.open(path)`` returns it."""
        super().save(path)

    # -- queries -----------------------------------------------------------------------
    def _queries(self, queries) -> tuple[np.ndarray, np.ndarray, list[Key] | None]:
        """Return (query vectors, offsets, query keys or None) for ragged queries or keys."""
        if isinstance(queries, (str, int, np.integer)) and not isinstance(queries, bool):
            queries = [queries]
        if isinstance(queries, (list, tuple)) and queries and all(
                isinstance(q, (str, int, np.integer)) and not isinstance(q, bool) for q in queries):
            rows = self.docs.keys.rows(list(queries))
            if (rows < 0).any():
                i = int(np.flatnonzero(rows < 0)[0])
                raise KeyNotFound(f"query key {queries[i]!r} is not in {self.path or 'this multi-vector model'}")
            parts = [self._rows_of(int(r)) for r in rows]
            counts = np.array([len(p) for p in parts], np.int64)
            return (np.ascontiguousarray(np.concatenate(parts), np.float32),
                    np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), list(queries))
        if isinstance(queries, tuple) and len(queries) == 2 and not isinstance(queries[1], (int, float)) \
                and np.asarray(queries[1]).ndim == 1 and np.asarray(queries[0]).ndim == 2:
            _, flat, off = _ragged(queries[0], queries[1], None, "query")
            flat = _check_rows(flat, "the queries", self.dim, "this model has")
            if flat.shape[1] != self.dim:
                raise DimensionError(f"the queries have {flat.shape[1]} dims; this model has {self.dim}")
            if (np.diff(off) == 0).any():
                raise InputError(f"query {int(np.flatnonzero(np.diff(off) == 0)[0])} has no vectors")
            return flat, off, None
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            queries = [queries]   # one query of several vectors
        items, _, _ = _ragged(queries, None, None, "query")
        parts = []
        for i, q in enumerate(items):
            q = _check_rows(q, f"query {i}", self.dim, "this model has")
            if q.shape[1] != self.dim:
                raise DimensionError(f"query {i} has {q.shape[1]} dims; this model has {self.dim}")
            if len(q) == 0:
                raise InputError(f"query {i} has no vectors")
            parts.append(q)
        counts = np.array([len(p) for p in parts], np.int64)
        flat = np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros((0, self.dim), np.float32)
        return flat, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), None

    def maxsim(self, queries, keys: Sequence[Key] | None = None) -> np.ndarray:
        """Return the MaxSim score of every query against every key (queries x keys; all keys by default)."""
        Q, qoff, _ = self._queries(queries)
        if keys is None:
            return self._exact_scores(Q, qoff)
        rows = self.docs.keys.rows(list(keys))
        if (rows < 0).any():
            i = int(np.flatnonzero(rows < 0)[0])
            raise KeyNotFound(f"key {list(keys)[i]!r} is not in {self.path or 'this multi-vector model'}")
        cand = np.broadcast_to(rows, (len(qoff) - 1, len(rows)))
        return self.rescore(Q, qoff, np.ascontiguousarray(cand))

    def search(self, queries, k: int = 10, *, approx: bool = False, candidates: int | None = None,
               refine: int | None = None, exclude_self: bool = True) -> Neighbors:
        """Return the k keys of best MaxSim score for each query as Neighbors (queries x k), best first.

        `queries`: a list of (count_i x dims) arrays, one 2-D array (one
        query), a (vectors, offsets) pair, or keys of this model (a key query
        never finds itself unless exclude_self=False).  approx=True goes
        through the MUVERA index stored beside the model file (or attached
        with `attach`), re-ranking its `candidates` best per query exactly
        (`refine`: how many its refine stage passes on, when it has one);
        without one the search is exact.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        Q, qoff, qkeys = self._queries(queries)
        exclude = None
        if qkeys is not None and exclude_self:
            exclude = self.docs.keys.rows(qkeys)
        kk = min(int(k) + (exclude is not None), len(self))
        index = self.muvera_index() if approx else None
        if index is not None:
            ids, scores = index._search_rows(Q, qoff, kk, candidates, refine)
        else:
            ids, scores = self._exact_topk(Q, qoff, kk)
        if exclude is not None:
            ids, scores = _drop_rows(ids, scores, exclude, int(k))
        return Neighbors(ids, scores, self.docs.keys.keys_of)

    # -- the attached MUVERA index -------------------------------------------------------
    def attach(self, index) -> "MultiVectors":
        """Attach a MUVERA index (built over this model) so approx=True searches use it; None detaches."""
        if index is not None:
            index.check_model(self)
        self._muvera = index
        self._muvera_looked = True
        return self

    def muvera_index(self):
        """Return the attached MUVERA index, or the one stored beside the model file, or None."""
        if self._muvera is None and not self._muvera_looked:
            self._muvera_looked = True
            if self.path:
                from .muvera import find_muvera
                self._muvera = find_muvera(self)
        return self._muvera

    # -- exact MaxSim ---------------------------------------------------------------------
    def _token_block(self, s: int, e: int) -> np.ndarray:
        store = self.tokens.store
        return store.data[s:e] if store.dtype == "float32" else store.decode(slice(s, e))

    def _doc_blocks(self, width: int):
        """Yield (first doc, end doc) ranges whose vectors fill about one block of `width` scores each."""
        n = len(self)
        rows_per_block = max(1, BLOCK_BYTES // (4 * max(1, width)))
        ends = self._start + self._count
        a = 0
        while a < n:
            limit = int(self._start[a]) + rows_per_block
            b = int(np.searchsorted(ends, limit, side="right"))
            b = max(b, a + 1)
            yield a, min(b, n)
            a = b

    def _exact_scores(self, Q: np.ndarray, qoff: np.ndarray) -> np.ndarray:
        """Return MaxSim of every query against every document (queries x documents), float32."""
        nq = len(qoff) - 1
        out = np.empty((nq, len(self)), np.float32)
        for qa, qb in _query_chunks(qoff):
            out[qa:qb] = self._exact_chunk(Q, qoff, qa, qb, None)
        return out

    def _exact_chunk(self, Q, qoff, qa, qb, k):
        """Return the scores of queries qa..qb against every document, or their running top-k."""
        Qc = np.ascontiguousarray(Q[qoff[qa]:qoff[qb]].T)          # dims x query vectors
        qstarts = (qoff[qa:qb] - qoff[qa]).astype(np.intp)
        width = Qc.shape[1]
        full = np.empty((qb - qa, len(self)), np.float32) if k is None else None
        best = None
        for a, b in self._doc_blocks(width):
            s, e = int(self._start[a]), int(self._start[b - 1] + self._count[b - 1])
            S = self._token_block(s, e) @ Qc                          # doc vectors x query vectors
            starts = (self._start[a:b] - s).astype(np.intp)
            M = np.maximum.reduceat(S, starts, axis=0)               # docs x query vectors
            if self._count[a:b].sum() != e - s:   # gaps between documents' vectors: not in key order
                M = np.stack([S[st:st + c].max(axis=0) for st, c in zip(starts, self._count[a:b])])
            block = np.add.reduceat(M, qstarts, axis=1).T             # queries x docs
            if full is not None:
                full[:, a:b] = block
            else:
                ids = np.broadcast_to(np.arange(a, b, dtype=np.int64), block.shape)
                best = _fold_topk(best, ids, block, k)
        return full if k is None else best

    def _exact_topk(self, Q: np.ndarray, qoff: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        nq = len(qoff) - 1
        ids = np.full((nq, k), -1, np.int64)
        scores = np.full((nq, k), -np.inf, np.float32)
        if k == 0 or nq == 0:
            return ids, scores
        for qa, qb in _query_chunks(qoff):
            i, s = self._exact_chunk(Q, qoff, qa, qb, k)
            ids[qa:qb], scores[qa:qb] = _sort_topk(i, s, k)
        return ids, scores

    def rescore(self, Q: np.ndarray, qoff: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """Return the exact MaxSim of query i (rows qoff[i]:qoff[i+1] of Q) against its candidate rows.

        `cand` is (queries x c) int64 document rows, -1 for none (scored -inf).
        Each candidate's vectors are read in place by a compiled kernel (no
        gathered copy): a max over its vectors, a sum over the query's.
        """
        store = self.tokens.store
        return maxsim_pairs(self._token_block, self._start, self._count, Q, qoff, cand,
                            tokens=store.data if store.dtype == "float32" else None)

    # -- pruning -------------------------------------------------------------------------
    def prune(self, keep: int | None = None, ratio: float | None = None, *, seed: int = 0,
              iterations: int = 10) -> "MultiVectors":
        """Return a new MultiVectors whose keys hold the k-means centroids of their vectors, unit length.

        Each key keeps min(keep, count) vectors (`keep`), or ceil(ratio x
        count), at least one (`ratio` in (0, 1]): CRISP-style pruning, a
        storage/quality knob.  Deterministic for a seed.
        """
        if (keep is None) == (ratio is None):
            raise InputError("prune takes one of keep= (vectors per key) or ratio= (share of each key's vectors)")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or keep < 1):
            raise InputError(f"keep must be an int >= 1; got {keep!r}")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not 0 < ratio <= 1):
            raise InputError(f"ratio must be a number in (0, 1]; got {ratio!r}")
        rng = np.random.default_rng(seed)
        parts = []
        counts = np.empty(len(self), np.int64)
        for r in range(len(self)):
            X = np.asarray(self._rows_of(r), np.float32)
            n = len(X)
            m = min(n, int(keep)) if keep is not None else max(1, math.ceil(ratio * n))
            C = X.copy() if m >= n else _kmeans(X, m, rng, iterations)
            norms = np.linalg.norm(C, axis=1, keepdims=True)
            C = np.where(norms > 0, C / np.maximum(norms, 1e-30), C).astype(np.float32)
            parts.append(C)
            counts[r] = len(C)
        meta = dict(self.docs.meta or {})
        meta["pruned"] = {"keep": keep, "ratio": ratio, "seed": seed, "from_vectors": self.total_vectors}
        return type(self)._assemble(self.keys.to_list(), np.concatenate(parts), counts,
                                    metric=self.docs.metric, storage=self.tokens.storage, meta=meta)


def maxsim_pairs(block, start: np.ndarray, count: np.ndarray, Q: np.ndarray, qoff: np.ndarray,
                 cand: np.ndarray, *, tokens: np.ndarray | None = None) -> np.ndarray:
    """Return MaxSim of query i (rows qoff[i]:qoff[i+1] of Q) against each of its candidate documents.

    `cand` is (queries x c) int64 document rows, -1 for none (scored -inf);
    document d owns the vector rows start[d] .. start[d] + count[d] - 1, and
    ``block(s, e)`` returns rows s..e-1 as float32.  With `tokens` (all rows,
    float32) a compiled kernel reads each candidate's rows in place, four
    query vectors at a time; when many queries share candidates, each shared
    document is instead read once and multiplied with the vectors of every
    query that has it (one BLAS product per document).
    """
    nq, c = cand.shape
    out = np.full((nq, c), -np.inf, np.float32)
    if nq == 0 or c == 0:
        return out
    cand = np.ascontiguousarray(cand, np.int64)
    valid = cand[cand >= 0]
    if len(valid) >= GROUPED_MIN_PAIRS and len(valid) >= GROUPED_SHARE * len(np.unique(valid)):
        return _maxsim_grouped(block, start, count, Q, qoff, cand, out)
    if tokens is not None:
        from ._multivector_kernels import maxsim_rescore, maxsim_rescore_serial

        # a thread pool pays off only with several queries (see core.exact.FEW)
        (maxsim_rescore if nq >= 8 else maxsim_rescore_serial)(
            tokens, np.ascontiguousarray(start, np.int64), np.ascontiguousarray(count, np.int64),
            np.ascontiguousarray(Q, np.float32), np.ascontiguousarray(qoff, np.int64), cand, out)
        return out
    for i in range(nq):
        q = np.ascontiguousarray(Q[qoff[i]:qoff[i + 1]].T)
        for j, d in enumerate(cand[i].tolist()):
            if d >= 0:
                s = int(start[d])
                out[i, j] = (block(s, s + int(count[d])) @ q).max(axis=0).sum()
    return out


def _maxsim_grouped(block, start, count, Q, qoff, cand, out) -> np.ndarray:
    """Score (query, candidate) pairs document by document: one matrix product per document.

    When many queries share candidates (a batch), each candidate document's
    vectors are read once and multiplied with the vectors of every query
    that has it as a candidate: BLAS-sized products instead of one small
    product per pair.
    """
    flat = cand.ravel()
    pos = np.flatnonzero(flat >= 0)
    docs = flat[pos]
    order = np.argsort(docs, kind="stable")
    pos, docs = pos[order], docs[order]
    qi = pos // cand.shape[1]
    qlen = np.diff(qoff)
    lens = qlen[qi]
    ends = np.cumsum(lens)
    # rows of Q of every pair, pairs in document order
    rows = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(qoff[qi] - (ends - lens), lens)
    bounds = np.flatnonzero(np.diff(docs)) + 1
    first = np.concatenate([[0], bounds])
    last = np.concatenate([bounds, [len(docs)]])
    pair_start = ends - lens
    res = out.reshape(-1)
    Q = np.ascontiguousarray(Q, np.float32)
    for a, b in zip(first.tolist(), last.tolist()):
        d = int(docs[a])
        s = int(start[d])
        X = block(s, s + int(count[d]))
        r0, r1 = int(pair_start[a]), int(ends[b - 1])
        colmax = (X @ Q[rows[r0:r1]].T).max(axis=0)         # best doc vector per query vector
        res[pos[a:b]] = np.add.reduceat(colmax, pair_start[a:b] - r0)
    return out


def _kmeans(X: np.ndarray, m: int, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Return m centroids of the rows of X (k-means++ seeding, Lloyd steps, empty clusters re-seeded)."""
    n = len(X)
    X64 = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    first = int(rng.integers(n))
    C = [X64[first]]
    d2 = np.maximum(sq - 2 * X64 @ X64[first] + sq[first], 0)
    for _ in range(1, m):
        total = d2.sum()
        nxt = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        C.append(X64[nxt])
        d2 = np.minimum(d2, np.maximum(sq - 2 * X64 @ X64[nxt] + sq[nxt], 0))
    C = np.array(C)
    for _ in range(iterations):
        D = sq[:, None] - 2 * X64 @ C.T + np.einsum("ij,ij->i", C, C)[None, :]
        assign = D.argmin(axis=1)
        sizes = np.bincount(assign, minlength=m)
        onehot = np.zeros((m, n))
        onehot[assign, np.arange(n)] = 1.0
        newC = onehot @ X64
        empty = sizes == 0
        newC[~empty] /= sizes[~empty, None]
        if empty.any():   # re-seed an empty cluster at the points farthest from their centroid
            far = np.argsort(-D[np.arange(n), assign], kind="stable")[:int(empty.sum())]
            newC[empty] = X64[far]
        if np.allclose(newC, C):
            C = newC
            break
        C = newC
    return C


def _query_chunks(qoff: np.ndarray):
    """Yield (first query, end query) ranges of at most QUERY_CHUNK query vectors (at least one query)."""
    nq = len(qoff) - 1
    a = 0
    while a < nq:
        b = int(np.searchsorted(qoff, qoff[a] + QUERY_CHUNK, side="right")) - 1
        b = min(max(b, a + 1), nq)
        yield a, b
        a = b


def _fold_topk(best, ids: np.ndarray, scores: np.ndarray, k: int):
    """Return the running (ids, scores) top-k (unsorted) after merging one block into `best`."""
    if best is not None:
        ids = np.concatenate([best[0], ids], axis=1)
        scores = np.concatenate([best[1], scores], axis=1)
    if ids.shape[1] <= k:
        return np.ascontiguousarray(ids), np.ascontiguousarray(scores)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(ids, part, axis=1), np.take_along_axis(scores, part, axis=1)


def _sort_topk(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores) sorted best first, ties to the lower id, padded to k with -1/-inf."""
    order = np.lexsort((ids, -scores), axis=1)[:, :k]
    ids = np.take_along_axis(ids, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.concatenate([ids, np.full((len(ids), pad), -1, np.int64)], axis=1)
        scores = np.concatenate([scores, np.full((len(ids), pad), -np.inf, np.float32)], axis=1)
    return ids, scores


def _drop_rows(ids: np.ndarray, scores: np.ndarray, exclude: np.ndarray, k: int):
    """Return the first k results of each query other than its own row (exclude[i], -1 for none)."""
    keep = ids != exclude[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    ids = np.take_along_axis(ids, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    return ids, scores


__all__ = ["MultiVectors", "ON_EMPTY"]
