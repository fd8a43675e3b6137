"""Parquet: a key column and a list column (or one numeric column per dimension).

pyarrow loads only when a Parquet file is read or written (`pip install
omnivec[parquet]`); the columns are found from the schema unless
key_column / vector_column name them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..._progress import progress as _progress
from ...errors import FormatError, ParseError, require
from .registry import register_format
from .report import ImportReport
from .rows import _compact_keys, _Options, _Parsed, _Rows


def _pq():
    return require("pyarrow.parquet", "parquet", "Reading and writing Parquet vector files")


def _parquet_columns(schema, o: _Options, path: str):
    import pyarrow as pa

    names = schema.names
    types = {f.name: f.type for f in schema}

    def is_key(t):
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) \
            or pa.types.is_binary(t) or pa.types.is_large_binary(t)

    def is_list(t):
        return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) \
            and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type))

    def is_num(t):
        return pa.types.is_floating(t) or pa.types.is_integer(t)

    key = o.key_column
    if key is not None and key not in names:
        raise FormatError(f"no column {key!r}; the columns are: {', '.join(names)}", path=path)
    if key is None:
        strings = [c for c in names if pa.types.is_string(types[c]) or pa.types.is_large_string(types[c])]
        named = [c for c in names if c.lower() in ("key", "word", "token", "id", "name", "entity")
                 and is_key(types[c])]
        if len(strings) == 1:
            key = strings[0]
        elif named:
            key = named[0]
        else:
            raise FormatError(f"cannot tell the key column: give key_column= (the columns are "
                              f"{', '.join(f'{c} ({types[c]})' for c in names)})", path=path)
    if not is_key(types[key]):
        raise FormatError(f"key column {key!r} has type {types[key]}; keys are strings or integers",
                          path=path)
    vec = o.vector_column
    if vec is not None:
        if vec not in names:
            raise FormatError(f"no column {vec!r}; the columns are: {', '.join(names)}", path=path)
        if not is_list(types[vec]):
            raise FormatError(f"vector column {vec!r} has type {types[vec]}; expected a list of numbers",
                              path=path)
        return key, [vec], True
    lists = [c for c in names if c != key and is_list(types[c])]
    if len(lists) == 1:
        return key, lists, True
    if len(lists) > 1:
        raise FormatError(f"several list columns ({', '.join(lists)}); name the vectors with "
                          "vector_column=", path=path)
    dims = [c for c in names if c != key and is_num(types[c])]
    if not dims:
        raise FormatError(f"no vector column: expected one list column or one numeric column per "
                          f"dimension besides the keys ({key!r})", path=path)
    others = [c for c in names if c != key and c not in dims]
    if others:
        raise FormatError(f"columns {', '.join(others)} are neither keys nor numbers; "
                          "name the vectors with vector_column=", path=path)
    return key, dims, False


def _arrow_keys(col, path: str, row0: int, o: _Options):
    """Return (blob, offsets) or (None, ids) for one Arrow key column chunk."""
    import pyarrow as pa

    if col.null_count:
        r = row0 + int(np.flatnonzero(~np.asarray(col.is_valid()))[0])
        raise ParseError(f"row {r:,}: the key is null", path=path)
    t = col.type
    if pa.types.is_integer(t):
        return None, col.to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = col.cast(pa.large_binary())
    elif pa.types.is_binary(t):
        col = col.cast(pa.large_binary())
    bufs = col.buffers()
    offs = np.frombuffer(bufs[1], np.int64)[col.offset:col.offset + len(col) + 1]
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    blob = data[offs[0]:offs[-1]].copy()
    return blob, (offs - offs[0]).astype(np.int64)


def _parquet_keys_only(path: str, o: _Options):
    pq = _pq()
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    import pyarrow as pa

    cols = [c for c in names if pa.types.is_string(pf.schema_arrow.field(c).type)
            or pa.types.is_large_string(pf.schema_arrow.field(c).type)]
    key = o.key_column or (cols[0] if cols else names[0])
    table = pf.read(columns=[key])
    col = table.column(0).combine_chunks()
    blob, offsets = _arrow_keys(col, path, 0, o)
    if blob is None:
        return None, None, offsets
    return blob, offsets, None


def _read_parquet(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    pq = _pq()
    import pyarrow as pa

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"cannot read this Parquet file: {exc}", path=path) from None
    key, vcols, is_list = _parquet_columns(pf.schema_arrow, o, path)
    total = pf.metadata.num_rows
    n = total if o.max_rows is None else min(total, o.max_rows)
    report.max_rows_reached = n < total
    if is_list:
        t = pf.schema_arrow.field(vcols[0]).type
        dim = t.list_size if pa.types.is_fixed_size_list(t) else None
    else:
        dim = len(vcols)
    blobs, offs_list, ids_list = [], [], []
    sink = None
    w = 0
    r0 = 0
    keep_all = []
    try:
        batches = pf.iter_batches(batch_size=8192, columns=[key, *vcols])
        with _progress(f"Importing {Path(path).name}", n, unit="rows", enabled=o.progress) as task:
            for batch in batches:
                if r0 >= n:
                    break
                batch = batch.slice(0, n - r0)
                m = batch.num_rows
                if is_list:
                    col = batch.column(1)
                    if col.null_count:
                        r = r0 + int(np.flatnonzero(~np.asarray(col.is_valid()))[0])
                        raise ParseError(f"row {r:,}: the vector is null", path=path)
                    if not pa.types.is_fixed_size_list(col.type):
                        lo = np.asarray(col.offsets)
                        lens = np.diff(lo)
                        if dim is None:
                            dim = int(lens[0]) if m else 0
                            if dim < 1:
                                raise ParseError(f"row {r0:,}: an empty vector", path=path)
                        bad = np.flatnonzero(lens != dim)
                        if len(bad):
                            r = int(bad[0])
                            raise ParseError(f"row {r0 + r:,}: expected {dim} values (as in row 0), "
                                             f"found {int(lens[r])}", path=path)
                    vals = col.flatten().to_numpy(zero_copy_only=False)
                    blk = vals.reshape(m, dim)
                else:
                    blk = np.column_stack([batch.column(i + 1).to_numpy(zero_copy_only=False)
                                           for i in range(len(vcols))])
                    if batch.column(1).null_count or any(batch.column(i + 1).null_count
                                                         for i in range(len(vcols))):
                        raise ParseError(f"rows {r0:,}..{r0 + m - 1:,} hold null values", path=path)
                if sink is None:
                    sink = _Rows(max(n, 1), dim, path, o.spill_dir)
                    report.dim = dim
                with np.errstate(over="ignore", invalid="ignore"):
                    blk = np.asarray(blk, np.float32)
                bad = ~np.isfinite(blk).all(axis=1)
                keep = None
                if bad.any():
                    r = r0 + int(np.flatnonzero(bad)[0])
                    if o.nan == "error":
                        raise ParseError(f"row {r:,} holds NaN or infinity (or a value beyond float32's "
                                         "range); pass nan='skip' (--nan skip) to drop such rows or nan='zero' (--nan zero) to "
                                         "zero them", path=path)
                    if report.first_nan_line is None:
                        report.first_nan_line = r + 1
                    report.nan_rows += int(bad.sum())
                    if o.nan == "zero":
                        blk = blk.copy()
                        blk[bad] = 0
                    else:
                        keep = ~bad
                        blk = blk[keep]
                out, at, _ = sink.prepare(w, len(blk))
                out[at:at + len(blk)] = blk
                sink.commit(w, w + len(blk))
                w += len(blk)
                kb, ko = _arrow_keys(batch.column(0), path, r0, o)
                if kb is None:
                    ids_list.append(ko if keep is None else ko[keep])
                else:
                    if keep is not None:
                        kb, ko, _ = _compact_keys(kb, ko, keep, np.zeros(len(keep), np.int64))
                    blobs.append(kb)
                    offs_list.append(ko)
                keep_all.append(np.ones(m, bool) if keep is None else keep)
                r0 += m
                task.advance(m)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        if sink is not None:
            sink.discard()
        raise FormatError(f"cannot read this Parquet file (truncated or damaged?): {exc}",
                          path=path) from None
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    if sink is None:
        raise FormatError("the Parquet file holds no rows", path=path)
    vectors, raw = sink.finish(w)
    rows_line = np.flatnonzero(np.concatenate(keep_all)).astype(np.int64) + 1 if keep_all else np.zeros(0, np.int64)
    report.lines_read = r0
    report.bytes_read = os.path.getsize(path)
    if ids_list:
        return _Parsed(vectors=vectors, blob=None, offsets=None, ids=np.concatenate(ids_list), where=rows_line,
                       raw_path=raw, rows=w, dim=dim)
    total_len = sum(len(b) for b in blobs)
    blob = np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)
    offsets = np.zeros(w + 1, np.int64)
    pos, base = 1, 0
    for ko in offs_list:
        k = len(ko) - 1
        offsets[pos:pos + k] = ko[1:] + base
        base += int(ko[-1])
        pos += k
    assert base == total_len
    return _Parsed(vectors=vectors, blob=blob, offsets=offsets, where=rows_line, raw_path=raw, rows=w, dim=dim)


def _write_parquet(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    pq = _pq()
    import pyarrow as pa

    from ..container import atomic_path

    n, d = len(emb), emb.dim
    keys = emb.keys.checked()
    key_type = pa.string() if keys.kind == "str" else pa.int64()
    schema = pa.schema([pa.field("key", key_type, nullable=False),
                        pa.field("vector", pa.list_(pa.float32(), d), nullable=False)],
                       metadata={b"omnivec": f'{{"metric": "{emb.metric}", "dim": {d}}}'.encode()})
    step = 65536
    with atomic_path(path) as tmp, _progress(f"Writing {Path(path).name}", n, unit="rows",
                                             enabled=progress) as task:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            for s in range(0, n, step):
                e = min(n, s + step)
                if keys.kind == "str":
                    offs = np.asarray(keys.offsets[s:e + 1])
                    rel = (offs - offs[0]).astype(np.int32)
                    data = np.asarray(keys.blob[offs[0]:offs[-1]])
                    karr = pa.StringArray.from_buffers(e - s, pa.py_buffer(rel.tobytes()),
                                                       pa.py_buffer(data.tobytes()))
                else:
                    karr = pa.array(np.asarray(keys.ids[s:e]), pa.int64())
                blk = np.ascontiguousarray(emb.store.decode(slice(s, e)), np.float32)
                varr = pa.FixedSizeListArray.from_arrays(pa.array(blk.reshape(-1)), d)
                writer.write_table(pa.Table.from_arrays([karr, varr], schema=schema))
                task.advance(e - s)


register_format("parquet", "Parquet: a key column and a list column (or one column per dimension)",
                read=_read_parquet, write=_write_parquet, detect=lambda p: p.head.startswith(b"PAR1"),
                magic=True, extensions=(".parquet", ".pq"), suffixes=(".parquet", ".pq"), streams=True,
                aliases=("pq",))
