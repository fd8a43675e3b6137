"""The safetensors container: atomic writing, memory-mapped reading, checksums.

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON header, then raw tensor bytes.  We write it ourselves (the format is that
simple) so that large tensors stream from memory maps, every tensor is
aligned to its item size, each tensor carries a CRC-32 in the header metadata,
and the file appears under its real name only once complete (temporary file
in the same folder + fsync + rename).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np

from .._atomic import atomic_path  # noqa: F401  (re-exported: every writer uses it)
from .._checksum import COPY_BLOCK, crc32  # noqa: F401  (re-exported: the writer's checksum)
from ..errors import CorruptFileError, FormatError, InputError

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
          "U16": np.uint16, "U32": np.uint32, "U64": np.uint64}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
# Valid safetensors dtypes that numpy has no type for: their entries are checked, but the
# tensors are not mapped (no omnivec field uses them; another tool's file may).
FOREIGN = {"BF16": 2, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1}
MAX_HEADER = 100 * 2**20
# More tensors than any model or index holds (a table has at most a dozen fields): a header
# listing more is refused before its entries are checked one by one.
MAX_TENSORS = 10_000


@dataclass
class Blocks:
    """A tensor given as consecutive blocks of rows, written as they come (never whole in memory).

    `chunks` yields arrays of `dtype` whose rows, stacked, make `shape`
    (e.g. rows encoded batch by batch from a temporary file).  Its CRC-32 is
    computed while it is written.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: Iterable[np.ndarray]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def write(path: str | os.PathLike, tensors: Mapping[str, np.ndarray | Blocks], metadata: Mapping[str, str],
          *, checksums: bool = True) -> dict[str, str]:
    """Write tensors + string metadata as a safetensors file, atomically; returns the CRC-32s.

    The CRC-32 of each tensor goes into metadata["checksums"] (a JSON object).
    Tensors given as Blocks are written first, then the arrays, so an array
    that a Blocks' iterator fills as it goes (norms computed while vectors are
    encoded) is written complete.  Every tensor starts aligned to its item size.
    """
    for name, arr in tensors.items():
        if not isinstance(arr, (np.ndarray, Blocks)):
            raise InputError(f"tensor {name!r} is a {type(arr).__name__}; model files hold numpy arrays")
        if np.dtype(arr.dtype) not in CODES:
            raise InputError(f"tensor {name!r} has dtype {arr.dtype}, which a model file cannot hold; "
                             f"use one of: {', '.join(sorted(str(d) for d in CODES))}")
    # Largest item size first: every tensor then starts aligned to its item size.
    order = sorted(tensors, key=lambda k: (-np.dtype(tensors[k].dtype).itemsize, k))
    where, pos = {}, 0
    for name in order:
        where[name] = pos
        pos += tensors[name].nbytes
    sums = {name: "0" * 8 for name in order}
    placeholder = _header(tensors, order, where, metadata, sums if checksums else None)
    start = 8 + len(placeholder)
    streamed = [k for k in order if isinstance(tensors[k], Blocks)]
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(placeholder)))
        fh.write(placeholder)
        for name in streamed:
            fh.seek(start + where[name])
            sums[name] = _write_blocks(fh, name, tensors[name], path)
        for name in order:
            if name in streamed:
                continue
            arr = tensors[name]
            if checksums:
                sums[name] = crc32(arr)
            fh.seek(start + where[name])
            flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
            for s in range(0, len(flat), COPY_BLOCK):
                fh.write(flat[s:s + COPY_BLOCK])
        fh.truncate(start + pos)
        if checksums:
            final = _header(tensors, order, where, metadata, sums)
            if len(final) != len(placeholder):
                raise FormatError("internal error: the header changed size while writing", path=path)
            fh.seek(8)
            fh.write(final)
    return sums if checksums else {}


