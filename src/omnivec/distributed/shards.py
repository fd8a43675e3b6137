"""Sharded tables: a manifest file plus N ordinary model files that open as one table.

A table too large for one machine is cut into N shards by a hash of each key
(`shard_of`), each shard an ordinary model file that `omnivec.open` reads on
its own.  The manifest (``table.ovs``, JSON) lists the shards beside it, their
row counts and a checksum of their keys.  `ShardedTable` answers like a table:
``len``, ``key in t``, ``t[key]`` (routed to the key's shard), `search` and
`most_similar` (every shard searched, the per-shard top-k merged).

Rows are numbered shard by shard (shard 0's rows, then shard 1's, ...), and a
merged top-k breaks ties to the lower such row, so a fan-out search returns
what one exact search over the concatenated shards returns.

The key checksum (`ids_checksum`) is the sum modulo 2**64 of a 64-bit hash of
every key: independent of order, changed by a missing or a repeated key.  The
distributed writers (`encode`, `write_shards`) record it, and `verify`
recomputes it.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .._atomic import atomic_path
from ..core.keys import Key
from ..core.neighbors import Neighbors
from ..errors import CorruptFileError, DimensionError, FormatError, InputError, KeyNotFound, \
    UnsupportedVersionError

FORMAT = "omnivec-shards"
VERSION = 1
ROUTING = "hash-v1"
SUFFIX = ".ovs"
_MAX_MANIFEST = 64 << 20
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1


# -- routing and the key checksum ----------------------------------------------

def _mix64(x: np.ndarray) -> np.ndarray:
    """Return splitmix64's finaliser of uint64 values (a well-spread 64-bit hash of each)."""
    with np.errstate(over="ignore"):
        z = (x + _GOLDEN).astype(np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def key_hashes(keys: Sequence[Key] | np.ndarray) -> np.ndarray:
    """Return the 64-bit hash (uint64) of each key: of its UTF-8 bytes for text, of its value for ints."""
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
        return _mix64(keys.astype(np.int64).view(np.uint64))
    keys = list(keys)
    if keys and all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys):
        return _mix64(np.asarray(keys, np.int64).view(np.uint64))
    out = np.empty(len(keys), np.uint64)
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise InputError(f"keys are all str or all int; key {i} is {type(k).__name__} {k!r}")
        b = k.encode("utf-8")
        out[i] = (zlib.crc32(b) << 32) | zlib.crc32(b, 0x5BD1E995)
    return _mix64(out)


def _table_hashes(keys) -> np.ndarray:
    """Return key_hashes of a KeyTable's keys, read from its arrays without decoding every key."""
    if keys.kind == "int":
        return key_hashes(np.asarray(keys.ids))
    blob = np.asarray(keys.blob).tobytes()
    off = np.asarray(keys.offsets).tolist()
    out = np.empty(len(off) - 1, np.uint64)
    for i in range(len(off) - 1):
        b = blob[off[i]:off[i + 1]]
        out[i] = (zlib.crc32(b) << 32) | zlib.crc32(b, 0x5BD1E995)
    return _mix64(out)


def shard_of_hashes(hashes: np.ndarray, n_shards: int) -> np.ndarray:
    """Return the shard (int64) of each key hash among n_shards (the manifest's routing 'hash-v1')."""
    return ((hashes >> np.uint64(32)) % np.uint64(n_shards)).astype(np.int64)


def shard_of(keys: Sequence[Key] | np.ndarray, n_shards: int) -> np.ndarray:
    """Return the shard (int64) each key belongs to among n_shards."""
    return shard_of_hashes(key_hashes(keys), n_shards)


def ids_checksum(hashes: np.ndarray) -> str:
    """Return the order-free checksum of a set of keys (their hashes summed modulo 2**64), as 16 hex digits."""
    total = int(np.sum(hashes, dtype=np.uint64)) if len(hashes) else 0
    return f"{total & _MASK64:016x}"


