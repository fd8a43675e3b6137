"""Distributed encoding on Ray Data: texts -> vectors on an actor pool -> a sharded table.

    table = encode(texts, "static.ov", "out/", ray_address="127.0.0.1:6379", workers=2, shards=4)

Each actor of the pool builds the encoder once (one model per actor; a GPU
each when `gpus_per_worker` is set) and encodes batches (`map_batches`).
Every row carries its id; the rows are grouped by the shard their id routes
to, and each group is written as one shard file, sorted by id, atomically
(`map_groups`).  Ray re-runs the batch of a worker that dies (its actor is
restarted); a re-run writes the same rows again into the same shard file,
never a second copy.  Before the manifest is written the shards are checked
against the input: the number of rows and the order-free checksum of the ids
must both match, else ClusterError says how many are missing or repeated.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ClusterError, DuplicateKeyError, InputError
from .cluster import connect, ray_module
from .shards import (Manifest, ShardEntry, ShardedTable, SUFFIX, combine_checksums, ids_checksum, key_hashes,
                     shard_file_name, shard_of_hashes)


# -- the encoder each actor builds ------------------------------------------------------------

def make_encoder(spec: Any, device: str = "cpu"):
    """Return an encoder built from `spec`: a static model file, a sentence-transformers name or folder,
    or a zero-argument callable that returns an object with ``encode(list_of_texts) -> (n, dim) array``."""
    if callable(spec) and not isinstance(spec, (str, os.PathLike)):
        return spec()
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"encoder must be a static model file, a sentence-transformers model name or "
                         f"folder, or a callable that builds an encoder; got {type(spec).__name__}")
    path = os.fspath(spec)
    if os.path.isfile(path):
        from ..store.model import open_file

        enc = open_file(path)
        if not hasattr(enc, "encode"):
            raise InputError(f"{path} holds no encoder (a static model from `omnivec distill` is one)")
        return enc
    from ..encode.sentence import SentenceEncoder

    return SentenceEncoder(path, device=device, progress=False)


class EncodeBatches:
    """One actor's work: the encoder built once, then batches of {id, text} -> {id, vector, shard}."""

    def __init__(self, spec: Any, n_shards: int, device: str, keep_texts: bool) -> None:
        self.encoder = make_encoder(spec, device)
        self.n_shards = n_shards
        self.keep_texts = keep_texts

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"].tolist()]
        vectors = np.ascontiguousarray(self.encoder.encode(texts), dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ClusterError(f"the encoder returned {vectors.shape[0]} vectors for {len(texts)} texts")
        ids = batch["id"]
        out = {"id": ids, "vector": vectors,
               "shard": shard_of_hashes(key_hashes(ids if ids.dtype.kind in "iu" else ids.tolist()),
                                        self.n_shards)}
        if self.keep_texts:
            out["text"] = batch["text"]
        return out


def write_group(batch: dict, folder: str, manifest_name: str, n_shards: int, table: str, meta: dict) -> dict:
    """Return the summary of writing one shard's rows (one group) as its model file, sorted by id.

    A row whose id appears twice (a batch delivered twice) is written once;
    the summary counts such rows so the driver can report them.
    """
    from ..embeddings import Embeddings

    ids = batch["id"]
    shard = int(batch["shard"][0])
    if ids.dtype.kind not in "iu":
        ids = np.asarray([str(x) for x in ids.tolist()], dtype=object)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    keep = np.ones(len(ids), bool)
    keep[1:] = ids[1:] != ids[:-1]
    rows = order[keep]
    keys = ids[keep].tolist()
    vectors = np.asarray(batch["vector"], np.float32)[rows]
    texts = None
    if "text" in batch:
        texts = [str(t) for t in np.asarray(batch["text"])[rows].tolist()]
    emb = Embeddings(keys, vectors, name=table, meta=dict(meta), texts=texts)
    name = shard_file_name(manifest_name, shard, n_shards)
    emb.save(Path(folder) / name)
    return {"shard": np.array([shard]), "rows": np.array([len(keys)]), "repeated": np.array([int((~keep).sum())]),
            "ids_checksum": np.array([ids_checksum(key_hashes(keys))]), "path": np.array([name]),
            "dim": np.array([vectors.shape[1]])}


# -- the driver ----------------------------------------------------------------------------------

def encode(texts: Sequence[str] | str | os.PathLike, encoder: Any, out_dir: str | os.PathLike, *,
           ids: Sequence[Any] | None = None, ray_address: str | None = None, workers: int = 2,
           shards: int | None = None, batch_size: int = 512, name: str = "docs", keep_texts: bool = True,
           cpus_per_worker: float = 1.0, gpus_per_worker: float | None = None,
           id_column: str = "id", text_column: str = "text") -> ShardedTable:
    """Return the sharded table of `texts` encoded on a Ray cluster by `workers` actors, written to out_dir.

    `texts`: a list of strings (ids 0..n-1 unless `ids` are given), a Parquet
    file or folder (columns `id_column` and `text_column`, read by Ray Data
    in streaming blocks), or a TSV/JSONL/text corpus file (read as `omnivec
    encode` reads it).  `encoder`: a static model file, a
    sentence-transformers name or folder, or a zero-argument callable
    returning an object with ``encode(texts)``; each actor builds its own.
    GPUs are used when `gpus_per_worker` is set (or the cluster has GPUs and
    it is None).  `out_dir` must be a folder every node writes to (one
    machine, or shared storage); it receives ``<name>.ovs`` and the shard
    files.  ClusterError when the written rows differ from the input's ids
    (count or checksum).
    """
    for value, what in ((workers, "workers"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{what} must be an int >= 1; got {value!r}")
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int) or shards < 1):
        raise InputError(f"shards must be an int >= 1; got {shards!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ray = connect(ray_address, purpose="distributed encoding")
    rd = ray_module("distributed encoding").data
    ctx = rd.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False

    t0 = time.perf_counter()
    ds, expected_ids = _dataset(rd, texts, ids, id_column, text_column, workers)
    n = len(expected_ids)
    if n == 0:
        raise InputError("no texts to encode")
    hashes = key_hashes(expected_ids)
    expected = ids_checksum(hashes)
    n_shards = shards or workers
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    device = "cuda" if gpus_per_worker else "cpu"
    manifest_path = out / f"{name}{SUFFIX}"
    meta = {"encoded_by": "omnivec.distributed.encode",
            "encoded_with": encoder if isinstance(encoder, str) else type(encoder).__qualname__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    encoded = ds.map_batches(EncodeBatches, fn_constructor_args=(encoder, n_shards, device, keep_texts),
                             batch_size=batch_size, batch_format="numpy",
                             compute=rd.ActorPoolStrategy(size=workers),
                             num_cpus=cpus_per_worker, num_gpus=gpus_per_worker or None)
    written = encoded.groupby("shard").map_groups(
        write_group, fn_args=(os.fspath(out), manifest_path.name, n_shards, name, meta), batch_format="numpy")
    try:
        parts = written.take_all()
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"encoding on the cluster failed: {str(exc).strip().splitlines()[-1][:500]}") from None
    by_shard = {int(p["shard"]): p for p in parts}
    dims = {int(p["dim"]) for p in parts}
    if len(dims) != 1:
        raise ClusterError(f"the shards were encoded with different widths {sorted(dims)}")
    dim = dims.pop()
    entries = []
    for s in range(n_shards):
        p = by_shard.get(s)
        if p is None:      # no id routes here: an empty shard keeps the routing's count
            fname = shard_file_name(manifest_path.name, s, n_shards)
            _empty_shard(out / fname, dim, name, meta, ints=np.asarray(expected_ids).dtype.kind in "iu")
            entries.append(ShardEntry(fname, 0, ids_checksum(np.zeros(0, np.uint64))))
        else:
            entries.append(ShardEntry(str(p["path"]), int(p["rows"]), str(p["ids_checksum"])))
    rows = sum(e.rows for e in entries)
    got = combine_checksums(e.ids_checksum for e in entries)
    repeated = sum(int(p["repeated"]) for p in parts)
    if rows != n or got != expected:
        raise ClusterError(f"the encoded shards hold {rows:,} rows with id checksum {got}; the input has "
                           f"{n:,} ids with checksum {expected}: rows were lost or repeated; no manifest "
                           "was written")
    key_kind = "int" if np.asarray(expected_ids).dtype.kind in "iu" else "str"
    m = Manifest(table=name, rows=n, dim=dim, metric="cosine", key_kind=key_kind, shards=entries,
                 ids_checksum=expected,
                 meta={**meta, "workers": workers, "batch_size": batch_size, "seconds": time.perf_counter() - t0,
                       "repeated_rows_dropped": repeated})
    m.write(manifest_path)
    return ShardedTable(m)


def _dataset(rd, texts, ids, id_column: str, text_column: str, workers: int):
    """Return (a Ray dataset of {id, text}, the input's ids)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(texts, (str, os.PathLike)):
        path = os.fspath(texts)
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file or folder")
        if path.endswith(".parquet") or os.path.isdir(path):
            if ids is not None:
                raise InputError("ids come from the Parquet file's id column; do not pass ids=")
            expected = pq.read_table(path, columns=[id_column]).column(id_column).to_numpy(zero_copy_only=False)
            ds = rd.read_parquet(path, columns=[id_column, text_column])
            if (id_column, text_column) != ("id", "text"):
                ds = ds.rename_columns({id_column: "id", text_column: "text"})
            _unique(expected, path)
            return ds, _native(expected)
        from ..encode.corpus import read_documents

        docs = list(read_documents(path))
        texts = [d.text for d in docs]
        given = [d.id for d in docs]
        if ids is None and all(g is not None for g in given):
            ids = given
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise InputError("texts must be strings")
    if ids is None:
        ids = np.arange(len(texts), dtype=np.int64)
    else:
        ids = list(ids)
        if len(ids) != len(texts):
            raise InputError(f"{len(ids)} ids for {len(texts)} texts; each text needs one id")
        ids = _native(np.asarray(ids))
    _unique(ids, "the ids")
    table = pa.table({"id": ids, "text": texts})
    blocks = max(workers * 4, 1)
    step = max(1, -(-len(texts) // blocks))
    ds = rd.from_arrow([table.slice(i, step) for i in range(0, len(texts), step)] or [table])
    return ds, ids


def _native(ids: np.ndarray) -> np.ndarray:
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64)
    if not all(isinstance(x, str) for x in ids.tolist()):
        raise InputError("ids must be all int or all str")
    return ids.astype(object)


def _unique(ids: np.ndarray, where: str) -> None:
    vals = ids.tolist()
    if len(set(vals)) != len(vals):
        seen = set()
        for v in vals:
            if v in seen:
                raise DuplicateKeyError(f"{where}: id {v!r} appears more than once; each text needs its own id")
            seen.add(v)


def _empty_shard(path: Path, dim: int, name: str, meta: dict, *, ints: bool) -> None:
    from ..embeddings import Embeddings

    Embeddings(np.zeros(0, np.int64) if ints else [], np.zeros((0, dim), np.float32), name=name,
               meta=dict(meta)).save(path)


__all__ = ["EncodeBatches", "encode", "make_encoder", "write_group"]