def _header(tensors, order, where, metadata, sums: dict | None) -> bytes:
    """Return the JSON header, padded so the data starts 64-byte aligned."""
    meta = dict(metadata)
    if sums is not None:
        meta["checksums"] = json.dumps(sums, sort_keys=True)
    header: dict = {"__metadata__": meta}
    for name in order:
        t = tensors[name]
        header[name] = {"dtype": CODES[np.dtype(t.dtype)], "shape": [int(x) for x in t.shape],
                        "data_offsets": [where[name], where[name] + t.nbytes]}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-(8 + len(raw)) % 64)


def _write_blocks(fh, name: str, t: Blocks, path) -> str:
    """Write the chunks of `t` where `fh` stands; returns their CRC-32 (checking dtype and size)."""
    crc, nbytes = 0, 0
    for chunk in t.chunks:
        if np.dtype(chunk.dtype) != np.dtype(t.dtype):
            raise InputError(f"tensor {name!r}: a block has dtype {chunk.dtype}, expected {np.dtype(t.dtype)}")
        raw = memoryview(np.ascontiguousarray(chunk)).cast("B")
        crc = zlib.crc32(raw, crc)
        fh.write(raw)
        nbytes += len(raw)
    if nbytes != t.nbytes:
        raise FormatError(f"tensor {name!r}: its blocks hold {nbytes} bytes, its shape {list(t.shape)} "
                          f"needs {t.nbytes}", path=path)
    return f"{crc & 0xFFFFFFFF:08x}"


@dataclass
class Container:
    """An opened safetensors file: its metadata and memory-mapped tensors."""

    path: str
    metadata: dict[str, str]
    tensors: dict[str, np.ndarray]
    entries: dict[str, dict]
    data_start: int
    buffer: object = None

    def raw(self, name: str) -> np.ndarray:
        """Return the stored bytes of tensor `name` as a uint8 view (any dtype, foreign ones too)."""
        a, b = self.entries[name]["data_offsets"]
        return np.frombuffer(self.buffer, np.uint8, count=b - a, offset=self.data_start + a)


def expect_tensor(c: Container, name: str, shape: tuple | None, dtype, *, hint: str = "") -> np.ndarray:
    """Return tensor `name` of an opened file if it has `shape` (None: any 1-D) and `dtype`.

    Otherwise raise CorruptFileError naming the tensor, what it is and what was
    expected, followed by `hint` (how to rebuild the file).
    """
    arr = c.tensors.get(name)
    if arr is None or arr.dtype != np.dtype(dtype) or (shape is not None and tuple(arr.shape) != tuple(shape)) \
            or (shape is None and arr.ndim != 1):
        got = "missing" if arr is None else f"shape {tuple(arr.shape)} dtype {arr.dtype}"
        raise CorruptFileError(f"tensor {name!r}: {got}; expected shape {shape or '(n,)'} dtype "
                               f"{np.dtype(dtype).name}{hint}", path=c.path, offset=8)
    return arr


def tensor_start(c: Container, name: str) -> int:
    """Return the file offset of tensor `name`'s first byte."""
    return c.data_start + c.entries[name]["data_offsets"][0]