def combine_checksums(parts: Iterable[str]) -> str:
    """Return the checksum of the union of disjoint key sets from their checksums."""
    return f"{sum(int(p, 16) for p in parts) & _MASK64:016x}"


# -- the manifest ---------------------------------------------------------------

@dataclass
class ShardEntry:
    """One shard as the manifest lists it: its file (relative to the manifest), rows and key checksum."""

    path: str
    rows: int
    ids_checksum: str

    def to_dict(self) -> dict:
        return {"path": self.path, "rows": self.rows, "ids_checksum": self.ids_checksum}


@dataclass
class Manifest:
    """What a manifest file says: the table's facts and its shards, in order."""

    table: str
    rows: int
    dim: int
    metric: str
    key_kind: str
    shards: list[ShardEntry]
    ids_checksum: str
    routing: str = ROUTING
    meta: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def folder(self) -> Path:
        """Return the folder the shard paths are relative to (the manifest's own)."""
        return Path(self.path).parent if self.path else Path(".")

    def shard_path(self, i: int) -> Path:
        """Return the path of shard i's model file."""
        return self.folder / self.shards[i].path

    @property
    def offsets(self) -> np.ndarray:
        """Return the first row of each shard in the table's numbering (n_shards + 1 entries)."""
        out = np.zeros(len(self.shards) + 1, np.int64)
        np.cumsum([s.rows for s in self.shards], out=out[1:])
        return out

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "table": self.table, "rows": self.rows, "dim": self.dim,
                "metric": self.metric, "key_kind": self.key_kind, "routing": self.routing,
                "ids_checksum": self.ids_checksum, "shards": [s.to_dict() for s in self.shards],
                "meta": self.meta}

    def write(self, path: str | os.PathLike) -> None:
        """Write the manifest to `path` atomically."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n"
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        self.path = os.fspath(path)


def is_manifest(path: str | os.PathLike) -> bool:
    """Return whether `path` is a sharded-table manifest (a JSON object whose format is omnivec-shards)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and FORMAT.encode() in head


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Return the manifest at `path`, checked field by field (FormatError / CorruptFileError name the field)."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > _MAX_MANIFEST:
            raise CorruptFileError(f"a manifest of {size:,} bytes is over the {_MAX_MANIFEST:,}-byte limit",
                                   path=path)
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FormatError("no such file", path=path) from None
    except IsADirectoryError:
        raise FormatError("is a folder; give the manifest file (*.ovs)", path=path) from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise FormatError(f"not a sharded-table manifest: {exc}", path=path) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"not a sharded-table manifest (no \"format\": \"{FORMAT}\")", path=path)
    version = doc.get("version")
    if not isinstance(version, int):
        raise CorruptFileError("the manifest has no integer 'version'", path=path)
    if version > VERSION:
        raise UnsupportedVersionError(f"manifest version {version}; this omnivec reads up to {VERSION}",
                                      path=path)

    def need(name, kind, where=doc, what="the manifest"):
        v = where.get(name)
        if not isinstance(v, kind) or isinstance(v, bool):
            raise CorruptFileError(f"{what} needs a {getattr(kind, '__name__', 'value')} '{name}'; "
                                   f"found {v!r}", path=path)
        return v

    if doc.get("routing") != ROUTING:
        raise UnsupportedVersionError(f"unknown key routing {doc.get('routing')!r}; this omnivec knows "
                                      f"{ROUTING!r}", path=path)
    shards_doc = need("shards", list)
    if not shards_doc:
        raise CorruptFileError("the manifest lists no shards", path=path)
    shards = []
    for i, s in enumerate(shards_doc):
        if not isinstance(s, dict):
            raise CorruptFileError(f"shard {i} of the manifest is not an object", path=path)
        what = f"shard {i} of the manifest"
        rel = need("path", str, s, what)
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            raise CorruptFileError(f"{what} names {rel!r}; shard paths are relative to the manifest's folder "
                                   "and stay inside it", path=path)
        rows = need("rows", int, s, what)
        if rows < 0:
            raise CorruptFileError(f"{what} has {rows} rows", path=path)
        shards.append(ShardEntry(rel, rows, _checksum_field(need("ids_checksum", str, s, what), what, path)))
    rows = need("rows", int)
    if rows != sum(s.rows for s in shards):
        raise CorruptFileError(f"the manifest says {rows:,} rows but its shards list "
                               f"{sum(s.rows for s in shards):,}", path=path)
    key_kind = need("key_kind", str)
    if key_kind not in ("str", "int"):
        raise CorruptFileError(f"key_kind is {key_kind!r}; expected 'str' or 'int'", path=path)
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    return Manifest(table=need("table", str), rows=rows, dim=need("dim", int), metric=need("metric", str),
                    key_kind=key_kind, shards=shards,
                    ids_checksum=_checksum_field(need("ids_checksum", str), "the manifest", path),
                    routing=ROUTING, meta=meta, path=path)


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _checksum_field(v: str, what: str, path: str) -> str:
    if len(v) != 16 or any(c not in "0123456789abcdef" for c in v):
        raise CorruptFileError(f"{what} has ids_checksum {v!r}; 16 lowercase hex digits expected", path=path)
    return v


