"""Compiled kernels of character n-grams: fastText subword ids, composition, and the OOV n-gram index.

Every kernel takes plain arrays.  A word is a byte range buf[start:end] of
UTF-8; the kernels read it as ``<word>`` (fastText's BOW/EOW markers) without
building the padded string, and walk it by UTF-8 characters, not bytes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BOW = 60        # '<'
EOW = 62        # '>'
MASK32 = 0xFFFFFFFF

HASH_FASTTEXT = 0   # fastText's 32-bit FNV-1a over sign-extended bytes
HASH_FNV64 = 1      # 64-bit FNV-1a over the bytes (the OOV index and seeds)


@njit(cache=True, nogil=True)
def _byte(buf, start, length, p):
    # Byte p of "<word>" where the word is buf[start:start+length].
    if p == 0:
        return BOW
    if p == length + 1:
        return EOW
    return np.int64(buf[start + p - 1])


@njit(cache=True, nogil=True)
def ft_hash_range(buf, start, end):
    """Return fastText's hash of buf[start:end] (uint32 value as int64)."""
    h = np.int64(2166136261)
    for i in range(start, end):
        b = np.int64(buf[i])
        if b >= 128:
            b = b | np.int64(0xFFFFFF00)  # int8 -> uint32 sign extension, as fastText does
        h = ((h ^ (b & MASK32)) * 16777619) & MASK32
    return h


@njit(cache=True, nogil=True)
def word_grams(buf, start, end, minn, maxn, mode, modulo, out, pos, write):
    """Return how many n-grams of "<buf[start:end]>" there are, writing their hashes at out[pos:] when write.

    Mirrors fastText's computeSubwords: n counts UTF-8 characters, n-grams
    start only at character boundaries, and the lone "<" or ">" (n == 1 at an
    end) is skipped.  mode HASH_FASTTEXT stores hash % modulo (a bucket
    index); HASH_FNV64 stores the 64-bit FNV-1a hash (as int64 bits).
    """
    length = end - start
    total = length + 2
    count = 0
    for i in range(total):
        if (_byte(buf, start, length, i) & 0xC0) == 0x80:
            continue
        h32 = np.int64(2166136261)
        h64 = np.uint64(14695981039346656037)
        j = i
        n = 1
        while j < total and n <= maxn:
            # one UTF-8 character: its lead byte, then continuation bytes
            b = _byte(buf, start, length, j)
            j += 1
            if mode == HASH_FASTTEXT:
                sb = b | np.int64(0xFFFFFF00) if b >= 128 else b
                h32 = ((h32 ^ (sb & MASK32)) * 16777619) & MASK32
            else:
                h64 = (h64 ^ np.uint64(b)) * np.uint64(1099511628211)
            while j < total and (_byte(buf, start, length, j) & 0xC0) == 0x80:
                b = _byte(buf, start, length, j)
                j += 1
                if mode == HASH_FASTTEXT:
                    sb = b | np.int64(0xFFFFFF00)
                    h32 = ((h32 ^ (sb & MASK32)) * 16777619) & MASK32
                else:
                    h64 = (h64 ^ np.uint64(b)) * np.uint64(1099511628211)
            if n >= minn and not (n == 1 and (i == 0 or j == total)):
                if write:
                    if mode == HASH_FASTTEXT:
                        out[pos + count] = h32 % modulo
                    else:
                        out[pos + count] = np.int64(h64)
                count += 1
            n += 1
    return count


@njit(cache=True, nogil=True)
def _is_eos(blob, s, e):
    # fastText gives the end-of-sentence token "</s>" no subwords.
    return (e - s == 4 and blob[s] == 60 and blob[s + 1] == 47 and blob[s + 2] == 115
            and blob[s + 3] == 62)


