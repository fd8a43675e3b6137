"""Model files: one or more named Embeddings tables in one safetensors container.

Tensor names are ``<table>.<field>``; the header metadata ``omnivec`` entry
(JSON) holds the format version and, per table, its size, dimension, storage
dtype, metric, key kind, subword settings, extras and provenance.  See
docs/format.md.
"""

from __future__ import annotations

import json
import os
from typing import Iterator, Mapping

import numpy as np

from ..errors import CorruptFileError, FormatError, InputError, UnsupportedVersionError
from ..metrics import get_metric
from . import container
from .keys import KeyTable
from .subwords import Subwords
from .vectors import STORAGE, VectorStore

FORMAT_NAME = "omnivec"
FORMAT_VERSION = 1
VECTOR_DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "binary": np.uint8}


def _table_tensors(emb) -> dict[str, np.ndarray]:
    t = {**emb.keys.arrays(), "vectors": emb.store.data, "norms": emb.store.norms}
    if emb.store.scale is not None:
        t["scale"] = emb.store.scale
    if emb.counts is not None:
        t["counts"] = emb.counts
    if emb.subwords is not None:
        t.update(emb.subwords.tensors())
    for name, arr in emb.extras.items():
        t[f"x.{name}"] = arr
    return t


def _table_meta(emb) -> dict:
    return {"n": len(emb), "dim": emb.dim, "storage": emb.storage, "metric": emb.metric,
            "key_kind": emb.keys.kind, "counts": emb.counts is not None,
            "subwords": None if emb.subwords is None else emb.subwords.to_meta(),
            "extras": sorted(emb.extras), "meta": emb.meta}


def save_tables(path: str | os.PathLike, tables: Mapping[str, object]) -> None:
    """Write `tables` (name -> Embeddings) to one model file, atomically."""
    if not tables:
        raise InputError("a model file needs at least one table")
    tensors: dict[str, np.ndarray] = {}
    header = {"format_version": FORMAT_VERSION, "tables": {}}
    for name, emb in tables.items():
        if not name or "." in name:
            raise InputError(f"table name {name!r} must be non-empty and contain no '.'")
        for field, arr in _table_tensors(emb).items():
            tensors[f"{name}.{field}"] = arr
        header["tables"][name] = _table_meta(emb)
    try:
        meta_json = json.dumps(header, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"table metadata must be plain JSON (str, numbers, lists, dicts): {exc}") from None
    container.write(path, tensors, {"format": FORMAT_NAME, FORMAT_NAME: meta_json})


class Bundle:
    """The tables of one model file.  A bundle with one table behaves as that table."""

    def __init__(self, tables: dict[str, object], path: str | None = None) -> None:
        self.tables = tables
        self.path = path

    def table(self, name: str | None = None):
        """Return the table called `name` (the only table when name is None)."""
        if name is None:
            if len(self.tables) == 1:
                return next(iter(self.tables.values()))
            raise InputError(f"{self.path or 'this bundle'} holds {len(self.tables)} tables "
                             f"({', '.join(self.tables)}); name one")
        try:
            return self.tables[name]
        except KeyError:
            raise InputError(f"no table {name!r} in {self.path or 'this bundle'}; "
                             f"its tables are: {', '.join(self.tables)}") from None

    def __getattr__(self, attr):
        if attr.startswith("_") or attr in ("tables", "path"):
            raise AttributeError(attr)
        return getattr(self.table(), attr)

    def __getitem__(self, key):
        return self.table()[key]

    def __contains__(self, key) -> bool:
        return key in self.table()

    def __len__(self) -> int:
        return len(self.table())

    def __iter__(self) -> Iterator:
        return iter(self.table())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: n={len(v)} dim={v.dim}" for k, v in self.tables.items())
        return f"Bundle({self.path!r}, {{{inner}}})"

    def save(self, path: str | os.PathLike) -> None:
        """Write every table to `path` (atomically)."""
        save_tables(path, self.tables)


