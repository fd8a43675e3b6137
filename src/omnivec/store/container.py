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
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from ..errors import CorruptFileError, FormatError

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
          "U16": np.uint16, "U32": np.uint32, "U64": np.uint64}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 2**20
COPY_BLOCK = 64 * 2**20


def crc32(arr: np.ndarray) -> str:
    """Return the CRC-32 of an array's bytes as 8 hex digits."""
    crc = 0
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    for s in range(0, len(flat), COPY_BLOCK):
        crc = zlib.crc32(flat[s:s + COPY_BLOCK], crc)
    return f"{crc & 0xFFFFFFFF:08x}"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, else removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FormatError(f"folder {folder} does not exist", path=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        try:
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write(path: str | os.PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str],
          *, checksums: bool = True) -> dict[str, str]:
    """Write tensors + string metadata as a safetensors file, atomically; returns the CRC-32s.

    The CRC-32 of each tensor goes into metadata["checksums"] (a JSON object).
    """
    for name, arr in tensors.items():
        if np.dtype(arr.dtype) not in CODES:
            raise TypeError(f"tensor {name} has dtype {arr.dtype}, which safetensors cannot hold")
    # Largest item size first: every tensor then starts aligned to its item size.
    order = sorted(tensors, key=lambda k: (-np.dtype(tensors[k].dtype).itemsize, k))
    sums = {name: crc32(tensors[name]) for name in order} if checksums else {}
    meta = dict(metadata)
    if checksums:
        meta["checksums"] = json.dumps(sums, sort_keys=True)
    header: dict = {"__metadata__": meta}
    pos = 0
    for name in order:
        arr = tensors[name]
        header[name] = {"dtype": CODES[np.dtype(arr.dtype)], "shape": list(arr.shape),
                        "data_offsets": [pos, pos + arr.nbytes]}
        pos += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 64)   # pad so data starts 64-byte aligned
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for name in order:
            flat = np.ascontiguousarray(tensors[name]).reshape(-1).view(np.uint8)
            for s in range(0, len(flat), COPY_BLOCK):
                fh.write(flat[s:s + COPY_BLOCK])
    return sums


@dataclass
class Container:
    """An opened safetensors file: its metadata and memory-mapped tensors."""

    path: str
    metadata: dict[str, str]
    tensors: dict[str, np.ndarray]
    entries: dict[str, dict]
    data_start: int


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
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            raise FormatError(f"not a model file: {size} bytes, too short for a safetensors header",
                              path=path, offset=0)
        (hlen,) = struct.unpack("<Q", fh.read(8))
        if hlen > MAX_HEADER or 8 + hlen > size:
            raise FormatError(
                f"not a model file: the first 8 bytes announce a {hlen}-byte header but the file "
                f"has {size} bytes" + (" (truncated?)" if hlen <= MAX_HEADER else ""),
                path=path, offset=0)
        raw = fh.read(hlen)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FormatError(f"not a model file: the header is not JSON ({exc})", path=path, offset=8) from None
        if not isinstance(header, dict):
            raise FormatError("not a model file: the header is not a JSON object", path=path, offset=8)
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise FormatError("header __metadata__ must map strings to strings", path=path, offset=8)
        data_start = 8 + hlen
        data_len = size - data_start
        entries: dict[str, dict] = {}
        for name, ent in header.items():
            entries[name] = _check_entry(path, name, ent, data_len, data_start)
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    tensors = {}
    for name, ent in entries.items():
        dt = DTYPES[ent["dtype"]]
        count = int(np.prod(ent["shape"], dtype=np.int64))
        arr = np.frombuffer(mm, dtype=dt, count=count, offset=data_start + ent["data_offsets"][0])
        tensors[name] = arr.reshape(ent["shape"])
    return Container(path=path, metadata=meta, tensors=tensors, entries=entries, data_start=data_start)


def _check_entry(path: str, name: str, ent, data_len: int, data_start: int) -> dict:
    where = dict(path=path, offset=8)
    if not isinstance(ent, dict) or set(ent) - {"dtype", "shape", "data_offsets"} or len(ent) != 3:
        raise FormatError(f"tensor {name!r}: header entry must hold dtype, shape and data_offsets", **where)
    dtype, shape, offs = ent["dtype"], ent["shape"], ent["data_offsets"]
    if dtype not in DTYPES:
        raise FormatError(f"tensor {name!r}: unsupported dtype {dtype!r}", **where)
    if (not isinstance(shape, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape)):
        raise FormatError(f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}", **where)
    if (not isinstance(offs, list) or len(offs) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in offs)
            or not 0 <= offs[0] <= offs[1]):
        raise FormatError(f"tensor {name!r}: bad data_offsets {offs!r}", **where)
    need = int(np.prod(shape, dtype=object)) * np.dtype(DTYPES[dtype]).itemsize
    if offs[1] - offs[0] != need:
        raise CorruptFileError(f"tensor {name!r}: shape {shape} needs {need} bytes but its offsets "
                               f"span {offs[1] - offs[0]}", **where)
    if offs[1] > data_len:
        raise CorruptFileError(f"tensor {name!r} ends at byte {data_start + offs[1]} but the file "
                               f"has {data_start + data_len} bytes (truncated?)", path=path,
                               offset=data_start + data_len)
    if offs[0] % np.dtype(DTYPES[dtype]).itemsize and need:
        raise FormatError(f"tensor {name!r} is not aligned to its item size", path=path,
                          offset=data_start + offs[0])
    return {"dtype": dtype, "shape": shape, "data_offsets": offs}


def verify_checksums(c: Container) -> list[str]:
    """Return one line per tensor whose bytes do not match the CRC-32 stored in the header."""
    try:
        sums = json.loads(c.metadata.get("checksums", "{}"))
    except json.JSONDecodeError:
        return ["the checksums entry of the header is not JSON"]
    problems = []
    for name in c.tensors:
        if name not in sums:
            problems.append(f"tensor {name!r} has no checksum")
        elif crc32(c.tensors[name]) != sums[name]:
            off = c.data_start + c.entries[name]["data_offsets"][0]
            problems.append(f"tensor {name!r} (bytes {off}..) fails its CRC-32 check "
                            f"(expected {sums[name]}, got {crc32(c.tensors[name])})")
    for name in sums:
        if name not in c.tensors:
            problems.append(f"checksum listed for missing tensor {name!r}")
    return problems
