"""The exact backend: every query scored against every live row by our chunked top-k.

No approximation and no engine state: the index is the table itself plus the
shared key mapping, deletes and added keys, so it saves as a few bytes and
serves as the reference the approximate backends are measured against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import exact
from .index import BACKENDS, Index, merge_topk


@BACKENDS.register("flat", aliases=("exact", "brute_force"))
class FlatIndex(Index):
    """Exact search over all stored dtypes and metrics, with filters, deletes and upserts."""

    name = "flat"
    build_defaults: dict[str, Any] = {}
    search_defaults: dict[str, Any] = {}
    # Gathering the allowed rows first beats a masked scan of the whole table
    # once few rows pass: the gather reads only them.
    exact_fraction = 0.05

    def _engine_build(self, task) -> None:
        task.advance(self.n_base)

    def _engine_add(self, X: np.ndarray, ids: np.ndarray) -> None:
        pass

    def _engine_search(self, Q, k, allowed, n_ok, sp):
        parts = []
        if self.n_base:
            mask = None if allowed is None else allowed[:self.n_base]
            if mask is None or mask.any():
                parts.append(exact.topk(self.emb.store, self.metric, Q, k, allowed=mask))
        if self.extra_keys:
            mask = None if allowed is None else allowed[self.n_base:]
            if mask is None or mask.any():
                r, s = exact.topk(self._extras(), self.metric, Q, k, allowed=mask)
                parts.append((r + self.n_base, s))
        ids, scores = merge_topk(parts, k)
        if ids.shape[1] < k:  # exact.topk trims to the narrowest query; pad so search() refills
            pad = k - ids.shape[1]
            ids = np.concatenate([ids, np.full((len(Q), pad), -1, np.int64)], axis=1)
            scores = np.concatenate([scores, np.full((len(Q), pad), -np.inf, np.float32)], axis=1)
        return ids, scores
