"""The exact backend: every query scored against every live row.

No approximation and no engine state: the index is the table itself plus the
shared key mapping, deletes and added keys, so it saves as a few bytes and
serves as the reference the approximate backends are measured against.  The
search is omnivec's one exact top-k, `omnivec.core.exact.topk_any`, over the
table's rows and over the keys added since.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.exact import topk_any
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

    def _engine_search(self, Q, k, allowed, n_ok, sp, filtered):
        parts = []
        if self.n_base:
            mask = None if allowed is None else allowed[:self.n_base]
            if mask is None or mask.any():
                parts.append(topk_any(self.emb.store, self.metric, Q, k, mask))
        if self.extra_keys:
            mask = None if allowed is None else allowed[self.n_base:]
            if mask is None or mask.any():
                r, s = topk_any(self._extras(), self.metric, Q, k, mask)
                parts.append((np.where(r >= 0, r + self.n_base, -1), s))
        return merge_topk(parts, k)
