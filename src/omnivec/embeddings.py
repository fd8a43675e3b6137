"""Embeddings: a table of vectors addressed by keys, and the queries on it.

Query names and semantics follow gensim's KeyedVectors where gensim has them
(most_similar, most_similar_cosmul, similar_by_vector, similarity,
n_similarity, distance, distances, rank, closer_than, doesnt_match), so gensim
users feel at home; results are metric-aware (cosine, dot, euclidean).
"""

from __future__ import annotations

import datetime as _dt
import os
from zlib import crc32 as _crc32
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

import numpy as np

from ._registry import resolve
from .errors import DimensionError, DuplicateKeyError, InputError, KeyNotFound
from .metrics import Metric, get_metric
from .core import exact
from .core.neighbors import Neighbors
from .core.keys import Key, KeyTable
from .core.subwords import Subwords
from .core.text import Texts
from .core.vectors import VectorStore, check_vectors

KeyOrVector = Key | np.ndarray

# Higher layers that the gensim-named conveniences delegate to, resolved when called (rule 2 of
# docs/architecture.md: the table imports nothing above it).
_EXPORT = "omnivec.store.formats:export_vectors"
_WRITE_TEXT = "omnivec.store.container:write_text"
_ANALOGIES = "omnivec.evaluate.analogy:evaluate_analogies"
_SIMILARITY = "omnivec.evaluate.similarity:evaluate_similarity"


def _texts_column(texts, n: int) -> Texts | None:
    """Return the text column of an in-memory table (None when no texts are given)."""
    if texts is None:
        return None
    if isinstance(texts, str):
        raise InputError("texts must be a list of str, one per key, not one str")
    col = texts if isinstance(texts, Texts) else Texts.from_strings(texts)
    if len(col) != n:
        raise DimensionError(f"{n} keys but {len(col)} texts; each key needs one text")
    return col


class Correlation(tuple):
    """A (statistic, pvalue) pair, as scipy's correlation results unpack and name them."""

    def __new__(cls, statistic: float, pvalue: float) -> "Correlation":
        return super().__new__(cls, (float(statistic), float(pvalue)))

    @property
    def statistic(self) -> float:
        return self[0]

    correlation = statistic

    @property
    def pvalue(self) -> float:
        return self[1]


class _KeyToIndex(Mapping):
    """key -> row over a table's key index, read-only (gensim's key_to_index dict)."""

    def __init__(self, emb: "Embeddings") -> None:
        self._emb = emb

    def __getitem__(self, key):
        r = self._emb.keys.row(key)
        if r < 0:
            raise KeyError(key)
        return r

    def __contains__(self, key) -> bool:
        return key in self._emb

    def __iter__(self):
        return iter(self._emb.keys)

    def __len__(self) -> int:
        return len(self._emb)


class _IndexToKey(Sequence):
    """The keys in row order, read-only (gensim's index_to_key list)."""

    def __init__(self, emb: "Embeddings") -> None:
        self._emb = emb

    def __getitem__(self, i):
        n = len(self._emb)
        if isinstance(i, slice):
            return self._emb.keys.keys_of(range(*i.indices(n)))
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} is out of range for {n} keys")
        return self._emb.keys.key(i)

    def __iter__(self):
        return iter(self._emb.keys)

    def __len__(self) -> int:
        return len(self._emb)


