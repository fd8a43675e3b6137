"""Model files: one or more named Embeddings tables in one safetensors container.

Tensor names are ``<table>.<field>``; the header metadata ``omnivec`` entry
(JSON) holds the format version and, per table, its size, dimension, storage
dtype, metric, key kind, subword settings, extras and provenance.  See
docs/format.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from ..embeddings import Embeddings
from ..errors import CorruptFileError, FormatError, InputError, UnsupportedVersionError
from ..metrics import get_metric
from ..model import MODEL_KINDS, Model, model_class
from . import container
from .texts import TextSpool
from ..core.keys import KeyTable
from ..core.subwords import Subwords
from ..core.text import Texts
from ..core.vectors import SCAN_CHECK_BYTES, STORAGE, VectorStore

FORMAT_NAME = "omnivec"
FORMAT_VERSION = 1
VECTOR_DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "binary": np.uint8}


def _table_tensors(emb) -> dict[str, np.ndarray]:
    t = {**emb.keys.arrays(), "vectors": emb.store.data, "norms": emb.store.norms}
    if emb.store.scale is not None:
        t["scale"] = emb.store.scale
    if emb.store.rerank is not None:
        t["rerank"] = emb.store.rerank
    if emb.counts is not None:
        t["counts"] = emb.counts
    if emb.subwords is not None:
        t.update(emb.subwords.tensors())
    for name, arr in emb.extras.items():
        t[f"x.{name}"] = arr
    for name, arr in emb.fitted.items():
        t[f"f.{name}"] = np.ascontiguousarray(arr)
    if emb.texts is not None:
        t.update(emb.texts.arrays())
    return t


def _table_meta(emb) -> dict:
    out = {"n": len(emb), "dim": emb.dim, "storage": emb.storage, "metric": emb.metric,
           "key_kind": emb.keys.kind, "counts": emb.counts is not None,
           "subwords": None if emb.subwords is None else emb.subwords.to_meta(),
           "extras": sorted(emb.extras), "meta": emb.meta}
    if emb.texts is not None:      # the flag appears only where there are texts: older files stay as they were
        out["texts"] = True
    if emb.fitted:                 # likewise for the arrays of a fitted transform
        out["fitted"] = sorted(emb.fitted)
    return out


@dataclass
class StreamedTable:
    """A one-table import on its way to a model file: keys in memory, float32 rows as blocks.

    `blocks()` returns a fresh iterator over the n float32 rows, in blocks (it
    is called once more for int8/binary storage, whose scale needs a pass);
    `save_tables` encodes, checksums and writes them block by block, so memory
    holds one block, never the table.  `texts`, a `store.texts.TextSpool` of
    n texts, becomes the table's text column, copied from its temporary file
    block by block.
    """

    keys: KeyTable
    n: int
    dim: int
    storage: str
    metric: str
    blocks: Callable[[], Iterable[np.ndarray]]
    meta: dict = field(default_factory=dict)
    progress: bool | None = None
    texts: TextSpool | None = None


def save_tables(path: str | os.PathLike, tables: Mapping[str, Embeddings | StreamedTable], *,
                kind: str | None = None) -> None:
    """Write `tables` (name -> Embeddings or StreamedTable) to one model file, atomically; `kind` names a typed model."""
    if not tables:
        raise InputError("a model file needs at least one table")
    tensors: dict[str, np.ndarray | container.Blocks] = {}
    # the JSON header sorts its keys; "order" keeps several tables in the order they were given
    header: dict = {"format_version": FORMAT_VERSION, "tables": {}}
    if len(tables) > 1:
        header["order"] = list(tables)
    if kind:
        header["kind"] = MODEL_KINDS.canonical(kind)
    for name, emb in tables.items():
        if not isinstance(name, str) or not name or "." in name:
            raise InputError(f"table name {name!r} must be non-empty and contain no '.'")
        if isinstance(emb, StreamedTable):
            fields, header["tables"][name] = _streamed_tensors(emb, path), _streamed_meta(emb)
        elif isinstance(emb, Embeddings):
            fields, header["tables"][name] = _table_tensors(emb), _table_meta(emb)
        else:
            raise InputError(f"table {name!r} is a {type(emb).__name__}, not Embeddings")
        for f, arr in fields.items():
            tensors[f"{name}.{f}"] = arr
    try:
        meta_json = json.dumps(header, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"table metadata must be plain JSON (str, numbers, lists, dicts): {exc}") from None
    container.write(path, tensors, {"format": FORMAT_NAME, FORMAT_NAME: meta_json})


def _streamed_meta(t: StreamedTable) -> dict:
    out = {"n": t.n, "dim": t.dim, "storage": t.storage, "metric": t.metric, "key_kind": t.keys.kind,
           "counts": False, "subwords": None, "extras": [], "meta": t.meta}
    if t.texts is not None:
        out["texts"] = True
    return out


def _streamed_tensors(t: StreamedTable, path) -> dict[str, np.ndarray | container.Blocks]:
    """Return a streamed table's tensors: its vectors as Blocks encoded on the way, norms filled meanwhile."""
    from .._progress import progress as _progress
    from ..core.vectors import encode_block, quant_scale

    n, dim, storage = t.n, t.dim, t.storage
    scale = quant_scale(storage, t.blocks(), n, dim)
    norms = np.empty(n, np.float32)

    def encoded():
        w = 0
        with _progress(f"Writing {os.path.basename(os.fspath(path))}", n, unit="rows",
                       enabled=t.progress) as task:
            for blk in t.blocks():
                data = encode_block(blk, storage, scale)
                m = len(data)
                if w + m > n:
                    break
                store = VectorStore(data=data, dtype=storage, dim=dim, norms=norms[w:w + m], scale=scale)
                norms[w:w + m] = store.compute_norms()
                w += m
                task.advance(m)
                yield data
        if w != n:
            raise FormatError(f"wrote {w} rows, expected {n}", path=path)

    width = (dim + 7) // 8 if storage == "binary" else dim
    out = {**t.keys.arrays(), "vectors": container.Blocks((n, width), np.dtype(VECTOR_DTYPES[storage]), encoded()),
           "norms": norms}
    if scale is not None:
        out["scale"] = scale
    if t.texts is not None:
        if len(t.texts) != n:
            raise InputError(f"the table has {n} rows but {len(t.texts)} texts; each row needs one text")
        out.update(t.texts.tensors())
    return out


