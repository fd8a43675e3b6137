"""numpy .npy arrays plus a keys file (one key per line, or a Parquet key column).

The array is read with plain reads in blocks (never pickles: object arrays
are refused); keys come from `keys_file` or ``<base>.keys.txt`` beside it.
An export writes the float32 array and the keys file beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..._progress import progress as _progress
from ...errors import FormatError, InputError, ParseError
from .registry import register_format
from .report import ImportReport
from .rows import WRITE_BLOCK, _compact_keys, _copy_finite, _key_arrays, _Options, _Parsed, _Rows


def _read_npy(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        pickled = any(w in str(exc) for w in ("allow_pickle", "bject arrays", "Python objects"))
        why = " (object arrays are refused: they are pickles)" if pickled else ""
        raise FormatError(f"cannot read this .npy file: {exc}{why}", path=path) from None
    except (OSError, EOFError) as exc:
        raise FormatError(f"cannot read this .npy file (truncated?): {exc}", path=path) from None
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise FormatError(f"expected a 2-D numeric array (rows x dims), found shape {arr.shape} "
                          f"dtype {arr.dtype}", path=path)
    keys_path = o.keys_file or _default_keys_file(path)
    if keys_path is None:
        raise InputError(f"{path}: a .npy holds no keys; give keys_file= (--keys FILE: one key per line, UTF-8), "
                         f"or put them in {_strip_npy(path)}.keys.txt")
    n = arr.shape[0] if o.max_rows is None else min(arr.shape[0], o.max_rows)
    report.max_rows_reached = n < arr.shape[0]
    blob, offsets, where = _read_keys_file(os.fspath(keys_path), o, arr.shape[0])
    report.notes.append(f"keys from {keys_path}")
    blob, offsets, where = blob[:offsets[n]].copy(), offsets[:n + 1], where[:n]
    dim = arr.shape[1]
    report.dim = dim
    step = max(1, (16 * 2**20) // max(1, dim * arr.dtype.itemsize))
    data_start = arr.offset if isinstance(arr, np.memmap) and arr.flags.c_contiguous else None
    dtype = arr.dtype
    del arr   # read with plain reads below: mapped pages would count as resident memory

    def blocks():
        if data_start is None:
            src = np.load(path, mmap_mode="r", allow_pickle=False)
            for s in range(0, n, step):
                yield np.asarray(src[s:s + step])
            return
        with open(path, "rb") as fh:
            fh.seek(data_start)
            for s in range(0, n, step):
                m = min(step, n - s)
                blk = np.fromfile(fh, dtype, m * dim)
                if len(blk) != m * dim:
                    raise FormatError(f"the file ends inside row {s + len(blk) // dim:,} of "
                                      f"{n:,} (truncated?)", path=path, offset=fh.tell())
                yield blk.reshape(m, dim)

    sink = _Rows(max(n, 1), dim, path, o.spill_dir)
    try:
        rows, keep = _copy_finite(blocks(), n, dim, o, report, path, sink)
    except BaseException:
        sink.discard()
        raise
    if keep is not None:
        blob, offsets, where = _compact_keys(blob, offsets, keep, where)
    report.lines_read = n
    report.bytes_read = os.path.getsize(path)
    vectors, raw = sink.finish(rows)
    return _Parsed(vectors=vectors, blob=blob, offsets=offsets, where=where, keys_path=os.fspath(keys_path),
                   raw_path=raw, rows=rows, dim=dim)


def _strip_npy(path: str) -> str:
    return path[:-4] if path.lower().endswith(".npy") else path


def _default_keys_file(path: str) -> str | None:
    base = _strip_npy(path)
    for cand in (base + ".keys.txt", base + ".keys", base + ".txt"):
        if os.path.isfile(cand):
            return cand
    return None


def _read_keys_file(path: str, o: _Options, expected: int):
    """Return (blob, offsets, line numbers) of a keys file: one key per line, or a Parquet key column."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise FormatError("keys file not found", path=path) from None
    if head == b"PAR1":
        from .parquet import _parquet_keys_only

        blob, offsets, ids = _parquet_keys_only(path, o)
        if ids is not None:
            raise FormatError("the keys Parquet file holds integer keys; use a text or string column",
                              path=path)
    else:
        data = np.fromfile(path, np.uint8)
        if data[:3].tobytes() == b"\xef\xbb\xbf":
            data = data[3:]
        nls = np.flatnonzero(data == 10)
        ends = nls if (len(data) == 0 or (len(nls) and nls[-1] == len(data) - 1)) else np.append(nls, len(data))
        starts = np.concatenate(([0], nls[:len(ends) - 1] + 1)).astype(np.int64)
        ends = ends.astype(np.int64)
        cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13)
        ends = ends - cr
        lengths = ends - starts
        empty = np.flatnonzero(lengths == 0)
        if len(empty):
            r = int(empty[0])
            raise ParseError("an empty line: each line of a keys file holds one key", path=path,
                             line=r + 1, offset=int(starts[r]))
        offsets = np.zeros(len(starts) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # The key bytes are everything but the line ends ('\n', and '\r' before one).
        keep = np.ones(len(data), bool)
        keep[nls] = False
        keep[ends[cr]] = False
        blob = data[keep].copy()
    if len(offsets) - 1 != expected:
        raise FormatError(f"the keys file has {len(offsets) - 1:,} keys but the vectors have "
                          f"{expected:,} rows; each row needs one key", path=path)
    return blob, offsets, np.arange(1, len(offsets), dtype=np.int64)


def _write_npy(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    from ..container import atomic_path

    blob, offsets = _key_arrays(emb)
    lengths = np.diff(offsets)
    breaks = np.flatnonzero((blob == 10) | (blob == 13))
    bad = [int(np.searchsorted(offsets, breaks[0], side="right") - 1)] if len(breaks) else []
    bad += np.flatnonzero(lengths == 0)[:1].tolist()
    if bad:
        r = min(bad)
        raise InputError(f"key {emb.key(r)!r} (row {r}) is empty or holds a line break, which a keys "
                         "file (one key per line) cannot represent")
    keys_path = os.fspath(keys_file) if keys_file is not None else _strip_npy(path) + ".keys.txt"
    n, d = len(emb), emb.dim
    with atomic_path(path) as tmp, open(tmp, "wb") as fh, \
            _progress(f"Writing {Path(path).name}", n, unit="rows", enabled=progress) as task:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
        step = max(1, WRITE_BLOCK // max(1, 4 * d))
        for s in range(0, n, step):
            fh.write(np.ascontiguousarray(emb.store.decode(slice(s, s + step)), "<f4").tobytes())
            task.advance(min(step, n - s))
    with atomic_path(keys_path) as tmp, open(tmp, "wb") as fh:
        # Keys joined by newlines: bytes between offsets get a '\n' after each key.
        out = np.empty(len(blob) + n, np.uint8)
        dest = offsets[:-1] + np.arange(n)
        if n:
            idx = np.repeat(dest - offsets[:-1], lengths) + np.arange(len(blob))
            out[idx] = blob
            out[dest + lengths] = 10
        fh.write(out.tobytes())


def _keys_files(path: str, keys_file: str | None, *, write: bool) -> list[str | None]:
    """Return the keys file an import of `path` reads (None when there is none), or an export writes."""
    if keys_file is not None:
        return [os.fspath(keys_file)]
    return [_strip_npy(path) + ".keys.txt" if write else _default_keys_file(path)]


register_format("npy", "numpy .npy array plus a keys file (one key per line)", read=_read_npy, write=_write_npy,
                detect=lambda p: p.head.startswith(b"\x93NUMPY"), magic=True, extensions=(".npy",),
                suffixes=(".npy",), streams=True, aliases=("numpy",), companions=_keys_files)