def read_header(c: container.Container) -> dict:
    """Return the omnivec header of an opened container, or raise FormatError."""
    path = c.path
    if c.metadata.get("format") != FORMAT_NAME or FORMAT_NAME not in c.metadata:
        names = ", ".join(sorted(c.tensors)[:8]) or "none"
        raise FormatError("a safetensors file, but not an omnivec model (its header has no "
                          f"omnivec metadata; tensors: {names}). Import vectors with `omnivec convert`",
                          path=path)
    try:
        header = json.loads(c.metadata[FORMAT_NAME])
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"the omnivec header entry is not JSON ({exc})", path=path, offset=8) from None
    if not isinstance(header, dict) or not isinstance(header.get("tables"), dict):
        raise CorruptFileError("the omnivec header entry has no 'tables' object", path=path, offset=8)
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CorruptFileError(f"format_version must be an integer, got {version!r}", path=path, offset=8)
    if version > FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"written in model format version {version}; this omnivec reads up to version "
            f"{FORMAT_VERSION}. Upgrade omnivec to open it", path=path)
    if version < 1:
        raise CorruptFileError(f"format_version {version} is not valid", path=path, offset=8)
    return header


def _expect(path, name, arr, shape, dtypes):
    if arr is None:
        raise CorruptFileError(f"tensor {name!r} is missing", path=path)
    if tuple(arr.shape) != tuple(shape) or arr.dtype not in [np.dtype(d) for d in dtypes]:
        raise CorruptFileError(f"tensor {name!r} has shape {tuple(arr.shape)} dtype {arr.dtype}; "
                               f"expected shape {tuple(shape)} dtype {'/'.join(np.dtype(d).name for d in dtypes)}",
                               path=path)
    return arr


def _open_table(c: container.Container, name: str, tm, oov: bool):
    from ..embeddings import Embeddings

    path = c.path
    if not isinstance(tm, dict):
        raise CorruptFileError(f"table {name!r}: header entry is not an object", path=path)
    try:
        n, dim = int(tm["n"]), int(tm["dim"])
        storage, metric_name, kind = tm["storage"], tm["metric"], tm["key_kind"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"table {name!r}: header entry lacks {exc}", path=path) from None
    if n < 0 or dim < 0 or storage not in STORAGE or kind not in ("str", "int"):
        raise CorruptFileError(f"table {name!r}: bad n/dim/storage/key_kind in header", path=path)
    storage = STORAGE.get(storage)
    try:
        metric = get_metric(metric_name)
    except InputError:
        raise CorruptFileError(f"table {name!r}: unknown metric {metric_name!r}", path=path) from None
    t = {k[len(name) + 1:]: v for k, v in c.tensors.items() if k.startswith(name + ".")}
    width = (dim + 7) // 8 if storage == "binary" else dim
    vectors = _expect(path, f"{name}.vectors", t.get("vectors"), (n, width), [VECTOR_DTYPES[storage]])
    norms = _expect(path, f"{name}.norms", t.get("norms"), (n,), [np.float32])
    scale = None
    if storage in ("int8", "binary"):
        scale = _expect(path, f"{name}.scale", t.get("scale"), (dim,), [np.float32])
    index = t.get("key_index")
    if index is None or index.ndim != 1 or index.dtype != np.int64 or len(index) < max(1, n) \
            or len(index) & (len(index) - 1):
        raise CorruptFileError(f"tensor {name}.key_index is missing or not a power-of-two int64 array "
                               f"of at least {n} slots", path=path)
    if kind == "str":
        offsets = _expect(path, f"{name}.keys_offsets", t.get("keys_offsets"), (n + 1,), [np.int64])
        blob = t.get("keys_blob")
        if blob is None or blob.ndim != 1 or blob.dtype != np.uint8:
            raise CorruptFileError(f"tensor {name}.keys_blob is missing or not uint8", path=path)
        if offsets[0] != 0 or offsets[-1] != len(blob):
            raise CorruptFileError(f"{name}.keys_offsets must run from 0 to {len(blob)}, got "
                                   f"{int(offsets[0])}..{int(offsets[-1])}", path=path)
        keys = KeyTable(kind="str", index=index, blob=blob, offsets=offsets, source=path)
    else:
        ids = _expect(path, f"{name}.keys_ids", t.get("keys_ids"), (n,), [np.int64])
        keys = KeyTable(kind="int", index=index, ids=ids, source=path)
    counts = _expect(path, f"{name}.counts", t.get("counts"), (n,), [np.int64]) if tm.get("counts") else None
    subwords = None
    if tm.get("subwords"):
        sm = tm["subwords"]
        try:
            bucket = int(sm["bucket"])
            _expect(path, f"{name}.subword_vectors", t.get("subword_vectors"), (bucket, dim), [np.float32])
            subwords = Subwords.from_stored(sm, t)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"table {name!r}: bad subword settings ({exc})", path=path) from None
        if subwords.word_vectors is not None:
            _expect(path, f"{name}.subword_word_vectors", subwords.word_vectors, (n, dim), [np.float32])
    extras_names = tm.get("extras") or []
    extras = {}
    for x in extras_names:
        arr = t.get(f"x.{x}")
        if arr is None:
            raise CorruptFileError(f"tensor {name}.x.{x} listed in the header is missing", path=path)
        extras[x] = arr
    meta = tm.get("meta") if isinstance(tm.get("meta"), dict) else {}
    store = VectorStore(data=vectors, dtype=storage, dim=dim, norms=norms, scale=scale)
    return Embeddings._from_parts(name=name, keys=keys, store=store, metric=metric, counts=counts,
                                  meta=meta, subwords=subwords, extras=extras, oov=oov, source=path)


