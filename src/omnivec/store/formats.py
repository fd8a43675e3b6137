"""Importers and exporters for the vector files users have, and content-based format detection.

Formats (FORMATS registry): word2vec text (``n d`` header), GloVe text (no
header), fastText ``.vec`` (word2vec text), word2vec binary, fastText ``.bin``
(omnivec.store.fasttext_bin), numpy ``.npy`` + keys file, Parquet, and
omnivec model files; gensim KeyedVectors as in-memory objects only
(`from_gensim` / `to_gensim`: gensim's own files are pickles, never loaded).

Text import streams the file in big chunks through compiled kernels
(store/_parse_kernels.py) straight into a pre-sized float32 array, so memory
stays bounded by the output, not by the text; gzip/bz2/xz input is read
transparently.  Every problem in the input is a ParseError / FormatError that
names the file, the line and the byte offset; skipped data (duplicate keys,
NaN rows, blank lines) is counted in the ImportReport.
"""

from __future__ import annotations

import bz2
import datetime as _dt
import gzip
import lzma
import os
import struct
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._progress import progress as _progress
from .._registry import Registry
from ..errors import CorruptFileError, FormatError, InputError, ParseError, UnknownNameError, require
from .._lazy import kernels

KK = kernels("omnivec.core._key_kernels")
P = kernels("omnivec.store._parse_kernels")

CHUNK = 8 * 2**20           # bytes read per readinto
BATCH_LINES = 1 << 16       # lines parsed per kernel call
PARALLEL_MIN_LINES = 512    # below this a batch is parsed on one thread
PARALLEL_MIN_THREADS = 2    # workers=None parses on several threads only above this many
MAX_BINARY_KEY = 1 << 16    # a word2vec binary key longer than this means the file is not one
WRITE_BLOCK = 16 * 2**20    # bytes formatted per write
FASTTEXT_MAGIC = 793712314
ON_DUPLICATE = ("first", "error")
NAN_POLICIES = ("error", "skip", "zero")


def _nan_code(policy: str) -> int:
    """Return the parse kernels' code for a nan policy name (looked up at call time: the kernels load lazily)."""
    return {"error": P.NAN_ERROR, "skip": P.NAN_SKIP, "zero": P.NAN_ZERO}[policy]
ENCODING_ERRORS = ("strict", "replace")


# -- the report -------------------------------------------------------------------

@dataclass
class ImportReport:
    """What an import read, kept, skipped and replaced (``.lines()`` for people, ``.to_dict()`` for JSON)."""

    format: str
    path: str
    rows: int = 0
    dim: int = 0
    lines_read: int = 0
    bytes_read: int = 0
    header_rows: int | None = None
    duplicates: int = 0
    first_duplicate_line: int | None = None
    first_duplicate_offset: int | None = None
    first_duplicate_key: str | None = None
    nan_rows: int = 0
    nan_policy: str = "error"
    first_nan_line: int | None = None
    first_nan_offset: int | None = None
    replaced_encodings: int = 0
    blank_lines: int = 0
    max_rows_reached: bool = False
    storage: str = "float32"
    dst: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return human-readable lines: what was imported, then each count of skipped or changed data."""
        rate = f", {self.bytes_read / self.seconds / 1e6:,.0f} MB/s" if self.seconds > 0 and self.bytes_read else ""
        out = [f"imported {self.rows:,} rows x {self.dim} dims from {self.path} ({self.format}) "
               f"in {self.seconds:.2f} s{rate}"]
        if self.duplicates:
            where = _where(self.first_duplicate_line, self.first_duplicate_offset)
            out.append(f"skipped {self.duplicates:,} duplicate key{'s' if self.duplicates > 1 else ''} "
                       f"(kept the first of each); first: {self.first_duplicate_key!r} at {where}")
        if self.nan_rows:
            what = "dropped" if self.nan_policy == "skip" else "set to zero"
            where = _where(self.first_nan_line, self.first_nan_offset)
            out.append(f"{self.nan_rows:,} row{'s' if self.nan_rows > 1 else ''} with NaN/inf {what} "
                       f"(nan={self.nan_policy!r}); first at {where}")
        if self.replaced_encodings:
            out.append(f"replaced invalid UTF-8 in {self.replaced_encodings:,} "
                       f"key{'s' if self.replaced_encodings > 1 else ''} with U+FFFD")
        if self.blank_lines:
            out.append(f"skipped {self.blank_lines:,} blank line{'s' if self.blank_lines > 1 else ''}")
        if self.max_rows_reached:
            out.append(f"stopped after max_rows={self.rows:,} rows")
        out.extend(self.notes)
        if self.dst:
            out.append(f"wrote {self.dst} ({self.storage})")
        return out

    def to_dict(self) -> dict:
        """Return the report as a JSON-able dict."""
        return asdict(self)


def _where(line: int | None, offset: int | None) -> str:
    if line is not None:
        return f"line {line:,}"
    if offset is not None:
        return f"byte {offset:,}"
    return "an unknown position"


# -- the registry -----------------------------------------------------------------

@dataclass(frozen=True)
class FormatSpec:
    """One vector file format: how to read it, how to write it, its usual extensions."""

    name: str
    description: str
    reader: Callable | None
    writer: Callable | None
    extensions: tuple[str, ...] = ()


FORMATS = Registry[FormatSpec]("vector file format")


def _register(name: str, description: str, reader, writer, extensions=(), aliases=()) -> None:
    FORMATS.register(name, FormatSpec(name, description, reader, writer, tuple(extensions)),
                     aliases=tuple(aliases))


# -- sources: plain or compressed files ---------------------------------------------

_COMPRESSED = ((b"\x1f\x8b", "gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
               (b"BZh", "bzip2", bz2.BZ2File), (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile))


class _Source:
    """A file opened for streaming: decompressed transparently; tell() of the raw file for progress."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.raw = open(path, "rb")
        except FileNotFoundError:
            raise FormatError("no such file", path=path) from None
        except IsADirectoryError:
            raise FormatError("is a folder, not a vector file", path=path) from None
        self.size = os.fstat(self.raw.fileno()).st_size
        head = self.raw.read(8)
        self.raw.seek(0)
        self.compression = None
        self.stream: Any = self.raw
        for magic, name, cls in _COMPRESSED:
            if head.startswith(magic):
                self.compression = name
                self.stream = cls(self.raw)
                break

    def readinto(self, mv) -> int:
        try:
            return self.stream.readinto(mv)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise ParseError(f"the {self.compression} stream is damaged or truncated ({exc})",
                             path=self.path, offset=self.raw.tell()) from None

    def read_head(self, n: int) -> bytes:
        """Return up to n leading (decompressed) bytes and rewind."""
        buf = bytearray(n)
        got = 0
        while got < n:
            k = self.readinto(memoryview(buf)[got:])
            if not k:
                break
            got += k
        self.rewind()
        return bytes(buf[:got])

    def rewind(self) -> None:
        self.raw.seek(0)
        if self.compression:
            self.stream = dict((nm, c) for _, nm, c in _COMPRESSED)[self.compression](self.raw)

    def consumed(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        self.raw.close()

    def where(self) -> str:
        return f" (byte offsets count the decompressed {self.compression} stream)" if self.compression else ""


# -- detection --------------------------------------------------------------------

_FOREIGN = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
            (b"%PDF", "a PDF document"), (b"\x7fELF", "an executable"),
            (b"PK\x03\x04", "a zip archive: extract the vector file from it first"))