def read(path: str | os.PathLike) -> Container:
    """Return the memory-mapped tensors and metadata of a safetensors file.

    Reads only the header; tensors are views of a read-only memory map.  Any
    inconsistency raises FormatError/CorruptFileError naming the byte offset.
    """
    path = str(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FormatError("no such file", path=path) from None
    except IsADirectoryError:
        raise FormatError("is a folder, not a model file", path=path) from None
    except OSError as exc:
        raise FormatError(f"cannot open the file: {exc.strerror or exc}", path=path) from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise FormatError("not a model file: the file is empty", path=path, offset=0)
        if size < 8:
            raise FormatError(f"not a model file: {size} bytes, too short for a safetensors header",
                              path=path, offset=0)
        first = fh.read(16)
        fh.seek(8)
        (hlen,) = struct.unpack("<Q", first[:8])
        if hlen > MAX_HEADER or 8 + hlen > size:
            if hlen > MAX_HEADER:
                raise FormatError(f"not a model file ({_sniff(first)}): the first 8 bytes announce a "
                                  f"{hlen}-byte safetensors header, more than the {MAX_HEADER} allowed",
                                  path=path, offset=0)
            raise CorruptFileError(f"truncated: the first 8 bytes announce a {hlen}-byte header but "
                                   f"the file has only {size} bytes", path=path, offset=size)
        raw = fh.read(hlen)
        header = parse_json(raw, what="the header", path=path, offset=8, error=FormatError,
                            prefix="not a model file: ")
        if not isinstance(header, dict):
            raise FormatError("not a model file: the header is not a JSON object", path=path, offset=8)
        meta = header.pop("__metadata__", None)
        meta = {} if meta is None else meta
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise FormatError("header __metadata__ must map strings to strings", path=path, offset=8)
        data_start = 8 + hlen
        data_len = size - data_start
        if len(header) > MAX_TENSORS:
            raise FormatError(f"the header lists {len(header)} tensors, more than the {MAX_TENSORS} "
                              f"a model or index file holds", path=path, offset=8)
        entries: dict[str, dict] = {}
        for name, ent in header.items():
            entries[name] = _check_entry(path, name, ent, data_len, data_start)
        _check_layout(path, entries, data_len, data_start)
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    tensors = {}
    for name, ent in entries.items():
        if ent["dtype"] in FOREIGN:
            continue
        dt = DTYPES[ent["dtype"]]
        count = int(np.prod(ent["shape"], dtype=object))
        arr = np.frombuffer(mm, dtype=dt, count=count, offset=data_start + ent["data_offsets"][0])
        tensors[name] = arr.reshape(ent["shape"])
    return Container(path=path, metadata=meta, tensors=tensors, entries=entries, data_start=data_start,
                     buffer=mm)


def _sniff(first: bytes) -> str:
    """Return a guess, for error messages, at what kind of file starts with `first`."""
    magic = {b"\x89PNG": "a PNG image", b"PK\x03\x04": "a zip archive (a .npz or .zip?)",
             b"\x1f\x8b": "gzip-compressed data", b"\x93NUMPY": "a numpy .npy array",
             b"\x80": "a Python pickle", b"PAR1": "a Parquet file", b"%PDF": "a PDF document",
             b"\xba\x16\x4f\x2f": "a fastText .bin model"}
    for m, what in magic.items():
        if first.startswith(m):
            return f"it looks like {what}"
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if all(c in b"\t\n\r" or 32 <= c < 127 or c >= 128 for c in first):
        return ("it looks like text: import word2vec/GloVe/fastText text vectors with "
                "`omnivec convert`")
    return "unrecognised binary data"


def parse_json(raw: bytes | str, *, what: str, path: str, offset: int | None,
               error: type[FormatError] = FormatError, prefix: str = "", locate: bool = True):
    """Return the parsed JSON value of `raw`, or raise `error` naming `what`, the file and offset.

    With locate=True `raw` sits at file byte `offset` and errors name the exact byte;
    otherwise (JSON nested in a header string) they name `offset` itself.

    Non-standard constants (NaN, Infinity) are refused, and so is nesting deep
    enough to exhaust Python's recursion limit (a hostile header).
    """
    def refuse(const):
        raise ValueError(f"non-standard JSON constant {const}")

    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        return json.loads(text, parse_constant=refuse)
    except UnicodeDecodeError as exc:
        raise error(f"{prefix}{what} is not UTF-8 text (bad byte at header byte {exc.start})",
                    path=path, offset=offset + exc.start if offset is not None and locate else offset) from None
    except json.JSONDecodeError as exc:
        # exc.pos counts characters; the file offset counts UTF-8 bytes.
        at = offset
        if offset is not None and locate:
            at = offset + len(exc.doc[:exc.pos].encode("utf-8", "surrogatepass"))
        raise error(f"{prefix}{what} is not valid JSON ({exc.msg} at line {exc.lineno} column "
                    f"{exc.colno})", path=path, offset=at) from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{prefix}{what} is not valid JSON ({exc})", path=path, offset=offset) from None


MAX_NDIM = 32
MAX_BYTES = 2**62


def _check_entry(path: str, name: str, ent, data_len: int, data_start: int) -> dict:
    where = dict(path=path, offset=8)
    if not isinstance(ent, dict) or set(ent) - {"dtype", "shape", "data_offsets"} or len(ent) != 3:
        raise FormatError(f"tensor {name!r}: header entry must hold dtype, shape and data_offsets", **where)
    dtype, shape, offs = ent["dtype"], ent["shape"], ent["data_offsets"]
    if dtype not in DTYPES and dtype not in FOREIGN:
        raise FormatError(f"tensor {name!r}: unknown dtype {dtype!r}; expected one of "
                          f"{', '.join([*DTYPES, *FOREIGN])}", **where)
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape)):
        raise FormatError(f"tensor {name!r}: shape must be a list of at most {MAX_NDIM} non-negative "
                          f"integers, got {shape!r}", **where)
    # numpy refuses shapes whose non-zero dimensions multiply past its size limit, even
    # when another dimension is 0 and the tensor holds no bytes.
    itemsize = FOREIGN[dtype] if dtype in FOREIGN else np.dtype(DTYPES[dtype]).itemsize
    span = itemsize
    for x in shape:
        span *= max(x, 1)
        if span >= MAX_BYTES:
            raise FormatError(f"tensor {name!r}: shape {shape!r} is too large", **where)
    if (not isinstance(offs, list) or len(offs) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in offs)
            or not 0 <= offs[0] <= offs[1]):
        raise FormatError(f"tensor {name!r}: bad data_offsets {offs!r}", **where)
    need = int(np.prod(shape, dtype=object)) * itemsize
    if offs[1] - offs[0] != need:
        raise CorruptFileError(f"tensor {name!r}: shape {shape} needs {need} bytes but its offsets "
                               f"span {offs[1] - offs[0]}", **where)
    if offs[1] > data_len:
        raise CorruptFileError(f"tensor {name!r} ends at byte {data_start + offs[1]} but the file "
                               f"has {data_start + data_len} bytes (truncated?)", path=path,
                               offset=data_start + data_len)
    # No alignment is required here (safetensors does not require it, and numpy reads
    # unaligned data); model tables require it for their tensors (model._expect).
    return {"dtype": dtype, "shape": shape, "data_offsets": offs}