def open_bundle(path: str | os.PathLike, *, oov: bool = False) -> Bundle:
    """Return the tables of a model file, memory-mapped (reads only the header)."""
    c = container.read(path)
    header = read_header(c)
    tables = {name: _open_table(c, name, tm, oov) for name, tm in header["tables"].items()}
    if not tables:
        raise CorruptFileError("the model file holds no tables", path=c.path)
    return Bundle(tables, path=c.path)


def verify(path: str | os.PathLike) -> list[str]:
    """Return the problems found by a full check of a model file (empty when it is sound).

    Checks every tensor's CRC-32, then each table's key index (every key is
    found at its own row) and that vectors and norms are finite.
    """
    c = container.read(path)
    problems = container.verify_checksums(c)
    if problems:
        return problems
    from . import _kernels as K

    bundle = open_bundle(path)
    for name, emb in bundle.tables.items():
        keys = emb.keys
        if not K.check_index(keys.index, len(keys)):
            problems.append(f"table {name!r}: the key index does not map each row exactly once")
            continue
        if keys.kind == "str":
            out = np.empty(len(keys), np.int64)
            K.probe_str_many(keys.blob, keys.offsets, keys.index, keys.blob, keys.offsets, out)
            bad = np.flatnonzero(out != np.arange(len(keys)))
            if len(bad):
                problems.append(f"table {name!r}: key at row {int(bad[0])} is not found at its row "
                                f"({len(bad)} such rows)")
            try:
                bytes(keys.blob).decode("utf-8")
                starts = keys.offsets[:-1][np.diff(keys.offsets) > 0]
                split = np.flatnonzero((keys.blob[starts] & 0xC0) == 0x80)
                if len(split):
                    problems.append(f"table {name!r}: a key boundary splits a UTF-8 character "
                                    f"at blob byte {int(starts[split[0]])}")
            except UnicodeDecodeError as exc:
                problems.append(f"table {name!r}: keys are not valid UTF-8 at blob byte {exc.start}")
        if not np.isfinite(emb.store.norms).all():
            problems.append(f"table {name!r}: some vector norms are NaN or infinite")
    return problems