def detect_format(path: str | os.PathLike) -> str:
    """Return the canonical format name of the vector file at `path`, judged by its content.

    Magic bytes identify npy, Parquet, fastText .bin, omnivec models and
    compressed text; text files are word2vec text (an "n d" header line; "fasttext-vec"
    for a .vec name) or GloVe (no header); a header followed by non-text bytes
    is word2vec binary.  Raises FormatError for empty files, pickles (gensim's
    native files) and files that are not vector files at all.
    """
    path = os.fspath(path)
    src = _Source(path)
    try:
        if src.size == 0:
            raise FormatError("the file is empty (0 bytes): no vectors to import", path=path, offset=0)
        head = src.raw.read(64)
        src.raw.seek(0)
        if head.startswith(b"\x93NUMPY"):
            return "npy"
        if head.startswith(b"PAR1"):
            return "parquet"
        if len(head) >= 4 and struct.unpack("<i", head[:4])[0] == FASTTEXT_MAGIC:
            return "fasttext-bin"
        if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
            raise _pickle_error(path)
        if len(head) >= 9 and head[8:9] == b"{":
            (hlen,) = struct.unpack("<Q", head[:8])
            if hlen + 8 <= src.size:
                return "omnivec"
        for magic, what in _FOREIGN:
            if head.startswith(magic):
                raise FormatError(f"not a vector file: it looks like {what}", path=path, offset=0)
        sample = src.read_head(1 << 20)
        if not sample:
            raise FormatError(f"the {src.compression} stream holds no data", path=path, offset=0)
        return _detect_text(path, sample, src.compression)
    finally:
        src.close()


def _pickle_error(path: str) -> FormatError:
    return FormatError(
        "a Python pickle (gensim's native .kv/.model files are pickles); omnivec never unpickles "
        "files, since loading a pickle can run arbitrary code. Load it with gensim "
        "(kv = gensim.models.KeyedVectors.load(path)) and import the object with "
        "omnivec.store.formats.from_gensim(kv)", path=path, offset=0)


def _is_number(tok: bytes) -> bool:
    arr = np.frombuffer(tok, np.uint8)
    return bool(len(arr)) and bool(P.parse_one(arr)[1])


def _header_of(line: bytes) -> tuple[int, int] | None:
    toks = line.split()
    if len(toks) == 2 and all(t.isdigit() for t in toks):
        return int(toks[0]), int(toks[1])
    return None


def _looks_binary(data: bytes) -> bool:
    if not data:
        return False
    arr = np.frombuffer(data, np.uint8)
    ctrl = ((arr < 32) & (arr != 9) & (arr != 10) & (arr != 13)).sum()
    return bool(ctrl * 50 > len(arr)) or b"\x00" in data


def _detect_text(path: str, sample: bytes, compression: str | None) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    nl = sample.find(b"\n")
    first = sample if nl < 0 else sample[:nl]
    rest = b"" if nl < 0 else sample[nl + 1:]
    header = _header_of(first)
    is_vec = Path(path).name.lower().replace(".gz", "").replace(".bz2", "").replace(".xz", "").endswith(".vec")
    if header is not None:
        n, d = header
        nl2 = rest.find(b"\n")
        second = rest if nl2 < 0 else rest[:nl2]
        toks = second.split()
        if not rest.strip():
            return "fasttext-vec" if is_vec else "word2vec-text"
        if len(toks) == d + 1 and not _looks_binary(second) and all(_is_number(t) for t in toks[1:]):
            return "fasttext-vec" if is_vec else "word2vec-text"
        if _looks_binary(rest[:4096]) or (d > 0 and b" " in rest[:MAX_BINARY_KEY] and not _textual(rest)):
            return "word2vec-binary"
        return "fasttext-vec" if is_vec else "word2vec-text"
    if _looks_binary(first[:4096]) or _looks_binary(sample[:4096]):
        hint = ""
        if Path(path).name.lower().endswith(".bin"):
            hint = ("; a fastText .bin from before fastText 0.2 has no magic number and is not "
                    "supported: save it again with a current fastText")
        raise FormatError("not a vector file: unrecognised binary data (starts with "
                          f"{sample[:8].hex(' ')}){hint}", path=path, offset=0)
    toks = first.split()
    if len(toks) < 2:
        shown = first[:60].decode("utf-8", "replace")
        raise FormatError(f"not a vector file: line 1 is neither an 'n d' header nor 'key v1 v2 ...' "
                          f"(found {shown!r})", path=path, line=1, offset=0)
    numeric = sum(_is_number(t) for t in toks[1:])
    if numeric == 0:
        shown = first[:60].decode("utf-8", "replace")
        raise FormatError(f"not a vector file: line 1 holds no numbers after its first word "
                          f"(found {shown!r})", path=path, line=1, offset=0)
    return "fasttext-vec" if is_vec else "glove"


