"""word2vec binary: an 'n d' header line, then per row a key, a blank and d little-endian float32.

Detected by its content (text.text_kind: a header followed by non-text
bytes); read by a compiled kernel in big chunks like the text formats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._progress import progress as _progress
from ...errors import FormatError, ParseError
from . import rows as R
from .registry import register_format
from .report import ImportReport
from .rows import (P, _fill, _find_nl, _grow, _header_of, _nan_code, _Options, _Parsed, _refill, _Rows,
                   _write_keyed_rows)
from .sniff import _Source
from .text import MAX_BINARY_KEY, MAX_DIM, text_kind


def _read_w2v_binary(path: str, fmt: str, o: _Options, report: ImportReport) -> _Parsed:
    src = _Source(path)
    sink = None
    try:
        if src.size == 0:
            raise FormatError("the file is empty (0 bytes): no vectors to import", path=path, offset=0)
        buf = np.empty(R.CHUNK, np.uint8)
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
        if dim > MAX_DIM or (not src.compression and 4 * dim > src.size):
            raise ParseError(f"the header announces {dim:,} dimensions, more than the file can hold",
                             path=path, line=1, offset=0)
        cap = limit
        if not src.compression:
            cap = min(cap, (src.size - nl) // (4 * dim + 2) + 1)
        else:
            # a compressed file's size bounds nothing: start small and grow as rows arrive
            cap = min(cap, 1 << 16)
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
                                     "infinity; pass nan='skip' (--nan skip) to drop such rows or nan='zero' (--nan zero) to zero "
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


def _write_w2v_binary(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    d = emb.dim

    def encode(blob, offsets, s, blk, out, slot):
        return P.format_w2v_binary(blk.view(np.uint8).reshape(len(blk), 4 * d), blob, offsets, s, out)

    _write_keyed_rows(emb, path, fmt, progress, 4 * d, True, encode)


register_format("word2vec-binary", "word2vec binary: 'n d' header, then key, blank, d little-endian float32",
                read=_read_w2v_binary, write=_write_w2v_binary,
                detect=lambda p: text_kind(p) == "word2vec-binary", extensions=(".bin",), suffixes=(".bin",),
                family="binary", streams=True, aliases=("w2v-bin", "word2vec-bin", "w2v-binary", "bin"))
