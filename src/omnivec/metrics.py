"""Similarity metrics: how a table's vectors are compared.

A metric is one object that carries everything the rest of omnivec needs to
know about a geometry, so no other module branches on a metric's name:

- `scores(dots, row_norms, q_norms)`: scores from raw dot products, where
  higher means closer, so one top-k routine serves every metric;
- `pair_scores(a, b)`, `to_distance(scores)`: pairwise scores and the
  metric's own distance;
- `prepare(X)`: vectors as an engine sees them (unit rows for cosine);
- `selection(row_norms)` / `finish(keys, q_norms)`: the per-row scale and
  bias that turn a dot product into a key that ranks rows the same way as
  the score (what compiled top-k kernels compare), and the way back;
- `space` and `engine_scores(raw)`: the space an engine (FAISS, usearch)
  searches in ("ip" or "l2") and the scores of its raw results;
- `code`: the small integer compiled kernels switch on;
- `rescore_winners`: exact search recomputes the winners' scores with
  `pair_scores` (the key's expanded form cancels badly near zero);
- `sign_hamming`: sign-bit (binary) rows are ranked by Hamming distance;
- `spread(scores)`: non-negative distances of a query's neighbours (0 for
  the same point) that weight them, or None where scores have no scale.

The registered metrics:

- cosine:    score = <a, b> / (|a| |b|)            (similarity in [-1, 1])
- dot:       score = <a, b>
- euclidean: score = -|a - b|                       (negated distance)
- poincare:  score = -arccosh(1 + 2|a - b|^2 / ((1 - |a|^2)(1 - |b|^2)))
             (negated distance in the Poincaré ball; rows at or past the
             boundary count as projected to norm 1 - 1e-5, as training keeps them)

`distance` is the metric's own distance: 1 - cosine, -dot, |a - b|.  A new
metric is one subclass plus one `METRICS.register` line; the conformance
test in tests/test_metrics.py checks every registered metric against a
direct numpy oracle.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._registry import Registry
from .errors import InputError


def _inverse(norms: np.ndarray) -> np.ndarray:
    """Return 1 / norms as float32, 0 where a norm is 0."""
    norms = np.asarray(norms, np.float32)
    return np.divide(1.0, norms, out=np.zeros(norms.shape, np.float32), where=norms > 0)


class Metric:
    """The base of every metric; subclasses fill in the scoring."""

    name: ClassVar[str] = ""
    code: ClassVar[int] = -1
    #: queries are compared as unit vectors (means of several queries are taken of unit vectors)
    normalize_queries: ClassVar[bool] = False
    #: the space an engine searches in after `prepare`: "ip" (inner product) or "l2" (squared L2)
    space: ClassVar[str] = "ip"
    #: exact search recomputes its winners' scores directly (see module docstring)
    rescore_winners: ClassVar[bool] = False
    #: sign-bit rows are compared by Hamming distance: score = 1 - 2 * hamming / dim
    sign_hamming: ClassVar[bool] = False
    #: `selection`/`finish` rank rows by a per-row scale and bias; where no such keys exist (the
    #: order depends on the query's norm too), exact search folds `scores` of each block instead
    row_keys: ClassVar[bool] = True
    #: a 2-D table lives in the unit disk (the explorer draws it as is, with its boundary)
    unit_disk: ClassVar[bool] = False

    def scores(self, dots: np.ndarray, row_norms: np.ndarray, q_norms: np.ndarray) -> np.ndarray:
        """Return scores (rows x queries) from raw dot products, in place where possible."""
        raise NotImplementedError

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the score of each row of `a` against the matching row of `b`."""
        raise NotImplementedError

    def to_distance(self, scores: np.ndarray) -> np.ndarray:
        """Return the metric's distance for scores."""
        return -scores

    def spread(self, scores: np.ndarray) -> np.ndarray | None:
        """Return distances >= 0 (0 = the same point) for neighbours' scores, or None where scores have no scale."""
        return np.maximum(self.to_distance(scores), 0.0)

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Return rows as an engine sees them: float32, C-ordered (unit length under cosine)."""
        return np.ascontiguousarray(X, dtype=np.float32)

    def selection(self, row_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (scale, bias) per row: dot * scale + bias ranks rows as the score does for one query."""
        n = len(row_norms)
        return np.ones(n, np.float32), np.zeros(n, np.float32)

    def finish(self, keys: np.ndarray, q_norms: np.ndarray) -> np.ndarray:
        """Return scores (queries x k) from selection keys of the same queries."""
        return keys.astype(np.float32, copy=False)

    def engine_scores(self, raw: np.ndarray) -> np.ndarray:
        """Return scores from an engine's raw results: inner products ("ip") or squared distances ("l2")."""
        return raw.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Metric({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metric) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @staticmethod
    def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.atleast_2d(a).astype(np.float32, copy=False)
        b = np.atleast_2d(b).astype(np.float32, copy=False)
        return a, b, np.einsum("ij,ij->i", a, b).astype(np.float32)


class Cosine(Metric):
    """Cosine similarity: the angle between vectors, their lengths ignored."""

    name = "cosine"
    code = 0
    normalize_queries = True
    sign_hamming = True

    def scores(self, dots, row_norms, q_norms):
        dots *= _inverse(row_norms)[:, None]
        dots *= _inverse(q_norms)[None, :]
        return dots

    def pair_scores(self, a, b):
        a, b, dots = self._pairs(a, b)
        den = (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)).astype(np.float32)
        return np.divide(dots, den, out=np.zeros_like(dots), where=den > 0)

    def to_distance(self, scores):
        return 1.0 - scores

    def prepare(self, X):
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(X) == 1:  # one query: the cheapest path, it is paid on every call
            n = float(np.sqrt(X[0] @ X[0]))
            return X / np.float32(n) if n > 0 else X
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))[:, None]
        if norms.all():
            return X / norms
        return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)

    def selection(self, row_norms):
        return _inverse(row_norms), np.zeros(len(row_norms), np.float32)

    def finish(self, keys, q_norms):
        return (keys * _inverse(q_norms)[:, None]).astype(np.float32, copy=False)


