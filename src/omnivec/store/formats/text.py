"""word2vec text, GloVe text and fastText .vec: detection, the streaming reader and the writer.

The reader streams the file in big chunks through compiled kernels
(_parse_kernels.py) straight into a pre-sized float32 array (or, for an
import with a destination, batch by batch into a raw file), so memory stays
bounded by the output, not by the text; gzip/bz2/xz input is read
transparently.  Every problem is a ParseError / FormatError naming the file,
the line and the byte offset.  Floats are written in their shortest form
that reads back as the same float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._progress import progress as _progress
from ...errors import FormatError, ParseError
from . import rows as R
from .registry import register_format
from .report import ImportReport
from .rows import (P, _fill, _find_nl, _grow, _grow_and_fill, _header_of, _nan_code, _Options, _parallel,
                   _Parsed, _refill, _Rows, _threads, _write_keyed_rows)
from .sniff import Probe, _Source

MAX_BINARY_KEY = 1 << 16    # a word2vec binary key longer than this means the file is not one


# -- detection --------------------------------------------------------------------

def text_kind(probe: Probe) -> str:
    """Return which of word2vec-text, glove, fasttext-vec and word2vec-binary a file's content is.

    Judged once per probe from its decompressed sample; raises FormatError
    when the content is binary data or its first line is no vector row.
    """
    if "text_kind" not in probe.memo:
        probe.memo["text_kind"] = _detect_text(probe.path, probe.sample(), probe.compression)
    return probe.memo["text_kind"]


def _is_number(tok: bytes) -> bool:
    arr = np.frombuffer(tok, np.uint8)
    return bool(len(arr)) and bool(P.parse_one(arr)[1])


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


# -- text: word2vec / GloVe / .vec --------------------------------------------------

def _read_text(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    src = _Source(path)
    try:
        return _TextReader(src, o, report).run()
    finally:
        src.close()


# The most dimensions a vector file may announce when its size cannot bound them (compressed).
MAX_DIM = 1 << 20


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
        buf = np.empty(R.CHUNK, np.uint8)
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
            room = src.size if not src.compression else None
            if (room is not None and 2 * dim > room) or dim > MAX_DIM:
                held = f"the whole file has {room:,} bytes" if room is not None else f"the limit is {MAX_DIM:,}"
                self.fail(f"the header announces {dim:,} dimensions, more than the file can hold "
                          f"({held}; a row of d values takes at least 2d bytes)", 1, pos)
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
                    if nl >= R.PARALLEL_MIN_LINES and _parallel(o.workers):
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
                              f"(float32 holds up to ±3.4e38); pass nan='skip' (--nan skip) to drop such rows or "
                              f"nan='zero' (--nan zero) to zero them", line, base + off)
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


# -- writing ----------------------------------------------------------------------

def _write_text(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    d = emb.dim

    def encode(blob, offsets, s, blk, out, slot):
        lengths = np.empty(len(blk), np.int64)
        P.format_rows(blk, blob, offsets, s, slot, out, lengths)
        return P.pack_slots(out, slot, lengths)

    _write_keyed_rows(emb, path, fmt, progress, 18 * d, fmt != "glove", encode)


register_format("word2vec-text", "word2vec text: an 'n d' header line, then 'key v1 ... vd' per line",
                read=_read_text, write=_write_text, detect=lambda p: text_kind(p) == "word2vec-text",
                extensions=(".txt", ".w2v"), suffixes=(".txt",), family="text", streams=True,
                aliases=("w2v", "word2vec", "w2v-text", "text", "txt"))
register_format("glove", "GloVe text: 'key v1 ... vd' per line, no header", read=_read_text,
                write=_write_text, detect=lambda p: text_kind(p) == "glove", extensions=(".txt",),
                suffixes=(".glove",), family="text", streams=True, aliases=("glove-text",))
register_format("fasttext-vec", "fastText .vec text (word2vec text with a header)", read=_read_text,
                write=_write_text, detect=lambda p: text_kind(p) == "fasttext-vec", extensions=(".vec",),
                suffixes=(".vec",), family="text", streams=True, aliases=("vec", "fasttext-text"))