@njit(cache=True, nogil=True)
def grams_many(blob, offsets, minn, maxn, mode, modulo, skip_eos):
    """Return (ids int64, id_offsets int64): the n-gram hashes of every key, keys in row order."""
    n = len(offsets) - 1
    id_offsets = np.zeros(n + 1, np.int64)
    dummy = np.empty(0, np.int64)
    for r in range(n):
        s, e = offsets[r], offsets[r + 1]
        c = 0
        if not (skip_eos and _is_eos(blob, s, e)):
            c = word_grams(blob, s, e, minn, maxn, mode, modulo, dummy, 0, False)
        id_offsets[r + 1] = id_offsets[r] + c
    ids = np.empty(id_offsets[n], np.int64)
    for r in range(n):
        s, e = offsets[r], offsets[r + 1]
        if id_offsets[r + 1] > id_offsets[r]:
            word_grams(blob, s, e, minn, maxn, mode, modulo, ids, id_offsets[r], True)
    return ids, id_offsets


@njit(cache=True, nogil=True)
def compose(word_rows, buckets, ids, id_offsets, out):
    """Fill out[i] with fastText's word vector: mean of word_rows[i] and buckets[ids of word i].

    Sums in float32 in fastText's order (own row first, then n-grams) and
    scales by float32(1 / count), as fastText's getWordVector does.
    """
    n, d = out.shape
    acc = np.empty(d, np.float32)
    for i in range(n):
        for k in range(d):
            acc[k] = word_rows[i, k]
        for p in range(id_offsets[i], id_offsets[i + 1]):
            b = ids[p]
            for k in range(d):
                acc[k] += buckets[b, k]
        scale = np.float32(1.0 / (1 + id_offsets[i + 1] - id_offsets[i]))
        for k in range(d):
            out[i, k] = acc[k] * scale


@njit(cache=True, nogil=True)
def decompose(vectors, buckets, ids, id_offsets, out):
    """Fill out[i] with the own input row that makes vectors[i] fastText's mean (inverse of compose)."""
    n, d = out.shape
    acc = np.empty(d, np.float64)
    for i in range(n):
        cnt = 1 + id_offsets[i + 1] - id_offsets[i]
        for k in range(d):
            acc[k] = np.float64(vectors[i, k]) * cnt
        for p in range(id_offsets[i], id_offsets[i + 1]):
            b = ids[p]
            for k in range(d):
                acc[k] -= buckets[b, k]
        for k in range(d):
            out[i, k] = acc[k]


@njit(cache=True, nogil=True)
def mean_rows(buckets, ids, out):
    """Fill out with the float32 mean of buckets[ids] in fastText's order (zeros when ids is empty)."""
    d = out.shape[0]
    for k in range(d):
        out[k] = 0.0
    if len(ids) == 0:
        return
    for p in range(len(ids)):
        for k in range(d):
            out[k] += buckets[ids[p], k]
    scale = np.float32(1.0 / len(ids))
    for k in range(d):
        out[k] = out[k] * scale


@njit(cache=True, nogil=True)
def subword_mean(buf, minn, maxn, bucket, buckets, out):
    """Fill out with the mean bucket row of the n-grams of "<buf>" (zeros when none): one call per word."""
    n = word_grams(buf, 0, len(buf), minn, maxn, HASH_FASTTEXT, bucket, np.empty(0, np.int64), 0, False)
    ids = np.empty(n, np.int64)
    word_grams(buf, 0, len(buf), minn, maxn, HASH_FASTTEXT, bucket, ids, 0, True)
    mean_rows(buckets, ids, out)


# -- the OOV n-gram index ---------------------------------------------------------------

@njit(cache=True, nogil=True)
def _slot(h, cap):
    return np.int64((h ^ (h >> np.uint64(29))) & np.uint64(cap - 1))


