"""Compiled kernels of the vector-file importers and exporters.

Text import works on big byte chunks: `index_lines` finds line boundaries,
`parse_lines` (threads) or `parse_lines_serial` parses every line of a batch
(one row per line, written straight into the output array), and `commit_lines` walks
the batch in order to apply the blank-line / NaN policies, compact rows and
copy keys into the key blob.  Float parsing and formatting share one
`compose` routine so that whatever the exporters write parses back to the
same float32.  All kernels take plain arrays and scalars.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Status of one parsed line (parse_lines); errors are negative.
OK = 0
BLANK = 1
NONFINITE = 2
TOO_FEW = -1
TOO_MANY = -2
BAD_TOKEN = -3
EMPTY_KEY = -4

# commit_lines: what stopped the walk.
STOP_NONE = 0
STOP_ERROR = 1
STOP_NONFINITE = 2
STOP_MAX_ROWS = 3

# Non-finite policies.
NAN_ERROR = 0
NAN_SKIP = 1
NAN_ZERO = 2

_P10 = np.array([10.0 ** i for i in range(23)], np.float64)   # exact in float64
_I10 = np.array([10 ** i for i in range(19)], np.int64)
_TWO53 = 9007199254740992


@njit(cache=True, nogil=True)
def compose(m, e):
    """Return m * 10**e as float64 (correctly rounded on the fast path m < 2**53, |e| <= 22)."""
    if m == 0:
        return 0.0
    if e > 400:
        return math.inf
    if e < -400:
        return 0.0
    v = float(m)
    if m < _TWO53:
        if 0 <= e <= 22:
            return v * _P10[e]
        if -22 <= e < 0:
            return v / _P10[-e]
    # Rare slow path (huge mantissas, |e| > 22): a few float64 roundings, far below float32 precision.
    if e > 0:
        while e > 22:
            v *= 1e22
            e -= 22
        return v * _P10[e]
    e = -e
    while e > 22:
        v /= 1e22
        e -= 22
    return v / _P10[e]


@njit(cache=True, nogil=True)
def _lower(c):
    if 65 <= c <= 90:
        return c + 32
    return c


@njit(cache=True, nogil=True)
def _word_at(buf, i, end, word):
    # True when buf[i:] starts with `word` (lower-case ASCII codes), case-insensitively.
    if end - i < len(word):
        return False
    for j in range(len(word)):
        if _lower(buf[i + j]) != word[j]:
            return False
    return True


_NAN = np.array([110, 97, 110], np.uint8)
_INF = np.array([105, 110, 102], np.uint8)
_INFINITY = np.array([105, 110, 102, 105, 110, 105, 116, 121], np.uint8)


@njit(cache=True, nogil=True)
def parse_float(buf, i, end):
    """Return (value, next index, ok) for the number starting at buf[i] (as Python's float() reads it).

    Accepts [+-] digits [. digits] [e[+-]digits], '.5', '5.', nan, inf, infinity
    (any case).  Keeps 19 significant digits.  ok is False when no number starts here.
    """
    neg = False
    if i < end and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    m = np.uint64(0)
    nd = 0
    exp = 0
    digits = False
    while i < end and 48 <= buf[i] <= 57:
        digits = True
        if nd < 19:
            m = m * np.uint64(10) + np.uint64(buf[i] - 48)
            if m != 0:
                nd += 1
        else:
            exp += 1
        i += 1
    if i < end and buf[i] == 46:
        i += 1
        while i < end and 48 <= buf[i] <= 57:
            digits = True
            if nd < 19:
                m = m * np.uint64(10) + np.uint64(buf[i] - 48)
                if m != 0:
                    nd += 1
                exp -= 1
            i += 1
    if not digits:
        if _word_at(buf, i, end, _INFINITY):
            return (-math.inf if neg else math.inf), i + 8, True
        if _word_at(buf, i, end, _INF):
            return (-math.inf if neg else math.inf), i + 3, True
        if _word_at(buf, i, end, _NAN):
            return math.nan, i + 3, True
        return 0.0, i, False
    if i < end and (buf[i] == 101 or buf[i] == 69):
        j = i + 1
        eneg = False
        if j < end and (buf[j] == 45 or buf[j] == 43):
            eneg = buf[j] == 45
            j += 1
        if j >= end or not 48 <= buf[j] <= 57:
            return 0.0, j, False
        ev = 0
        while j < end and 48 <= buf[j] <= 57:
            if ev < 100000:
                ev = ev * 10 + (buf[j] - 48)
            j += 1
        exp += -ev if eneg else ev
        i = j
    v = compose(m, exp)
    return (-v if neg else v), i, True


@njit(cache=True, nogil=True)
def parse_one(buf):
    """Return (float32 value, ok) for a whole token `buf` (for tests and small callers)."""
    v, j, ok = parse_float(buf, 0, len(buf))
    return np.float32(v), ok and j == len(buf)


@njit(cache=True, nogil=True)
def index_lines(buf, pos, end, final, starts, ends):
    """Return (lines, next pos): the [start, end) of up to len(starts) complete lines from pos.

    A line ends at '\\n'; with `final` the bytes after the last '\\n' form a last line.
    """
    n = 0
    cap = starts.shape[0]
    while n < cap and pos < end:
        j = pos
        while j < end and buf[j] != 10:
            j += 1
        if j == end and not final:
            break
        starts[n] = pos
        ends[n] = j
        n += 1
        pos = j + 1 if j < end else end
    return n, pos


@njit(cache=True, nogil=True)
def _is_sep(c):
    return c == 32 or c == 9


@njit(cache=True, nogil=True)
def _parse_line(buf, s, e, dim, out, row, key_end, status, errpos, nvals, i):
    # Trailing blanks and '\r' are not data (many writers leave a space before '\n').
    while e > s and (buf[e - 1] == 32 or buf[e - 1] == 9 or buf[e - 1] == 13):
        e -= 1
    if e == s:
        status[i] = BLANK
        return
    k = s
    while k < e and not _is_sep(buf[k]):
        k += 1
    key_end[i] = k
    if k == s:
        status[i] = EMPTY_KEY
        errpos[i] = s
        return
    count = 0
    bad = False
    p = k
    while True:
        while p < e and _is_sep(buf[p]):
            p += 1
        if p >= e:
            break
        if count == dim:
            status[i] = TOO_MANY
            errpos[i] = p
            nvals[i] = count + 1
            while p < e:   # count what there is, for the message
                while p < e and not _is_sep(buf[p]):
                    p += 1
                while p < e and _is_sep(buf[p]):
                    p += 1
                if p < e:
                    nvals[i] += 1
            return
        v, q, ok = parse_float(buf, p, e)
        if not ok or (q < e and not _is_sep(buf[q])):
            status[i] = BAD_TOKEN
            errpos[i] = p
            nvals[i] = count
            return
        f = np.float32(v)
        out[row, count] = f
        if not np.isfinite(f):
            bad = True
        count += 1
        p = q
    nvals[i] = count
    if count < dim:
        status[i] = TOO_FEW
        errpos[i] = e
        return
    status[i] = NONFINITE if bad else OK


@njit(cache=True, nogil=True, parallel=True)
def parse_lines(buf, starts, ends, nlines, dim, out, row0, key_end, status, errpos, nvals):
    """Parse lines [0, nlines) of a batch in parallel: line i fills out[row0 + i].

    Writes status[i] (OK, BLANK, NONFINITE or a negative error), key_end[i],
    errpos[i] (byte of the offending token) and nvals[i] (values found).
    """
    for i in prange(nlines):
        _parse_line(buf, starts[i], ends[i], dim, out, row0 + i, key_end, status, errpos, nvals, i)


@njit(cache=True, nogil=True)
def parse_lines_serial(buf, starts, ends, nlines, dim, out, row0, key_end, status, errpos, nvals):
    """Same as parse_lines on the calling thread (small batches, two-core machines)."""
    for i in range(nlines):
        _parse_line(buf, starts[i], ends[i], dim, out, row0 + i, key_end, status, errpos, nvals, i)


@njit(cache=True, nogil=True)
def commit_lines(buf, starts, nlines, status, key_end, out, row0, row, vshift, max_rows, nan_policy,
                 blob, blob_pos, offsets, row_line, line0, counters):
    """Return (lines consumed, new row, new blob_pos, stop reason) after keeping a batch's good rows.

    Walks the parsed batch in order: good rows are compacted to `row` and their keys copied.

    Rows are global numbers; the vector of global row g lives at out[g - vshift]
    (vshift = 0 when `out` holds every row, the batch's first row when it
    holds one batch).  Line i of the batch sits at row row0 + i; kept rows move to row `row`, keys
    go to blob[blob_pos:] with offsets[row + 1] and row_line[row] = its 1-based
    line number.  counters[0] += blank lines, counters[1] += non-finite rows
    skipped or zeroed, counters[2] = first non-finite line (if none yet).
    Returns (lines consumed, new row, new blob_pos, stop reason).
    """
    for i in range(nlines):
        st = status[i]
        if st == BLANK:
            counters[0] += 1
            continue
        if st < 0:
            return i, row, blob_pos, STOP_ERROR
        if row >= max_rows:
            return i, row, blob_pos, STOP_MAX_ROWS
        if st == NONFINITE:
            if nan_policy == NAN_ERROR:
                return i, row, blob_pos, STOP_NONFINITE
            counters[1] += 1
            if counters[2] < 0:
                counters[2] = line0 + i + 1
            if nan_policy == NAN_SKIP:
                continue
            for j in range(out.shape[1]):
                out[row - vshift, j] = 0.0
        elif row != row0 + i:
            for j in range(out.shape[1]):
                out[row - vshift, j] = out[row0 + i - vshift, j]
        s = starts[i]
        for j in range(s, key_end[i]):
            blob[blob_pos] = buf[j]
            blob_pos += 1
        offsets[row + 1] = blob_pos
        row_line[row] = line0 + i + 1
        row += 1
    return nlines, row, blob_pos, STOP_NONE


@njit(cache=True, nogil=True)
def parse_w2v_binary(buf, pos, end, final, dim, out, row, vshift, max_rows, nan_policy, blob, blob_pos,
                     offsets, row_off, base, max_key, counters):
    """Return (next pos, new row, new blob_pos, status) after parsing word2vec binary records.

    A record is a key, ' ', then dim little-endian float32, read from buf[pos:end].

    Leading '\\n' before a key is skipped (word2vec writes one after each
    vector).  Record r goes to out[row - vshift], its key to blob, row_off[row] = the
    absolute byte offset (base + index) where the record starts.
    Returns (next pos, new row, new blob_pos, status) with status 0 = needs
    more bytes or done, 1 = no space within max_key bytes (error at next pos),
    2 = non-finite row under the 'error' policy (error at next pos),
    3 = file ended inside a record (error at next pos).
    counters as in commit_lines (counters[2] = byte offset of the first non-finite row).
    """
    bits = np.empty(1, np.uint32)
    fview = bits.view(np.float32)
    rec = 4 * dim
    while row < max_rows:
        p = pos
        while p < end and (buf[p] == 10 or buf[p] == 13):
            p += 1
        if p >= end:
            return p, row, blob_pos, 0
        k = p
        lim = min(end, p + max_key + 1)
        while k < lim and buf[k] != 32:
            k += 1
        if k >= lim:
            if lim == end and not final:
                return pos, row, blob_pos, 0
            if final and lim == end:
                return p, row, blob_pos, 3
            return p, row, blob_pos, 1
        if k + 1 + rec > end:
            if final:
                return p, row, blob_pos, 3
            return pos, row, blob_pos, 0
        q = k + 1
        bad = False
        for j in range(dim):
            b = q + 4 * j
            bits[0] = (np.uint32(buf[b]) | (np.uint32(buf[b + 1]) << np.uint32(8))
                       | (np.uint32(buf[b + 2]) << np.uint32(16)) | (np.uint32(buf[b + 3]) << np.uint32(24)))
            f = fview[0]
            if not np.isfinite(f):
                bad = True
            out[row - vshift, j] = f
        if bad:
            if nan_policy == NAN_ERROR:
                return p, row, blob_pos, 2
            counters[1] += 1
            if counters[2] < 0:
                counters[2] = base + p
            if nan_policy == NAN_SKIP:
                pos = q + rec
                continue
            for j in range(dim):
                out[row - vshift, j] = 0.0
        for j in range(p, k):
            blob[blob_pos] = buf[j]
            blob_pos += 1
        offsets[row + 1] = blob_pos
        row_off[row] = base + p
        row += 1
        pos = q + rec
    return pos, row, blob_pos, 0


@njit(cache=True, nogil=True)
def utf8_bad_rows(blob, offsets, bad):
    """Return how many keys are not well-formed UTF-8, marking each in `bad`."""
    count = 0
    for r in range(offsets.shape[0] - 1):
        i = offsets[r]
        e = offsets[r + 1]
        ok = True
        while i < e:
            c = blob[i]
            if c < 0x80:
                i += 1
                continue
            if 0xC2 <= c <= 0xDF:
                need = 1
                lo, hi = 0x80, 0xBF
            elif 0xE0 <= c <= 0xEF:
                need = 2
                lo = 0xA0 if c == 0xE0 else 0x80
                hi = 0x9F if c == 0xED else 0xBF   # no surrogates
            elif 0xF0 <= c <= 0xF4:
                need = 3
                lo = 0x90 if c == 0xF0 else 0x80
                hi = 0x8F if c == 0xF4 else 0xBF
            else:
                ok = False
                break
            if i + need >= e:
                ok = False
                break
            if not lo <= blob[i + 1] <= hi:
                ok = False
                break
            for t in range(2, need + 1):
                if not 0x80 <= blob[i + t] <= 0xBF:
                    ok = False
                    break
            if not ok:
                break
            i += need + 1
        bad[r] = not ok
        if not ok:
            count += 1
    return count


@njit(cache=True, nogil=True)
def compact_rows(vectors, keep):
    """Return how many rows were kept, after moving the kept rows of `vectors` to the front in order."""
    w = 0
    for r in range(keep.shape[0]):
        if keep[r]:
            if w != r:
                for j in range(vectors.shape[1]):
                    vectors[w, j] = vectors[r, j]
            w += 1
    return w


@njit(cache=True, nogil=True)
def compact_keys(blob, offsets, keep, new_blob, new_offsets):
    """Return the kept count, after copying the kept keys of (blob, offsets) into (new_blob, new_offsets)."""
    w = 0
    pos = 0
    new_offsets[0] = 0
    for r in range(keep.shape[0]):
        if keep[r]:
            for j in range(offsets[r], offsets[r + 1]):
                new_blob[pos] = blob[j]
                pos += 1
            w += 1
            new_offsets[w] = pos
    return w


@njit(cache=True, nogil=True)
def bad_text_key(blob, offsets):
    """Return the first row whose key is empty or holds a blank, tab, CR or LF (-1 if none)."""
    for r in range(offsets.shape[0] - 1):
        s = offsets[r]
        e = offsets[r + 1]
        if e == s:
            return r
        for j in range(s, e):
            c = blob[j]
            if c == 32 or c == 9 or c == 10 or c == 13:
                return r
    return -1


# -- float formatting ----------------------------------------------------------

@njit(cache=True, nogil=True)
def _shortest(x):
    # Returns (digits m, count p, decimal exponent k of the first digit): the fewest digits
    # whose value, read back through compose(), is x again.
    a = abs(float(x))
    k = int(math.floor(math.log10(a)))
    if compose(1, k) > a:
        k -= 1
    elif compose(1, k + 1) <= a:
        k += 1
    for p in range(1, 10):
        e = k - p + 1
        if e <= 0:
            t = a * _P10[-e] if -e <= 22 else a * compose(1, -e)
        else:
            t = a / _P10[e] if e <= 22 else a / compose(1, e)
        m = int(math.floor(t + 0.5))
        if m >= _I10[p]:
            m = _I10[p] - 1
        if np.float32(compose(m, e)) == x:
            return m, p, k
        if p == 9:
            # float32 always has a 9-digit form; the scaled value can be off by one unit.
            for d in (-1, 1, -2, 2):
                if np.float32(compose(m + d, e)) == x:
                    return m + d, p, k
    return m, 9, k


@njit(cache=True, nogil=True)
def format_float32(x, out, pos):
    """Return the position after writing float32 x at out[pos] as its shortest round-trip decimal."""
    if x != x:
        out[pos] = 110
        out[pos + 1] = 97
        out[pos + 2] = 110
        return pos + 3
    if math.copysign(1.0, x) < 0:
        out[pos] = 45
        pos += 1
    if math.isinf(x):
        out[pos] = 105
        out[pos + 1] = 110
        out[pos + 2] = 102
        return pos + 3
    if x == 0:
        out[pos] = 48
        return pos + 1
    ax = np.float32(abs(x))
    m, p, k = _shortest(ax)
    dig = np.empty(9, np.uint8)
    t = m
    for j in range(p - 1, -1, -1):
        dig[j] = 48 + t % 10
        t //= 10
    if -5 <= k <= 8:
        if k >= 0:
            for j in range(k + 1):
                out[pos] = dig[j] if j < p else 48
                pos += 1
            if p > k + 1:
                out[pos] = 46
                pos += 1
                for j in range(k + 1, p):
                    out[pos] = dig[j]
                    pos += 1
        else:
            out[pos] = 48
            out[pos + 1] = 46
            pos += 2
            for _ in range(-k - 1):
                out[pos] = 48
                pos += 1
            for j in range(p):
                out[pos] = dig[j]
                pos += 1
        return pos
    out[pos] = dig[0]
    pos += 1
    if p > 1:
        out[pos] = 46
        pos += 1
        for j in range(1, p):
            out[pos] = dig[j]
            pos += 1
    out[pos] = 101
    pos += 1
    if k < 0:
        out[pos] = 45
        k = -k
    else:
        out[pos] = 43
    pos += 1
    if k >= 10:
        out[pos] = 48 + k // 10
        pos += 1
    else:
        out[pos] = 48
        pos += 1
    out[pos] = 48 + k % 10
    return pos + 1


@njit(cache=True, nogil=True)
def _format_row(vectors, r, blob, offsets, key_row, out, pos, header_key):
    if header_key:
        for j in range(offsets[key_row], offsets[key_row + 1]):
            out[pos] = blob[j]
            pos += 1
    for j in range(vectors.shape[1]):
        if header_key or j > 0:
            out[pos] = 32
            pos += 1
        pos = format_float32(vectors[r, j], out, pos)
    out[pos] = 10
    return pos + 1


@njit(cache=True, nogil=True, parallel=True)
def format_rows(vectors, blob, offsets, row0, slot, out, lengths):
    """Write text rows `key v1 v2 ...\\n` for vectors[r] (key row0 + r) into fixed slots, in parallel.

    Row r goes to out[r * slot:], its length to lengths[r]; `slot` must hold
    the longest key plus 16 bytes per value plus 2.
    """
    for r in prange(vectors.shape[0]):
        base = r * slot
        lengths[r] = _format_row(vectors, r, blob, offsets, row0 + r, out, base, True) - base


@njit(cache=True, nogil=True)
def pack_slots(out, slot, lengths):
    """Return the byte count, after moving the rows written by format_rows together at the front of out."""
    pos = 0
    for r in range(lengths.shape[0]):
        s = r * slot
        n = lengths[r]
        if s != pos:
            for j in range(n):
                out[pos + j] = out[s + j]
        pos += n
    return pos


@njit(cache=True, nogil=True)
def format_w2v_binary(raw, blob, offsets, row0, out):
    """Return the byte count, after writing word2vec binary records (key, ' ', raw row bytes, '\\n').

    raw is the (rows x 4*dim) uint8 view of little-endian float32 vectors.
    """
    d4 = raw.shape[1]
    pos = 0
    for r in range(raw.shape[0]):
        for j in range(offsets[row0 + r], offsets[row0 + r + 1]):
            out[pos] = blob[j]
            pos += 1
        out[pos] = 32
        pos += 1
        for j in range(d4):
            out[pos + j] = raw[r, j]
        pos += d4
        out[pos] = 10
        pos += 1
    return pos