def read_header(c: container.Container) -> dict:
    """Return the omnivec header of an opened container, or raise FormatError."""
    path = c.path
    if c.metadata.get("format") != FORMAT_NAME or FORMAT_NAME not in c.metadata:
        names = ", ".join(sorted(c.entries)[:8]) or "none"
        more = f" and {len(c.entries) - 8} more" if len(c.entries) > 8 else ""
        raise FormatError("a safetensors file, but not an omnivec model (its header has no "
                          f"omnivec metadata; tensors: {names}{more}). Import vectors with "
                          "`omnivec convert`", path=path, offset=8)
    header = container.parse_json(c.metadata[FORMAT_NAME], what="the omnivec header entry",
                                  path=path, offset=8, error=CorruptFileError, locate=False)
    if not isinstance(header, dict):
        raise CorruptFileError("the omnivec header entry is not a JSON object", path=path, offset=8)
    # The version is checked before anything else: a newer file may lay out the rest differently.
    version = header.get("format_version")
    if not _is_int(version):
        raise CorruptFileError(f"format_version must be an integer, got {version!r}", path=path, offset=8)
    if version > FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"written in model format version {version}; this omnivec reads up to version "
            f"{FORMAT_VERSION}. Upgrade omnivec to open it", path=path, offset=8)
    if version < 1:
        raise CorruptFileError(f"format_version {version} is not valid", path=path, offset=8)
    if not isinstance(header.get("tables"), dict):
        raise CorruptFileError("the omnivec header entry has no 'tables' object", path=path, offset=8)
    return header


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _expect(path, name, arr, shape, dtypes):
    if arr is None:
        raise CorruptFileError(f"tensor {name!r} is missing", path=path, offset=8)
    if tuple(arr.shape) != tuple(shape) or arr.dtype not in [np.dtype(d) for d in dtypes]:
        raise CorruptFileError(f"tensor {name!r} has shape {tuple(arr.shape)} dtype {arr.dtype}; "
                               f"the table header says shape {tuple(shape)} dtype "
                               f"{'/'.join(np.dtype(d).name for d in dtypes)}", path=path, offset=8)
    _aligned(path, name, arr)
    return arr


def _aligned(path, name, arr) -> None:
    # The memory map starts page-aligned, so this is the tensor's file offset modulo its item
    # size; omnivec's writer always aligns, and compiled kernels then read at full speed.
    if arr.size and arr.ctypes.data % arr.itemsize:
        raise CorruptFileError(f"tensor {name!r} is not aligned to its {arr.itemsize}-byte items "
                               "(omnivec writes every tensor aligned)", path=path, offset=8)


MAX_NGRAM = 64


