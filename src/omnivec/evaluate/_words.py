"""Shared pieces of word-vector evaluation: the (case-folded) vocabulary view and unit rows."""

from __future__ import annotations

from itertools import islice

import numpy as np

from ..embeddings import Embeddings


class WordView:
    """The first `restrict_vocab` rows of a table with unit-length vectors and a folded key index.

    With case_insensitive (as gensim), keys are matched upper-cased and the
    most frequent (first) key wins when two keys fold to the same form.
    """

    def __init__(self, emb: Embeddings, restrict_vocab: int | None, case_insensitive: bool) -> None:
        n = len(emb) if restrict_vocab is None else min(len(emb), int(restrict_vocab))
        self.n = n
        self.case_insensitive = case_insensitive
        keys = [str(k) for k in islice(iter(emb), n)]
        self.keys = keys
        index: dict[str, int] = {}
        for i in range(n - 1, -1, -1):
            index[self.fold(keys[i])] = i
        self.index = index
        vecs = np.asarray(emb.store.decode(slice(0, n)), np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self.unit = (vecs / norms).astype(np.float32)

    def fold(self, word: str) -> str:
        """Return the matching form of `word`."""
        return word.upper() if self.case_insensitive else word

    def row(self, word: str) -> int:
        """Return the row of `word`, or -1 when it is outside the (restricted) vocabulary."""
        return self.index.get(self.fold(word), -1)