class Dot(Metric):
    """The inner product: lengths count (recommendation scores, MIPS)."""

    name = "dot"
    code = 1

    def scores(self, dots, row_norms, q_norms):
        return dots

    def pair_scores(self, a, b):
        return self._pairs(a, b)[2]

    def spread(self, scores):
        return None  # raw inner products have no scale to weigh neighbours by


class Euclidean(Metric):
    """Euclidean distance, as negated scores (higher is closer)."""

    name = "euclidean"
    code = 2
    space = "l2"
    rescore_winners = True

    def scores(self, dots, row_norms, q_norms):
        sq = (np.asarray(row_norms, np.float32) ** 2)[:, None] - 2.0 * dots \
            + (np.asarray(q_norms, np.float32) ** 2)[None, :]
        np.maximum(sq, 0.0, out=sq)
        np.sqrt(sq, out=sq)
        np.negative(sq, out=sq)
        return sq

    def pair_scores(self, a, b):
        a, b, _ = self._pairs(a, b)
        return -np.linalg.norm(a - b, axis=1).astype(np.float32)

    def selection(self, row_norms):
        # -|q - x|^2 = 2<q, x> - |x|^2 - |q|^2: the part that varies with x ranks the rows
        n = np.asarray(row_norms, np.float32)
        return np.full(len(n), 2.0, np.float32), -(n * n)

    def finish(self, keys, q_norms):
        qn = np.asarray(q_norms, np.float32)[:, None]
        return -np.sqrt(np.maximum(qn * qn - keys, 0.0)).astype(np.float32)

    def engine_scores(self, raw):
        return -np.sqrt(np.maximum(raw, np.float32(0.0))).astype(np.float32, copy=False)


class Poincare(Metric):
    """Distance in the Poincaré ball (hyperbolic space), as negated scores (higher is closer).

    d(a, b) = arccosh(1 + 2|a - b|^2 / ((1 - |a|^2)(1 - |b|^2))), a function of
    <a, b>, |a| and |b|.  Vectors at or past the unit sphere count as projected
    to norm 1 - BOUNDARY_EPS (where Poincaré training keeps them).  The order
    of rows depends on the query's norm as well as the row's, so there is no
    per-row selection key (`row_keys` is False): exact search folds the
    scores of each block.  Approximate engines have no hyperbolic space
    (`space` is "").
    """

    name = "poincare"
    code = 3
    space = ""
    rescore_winners = True
    row_keys = False
    unit_disk = True
    BOUNDARY_EPS: ClassVar[float] = 1e-5

    @classmethod
    def _shrink(cls, norms: np.ndarray) -> np.ndarray:
        """Return the factor (<= 1) that brings each norm inside the ball."""
        norms = np.asarray(norms, np.float64)
        bound = 1.0 - cls.BOUNDARY_EPS
        return np.divide(bound, norms, out=np.ones(norms.shape), where=norms >= bound)

    @classmethod
    def _from_parts(cls, dots, row_norms, q_norms) -> np.ndarray:
        fr, fq = cls._shrink(row_norms), cls._shrink(q_norms)
        rn = np.asarray(row_norms, np.float64) * fr
        qn = np.asarray(q_norms, np.float64) * fq
        d = np.asarray(dots, np.float64) * fr[:, None] * fq[None, :]
        sq = np.maximum(rn[:, None] ** 2 - 2.0 * d + qn[None, :] ** 2, 0.0)
        den = (1.0 - rn * rn)[:, None] * (1.0 - qn * qn)[None, :]
        return np.arccosh(1.0 + 2.0 * sq / den)

    def scores(self, dots, row_norms, q_norms):
        out = -self._from_parts(dots, row_norms, q_norms)
        if isinstance(dots, np.ndarray) and dots.dtype == np.float32 and dots.shape == out.shape:
            dots[...] = out
            return dots
        return out.astype(np.float32)

    def pair_scores(self, a, b):
        a = np.atleast_2d(a).astype(np.float64)
        b = np.atleast_2d(b).astype(np.float64)
        a = a * self._shrink(np.linalg.norm(a, axis=1))[:, None]
        b = b * self._shrink(np.linalg.norm(b, axis=1))[:, None]
        sq = ((a - b) ** 2).sum(axis=1)
        den = (1.0 - (a * a).sum(axis=1)) * (1.0 - (b * b).sum(axis=1))
        return (-np.arccosh(1.0 + 2.0 * sq / den)).astype(np.float32)

    def engine_scores(self, raw):
        raise InputError("the poincare metric has no engine space: approximate indexes cannot "
                         "search a hyperbolic table (exact search and the flat index can)")


METRICS = Registry[Metric]("metric")
METRICS.register("cosine", Cosine(), aliases=("cos", "angular"))
METRICS.register("dot", Dot(), aliases=("ip", "inner_product"))
METRICS.register("euclidean", Euclidean(), aliases=("l2",))
METRICS.register("poincare", Poincare(), aliases=("hyperbolic",))


def get_metric(name: str | Metric) -> Metric:
    """Return the registered Metric called `name` (raises UnknownNameError listing valid ones)."""
    if isinstance(name, Metric):
        return name
    return METRICS.get(name)
