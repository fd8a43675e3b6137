"""The training loop shared by Word2Vec and FastText: threads, schedule, progress, callbacks, Ctrl-C."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from itertools import count
from typing import Any

import numpy as np

from .._lazy import kernels
from .._params import Bool, Callables, Choice, Float, Int
from .._progress import progress
from ..embeddings import Embeddings
from ..errors import InputError
from . import corpus as corpus_mod
from ._hogwild import end_of_epoch, run_chunks
from . import vocab as vocab_mod
from ._learner import Learner

K = kernels("omnivec.learn._kernels")

log = logging.getLogger("omnivec.learn")

CHUNK_WORDS = 10000


@dataclass
class EpochReport:
    """What one epoch did; passed to every callback."""

    epoch: int            # 1-based
    epochs: int
    loss: float           # mean loss per prediction (positive or negative sample, or HS node)
    words: int            # corpus words read this epoch (before subsampling)
    seconds: float
    lr: float             # learning rate at the end of the epoch
    interrupted: bool = False


COMMON = {
    "dim": Int(1, 4096, help="Dimensions of the word vectors."),
    "window": Int(1, 1000, help="Largest context radius; each position draws a radius in [1, window]."),
    "min_count": Int(1, help="Words seen fewer times are left out of the vocabulary."),
    "max_vocab_size": Int(1, none_ok=True, help="Keep only this many most frequent words (None: all)."),
    "sample": Float(0.0, 1.0, open_hi=True, help="Frequent-word subsampling threshold (0: keep every word)."),
    "architecture": Choice(("skipgram", "cbow"), (("sg", "skipgram"), ("skip-gram", "skipgram")),
                           help="skipgram: predict the context from the word; cbow: the word from its context."),
    "loss": Choice(("negative", "hierarchical_softmax"),
                   (("ns", "negative"), ("negative_sampling", "negative"), ("hs", "hierarchical_softmax")),
                   help="Negative sampling, or hierarchical softmax over a Huffman tree (hs)."),
    "negative": Int(1, 100, help="Noise words per prediction (negative sampling)."),
    "ns_exponent": Float(-10.0, 10.0, help="Noise words are drawn in proportion to count ** ns_exponent."),
    "epochs": Int(1, 100000, help="Passes over the corpus."),
    "lr": Float(0.0, 10.0, open_lo=True, none_ok=True,
                help="Starting learning rate (None: 0.025 for skip-gram, 0.05 for CBOW)."),
    "min_lr": Float(0.0, 10.0, none_ok=True,
                    help="Learning rate at the end of the linear decay (None: lr * 1e-4)."),
    "workers": Int(1, 1024, none_ok=True,
                   help="Training threads (None: all cores); 1 with a seed is reproducible bit for bit."),
    "seed": Int(0, 2**63 - 1, help="Seed of the random initialisation and sampling."),
    "max_sentence_length": Int(1, 10**8, help="Longer lines are split into pieces of this many words."),
    "metric": Choice(("cosine", "dot", "euclidean"), help="Metric of the resulting table."),
    "progress": Bool(none_ok=True, help="Show a progress bar (None: when writing to a terminal)."),
    "callbacks": Callables(help="Called after each epoch with an EpochReport."),
}


class WordLearner(Learner):
    """Skip-gram / CBOW word vectors with negative sampling or hierarchical softmax (shared engine)."""

    _constraints = COMMON

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._fitted = False

    # -- parameters -----------------------------------------------------------
    @property
    def lr_(self) -> float:
        """Return the starting learning rate (0.025 for skip-gram, 0.05 for CBOW unless set)."""
        if self.lr is not None:
            return self.lr
        return 0.025 if self.architecture == "skipgram" else 0.05

    @property
    def min_lr_(self) -> float:
        """Return the final learning rate of the linear schedule."""
        return self.min_lr if self.min_lr is not None else self.lr_ * 1e-4

    @property
    def workers_(self) -> int:
        """Return the number of training threads."""
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)

    # -- to be filled by subclasses -------------------------------------------
    def _layout(self, vocab: vocab_mod.Vocab) -> tuple[np.ndarray, np.ndarray]:
        """Return (sub_ids, sub_off): each word's input rows."""
        n = len(vocab)
        return np.arange(n, dtype=np.int32), np.arange(n + 1, dtype=np.int64)

    def _n_input_rows(self, n_words: int) -> int:
        return n_words

    def _grow_input(self, win: np.ndarray, old_words: int, new_rows: np.ndarray) -> np.ndarray:
        return np.concatenate([win, new_rows])

    def _embeddings(self, meta: dict) -> Embeddings:
        raise NotImplementedError

    def _init_rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        half = 0.5 / self.dim
        return (rng.random((n, self.dim), dtype=np.float32) * (2 * half) - half).astype(np.float32)

    # -- the verbs ------------------------------------------------------------
    def fit(self, corpus: corpus_mod.Source) -> Embeddings:
        """Return word vectors trained on `corpus` (a path, a folder, a .gz file, or token lists).

        Keys are the words with count >= min_count, most frequent first; the
        result carries counts and provenance (learner, parameters, corpus
        fingerprint, training figures) in `.meta`.
        """
        t0 = time.perf_counter()
        enc = corpus_mod.encode(corpus, max_sentence_length=self.max_sentence_length)
        vocab, mapping = vocab_mod.build(enc, min_count=self.min_count, max_vocab_size=self.max_vocab_size,
                                         learner=type(self).__name__)
        enc.words = []   # every distinct token of the corpus: not needed past this point
        enc = vocab_mod.apply(enc, mapping)
        del mapping
        self.vocab_ = vocab
        rng = np.random.default_rng(self.seed)
        self.win_ = self._init_rows(rng, self._n_input_rows(len(vocab)))
        n_out = len(vocab) if self.loss == "negative" else max(1, len(vocab) - 1)
        self.wout_ = np.zeros((n_out, self.dim), np.float32)
        self.history_: list[EpochReport] = []
        self._corpora: list[dict] = []
        self._train(enc, t0)
        self._fitted = True
        return self.embeddings_

    def update(self, corpus: corpus_mod.Source) -> Embeddings:
        """Return the vectors after further training on `corpus`; new words reaching min_count are added.

        Known words keep their rows (and gain the new counts); new words are
        appended after them.  The learning-rate schedule restarts from lr.
        """
        if not getattr(self, "_fitted", False):
            raise InputError(f"{type(self).__name__}.update() continues a fit; call fit(corpus) first")
        t0 = time.perf_counter()
        enc = corpus_mod.encode(corpus, max_sentence_length=self.max_sentence_length)
        old = len(self.vocab_)
        vocab, mapping, n_new = vocab_mod.grow(self.vocab_, enc, min_count=self.min_count)
        enc.words = []
        enc = vocab_mod.apply(enc, mapping)
        if enc.n_tokens == 0:
            raise InputError(f"no word of the new corpus is in the vocabulary or reaches "
                             f"min_count={self.min_count}; nothing to train on")
        rng = np.random.default_rng([self.seed, len(self._corpora)])
        self.win_ = self._grow_input(self.win_, old, self._init_rows(rng, n_new))
        if self.loss == "negative":
            self.wout_ = np.concatenate([self.wout_, np.zeros((n_new, self.dim), np.float32)])
        else:
            self.wout_ = np.concatenate([self.wout_, np.zeros((len(vocab) - 1 - len(self.wout_), self.dim),
                                                              np.float32)])
        self.vocab_ = vocab
        log.info("update: %d new words (vocabulary %d -> %d)", n_new, old, len(vocab))
        self._train(enc, t0)
        return self.embeddings_

    # -- the engine -----------------------------------------------------------
    def _train(self, enc: corpus_mod.EncodedCorpus, t0: float) -> None:
        vocab = self.vocab_
        counts = vocab.counts
        keep = vocab_mod.keep_thresholds(counts, self.sample)
        if self.loss == "negative":
            alias_p, alias_i = vocab_mod.negative_table(counts, self.ns_exponent)
            codes = np.zeros(1, np.uint8)
            points = np.zeros(1, np.int32)
            hoff = np.zeros(1, np.int64)
        else:
            alias_p = np.ones(1, np.float32)
            alias_i = np.zeros(1, np.int32)
            codes, points, hoff = vocab_mod.huffman_tree(counts)
        sub_ids, sub_off = self._layout(vocab)
        ends = enc.ends
        n_tok = enc.n_tokens
        targets = np.arange(CHUNK_WORDS, n_tok, CHUNK_WORDS)
        bounds = np.unique(np.concatenate([[0], np.searchsorted(ends, targets, side="left") + 1,
                                           [len(ends)]]))
        bounds = bounds[bounds <= len(ends)]
        chunk_s0 = bounds[:-1]
        chunk_s1 = bounds[1:]
        chunk_pos = np.where(chunk_s0 > 0, ends[np.maximum(chunk_s0 - 1, 0)], 0)
        epochs = self.epochs
        total = float(max(1, n_tok) * epochs)
        lr0, lr1 = self.lr_, self.min_lr_
        cbow = self.architecture == "cbow"
        hs = self.loss == "hierarchical_softmax"
        workers = self.workers_
        max_len = int(self.max_sentence_length)
        sig, nls = _sigmoid_tables()
        stop = np.zeros(1, np.int64)
        win, wout = self.win_, self.wout_
        seed_base = (int(self.seed) * 0x9E3779B97F4A7C15 + len(self._corpora) * 0xD1B54A32D192ED03) % 2**64

        def run_chunk(c: int, epoch: int, stats: np.ndarray) -> None:
            seed = (seed_base ^ ((epoch & 0xFFFFF) << 40) ^ c) % 2**64
            s0, s1 = int(chunk_s0[c]), int(chunk_s1[c])
            a = int(chunk_pos[c])
            tokens = enc.read(a, int(ends[s1 - 1]))
            local_ends = ends[s0:s1] - a
            K.train_chunk(win, wout, sub_ids, sub_off, tokens, local_ends, 0, s1 - s0,
                          keep, cbow, hs, self.negative, self.window, codes, points, hoff, alias_p,
                          alias_i, lr0, lr1, float(epoch * n_tok + chunk_pos[c]), total, np.uint64(seed), max_len,
                          sig, nls, stats, stop)

        # compile (or load from cache) in this thread before the workers start
        K.train_chunk(
            win, wout, sub_ids, sub_off, np.zeros(1, np.int32), ends, 0, 0, keep, cbow, hs, self.negative, self.window,
            codes, points, hoff, alias_p, alias_i, lr0, lr1, 0.0, total, np.uint64(0), max_len, sig, nls,
            np.zeros(3), stop)

        interrupted = False
        reports = []
        start_train = time.perf_counter()
        with progress(f"{type(self).__name__} {self.architecture}", total=n_tok * epochs,
                      unit="words", enabled=self.progress) as task:
            for epoch in range(epochs):
                te = time.perf_counter()
                next_chunk = count().__next__
                n_chunks = len(chunk_s0)
                stats = [np.zeros(3) for _ in range(workers)]
                interrupted = run_chunks(
                    n_chunks, next_chunk, lambda c, st, ep=epoch: run_chunk(c, ep, st), stats,
                    tick=lambda ep=epoch: self._tick(task, ep, n_tok, stats, lr0, lr1, total), stop=stop,
                    name="train")
                tot = np.sum(stats, axis=0)
                words = int(tot[2])
                lr_now = lr0 - (lr0 - lr1) * min(1.0, (epoch * n_tok + words) / total)
                rep = EpochReport(epoch=epoch + 1, epochs=epochs, loss=float(tot[0] / max(tot[1], 1)),
                                  words=words, seconds=time.perf_counter() - te, lr=lr_now,
                                  interrupted=interrupted)
                reports.append(rep)
                task.update(completed=epoch * n_tok + words, loss=rep.loss, lr=lr_now)
                if end_of_epoch(rep, interrupted, self.callbacks, log, epoch, epochs):
                    interrupted = True
                    break
        seconds = time.perf_counter() - start_train
        words_done = sum(r.words for r in reports)
        self.history_.extend(reports)
        self._corpora.append({"corpus": enc.stats.to_meta(), "vocabulary": len(vocab),
                              "epochs_done": sum(1 for r in reports if not r.interrupted),
                              "interrupted": interrupted, "words": words_done,
                              "train_seconds": round(seconds, 3),
                              "total_seconds": round(time.perf_counter() - t0, 3),
                              "words_per_second": round(words_done / seconds, 1) if seconds > 0 else None,
                              "epoch_loss": [round(r.loss, 6) for r in reports],
                              "workers": workers})
        self.interrupted_ = interrupted
        meta = {"learner": self.name, "params": self.get_params(),
                "corpus": enc.stats.to_meta(), "training": self._corpora}
        self.embeddings_ = self._embeddings(meta)
        enc.close()

    def _tick(self, task, epoch, n_tok, stats, lr0, lr1, total) -> None:
        tot = np.sum(stats, axis=0)
        done = epoch * n_tok + int(tot[2])
        task.update(completed=done, lr=lr0 - (lr0 - lr1) * min(1.0, done / total),
                    loss=float(tot[0] / max(tot[1], 1)))


_TABLES: list = []


def _sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """Return the (sigmoid, -log sigmoid) lookup tables, computed on first use."""
    if not _TABLES:
        _TABLES.append(K.sigmoid_tables())
    return _TABLES[0]
