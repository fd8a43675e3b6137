"""How vectors are stored: float32, float16, int8 (per-dimension scale) or binary (sign bits).

A VectorStore holds the stored array (possibly a read-only memory map), the
per-dimension scale for int8/binary, and the L2 norm of every decoded row.
Every query works on every storage dtype: rows are decoded on the fly, and the
scoring kernels of core/exact.py read the stored bytes directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._registry import Registry
from ..errors import CorruptFileError, DimensionError, InputError

CHUNK_ROWS = 65536
# Stored arrays up to this size are checked against their CRC-32s before the first scan
# (about 0.5 s per GB, once); larger tables leave it to `omnivec verify`, which reads everything.
SCAN_CHECK_BYTES = 256 * 2**20

STORAGE = Registry[str]("storage dtype")
for _name, _aliases in (("float32", ("f32", "fp32")), ("float16", ("f16", "fp16", "half")),
                        ("int8", ("i8", "q8")), ("binary", ("bits", "bit", "1bit"))):
    STORAGE.register(_name, _name, aliases=_aliases)


def storage_name(name: str) -> str:
    """Return the canonical storage dtype for `name` (raises UnknownNameError)."""
    return STORAGE.get(name)


@dataclass(eq=False)
class VectorStore:
    """The stored vectors of one table."""

    data: np.ndarray            # (n, d) float32/float16/int8, or (n, ceil(d/8)) uint8 for binary
    dtype: str                  # a STORAGE name
    dim: int
    norms: np.ndarray           # (n,) float32, norms of the decoded rows
    scale: np.ndarray | None = None   # (d,) float32 for int8 and binary
    # Optional (n, d) float16/float32 copy of the vectors beside int8/binary codes: the scan
    # reads the small codes, then the best candidates are re-scored exactly from this copy.
    rerank: np.ndarray | None = None
    # Stored CRC-32s of the arrays above (field name -> hex), for a table opened from a file: the
    # first pass over every row checks them first (see check_before_scan).  None: nothing to check.
    checksums: dict | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        # Cheap invariants (shapes and dtypes, no pass over the data): the scoring kernels
        # index these arrays without bounds checks.
        self.dtype = storage_name(self.dtype)
        width = (self.dim + 7) // 8 if self.dtype == "binary" else self.dim
        want = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "binary": np.uint8}[self.dtype]
        if self.data.ndim != 2 or self.data.shape[1] != width or self.data.dtype != want:
            raise DimensionError(f"{self.dtype} vectors of {self.dim} dims must be a (rows, {width}) "
                                 f"{np.dtype(want).name} array; got {self.data.shape} {self.data.dtype}")
        if self.norms.shape != (self.data.shape[0],) or self.norms.dtype != np.float32:
            raise DimensionError(f"norms must be {self.data.shape[0]} float32 values; got "
                                 f"{self.norms.shape} {self.norms.dtype}")
        needs_scale = self.dtype in ("int8", "binary")
        if needs_scale and (self.scale is None or self.scale.shape != (self.dim,)
                            or self.scale.dtype != np.float32):
            got = None if self.scale is None else f"{self.scale.shape} {self.scale.dtype}"
            raise DimensionError(f"{self.dtype} vectors need a ({self.dim},) float32 scale; got {got}")
        if not needs_scale and self.scale is not None:
            raise DimensionError(f"{self.dtype} vectors take no scale")
        if self.rerank is not None:
            if not needs_scale:
                raise DimensionError(f"{self.dtype} vectors take no re-ranking copy (only int8 and binary do)")
            if self.rerank.shape != (self.data.shape[0], self.dim) or self.rerank.dtype not in (np.float16, np.float32):
                raise DimensionError(f"the re-ranking copy must be a ({self.data.shape[0]}, {self.dim}) "
                                     f"float16/float32 array; got {self.rerank.shape} {self.rerank.dtype}")

    def __len__(self) -> int:
        return self.data.shape[0]

    def check_before_scan(self) -> None:
        """Check the stored arrays against their CRC-32s, once, before the first pass over every row.

        A file damaged at rest (a flipped bit on disk, a copy cut short and
        padded) keeps its size and header, so opening it cannot tell; the
        first search, whose scan reads every row anyway, then costs one
        more pass (about 40 ms for 400k x 50 float32) and raises
        CorruptFileError instead of answering from damaged vectors.  Tables
        over SCAN_CHECK_BYTES are opened without checksums here (the pass
        would cost 0.5 s per GB), and single key lookups read only their
        rows; `omnivec verify` checks everything.
        """
        guard, self.checksums = self.checksums, None
        if not guard:
            return
        from .._checksum import crc32

        arrays = {"vectors": self.data, "norms": self.norms, "scale": self.scale, "rerank": self.rerank}
        for field, expected in guard.items():
            arr = arrays.get(field)
            if arr is not None and crc32(arr) != expected:
                self.checksums = guard          # stay damaged: every later scan raises too
                raise CorruptFileError(f"the stored {field} fail their CRC-32 check: the file was "
                                       "damaged after it was written; run `omnivec verify` on it, "
                                       "and replace it from a good copy", path=self.source)
        self.checksums = None

    def safe_norms(self) -> np.ndarray:
        """Return the norms with zeros replaced by infinity (score / norm is then 0), cached."""
        cached = self.__dict__.get("_safe_norms")
        if cached is None:
            cached = np.where(self.norms > 0, self.norms, np.float32(np.inf)).astype(np.float32)
            self.__dict__["_safe_norms"] = cached
        return cached

    @property
    def nbytes(self) -> int:
        """Return the bytes the stored vectors take."""
        return int(self.data.nbytes)

    # -- decoding -------------------------------------------------------------
    def decode(self, rows: np.ndarray | slice) -> np.ndarray:
        """Return the float32 vectors of `rows` (an index array or a slice)."""
        if self.rerank is not None:
            return self.rerank[rows].astype(np.float32)
        raw = self.data[rows]
        return self.decode_raw(raw)

    def decode_raw(self, raw: np.ndarray) -> np.ndarray:
        """Return float32 vectors for stored rows `raw`."""
        if self.dtype == "float32":
            return raw
        if self.dtype == "float16":
            return raw.astype(np.float32)
        if self.dtype == "int8":
            return raw.astype(np.float32) * self.scale
        bits = np.unpackbits(raw, axis=-1, count=self.dim).astype(np.float32)
        return (bits * 2.0 - 1.0) * self.scale

    def row(self, r: int) -> np.ndarray:
        """Return the float32 vector of one row (a view for float32 storage)."""
        raw = self.data[r]
        if self.dtype == "float32":
            return raw
        if self.rerank is not None:
            return self.rerank[r].astype(np.float32)
        return self.decode_raw(raw[None])[0]

    def iter_chunks(self, rows: int = CHUNK_ROWS):
        """Yield (start, float32 block) over all rows, `rows` at a time."""
        self.check_before_scan()
        for s in range(0, len(self), rows):
            yield s, self.decode(slice(s, s + rows))

    # -- encoding -------------------------------------------------------------
    @classmethod
    def encode(cls, vectors: np.ndarray, dtype: str = "float32", *,
               rerank: str | None = None) -> "VectorStore":
        """Return a VectorStore of float32 `vectors` stored as `dtype`.

        rerank="float16" (or "float32") keeps a copy of the vectors beside int8 or
        binary codes: searches scan the codes, then re-score the best candidates
        exactly, so results match float storage while the scan reads 4x (int8)
        or 32x (binary) fewer bytes.
        """
        dtype = storage_name(dtype)
        if rerank is not None and (dtype not in ("int8", "binary") or rerank not in ("float16", "float32")):
            raise InputError(f"rerank={rerank!r} needs int8 or binary storage and is 'float16' or "
                             f"'float32'; got storage {dtype!r}")
        vectors = check_vectors(vectors)
        n, d = vectors.shape
        scale = quant_scale(dtype, (vectors[s:s + CHUNK_ROWS] for s in range(0, n, CHUNK_ROWS)), n, d)
        if dtype == "float32":
            data = vectors
        else:
            width = (d + 7) // 8 if dtype == "binary" else d
            data = np.empty((n, width), {"float16": np.float16, "int8": np.int8, "binary": np.uint8}[dtype])
            for s in range(0, n, CHUNK_ROWS):
                data[s:s + CHUNK_ROWS] = encode_block(vectors[s:s + CHUNK_ROWS], dtype, scale)
        if rerank == "float16" and n and np.abs(vectors).max(initial=0) > np.finfo(np.float16).max:
            raise InputError("vectors have values beyond float16's range (65504); use rerank='float32'")
        copy = None if rerank is None else vectors.astype(np.dtype(rerank), copy=rerank != "float32")
        store = cls(data=data, dtype=dtype, dim=d, norms=np.zeros(n, np.float32), scale=scale, rerank=copy)
        store.norms = store.compute_norms()
        return store

    def compute_norms(self) -> np.ndarray:
        """Return the L2 norm of every decoded row."""
        norms = np.empty(len(self), np.float32)
        for s, blk in self.iter_chunks():
            norms[s:s + len(blk)] = np.sqrt(np.einsum("ij,ij->i", blk, blk, dtype=np.float64))
        return norms

    def astype(self, dtype: str, *, rerank: str | None = None) -> "VectorStore":
        """Return this store converted to another storage dtype (via float32)."""
        dtype = storage_name(dtype)
        current = None if self.rerank is None else self.rerank.dtype.name
        if dtype == self.dtype and rerank == current:
            return self
        if self.dtype != "float32":
            full = np.empty((len(self), self.dim), np.float32)
            for s, blk in self.iter_chunks():
                full[s:s + len(blk)] = blk
        else:
            full = self.data
        return VectorStore.encode(full, dtype, rerank=rerank)

    def take(self, rows: np.ndarray) -> "VectorStore":
        """Return a store of the given rows (same dtype, same scale)."""
        return VectorStore(data=np.ascontiguousarray(self.data[rows]), dtype=self.dtype,
                           dim=self.dim, norms=np.ascontiguousarray(self.norms[rows]),
                           scale=self.scale,
                           rerank=None if self.rerank is None else np.ascontiguousarray(self.rerank[rows]))


INT8_SAMPLE_ROWS = 200_000
INT8_QUANTILE = 0.9999


def int8_scale(vectors: np.ndarray) -> np.ndarray:
    """Return the per-dimension int8 scale: the 99.99th percentile of |v| / 127.

    A percentile rather than the maximum: one outlier would otherwise coarsen
    the grid for every other value of its dimension (on GloVe 6B this raises
    the share of queries whose int8 top-10 equals the float32 top-10 from 66% to
    82%).  The percentile is taken over an evenly spaced sample of rows.
    """
    return quant_scale("int8", [vectors], len(vectors), vectors.shape[1])


def quant_scale(dtype: str, blocks, n: int, d: int) -> np.ndarray | None:
    """Return the per-dimension scale of int8/binary storage for n rows given as blocks (None otherwise).

    int8: the 99.99th percentile of |v| over an evenly spaced row sample, / 127;
    binary: the mean |v| of each dimension.  Blocks are read once, in order,
    so rows streamed from a file need not be held in memory.
    """
    if dtype == "int8":
        step = max(1, n // INT8_SAMPLE_ROWS)
        picked, seen = [], 0
        for blk in blocks:
            first = (-seen) % step
            picked.append(np.abs(np.asarray(blk[first::step], np.float32)))
            seen += len(blk)
        sample = np.concatenate(picked) if picked else np.zeros((0, d), np.float32)
        scale = (np.quantile(sample, INT8_QUANTILE, axis=0) if len(sample) else np.zeros(d)).astype(np.float32)
        scale /= 127.0
    elif dtype == "binary":
        acc = np.zeros(d, np.float64)
        for blk in blocks:
            acc += np.abs(blk).sum(axis=0)
        scale = (acc / max(n, 1)).astype(np.float32)
    else:
        return None
    scale[~(scale > 0)] = 1.0
    return scale


def encode_block(blk: np.ndarray, dtype: str, scale: np.ndarray | None) -> np.ndarray:
    """Return float32 rows `blk` encoded as `dtype` codes with the given scale."""
    if dtype == "float32":
        return blk
    if dtype == "float16":
        if len(blk) and np.abs(blk).max(initial=0) > np.finfo(np.float16).max:
            raise InputError("vectors have values beyond float16's range (65504); "
                             "store them as float32 or int8")
        return blk.astype(np.float16)
    if dtype == "int8":
        return np.clip(np.rint(blk / scale), -127, 127).astype(np.int8)
    return np.packbits(blk > 0, axis=1)


def check_vectors(vectors, *, name: str = "vectors") -> np.ndarray:
    """Return `vectors` as a 2-D float32 array with finite values, or raise a clear error."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise DimensionError(f"{name} must be a 2-D array (rows x dims); got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} must be numeric; got dtype {arr.dtype}")
    if arr.dtype != np.float32:
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and arr.size:
            big = np.abs(arr[np.isfinite(arr)]).max(initial=0)
            if big > np.finfo(np.float32).max:
                raise InputError(f"{name} have values beyond float32's range ({big:g})")
        arr = arr.astype(np.float32)
    if not arr.flags.c_contiguous:
        # Row scans over a Fortran-ordered or strided array run ~10x slower; pay the copy once.
        arr = np.ascontiguousarray(arr)
    for s in range(0, arr.shape[0], CHUNK_ROWS):
        blk = arr[s:s + CHUNK_ROWS]
        bad = ~np.isfinite(blk).all(axis=1)
        if bad.any():
            r = s + int(np.flatnonzero(bad)[0])
            raise InputError(f"{name} row {r} holds NaN or infinity "
                             f"({int(bad.sum())} such rows in this block); clean them first")
    return arr