class Embeddings:
    """Vectors addressed by keys, with a metric, optional counts, subwords and provenance.

    Build one in memory with ``Embeddings(keys, vectors)`` or open a file with
    ``omnivec.open(path)``.  ``emb["king"]`` returns a vector and raises
    KeyNotFound for an unknown key unless out-of-vocabulary vectors were
    asked for (``emb.vector(key, oov=True)`` or ``open(path, oov=True)``).
    """

    def __init__(self, keys: Sequence[Key] | np.ndarray, vectors: np.ndarray, *,
                 metric: str = "cosine", counts: Sequence[int] | np.ndarray | None = None,
                 meta: dict | None = None, storage: str = "float32",
                 subwords: Subwords | None = None, name: str = "embeddings",
                 oov: bool | None = None, texts: Sequence[str] | None = None) -> None:
        vectors = check_vectors(vectors)
        table, _ = KeyTable.from_keys(keys)
        if len(table) != len(vectors):
            raise DimensionError(f"{len(table)} keys but {len(vectors)} vectors; each key needs one row")
        counts_arr = None
        if counts is not None:
            counts_arr = np.asarray(counts)
            if counts_arr.shape != (len(table),) or counts_arr.dtype.kind not in "iu":
                raise InputError(f"counts must be {len(table)} integers; got shape {counts_arr.shape} "
                                 f"dtype {counts_arr.dtype}")
            counts_arr = counts_arr.astype(np.int64)
        if subwords is not None and subwords.vectors.shape != (subwords.bucket, vectors.shape[1]):
            raise DimensionError(f"subword vectors have shape {subwords.vectors.shape}; {subwords.bucket} "
                                 f"buckets of the table's {vectors.shape[1]} dims were expected")
        texts_col = _texts_column(texts, len(table))
        store = VectorStore.encode(vectors, storage)
        meta = dict(meta or {})
        meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        self._init(name=name, keys=table, store=store, metric=get_metric(metric),
                   counts=counts_arr, meta=meta, subwords=subwords, extras={}, oov=oov, texts=texts_col)

    @classmethod
    def from_parts(cls, *, keys: KeyTable, store: VectorStore, metric: Metric | str = "cosine",
                   name: str = "embeddings", counts: np.ndarray | None = None, meta: dict | None = None,
                   subwords: Subwords | None = None, extras: dict[str, np.ndarray] | None = None,
                   oov: bool | None = None, source: str | None = None,
                   texts: Texts | None = None, fitted: dict[str, np.ndarray] | None = None) -> "Embeddings":
        """Return a table over ready-made parts (no copy, no re-encoding): how readers and learners build one.

        `keys` and `store` must have the same number of rows; `extras` are
        per-row arrays kept beside the vectors (written as ``x.<name>``);
        `texts` is the text column (one text per row) or None; `fitted` are
        arrays of the space rather than of rows (a fitted transform's mean and
        axes, written as ``f.<name>``; see `omnivec.transform`).
        """
        if len(keys) != len(store):
            raise DimensionError(f"{len(keys)} keys but {len(store)} vectors; each key needs one row")
        if texts is not None and len(texts) != len(keys):
            raise DimensionError(f"{len(keys)} keys but {len(texts)} texts; each key needs one text")
        obj = cls.__new__(cls)
        obj._init(name=name, keys=keys, store=store, metric=get_metric(metric), counts=counts,
                  meta={} if meta is None else meta, subwords=subwords,
                  extras={} if extras is None else extras, oov=oov, source=source, texts=texts,
                  fitted=fitted)
        return obj

    def _init(self, *, name, keys, store, metric, counts, meta, subwords, extras, oov, source=None,
              texts=None, fitted=None):
        self.name: str = name
        self._keys: KeyTable = keys
        self._store: VectorStore = store
        self._metric: Metric = metric
        self.counts: np.ndarray | None = counts
        self.meta: dict = meta
        self.subwords: Subwords | None = subwords
        self.extras: dict[str, np.ndarray] = extras
        #: arrays of the space (not per row) that describe how the vectors were made, by name
        self.fitted: dict[str, np.ndarray] = {} if fitted is None else fitted
        # unknown keys get OOV vectors: asked for, or by default where subword vectors define them
        # (a fastText model's own word-vector definition, as fastText and gensim answer)
        self.oov: bool = subwords is not None if oov is None else bool(oov)
        self.source: str | None = source
        self._texts: Texts | None = texts
        self._oov_model = None
        self._index = None
        self._find_index: Callable[["Embeddings"], Any] | None = None
        # Fast path for the commonest query, emb["word"] on float32 rows: the home-slot probe
        # inlined in __getitem__ (one Python call in all, like a dict lookup); the rest goes
        # through KeyTable.row.
        self._f32 = store.data if store.dtype == "float32" else None
        self._home = keys.home_views() if self._f32 is not None else None

    # -- basic facts ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._keys)

    @property
    def dim(self) -> int:
        """Return the number of dimensions."""
        return self._store.dim

    @property
    def metric(self) -> str:
        """Return the metric's name ('cosine', 'dot', 'euclidean')."""
        return self._metric.name

    @property
    def storage(self) -> str:
        """Return the storage dtype ('float32', 'float16', 'int8', 'binary')."""
        return self._store.dtype

    @property
    def keys(self) -> KeyTable:
        """Return the key table (iterable, len(), .key(row), .row(key))."""
        return self._keys

    @property
    def store(self) -> VectorStore:
        """Return the stored vectors (their dtype, scale and norms)."""
        return self._store

    @property
    def vectors(self) -> np.ndarray:
        """Return all vectors as float32 (the stored array itself for float32 storage)."""
        if self._store.dtype == "float32":
            return self._store.data
        return self._store.decode(slice(None))

    @property
    def norms(self) -> np.ndarray:
        """Return the L2 norm of every row."""
        return self._store.norms

    @property
    def texts(self) -> Texts | None:
        """Return the text of every row (a lazy read-only sequence), or None when the table keeps none."""
        return self._texts

    def text(self, key: Key) -> str:
        """Return the text kept for `key`, or raise KeyNotFound (InputError when the table keeps no texts)."""
        if self._texts is None:
            raise InputError(f"table {self.name!r} keeps no texts; build it with texts=[...] or "
                             "omnivec.encode.SentenceEncoder.encode_corpus")
        return self._texts[self.row(key)]

    def subset(self, keys: Sequence[Key]) -> "Embeddings":
        """Return a new in-memory table of `keys` only, in that order: vectors, counts, extras and texts kept.

        Raises KeyNotFound naming the first unknown key and DuplicateKeyError for
        a repeated one.  Subword vectors are kept (they do not depend on the
        rows) unless they hold per-row word vectors.
        """
        keys = [keys] if isinstance(keys, (str, int, np.integer)) else list(keys)
        rows = self.rows(keys)
        if len(np.unique(rows)) != len(rows):
            _, first = np.unique(rows, return_index=True)
            dup = sorted(set(range(len(rows))) - set(first.tolist()))[0]
            raise DuplicateKeyError(f"subset() got key {keys[dup]!r} twice (position {dup})")
        subwords = self.subwords
        if subwords is not None and subwords.word_vectors is not None:
            subwords = None
        return Embeddings.from_parts(
            name=self.name, keys=self._keys.take(rows), store=self._store.take(rows), metric=self._metric,
            counts=None if self.counts is None else self.counts[rows].copy(), meta=dict(self.meta),
            subwords=subwords, extras={k: np.ascontiguousarray(v[rows]) for k, v in self.extras.items()},
            oov=self.oov, texts=None if self._texts is None else self._texts.take(rows), fitted=dict(self.fitted))

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        txt = ", texts=True" if self._texts is not None else ""
        return (f"Embeddings(name={self.name!r}, n={len(self)}, dim={self.dim}, metric={self.metric!r}, "
                f"storage={self.storage!r}, subwords={self.subwords is not None}{txt}{src})")

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return self._keys.row(key) >= 0  # type: ignore[arg-type]

    def row(self, key: Key) -> int:
        """Return the row of `key`, or raise KeyNotFound."""
        r = self._keys.row(key)
        if r < 0:
            self._missing(key)
        return r

    def rows(self, keys: Sequence[Key]) -> np.ndarray:
        """Return the rows of `keys` (int64), or raise KeyNotFound naming the first missing key."""
        rows = self._keys.rows(keys)
        if (rows < 0).any():
            self._missing(list(keys)[int(np.flatnonzero(rows < 0)[0])])
        return rows

    def key(self, row: int) -> Key:
        """Return the key stored at `row`."""
        return self._keys.key(row)

    def _missing(self, key) -> None:
        hint = ("; ask for an out-of-vocabulary vector with emb.vector(key, oov=True) "
                "or omnivec.open(path, oov=True)")
        raise KeyNotFound(f"key {key!r} is not in {self.name!r} ({len(self)} keys){hint}")

    # -- lookup ---------------------------------------------------------------
    def __getitem__(self, key: Key | Sequence[Key]) -> np.ndarray:
        if type(key) is str and self._home is not None:
            index, offsets, blob, mask, n = self._home
            try:
                q = key.encode()
            except UnicodeEncodeError:
                pass        # not UTF-8: cannot be a stored key; the slow path says so
            else:
                r = index[_crc32(q) & mask]
                if 0 <= r < n and blob[offsets[r]:offsets[r + 1]] == q:
                    return self._f32[r]
        if isinstance(key, (list, tuple, np.ndarray)):
            return self.vectors_of(key)
        return self.vector(key)

    def vector(self, key: Key, *, oov: bool | None = None, norm: bool = False) -> np.ndarray:
        """Return the float32 vector of `key` (its unit vector with norm=True).

        An unknown key raises KeyNotFound unless `oov` is true (or the table was
        opened with oov=True, or has subword vectors, whose n-gram composition
        is then the key's vector): then it gets a deterministic
        out-of-vocabulary vector.
        """
        r = self._keys.row(key)
        if r >= 0:
            v = self._store.row(r)
        elif oov if oov is not None else self.oov:
            v = self.oov_vector(key)
        else:
            self._missing(key)
        if norm:
            n = float(np.linalg.norm(v))
            return v / n if n > 0 else v.copy()
        return v

    get_vector = vector

    def vectors_of(self, keys: Sequence[Key], *, oov: bool | None = None) -> np.ndarray:
        """Return the (len(keys) x dim) float32 vectors of `keys`."""
        keys = list(keys)
        rows = self._keys.rows(keys)
        use_oov = oov if oov is not None else self.oov
        missing = np.flatnonzero(rows < 0)
        if len(missing) and not use_oov:
            self._missing(keys[int(missing[0])])
        out = np.empty((len(keys), self.dim), np.float32)
        found = rows >= 0
        if found.any():
            out[found] = self._store.decode(rows[found])
        for i in missing.tolist():
            out[i] = self.oov_vector(keys[i])
        return out

    def oov_vector(self, key: Key) -> np.ndarray:
        """Return the out-of-vocabulary vector of `key` (subword composition or Magnitude-style)."""
        if self._oov_model is None:
            from .core.oov import oov_model_for
            self._oov_model = oov_model_for(self)
        return self._oov_model.vector(key)

    # -- turning inputs into query vectors ----------------------------------
    def _as_vector(self, item: KeyOrVector) -> np.ndarray:
        if isinstance(item, np.ndarray):
            v = np.asarray(item, np.float32)
            if v.shape != (self.dim,):
                raise DimensionError(f"query vector has shape {v.shape}; this table has {self.dim} dims")
            if not np.isfinite(v).all():
                raise InputError("query vector holds NaN or infinity")
            return v
        return self.vector(item)

    def _weighted(self, positive, negative) -> tuple[list[tuple[KeyOrVector, float]], list[int]]:
        def items(x, sign):
            if x is None:
                return []
            if isinstance(x, (str, int, np.integer, np.ndarray)):
                x = [x]
            out = []
            for it in x:
                if isinstance(it, tuple) and len(it) == 2 and not isinstance(it[0], (tuple, list)):
                    out.append((it[0], sign * float(it[1])))
                else:
                    out.append((it, sign * 1.0))
            return out

        pairs = items(positive, 1.0) + items(negative, -1.0)
        if not pairs:
            raise InputError("most_similar needs at least one positive or negative key or vector")
        exclude = [self._keys.row(k) for k, _ in pairs if not isinstance(k, np.ndarray)]
        return pairs, [r for r in exclude if r >= 0]

    def _mean_query(self, pairs) -> np.ndarray:
        norm = self._metric.normalize_queries
        acc = np.zeros(self.dim, np.float64)
        for item, w in pairs:
            acc += w * self._unit(self._as_vector(item)) if norm else w * self._as_vector(item)
        acc /= len(pairs)
        if norm:
            n = np.linalg.norm(acc)
            if n > 0:
                acc /= n
        return acc.astype(np.float32)

    @staticmethod
    def _unit(v: np.ndarray) -> np.ndarray:
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    # -- neighbours -----------------------------------------------------------
    def most_similar(self, positive=None, negative=None, topn: int | None = 10,
                     restrict_vocab: int | None = None, *,
                     approx: bool = False) -> list[tuple[Key, float]] | np.ndarray:
        """Return the topn (key, score) pairs nearest the weighted mean of positive minus negative.

        Keys and vectors may be mixed; a (key, weight) tuple sets a weight.
        Input keys are never returned.  restrict_vocab scores only the first
        rows (frequency-sorted files: the most frequent keys).  With topn=None
        the scores of all rows are returned as an array, as gensim does.
        """
        pairs, exclude = self._weighted(positive, negative)
        q = self._mean_query(pairs)
        if topn is None:
            return exact.all_scores(self._store, self._metric, q, limit=restrict_vocab)
        if topn < 0:
            raise InputError(f"topn must be >= 0 (or None for all scores); got {topn}")
        if approx and self.index is not None:
            return self._approx(q[None, :], topn, [exclude], restrict_vocab).pairs(0)
        rows, scores = exact.topk(self._store, self._metric, q, topn, limit=restrict_vocab,
                                  exclude=[exclude])
        return list(zip(self._keys.keys_of(rows[0]), scores[0].tolist()))

    def similar_by_vector(self, vector: np.ndarray, topn: int | None = 10,
                          restrict_vocab: int | None = None) -> list[tuple[Key, float]] | np.ndarray:
        """Return the topn (key, score) pairs nearest `vector`."""
        return self.most_similar(positive=[np.asarray(vector, np.float32)], topn=topn,
                                 restrict_vocab=restrict_vocab)

    def similar_by_key(self, key: Key, topn: int | None = 10,
                       restrict_vocab: int | None = None) -> list[tuple[Key, float]] | np.ndarray:
        """Return the topn (key, score) pairs nearest `key` (the key itself excluded)."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def most_similar_cosmul(self, positive=None, negative=None, topn: int | None = 10,
                            restrict_vocab: int | None = None) -> list[tuple[Key, float]] | np.ndarray:
        """Return the topn (key, score) pairs by 3CosMul (Levy & Goldberg 2014), as gensim does.

        Each cosine is shifted to [0, 1]; score = prod(positive) / (prod(negative) + 1e-6).
        """
        pos = [positive] if isinstance(positive, (str, int, np.ndarray)) else list(positive or [])
        neg = [negative] if isinstance(negative, (str, int, np.ndarray)) else list(negative or [])
        if not pos and not neg:
            raise InputError("most_similar_cosmul needs at least one positive or negative key or vector")
        cosine = get_metric("cosine")
        n = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))

        def sims(item):
            return (1.0 + exact.all_scores(self._store, cosine, self._as_vector(item), limit=n)) / 2.0

        num = np.ones(n, np.float32)
        for p in pos:
            num *= sims(p)
        den = np.ones(n, np.float32)
        for m in neg:
            den *= sims(m)
        scores = num / (den + 1e-6)
        if topn is None:
            return scores
        if topn < 0:
            raise InputError(f"topn must be >= 0 (or None for all scores); got {topn}")
        for item in pos + neg:
            if not isinstance(item, np.ndarray):
                r = self._keys.row(item)
                if 0 <= r < n:
                    scores[r] = -np.inf
        k = min(topn, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, k - 1)[:k] if 0 < k < n else np.flatnonzero(np.isfinite(scores))
        best = best[np.lexsort((best, -scores[best]))][:k]
        return list(zip(self._keys.keys_of(best), scores[best].tolist()))

    def analogy(self, a: Key, b: Key, c: Key, topn: int = 1, *, method: str = "3cosadd",
                restrict_vocab: int | None = None) -> list[tuple[Key, float]]:
        """Return the topn answers to "a is to b as c is to ?" (3CosAdd or 3CosMul)."""
        m = method.lower().replace("-", "").replace("_", "")
        if m == "3cosadd":
            return self.most_similar(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
        if m == "3cosmul":
            return self.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn,
                                            restrict_vocab=restrict_vocab)
        raise InputError(f"unknown analogy method {method!r}; valid names are: 3cosadd, 3cosmul")

    def search(self, queries: np.ndarray | Sequence[Key] | Key, k: int = 10, *,
               exclude_self: bool = True, restrict_vocab: int | None = None,
               approx: bool = False) -> Neighbors:
        """Return the k nearest keys of each query (vectors, or keys) as Neighbors, always 2-D.

        A query given as a key never finds itself (as in most_similar);
        exclude_self=False keeps it.  restrict_vocab searches only the first
        rows.  approx=True answers through the attached index (`attach`, or
        the one `omnivec.open` finds beside the model file); exact search
        when there is none.
        """
        exclude = None
        if isinstance(queries, np.ndarray) and queries.dtype.kind == "f":
            Q = np.atleast_2d(queries).astype(np.float32)
            if Q.ndim != 2 or Q.shape[1] != self.dim:
                raise DimensionError(f"queries have shape {queries.shape}; this table has {self.dim} dims")
            if not np.isfinite(Q).all():
                raise InputError("queries hold NaN or infinity")
        else:
            keys = [queries] if isinstance(queries, (str, int, np.integer)) else list(queries)
            Q = self.vectors_of(keys)
            if exclude_self:
                exclude = [[r] if r >= 0 else [] for r in self._keys.rows(keys).tolist()]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        if approx and self.index is not None:
            return self._approx(Q, int(k), exclude, restrict_vocab)
        rows, scores = exact.topk(self._store, self._metric, Q, int(k), limit=restrict_vocab, exclude=exclude)
        return Neighbors(rows, scores, self._keys.keys_of)

    # -- an attached approximate index ---------------------------------------
    @property
    def index(self):
        """Return the attached nearest-neighbour index, or None.

        `attach(index)` sets it; a table opened with `omnivec.open` finds the
        index stored beside its model file (`omnivec index build`) on first use.
        """
        if self._index is None and self._find_index is not None:
            find, self._find_index = self._find_index, None
            self._index = find(self)
        return self._index

    def attach(self, index) -> "Embeddings":
        """Attach `index` (built over this table) so that approx=True queries use it; None detaches.

        Returns the table, so ``emb = omnivec.open(p).attach(idx)`` reads well.
        """
        if index is not None:
            check = getattr(index, "check_table", None)
            if check is None:
                raise InputError(f"attach() takes an index from omnivec.search, not a {type(index).__name__}")
            check(self)
        self._index = index
        self._find_index = None
        return self

    def _approx(self, Q: np.ndarray, k: int, exclude, restrict_vocab: int | None) -> Neighbors:
        """Return the attached index's neighbours, restricted to the first rows when asked."""
        allowed = None
        if restrict_vocab is not None:
            allowed = np.zeros(self.index.total, bool)
            allowed[:max(0, min(int(restrict_vocab), len(self)))] = True
        return self.index.search(Q, k, filter=allowed, exclude=exclude)

    # -- pairwise -------------------------------------------------------------
    def similarity(self, a: KeyOrVector, b: KeyOrVector) -> float:
        """Return the metric's score between a and b (cosine similarity by default)."""
        return float(self._metric.pair_scores(self._as_vector(a), self._as_vector(b))[0])

    def n_similarity(self, ws1: Sequence[KeyOrVector], ws2: Sequence[KeyOrVector]) -> float:
        """Return the cosine similarity between the means of two sets of keys."""
        if not len(ws1) or not len(ws2):
            raise InputError("n_similarity needs two non-empty lists of keys")
        m1 = np.mean([self._as_vector(w) for w in ws1], axis=0)
        m2 = np.mean([self._as_vector(w) for w in ws2], axis=0)
        return float(get_metric("cosine").pair_scores(m1, m2)[0])

    def distance(self, a: KeyOrVector, b: KeyOrVector) -> float:
        """Return the metric's distance between a and b (1 - cosine, -dot, or euclidean)."""
        return float(self._metric.to_distance(np.float32(self.similarity(a, b))))

    def distances(self, a: KeyOrVector, others: Sequence[Key] = ()) -> np.ndarray:
        """Return the distances from a to each of `others` (to every row when empty)."""
        v = self._as_vector(a)
        if len(others) == 0:
            return self._metric.to_distance(exact.all_scores(self._store, self._metric, v))
        vs = self.vectors_of(list(others))
        return self._metric.to_distance(self._metric.pair_scores(np.broadcast_to(v, vs.shape), vs))

    def closer_than(self, a: Key, b: Key) -> list[Key]:
        """Return the keys closer to a than b is (a and b excluded)."""
        va = self._as_vector(a)
        scores = exact.all_scores(self._store, self._metric, va)
        rb = -1 if isinstance(b, np.ndarray) else self._keys.row(b)
        # b's own score from the same computation: a separately computed score can differ in
        # the last bits and let b count as closer than itself.
        limit = float(scores[rb]) if rb >= 0 else float(self._metric.pair_scores(va, self._as_vector(b))[0])
        rows = np.flatnonzero(scores > limit)
        ra = self._keys.row(a)
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        return [self._keys.key(int(r)) for r in rows if r != ra]

    def rank(self, a: Key, b: Key) -> int:
        """Return b's rank among a's neighbours (1 = nearest)."""
        return len(self.closer_than(a, b)) + 1

    def doesnt_match(self, keys: Sequence[KeyOrVector]) -> KeyOrVector:
        """Return the key furthest from the mean of `keys` (unknown keys are an error)."""
        keys = list(keys)
        if not keys:
            raise InputError("doesnt_match needs at least one key")
        vs = np.stack([self._unit(self._as_vector(k)) for k in keys])
        mean = self._unit(vs.mean(axis=0))
        return keys[int(np.argmin(vs @ mean))]

    # -- gensim KeyedVectors names ------------------------------------------------
    @property
    def vector_size(self) -> int:
        """Return the number of dimensions (gensim's name for `dim`)."""
        return self.dim

    @property
    def key_to_index(self) -> Mapping[Key, int]:
        """Return a read-only mapping of key to row, as gensim's dict (built lazily: no copy of the keys)."""
        return _KeyToIndex(self)

    @property
    def index_to_key(self) -> Sequence[Key]:
        """Return the keys in row order as a read-only sequence, as gensim's list."""
        return _IndexToKey(self)

    def get_index(self, key: Key, default: int | None = None) -> int:
        """Return the row of `key`; `default` when it is absent and a default is given, else KeyNotFound."""
        r = self._keys.row(key)
        if r >= 0:
            return r
        if default is not None:
            return default
        self._missing(key)

    def has_index_for(self, key: Key) -> bool:
        """Return whether `key` has a row (gensim's name for `key in emb`)."""
        return key in self

    def get_normed_vectors(self) -> np.ndarray:
        """Return every vector scaled to unit length (zero rows stay zero), float32."""
        V = np.array(self.vectors, dtype=np.float32)
        n = np.asarray(self.norms, np.float32)
        np.divide(V, n[:, None], out=V, where=n[:, None] > 0)
        return V

    def fill_norms(self, force: bool = False) -> None:
        """Do nothing: norms are stored with the vectors (gensim computes them here)."""

    def get_mean_vector(self, keys: Sequence[KeyOrVector], weights: Sequence[float] | None = None,
                        pre_normalize: bool = True, post_normalize: bool = False,
                        ignore_missing: bool = True) -> np.ndarray:
        """Return the weighted mean of the vectors of `keys`, as gensim's get_mean_vector."""
        keys = [keys] if isinstance(keys, (str, int, np.integer)) else list(keys)
        if not keys:
            raise InputError("get_mean_vector needs at least one key or vector")
        w = np.ones(len(keys), np.float32) if weights is None else np.asarray(weights, np.float32)
        if w.shape != (len(keys),):
            raise DimensionError(f"{len(keys)} keys but {w.size} weights")
        acc, used = np.zeros(self.dim, np.float64), 0
        for item, wt in zip(keys, w.tolist()):
            if not isinstance(item, np.ndarray) and item not in self:
                if ignore_missing:
                    continue
                self._missing(item)
            v = self._as_vector(item)
            acc += wt * (self._unit(v) if pre_normalize else v)
            used += 1
        if not used:
            raise KeyNotFound(f"none of the {len(keys)} keys is in {self.name!r}")
        mean = (acc / used).astype(np.float32)
        return self._unit(mean) if post_normalize else mean

    def most_similar_to_given(self, key1: Key, keys_list: Sequence[Key]) -> Key:
        """Return the key of `keys_list` most similar to `key1`."""
        if not len(keys_list):
            raise InputError("most_similar_to_given needs a non-empty list of keys")
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def save_word2vec_format(self, fname: str | os.PathLike, fvocab: str | os.PathLike | None = None,
                             binary: bool = False, total_vec: int | None = None, write_header: bool = True,
                             prefix: str = "", append: bool = False, sort_attr: str = "count") -> None:
        """Write the table as word2vec text (or binary), as gensim's save_word2vec_format.

        Keys are written most frequent first when the table has counts
        (gensim's sort_attr="count"); `fvocab` also writes "key count" lines;
        write_header=False writes GloVe-style text. The file appears
        atomically, so append=True is refused.
        """
        if append:
            raise InputError("save_word2vec_format(append=True) is not supported: omnivec writes files "
                             "atomically; write a new file")
        if total_vec is not None and total_vec != len(self):
            raise InputError(f"total_vec={total_vec} but the table has {len(self)} rows")
        if sort_attr not in ("count", None):
            raise InputError(f"sort_attr must be 'count' or None; got {sort_attr!r}")
        emb = self
        if sort_attr == "count" and self.counts is not None and (np.diff(self.counts) > 0).any():
            order = np.argsort(-self.counts, kind="stable")
            emb = Embeddings(self._keys.keys_of(order), self._store.decode(order), metric=self.metric,
                             counts=self.counts[order], name=self.name)
        if prefix:
            if self._keys.kind != "str":
                raise InputError("prefix applies to string keys; this table has integer keys")
            emb = Embeddings([prefix + str(k) for k in emb.keys], emb.vectors, metric=emb.metric,
                             counts=emb.counts, name=emb.name)
        fmt = "word2vec-binary" if binary else ("word2vec-text" if write_header else "glove")
        if binary and not write_header:
            raise InputError("word2vec binary files always have a header; write_header=False applies to text")
        resolve(_EXPORT)(emb, fname, fmt)
        if fvocab is not None:
            if emb.counts is None:
                raise InputError("fvocab needs counts; this table has none")
            text = "".join(f"{k} {int(c)}\n" for k, c in zip(emb.keys, emb.counts.tolist()))
            resolve(_WRITE_TEXT)(fvocab, text)

    def evaluate_word_analogies(self, analogies: str | os.PathLike, restrict_vocab: int = 300000,
                                case_insensitive: bool = True, dummy4unknown: bool = False,
                                similarity_function: str = "most_similar") -> tuple[float, list[dict]]:
        """Return (accuracy, sections) as gensim's evaluate_word_analogies, on a Google-format file.

        Each section is {"section": name, "correct": [(a, b, c, d), ...],
        "incorrect": [...]}, with a last "Total accuracy" section; words are
        upper-cased when case_insensitive, as gensim reports them.  Questions
        with an unknown word are left out, or counted as incorrect with
        dummy4unknown.  Malformed lines are skipped, as gensim does.
        """
        methods = {"most_similar": "3cosadd", "most_similar_cosmul": "3cosmul"}
        if similarity_function not in methods:
            raise InputError(f"similarity_function must be one of {', '.join(methods)}; "
                             f"got {similarity_function!r}")
        res = resolve(_ANALOGIES)(self, analogies, method=methods[similarity_function],
                                  restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
                                  skip_bad=True)

        def shown(qs):
            return [tuple(w.upper() for w in q) if case_insensitive else tuple(q) for q in qs]

        sections = []
        for s in res.sections:
            wrong = s.wrong + (s.unknown if dummy4unknown else [])
            sections.append({"section": s.name, "correct": shown(s.right), "incorrect": shown(wrong)})
        total = {"section": "Total accuracy", "correct": [q for s in sections for q in s["correct"]],
                 "incorrect": [q for s in sections for q in s["incorrect"]]}
        n = len(total["correct"]) + len(total["incorrect"])
        return (len(total["correct"]) / n if n else 0.0), sections + [total]

    def evaluate_word_pairs(self, pairs: str | os.PathLike, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000, case_insensitive: bool = True,
                            dummy4unknown: bool = False) -> tuple[Any, Any, float]:
        """Return (pearson, spearman, oov percent) as gensim's evaluate_word_pairs.

        pearson and spearman are (statistic, pvalue) pairs with those attribute
        names too, as scipy returns them; lines that are not two words and a
        number are skipped, as gensim does.  The delimiter and encoding of
        the file are detected (UTF-8; tabs, spaces, commas).
        """
        res = resolve(_SIMILARITY)(self, pairs, restrict_vocab=restrict_vocab,
                                   case_insensitive=case_insensitive, skip_bad=True,
                                   dummy4unknown=dummy4unknown)
        return (Correlation(res.pearson, res.pearson_pvalue), Correlation(res.spearman, res.spearman_pvalue),
                100.0 * res.oov_ratio)

    # -- conversion and files -------------------------------------------------
    def astype(self, storage: str, *, rerank: str | None = None) -> "Embeddings":
        """Return a copy stored as `storage` ('float32', 'float16', 'int8', 'binary').

        With int8 or binary storage, rerank="float16" keeps a float16 copy of the
        vectors in the file: searches scan the small codes, then re-score the best
        candidates exactly (the same top-k as float storage, at the scan speed of
        the codes); lookups return the copy's values.
        """
        return self.replace(store=self._store.astype(storage, rerank=rerank))

    def with_metric(self, metric: str) -> "Embeddings":
        """Return the same vectors with another default metric."""
        return self.replace(metric=get_metric(metric))

    def replace(self, **parts: Any) -> "Embeddings":
        """Return a shallow copy with some parts replaced."""
        base = dict(name=self.name, keys=self._keys, store=self._store, metric=self._metric,
                    counts=self.counts, meta=dict(self.meta), subwords=self.subwords,
                    extras=dict(self.extras), oov=self.oov, source=self.source, texts=self._texts,
                    fitted=dict(self.fitted))
        base.update(parts)
        return Embeddings.from_parts(**base)

    def save(self, path: str | os.PathLike, *, storage: str | None = None,
             rerank: str | None = None) -> None:
        """Write this table to `path` as a one-table model file (atomically)."""
        emb = self if storage is None else self.astype(storage, rerank=rerank)
        Embeddings._codec().save(path, {emb.name: emb})

    @classmethod
    def open(cls, path: str | os.PathLike, *, table: str | None = None, oov: bool | None = None) -> "Embeddings":
        """Return one table of a model file, memory-mapped (the only one when table is None)."""
        return Embeddings._codec().open_table(path, table=table, oov=oov)

    def __reduce__(self) -> Any:
        raise TypeError("Embeddings are not picklable: save them with .save(path) and open them with "
                        "omnivec.open(path), which memory-maps the file")

    # -- the file layer ---------------------------------------------------------
    #: The model-file codec: omnivec.store.model registers itself here when it is imported (which
    #: `import omnivec` does), so this type needs no import of the file layer above it.
    file_codec: ClassVar[Any] = None

    @staticmethod
    def _codec() -> Any:
        if Embeddings.file_codec is None:  # only while `import omnivec` is still running
            raise RuntimeError("omnivec.store.model has not registered the model-file codec yet")
        return Embeddings.file_codec