@njit(cache=True, nogil=True)
def build_postings(hashes, key_offsets, n_rows):
    """Return (slots, slot_ids, offsets, postings, sizes): for each distinct n-gram hash, the rows holding it.

    hashes[key_offsets[r]:key_offsets[r+1]] are the n-gram hashes of row r.
    slots/slot_ids is an open-addressing table (linear probing, power-of-two
    size, load <= 1/2, id -1 = empty) giving each distinct hash a dense id
    in first-seen order; postings[offsets[id]:offsets[id+1]] are the rows
    holding it, ascending.  Linear time (a counting sort, no comparison
    sort).  A row holding the same n-gram twice is listed once; sizes[r] is
    the number of distinct n-grams of row r.
    """
    cap = 1 << 12
    slots = np.zeros(cap, np.uint64)
    slot_ids = np.full(cap, -1, np.int32)
    n_ids = 0
    m = len(hashes)
    ids = np.empty(m, np.int32)
    for i in range(m):
        h = np.uint64(hashes[i])
        if 2 * (n_ids + 1) > cap:  # keep the load under one half
            cap2 = cap * 2
            slots2 = np.zeros(cap2, np.uint64)
            slot_ids2 = np.full(cap2, -1, np.int32)
            for j in range(cap):
                if slot_ids[j] >= 0:
                    k = _slot(slots[j], cap2)
                    while slot_ids2[k] >= 0:
                        k = (k + 1) & (cap2 - 1)
                    slots2[k] = slots[j]
                    slot_ids2[k] = slot_ids[j]
            cap, slots, slot_ids = cap2, slots2, slot_ids2
        k = _slot(h, cap)
        while slot_ids[k] >= 0 and slots[k] != h:
            k = (k + 1) & (cap - 1)
        if slot_ids[k] < 0:
            slots[k] = h
            slot_ids[k] = n_ids
            n_ids += 1
        ids[i] = slot_ids[k]
    last = np.full(n_ids, -1, np.int64)
    offsets = np.zeros(n_ids + 1, np.int64)
    sizes = np.zeros(n_rows, np.int32)
    for r in range(n_rows):
        for i in range(key_offsets[r], key_offsets[r + 1]):
            d = ids[i]
            if last[d] != r:
                last[d] = r
                offsets[d + 1] += 1
                sizes[r] += 1
    for d in range(n_ids):
        offsets[d + 1] += offsets[d]
    fill = offsets[:-1].copy()
    postings = np.empty(offsets[n_ids], np.int32)
    last[:] = -1
    for r in range(n_rows):
        for i in range(key_offsets[r], key_offsets[r + 1]):
            d = ids[i]
            if last[d] != r:
                last[d] = r
                postings[fill[d]] = r
                fill[d] += 1
    return slots, slot_ids, offsets, postings, sizes


@njit(cache=True, nogil=True)
def _find(slots, slot_ids, h):
    cap = len(slots)
    k = _slot(h, cap)
    while slot_ids[k] >= 0:
        if slots[k] == h:
            return slot_ids[k]
        k = (k + 1) & (cap - 1)
    return -1


@njit(cache=True, nogil=True)
def overlap_candidates(qhashes, slots, slot_ids, offsets, postings, sizes, n_rows, top):
    """Return (rows, dice) of the `top` keys sharing most n-grams with the query, best first.

    qhashes holds the query's distinct n-gram hashes; the score is the Dice
    coefficient 2|A∩B| / (|A| + |B|); ties go to the lower row (the more
    frequent key in frequency-sorted tables).
    """
    counter = np.zeros(n_rows, np.int32)
    total = 0
    for q in range(len(qhashes)):
        d = _find(slots, slot_ids, qhashes[q])
        if d >= 0:
            total += offsets[d + 1] - offsets[d]
    touched = np.empty(total, np.int32)
    t = 0
    for q in range(len(qhashes)):
        d = _find(slots, slot_ids, qhashes[q])
        if d >= 0:
            for p in range(offsets[d], offsets[d + 1]):
                r = postings[p]
                if counter[r] == 0:
                    touched[t] = r
                    t += 1
                counter[r] += 1
    nq = len(qhashes)
    k = min(top, t)
    best_rows = np.empty(k, np.int64)
    best = np.empty(k, np.float64)
    filled = 0
    # keep the k best in order by insertion: k is small and most rows fail the first comparison
    for i in range(t):
        r = touched[i]
        sc = 2.0 * counter[r] / (nq + sizes[r])
        if filled == k and (sc < best[k - 1] or (sc == best[k - 1] and r > best_rows[k - 1])):
            continue
        j = filled if filled < k else k - 1
        while j > 0 and (best[j - 1] < sc or (best[j - 1] == sc and best_rows[j - 1] > r)):
            if j < k:
                best[j] = best[j - 1]
                best_rows[j] = best_rows[j - 1]
            j -= 1
        best[j] = sc
        best_rows[j] = r
        if filled < k:
            filled += 1
    return best_rows, best


