"""Similarity metrics: how a table's vectors are compared.

Every metric turns raw dot products plus norms into a *score* where higher
means closer, so that one top-k routine serves them all:

- cosine:    score = <a, b> / (|a| |b|)            (similarity in [-1, 1])
- dot:       score = <a, b>
- euclidean: score = -|a - b|                       (negated distance)

`distance` is the metric's own distance: 1 - cosine, -dot, |a - b|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    normalize_queries: bool

    def scores(self, dots: np.ndarray, row_norms: np.ndarray, q_norms: np.ndarray) -> np.ndarray:
        """Return scores (rows x queries) from raw dot products, in place where possible."""
        if self.name == "cosine":
            inv = np.divide(1.0, row_norms, out=np.zeros(row_norms.shape, np.float32),
                            where=row_norms > 0)
            qinv = np.divide(1.0, q_norms, out=np.zeros(q_norms.shape, np.float32),
                             where=q_norms > 0)
            dots *= inv[:, None]
            dots *= qinv[None, :]
            return dots
        if self.name == "dot":
            return dots
        sq = (row_norms.astype(np.float32) ** 2)[:, None] - 2.0 * dots + (q_norms.astype(np.float32) ** 2)[None, :]
        np.maximum(sq, 0.0, out=sq)
        np.sqrt(sq, out=sq)
        np.negative(sq, out=sq)
        return sq

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the score of each row of `a` against the matching row of `b`."""
        a = np.atleast_2d(a).astype(np.float32, copy=False)
        b = np.atleast_2d(b).astype(np.float32, copy=False)
        dots = np.einsum("ij,ij->i", a, b).astype(np.float32)
        na = np.linalg.norm(a, axis=1).astype(np.float32)
        nb = np.linalg.norm(b, axis=1).astype(np.float32)
        if self.name == "cosine":
            den = na * nb
            return np.divide(dots, den, out=np.zeros_like(dots), where=den > 0)
        if self.name == "dot":
            return dots
        return -np.linalg.norm(a - b, axis=1).astype(np.float32)

    def to_distance(self, scores: np.ndarray) -> np.ndarray:
        """Return the metric's distance for scores."""
        if self.name == "cosine":
            return 1.0 - scores
        return -scores


METRICS = Registry[Metric]("metric")
METRICS.register("cosine", Metric("cosine", True), aliases=("cos", "angular"))
METRICS.register("dot", Metric("dot", False), aliases=("ip", "inner_product"))
METRICS.register("euclidean", Metric("euclidean", False), aliases=("l2",))


def get_metric(name: str) -> Metric:
    """Return the registered Metric called `name` (raises UnknownNameError listing valid ones)."""
    return METRICS.get(name)