def shard_file_name(manifest_path: str | os.PathLike, i: int, n: int) -> str:
    """Return the file name of shard i of n beside a manifest: ``<stem>-00002-of-00004.ov``."""
    stem = Path(manifest_path).name
    stem = stem[:-len(SUFFIX)] if stem.endswith(SUFFIX) else stem
    return f"{stem}-{i:05d}-of-{n:05d}.ov"


# -- writing ----------------------------------------------------------------------

def write_shards(emb, path: str | os.PathLike, shards: int) -> "ShardedTable":
    """Return the sharded table written from `emb` as `shards` model files plus the manifest at `path`.

    Each key goes to shard `shard_of(key)`; a shard keeps its rows in the
    table's order with their vectors (same storage), counts, extras and texts.
    Every file is written atomically; the manifest last, so a manifest never
    lists a shard that is not complete.
    """
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or not 1 <= shards <= 65536:
        raise InputError(f"shards must be an int in [1, 65536]; got {shards!r}")
    path = Path(path)
    hashes = _table_hashes(emb.keys)
    owner = shard_of_hashes(hashes, int(shards))
    entries = []
    for i in range(int(shards)):
        rows = np.flatnonzero(owner == i)
        part = _take(emb, rows)
        name = shard_file_name(path, i, int(shards))
        part.save(path.parent / name)
        entries.append(ShardEntry(name, len(rows), ids_checksum(hashes[rows])))
    manifest = Manifest(table=emb.name, rows=len(emb), dim=emb.dim, metric=emb.metric, key_kind=emb.keys.kind,
                        shards=entries, ids_checksum=ids_checksum(hashes), meta=dict(emb.meta))
    manifest.write(path)
    return ShardedTable(manifest)


def _take(emb, rows: np.ndarray):
    from ..embeddings import Embeddings

    return Embeddings.from_parts(
        name=emb.name, keys=emb.keys.take(rows), store=emb.store.take(rows), metric=emb.metric,
        counts=None if emb.counts is None else np.asarray(emb.counts)[rows].copy(), meta=dict(emb.meta),
        extras={k: np.ascontiguousarray(np.asarray(v)[rows]) for k, v in emb.extras.items()},
        texts=None if emb.texts is None else emb.texts.take(rows))


# -- reading: one table over the shards -------------------------------------------

