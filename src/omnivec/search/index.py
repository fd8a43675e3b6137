"""One index protocol for every nearest-neighbour backend (exact, HNSW, IVF-PQ).

An index is built from an `Embeddings` table and answers
``search(queries, k, filter=None) -> Neighbors`` with one result shape for
one query or many.  Every backend shares what this module adds around the
engine:

- **key mapping**: index ids are the table's rows; keys added later get ids
  after the last row (``len(emb) + j``) and are stored with the index;
- **deletes and upserts**: a deleted id is masked inside the search, so it
  never comes back; an upsert deletes the old id and adds a new one;
- **filters** (allow/deny lists, predicates on per-key attributes): applied
  inside the search; when few ids pass, the search runs exactly over just
  those ids, and any query the engine leaves short of k is answered exactly,
  so k results come back whenever k ids match;
- **persistence**: one safetensors file beside the model (``model.ov.hnsw``)
  holding the engine's bytes (memory-mapped on open where the engine can read
  from memory), the deletes and the added keys, plus a fingerprint of the
  table (size, metric, CRC-32 of vectors and keys) that `open` checks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from .._progress import progress
from .._registry import Registry
from ..errors import (CorruptFileError, DimensionError, FormatError, InputError,
                      MissingDependencyError, UnsupportedVersionError)
from ..store import container
from ..core.keys import Key, encode_keys
from ..core.neighbors import Neighbors
from ..core.vectors import VectorStore, check_vectors
from ..core import exact

INDEX_FORMAT = "omnivec-index"
INDEX_VERSION = 1
REBUILD = "; rebuild the index with `omnivec index build`"   # ends the message of a damaged file
BUILD_CHUNK = 65536

BACKENDS: Registry[type["Index"]] = Registry("index backend")


def get_backend(name: str) -> type["Index"]:
    """Return the Index class registered as `name` (UnknownNameError lists the valid names)."""
    return BACKENDS.get(name)


# -- fingerprint: ties an index file to the table it was built from -----------
def _key_arrays(emb) -> dict[str, np.ndarray]:
    return emb.keys.arrays()


def fingerprint(emb) -> dict:
    """Return the facts that tie an index to `emb`: name, size, dim, metric, storage, CRC-32s.

    For a table opened from a model file the CRC-32s come from the file's header
    (no data is read); in memory they are computed, with the same function the
    file writer uses, so both agree.
    """
    fields = {"vectors": emb.store.data, **_key_arrays(emb)}
    sums: dict[str, str] | None = None
    if emb.source:
        try:
            c = container.read(emb.source)
            stored = json.loads(c.metadata.get("checksums", "{}"))
            cand = {f: stored.get(f"{emb.name}.{f}") for f in fields}
            tensors_match = all(
                f"{emb.name}.{f}" in c.tensors
                and tuple(c.tensors[f"{emb.name}.{f}"].shape) == tuple(arr.shape)
                and c.tensors[f"{emb.name}.{f}"].dtype == arr.dtype
                for f, arr in fields.items())
            if tensors_match and all(cand.values()):
                sums = cand  # type: ignore[assignment]
        except (FormatError, OSError, ValueError):
            sums = None
    if sums is None:
        sums = {f: container.crc32(arr) for f, arr in fields.items()}
    return {"table": emb.name, "n": len(emb), "dim": emb.dim, "metric": emb.metric,
            "storage": emb.storage, "crc32": dict(sorted(sums.items()))}


def _fingerprint_problem(stored: dict, current: dict) -> str | None:
    for field, what in (("n", "rows"), ("dim", "dimensions")):
        if stored.get(field) != current.get(field):
            return f"it was built for {stored.get(field)} {what} but the table has {current.get(field)}"
    for field in ("metric", "storage"):
        if stored.get(field) != current.get(field):
            return f"it was built for {field} {stored.get(field)!r} but the table's {field} is {current.get(field)!r}"
    a, b = stored.get("crc32", {}), current.get("crc32", {})
    for field in sorted(set(a) | set(b)):
        if a.get(field) != b.get(field):
            return (f"the table's {field} differ from those it was built on "
                    f"(CRC-32 {a.get(field)} in the index, {b.get(field)} in the table)")
    return None


# -- the protocol ---------------------------------------------------------------
class Index:
    """Base class of every backend: key mapping, deletes, filters, persistence.

    Backends implement the engine hooks (`_engine_build`, `_engine_add`,
    `_engine_search`, `_engine_bytes`, `_engine_load`) over prepared float32
    vectors (unit length for the cosine metric) and index ids.
    """

    name: ClassVar[str] = ""
    #: defaults of the build parameters (also the CLI's `--param` names)
    build_defaults: ClassVar[dict[str, Any]] = {}
    #: defaults of the search parameters
    search_defaults: ClassVar[dict[str, Any]] = {}
    #: when a filter lets through at most this share of ids, search exactly over them
    exact_fraction: ClassVar[float] = 0.0

    def __init__(self, emb, params: dict[str, Any], fp: dict | None = None) -> None:
        self.emb = emb
        self.params = dict(params)
        self.search_params = {k: self.params.get(k, v) for k, v in self.search_defaults.items()}
        self.n_base = len(emb)
        self.dim = emb.dim
        self.metric = emb._metric
        self.deleted = np.zeros(self.n_base, bool)
        self.n_deleted = 0          # kept beside the mask: a search must not scan it to know
        self.extra_keys: list[Key] = []
        self.extra_vectors = np.zeros((0, self.dim), np.float32)
        self._extra_store: VectorStore | None = None
        self._key_to_extra: dict[Key, int] | None = None
        self._fingerprint = fp
        self.path: str | None = None

    # -- sizes and ids ------------------------------------------------------
    @property
    def total(self) -> int:
        """Return the number of ids ever allocated (table rows + added keys)."""
        return self.n_base + len(self.extra_keys)

    def __len__(self) -> int:
        return self.total - self.n_deleted

    def _extra_map(self) -> dict[Key, int]:
        if self._key_to_extra is None:
            m: dict[Key, int] = {}
            for j, key in enumerate(self.extra_keys):
                if not self.deleted[self.n_base + j]:
                    m[key] = self.n_base + j
            self._key_to_extra = m
        return self._key_to_extra

    def ids_of(self, keys: Sequence[Key]) -> np.ndarray:
        """Return the live id of each key (int64), -1 where the key is absent or deleted."""
        keys = list(keys)
        ids = self.emb.keys.rows(keys) if keys else np.zeros(0, np.int64)
        ids = ids.copy()
        live = ids >= 0
        ids[live & self.deleted[np.where(live, ids, 0)]] = -1
        if self.extra_keys:
            m = self._extra_map()
            for i, key in enumerate(keys):
                j = m.get(key)
                if j is not None:
                    ids[i] = j
        return ids

    def keys_of(self, ids: Sequence[int] | np.ndarray) -> list[Key]:
        """Return the key of each id."""
        out = []
        keytab = self.emb.keys
        for i in np.asarray(ids).tolist():
            out.append(keytab.key(i) if i < self.n_base else self.extra_keys[i - self.n_base])
        return out

    def _key_kind_check(self, keys: Sequence[Key]) -> None:
        kind = self.emb.keys.kind
        for i, key in enumerate(keys):
            ok = isinstance(key, str) if kind == "str" else (
                isinstance(key, (int, np.integer)) and not isinstance(key, bool))
            if not ok:
                raise InputError(f"key {i} is {type(key).__name__} {key!r}; this table has "
                                 f"{'string' if kind == 'str' else 'integer'} keys")

    # -- vectors ------------------------------------------------------------
    def _prepare(self, X: np.ndarray) -> np.ndarray:
        """Return vectors as the engine sees them: float32, unit length under cosine."""
        return self.metric.prepare(X)

    def _base_chunks(self):
        """Yield (start, prepared float32 chunk) over the table's rows."""
        store = self.emb.store
        for s in range(0, self.n_base, BUILD_CHUNK):
            e = min(self.n_base, s + BUILD_CHUNK)
            yield s, self._prepare(store.decode(slice(s, e)))

    def _extras(self) -> VectorStore:
        if self._extra_store is None or len(self._extra_store) != len(self.extra_vectors):
            self._extra_store = VectorStore.encode(self.extra_vectors, "float32")
        return self._extra_store

    def _check_queries(self, queries) -> tuple[np.ndarray, list[Key] | None]:
        """Return (queries as a (queries x dims) float32 array, the query keys or None).

        Keys are looked up, vectors checked.

        A key or a list/tuple of keys (str or int) names table keys; anything
        else (a numpy array, a list of floats) is read as vectors.
        """
        if isinstance(queries, (str, int, np.integer)) and not isinstance(queries, bool):
            return self._vectors_of_keys([queries]), [queries]
        if isinstance(queries, (list, tuple)) and queries and all(
                isinstance(x, (str, int, np.integer)) and not isinstance(x, bool) for x in queries):
            return self._vectors_of_keys(list(queries)), list(queries)
        Q = np.asarray(queries)
        if Q.dtype.kind not in "fiu":
            raise InputError(f"queries must be numeric vectors or keys; got dtype {Q.dtype}")
        if Q.ndim == 1:
            Q = Q[None, :]
        if Q.ndim != 2 or Q.shape[1] != self.dim:
            raise DimensionError(f"queries have shape {np.asarray(queries).shape}; this index has "
                                 f"{self.dim} dims (expected (dims,) or (queries, {self.dim}))")
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        if not np.isfinite(Q.sum()) and not np.isfinite(Q).all():
            bad = int(np.flatnonzero(~np.isfinite(Q).all(axis=1))[0])
            raise InputError(f"query {bad} holds NaN or infinity")
        return Q, None

    def _vectors_of_keys(self, keys: list[Key]) -> np.ndarray:
        """Return the vectors of keys, added keys included; unknown keys raise KeyNotFound."""
        if not self.extra_keys:
            return self.emb.vectors_of(keys)
        ids = self.ids_of(keys)
        if (ids < 0).any():
            from ..errors import KeyNotFound
            i = int(np.flatnonzero(ids < 0)[0])
            raise KeyNotFound(f"key {keys[i]!r} is not in the index ({len(self)} live keys)")
        out = np.empty((len(keys), self.dim), np.float32)
        b = ids < self.n_base
        if b.any():
            out[b] = self.emb.store.decode(ids[b])
        if (~b).any():
            out[~b] = self.extra_vectors[ids[~b] - self.n_base]
        return out

    # -- building -----------------------------------------------------------
    @classmethod
    def check_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Return the full parameter set (defaults filled in), or raise InputError naming the bad one."""
        allowed = {**cls.build_defaults, **cls.search_defaults}
        for name in params:
            if name not in allowed:
                raise InputError(f"unknown parameter {name!r} for the {cls.name} index; valid ones are: "
                                 f"{', '.join(sorted(allowed)) or 'none'}")
        out = {**allowed, **params}
        for name, default in allowed.items():
            v = out[name]
            if isinstance(default, bool):
                if not isinstance(v, bool):
                    raise InputError(f"the {name!r} parameter of the {cls.name} index must be true or false; got {v!r}")
            elif isinstance(default, int) and default is not None:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                    raise InputError(f"the {name!r} parameter of the {cls.name} index must be an int >= 0; "
                                     f"got {v!r}")
                out[name] = int(v)
            elif isinstance(default, float):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                    raise InputError(f"the {name!r} parameter of the {cls.name} index must be a number >= 0; "
                                     f"got {v!r}")
                out[name] = float(v)
        return out

    @classmethod
    def build(cls, emb, *, show_progress: bool | None = None, **params: Any) -> "Index":
        """Return a new index over every row of `emb` (build parameters as keywords)."""
        params = cls.check_params(params)
        if cls.name != "flat" and len(emb) == 0:
            raise InputError(f"cannot build a {cls.name} index over an empty table; add keys first "
                             f"or use the 'flat' backend")
        if cls.name != "flat" and not emb._metric.space:
            raise InputError(f"a {cls.name} index cannot search a table whose metric is {emb.metric!r}: "
                             f"its engine has no such space; use the 'flat' backend (exact search)")
        emb.store.check_before_scan()      # a build reads every row: damaged vectors fail here
        index = cls(emb, params, fingerprint(emb))
        with progress(f"Building {cls.name} index", len(emb), unit="vectors",
                      enabled=show_progress) as task:
            index._engine_build(task)
        return index

    # -- mutation -----------------------------------------------------------
    def add(self, keys: Sequence[Key], vectors: np.ndarray) -> np.ndarray:
        """Return the new ids of `keys` after adding them; keys already present raise DuplicateKeyError."""
        from ..errors import DuplicateKeyError

        keys, X = self._check_new(keys, vectors)
        present = self.ids_of(keys)
        if (present >= 0).any():
            i = int(np.flatnonzero(present >= 0)[0])
            raise DuplicateKeyError(f"key {keys[i]!r} is already in the index; use upsert() to replace "
                                    f"its vector")
        return self._append(keys, X)

    def upsert(self, keys: Sequence[Key], vectors: np.ndarray) -> np.ndarray:
        """Return the new ids of `keys` after replacing (or adding) their vectors."""
        keys, X = self._check_new(keys, vectors)
        old = self.ids_of(keys)
        self._mark_deleted(old[old >= 0])
        return self._append(keys, X)

    def delete(self, keys: Sequence[Key], *, missing: str = "error") -> int:
        """Return how many keys were deleted; absent keys raise KeyNotFound unless missing="ignore"."""
        from ..errors import KeyNotFound

        keys = [keys] if isinstance(keys, (str, int, np.integer)) else list(keys)
        ids = self.ids_of(keys)
        if missing not in ("error", "ignore"):
            raise InputError(f"missing must be 'error' or 'ignore'; got {missing!r}")
        if missing == "error" and (ids < 0).any():
            i = int(np.flatnonzero(ids < 0)[0])
            raise KeyNotFound(f"key {keys[i]!r} is not in the index (or already deleted); "
                              f"{int((ids < 0).sum())} of {len(keys)} keys are absent. "
                              f"Pass missing='ignore' to skip them")
        ids = np.unique(ids[ids >= 0])
        self._mark_deleted(ids)
        return len(ids)

    def _check_new(self, keys, vectors) -> tuple[list[Key], np.ndarray]:
        from ..errors import DuplicateKeyError

        keys = [keys] if isinstance(keys, (str, int, np.integer)) else list(keys)
        X = np.asarray(vectors)
        if X.ndim == 1:
            X = X[None, :]
        X = check_vectors(X, name="added vectors")
        if X.shape != (len(keys), self.dim):
            raise DimensionError(f"{len(keys)} keys need a ({len(keys)}, {self.dim}) array; "
                                 f"got vectors of shape {X.shape}")
        self._key_kind_check(keys)
        if len(set(keys)) != len(keys):
            raise DuplicateKeyError(f"{len(keys) - len(set(keys))} keys repeat within one add/upsert call")
        return keys, X

    def _mark_deleted(self, ids: np.ndarray) -> None:
        if len(ids):
            self.deleted[ids] = True
            self.n_deleted = int(np.count_nonzero(self.deleted))
            self._key_to_extra = None

    def _append(self, keys: list[Key], X: np.ndarray) -> np.ndarray:
        ids = np.arange(self.total, self.total + len(keys), dtype=np.int64)
        self._engine_add(self._prepare(X), ids)
        self.extra_keys.extend(keys)
        self.extra_vectors = np.concatenate([self.extra_vectors, X.astype(np.float32)])
        self.deleted = np.concatenate([self.deleted, np.zeros(len(keys), bool)])
        self._key_to_extra = None
        return ids

    # -- search -------------------------------------------------------------
    def search(self, queries, k: int = 10, *, filter=None, exclude_self: bool = True,
               exclude: Sequence[Sequence[int]] | None = None, exact: bool = False,
               **search_params: Any) -> Neighbors:
        """Return the k nearest live ids of each query as Neighbors (queries x min(k, matches)).

        `queries` are vectors (one (dims,) vector or a (queries, dims) array) or
        keys; a query given as a key never finds itself (exclude_self=False
        keeps it), as in `Embeddings.search`.  `filter` is a `Filter`
        (allow/deny keys, attribute conditions), a condition text or a boolean
        mask over ids; `exclude[i]` lists ids never returned for query i.
        Search parameters (e.g. ef for HNSW, nprobe for IVF-PQ) override the
        index defaults for this call.  exact=True scores every live id instead
        of asking the engine: the answer an approximate search is measured against.
        """
        if (not exact and type(queries) is np.ndarray and queries.ndim == 1 and type(k) is int and filter is None
                and exclude is None and not search_params and not self.n_deleted and 0 < k <= self.total
                and queries.dtype == np.float32 and len(queries) == self.dim):
            # One plain vector: the hot path of a serving loop; the backend may
            # answer it with less checking (None sends it the general way).
            one = self._search_one(queries, k)
            if one is not None:
                return Neighbors(one[0], one[1], self.keys_of)
        Q, query_keys = self._check_queries(queries)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        if exclude is not None and len(exclude) != len(Q):
            raise InputError(f"exclude needs one list of ids per query ({len(Q)}); got {len(exclude)}")
        if exclude_self and query_keys is not None:
            own = self.ids_of(query_keys)
            exclude = [list(e) + ([int(o)] if o >= 0 else []) for e, o in
                       zip(exclude if exclude is not None else [[]] * len(Q), own.tolist())]
        if exclude is not None and not any(len(e) for e in exclude):
            exclude = None
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        ids, scores = self._search_ids(Q, int(k) + extra, filter, search_params, exact)
        if extra:
            ids, scores = _drop_excluded(ids, scores, exclude, int(k))
        return Neighbors(ids, scores, self.keys_of)

    def _search_ids(self, Q: np.ndarray, k: int, filter, search_params: dict[str, Any], exact: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (ids, scores) of the k best live ids per query, (queries x min(k, matches))."""
        sp = self.search_params
        if search_params:
            sp = dict(sp)
            for name, v in search_params.items():
                if name not in sp:
                    raise InputError(f"unknown search parameter {name!r} for the {self.name} index; valid "
                                     f"ones are: {', '.join(sorted(sp)) or 'none'}")
                sp[name] = v
        flt = None
        if filter is not None:
            from .filters import as_filter
            flt = as_filter(filter)
        allowed = None
        if flt is not None:
            allowed = flt.resolve(self)
            allowed &= ~self.deleted
        elif self.n_deleted:
            allowed = ~self.deleted
        n_ok = self.total if allowed is None else int(np.count_nonzero(allowed))
        kk = min(int(k), n_ok)
        nq = len(Q)
        if kk == 0 or nq == 0:
            return np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32)
        if exact or (allowed is not None and n_ok <= max(kk, self.exact_fraction * self.total)):
            return self._exact_over(Q, kk, np.flatnonzero(allowed) if allowed is not None else np.arange(self.total))
        ids, scores = self._engine_search(Q, kk, allowed, n_ok, sp, flt is not None)
        if (ids < 0).any():
            short = (ids < 0).any(axis=1)
            # The engine found fewer than k (graph or probe limits): answer those exactly.
            cand = np.flatnonzero(allowed) if allowed is not None else np.arange(self.total)
            fid, fsc = self._exact_over(Q[short], kk, cand)
            ids[short], scores[short] = fid, fsc
        return ids, scores

    def _exact_over(self, Q: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return exact (ids, scores) of the k best among `ids` (sorted int64) for raw queries Q."""
        from ..core.exact import topk_any

        base = ids[ids < self.n_base]
        extra = ids[ids >= self.n_base] - self.n_base
        parts = []
        if len(base):
            whole = len(base) == self.n_base
            store = self.emb.store if whole else self.emb.store.take(base)
            r, s = topk_any(store, self.metric, Q, k)
            parts.append((r if whole else np.where(r >= 0, base[np.maximum(r, 0)], -1), s))
        if len(extra):
            store = self._extras()
            whole = len(extra) == len(self.extra_keys)
            if not whole:
                store = store.take(extra)
            r, s = topk_any(store, self.metric, Q, k)
            r = r if whole else np.where(r >= 0, extra[np.maximum(r, 0)], -1)
            parts.append((np.where(r >= 0, r + self.n_base, -1), s))
        return merge_topk(parts, k)

    def _refine(self, Q: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (ids, scores) of the k best candidates of each raw query by exact score (-1/-inf past the valid)."""
        store = self.emb.store
        if (store.dtype == "float32" and getattr(store, "rerank", None) is None and cand.size
                and int(cand.max()) < self.n_base):
            # Table rows only: score and select in one compiled pass.
            from ._index_kernels import refine_topk, refine_topk_serial
            nq = len(Q)
            ids = np.empty((nq, k), np.int64)
            scores = np.empty((nq, k), np.float32)
            # a thread pool pays off only with several queries (see core.exact.FEW)
            (refine_topk if nq >= 8 else refine_topk_serial)(
                store.data, store.norms, np.ascontiguousarray(Q, np.float32), np.ascontiguousarray(cand, np.int64),
                self.metric.code, ids, scores)
            return ids, scores
        S = self._rescore(Q, cand)
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        ids = np.take_along_axis(cand, order, axis=1)
        scores = np.take_along_axis(S, order, axis=1).astype(np.float32)
        ids[~np.isfinite(scores)] = -1
        return ids, scores

    def rescore(self, queries, ids: np.ndarray) -> np.ndarray:
        """Return the exact scores of each query against its candidate ids (queries x candidates).

        `queries` are vectors or keys, as in `search`; `ids` is a (queries x c)
        int array of index ids (as `search(...).ids` holds), -1 for none, which
        scores -inf.
        """
        Q, _ = self._check_queries(queries)
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[0] != len(Q) or ids.dtype.kind not in "iu":
            raise InputError(f"ids must be an integer array of one row per query ({len(Q)}); got shape "
                             f"{ids.shape} dtype {ids.dtype}")
        if ids.size and (int(ids.max()) >= self.total or int(ids.min()) < -1):
            raise InputError(f"ids run from -1 (none) to {self.total - 1}; got {int(ids.min())}..{int(ids.max())}")
        return self._rescore(Q, np.ascontiguousarray(ids, np.int64))

    def _rescore(self, Q: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Return exact metric scores of raw queries Q against candidate ids (queries x c; -1 = none)."""
        nq, c = ids.shape
        flat = ids.reshape(-1)
        valid = flat >= 0
        b = valid & (flat < self.n_base)
        store = self.emb.store
        if b.all() and store.dtype == "float32" and getattr(store, "rerank", None) is None:
            # Candidates are all table rows: dot products straight from the stored rows.
            from ._index_kernels import gather_dots, gather_dots_serial
            dots = np.zeros((nq, c), np.float32)
            # a thread pool pays off only with several queries (see core.exact.FEW)
            (gather_dots if nq >= 8 else gather_dots_serial)(store.data, np.ascontiguousarray(Q, np.float32), np.ascontiguousarray(ids), dots)
            rn = store.norms[ids]
        else:
            X = np.zeros((len(flat), self.dim), np.float32)
            rn = np.zeros(len(flat), np.float32)
            if b.any():
                X[b] = store.decode(flat[b])
                rn[b] = store.norms[flat[b]]
            x = valid & (flat >= self.n_base)
            if x.any():
                X[x] = self.extra_vectors[flat[x] - self.n_base]
                rn[x] = np.linalg.norm(X[x], axis=1)
            dots = np.matmul(X.reshape(nq, c, self.dim), Q[:, :, None])[:, :, 0]
            rn = rn.reshape(nq, c)
        qn = np.sqrt(np.einsum("ij,ij->i", Q, Q)).astype(np.float32)
        # each query has its own candidate rows: score through the per-row selection keys
        if self.metric.row_keys:
            scale, bias = self.metric.selection(np.asarray(rn, np.float32).reshape(-1))
            s = self.metric.finish(dots * scale.reshape(nq, c) + bias.reshape(nq, c), qn)
        else:   # no per-row keys: the metric's scores, one query (and its own rows) at a time
            rn = np.asarray(rn, np.float32).reshape(nq, c)
            s = np.stack([self.metric.scores(np.array(dots[i][:, None], np.float32), rn[i], qn[i:i + 1])[:, 0]
                          for i in range(nq)]) if nq else np.zeros((0, c), np.float32)
        s = s.astype(np.float32, copy=False)
        s[~valid.reshape(nq, c)] = -np.inf
        return s

    # -- persistence --------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the index to `path` (atomically); `open(path, emb)` reads it back."""
        engine = self._engine_bytes()
        eb = np.zeros((len(engine) + 7) // 8 * 8, np.uint8)
        eb[:len(engine)] = engine
        tensors = {"engine": eb.view(np.uint64), "deleted": self.deleted.astype(np.uint8),
                   "extra_vectors": self.extra_vectors}
        if self.emb.keys.kind == "str":
            blob, offsets = encode_keys([str(k) for k in self.extra_keys])
            tensors["extra_keys_blob"] = blob
            tensors["extra_keys_offsets"] = offsets
        else:
            tensors["extra_keys_ids"] = np.asarray(self.extra_keys, np.int64).reshape(-1)
        head = {"version": INDEX_VERSION, "backend": self.name, "params": _jsonable(self.params),
                "fingerprint": self._fingerprint or fingerprint(self.emb), "n_base": self.n_base,
                "n_extra": len(self.extra_keys), "dim": self.dim, "engine_bytes": int(len(engine))}
        container.write(path, tensors, {"format": INDEX_FORMAT, INDEX_FORMAT: json.dumps(head, sort_keys=True)})
        self.path = str(path)

    @classmethod
    def open(cls, path: str | os.PathLike, emb) -> "Index":
        """Return the index stored at `path`, checked against `emb` (FormatError on a mismatch)."""
        return open_index(path, emb, backend=cls.name or None)

    def check_table(self, emb) -> None:
        """Raise InputError unless this index was built over `emb`'s vectors and keys (what `attach` asks)."""
        if emb is self.emb:
            return
        problem = _fingerprint_problem(self._fingerprint or fingerprint(self.emb), fingerprint(emb))
        if problem:
            raise InputError(f"this {self.name} index does not belong to table {emb.name!r}: {problem}")

    def info(self) -> dict[str, Any]:
        """Return a JSON-able summary: backend, sizes, parameters, fingerprint."""
        return {"backend": self.name, "path": self.path, "table": self.emb.name, "dim": self.dim,
                "metric": self.metric.name, "ids": self.total, "live": len(self),
                "deleted": self.n_deleted, "added": len(self.extra_keys),
                "params": _jsonable(self.params),
                "fingerprint": self._fingerprint or fingerprint(self.emb)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(live={len(self)}, dim={self.dim}, metric={self.metric.name!r})"

    # -- engine hooks -------------------------------------------------------
    def _engine_build(self, task) -> None:
        raise NotImplementedError

    def _engine_add(self, X: np.ndarray, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _engine_search(self, Q: np.ndarray, k: int, allowed: np.ndarray | None, n_ok: int,
                       sp: dict[str, Any], filtered: bool) -> tuple[np.ndarray, np.ndarray]:
        """Return (ids, scores), (queries x k), -1 where the engine found fewer than k.

        `allowed` masks the ids that may come back (None: all); `filtered`
        tells a user filter from a mask of deletes only.
        """
        raise NotImplementedError

    def _search_one(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (ids, scores) (1 x k) for one finite float32 vector when the engine finds k, else None.

        Called only without filters or deletes and with 0 < k <= total; None
        (the default) lets search() check and answer the query in full.
        """
        return None

    def _engine_bytes(self) -> np.ndarray:
        return np.zeros(0, np.uint8)

    def _engine_load(self, buf: np.ndarray) -> None:
        pass

    @classmethod
    def _engine_check(cls, f) -> str:
        """Return what was checked of `f.engine` (an `integrity.IndexFile`), or raise CorruptFileError.

        Runs before `_engine_load` sees the bytes: a backend parses its
        engine's layout and bounds every count, offset and id in it.  This
        default accepts what `_engine_bytes` writes by default: nothing.
        """
        if len(f.engine):
            raise CorruptFileError(f"tensor 'engine': a {cls.name} index stores no engine bytes; "
                                   f"the header says {len(f.engine)}{REBUILD}", path=f.path,
                                   offset=f.engine_offset)
        return "engine: none (the index is the table itself)"


def merge_topk(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the k best (ids, scores) per query across several (ids, scores) blocks, best first."""
    if not parts:
        raise ValueError("merge_topk needs at least one block")
    if len(parts) == 1 and parts[0][0].shape[1] <= k:
        return parts[0]
    ids = np.concatenate([p[0] for p in parts], axis=1)
    sc = np.concatenate([p[1] for p in parts], axis=1)
    kk = min(k, ids.shape[1])
    order = np.lexsort((ids, -sc), axis=1)[:, :kk]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(sc, order, axis=1)


def _jsonable(params: dict) -> dict:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


# -- files ----------------------------------------------------------------------
def index_path(model_path: str | os.PathLike, backend: str) -> Path:
    """Return where the `backend` index of a model file lives: beside it, `<model>.<backend>`."""
    return Path(f"{os.fspath(model_path)}.{BACKENDS.canonical(backend)}")


def read_index_header(path: str | os.PathLike) -> tuple[container.Container, dict]:
    """Return the opened container and the header of an index file, or raise FormatError."""
    c = container.read(path)
    if c.metadata.get("format") != INDEX_FORMAT or INDEX_FORMAT not in c.metadata:
        raise FormatError("not an omnivec index file (its header has no omnivec-index metadata)", path=path)
    # parse_json also refuses NaN constants and nesting deep enough to exhaust the recursion limit
    head = container.parse_json(c.metadata[INDEX_FORMAT], what="the index header", path=os.fspath(path),
                                offset=8, error=CorruptFileError, locate=False)
    if not isinstance(head, dict) or not isinstance(head.get("version"), int):
        raise CorruptFileError("the index header has no integer 'version'", path=path, offset=8)
    if head["version"] > INDEX_VERSION:
        raise UnsupportedVersionError(f"index format version {head['version']}; this omnivec reads up to "
                                      f"{INDEX_VERSION}. Upgrade omnivec or rebuild the index", path=path)
    return c, head


def open_index(path: str | os.PathLike, emb, *, backend: str | None = None) -> Index:
    """Return the index stored at `path` for table `emb`, refusing one built for other data.

    The engine is handed its bytes only after the file passed its CRC-32s and
    the structural checks of `omnivec.search.integrity` (CorruptFileError
    names the part that failed).
    """
    from .integrity import read_index_file

    f = read_index_file(path, emb, backend=backend)
    index = f.backend(emb, f.params, f.fingerprint)
    index.deleted = f.deleted
    index.n_deleted = int(np.count_nonzero(f.deleted))
    index.extra_keys = f.extra_keys
    index.extra_vectors = np.array(f.extra_vectors)
    try:
        index._engine_load(f.engine)
    except (RuntimeError, ValueError, MemoryError) as exc:  # checked bytes should never get here
        raise CorruptFileError(f"the {f.backend.name} engine could not read its bytes ({exc}){REBUILD}",
                               path=path, offset=f.engine_offset) from None
    index.path = str(path)
    return index


def build_index(emb, backend: str = "flat", *, show_progress: bool | None = None, **params: Any) -> Index:
    """Return a new index of kind `backend` ('flat', 'hnsw', 'ivfpq') over `emb`."""
    return get_backend(backend).build(emb, show_progress=show_progress, **params)


def _drop_excluded(ids: np.ndarray, scores: np.ndarray, exclude: Sequence[Sequence[int]],
                   k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the first k results of each query that are not in its `exclude` list."""
    keep = np.ones(ids.shape, bool)
    for i, rows in enumerate(exclude):
        if len(rows):
            keep[i] &= ~np.isin(ids[i], np.asarray(rows, np.int64))
    width = min(k, int(keep.sum(axis=1).min())) if len(ids) else 0
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)


# -- finding the index stored beside a model file ------------------------------------
PREFERENCE = ("hnsw", "ivfpq", "flat")


def find_index(emb, backend: str | None = None) -> Index | None:
    """Return the index stored beside `emb`'s model file, opened and checked, or None.

    Looks for `<model>.hnsw`, `<model>.ivfpq`, `<model>.flat` (in that order, or
    only `backend`).  Without `backend`, an index whose engine is not installed
    is passed over.  `omnivec.open` gives each table this finder, so
    approx=True queries use the index without further code.
    """
    if not emb.source:
        return None
    names = [BACKENDS.canonical(backend)] if backend else [b for b in PREFERENCE if b in BACKENDS]
    for name in names:
        p = index_path(emb.source, name)
        if p.exists():
            try:
                return open_index(p, emb)
            except MissingDependencyError:
                if backend is None:
                    continue
                raise
    return None
