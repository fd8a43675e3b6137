"""From parsed keys to a key table: UTF-8 checks, other encodings, duplicate keys.

Keys arrive as one UTF-8 blob with offsets (or int64 ids); invalid UTF-8 is
refused or replaced with U+FFFD (encoding_errors), other encodings are
transcoded, and duplicates keep the first copy (counted in the report, with
where the first one was) or fail naming both places (on_duplicate="error").
"""

from __future__ import annotations

import numpy as np

from ...errors import ParseError
from .report import ImportReport, _where
from .rows import KK, P, _Options, _Parsed


def _keys_table(parsed: _Parsed, path: str, o: _Options, report: ImportReport):
    """Return (KeyTable, keep mask or None): keys checked for UTF-8, duplicates handled per policy."""
    from ...core.keys import KeyTable

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
                             "encoding_errors='replace' (--encoding-errors replace) to replace bad bytes with U+FFFD, or "
                             "encoding= (--encoding) the file's encoding", path=where_path, line=line,
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
    raise ParseError(f"duplicate key {key!r}{earlier}; pass on_duplicate='first' (--on-duplicate first) to keep the first "
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
                                 "encoding_errors='replace' (--encoding-errors replace) to replace bad bytes", path=path, line=line,
                                 offset=off) from None
            keys.append(b.decode(encoding, "replace"))
            report.replaced_encodings += 1
    from ...core.keys import encode_keys

    return encode_keys(keys)