def _key_sums(c: container.Container, table: str, fields: tuple[str, ...]) -> dict[str, str] | None:
    """Return the stored CRC-32s of a table's key arrays (None when the file has none)."""
    try:
        sums = container.parse_json(c.metadata.get("checksums", "{}"), what="checksums",
                                    path=c.path, offset=8, locate=False)
    except FormatError:
        return None
    if not isinstance(sums, dict):
        return None
    out = {f: sums[f"{table}.{f}"] for f in fields if isinstance(sums.get(f"{table}.{f}"), str)}
    return out or None


def _open_table(c: container.Container, name: str, tm, oov: bool | None) -> Embeddings:
    path = c.path

    def bad(msg: str):
        raise CorruptFileError(f"table {name!r}: {msg}", path=path, offset=8)

    if not isinstance(tm, dict):
        bad("header entry is not an object")
    missing = [f for f in ("n", "dim", "storage", "metric", "key_kind") if f not in tm]
    if missing:
        bad(f"header entry lacks {', '.join(missing)}")
    n, dim, storage, metric_name, kind = tm["n"], tm["dim"], tm["storage"], tm["metric"], tm["key_kind"]
    if not _is_int(n) or not _is_int(dim) or n < 0 or dim < 0:
        bad(f"n and dim must be non-negative integers, got n={n!r} dim={dim!r}")
    if not isinstance(storage, str) or storage not in STORAGE:
        bad(f"unknown storage {storage!r}; valid names are: {', '.join(STORAGE.names())}")
    if kind not in ("str", "int"):
        bad(f"key_kind must be 'str' or 'int', got {kind!r}")
    storage = STORAGE.get(storage)
    if not isinstance(metric_name, str):
        bad(f"metric must be a name, got {metric_name!r}")
    try:
        metric = get_metric(metric_name)
    except InputError as exc:
        bad(str(exc))
    t = {k[len(name) + 1:]: v for k, v in c.tensors.items() if k.startswith(name + ".")}
    width = (dim + 7) // 8 if storage == "binary" else dim
    vectors = _expect(path, f"{name}.vectors", t.get("vectors"), (n, width), [VECTOR_DTYPES[storage]])
    norms = _expect(path, f"{name}.norms", t.get("norms"), (n,), [np.float32])
    scale = None
    if storage in ("int8", "binary"):
        scale = _expect(path, f"{name}.scale", t.get("scale"), (dim,), [np.float32])
    rerank = None
    if "rerank" in t:
        if storage not in ("int8", "binary"):
            bad(f"tensor {name}.rerank is only valid beside int8 or binary vectors")
        rerank = _expect(path, f"{name}.rerank", t["rerank"], (n, dim), [np.float16, np.float32])
    index = t.get("key_index")
    if index is None or index.ndim != 1 or index.dtype != np.int64 or len(index) < max(1, n) \
            or len(index) & (len(index) - 1):
        bad(f"tensor {name}.key_index is missing or not a power-of-two int64 array of at least "
            f"{max(1, n)} slots")
    _aligned(path, f"{name}.key_index", index)
    if kind == "str":
        offsets = _expect(path, f"{name}.keys_offsets", t.get("keys_offsets"), (n + 1,), [np.int64])
        blob = t.get("keys_blob")
        if blob is None or blob.ndim != 1 or blob.dtype != np.uint8:
            bad(f"tensor {name}.keys_blob is missing or not a 1-D uint8 array")
        if offsets[0] != 0 or offsets[-1] != len(blob):
            bad(f"{name}.keys_offsets must run from 0 to {len(blob)} (the blob's length), got "
                f"{int(offsets[0])}..{int(offsets[-1])}")
        # Monotonic offsets are checked lazily (on each probe, lookup and block of iteration):
        # a full pass here would make open O(n).
        keys = KeyTable(kind="str", index=index, blob=blob, offsets=offsets, source=path,
                        checksums=_key_sums(c, name, ("key_index", "keys_blob", "keys_offsets")))
    else:
        ids = _expect(path, f"{name}.keys_ids", t.get("keys_ids"), (n,), [np.int64])
        keys = KeyTable(kind="int", index=index, ids=ids, source=path,
                        checksums=_key_sums(c, name, ("key_index", "keys_ids")))
    counts = None
    if tm.get("counts"):
        counts = _expect(path, f"{name}.counts", t.get("counts"), (n,), [np.int64])
    subwords = None
    if tm.get("subwords") is not None:
        subwords = _open_subwords(path, name, tm["subwords"], t, n, dim)
    def listed(field: str, prefix: str) -> dict[str, np.ndarray]:
        # the tensors a header field lists by name: extras (x.<name>), fitted arrays (f.<name>)
        names = tm.get(field, [])
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            bad(f"'{field}' must be a list of names, got {names!r}")
        out = {}
        for x in names:
            arr = t.get(f"{prefix}.{x}")
            if arr is None:
                bad(f"tensor {name}.{prefix}.{x} listed in the header is missing")
            out[x] = arr
        return out

    extras = listed("extras", "x")
    fitted = listed("fitted", "f")
    texts = None
    if tm.get("texts"):
        blob = t.get("texts_blob")
        if blob is None or blob.ndim != 1 or blob.dtype != np.uint8:
            bad(f"tensor {name}.texts_blob is missing or not a 1-D uint8 array")
        offsets = _expect(path, f"{name}.texts_offsets", t.get("texts_offsets"), (n + 1,), [np.int64])
        if offsets[0] != 0 or offsets[-1] != len(blob):
            bad(f"{name}.texts_offsets must run from 0 to {len(blob)} (the text blob's length), got "
                f"{int(offsets[0])}..{int(offsets[-1])}")
        # as for keys: each row's span is checked when it is read, `omnivec verify` checks them all
        texts = Texts(blob, offsets, source=path)
    meta = tm.get("meta") if isinstance(tm.get("meta"), dict) else {}
    scanned = vectors.nbytes + (rerank.nbytes if rerank is not None else 0)
    sums = _key_sums(c, name, ("vectors", "norms", "scale", "rerank")) if scanned <= SCAN_CHECK_BYTES else None
    store = VectorStore(data=vectors, dtype=storage, dim=dim, norms=norms, scale=scale, rerank=rerank,
                        checksums=sums, source=path)
    return Embeddings.from_parts(name=name, keys=keys, store=store, metric=metric, counts=counts,
                                 meta=meta, subwords=subwords, extras=extras, oov=oov, source=path,
                                 texts=texts, fitted=fitted)