@njit(cache=True, nogil=True)
def osa_distance(a, b):
    """Return the optimal-string-alignment (Damerau) edit distance between two code-point arrays."""
    la, lb = len(a), len(b)
    d = np.empty((la + 1, lb + 1), np.int64)
    for i in range(la + 1):
        d[i, 0] = i
    for j in range(lb + 1):
        d[0, j] = j
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, d[i - 2, j - 2] + 1)
            d[i, j] = v
    return d[la, lb]


@njit(cache=True, nogil=True)
def seeded_vector(seeds, dim):
    """Return the float64 sum over seeds of a splitmix64 stream of uniforms in [-1, 1), one stream per seed."""
    out = np.zeros(dim, np.float64)
    for s in range(len(seeds)):
        state = np.uint64(seeds[s])
        for k in range(dim):
            state = state + np.uint64(0x9E3779B97F4A7C15)
            z = state
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[k] += np.float64(z >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0
    return out


# -- the fastText .bin dictionary ---------------------------------------------------------

@njit(cache=True, nogil=True)
def parse_ft_dictionary(buf, pos, size):
    """Return (starts, ends, counts, types, end_pos, bad_entry, bad_offset) of `size` fastText entries at buf[pos:].

    An entry is the word's bytes, a NUL, an int64 count and an int8 type, all
    little-endian.  bad_entry is -1 when every entry was read; otherwise the
    entry that runs past the end of buf, which starts at bad_offset.
    """
    n = len(buf)
    starts = np.empty(size, np.int64)
    ends = np.empty(size, np.int64)
    counts = np.empty(size, np.int64)
    types = np.empty(size, np.int8)
    for i in range(size):
        s = pos
        while pos < n and buf[pos] != 0:
            pos += 1
        if pos + 10 > n:
            return starts, ends, counts, types, pos, i, s
        starts[i] = s
        ends[i] = pos
        pos += 1
        c = np.uint64(0)
        for k in range(8):
            c |= np.uint64(buf[pos + k]) << np.uint64(8 * k)
        counts[i] = np.int64(c)
        types[i] = np.int8(buf[pos + 8]) if buf[pos + 8] < 128 else np.int8(-1)
        pos += 9
    return starts, ends, counts, types, pos, -1, pos


@njit(cache=True, nogil=True)
def gather_ranges(buf, starts, ends):
    """Return (blob, offsets): the byte ranges buf[starts[i]:ends[i]] packed end to end."""
    n = len(starts)
    offsets = np.zeros(n + 1, np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + ends[i] - starts[i]
    blob = np.empty(offsets[n], np.uint8)
    for i in range(n):
        o = offsets[i]
        for j in range(starts[i], ends[i]):
            blob[o] = buf[j]
            o += 1
    return blob, offsets


@njit(cache=True, nogil=True)
def pack_ft_dictionary(blob, offsets, counts, types):
    """Return the bytes of fastText dictionary entries: word, NUL, int64 count, int8 type."""
    n = len(offsets) - 1
    out = np.empty(offsets[n] + 10 * n, np.uint8)
    p = 0
    for i in range(n):
        for j in range(offsets[i], offsets[i + 1]):
            out[p] = blob[j]
            p += 1
        out[p] = 0
        p += 1
        c = np.uint64(counts[i])
        for k in range(8):
            out[p + k] = np.uint8((c >> np.uint64(8 * k)) & np.uint64(255))
        out[p + 8] = np.uint8(types[i])
        p += 9
    return out


@njit(cache=True, nogil=True)
def _norm(v):
    s = 0.0
    for k in range(len(v)):
        s += v[k] * v[k]
    return np.sqrt(s)


@njit(cache=True, nogil=True)
def blend(rand, vs, w, random_weight, fallback_norm, out):
    """Fill out with the Magnitude-style OOV vector: unit `rand` blended with the weighted unit rows of vs.

    out = normalise(random_weight * unit(rand) + (1 - random_weight) * unit(sum_i w_i unit(vs_i)))
    scaled to the w-weighted mean norm of vs's rows; with no usable rows,
    unit(rand) * fallback_norm.  Plain loops in a fixed order, only IEEE
    +, *, / and sqrt: the same bits on every machine (no BLAS, no SIMD
    reductions, no libm).
    """
    d = len(out)
    rn = _norm(rand)
    sim = np.zeros(d, np.float64)
    wsum = 0.0
    nsum = 0.0
    for i in range(vs.shape[0]):
        row = vs[i].astype(np.float64)
        n = _norm(row)
        if n == 0.0:
            continue
        for k in range(d):
            sim[k] += w[i] * (row[k] / n)
        wsum += w[i]
        nsum += w[i] * n
    sn = _norm(sim)
    if sn == 0.0 or wsum == 0.0:
        for k in range(d):
            out[k] = (rand[k] / rn if rn > 0.0 else 0.0) * fallback_norm
        return
    v = np.empty(d, np.float64)
    for k in range(d):
        v[k] = random_weight * (rand[k] / rn if rn > 0.0 else 0.0) + (1.0 - random_weight) * (sim[k] / sn)
    scale = (nsum / wsum) / _norm(v)
    for k in range(d):
        out[k] = v[k] * scale


# -- quantized (.ftz) models ---------------------------------------------------------------

@njit(cache=True, nogil=True)
def pq_decode(codes, centroids, nsubq, dsub, lastdsub, norm_codes, norm_centroids, qnorm, out):
    """Fill out (m x dim float32) with the rows of a fastText product-quantized matrix.

    Row i is, per sub-quantizer j, the centroid codes[i, j] of that
    sub-space, times the row's quantized norm when qnorm: fastText's
    QuantMatrix::addRowToVector onto a zero vector.
    """
    m = out.shape[0]
    ksub = 256
    for i in range(m):
        alpha = np.float32(1.0)
        if qnorm:
            alpha = norm_centroids[norm_codes[i]]
        for j in range(nsubq):
            c = codes[i, j]
            if j == nsubq - 1:
                base = j * ksub * dsub + c * lastdsub
                d = lastdsub
            else:
                base = (j * ksub + c) * dsub
                d = dsub
            for k in range(d):
                out[i, j * dsub + k] = alpha * centroids[base + k]


@njit(cache=True, nogil=True)
def compose_mapped(word_rows, rows, ids, id_offsets, remap, out):
    """Fill out[i] as compose() does, but n-gram id h uses rows[remap[h]] and is skipped when remap[h] < 0.

    fastText's pruned (quantized with a cutoff) models keep only some n-gram
    rows; the mean runs over the word's own row and its kept n-grams.
    """
    n, d = out.shape
    acc = np.empty(d, np.float32)
    for i in range(n):
        for k in range(d):
            acc[k] = word_rows[i, k]
        cnt = 1
        for p in range(id_offsets[i], id_offsets[i + 1]):
            r = remap[ids[p]]
            if r < 0:
                continue
            cnt += 1
            for k in range(d):
                acc[k] += rows[r, k]
        scale = np.float32(1.0 / cnt)
        for k in range(d):
            out[i, k] = acc[k] * scale


@njit(cache=True, nogil=True)
def pruned_subword_mean(buf, minn, maxn, bucket, kept_ids, kept_rows, out):
    """Fill out with the mean of the kept n-gram rows of "<buf>" (zeros when none is kept).

    kept_ids is sorted; kept_rows[j] is the row of n-gram id kept_ids[j].
    """
    n = word_grams(buf, 0, len(buf), minn, maxn, HASH_FASTTEXT, bucket, np.empty(0, np.int64), 0, False)
    ids = np.empty(n, np.int64)
    word_grams(buf, 0, len(buf), minn, maxn, HASH_FASTTEXT, bucket, ids, 0, True)
    d = out.shape[0]
    for k in range(d):
        out[k] = 0.0
    cnt = 0
    for p in range(n):
        j = np.searchsorted(kept_ids, ids[p])
        if j < len(kept_ids) and kept_ids[j] == ids[p]:
            cnt += 1
            for k in range(d):
                out[k] += kept_rows[j, k]
    if cnt > 0:
        scale = np.float32(1.0 / cnt)
        for k in range(d):
            out[k] = out[k] * scale
