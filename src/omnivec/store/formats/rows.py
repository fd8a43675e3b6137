"""The reading and writing machinery the format modules share.

Options and their checks, the parsed table before it becomes Embeddings
(`_Parsed`), where parsed rows go (`_Rows`: a growing array, or batch by
batch to a raw temporary file), buffer filling for the streaming parsers,
the NaN policy for array sources, and the block writer of the keyed text
and binary formats.  The compiled kernels (`P`, `KK`) are one shared
stand-in each, so every module sees the same loaded module.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._atomic import remove_stale, temporary_file
from ..._lazy import kernels
from ..._progress import progress as _progress
from ...errors import FormatError, InputError, ParseError, UnknownNameError
from .report import ImportReport
from .sniff import _Source

KK = kernels("omnivec.core._key_kernels")
P = kernels("omnivec.store.formats._parse_kernels")

CHUNK = 8 * 2**20           # bytes read per readinto
BATCH_LINES = 1 << 16       # lines parsed per kernel call
PARALLEL_MIN_LINES = 512    # below this a batch is parsed on one thread
PARALLEL_MIN_THREADS = 2    # workers=None parses on several threads only above this many
WRITE_BLOCK = 16 * 2**20    # bytes formatted per write
ON_DUPLICATE = ("first", "error")
NAN_POLICIES = ("error", "skip", "zero")
ENCODING_ERRORS = ("strict", "replace")


def _nan_code(policy: str) -> int:
    """Return the parse kernels' code for a nan policy name (looked up at call time: the kernels load lazily)."""
    return {"error": P.NAN_ERROR, "skip": P.NAN_SKIP, "zero": P.NAN_ZERO}[policy]


# -- options ----------------------------------------------------------------------

@dataclass
class _Options:
    storage: str
    metric: str
    keys_file: str | None
    on_duplicate: str
    nan: str
    encoding: str
    encoding_errors: str
    max_rows: int | None
    progress: bool | None
    key_column: str | None
    vector_column: str | None
    spill_dir: str | None = None     # stream parsed rows to a raw file here (imports with a dst)
    workers: int | None = None       # parse threads; None: numba's thread count


def _check_options(o: _Options) -> None:
    from ...metrics import get_metric
    from ...core.vectors import storage_name

    o.storage = storage_name(o.storage)
    get_metric(o.metric)
    if o.on_duplicate not in ON_DUPLICATE:
        raise UnknownNameError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}; got {o.on_duplicate!r}")
    if o.nan not in NAN_POLICIES:
        raise UnknownNameError(f"nan must be one of {', '.join(NAN_POLICIES)}; got {o.nan!r}")
    if o.encoding_errors not in ENCODING_ERRORS:
        raise UnknownNameError(f"encoding_errors must be one of {', '.join(ENCODING_ERRORS)}; "
                               f"got {o.encoding_errors!r}")
    try:
        import codecs
        codecs.lookup(o.encoding)
    except LookupError:
        raise UnknownNameError(f"unknown text encoding {o.encoding!r}") from None
    if o.workers is not None and (isinstance(o.workers, bool) or not isinstance(o.workers, int) or o.workers < 1):
        raise InputError(f"workers must be a positive integer or None; got {o.workers!r}")
    if o.max_rows is not None and (isinstance(o.max_rows, bool) or not isinstance(o.max_rows, (int, np.integer))
                                   or o.max_rows < 1):
        raise InputError(f"max_rows must be a positive integer or None; got {o.max_rows!r}")


# -- the parsed table before it becomes Embeddings ----------------------------------

@dataclass
class _Parsed:
    vectors: np.ndarray | None   # (rows, dim) float32, finite; None when streamed to raw_path
    blob: np.ndarray | None      # UTF-8 keys (str keys) ...
    offsets: np.ndarray | None
    ids: np.ndarray | None = None   # ... or int64 keys
    where: np.ndarray | None = None  # per row: 1-based line, or byte offset when by_offset
    by_offset: bool = False
    keys_path: str | None = None     # the file that `where` refers to, when not the source
    raw_path: str | None = None      # rows x dim float32, row-major, when streamed
    rows: int = 0
    dim: int = 0


