"""A FAISS IndexIVFPQ blob as bytes: parsed and checked with numpy before FAISS reads it.

`check_ivfpq` walks what ``faiss.serialize_index`` writes for the IVF-PQ
indexes omnivec builds (a flat coarse quantizer, no direct map, array
inverted lists), all little-endian:

    "IwPQ", index header (i32 d, i64 ntotal, 2 x i64, u8 trained, i32 metric)
    u64 nlist, u64 nprobe
    "IxFI"/"IxF2", index header, u64 n, n x f32    the nlist centroids
    u8 direct-map type, u64 n, n x i64              (no direct map: 0, 0)
    u8 by_residual, u64 code_size
    u64 d, u64 M, u64 nbits, u64 n, n x f32         the product quantizer
    "ilar", u64 nlist, u64 code_size, "full" + u64 nlist + nlist x u64 sizes
                                   or "sprs" + u64 2m + m x (u64 list, u64 size)
    per non-empty list: size x code_size codes, size x i64 ids

Every check raises CorruptFileError naming the part and the byte offset in
the index file; the ids must be exactly the live ids of the index.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import CorruptFileError
from .index import REBUILD

METRIC = {"ip": 0, "l2": 1}                    # FAISS METRIC_INNER_PRODUCT, METRIC_L2
QUANTIZER = {"ip": b"IxFI", "l2": b"IxF2"}


class _Reader:
    """Reads fields in order from a blob, failing with the part and the file offset."""

    def __init__(self, buf: np.ndarray, path: str, base: int) -> None:
        self.buf, self.path, self.base, self.pos = buf, path, base, 0

    def fail(self, part: str, message: str, at: int | None = None) -> None:
        raise CorruptFileError(f"the IVF-PQ engine bytes (FAISS), {part}: {message}{REBUILD}", path=self.path,
                               offset=self.base + (self.pos if at is None else at))

    def take(self, n: int, part: str) -> int:
        """Return the offset of the next n bytes and move past them."""
        if n > len(self.buf) - self.pos:
            self.fail(part, f"needs {n} bytes; {len(self.buf) - self.pos} remain (truncated?)")
        at = self.pos
        self.pos += n
        return at

    def read(self, fmt: str, part: str) -> tuple:
        at = self.take(struct.calcsize(fmt), part)
        return struct.unpack_from("<" + fmt, self.buf, at)

    def expect(self, fmt: str, want, part: str, what: str):
        at = self.pos
        (got,) = self.read(fmt, part)
        if got != want:
            self.fail(part, f"{what} is {got!r}; expected {want!r}", at)
        return got

    def vector(self, itemsize: int, count: int, part: str) -> int:
        """Check a FAISS vector (u64 length, then items) holds `count` items; return where they start."""
        self.expect("Q", count, part, "the length")
        return self.take(count * itemsize, part)


def _index_header(r: _Reader, part: str, *, d: int, ntotal: int, metric: int) -> None:
    r.expect("i", d, part, "the dimension")
    r.expect("q", ntotal, part, "the number of vectors")
    r.read("qq", part)
    r.expect("B", 1, part, "the trained flag")
    r.expect("i", metric, part, "the metric")


def check_ivfpq(buf: np.ndarray, *, path: str, base: int, dim: int, space: str, nlist: int, m: int,
                nbits: int, deleted: np.ndarray) -> str:
    """Return a summary of what was checked in FAISS IVF-PQ bytes `buf`, or raise CorruptFileError.

    `base` is the file offset of buf[0]; the lists must hold each live id
    (not `deleted`) exactly once.
    """
    r = _Reader(buf, path, base)
    live = int(len(deleted) - np.count_nonzero(deleted))
    metric = METRIC[space]
    r.expect("4s", b"IwPQ", "index header", "the type tag")
    _index_header(r, "index header", d=dim, ntotal=live, metric=metric)
    r.expect("Q", nlist, "index header", "nlist")
    r.read("Q", "index header")
    r.expect("4s", QUANTIZER[space], "coarse quantizer", "the type tag")
    _index_header(r, "coarse quantizer", d=dim, ntotal=nlist, metric=metric)
    r.vector(4, nlist * dim, "coarse quantizer centroids")
    r.expect("B", 0, "direct map", "the type")
    r.vector(8, 0, "direct map")
    by_residual = r.read("B", "product quantizer")[0]
    if by_residual > 1:
        r.fail("product quantizer", f"by_residual is {by_residual}; expected 0 or 1", r.pos - 1)
    code_size = (m * nbits + 7) // 8
    r.expect("Q", code_size, "product quantizer", "the code size")
    r.expect("Q", dim, "product quantizer", "the dimension")
    r.expect("Q", m, "product quantizer", "M")
    r.expect("Q", nbits, "product quantizer", "nbits")
    r.vector(4, dim << nbits, "product quantizer centroids")
    sizes = _list_sizes(r, nlist, code_size)
    if int(sizes.sum()) != live:
        r.fail("inverted lists", f"the lists hold {int(sizes.sum())} codes; the index has {live} live ids")
    ids = _list_ids(r, sizes, code_size)
    if r.pos != len(buf):
        r.fail("end", f"{len(buf) - r.pos} bytes follow the inverted lists")
    _check_ids(r, ids, deleted)
    return (f"FAISS IVF-PQ: {nlist} lists, {live:,} codes of {code_size} bytes, "
            f"ids are the {live:,} live ids once each")


def _list_sizes(r: _Reader, nlist: int, code_size: int) -> np.ndarray:
    """Return the number of codes in each list, from the 'full' or 'sprs' size table."""
    part = "inverted lists"
    r.expect("4s", b"ilar", part, "the type tag")
    r.expect("Q", nlist, part, "nlist")
    r.expect("Q", code_size, part, "the code size")
    (kind,) = r.read("4s", part)
    (n,) = r.read("Q", part)
    at = r.take(8 * n, part)
    table = r.buf[at:at + 8 * n].view("<u8")
    limit = len(r.buf)   # no list can hold more codes than the blob has bytes
    if kind == b"full":
        if n != nlist:
            r.fail(part, f"the size table has {n} entries; expected {nlist}", at - 8)
        sizes = table.astype(np.int64) if (table <= limit).all() else None
    elif kind == b"sprs":
        if n % 2:
            r.fail(part, f"the sparse size table has an odd length {n}", at - 8)
        which, count = table[0::2], table[1::2]
        if (which >= nlist).any() or (np.diff(which.astype(np.int64)) <= 0).any() or (count == 0).any():
            r.fail(part, f"the sparse size table does not list distinct lists below {nlist} "
                   f"in order with non-zero sizes", at)
        sizes = np.zeros(nlist, np.int64)
        if (count <= limit).all():
            sizes[which.astype(np.int64)] = count.astype(np.int64)
        else:
            sizes = None
    else:
        r.fail(part, f"the size table kind is {kind!r}; expected b'full' or b'sprs'", at - 12)
    if sizes is None:
        r.fail(part, f"a list size is larger than the {limit}-byte blob", at)
    return sizes


def _list_ids(r: _Reader, sizes: np.ndarray, code_size: int) -> np.ndarray:
    """Return the ids of every list, in list order, after checking the lists fit the blob."""
    per = code_size + 8
    need = int(sizes.sum()) * per
    start = r.take(need, "inverted lists' codes and ids")
    # Each non-empty list: its codes, then its ids; mark the id bytes and gather them at once.
    lens = sizes[sizes > 0]
    ends = start + np.cumsum(lens * per)
    id_start = ends - lens * 8
    mark = np.zeros(need + 1, np.int8)
    mark[id_start - start] = 1          # the ranges are disjoint: every start and end is distinct
    mark[ends - start] = -1
    inside = np.cumsum(mark[:-1], dtype=np.int8).view(bool)
    return r.buf[start:start + need][inside].view("<i8")


def _check_ids(r: _Reader, ids: np.ndarray, deleted: np.ndarray) -> None:
    total = len(deleted)
    part = "inverted lists' ids"
    bad = np.flatnonzero((ids < 0) | (ids >= total))
    if len(bad):
        r.fail(part, f"id {int(ids[bad[0]])} is not an id of the index (0..{total - 1})")
    seen = np.bincount(ids, minlength=total)
    if (seen > 1).any():
        r.fail(part, f"id {int(np.flatnonzero(seen > 1)[0])} is in the lists more than once")
    gone = np.flatnonzero((seen > 0) & deleted)
    if len(gone):
        r.fail(part, f"id {int(gone[0])} is deleted but still in the lists")
