"""Neighbors: the one result shape of every nearest-neighbour search."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from .keys import Key


class Neighbors:
    """Nearest-neighbour results, always 2-D: one row per query, best first.

    `ids` and `scores` are (queries x k) arrays: ids are table rows (an index's
    added keys get ids after the last row), scores are higher-is-closer
    (cosine similarity, dot product, or negated euclidean distance).
    `keys[i]` lists the keys of query i, decoded on first use, so a search
    that needs only ids pays nothing for them.  Every search returns this
    type: `Embeddings.search`, every index's `search`, and the CLI's `--json`.
    Where a search can leave a row short (a text search whose query has no
    indexed term), ids are -1 and scores -inf past its results, `keys[i]`
    lists only the results, and `reasons[i]` says why (None when it is full).
    """

    __slots__ = ("ids", "scores", "_decode", "_keys", "reasons")

    def __init__(self, ids: np.ndarray, scores: np.ndarray,
                 keys: Callable[[np.ndarray], list[Key]] | Sequence[Sequence[Key]],
                 reasons: Sequence[str | None] | None = None) -> None:
        self.ids = ids
        self.scores = scores
        self.reasons: list[str | None] = list(reasons) if reasons is not None else [None] * len(ids)
        if callable(keys):
            self._decode, self._keys = keys, None
        else:
            self._decode, self._keys = None, [list(k) for k in keys]

    @property
    def keys(self) -> list[list[Key]]:
        """Return the keys of the results, one list per query."""
        if self._keys is None:
            self._keys = [self._decode(r) for r in self.ids]
        return self._keys

    @property
    def k(self) -> int:
        """Return the number of results per query (the width of `ids`)."""
        return int(self.ids.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[list[tuple[Key, float]]]:
        for i in range(len(self)):
            yield self.pairs(i)

    def pairs(self, i: int = 0) -> list[tuple[Key, float]]:
        """Return query i's results as (key, score) pairs."""
        keys = self._keys[i] if self._keys is not None else self._decode(self.ids[i])
        return list(zip(keys, self.scores[i].tolist()))

    def to_dict(self) -> list[list[dict]]:
        """Return the results as JSON-able lists (one per query) of {key, id, score}."""
        return [[{"key": key, "id": int(i), "score": float(s)}
                 for key, i, s in zip(self.keys[q], self.ids[q].tolist(), self.scores[q].tolist())]
                for q in range(len(self))]

    def __repr__(self) -> str:
        return f"Neighbors(queries={self.ids.shape[0]}, k={self.ids.shape[1]})"