class _Rows:
    """Where parsed vectors go: one growing in-memory array, or batch by batch to a raw file.

    The raw file (float32, row-major) lives in the destination folder and is
    read once more to write the model file, so an import with a destination
    holds one batch of vectors in memory, not the whole table.
    """

    def __init__(self, cap: int, dim: int, path: str, spill_dir: str | None) -> None:
        self.dim = dim
        self.path = path
        self.raw_path = None
        self.fh = None
        if spill_dir is not None:
            self.batch = max(1, min(BATCH_LINES, (8 * 2**20) // (4 * dim)))   # about 8 MB a batch
            self.out = np.empty((self.batch, dim), np.float32)
            # named for this process, so a later write into the folder removes it if we are killed
            remove_stale(spill_dir)
            self.raw_path = str(temporary_file(spill_dir, "rows", ".spill"))
            self.fh = open(self.raw_path, "wb")
        else:
            self.batch = BATCH_LINES
            self.out = _alloc_rows(cap, dim, path)

    def prepare(self, row: int, lines: int) -> tuple[np.ndarray, int, int]:
        """Return (array, index where the batch's first line goes, vshift) with room for `lines` rows."""
        if self.fh is not None:
            if lines > len(self.out):
                self.out = np.empty((lines, self.dim), np.float32)
            return self.out, 0, row
        if row + lines > len(self.out):
            cap = max(int(len(self.out) * 1.5) + 1024, row + lines)
            new = _alloc_rows(cap, self.dim, self.path)
            new[:row] = self.out[:row]
            self.out = new
        return self.out, row, 0

    def commit(self, old_row: int, new_row: int) -> None:
        """Write the batch's kept rows (streaming mode)."""
        if self.fh is not None and new_row > old_row:
            self.fh.write(memoryview(self.out[:new_row - old_row]).cast("B"))

    def finish(self, rows: int) -> tuple[np.ndarray | None, str | None]:
        """Return (in-memory vectors, None) or (None, raw file path)."""
        if self.fh is not None:
            self.fh.close()
            return None, self.raw_path
        return self.out[:rows], None

    def discard(self) -> None:
        """Remove the raw file after a failure."""
        if self.fh is not None:
            self.fh.close()
        if self.raw_path is not None:
            Path(self.raw_path).unlink(missing_ok=True)


# -- buffers of the streaming parsers ------------------------------------------------

def _header_of(line: bytes) -> tuple[int, int] | None:
    toks = line.split()
    if len(toks) == 2 and all(t.isdigit() for t in toks):
        return int(toks[0]), int(toks[1])
    return None


def _parallel(workers: int | None) -> bool:
    # On two cores the threaded parse measured 0.8x the serial one (the main thread's line
    # indexing and key copying compete with the parse threads), so "auto" threads only
    # where there are more cores to spare.
    if workers is not None:
        return workers > 1
    import numba

    return numba.get_num_threads() > PARALLEL_MIN_THREADS


@contextmanager
def _threads(workers: int | None):
    # numba's thread count is per calling thread: set it for this parse only.
    if workers is None:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _find_nl(buf: np.ndarray, start: int, end: int) -> int:
    # Look in growing windows: the first line is short, the buffer is not.
    step = 4096
    while start < end:
        hit = np.flatnonzero(buf[start:min(end, start + step)] == 10)
        if len(hit):
            return int(start + hit[0])
        start += step
        step *= 4
    return -1


def _fill(src: _Source, buf: np.ndarray, start: int) -> int:
    # readinto may return short counts (decompressors): fill the buffer or reach the end.
    mv = memoryview(buf)
    got = 0
    while start + got < len(buf):
        k = src.readinto(mv[start + got:])
        if not k:
            break
        got += k
    return got


def _grow_and_fill(src: _Source, buf: np.ndarray, filled: int):
    buf = _grow(buf, 2 * len(buf))
    got = _fill(src, buf, filled)
    filled += got
    return buf, filled, filled < len(buf)


def _refill(src: "_Source", buf: np.ndarray, pos: int, filled: int) -> tuple[np.ndarray, int, bool]:
    """Return (buf, filled, eof) after moving the unread tail buf[pos:filled] to the front
    (growing the buffer when one line fills it) and reading more after it."""
    rest = filled - pos
    if rest == len(buf):
        buf = _grow(buf, 2 * len(buf))
    elif rest:
        buf[:rest] = buf[pos:filled].copy()
    filled = rest + _fill(src, buf, rest)
    return buf, filled, filled < len(buf)


def _grow(arr: np.ndarray, size: int) -> np.ndarray:
    new = np.empty((size,) + arr.shape[1:], arr.dtype)
    new[:len(arr)] = arr
    return new


def _alloc_rows(cap: int, dim: int, path: str) -> np.ndarray:
    try:
        return np.empty((cap, dim), np.float32)
    except (MemoryError, ValueError):
        raise FormatError(f"cannot allocate {cap:,} x {dim} float32 values "
                          f"({cap * dim * 4 / 2**30:,.1f} GiB) for this file", path=path) from None


# -- array sources: NaN policy, kept rows ------------------------------------------

def _copy_finite(blocks, n: int, dim: int, o: _Options, report: ImportReport, path: str, sink: "_Rows"):
    """Return (rows kept, keep mask or None): blocks of rows go to `sink` as float32, NaN policy applied."""
    keep = None
    row = 0
    s = 0
    with _progress(f"Importing {Path(path).name}", n, unit="rows", enabled=o.progress) as task:
        for blk in blocks:
            if blk.dtype != np.float32:
                with np.errstate(over="ignore", invalid="ignore"):
                    blk = blk.astype(np.float32)
            bad = ~np.isfinite(blk).all(axis=1)
            if bad.any():
                r = s + int(np.flatnonzero(bad)[0])
                if o.nan == "error":
                    raise ParseError(f"row {r:,} holds NaN or infinity (or a value beyond float32's "
                                     "range); pass nan='skip' (--nan skip) to drop such rows or nan='zero' (--nan zero) to zero them",
                                     path=path)
                if report.first_nan_line is None:
                    report.first_nan_line = r + 1
                report.nan_rows += int(bad.sum())
                if o.nan == "zero":
                    blk = blk.copy()
                    blk[bad] = 0.0
                else:
                    if keep is None:
                        keep = np.ones(n, bool)
                    keep[s:s + len(blk)] = ~bad
                    blk = blk[~bad]
            out, at, _ = sink.prepare(row, len(blk))
            out[at:at + len(blk)] = blk
            sink.commit(row, row + len(blk))
            row += len(blk)
            s += len(bad)
            task.advance(len(bad))
    return row, keep


def _compact_keys(blob, offsets, keep, where):
    new_blob = np.empty(len(blob), np.uint8)
    new_off = np.zeros(int(keep.sum()) + 1, np.int64)
    P.compact_keys(blob, offsets, keep, new_blob, new_off)
    return new_blob[:new_off[-1]].copy(), new_off, where[keep]


def _raw_blocks(raw_path: str, rows: int, dim: int, keep: np.ndarray | None):
    """Yield float32 blocks of the kept rows of a raw row file, read with plain reads (no mapping)."""
    step = max(1, (16 * 2**20) // (4 * dim))
    with open(raw_path, "rb") as fh:
        for s in range(0, rows, step):
            m = min(step, rows - s)
            blk = np.fromfile(fh, np.float32, m * dim).reshape(m, dim)
            if len(blk) != m:
                raise FormatError("the temporary row file is shorter than written", path=raw_path)
            yield blk if keep is None else blk[keep[s:s + m]]


# -- writing keyed rows (word2vec text/GloVe/.vec and word2vec binary) ---------------

def _key_arrays(emb) -> tuple[np.ndarray, np.ndarray]:
    # The writers read blob/offsets without bounds checks: damaged-but-checksummed files stop here.
    keys = emb.keys.checked()
    if keys.kind == "str":
        return np.asarray(keys.blob), np.asarray(keys.offsets)
    from ...core.keys import encode_keys

    return encode_keys([str(int(i)) for i in keys.ids])


def _check_text_keys(emb, blob, offsets, fmt: str) -> None:
    r = P.bad_text_key(blob, offsets)
    if r >= 0:
        raise InputError(f"key {emb.key(int(r))!r} (row {r}) is empty or holds a blank, tab or line "
                         f"break, which {fmt} cannot represent; rename it first")


def _write_keyed_rows(emb, path: str, fmt: str, progress, value_bytes: int, header: bool, encode) -> None:
    """Write `n d` (when header) then each block of rows as `encode(blob, offsets, start, block, out)`.

    Shared by the word2vec text/GloVe and binary writers: keys are checked once,
    blocks are sized so that a block's records (longest key + value_bytes + 2
    each) fit in WRITE_BLOCK bytes, and the file appears only when complete.
    """
    from ..container import atomic_path

    blob, offsets = _key_arrays(emb)
    _check_text_keys(emb, blob, offsets, fmt)
    n, d = len(emb), emb.dim
    slot = (int(np.diff(offsets).max()) if n else 0) + value_bytes + 2
    rows = max(1, min(n, WRITE_BLOCK // slot)) if n else 1
    out = np.empty(rows * slot, np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh, \
            _progress(f"Writing {Path(path).name}", n, unit="rows", enabled=progress) as task:
        if header:
            fh.write(f"{n} {d}\n".encode("ascii"))
        for s in range(0, n, rows):
            blk = np.ascontiguousarray(emb.store.decode(slice(s, s + rows)), "<f4")
            nbytes = encode(blob, offsets, s, blk, out, slot)
            fh.write(memoryview(out)[:nbytes])
            task.advance(len(blk))