def _check_layout(path: str, entries: dict[str, dict], data_len: int, data_start: int) -> None:
    """Refuse overlapping tensors, holes and bytes after the last tensor (the safetensors rule:
    the data is entirely indexed, no holes)."""
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1], name) for name, e in entries.items())
    end, prev = 0, None
    for a, b, name in spans:
        if a < end:
            raise CorruptFileError(f"tensors {prev!r} and {name!r} overlap (bytes {data_start + a}.."
                                   f"{data_start + end})", path=path, offset=data_start + a)
        if a > end:
            raise CorruptFileError(f"{a - end} bytes before tensor {name!r} belong to no tensor",
                                   path=path, offset=data_start + end)
        if b > a or prev is None:
            prev = name
        end = max(end, b)
    if end != data_len:
        raise CorruptFileError(f"{data_len - end} bytes after the last tensor belong to no tensor "
                               f"(appended data, or a damaged header)", path=path, offset=data_start + end)


def verify_checksums(c: Container) -> list[str]:
    """Return one line per tensor whose bytes do not match the CRC-32 stored in the header."""
    try:
        sums = parse_json(c.metadata.get("checksums", "{}"), what="checksums", path=c.path, offset=8,
                          locate=False)
    except FormatError:
        return ["the checksums entry of the header is not JSON"]
    if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
        return ["the checksums entry of the header is not an object of hex strings"]
    problems = []
    for name in c.entries:
        if name not in sums:
            problems.append(f"tensor {name!r} has no checksum")
            continue
        got = crc32(c.raw(name))
        if got != sums[name]:
            a, b = c.entries[name]["data_offsets"]
            problems.append(f"tensor {name!r} (bytes {c.data_start + a}..{c.data_start + b}) fails "
                            f"its CRC-32 check (expected {sums[name]}, got {got})")
    for name in sums:
        if name not in c.entries:
            problems.append(f"checksum listed for missing tensor {name!r}")
    return problems


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` as UTF-8, atomically (the old file stays whole until the new one is)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
