"""Search defaults chosen by measurement: recall@k on a sample of the table's own rows.

After a build, `tune(index, target)` asks the index for the cheapest search
setting (HNSW: `ef`; IVF-PQ: `nprobe` and `refine`) whose recall@10 on a
fixed-seed sample of the table's rows, against exact search, reaches the
target, and stores it as the index's search defaults (they are saved with
the index).  `measure(index)` reports the recall the current defaults reach
on the same kind of sample; `omnivec index build` prints it.

Recall is tie-tolerant, as in `omnivec index eval`: a returned id counts when
its exact score reaches the k-th exact score.  Queries are the rows
themselves (so each finds itself, as a user querying with a stored vector
would); the sample is a few hundred rows, enough to place recall within about
±0.01 at 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError

SAMPLE = 300      # queries drawn for tuning and for the recall printed after a build
K = 10


@dataclass
class Probe:
    """Sample queries with their exact k-th scores: what recall is measured against."""

    Q: np.ndarray          # (queries x dim) float32 raw rows
    kth: np.ndarray        # (queries x 1) exact k-th best score of each query
    k: int

    def recall(self, index, **search_params: Any) -> float:
        """Return the index's tie-tolerant recall@k on the sample with these search parameters."""
        ids = index.search(self.Q, self.k, **search_params).ids
        true = index._rescore(self.Q, ids)
        return float((true >= self.kth - 1e-5).sum() / max(1, ids.size))


def probe(index, queries: int = SAMPLE, k: int = K, seed: int = 0) -> Probe:
    """Return `queries` fixed-seed rows of the index's table with their exact k-th scores."""
    from .flat import topk_any

    emb = index.emb
    n = index.n_base
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, min(queries, n), replace=False))
    Q = np.ascontiguousarray(emb.store.decode(rows), np.float32)
    scores = [topk_any(emb.store, emb._metric, Q[s:s + 100], k)[1] for s in range(0, len(Q), 100)]
    return Probe(Q, np.concatenate(scores)[:, k - 1:k], k)


def measure(index, queries: int = SAMPLE, k: int = K, seed: int = 0) -> dict[str, Any]:
    """Return {"recall", "k", "queries", "search_params"}: the recall@k of the index's current defaults."""
    if index.name == "flat":
        return {"recall": 1.0, "k": min(k, index.n_base), "queries": 0, "search_params": {}}
    p = probe(index, queries, k, seed)
    return {"recall": p.recall(index), "k": p.k, "queries": len(p.Q), "search_params": dict(index.search_params)}


def check_target(target: float, backend: str) -> float:
    """Return `target` as a float in (0, 1], or raise InputError naming the parameter (0 = no tuning)."""
    if not 0.0 <= target <= 1.0:
        raise InputError(f"the 'target_recall' parameter of the {backend} index must be in (0, 1] "
                         f"(0 = keep the defaults); got {target!r}")
    return float(target)


def smallest(values: Sequence[int], reaches: Callable[[int], bool]) -> int | None:
    """Return the smallest value in sorted `values` for which `reaches` holds (assumed monotone), or None.

    Gallops upward from the cheapest value (1, 2, 4, ... steps), then bisects:
    the dearest settings are tried only when the cheaper ones fall short.
    """
    below, i, step = -1, 0, 1
    while not reaches(values[i]):
        if i == len(values) - 1:
            return None
        below, i, step = i, min(len(values) - 1, i + step), step * 2
    lo, hi = below + 1, i          # values[hi] reaches; values[below] does not
    while lo < hi:
        mid = (lo + hi) // 2
        if reaches(values[mid]):
            hi = mid
        else:
            lo = mid + 1
    return values[hi]


def tune(index, target: float, candidates: Callable[[Probe, float], list[tuple[float, dict]]],
         queries: int = SAMPLE, seed: int = 0) -> dict[str, Any]:
    """Store the cheapest search setting reaching `target` as the index's defaults; return the report.

    `candidates(probe, target)` returns (cost, search parameters) pairs that
    each reach the target where possible (the backend searches its own
    knobs); the cheapest one is kept.  When none reaches it, the setting with the
    highest recall is kept and the report's recall says how far it got.
    """
    p = probe(index, queries, K, seed)
    found = candidates(p, target)
    if not found:
        raise InputError(f"no search setting of the {index.name} index was tried")
    _, best = min(found, key=lambda cs: cs[0])
    reached = p.recall(index, **best)
    index.params.update(best)
    index.search_params.update(best)
    return {"recall": reached, "k": p.k, "queries": len(p.Q), "target_recall": target,
            "search_params": dict(best)}


def report(index) -> dict[str, Any]:
    """Return the recall report of a fresh index: its tuning, or a measurement of its defaults."""
    return getattr(index, "tuning", None) or measure(index)
