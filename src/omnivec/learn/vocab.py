"""Vocabulary: min_count / max_vocab_size pruning, frequency order, subsampling, negative and Huffman tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._lazy import kernels
from ..errors import InputError
from .corpus import EncodedCorpus, token_file

K = kernels("omnivec.learn._kernels")

ALWAYS = np.uint32(0xFFFFFFFF)


@dataclass
class Vocab:
    """Words in row order (most frequent first after a fit) with their corpus counts."""

    words: list[str]
    counts: np.ndarray   # int64

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Return the number of corpus tokens the vocabulary covers."""
        return int(self.counts.sum())

    def index(self) -> dict[str, int]:
        """Return a word -> row dict."""
        return {w: i for i, w in enumerate(self.words)}


def build(corpus: EncodedCorpus, *, min_count: int, max_vocab_size: int | None,
          learner: str = "the learner") -> tuple[Vocab, np.ndarray]:
    """Return (vocabulary, mapping): words with count >= min_count, most frequent first.

    Ties keep first-occurrence order; with max_vocab_size only the most
    frequent words are kept.  mapping[first-occurrence id] is the word's row,
    or -1 for a dropped word.
    """
    counts = corpus.counts
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    if max_vocab_size is not None:
        order = order[:max_vocab_size]
    if len(order) == 0:
        top = int(counts.max()) if len(counts) else 0
        raise InputError(f"no word of the corpus occurs at least min_count={min_count} times "
                         f"(the most frequent occurs {top} times, {len(counts)} distinct words); "
                         f"lower min_count or give {learner} more text")
    mapping = np.full(len(counts), -1, np.int32)
    mapping[order] = np.arange(len(order), dtype=np.int32)
    vocab = Vocab([corpus.words[i] for i in order.tolist()], counts[order].astype(np.int64))
    return vocab, mapping


def grow(vocab: Vocab, corpus: EncodedCorpus, *, min_count: int) -> tuple[Vocab, np.ndarray, int]:
    """Return (grown vocabulary, mapping, number of new words) for continued training.

    Known words keep their rows and gain the new counts; new words reaching
    min_count in `corpus` are appended, most frequent first.
    """
    index = vocab.index()
    known = np.array([index.get(w, -1) for w in corpus.words], np.int64)
    mapping = np.full(len(corpus.words), -1, np.int32)
    counts = vocab.counts.copy()
    is_known = known >= 0
    mapping[is_known] = known[is_known]
    np.add.at(counts, known[is_known], corpus.counts[is_known])
    new = np.flatnonzero(~is_known & (corpus.counts >= min_count))
    new = new[np.argsort(-corpus.counts[new], kind="stable")]
    mapping[new] = len(vocab) + np.arange(len(new), dtype=np.int32)
    words = vocab.words + [corpus.words[i] for i in new.tolist()]
    counts = np.concatenate([counts, corpus.counts[new]]).astype(np.int64)
    return Vocab(words, counts), mapping, len(new)


def apply(corpus: EncodedCorpus, mapping: np.ndarray, *, block_tokens: int = 1 << 20) -> EncodedCorpus:
    """Return the corpus with ids mapped to vocabulary rows and dropped words removed.

    Streams sentence-aligned blocks from the old token file into a new one,
    so memory stays bounded by a block.  Sentences left empty are removed.
    """
    ends = corpus.ends
    out = token_file()
    new_ends = np.empty(len(ends), np.int64)
    n_tok = 0
    n_sent = 0
    s = 0
    start = 0
    targets = np.searchsorted(ends, np.arange(block_tokens, corpus.n_tokens + block_tokens, block_tokens))
    for t in targets.tolist():
        s1 = min(max(t + 1, s + 1), len(ends))
        if s1 <= s:
            continue
        block = corpus.read(start, int(ends[s1 - 1]))
        local = ends[s:s1] - start
        nt, ns = K.compact_corpus(block, local, mapping)
        out.write(block[:nt].tobytes())
        new_ends[n_sent:n_sent + ns] = local[:ns] + n_tok
        n_tok += nt
        n_sent += ns
        start = int(ends[s1 - 1])
        s = s1
        if s >= len(ends):
            break
    out.flush()
    corpus.close()
    return EncodedCorpus(out, n_tok, new_ends[:n_sent].copy(), corpus.words, corpus.counts, corpus.stats)


def keep_thresholds(counts: np.ndarray, sample: float) -> np.ndarray:
    """Return uint32 keep thresholds for frequent-word subsampling (word2vec's formula).

    A word of frequency f = count / total is kept with probability
    (sqrt(f / sample) + 1) * sample / f, capped at 1; sample=0 keeps every word.
    """
    if sample <= 0:
        return np.full(len(counts), ALWAYS, np.uint32)
    total = float(counts.sum())
    f = counts.astype(np.float64) / total
    p = (np.sqrt(f / sample) + 1.0) * sample / f
    out = np.minimum(p * 4294967296.0, 4294967295.0).astype(np.uint32)
    out[p >= 1.0] = ALWAYS
    return out


def negative_table(counts: np.ndarray, exponent: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the alias table (prob, alias) drawing word w with probability ∝ counts[w] ** exponent."""
    w = counts.astype(np.float64) ** exponent
    return K.alias_table(w)


def huffman_tree(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (codes, points, offsets): each word's Huffman code and inner-node rows, CSR-packed."""
    if len(counts) < 2:
        # one word: a single inner node decides nothing, but keeps the kernels uniform
        return np.zeros(1, np.uint8), np.zeros(1, np.int32), np.array([0, 1], np.int64)
    return K.huffman(counts.astype(np.int64))