def _textual(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > 4090   # a character cut by the sample's end


def format_for_path(path: str | os.PathLike) -> str:
    """Return the format an export to `path` should use, judged by its extension."""
    name = Path(path).name.lower()
    for suffix, fmt in ((".vec", "fasttext-vec"), (".npy", "npy"), (".parquet", "parquet"),
                        (".pq", "parquet"), (".safetensors", "omnivec"), (".omv", "omnivec"),
                        (".bin", "word2vec-binary"), (".glove", "glove"), (".txt", "word2vec-text")):
        if name.endswith(suffix):
            return fmt
    raise InputError(f"cannot tell the format of {path} from its extension; name one of: "
                     f"{', '.join(FORMATS.names())}")


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
    from ..metrics import get_metric
    from ..core.vectors import storage_name

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
            self.batch = max(256, min(BATCH_LINES, (8 * 2**20) // (4 * dim)))
            self.out = np.empty((self.batch, dim), np.float32)
            import tempfile

            fd, self.raw_path = tempfile.mkstemp(prefix=".omnivec-rows.", suffix=".tmp", dir=spill_dir)
            self.fh = os.fdopen(fd, "wb")
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


# -- text: word2vec / GloVe / .vec --------------------------------------------------

def _read_text(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    src = _Source(path)
    try:
        return _TextReader(src, o, report).run()
    finally:
        src.close()


class _TextReader:
    cut = False   # the failing line is the file's last and has no newline

    def __init__(self, src: _Source, o: _Options, report: ImportReport) -> None:
        self.src = src
        self.path = src.path
        self.o = o
        self.report = report
        self.nan_code = _nan_code(o.nan)

    def fail(self, msg: str, line: int | None, offset: int | None, cls=ParseError):
        if self.cut:
            msg += "; the file ends inside this line without a newline (truncated?)"
        raise cls(msg + self.src.where(), path=self.path, line=line, offset=offset)

    def run(self) -> _Parsed:
        src, o = self.src, self.o
        if src.size == 0:
            raise FormatError("the file is empty (0 bytes): no vectors to import", path=self.path, offset=0)
        buf = np.empty(CHUNK, np.uint8)
        filled = _fill(src, buf, 0)
        eof = filled < len(buf)
        pos = 0
        if buf[:3].tobytes() == b"\xef\xbb\xbf":
            pos = 3
        # The first line: a header "n d", or the first row (its width gives the dimension).
        first_end = _find_nl(buf, pos, filled)
        while first_end < 0 and not eof:
            buf, filled, eof = _grow_and_fill(src, buf, filled)
            first_end = _find_nl(buf, pos, filled)
        line_end = filled if first_end < 0 else first_end
        first = buf[pos:line_end].tobytes()
        header = _header_of(first)
        line_no = 0      # lines consumed so far
        if header is not None:
            n_head, dim = header
            if dim < 1:
                self.fail(f"the header announces {dim} dimensions; a vector needs at least 1", 1, pos)
            self.report.header_rows = n_head
            pos = line_end + 1 if first_end >= 0 else filled
            line_no = 1
        else:
            n_head = None
            k = pos
            # Blank lines before the first row do not count; the width comes from the first real row.
            while not first.strip():
                if first_end < 0:
                    raise FormatError("the file holds only blank lines: no vectors to import",
                                      path=self.path, offset=filled)
                k = first_end + 1
                nxt = _find_nl(buf, k, filled)
                while nxt < 0 and not eof:
                    buf, filled, eof = _grow_and_fill(src, buf, filled)
                    nxt = _find_nl(buf, k, filled)
                first_end = nxt
                first = buf[k:(filled if nxt < 0 else nxt)].tobytes()
            toks = first.split()
            dim = len(toks) - 1
            if dim < 1:
                shown = first[:60].decode("utf-8", "replace")
                self.fail(f"expected 'key v1 v2 ...' or an 'n d' header, found {shown!r}", None, k,
                          cls=FormatError)
        self.dim = dim
        self.report.dim = dim
        # Capacity: the header's row count (virtual memory until written), else an estimate.
        limit = o.max_rows
        if n_head is not None:
            cap = n_head if limit is None else min(n_head, limit)
        else:
            sample_lines = max(1, int(np.count_nonzero(buf[:filled] == 10)))
            total = src.size if not src.compression else src.size * 4
            cap = int(total / max(1.0, filled / sample_lines) * 1.2) + 1024
            if limit is not None:
                cap = min(cap, limit)
        if not src.compression:
            cap = min(cap, src.size // (2 * dim + 2) + 1)
        cap = max(int(cap), 1)
        sink = _Rows(cap, dim, self.path, o.spill_dir)
        try:
            return self._loop(src, sink, buf, filled, eof, pos, line_no, n_head, limit, cap)
        except BaseException:
            sink.discard()
            raise

    def _loop(self, src, sink, buf, filled, eof, pos, line_no, n_head, limit, cap) -> _Parsed:
        o, dim = self.o, self.dim
        batch_lines = sink.batch
        offsets = np.zeros(cap + 1, np.int64)
        row_line = np.zeros(cap, np.int64)
        blob = np.empty(max(1024, cap * 12), np.uint8)
        starts = np.empty(batch_lines, np.int64)
        ends = np.empty(batch_lines, np.int64)
        key_end = np.empty(batch_lines, np.int64)
        status = np.empty(batch_lines, np.int64)
        errpos = np.empty(batch_lines, np.int64)
        nvals = np.empty(batch_lines, np.int64)
        counters = np.array([0, 0, -1], np.int64)
        row = 0
        blob_pos = 0
        base = 0          # absolute (decompressed) byte offset of buf[0]
        stopped = False
        with _progress(f"Importing {Path(self.path).name}", src.size / 1e6, unit="MB",
                       enabled=o.progress) as task:
            while True:
                while True:
                    data_lines = row + (counters[1] if self.nan_code == P.NAN_SKIP else 0)
                    room = batch_lines
                    if n_head is not None:
                        room = min(room, n_head - data_lines)
                    if limit is not None:
                        room = min(room, limit - row)
                    if room <= 0:
                        at_limit = limit is not None and row >= limit
                        # Peek at the next line: blank lines may follow; a row means too many rows.
                        nl, nxt = P.index_lines(buf, pos, filled, eof, starts[:1], ends[:1])
                        if nl == 0:
                            break
                        if not buf[starts[0]:ends[0]].tobytes().strip():
                            counters[0] += 1
                            pos = nxt
                            line_no += 1
                            continue
                        if at_limit:
                            self.report.max_rows_reached = True
                            stopped = True
                            break
                        self.fail(f"the header (line 1) announces {n_head:,} rows but more follow "
                                  f"(row {data_lines + 1:,} is here)", line_no + 1, base + int(starts[0]))
                    nl, nxt = P.index_lines(buf, pos, filled, eof, starts[:room], ends[:room])
                    if nl == 0:
                        break
                    need = blob_pos + int(ends[nl - 1] - starts[0])
                    if need > len(blob):
                        blob = _grow(blob, max(need, 2 * len(blob)))
                    if row + nl > len(row_line):
                        cap = max(int(len(row_line) * 1.5) + 1024, row + nl)
                        offsets, row_line = _grow(offsets, cap + 1), _grow(row_line, cap)
                    out, at, vshift = sink.prepare(row, nl)
                    if nl >= PARALLEL_MIN_LINES and _parallel(o.workers):
                        with _threads(o.workers):
                            P.parse_lines(buf, starts, ends, nl, dim, out, at, key_end, status, errpos, nvals)
                    else:
                        P.parse_lines_serial(buf, starts, ends, nl, dim, out, at, key_end, status, errpos, nvals)
                    old = row
                    done, row, blob_pos, stop = P.commit_lines(
                        buf, starts, nl, status, key_end, out, row, row, vshift, len(row_line),
                        self.nan_code, blob, blob_pos, offsets, row_line, line_no, counters)
                    if stop != P.STOP_NONE:
                        self.cut = eof and int(ends[done]) == filled and (filled == 0 or buf[filled - 1] != 10)
                        self._line_error(buf, base, starts, ends, key_end, status, errpos, nvals,
                                         done, line_no, n_head, stop)
                    sink.commit(old, row)
                    pos = nxt
                    line_no += nl
                if stopped or eof:
                    break
                # Keep the partial last line, read the next chunk after it.
                base += pos
                buf, filled, eof = _refill(src, buf, pos, filled)
                pos = 0
                task.update(completed=src.consumed() / 1e6)
            task.update(completed=src.consumed() / 1e6)
        data_lines = row + (counters[1] if self.nan_code == P.NAN_SKIP else 0)
        if n_head is not None and data_lines < n_head and not self.report.max_rows_reached \
                and not (limit is not None and row >= limit):
            self.fail(f"the header (line 1) announces {n_head:,} rows but the file ends after "
                      f"{data_lines:,} (truncated?)", line_no, base + filled)
        if row == 0 and n_head is None:
            raise FormatError("no vectors found", path=self.path)
        self.report.lines_read = line_no
        self.report.bytes_read = base + filled
        self.report.blank_lines = int(counters[0])
        self.report.nan_rows = int(counters[1])
        if counters[2] >= 0:
            self.report.first_nan_line = int(counters[2])
        vectors, raw = sink.finish(row)
        # Views, not copies: the arrays' untouched tails are virtual memory only.
        return _Parsed(vectors=vectors, blob=blob[:blob_pos], offsets=offsets[:row + 1],
                       where=row_line[:row], raw_path=raw, rows=row, dim=dim)

    def _line_error(self, buf, base, starts, ends, key_end, status, errpos, nvals, i, line_no, n_head, stop):
        line = line_no + i + 1
        st = int(status[i])
        s, e = int(starts[i]), int(ends[i])
        text = buf[s:e].tobytes()
        source = "the header says" if n_head is not None else "as on the first row"
        if stop == P.STOP_NONFINITE:
            toks = text.split()
            for j, t in enumerate(toks[1:]):
                v, ok = P.parse_one(np.frombuffer(t, np.uint8))
                if ok and not np.isfinite(v):
                    off = s + text.find(t, len(toks[0]))
                    self.fail(f"value {j + 1} is {t.decode('ascii', 'replace')!r}, not finite "
                              f"(float32 holds up to ±3.4e38); pass nan='skip' to drop such rows or "
                              f"nan='zero' to zero them", line, base + off)
            self.fail("a value is NaN or infinite", line, base + s)
        if st == P.TOO_FEW:
            self.fail(f"expected {self.dim} values after the key ({source}), found {int(nvals[i])}",
                      line, base + int(errpos[i]))
        if st == P.TOO_MANY:
            self.fail(f"expected {self.dim} values after the key ({source}), found {int(nvals[i])}",
                      line, base + int(errpos[i]))
        if st == P.BAD_TOKEN:
            p = int(errpos[i])
            q = p
            while q < e and buf[q] not in (32, 9, 13):
                q += 1
            tok = buf[p:q].tobytes().decode("utf-8", "replace")
            self.fail(f"value {int(nvals[i]) + 1} is {tok[:40]!r}, not a number", line, base + p)
        if st == P.EMPTY_KEY:
            self.fail("the line starts with a blank: its key is empty", line, base + s)
        self.fail("cannot parse this line", line, base + s)


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


# -- word2vec binary ------------------------------------------------------------------

def _read_w2v_binary(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    src = _Source(path)
    sink = None
    try:
        if src.size == 0:
            raise FormatError("the file is empty (0 bytes): no vectors to import", path=path, offset=0)
        buf = np.empty(CHUNK, np.uint8)
        filled = _fill(src, buf, 0)
        eof = filled < len(buf)
        nl = _find_nl(buf, 0, min(filled, 4096))
        header = _header_of(buf[:nl].tobytes()) if nl >= 0 else None
        if header is None:
            shown = buf[:min(filled, 40) if nl < 0 else min(nl, 40)].tobytes().decode("utf-8", "replace")
            raise ParseError(f"word2vec binary files start with an 'n d' header line; found {shown!r}"
                             + src.where(), path=path, line=1, offset=0)
        n_head, dim = header
        if dim < 1:
            raise ParseError(f"the header announces {dim} dimensions; a vector needs at least 1",
                             path=path, line=1, offset=0)
        report.header_rows = n_head
        report.dim = dim
        limit = n_head if o.max_rows is None else min(n_head, o.max_rows)
        cap = limit
        if not src.compression:
            cap = min(cap, (src.size - nl) // (4 * dim + 2) + 1)
        cap = max(cap, 1)
        sink = _Rows(cap, dim, path, o.spill_dir)
        offsets = np.zeros(cap + 1, np.int64)
        row_off = np.zeros(cap, np.int64)
        blob = np.empty(max(1024, cap * 12), np.uint8)
        counters = np.array([0, 0, -1], np.int64)
        pos = nl + 1
        row = 0
        blob_pos = 0
        base = 0
        nan_code = _nan_code(o.nan)
        with _progress(f"Importing {Path(path).name}", src.size / 1e6, unit="MB", enabled=o.progress) as task:
            while True:
                done = row + (int(counters[1]) if nan_code == P.NAN_SKIP else 0)
                want = min(sink.batch, limit - done)
                if row + want > len(row_off):
                    cap = max(int(len(row_off) * 1.5) + 1024, row + want)
                    offsets, row_off = _grow(offsets, cap + 1), _grow(row_off, cap)
                if len(blob) - blob_pos < filled - pos:
                    blob = _grow(blob, max(2 * len(blob), blob_pos + filled - pos))
                out, at, vshift = sink.prepare(row, want)
                old = row
                pos, row, blob_pos, st = P.parse_w2v_binary(
                    buf, pos, filled, eof, dim, out, row, vshift, row + want, nan_code, blob, blob_pos,
                    offsets, row_off, base, MAX_BINARY_KEY, counters)
                sink.commit(old, row)
                done = row + (int(counters[1]) if nan_code == P.NAN_SKIP else 0)
                if st == 1:
                    raise ParseError(f"record {done + 1:,}: no blank after a key within "
                                     f"{MAX_BINARY_KEY:,} bytes; not word2vec binary data" + src.where(),
                                     path=path, offset=base + pos)
                if st == 2:
                    raise ParseError(f"record {done + 1:,} (key {_key_at(buf, pos)!r}) holds NaN or "
                                     "infinity; pass nan='skip' to drop such rows or nan='zero' to zero "
                                     "them" + src.where(), path=path, offset=base + pos)
                if st == 3:
                    raise ParseError(f"the file ends inside record {done + 1:,} of {n_head:,} "
                                     f"(a record is a key, a blank and {4 * dim} bytes): truncated?"
                                     + src.where(), path=path, offset=base + pos)
                if done >= limit:
                    break
                if row - old == want:
                    continue          # the batch filled up; the buffer may hold more
                if eof:
                    break
                base += pos
                buf, filled, eof = _refill(src, buf, pos, filled)
                pos = 0
                task.update(completed=src.consumed() / 1e6)
            task.update(completed=src.consumed() / 1e6)
            done = row + (int(counters[1]) if nan_code == P.NAN_SKIP else 0)
            if done < limit:
                raise ParseError(f"the header announces {n_head:,} rows but the file ends after "
                                 f"{done:,} (truncated?)" + src.where(), path=path, offset=base + filled)
            if o.max_rows is not None and done >= o.max_rows and n_head > o.max_rows:
                report.max_rows_reached = True
            else:
                # After the last announced row only newlines may follow.
                tail = buf[pos:filled]
                extra = np.flatnonzero((tail != 10) & (tail != 13))
                if len(extra):
                    raise ParseError(f"the header announces {n_head:,} rows but more data follows "
                                     "them" + src.where(), path=path, offset=base + pos + int(extra[0]))
                if not eof and _fill(src, np.empty(1, np.uint8), 0):
                    raise ParseError(f"the header announces {n_head:,} rows but more data follows "
                                     "them" + src.where(), path=path, offset=base + filled)
        report.bytes_read = base + filled
        report.lines_read = done
        report.nan_rows = int(counters[1])
        if counters[2] >= 0:
            report.first_nan_offset = int(counters[2])
        vectors, raw = sink.finish(row)
        return _Parsed(vectors=vectors, blob=blob[:blob_pos], offsets=offsets[:row + 1],
                       where=row_off[:row], by_offset=True, raw_path=raw, rows=row, dim=dim)
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    finally:
        src.close()


def _key_at(buf: np.ndarray, pos: int) -> str:
    while pos < len(buf) and buf[pos] in (10, 13):
        pos += 1
    raw = buf[pos:pos + 200].tobytes()
    return raw.split(b" ", 1)[0].decode("utf-8", "replace")[:60]


# -- numpy .npy + keys file -------------------------------------------------------

def _read_npy(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"cannot read this .npy file: {exc} (object arrays are refused: they are "
                          "pickles)", path=path) from None
    except (OSError, EOFError) as exc:
        raise FormatError(f"cannot read this .npy file (truncated?): {exc}", path=path) from None
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise FormatError(f"expected a 2-D numeric array (rows x dims), found shape {arr.shape} "
                          f"dtype {arr.dtype}", path=path)
    keys_path = o.keys_file or _default_keys_file(path)
    if keys_path is None:
        raise InputError(f"{path}: a .npy holds no keys; give keys_file= (one key per line, UTF-8), "
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
                                     "range); pass nan='skip' to drop such rows or nan='zero' to zero them",
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


# -- Parquet ----------------------------------------------------------------------

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
                                         "range); pass nan='skip' to drop such rows or nan='zero' to "
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


# -- omnivec model files and fastText .bin ------------------------------------------

def _read_model(path: str, fmt: str, o: _Options, report: ImportReport):
    from .model import open_table

    emb = open_table(path)
    report.rows, report.dim = len(emb), emb.dim
    report.bytes_read = os.path.getsize(path)
    return emb


def _read_fasttext_bin(path: str, fmt: str, o: _Options, report: ImportReport):
    try:
        from . import fasttext_bin
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith("fasttext_bin"):
            raise FormatError("fastText .bin import is not available in this installation", path=path) from None
        raise
    # A .bin is one model (words, n-gram buckets, output matrix): it is read whole or refused,
    # so the row-by-row options of the vector formats are refused rather than ignored.
    if o.max_rows is not None:
        raise InputError(f"{path}: max_rows does not apply to a fastText .bin model, which is read whole "
                         "(its words and n-gram buckets are one model); import it, then keep the rows you need")
    if o.nan != "error":
        raise InputError(f"{path}: nan={o.nan!r} does not apply to a fastText .bin model: it is read whole, "
                         "and refused if it holds NaN or infinity")
    try:
        emb, ft_report = fasttext_bin.read_fasttext_bin(path, progress=o.progress)
    except InputError as exc:  # e.g. NaN in a matrix: say which file
        raise CorruptFileError(f"{exc}", path=path) from None
    if isinstance(ft_report, ImportReport):
        for f in ("lines_read", "bytes_read", "notes"):
            setattr(report, f, getattr(ft_report, f))
    report.bytes_read = report.bytes_read or os.path.getsize(path)
    return emb


# -- from parsed arrays to Embeddings -------------------------------------------------

def _keys_table(parsed: _Parsed, path: str, o: _Options, report: ImportReport):
    """Return (KeyTable, keep mask or None): keys checked for UTF-8, duplicates handled per policy."""
    from ..core.keys import KeyTable

    where_path = parsed.keys_path or path
    if parsed.ids is not None:
        table, keep = KeyTable.from_keys(parsed.ids, on_duplicate="first")
        if keep is not None:
            first = int(np.flatnonzero(~keep)[0])
            if o.on_duplicate == "error":
                raise _dup_error(str(int(parsed.ids[first])), first, parsed, where_path)
            _note_dups(report, parsed, first, str(int(parsed.ids[first])), int((~keep).sum()))
        return table, keep
    blob, offsets = parsed.blob, parsed.offsets
    if o.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        blob, offsets = _transcode(blob, offsets, o.encoding, o.encoding_errors, parsed, where_path, report)
    bad = np.zeros(len(offsets) - 1, np.bool_)
    nbad = P.utf8_bad_rows(blob, offsets, bad)
    if nbad:
        rows = np.flatnonzero(bad)
        if o.encoding_errors == "strict":
            r = int(rows[0])
            raw = blob[offsets[r]:offsets[r + 1]].tobytes()
            try:
                raw.decode("utf-8")
                pos = len(raw)
            except UnicodeDecodeError as exc:
                pos = exc.start
            line, off = _loc(parsed, r)
            if off is not None:
                off += pos
            raise ParseError(f"the key {raw[:60]!r} is not valid UTF-8 (at its byte {pos}); pass "
                             "encoding_errors='replace' to replace bad bytes with U+FFFD, or "
                             "encoding= the file's encoding", path=where_path, line=line,
                             offset=None if line is not None else off)
        blob, offsets = _replace_keys(blob, offsets, bad)
        report.replaced_encodings += int(nbad)
    index = np.full(KK.index_capacity(len(offsets) - 1), KK.EMPTY, np.int64)
    dups, first = KK.build_str_index(blob, offsets, index)
    if not dups:
        return KeyTable(kind="str", index=index, blob=blob, offsets=offsets), None
    key = blob[offsets[first]:offsets[first + 1]].tobytes().decode("utf-8")
    if o.on_duplicate == "error":
        raise _dup_error(key, int(first), parsed, where_path, blob, offsets, index)
    keep = np.zeros(len(offsets) - 1, bool)
    keep[index[index >= 0]] = True
    _note_dups(report, parsed, int(first), key, int(dups))
    new_blob = np.empty(len(blob), np.uint8)
    new_off = np.zeros(int(keep.sum()) + 1, np.int64)
    P.compact_keys(blob, offsets, keep, new_blob, new_off)
    return KeyTable.from_blob(new_blob[:new_off[-1]].copy(), new_off)[0], keep


def _finish(parsed: _Parsed, path: str, o: _Options, report: ImportReport, meta: dict):
    """Return in-memory Embeddings for parsed rows held in memory."""
    from ..embeddings import Embeddings
    from ..metrics import get_metric
    from ..core.vectors import VectorStore

    table, keep = _keys_table(parsed, path, o, report)
    vectors = parsed.vectors
    if keep is not None:
        vectors = vectors[:P.compact_rows(vectors, keep)]
    store = VectorStore.encode(vectors, o.storage)
    return Embeddings.from_parts(name="embeddings", keys=table, store=store,
                                  metric=get_metric(o.metric), counts=None, meta=meta, subwords=None,
                                  extras={}, oov=False, source=None)


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


def _write_streamed(dst: str, name: str, table, parsed: _Parsed, keep: np.ndarray | None,
                    o: _Options, meta: dict) -> None:
    """Write a one-table model file from keys in memory and rows in a raw file, atomically.

    The layout, header and checksums are those container.write gives the same
    table, byte for byte; vectors are encoded, checksummed and written block by
    block, so memory holds one block, never the table.
    """
    import json
    import zlib

    from . import container
    from .model import FORMAT_NAME, FORMAT_VERSION
    from ..core.vectors import CHUNK_ROWS, VectorStore, encode_block, quant_scale

    rows, dim, storage = parsed.rows, parsed.dim, o.storage
    n = rows if keep is None else int(keep.sum())
    scale = quant_scale(storage, _raw_blocks(parsed.raw_path, rows, dim, keep), n, dim)
    vdtype = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "binary": np.uint8}[storage]
    width = (dim + 7) // 8 if storage == "binary" else dim
    small = {f"{name}.{k}": v for k, v in table.arrays().items()}
    shapes = {k: (np.dtype(v.dtype), tuple(v.shape)) for k, v in small.items()}
    shapes[f"{name}.vectors"] = (np.dtype(vdtype), (n, width))
    shapes[f"{name}.norms"] = (np.dtype(np.float32), (n,))
    if scale is not None:
        small[f"{name}.scale"] = scale
        shapes[f"{name}.scale"] = (np.dtype(np.float32), (dim,))
    table_meta = {"n": n, "dim": dim, "storage": storage, "metric": o.metric, "key_kind": table.kind,
                  "counts": False, "subwords": None, "extras": [], "meta": meta}
    try:
        meta_json = json.dumps({"format_version": FORMAT_VERSION, "tables": {name: table_meta}},
                               sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"table metadata must be plain JSON: {exc}") from None
    order = sorted(shapes, key=lambda k: (-shapes[k][0].itemsize, k))
    where, pos = {}, 0
    for k in order:
        nbytes = int(np.prod(shapes[k][1], dtype=np.int64)) * shapes[k][0].itemsize
        where[k] = (pos, pos + nbytes)
        pos += nbytes

    def header(sums: dict) -> bytes:
        md = {"format": FORMAT_NAME, FORMAT_NAME: meta_json, "checksums": json.dumps(sums, sort_keys=True)}
        h: dict = {"__metadata__": md}
        for k in order:
            h[k] = {"dtype": container.CODES[shapes[k][0]], "shape": list(shapes[k][1]),
                    "data_offsets": list(where[k])}
        raw = json.dumps(h, separators=(",", ":")).encode("utf-8")
        return raw + b" " * (-(8 + len(raw)) % 64)

    placeholder = header({k: "0" * 8 for k in order})
    start = 8 + len(placeholder)
    sums = {}
    with container.atomic_path(dst) as tmp, open(tmp, "wb") as fh, \
            _progress(f"Writing {Path(dst).name}", n, unit="rows", enabled=o.progress) as task:
        fh.write(struct.pack("<Q", len(placeholder)))
        fh.write(placeholder)
        norms = np.empty(n, np.float32)
        fh.seek(start + where[f"{name}.vectors"][0])
        crc, w = 0, 0
        for blk in _raw_blocks(parsed.raw_path, rows, dim, keep):
            data = encode_block(blk, storage, scale)
            store = VectorStore(data=data, dtype=storage, dim=dim, norms=norms[w:w + len(data)], scale=scale)
            norms[w:w + len(data)] = store.compute_norms()
            raw = memoryview(np.ascontiguousarray(data)).cast("B")
            crc = zlib.crc32(raw, crc)
            fh.write(raw)
            w += len(data)
            task.advance(len(data))
        if w != n:
            raise FormatError(f"wrote {w} rows, expected {n}", path=dst)
        sums[f"{name}.vectors"] = f"{crc & 0xFFFFFFFF:08x}"
        small[f"{name}.norms"] = norms
        for k, arr in small.items():
            fh.seek(start + where[k][0])
            flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
            fh.write(memoryview(flat))
            sums[k] = container.crc32(arr)
        fh.seek(start + pos)
        fh.truncate()
        final = header(sums)
        if len(final) != len(placeholder):
            raise FormatError("internal error: the model header changed size while writing", path=dst)
        fh.seek(8)
        fh.write(final)


def _loc(parsed: _Parsed, row: int) -> tuple[int | None, int | None]:
    if parsed.where is None or row >= len(parsed.where):
        return None, None
    v = int(parsed.where[row])
    return (None, v) if parsed.by_offset else (v, None)


def _note_dups(report: ImportReport, parsed: _Parsed, first: int, key: str, count: int) -> None:
    line, off = _loc(parsed, first)
    report.duplicates = count
    report.first_duplicate_key = key
    report.first_duplicate_line = line
    report.first_duplicate_offset = off


def _dup_error(key: str, first: int, parsed: _Parsed, path: str, blob=None, offsets=None, index=None):
    line, off = _loc(parsed, first)
    earlier = ""
    if blob is not None:
        r0 = KK.probe_str(blob, offsets, index, blob[offsets[first]:offsets[first + 1]].tobytes())
        l0, o0 = _loc(parsed, int(r0))
        earlier = f" (first seen at {_where(l0, o0)})"
    raise ParseError(f"duplicate key {key!r}{earlier}; pass on_duplicate='first' to keep the first "
                     "and skip the rest", path=path, line=line, offset=off)


def _replace_keys(blob, offsets, bad):
    rows = np.flatnonzero(bad)
    fixed = {int(r): blob[offsets[r]:offsets[r + 1]].tobytes().decode("utf-8", "replace").encode("utf-8")
             for r in rows}
    lengths = np.diff(offsets)
    for r, b in fixed.items():
        lengths[r] = len(b)
    new_off = np.zeros(len(offsets), np.int64)
    np.cumsum(lengths, out=new_off[1:])
    new_blob = np.empty(int(new_off[-1]), np.uint8)
    # Copy the unchanged runs between bad rows in bulk.
    prev = 0
    for r in sorted(fixed):
        new_blob[new_off[prev]:new_off[r]] = blob[offsets[prev]:offsets[r]]
        new_blob[new_off[r]:new_off[r + 1]] = np.frombuffer(fixed[r], np.uint8)
        prev = r + 1
    new_blob[new_off[prev]:] = blob[offsets[prev]:offsets[-1]]
    return new_blob, new_off


def _transcode(blob, offsets, encoding, errors, parsed, path, report):
    keys = []
    raw = blob.tobytes()
    for r in range(len(offsets) - 1):
        b = raw[offsets[r]:offsets[r + 1]]
        try:
            keys.append(b.decode(encoding))
        except UnicodeDecodeError as exc:
            if errors == "strict":
                line, off = _loc(parsed, r)
                raise ParseError(f"the key {b[:60]!r} is not valid {encoding} ({exc.reason}); pass "
                                 "encoding_errors='replace' to replace bad bytes", path=path, line=line,
                                 offset=off) from None
            keys.append(b.decode(encoding, "replace"))
            report.replaced_encodings += 1
    from ..core.keys import encode_keys

    return encode_keys(keys)


# -- import ----------------------------------------------------------------------

_TEXT = ("word2vec-text", "glove", "fasttext-vec")
_BINARY = ("word2vec-binary", "fasttext-bin")


def import_vectors(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
                   format: str | None = None, storage: str = "float32", metric: str = "cosine",
                   keys_file: str | os.PathLike | None = None, on_duplicate: str = "first",
                   nan: str = "error", encoding: str = "utf-8", encoding_errors: str = "strict",
                   max_rows: int | None = None, progress: bool | None = None,
                   key_column: str | None = None, vector_column: str | None = None,
                   name: str = "embeddings", workers: int | None = None) -> tuple[Any, ImportReport]:
    """Return (Embeddings, ImportReport) for the vector file `src`; with `dst`, the model written there.

    The format is detected from the content unless `format` names one of
    FORMATS.  With `dst` the model file is written atomically and the returned
    Embeddings is that file, memory-mapped.  on_duplicate: "first" (keep the
    first copy, count the rest) or "error"; nan: "error", "skip" or "zero" for
    rows holding NaN/inf; keys that are not valid UTF-8 raise ParseError unless
    encoding_errors="replace"; max_rows stops after that many rows.  Text is
    parsed on `workers` threads (None: one thread on machines with two cores,
    numba's thread count above that; results do not depend on it).  Parquet: key_column / vector_column pick the columns when
    the schema leaves a doubt; npy: keys_file (default ``<base>.keys.txt``).
    """
    from ..embeddings import Embeddings

    t0 = time.perf_counter()
    path = os.fspath(src)
    o = _Options(storage=storage, metric=metric, keys_file=None if keys_file is None else os.fspath(keys_file),
                 on_duplicate=on_duplicate, nan=nan, encoding=encoding, encoding_errors=encoding_errors,
                 max_rows=max_rows, progress=progress, key_column=key_column, vector_column=vector_column,
                 workers=workers)
    _check_options(o)
    detected = None
    try:
        detected = detect_format(path)
    except FormatError:
        if format is None or not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise
        with open(path, "rb") as fh:
            h = fh.read(2)
        if len(h) == 2 and h[0] == 0x80 and 2 <= h[1] <= 5:
            raise
    if format is None:
        fmt = detected
    else:
        fmt = FORMATS.canonical(format)
        if detected is not None and detected != fmt:
            same_family = (fmt in _TEXT and detected in _TEXT) or (fmt in _BINARY and detected in _BINARY)
            if fmt in _BINARY and detected in _BINARY:
                fmt = detected        # ".bin" is either; the content decides
            elif not same_family:
                raise FormatError(f"asked to read {fmt}, but the content looks like {detected}; "
                                  "leave the format out to use the detected one", path=path)
    spec = FORMATS.get(fmt)
    if spec.reader is None:
        raise FormatError(f"{fmt} files cannot be imported", path=path)
    report = ImportReport(format=fmt, path=path, nan_policy=nan, storage=o.storage)
    meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {"format": fmt, "file": Path(path).name, "bytes": os.path.getsize(path)}}
    if dst is not None and fmt in _TEXT + ("word2vec-binary", "npy", "parquet"):
        folder = Path(os.fspath(dst)).parent
        if not folder.is_dir():
            raise FormatError(f"folder {folder} does not exist", path=dst)
        o.spill_dir = str(folder)
    result = spec.reader(path, fmt, o, report)
    if isinstance(result, Embeddings):
        emb = result
        if o.storage != emb.storage:
            emb = emb.astype(o.storage)
        if o.metric != emb.metric:
            emb = emb.with_metric(o.metric)
        emb.meta.setdefault("source", meta["source"])
        _note_import(emb.meta, report)
    elif result.raw_path is not None:
        from .model import open_table

        try:
            table, keep = _keys_table(result, path, o, report)
            _note_import(meta, report)
            _write_streamed(os.fspath(dst), name, table, result, keep, o, meta)
        finally:
            Path(result.raw_path).unlink(missing_ok=True)
        emb = open_table(dst)
        report.rows, report.dim = len(emb), emb.dim
        report.dst = os.fspath(dst)
        report.seconds = time.perf_counter() - t0
        return emb, report
    else:
        emb = _finish(result, path, o, report, meta)
        _note_import(meta, report)
    report.rows, report.dim = len(emb), emb.dim
    if dst is not None:
        from .model import open_table, save_tables

        save_tables(dst, {name: emb.replace(name=name)})
        emb = open_table(dst)
        report.dst = os.fspath(dst)
    elif name != emb.name:
        emb = emb.replace(name=name)
    report.seconds = time.perf_counter() - t0
    return emb, report


def _note_import(meta: dict, report: ImportReport) -> None:
    # Provenance: what the import skipped or changed travels with the model.
    info = {k: v for k, v in (("duplicates", report.duplicates), ("nan_rows", report.nan_rows),
                              ("replaced_encodings", report.replaced_encodings)) if v}
    if report.nan_rows:
        info["nan_policy"] = report.nan_policy
    if info:
        meta["import"] = info


# -- export ----------------------------------------------------------------------

def export_vectors(emb, path: str | os.PathLike, format: str | None = None, *,
                   progress: bool | None = None, keys_file: str | os.PathLike | None = None) -> None:
    """Write `emb` to `path` in `format` (judged by the extension when None), atomically; returns None.

    Text floats are written in their shortest form that reads back as the
    same float32.  npy writes the keys beside it (``<base>.keys.txt`` unless
    `keys_file` is given).  fastText .bin goes through omnivec.store.fasttext_bin.
    """
    path = os.fspath(path)
    fmt = format_for_path(path) if format is None else FORMATS.canonical(format)
    if fmt == "word2vec-binary" and format is not None and _normal(format) == "bin" and emb.subwords is not None:
        fmt = "fasttext-bin"
    spec = FORMATS.get(fmt)
    if spec.writer is None:
        raise InputError(f"{fmt} files cannot be written")
    spec.writer(emb, path, fmt, progress=progress, keys_file=keys_file)


def _normal(name: str) -> str:
    from .._registry import normalize_name

    return normalize_name(name)


def _key_arrays(emb) -> tuple[np.ndarray, np.ndarray]:
    # The writers read blob/offsets without bounds checks: damaged-but-checksummed files stop here.
    keys = emb.keys.checked()
    if keys.kind == "str":
        return np.asarray(keys.blob), np.asarray(keys.offsets)
    from ..core.keys import encode_keys

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
    from .container import atomic_path

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


def _write_text(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    d = emb.dim

    def encode(blob, offsets, s, blk, out, slot):
        lengths = np.empty(len(blk), np.int64)
        P.format_rows(blk, blob, offsets, s, slot, out, lengths)
        return P.pack_slots(out, slot, lengths)

    _write_keyed_rows(emb, path, fmt, progress, 18 * d, fmt != "glove", encode)


def _write_w2v_binary(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    d = emb.dim

    def encode(blob, offsets, s, blk, out, slot):
        return P.format_w2v_binary(blk.view(np.uint8).reshape(len(blk), 4 * d), blob, offsets, s, out)

    _write_keyed_rows(emb, path, fmt, progress, 4 * d, True, encode)


def _write_npy(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    from .container import atomic_path

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


def _write_parquet(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    pq = _pq()
    import pyarrow as pa

    from .container import atomic_path

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


def _write_model(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    emb.save(path)


def _write_fasttext_bin(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    from . import fasttext_bin

    fasttext_bin.write_fasttext_bin(emb, path)


# -- gensim, in memory only ---------------------------------------------------------

def from_gensim(kv: Any, *, metric: str = "cosine", storage: str = "float32", name: str = "embeddings") -> Any:
    """Return Embeddings holding a gensim KeyedVectors' keys, vectors and counts (a copy).

    A FastTextKeyedVectors also brings its n-gram buckets as the subword table.
    gensim's files are pickles: load them with gensim, then pass the object here.
    """
    from ..embeddings import Embeddings
    from ..core.subwords import Subwords

    if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
        raise InputError(f"from_gensim expects a gensim KeyedVectors (or a model's .wv); got "
                         f"{type(kv).__name__}")
    keys = list(kv.index_to_key)
    vectors = np.asarray(kv.vectors)
    counts = None
    if keys and "count" in getattr(kv, "expandos", {}):
        c = np.asarray(kv.expandos["count"])
        if len(c) == len(keys) and c.dtype.kind in "iu" and c.any():
            counts = c.astype(np.int64)
    subwords = None
    ngrams = getattr(kv, "vectors_ngrams", None)
    if ngrams is not None and getattr(kv, "bucket", 0):
        vocab = getattr(kv, "vectors_vocab", None)
        subwords = Subwords(minn=int(kv.min_n), maxn=int(kv.max_n), bucket=int(kv.bucket),
                            vectors=np.ascontiguousarray(ngrams, np.float32),
                            word_vectors=None if vocab is None else np.ascontiguousarray(vocab, np.float32))
    meta = {"source": {"format": "gensim", "class": type(kv).__name__}}
    return Embeddings(keys, vectors, metric=metric, counts=counts, meta=meta, storage=storage,
                      subwords=subwords, name=name)


def to_gensim(emb: Any) -> Any:
    """Return a gensim KeyedVectors with the keys, float32 vectors and counts of `emb` (a copy)."""
    models = require("gensim.models", "gensim", "Converting to gensim KeyedVectors")
    kv = models.KeyedVectors(emb.dim, count=0, dtype=np.float32)
    keys = [k if isinstance(k, str) else int(k) for k in emb.keys]
    vecs = np.empty((len(emb), emb.dim), np.float32)
    for s, blk in emb.store.iter_chunks():
        vecs[s:s + len(blk)] = blk
    kv.add_vectors(keys, vecs)
    if emb.counts is not None:
        for k, c in zip(keys, np.asarray(emb.counts).tolist()):
            kv.set_vecattr(k, "count", c)
    return kv


# -- registration -------------------------------------------------------------------

_register("word2vec-text", "word2vec text: an 'n d' header line, then 'key v1 ... vd' per line",
          _read_text, _write_text, (".txt", ".w2v"), aliases=("w2v", "word2vec", "w2v-text", "text", "txt"))
_register("glove", "GloVe text: 'key v1 ... vd' per line, no header", _read_text, _write_text,
          (".txt",), aliases=("glove-text",))
_register("fasttext-vec", "fastText .vec text (word2vec text with a header)", _read_text, _write_text,
          (".vec",), aliases=("vec", "fasttext-text"))
_register("word2vec-binary", "word2vec binary: 'n d' header, then key, blank, d little-endian float32",
          _read_w2v_binary, _write_w2v_binary, (".bin",),
          aliases=("w2v-bin", "word2vec-bin", "w2v-binary", "bin"))
_register("fasttext-bin", "fastText .bin model (words and subword buckets)", _read_fasttext_bin,
          _write_fasttext_bin, (".bin",), aliases=("fasttext", "ft-bin"))
_register("npy", "numpy .npy array plus a keys file (one key per line)", _read_npy, _write_npy,
          (".npy",), aliases=("numpy",))
_register("parquet", "Parquet: a key column and a list column (or one column per dimension)",
          _read_parquet, _write_parquet, (".parquet", ".pq"), aliases=("pq",))
_register("omnivec", "omnivec model file (safetensors)", _read_model, _write_model,
          (".omv", ".safetensors"), aliases=("model", "safetensors"))
