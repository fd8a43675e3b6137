"""Word2Vec: skip-gram and CBOW word vectors, negative sampling or hierarchical softmax."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..embeddings import Embeddings
from ._trainer import EpochReport, WordLearner


class Word2Vec(WordLearner):
    """Learns word2vec vectors (Mikolov et al. 2013) from a text corpus.

    Hyper-parameters live in the constructor; ``fit(corpus)`` returns an
    `Embeddings` (words most frequent first, with counts and provenance) and
    ``update(corpus)`` continues training with vocabulary growth.

    - architecture: "skipgram" (predict context words from the centre word)
      or "cbow" (predict the centre word from the mean of its context).
    - loss: "negative" (negative sampling, `negative` noise words drawn
      ∝ count ** ns_exponent) or "hierarchical_softmax" (Huffman tree).
    - window: largest context radius; each position draws a radius uniformly
      in [1, window] (the reduced window of word2vec).
    - sample: frequent-word subsampling threshold (0 keeps every word).
    - lr / min_lr: linear learning-rate decay (default lr 0.025 skip-gram,
      0.05 CBOW; min_lr = lr * 1e-4).
    - workers: training threads (default: all cores).  With workers=1 and a
      seed, training is bit-for-bit reproducible.  With more workers, every
      chunk of ~10,000 words still uses the same random draws, but threads
      update shared weights without locks (Hogwild), so results vary slightly
      from run to run.
    - callbacks: called after each epoch with an `EpochReport` (epoch, loss, ...).
    - max_sentence_length: longer lines are split (counted in meta['corpus']).

    Ctrl-C during fit stops at the next chunk and returns the model trained
    so far (meta['training'][-1]['interrupted'] is True).
    """

    name = "word2vec"

    def __init__(self, *, dim: int = 100, window: int = 5, min_count: int = 5,
                 max_vocab_size: int | None = None, sample: float = 1e-3,
                 architecture: str = "skipgram", loss: str = "negative", negative: int = 5,
                 ns_exponent: float = 0.75, epochs: int = 5, lr: float | None = None,
                 min_lr: float | None = None, workers: int | None = None, seed: int = 1,
                 max_sentence_length: int = 10000, metric: str = "cosine",
                 progress: bool | None = None,
                 callbacks: Sequence[Callable[[EpochReport], None]] = ()) -> None:
        super().__init__(dim=dim, window=window, min_count=min_count, max_vocab_size=max_vocab_size,
                         sample=sample, architecture=architecture, loss=loss, negative=negative,
                         ns_exponent=ns_exponent, epochs=epochs, lr=lr, min_lr=min_lr, workers=workers,
                         seed=seed, max_sentence_length=max_sentence_length, metric=metric,
                         progress=progress, callbacks=callbacks)

    def _embeddings(self, meta: dict) -> Embeddings:
        # no copy: update() trains on a new array, so the returned table never changes
        return Embeddings(self.vocab_.words, self.win_, metric=self.metric,
                          counts=self.vocab_.counts, meta=meta, name="words")
