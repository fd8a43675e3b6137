"""FastText: word vectors with hashed character n-grams (Bojanowski et al. 2017), fastText-compatible.

Each word's input is the mean of its own row and the rows of its character
n-grams (minn..maxn characters of ``<word>``), hashed into `bucket` rows with
fastText's own FNV-1a variant (`omnivec.core.ngrams`), so a trained model
exports to a fastText `.bin` that fastText loads, and out-of-vocabulary
vectors equal fastText's for the same weights.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._lazy import kernels
from .._params import Int
from ..core.subwords import Subwords
from ..embeddings import Embeddings
from ..errors import InputError
from ._trainer import COMMON, EpochReport, WordLearner

K = kernels("omnivec.learn._kernels")


class FastText(WordLearner):
    """Learns fastText subword vectors from a text corpus (skip-gram or CBOW).

    Parameters as `Word2Vec`, plus minn / maxn (n-gram lengths in
    characters; maxn=0 disables n-grams) and bucket (hash rows).  Defaults
    follow fastText: lr 0.05, negatives drawn ∝ count ** 0.5, minn 3, maxn
    6, bucket 2,000,000, sample 1e-4, input rows uniform in ±1/dim.

    The result's vectors are fastText's word vectors (mean of the word's row
    and its n-gram rows); `.subwords` holds the bucket rows, the words' own
    rows and the output matrix, so `emb.vector(w, oov=True)` composes
    unknown words as fastText does and `.bin` export is exact.

    Skip-gram keeps the centre word's hidden vector across its window and
    writes the summed gradient to its rows once per centre word: with one
    thread this is fastText's update exactly, unless two n-grams of the word
    hash to the same row.
    """

    name = "fasttext"
    _constraints = {**COMMON,
                    "minn": Int(0, 100, help="Shortest character n-gram."),
                    "maxn": Int(0, 100, help="Longest character n-gram (0: no n-grams)."),
                    "bucket": Int(0, 2**31 - 1, help="Hash rows shared by the n-grams.")}

    def __init__(self, *, dim: int = 100, window: int = 5, min_count: int = 5,
                 max_vocab_size: int | None = None, sample: float = 1e-4,
                 architecture: str = "skipgram", loss: str = "negative", negative: int = 5,
                 ns_exponent: float = 0.5, epochs: int = 5, lr: float | None = 0.05,
                 min_lr: float | None = 0.0, minn: int = 3, maxn: int = 6, bucket: int = 2_000_000,
                 workers: int | None = None, seed: int = 1, max_sentence_length: int = 10000,
                 metric: str = "cosine", progress: bool | None = None,
                 callbacks: Sequence[Callable[[EpochReport], None]] = ()) -> None:
        super().__init__(dim=dim, window=window, min_count=min_count, max_vocab_size=max_vocab_size,
                         sample=sample, architecture=architecture, loss=loss, negative=negative,
                         ns_exponent=ns_exponent, epochs=epochs, lr=lr, min_lr=min_lr, workers=workers,
                         seed=seed, max_sentence_length=max_sentence_length, metric=metric,
                         progress=progress, callbacks=callbacks, minn=minn, maxn=maxn, bucket=bucket)

    @classmethod
    def _check_together(cls, values: dict) -> None:
        maxn, minn, bucket = values["maxn"], values["minn"], values["bucket"]
        if maxn > 0 and minn > maxn:
            raise InputError(f"The 'minn' parameter of FastText must be <= maxn ({maxn}). Got {minn} instead.")
        if maxn > 0 and bucket == 0:
            raise InputError("The 'bucket' parameter of FastText must be >= 1 when maxn > 0. Got 0 instead.")

    @property
    def _uses_ngrams(self) -> bool:
        return self.maxn > 0 and self.bucket > 0

    def _n_input_rows(self, n_words: int) -> int:
        return n_words + (self.bucket if self._uses_ngrams else 0)

    def _init_rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        a = 1.0 / self.dim
        out = np.empty((n, self.dim), np.float32)
        step = 1 << 16
        for s in range(0, n, step):  # block-wise: no float64 copy of a 2M-row matrix
            blk = rng.random((min(step, n - s), self.dim), dtype=np.float32)
            blk *= 2 * a
            blk -= a
            out[s:s + step] = blk
        return out

    def _grow_input(self, win: np.ndarray, old_words: int, new_rows: np.ndarray) -> np.ndarray:
        # word rows first, bucket rows after them: new words go between
        return np.concatenate([win[:old_words], new_rows, win[old_words:]])

    def _blob(self) -> tuple[np.ndarray, np.ndarray]:
        enc = [w.encode("utf-8") for w in self.vocab_.words]
        offsets = np.zeros(len(enc) + 1, np.int64)
        offsets[1:] = np.cumsum([len(b) for b in enc])
        return np.frombuffer(b"".join(enc), np.uint8), offsets

    def _layout(self, vocab) -> tuple[np.ndarray, np.ndarray]:
        n = len(vocab)
        if not self._uses_ngrams:
            return np.arange(n, dtype=np.int32), np.arange(n + 1, dtype=np.int64)
        from ..core.ngrams import ngram_ids_many  # loads the n-gram kernels: not at import

        blob, offsets = self._blob()
        grams, goff = ngram_ids_many(blob, offsets, self.minn, self.maxn, self.bucket, skip_eos=False)
        # fastText's order: the word's own row, then its n-grams
        sizes = np.diff(goff) + 1
        sub_off = np.zeros(n + 1, np.int64)
        sub_off[1:] = np.cumsum(sizes)
        sub_ids = np.empty(sub_off[-1], np.int32)
        own = sub_off[:-1]
        sub_ids[own] = np.arange(n, dtype=np.int32)
        mask = np.ones(len(sub_ids), bool)
        mask[own] = False
        sub_ids[mask] = (grams + n).astype(np.int32)
        return sub_ids, sub_off

    def _embeddings(self, meta: dict) -> Embeddings:
        n = len(self.vocab_)
        sub_ids, sub_off = self._layout(self.vocab_)
        vectors = np.empty((n, self.dim), np.float32)
        K.mean_rows(self.win_, sub_ids, sub_off, vectors)
        settings = {"model": self.architecture, "loss": "ns" if self.loss == "negative" else "hs",
                    "ws": self.window, "epoch": self.epochs, "minCount": self.min_count,
                    "neg": self.negative, "wordNgrams": 1, "lrUpdateRate": 100, "t": self.sample,
                    "ntokens": int(self.vocab_.counts.sum())}
        # fastText keeps one output row per word; hierarchical softmax uses the
        # first n - 1 as its inner nodes (the same tree as ours), the last stays zero.
        output = self.wout_ if self.loss == "negative" else np.concatenate(
            [self.wout_[:n - 1], np.zeros((n - min(n - 1, len(self.wout_)), self.dim), np.float32)])
        subwords = None
        if self._uses_ngrams:
            subwords = Subwords(minn=self.minn, maxn=self.maxn, bucket=self.bucket,
                                vectors=self.win_[n:], word_vectors=self.win_[:n],
                                output=output, settings=settings)
        return Embeddings(self.vocab_.words, vectors, metric=self.metric, counts=self.vocab_.counts,
                          meta=meta, subwords=subwords, name="words")
