"""Compiled kernels for word-vector training: corpus compaction, n-gram hashing, SGNS/CBOW/HS updates.

Every kernel is a pure function of plain arrays and scalars.  The training
kernels process one chunk of sentences per call with the GIL released, so
several Python threads can run them at once over the same weight matrices
(Hogwild, as word2vec.c does).  Random numbers come from a xorshift64* state
seeded per chunk, so a chunk's updates depend only on (seed, epoch, chunk) and
the weights it reads — with one worker, training is bit-for-bit reproducible.

Conventions shared by the training kernels:
- `tokens` (int32) holds word ids of the whole encoded corpus, `ends` (int64)
  the end offset of every sentence; a chunk is the sentence range [s0, s1).
- `keep` (uint32) is the subsampling threshold: word w is kept when a uniform
  32-bit draw is below keep[w] (2**32 - 1 keeps it always).
- negatives are drawn from an alias table (`alias_p`, `alias_i`), O(1) and
  exact for any vocabulary size, small enough to stay in cache.
- rows are fetched ahead of use: a prediction's negatives are drawn one
  prediction early and their output rows prefetched (`prefetch_row`), as are
  the next centre's input rows.  Once the vocabulary's rows outgrow the CPU
  cache, training waits mostly on memory; overlapping those waits with work
  made one skip-gram thread 35% faster on a 57k-word vocabulary.
- `stats` receives (loss sum, number of predictions, words seen).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._jit import prefetch_row

SIG_SIZE = 2048
MAX_SIG = 8.0


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """Return (sigmoid, -log sigmoid) sampled on SIG_SIZE + 1 points of [-MAX_SIG, MAX_SIG]."""
    x = np.linspace(-MAX_SIG, MAX_SIG, SIG_SIZE + 1)
    sig = 1.0 / (1.0 + np.exp(-x))
    nls = np.log1p(np.exp(-x))
    return sig.astype(np.float32), nls.astype(np.float32)


# --------------------------------------------------------------------------- random numbers
@njit(cache=True, nogil=True)
def splitmix64(x: np.uint64) -> np.uint64:
    """Return a well-mixed 64-bit value of x (seeds the per-chunk generators)."""
    z = np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _next(state):
    # xorshift64*: every output bit is usable, unlike the low bits of an LCG
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * np.uint64(0x2545F4914F6CDD1D)


@njit(cache=True, nogil=True, inline="always")
def _below(r, n):
    # maps the top 32 bits of r onto [0, n) without a division
    return np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _negative(state, alias_p, alias_i):
    r = _next(state)
    i = _below(r, alias_p.shape[0])
    u = np.float32(np.uint32(r & np.uint64(0xFFFFFFFF))) * np.float32(2.3283064e-10)
    if u < alias_p[i]:
        return i
    return np.int64(alias_i[i])


# --------------------------------------------------------------------------- corpus / vocabulary
@njit(cache=True, nogil=True)
def compact_corpus(tokens, ends, mapping):
    """Return (n_tokens, n_sentences) after mapping ids in place and dropping ids mapped to -1.

    tokens[:n_tokens] and ends[:n_sentences] hold the result; sentences left
    empty are removed.  Works in place so a large corpus is never copied.
    """
    w = 0
    s_out = 0
    start = 0
    for s in range(ends.shape[0]):
        end = ends[s]
        w0 = w
        for i in range(start, end):
            m = mapping[tokens[i]]
            if m >= 0:
                tokens[w] = m
                w += 1
        start = end
        if w > w0:
            ends[s_out] = w
            s_out += 1
    return w, s_out


@njit(cache=True, nogil=True)
def alias_segment(w, n, prob, alias, scaled, small, large):
    # Walker's alias table of w[:n] into prob[:n], alias[:n] (local indices); total must be > 0
    total = 0.0
    for i in range(n):
        total += w[i]
    for i in range(n):
        scaled[i] = w[i] * n / total
        prob[i] = 1.0
        alias[i] = i
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1


@njit(cache=True, nogil=True)
def alias_table(weights):
    """Return (prob float32, alias int32) for O(1) sampling proportional to `weights` (Walker)."""
    n = weights.shape[0]
    prob = np.ones(n, np.float32)
    alias = np.arange(n).astype(np.int32)
    alias_segment(weights, n, prob, alias, np.empty(n, np.float64), np.empty(n, np.int64), np.empty(n, np.int64))
    return prob, alias


@njit(cache=True, nogil=True)
def huffman(counts):
    """Return (codes uint8, points int32, offsets int64): each word's Huffman path, CSR-packed.

    Word w's code bits are codes[offsets[w]:offsets[w+1]] and the inner nodes
    they pass, root first, are points[...] (row numbers of the output matrix),
    as word2vec.c and fastText build them: frequent words get short codes.
    For counts in descending order (a frequency-sorted vocabulary) the tree is
    node for node fastText's, so the inner-node rows can be exported as its
    output matrix.
    """
    v = counts.shape[0]
    # Ascending counts; equal counts taken from the highest id down, as both
    # tools walk their descending vocabulary from the end.
    order = (v - 1) - np.argsort(counts[::-1], kind="mergesort")
    count = np.empty(2 * v, np.int64)
    parent = np.zeros(2 * v, np.int64)
    binary = np.zeros(2 * v, np.uint8)
    for i in range(v):
        count[i] = counts[order[i]]
    for i in range(v, 2 * v):
        count[i] = np.iinfo(np.int64).max
    p1 = 0
    p2 = v
    for a in range(v - 1):
        if p1 < v and count[p1] < count[p2]:
            m1 = p1
            p1 += 1
        else:
            m1 = p2
            p2 += 1
        if p1 < v and count[p1] < count[p2]:
            m2 = p1
            p1 += 1
        else:
            m2 = p2
            p2 += 1
        count[v + a] = count[m1] + count[m2]
        parent[m1] = v + a
        parent[m2] = v + a
        binary[m2] = 1
    lengths = np.zeros(v, np.int64)
    root = 2 * v - 2
    for i in range(v):
        n = i
        length = 0
        while n != root:
            length += 1
            n = parent[n]
        lengths[order[i]] = length
    offsets = np.zeros(v + 1, np.int64)
    for w in range(v):
        offsets[w + 1] = offsets[w] + lengths[w]
    codes = np.zeros(offsets[v], np.uint8)
    points = np.zeros(offsets[v], np.int32)
    for i in range(v):
        w = order[i]
        length = lengths[w]
        n = i
        k = length - 1
        while n != root:
            codes[offsets[w] + k] = binary[n]
            points[offsets[w] + k] = np.int32(parent[n] - v)
            n = parent[n]
            k -= 1
    return codes, points, offsets


# --------------------------------------------------------------------------- shared update steps
@njit(cache=True, nogil=True, inline="always")
def _sig_index(f):
    if f >= MAX_SIG:
        return SIG_SIZE
    if f <= -MAX_SIG:
        return 0
    return np.int64((f + MAX_SIG) * (SIG_SIZE / (2.0 * MAX_SIG)) + 0.5)


@njit(cache=True, nogil=True, inline="always")
def _neg_step(h, grad, out, target, label, lr, sig, nls):
    # one logistic prediction of `target` from hidden h; grad collects dL/dh, out is updated
    row = out[target]
    f = np.float32(0.0)
    for d in range(h.shape[0]):
        f += h[d] * row[d]
    k = _sig_index(f)
    if label:
        g = (np.float32(1.0) - sig[k]) * lr
        loss = nls[k]
    else:
        g = -sig[k] * lr
        loss = nls[SIG_SIZE - k]
    for d in range(h.shape[0]):
        grad[d] += g * row[d]
        row[d] += g * h[d]
    return loss


@njit(cache=True, nogil=True, inline="always")
def _draw_negatives(state, alias_p, alias_i, wout, negs):
    # the negatives of the next prediction, their rows already on their way to the cache
    for k in range(negs.shape[0]):
        t = _negative(state, alias_p, alias_i)
        negs[k] = t
        prefetch_row(wout, t)


@njit(cache=True, nogil=True, inline="always")
def _predict(h, grad, out, word, loss_hs, negs, codes, points, hoff, state, alias_p, alias_i,
             lr, sig, nls):
    # dL/dh of predicting `word` from h into grad (zeroed here); returns (loss, predictions).
    # Negative sampling: this prediction's negatives are negs[0] (drawn one prediction
    # ahead); the next prediction's are drawn into negs[1] first, then moved into negs[0].
    for d in range(grad.shape[0]):
        grad[d] = 0.0
    loss = np.float32(0.0)
    n = 0
    if loss_hs:
        for k in range(hoff[word], hoff[word + 1]):
            loss += _neg_step(h, grad, out, points[k], codes[k] == 0, lr, sig, nls)
            n += 1
    else:
        cur = negs[0]
        nxt = negs[1]
        _draw_negatives(state, alias_p, alias_i, out, nxt)
        loss += _neg_step(h, grad, out, word, True, lr, sig, nls)
        n += 1
        for k in range(cur.shape[0]):
            t = cur[k]
            if t == word:
                continue
            loss += _neg_step(h, grad, out, t, False, lr, sig, nls)
            n += 1
        for k in range(cur.shape[0]):
            cur[k] = nxt[k]
    return loss, n


@njit(cache=True, nogil=True, inline="always")
def _subsample(tokens, a, b, keep, state, buf):
    n = 0
    for i in range(a, b):
        w = tokens[i]
        if keep[w] != np.uint32(0xFFFFFFFF):
            if np.uint32(_next(state) >> np.uint64(32)) >= keep[w]:
                continue
        buf[n] = w
        n += 1
    return n


# --------------------------------------------------------------------------- training kernels
@njit(cache=True, nogil=True, fastmath=True)
def train_chunk(win, wout, sub_ids, sub_off, tokens, ends, s0, s1, keep, cbow, loss_hs, negative,
                window, codes, points, hoff, alias_p, alias_i, lr0, lr1, pos0, total, seed,
                max_len, sig, nls, stats, stop):
    """Return nothing; train on sentences [s0, s1) and add (loss, predictions, words) to stats.

    win: input rows; a word's input is the mean of rows sub_ids[sub_off[w]:sub_off[w+1]]
    (word2vec: just [w]; fastText: the word and its hashed n-grams).
    wout: output rows (negative sampling: one per word; hierarchical softmax:
    one per inner node).  The learning rate falls linearly from lr0 to lr1
    over `total` words; this chunk starts at word pos0 of that schedule.
    stop[0] != 0 asks the kernel to return at the next sentence (Ctrl-C).
    """
    dim = win.shape[1]
    state = np.empty(1, np.uint64)
    state[0] = splitmix64(np.uint64(seed)) | np.uint64(1)
    h = np.empty(dim, np.float32)
    grad = np.empty(dim, np.float32)
    acc = np.empty(dim, np.float32)
    buf = np.empty(max_len, np.int32)
    negs = np.empty((2, negative), np.int64)
    if not loss_hs:
        _draw_negatives(state, alias_p, alias_i, wout, negs[0])
    loss = 0.0
    npred = 0
    seen = 0
    start = 0 if s0 == 0 else ends[s0 - 1]
    for s in range(s0, s1):
        if stop[0] != 0:
            break
        end = ends[s]
        progress = (pos0 + seen) / total
        if progress > 1.0:
            progress = 1.0
        lr = np.float32(lr0 - (lr0 - lr1) * progress)
        n = _subsample(tokens, start, end, keep, state, buf)
        seen += end - start
        start = end
        for i in range(n):
            b = np.int64(_below(_next(state), window))
            lo = i - window + b
            if lo < 0:
                lo = 0
            hi = i + window - b + 1
            if hi > n:
                hi = n
            # rows the next centre will read: its own input rows (skip-gram) or the word
            # entering the window (CBOW), and CBOW's next positive output row
            nx = i + 1 if not cbow else i + window + 1
            if nx < n:
                for k in range(sub_off[buf[nx]], sub_off[buf[nx] + 1]):
                    prefetch_row(win, sub_ids[k])
            if cbow and not loss_hs and i + 1 < n:
                prefetch_row(wout, buf[i + 1])
            if cbow:
                for d in range(dim):
                    h[d] = 0.0
                cnt = 0
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = buf[j]
                    for k in range(sub_off[c], sub_off[c + 1]):
                        row = win[sub_ids[k]]
                        for d in range(dim):
                            h[d] += row[d]
                        cnt += 1
                if cnt == 0:
                    continue
                inv = np.float32(1.0) / np.float32(cnt)
                for d in range(dim):
                    h[d] *= inv
                ls, m = _predict(h, grad, wout, buf[i], loss_hs, negs, codes, points, hoff, state,
                                 alias_p, alias_i, lr, sig, nls)
                loss += ls
                npred += m
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = buf[j]
                    for k in range(sub_off[c], sub_off[c + 1]):
                        row = win[sub_ids[k]]
                        for d in range(dim):
                            row[d] += grad[d]
            else:
                w = buf[i]
                k0 = sub_off[w]
                k1 = sub_off[w + 1]
                if k1 - k0 == 1:
                    # one input row: update it in place, as word2vec does
                    hv = win[sub_ids[k0]]
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        if not loss_hs and j + 1 < hi:
                            prefetch_row(wout, buf[j + 1])
                        ls, m = _predict(hv, grad, wout, buf[j], loss_hs, negs, codes, points, hoff,
                                         state, alias_p, alias_i, lr, sig, nls)
                        loss += ls
                        npred += m
                        for d in range(dim):
                            hv[d] += grad[d]
                else:
                    # fastText: the hidden vector is the mean of the subword rows; each pair's
                    # gradient goes to every row, so the mean moves by the same gradient
                    for d in range(dim):
                        h[d] = 0.0
                        acc[d] = 0.0
                    for k in range(k0, k1):
                        row = win[sub_ids[k]]
                        for d in range(dim):
                            h[d] += row[d]
                    inv = np.float32(1.0) / np.float32(k1 - k0)
                    for d in range(dim):
                        h[d] *= inv
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        if not loss_hs and j + 1 < hi:
                            prefetch_row(wout, buf[j + 1])
                        ls, m = _predict(h, grad, wout, buf[j], loss_hs, negs, codes, points, hoff,
                                         state, alias_p, alias_i, lr, sig, nls)
                        loss += ls
                        npred += m
                        for d in range(dim):
                            h[d] += grad[d]
                            acc[d] += grad[d]
                    for k in range(k0, k1):
                        row = win[sub_ids[k]]
                        for d in range(dim):
                            row[d] += acc[d]
    stats[0] += loss
    stats[1] += npred
    stats[2] += seen


@njit(cache=True, nogil=True, fastmath=True)
def mean_rows(win, sub_ids, sub_off, out):
    """Return nothing; out[w] = mean of win rows sub_ids[sub_off[w]:sub_off[w+1]] (fastText word vectors)."""
    dim = win.shape[1]
    for w in range(out.shape[0]):
        k0 = sub_off[w]
        k1 = sub_off[w + 1]
        for d in range(dim):
            out[w, d] = 0.0
        for k in range(k0, k1):
            row = win[sub_ids[k]]
            for d in range(dim):
                out[w, d] += row[d]
        if k1 > k0:
            inv = np.float32(1.0) / np.float32(k1 - k0)
            for d in range(dim):
                out[w, d] *= inv