def _open_subwords(path: str, name: str, sm, t: dict, n: int, dim: int) -> Subwords:
    def bad(msg: str):
        raise CorruptFileError(f"table {name!r}: bad subword settings ({msg})", path=path, offset=8)

    if not isinstance(sm, dict):
        bad(f"expected an object, got {sm!r}")
    for f in ("minn", "maxn", "bucket"):
        if not _is_int(sm.get(f)) or sm[f] < 0:
            bad(f"{f} must be a non-negative integer, got {sm.get(f)!r}")
    if sm["minn"] > sm["maxn"] or sm["maxn"] > MAX_NGRAM:
        bad(f"need 0 <= minn <= maxn <= {MAX_NGRAM}, got minn={sm['minn']} maxn={sm['maxn']}")
    if not isinstance(sm.get("kind", "fasttext"), str) or not isinstance(sm.get("settings", {}), dict):
        bad("kind must be a string and settings an object")
    _expect(path, f"{name}.subword_vectors", t.get("subword_vectors"), (sm["bucket"], dim), [np.float32])
    if t.get("subword_word_vectors") is not None:
        _expect(path, f"{name}.subword_word_vectors", t["subword_word_vectors"], (n, dim), [np.float32])
    out = t.get("subword_output")
    if out is not None and (out.ndim != 2 or out.dtype != np.float32 or out.shape[1] != dim):
        bad(f"subword_output has shape {out.shape} dtype {out.dtype}; expected (rows, {dim}) float32")
    return Subwords.from_stored(sm, t)


def _open_tables(path: str | os.PathLike, oov: bool | None) -> tuple[str, dict[str, Embeddings], str | None]:
    """Return (path, tables, kind) of a model file, memory-mapped (reads only the header)."""
    c = container.read(path)
    header = read_header(c)
    names = list(header["tables"])
    order = header.get("order")
    if isinstance(order, list) and sorted(map(str, order)) == sorted(names):
        names = [str(n) for n in order]
    tables = {name: _open_table(c, name, header["tables"][name], oov) for name in names}
    if not tables:
        raise CorruptFileError("the model file holds no tables", path=c.path, offset=8)
    kind = header.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in MODEL_KINDS):
        raise CorruptFileError(f"unknown model kind {kind!r}; this omnivec knows: "
                               f"{', '.join(MODEL_KINDS.names())}", path=c.path, offset=8)
    if kind is None and set(tables) == {"entities", "relations"} \
            and tables["entities"].meta.get("learner") == "kge":
        kind = "kge"   # written before files recorded their kind
    return c.path, tables, kind


