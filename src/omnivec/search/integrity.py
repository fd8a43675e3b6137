"""Reading an index file safely: every byte checked before an engine sees it.

Engines deserialise without checking (a damaged usearch graph reads out of
bounds, FAISS throws from deep inside), so `read_index_file` checks, in this
order, and raises at the first problem, naming the file and the part:

1. the container and the index header (format, version, backend);
2. the header's facts: sizes, counts, dimension, metric, parameters, and the
   fingerprint against the table when one is given (FormatError: rebuild);
3. the CRC-32 of every tensor (`omnivec._checksum.crc32`, as written);
4. the tensors: names, shapes, dtypes, the delete mask, finite added vectors,
   added keys (offsets, UTF-8, no live key twice, none shadowing a live row);
5. the engine's own bytes, parsed by the backend's `_engine_check` (the
   usearch graph, the FAISS lists) with every count, offset and id bounded.

`verify_index(path)` runs the same checks and reports them instead of raising;
`omnivec verify` calls it for index files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, FormatError, InputError
from ..metrics import METRICS, Metric
from ..store import container
from ..core.keys import Key
from .index import BACKENDS, REBUILD, Index, _fingerprint_problem, fingerprint, read_index_header

KEY_TENSORS = {"str": ("extra_keys_blob", "extra_keys_offsets"), "int": ("extra_keys_ids",)}
MAX_DIM = 1 << 20
FEW_KEYS = 4096


@dataclass
class IndexFile:
    """An index file read and checked: what an engine is handed once every check passed."""

    path: str
    backend: type[Index]
    head: dict
    params: dict[str, Any]
    fingerprint: dict
    n_base: int
    dim: int
    metric: Metric
    key_kind: str
    deleted: np.ndarray = field(repr=False)          # bool, one per id
    extra_keys: list[Key] = field(repr=False)
    extra_vectors: np.ndarray = field(repr=False)    # (added keys x dim) float32
    engine: np.ndarray = field(repr=False)           # uint8: exactly the engine's bytes
    engine_offset: int = 0                           # where they start in the file
    checks: list[str] = field(default_factory=list)  # what passed, in order

    @property
    def total(self) -> int:
        """Return the number of ids (table rows + added keys)."""
        return len(self.deleted)


def _corrupt(path, part: str, message: str, offset: int | None = None) -> CorruptFileError:
    return CorruptFileError(f"{part}: {message}{REBUILD}", path=path, offset=offset)


def _count(head: dict, name: str, path, *, low: int = 0) -> int:
    v = head.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise _corrupt(path, "the index header", f"{name!r} is {v!r}; expected an integer >= {low}", 8)
    return v


def _check_head(path: str, head: dict, backend: str | None) -> tuple[type[Index], dict, dict, int, int, int, int]:
    """Return (backend class, params, fingerprint, n_base, n_extra, dim, engine bytes) from a sane header."""
    name = head.get("backend")
    if not isinstance(name, str) or name not in BACKENDS:
        raise _corrupt(path, "the index header", f"backend {name!r}; valid ones are: "
                       f"{', '.join(BACKENDS.names())}", 8)
    cls = BACKENDS.get(name)
    if backend is not None and cls is not BACKENDS.get(backend):
        raise FormatError(f"a {cls.name} index, not a {BACKENDS.canonical(backend)} one", path=path)
    n_base, n_extra = _count(head, "n_base", path), _count(head, "n_extra", path)
    dim, nbytes = _count(head, "dim", path, low=1), _count(head, "engine_bytes", path)
    if dim > MAX_DIM:
        raise _corrupt(path, "the index header", f"dim is {dim}; at most {MAX_DIM} is supported", 8)
    params = head.get("params")
    if not isinstance(params, dict):
        raise _corrupt(path, "the index header", f"params is {type(params).__name__}, not an object", 8)
    try:
        params = cls.check_params(params)
    except InputError as exc:
        raise _corrupt(path, "the index header's params", str(exc), 8) from None
    fp = head.get("fingerprint")
    sums = fp.get("crc32") if isinstance(fp, dict) else None
    if (not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values())
            or not isinstance(fp.get("table"), str) or not isinstance(fp.get("storage"), str)):
        raise _corrupt(path, "the index header's fingerprint", "expected table, n, dim, metric, storage "
                       "and crc32 entries", 8)
    if fp.get("n") != n_base or fp.get("dim") != dim:
        raise _corrupt(path, "the index header's fingerprint", f"{fp.get('n')!r} rows of {fp.get('dim')!r} dims; "
                       f"the header says {n_base} rows of {dim}", 8)
    if not isinstance(fp.get("metric"), str) or fp["metric"] not in METRICS:
        raise _corrupt(path, "the index header's fingerprint", f"metric {fp.get('metric')!r}; valid ones are: "
                       f"{', '.join(METRICS.names())}", 8)
    return cls, params, fp, n_base, n_extra, dim, nbytes


_tensor = partial(container.expect_tensor, hint=REBUILD)
_start = container.tensor_start


def _extra_keys(c: container.Container, kind: str, n_extra: int) -> list[Key]:
    if kind == "int":
        return _tensor(c, "extra_keys_ids", (n_extra,), np.int64).tolist()
    offsets = _tensor(c, "extra_keys_offsets", (n_extra + 1,), np.int64)
    blob = _tensor(c, "extra_keys_blob", None, np.uint8)
    if blob.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any():
        raise _corrupt(c.path, "tensor 'extra_keys_offsets'", "the offsets do not run from 0 to the "
                       "blob's length", _start(c, "extra_keys_offsets"))
    raw = bytes(blob)
    try:
        return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise _corrupt(c.path, "tensor 'extra_keys_blob'", f"an added key is not valid UTF-8 ({exc})",
                       _start(c, "extra_keys_blob")) from None


def _check_extras(path: str, keys: list[Key], deleted: np.ndarray, n_base: int, emb) -> None:
    """Refuse a live added key twice, or one that shadows a live row of the table."""
    live = [k for k, gone in zip(keys, deleted[n_base:].tolist()) if not gone]
    if len(set(live)) != len(live):
        seen: set = set()
        dup = next(k for k in live if k in seen or seen.add(k))
        raise _corrupt(path, "the added keys", f"key {dup!r} is live twice")
    if emb is not None and live:
        # One probe a key loads no compiler (opening stays light); many go through the batch kernel.
        rows = (np.array([emb.keys.row(k) for k in live], np.int64) if len(live) <= FEW_KEYS
                else emb.keys.rows(live))
        clash = (rows >= 0) & ~deleted[np.maximum(rows, 0)]
        if clash.any():
            k = live[int(np.flatnonzero(clash)[0])]
            raise _corrupt(path, "the added keys", f"key {k!r} is added while its table row is live")


def _read_tensors(c: container.Container, kind: str, n_base: int, n_extra: int, dim: int, nbytes: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Key]]:
    """Return (engine bytes, delete mask, added vectors, added keys) after checking each tensor."""
    path = c.path
    expected = {"engine", "deleted", "extra_vectors", *KEY_TENSORS[kind]}
    extra = sorted(set(c.entries) - expected)
    if extra:
        raise _corrupt(path, "tensors", f"unexpected {', '.join(map(repr, extra))} in an index with {kind} "
                       f"keys", 8)
    engine = _tensor(c, "engine", ((nbytes + 7) // 8,), np.uint64).view(np.uint8)
    if engine[nbytes:].any():
        raise _corrupt(path, "tensor 'engine'", f"the padding after its {nbytes} bytes is not zero",
                       _start(c, "engine") + nbytes)
    deleted = _tensor(c, "deleted", (n_base + n_extra,), np.uint8)
    if (deleted > 1).any():
        i = int(np.flatnonzero(deleted > 1)[0])
        raise _corrupt(path, "tensor 'deleted'", f"entry {i} is {int(deleted[i])}; expected 0 or 1",
                       _start(c, "deleted") + i)
    vectors = _tensor(c, "extra_vectors", (n_extra, dim), np.float32)
    if not np.isfinite(vectors).all():
        i = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise _corrupt(path, "tensor 'extra_vectors'", f"added vector {i} holds NaN or infinity",
                       _start(c, "extra_vectors") + 4 * dim * i)
    return engine[:nbytes], deleted.astype(bool), vectors, _extra_keys(c, kind, n_extra)


def read_index_file(path: str | os.PathLike, emb=None, *, backend: str | None = None,
                    checks: list[str] | None = None) -> IndexFile:
    """Return the checked contents of the index file at `path`, or raise naming the part that failed.

    With `emb`, the index must belong to that table (FormatError otherwise).
    `checks`, when given, receives one line per check as it passes.
    """
    path = os.fspath(path)
    done = [] if checks is None else checks
    c, head = read_index_header(path)
    cls, params, fp, n_base, n_extra, dim, nbytes = _check_head(path, head, backend)
    done.append(f"header: {cls.name} index of {n_base + n_extra:,} ids ({n_base:,} rows + {n_extra:,} added), "
                f"{dim} dims, metric {fp['metric']}")
    if emb is not None:
        problem = _fingerprint_problem(fp, fingerprint(emb))
        if problem:
            raise FormatError(f"this {cls.name} index does not belong to table {emb.name!r}"
                              f"{' of ' + emb.source if emb.source else ''}: {problem}. "
                              f"Rebuild it with `omnivec index build`", path=path)
        done.append(f"table: built over table {emb.name!r} ({len(emb):,} rows, same vectors and keys)")
    bad = container.verify_checksums(c)
    if bad:
        raise _corrupt(path, "checksums", "; ".join(bad))
    done.append(f"CRC-32 of {len(c.entries)} tensors ({os.path.getsize(path):,} bytes)")
    kind = emb.keys.kind if emb is not None else ("int" if "extra_keys_ids" in c.entries else "str")
    engine, deleted, vectors, keys = _read_tensors(c, kind, n_base, n_extra, dim, nbytes)
    _check_extras(path, keys, deleted, n_base, emb)
    done.append(f"tensors: delete mask ({int(deleted.sum()):,} deleted), {n_extra:,} added keys and "
                f"finite vectors")
    f = IndexFile(path=path, backend=cls, head=head, params=params, fingerprint=fp, n_base=n_base, dim=dim,
                  metric=METRICS.get(fp["metric"]), key_kind=kind, deleted=deleted, extra_keys=keys,
                  extra_vectors=vectors, engine=engine, engine_offset=_start(c, "engine"),
                  checks=done)
    done.append(cls._engine_check(f))
    return f


def _model_beside(path: str, table: str | None):
    """Return (the table the index file's name points to, the model path), or (None, None)."""
    from ..store.model import open_table

    p = Path(path)
    if p.suffix[1:] not in BACKENDS or not p.with_suffix("").is_file():
        return None, None
    model = os.fspath(p.with_suffix(""))
    try:
        return open_table(model, table=table, oov=False), model
    except (FormatError, KeyError, InputError):
        return None, model


def verify_index(path: str | os.PathLike, emb=None) -> dict:
    """Return the result of a full check of an index file: ok, the checks passed and the problems.

    Without `emb`, the table is the one of the model file beside the index
    (`<model>.hnsw` belongs to `<model>`) when there is one.  A file that is
    not an index at all, or of a newer format, raises FormatError instead.
    """
    path = os.fspath(path)
    c, head = read_index_header(path)
    model = emb.source if emb is not None else None
    if emb is None:
        fp = head.get("fingerprint")
        emb, model = _model_beside(path, fp.get("table") if isinstance(fp, dict) else None)
    checks: list[str] = []
    problems: list[str] = []
    try:
        read_index_file(path, emb, checks=checks)
    except FormatError as exc:
        problems.append(str(exc))
    notes = []
    if emb is None:
        notes.append("the table was not checked: " + (f"{model} could not be opened" if model else
                                                      "no model file beside the index"))
    return {"path": path, "kind": "index", "backend": head.get("backend"), "ok": not problems,
            "checks": checks, "problems": problems, "notes": notes, "model": model,
            "table": None if emb is None else emb.name,
            "tensors": len(c.entries), "bytes": os.path.getsize(path)}