class ShardedTable:
    """A table held as N model files and a manifest, answering as one table.

    Open one with `open_sharded(path)`.  Lookups go to the key's shard; searches
    go to every shard and the per-shard top-k are merged.  Rows are numbered
    shard by shard; `keys_of`, `key` and `row` use that numbering.
    """

    def __init__(self, manifest: Manifest) -> None:
        from ..store.model import open_table

        self.manifest = manifest
        self.shards = []
        for i, entry in enumerate(manifest.shards):
            p = manifest.shard_path(i)
            if not p.is_file():
                raise FormatError(f"shard {i} of {len(manifest.shards)} ({p}) is missing", path=manifest.path)
            emb = open_table(p)
            _check_shard(manifest, i, emb)
            self.shards.append(emb)
        self.offsets = manifest.offsets
        self._metric = self.shards[0]._metric

    # -- facts --------------------------------------------------------------------
    def __len__(self) -> int:
        return self.manifest.rows

    @property
    def n_shards(self) -> int:
        """Return the number of shards."""
        return len(self.shards)

    @property
    def dim(self) -> int:
        """Return the dimension of the vectors."""
        return self.manifest.dim

    @property
    def metric(self) -> str:
        """Return the name of the table's metric."""
        return self.manifest.metric

    @property
    def name(self) -> str:
        """Return the table's name."""
        return self.manifest.table

    def __repr__(self) -> str:
        return (f"ShardedTable({self.name!r}, rows={len(self):,}, dim={self.dim}, metric={self.metric!r}, "
                f"shards={self.n_shards}, path={self.manifest.path!r})")

    # -- keys -----------------------------------------------------------------------
    def shard_of(self, keys: Key | Sequence[Key]) -> int | np.ndarray:
        """Return the shard of a key (an int), or of each key (an array)."""
        if isinstance(keys, (str, int, np.integer)):
            return int(shard_of([keys], self.n_shards)[0])
        return shard_of(keys, self.n_shards)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (str, int, np.integer)) or isinstance(key, bool):
            return False
        return key in self.shards[self.shard_of(key)]

    def row(self, key: Key) -> int:
        """Return the key's row in the table's numbering (shard by shard); KeyNotFound when absent."""
        s = self.shard_of(key)
        r = self.shards[s].keys.row(key)
        if r < 0:
            raise KeyNotFound(f"key {key!r} is not in the sharded table {self.name!r} "
                              f"(looked in shard {s}, where its hash routes it)")
        return int(self.offsets[s] + r)

    def rows(self, keys: Sequence[Key]) -> np.ndarray:
        """Return the row of each key, -1 for keys not in the table."""
        keys = list(keys)
        owner = self.shard_of(keys)
        out = np.full(len(keys), -1, np.int64)
        for s in np.unique(owner).tolist():
            at = np.flatnonzero(owner == s)
            r = self.shards[s].keys.rows([keys[i] for i in at.tolist()])
            out[at] = np.where(r >= 0, r + self.offsets[s], -1)
        return out

    def _locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise InputError(f"row numbers must be in [0, {len(self)}); got {int(rows.min())}..{int(rows.max())}")
        s = np.searchsorted(self.offsets, rows, side="right") - 1
        return s, rows - self.offsets[s]

    def key(self, row: int) -> Key:
        """Return the key of a row."""
        s, r = self._locate(np.array([row]))
        return self.shards[int(s[0])].keys.key(int(r[0]))

    def keys_of(self, rows: Iterable[int]) -> list[Key]:
        """Return the keys of rows (-1 entries are skipped, as Neighbors expects)."""
        rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, np.int64)
        rows = rows[rows >= 0]
        s, r = self._locate(rows)
        return [self.shards[a].keys.key(b) for a, b in zip(s.tolist(), r.tolist())]

    def __iter__(self):
        for emb in self.shards:
            yield from emb.keys

    # -- vectors --------------------------------------------------------------------
    def vector(self, key: Key) -> np.ndarray:
        """Return the vector of a key, from its shard."""
        s = self.shard_of(key)
        if key not in self.shards[s]:
            raise KeyNotFound(f"key {key!r} is not in the sharded table {self.name!r} "
                              f"(looked in shard {s}, where its hash routes it)")
        return self.shards[s].vector(key)

    def vectors_of(self, keys: Sequence[Key]) -> np.ndarray:
        """Return the vectors of keys, (len(keys), dim) float32, each from its shard."""
        keys = list(keys)
        out = np.empty((len(keys), self.dim), np.float32)
        owner = self.shard_of(keys) if keys else np.zeros(0, np.int64)
        for s in np.unique(owner).tolist():
            at = np.flatnonzero(owner == s)
            sub = [keys[i] for i in at.tolist()]
            for k in sub:
                if k not in self.shards[s]:
                    raise KeyNotFound(f"key {k!r} is not in the sharded table {self.name!r} "
                                      f"(looked in shard {s}, where its hash routes it)")
            out[at] = self.shards[s].vectors_of(sub)
        return out

    def text(self, key: Key) -> str:
        """Return the text of a key's row (tables written with a text column), from its shard."""
        s = self.shard_of(key)
        if key not in self.shards[s]:
            raise KeyNotFound(f"key {key!r} is not in the sharded table {self.name!r} "
                              f"(looked in shard {s}, where its hash routes it)")
        return self.shards[s].text(key)

    def __getitem__(self, key: Key | Sequence[Key]) -> np.ndarray:
        if isinstance(key, (str, int, np.integer)):
            return self.vector(key)
        return self.vectors_of(key)

    # -- search -----------------------------------------------------------------------
    def search(self, queries: np.ndarray | Sequence[Key] | Key, k: int = 10, *,
               exclude_self: bool = True) -> Neighbors:
        """Return the k nearest keys of each query across every shard, as Neighbors over the table's rows.

        The same answer as one exact search over the concatenated shards: each
        shard's exact top-k, merged by score, ties to the lower row.
        """
        Q, exclude = self._queries(queries, exclude_self)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        rows, scores = self._fan_out(Q, int(k), exclude)
        return Neighbors(rows, scores, self.keys_of)

    def most_similar(self, positive=None, negative=None, topn: int = 10) -> list[tuple[Key, float]]:
        """Return the topn (key, score) pairs nearest the weighted mean of positive minus negative, as
        `Embeddings.most_similar` does (input keys never returned), over every shard."""
        pairs = _weighted(positive, negative)
        exclude = [int(r) for r in self.rows([k for k, _ in pairs if not isinstance(k, np.ndarray)]) if r >= 0] \
            if any(not isinstance(k, np.ndarray) for k, _ in pairs) else []
        vecs = []
        for item, w in pairs:
            v = self._as_vector(item)
            vecs.append((v, w))
        q = _mean_query(vecs, self._metric.normalize_queries, self.dim)
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
            raise InputError(f"topn must be an int >= 0; got {topn!r}")
        rows, scores = self._fan_out(q[None, :], int(topn), [exclude])
        return list(zip(self.keys_of(rows[0]), scores[0].tolist()))

    def _as_vector(self, item) -> np.ndarray:
        if isinstance(item, np.ndarray):
            v = np.asarray(item, np.float32)
            if v.shape != (self.dim,):
                raise DimensionError(f"query vector has shape {v.shape}; this table has {self.dim} dims")
            if not np.isfinite(v).all():
                raise InputError("query vector holds NaN or infinity")
            return v
        return self.vector(item)

    def _queries(self, queries, exclude_self: bool) -> tuple[np.ndarray, list[list[int]] | None]:
        if isinstance(queries, np.ndarray) and queries.dtype.kind == "f":
            Q = np.atleast_2d(queries).astype(np.float32)
            if Q.ndim != 2 or Q.shape[1] != self.dim:
                raise DimensionError(f"queries have shape {queries.shape}; this table has {self.dim} dims")
            if not np.isfinite(Q).all():
                raise InputError("queries hold NaN or infinity")
            return Q, None
        keys = [queries] if isinstance(queries, (str, int, np.integer)) else list(queries)
        Q = self.vectors_of(keys)
        exclude = [[int(r)] for r in self.rows(keys).tolist()] if exclude_self else None
        return Q, exclude

    def _fan_out(self, Q: np.ndarray, k: int, exclude) -> tuple[np.ndarray, np.ndarray]:
        from ..core.exact import topk_any

        parts = []
        for s, emb in enumerate(self.shards):
            lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
            local = None
            if exclude is not None:
                local = [[r - lo for r in ex if lo <= r < hi] for ex in exclude]
            rows, scores = topk_any(emb.store, self._metric, Q, k, exclude=local)
            parts.append((np.where(rows >= 0, rows + lo, -1), scores))
        return merge_topk(parts, k)

    # -- whole-table views ------------------------------------------------------------
    def to_embeddings(self):
        """Return the concatenation of the shards as one in-memory `Embeddings` (rows in this table's order,
        counts and the extras every shard has kept).

        For checks on tables that fit in memory: its exact search is what the
        fan-out search must equal.
        """
        from ..core.keys import KeyTable
        from ..core.vectors import VectorStore
        from ..embeddings import Embeddings

        keys = [k for emb in self.shards for k in emb.keys]
        table, _ = KeyTable.from_keys(keys)
        vectors = np.concatenate([emb.vectors for emb in self.shards])
        counts = None
        if all(emb.counts is not None for emb in self.shards):
            counts = np.concatenate([np.asarray(emb.counts, np.int64) for emb in self.shards])
        names = set.intersection(*(set(emb.extras) for emb in self.shards))
        extras = {n: np.concatenate([np.asarray(emb.extras[n]) for emb in self.shards]) for n in sorted(names)}
        return Embeddings.from_parts(name=self.name, keys=table,
                                     store=VectorStore.encode(vectors, self.shards[0].storage),
                                     metric=self._metric, meta=dict(self.manifest.meta), counts=counts,
                                     extras=extras)