def open_model(path: str | os.PathLike, *, oov: bool | None = None, as_class: type[Model] | None = None) -> Model:
    """Return every table of a model file as a Model (the typed view its kind names, or `as_class`)."""
    path, tables, kind = _open_tables(path, oov)
    cls = as_class or model_class(kind)
    if cls.kind and kind is not None and MODEL_KINDS.canonical(kind) != MODEL_KINDS.canonical(cls.kind):
        raise FormatError(f"a {kind!r} model, not a {cls.kind!r} one", path=path)
    try:
        return cls.from_tables(tables, path=path)
    except InputError as exc:
        raise FormatError(f"not a {cls.__name__}: {exc}", path=path) from None


def open_file(path: str | os.PathLike, *, oov: bool | None = None) -> Embeddings | Model:
    """Return what a model file holds: its one table, or a Model of several (typed by its kind)."""
    path, tables, kind = _open_tables(path, oov)
    if kind is None and len(tables) == 1:
        return next(iter(tables.values()))
    return model_class(kind).from_tables(tables, path=path)


def open_table(path: str | os.PathLike, *, table: str | None = None, oov: bool | None = None) -> Embeddings:
    """Return one table of a model file (the only one when table is None)."""
    path, tables, _ = _open_tables(path, oov)
    return Model(tables, path=path).table(table)


class _Codec:
    """The model-file codec that `Embeddings.save/open` and `Model.save/open` delegate to."""

    save = staticmethod(save_tables)
    open_model = staticmethod(open_model)
    open_table = staticmethod(open_table)


Embeddings.file_codec = _Codec()


def verify(path: str | os.PathLike) -> list[str]:
    """Return the problems found by a full check of a model file (empty when it is sound).

    Checks every tensor's CRC-32, then each table: its header against its
    tensors, its key index (every key is found at its own row, every row is
    indexed once), its key offsets and UTF-8, that norms and scales are
    finite, and its text column's offsets and UTF-8.  A file that is not a model at all, or of a newer format version,
    raises FormatError / UnsupportedVersionError instead.
    """
    c = container.read(path)
    read_header(c)
    problems = container.verify_checksums(c)
    if problems:
        return problems
    from ..core import _key_kernels as K

    try:
        _, tables, _ = _open_tables(path, False)
    except CorruptFileError as exc:
        return [str(exc)]
    for name, emb in tables.items():
        keys = emb.keys
        n = len(keys)
        if not K.check_index(keys.index, n):
            problems.append(f"table {name!r}: the key index does not map each row exactly once")
            continue
        if keys.kind == "str":
            steps = np.diff(keys.offsets)
            if (steps < 0).any():
                problems.append(f"table {name!r}: keys_offsets decrease at row "
                                f"{int(np.flatnonzero(steps < 0)[0])}")
                continue
            out = np.empty(n, np.int64)
            K.probe_str_many(keys.blob, keys.offsets, keys.index, keys.blob, keys.offsets, out)
            try:
                bytes(keys.blob).decode("utf-8")
                starts = keys.offsets[:-1][steps > 0]
                split = np.flatnonzero((keys.blob[starts] & 0xC0) == 0x80)
                if len(split):
                    problems.append(f"table {name!r}: a key boundary splits a UTF-8 character "
                                    f"at blob byte {int(starts[split[0]])}")
            except UnicodeDecodeError as exc:
                problems.append(f"table {name!r}: keys are not valid UTF-8 at blob byte {exc.start}")
        else:
            out = np.empty(n, np.int64)
            K.probe_int_many(keys.ids, keys.index, keys.ids, out)
        bad = np.flatnonzero(out != np.arange(n))
        if len(bad):
            problems.append(f"table {name!r}: key at row {int(bad[0])} is not found at its row "
                            f"({len(bad)} such rows: a damaged index or a repeated key)")
        if not np.isfinite(emb.store.norms).all():
            problems.append(f"table {name!r}: some vector norms are NaN or infinite")
        elif emb.store.scale is None or np.isfinite(emb.store.scale).all():
            for s, blk in emb.store.iter_chunks():
                real = np.sqrt(np.einsum("ij,ij->i", blk, blk, dtype=np.float64))
                off = np.flatnonzero(~np.isclose(real, emb.store.norms[s:s + len(blk)],
                                                 rtol=1e-4, atol=1e-6))
                if len(off):
                    problems.append(f"table {name!r}: the stored norm of row {s + int(off[0])} "
                                    f"is not the norm of its vector")
                    break
        if emb.store.scale is not None and not np.isfinite(emb.store.scale).all():
            problems.append(f"table {name!r}: some per-dimension scales are NaN or infinite")
        if emb.texts is not None:
            problems.extend(f"table {name!r}: {p}" for p in emb.texts.problems())
    return problems