def merge_topk(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the k best (rows, scores) per query across per-shard blocks: by score, ties to the lower row.

    Blocks hold -1 / -inf where a shard had fewer rows; the result is trimmed
    to the columns every query fills (the shape `Embeddings.search` returns).
    """
    nq = parts[0][0].shape[0] if parts else 0
    if not parts or k == 0:
        return np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32)
    ids = np.concatenate([p[0] for p in parts], axis=1).astype(np.int64)
    sc = np.concatenate([p[1] for p in parts], axis=1).astype(np.float32)
    # invalid entries last: -inf scores, and among them the -1 rows
    key_ids = np.where(ids >= 0, ids, np.iinfo(np.int64).max)
    order = np.lexsort((key_ids, -sc), axis=1)[:, :min(k, ids.shape[1])]
    ids, sc = np.take_along_axis(ids, order, axis=1), np.take_along_axis(sc, order, axis=1)
    if ids.size:
        width = int((ids >= 0).sum(axis=1).min())
        ids, sc = ids[:, :width], sc[:, :width]
    return ids, sc


def _weighted(positive, negative) -> list[tuple[Any, float]]:
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
    return pairs


def _mean_query(vecs: list[tuple[np.ndarray, float]], normalize: bool, dim: int) -> np.ndarray:
    # the arithmetic of Embeddings._mean_query, so both answer the same query
    acc = np.zeros(dim, np.float64)
    for v, w in vecs:
        if normalize:
            n = float(np.linalg.norm(v))
            v = v / n if n > 0 else v
        acc += w * v
    acc /= len(vecs)
    if normalize:
        n = np.linalg.norm(acc)
        if n > 0:
            acc /= n
    return acc.astype(np.float32)


def _check_shard(manifest: Manifest, i: int, emb) -> None:
    where = f"shard {i} of {len(manifest.shards)} ({manifest.shard_path(i)})"
    entry = manifest.shards[i]
    if len(emb) != entry.rows:
        raise CorruptFileError(f"{where} holds {len(emb):,} rows; the manifest says {entry.rows:,}",
                               path=manifest.path)
    if emb.dim != manifest.dim:
        raise CorruptFileError(f"{where} has {emb.dim} dims; the manifest says {manifest.dim}", path=manifest.path)
    if emb.metric != manifest.metric:
        raise CorruptFileError(f"{where} has metric {emb.metric!r}; the manifest says {manifest.metric!r}",
                               path=manifest.path)
    if len(emb) and emb.keys.kind != manifest.key_kind:
        raise CorruptFileError(f"{where} has {emb.keys.kind} keys; the manifest says {manifest.key_kind}",
                               path=manifest.path)


def open_sharded(path: str | os.PathLike) -> ShardedTable:
    """Return the sharded table whose manifest is at `path`, each shard memory-mapped."""
    return ShardedTable(read_manifest(path))


# -- info and verify ------------------------------------------------------------------

def info(path: str | os.PathLike) -> dict:
    """Return what a manifest says: the table's facts and each shard's file, rows and bytes."""
    m = read_manifest(path)
    shards = []
    for i, s in enumerate(m.shards):
        p = m.shard_path(i)
        shards.append({"shard": i, "path": os.fspath(p), "rows": s.rows, "ids_checksum": s.ids_checksum,
                       "bytes": p.stat().st_size if p.is_file() else None})
    return {"path": os.fspath(path), "format": FORMAT, "format_version": VERSION, "table": m.table,
            "rows": m.rows, "dim": m.dim, "metric": m.metric, "key_kind": m.key_kind, "routing": m.routing,
            "ids_checksum": m.ids_checksum, "n_shards": len(m.shards), "shards": shards,
            "file_bytes": os.path.getsize(path), "bytes": sum(s["bytes"] or 0 for s in shards),
            "meta": m.meta}


def verify(path: str | os.PathLike) -> dict:
    """Return the result of a full check of a sharded table: every shard file, its rows, routing and keys.

    Each shard gets the model-file check (CRC-32s, key index, norms); then its
    rows, dims and metric must match the manifest, every key must route to
    the shard that holds it (so no key is in two shards), and the key
    checksums of each shard and of the whole must equal the manifest's.
    """
    from ..store import container
    from ..store.model import open_table, verify as verify_file

    m = read_manifest(path)
    problems: list[str] = []
    checked = []
    sums = []
    tensors = nbytes = 0
    for i, s in enumerate(m.shards):
        p = m.shard_path(i)
        where = f"shard {i} of {len(m.shards)} ({p})"
        if not p.is_file():
            problems.append(f"{where} is missing")
            continue
        try:
            found = verify_file(p)
        except FormatError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if found:
            problems += [f"{where}: {x}" for x in found]
            continue
        tensors += len(container.read(p).tensors)
        nbytes += p.stat().st_size
        emb = open_table(p)
        try:
            _check_shard(m, i, emb)
        except CorruptFileError as exc:
            problems.append(str(exc).split(": ", 1)[-1])
            continue
        hashes = _table_hashes(emb.keys)
        wrong = np.flatnonzero(shard_of_hashes(hashes, len(m.shards)) != i)
        if len(wrong):
            problems.append(f"{where} holds {len(wrong):,} keys that route to other shards (first: "
                            f"{emb.keys.key(int(wrong[0]))!r}); lookups would not find them")
        got = ids_checksum(hashes)
        sums.append(got)
        if got != s.ids_checksum:
            problems.append(f"{where}: its keys' checksum is {got}; the manifest says {s.ids_checksum} "
                            "(keys missing, repeated or changed)")
        checked.append(i)
    if len(sums) == len(m.shards) and combine_checksums(sums) != m.ids_checksum:
        problems.append(f"the shards' keys sum to checksum {combine_checksums(sums)}; the manifest says "
                        f"{m.ids_checksum}")
    return {"path": os.fspath(path), "kind": "sharded table", "ok": not problems, "problems": problems,
            "what": f"{len(m.shards)} shards: CRC-32, key index, rows, routing, key checksums",
            "checks": [f"{len(checked)} of {len(m.shards)} shards sound, {m.rows:,} rows, keys routed to "
                       f"their shards, key checksum {m.ids_checksum}"] if not problems else [],
            "shards": len(m.shards), "shards_checked": len(checked), "rows": m.rows,
            "tensors": tensors, "bytes": nbytes}
