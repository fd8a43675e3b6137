"""The everyday transforms: normalisation, centring, PCA, whitening, all-but-the-top, truncation,
random projection.

Each is a `Transform` (scikit-learn's contract; see `omnivec.transform.base`).
PCA and its relatives fit on the covariance matrix (dims x dims, accumulated
in blocks of rows), so 400,000 x 300 fits in about a second; the axes'
signs are fixed (the largest coordinate of each axis positive), so a fit is
deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from .base import Transform

BLOCK_ROWS = 65536


def _check_int(name: str, value: Any, low: int = 1, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an int >= {low}{' or None' if allow_none else ''}; got {value!r}")
    return int(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false; got {value!r}")
    return value


def _moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean, covariance) of the rows of X, accumulated in blocks (float64)."""
    mean = X.mean(axis=0)
    cov = np.zeros((X.shape[1], X.shape[1]))
    for a in range(0, len(X), BLOCK_ROWS):
        B = X[a:a + BLOCK_ROWS] - mean
        cov += B.T @ B
    return mean, cov / max(1, len(X) - 1)


def _top_axes(cov: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (k x dims axes, k variances) of a covariance matrix, largest first, signs fixed."""
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:k]
    axes = vecs[:, order].T.copy()
    flip = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes *= np.where(flip == 0, 1.0, flip)[:, None]
    return axes, np.maximum(vals[order], 0.0)


class Normalize(Transform):
    """Scale every row to unit length (L2); zero rows stay zero."""

    name = "normalize"
    stateless = True

    def __init__(self) -> None:
        pass

    def _transform(self, X: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


class Center(Transform):
    """Subtract the mean row (`mean_`)."""

    name = "center"
    _arrays = ("mean_",)

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray) -> None:
        self.mean_ = X.mean(axis=0)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X - self.mean_

    def _check_record(self) -> None:
        if self.mean_.shape != (self.n_features_in_,):
            raise InputError(f"center: mean_ has shape {self.mean_.shape}, not ({self.n_features_in_},)")


class PCA(Transform):
    """Project centred rows on their top `n_components` principal axes (`mean_`, `components_`,
    `explained_variance_`); whiten=True also divides each coordinate by its axis's standard deviation.
    """

    name = "pca"
    _arrays = ("mean_", "components_", "explained_variance_")

    def __init__(self, *, n_components: int = 100, whiten: bool = False) -> None:
        self.n_components = _check_int("n_components", n_components)
        self.whiten = _check_bool("whiten", whiten)

    def _k(self, d: int) -> int:
        return d if self.n_components is None else self.n_components

    def _fit(self, X: np.ndarray) -> None:
        k = self._k(X.shape[1])
        if k > X.shape[1]:
            raise InputError(f"{self.name}: n_components={k} is more than the {X.shape[1]} dims of the input")
        if k > len(X):
            raise InputError(f"{self.name}: n_components={k} needs at least {k} rows; got {len(X)}")
        self.mean_, cov = _moments(X)
        self.components_, self.explained_variance_ = _top_axes(cov, k)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        Y = (X - self.mean_) @ self.components_.T
        if self.whiten:
            sd = np.sqrt(self.explained_variance_)
            Y = np.divide(Y, sd, out=np.zeros_like(Y), where=sd > 0)
        return Y

    def out_dim(self, in_dim: int) -> int:
        return self._k(in_dim)

    def _check_record(self) -> None:
        d, k = self.n_features_in_, self._k(self.n_features_in_)
        if self.mean_.shape != (d,) or self.components_.shape != (k, d) or self.explained_variance_.shape != (k,):
            raise InputError(f"{self.name}: the fitted arrays do not fit {k} components of {d} dims")


class Whiten(PCA):
    """PCA whitening: rows centred, rotated onto the principal axes and scaled to unit variance per axis
    (all axes unless `n_components`), so the covariance becomes the identity (BERT-whitening's map).
    """

    name = "whiten"

    def __init__(self, *, n_components: int | None = None) -> None:
        self.n_components = _check_int("n_components", n_components, allow_none=True)
        self.whiten = True

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"n_components": self.n_components}


class AllButTheTop(Transform):
    """All-but-the-top (Mu and Viswanath 2018): subtract the mean, then remove the projections on the
    top `n_components` principal axes (default: dims / 100, at least 1), which hold common, frequency-
    related directions; the width is kept.
    """

    name = "all_but_the_top"
    _arrays = ("mean_", "components_")

    def __init__(self, *, n_components: int | None = None) -> None:
        self.n_components = _check_int("n_components", n_components, allow_none=True)

    def _k(self, d: int) -> int:
        return max(1, d // 100) if self.n_components is None else self.n_components

    def _fit(self, X: np.ndarray) -> None:
        k = self._k(X.shape[1])
        if k >= X.shape[1]:
            raise InputError(f"all_but_the_top: n_components={k} would remove all {X.shape[1]} dims")
        self.mean_, cov = _moments(X)
        self.components_, _ = _top_axes(cov, k)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        C = X - self.mean_
        return C - (C @ self.components_.T) @ self.components_

    def _check_record(self) -> None:
        d, k = self.n_features_in_, self._k(self.n_features_in_)
        if self.mean_.shape != (d,) or self.components_.shape != (k, d):
            raise InputError(f"all_but_the_top: the fitted arrays do not fit {k} components of {d} dims")


class Truncate(Transform):
    """Keep the first `dim` coordinates (Matryoshka-style), then (normalize=True) rescale rows to unit
    length.
    """

    name = "truncate"
    stateless = True

    def __init__(self, *, dim: int = 64, normalize: bool = True) -> None:
        self.dim = _check_int("dim", dim)
        self.normalize = _check_bool("normalize", normalize)

    def _check_input(self, M: np.ndarray) -> None:
        super()._check_input(M)
        if self.dim > M.shape[1]:
            raise InputError(f"truncate: dim={self.dim} is more than the {M.shape[1]} dims of the input")

    def _transform(self, X: np.ndarray) -> np.ndarray:
        Y = X[:, :self.dim]
        return Normalize()._transform(Y) if self.normalize else Y.copy()

    def out_dim(self, in_dim: int) -> int:
        return self.dim


class RandomProjection(Transform):
    """Multiply by a random (dims x n_components) matrix (Johnson-Lindenstrauss), drawn from `seed` at
    fit: "gaussian" entries N(0, 1/n_components), or "sparse" (Achlioptas) entries +-sqrt(3/n_components)
    with probability 1/6 each, else 0.  `components_` holds the matrix, transposed.
    """

    name = "random_projection"
    _arrays = ("components_",)
    KINDS = ("gaussian", "sparse")

    def __init__(self, *, n_components: int = 64, kind: str = "gaussian", seed: int = 0) -> None:
        self.n_components = _check_int("n_components", n_components)
        if kind not in self.KINDS:
            raise InputError(f"kind must be one of {', '.join(self.KINDS)}; got {kind!r}")
        self.kind = kind
        self.seed = _check_int("seed", seed, 0)

    def _fit(self, X: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        k, d = self.n_components, X.shape[1]
        if self.kind == "gaussian":
            self.components_ = rng.standard_normal((k, d)) / np.sqrt(k)
        else:
            u = rng.random((k, d))
            self.components_ = np.sqrt(3.0 / k) * ((u < 1 / 6).astype(np.float64) - (u > 5 / 6))

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.components_.T

    def out_dim(self, in_dim: int) -> int:
        return self.n_components

    def _check_record(self) -> None:
        if self.components_.shape != (self.n_components, self.n_features_in_):
            raise InputError(f"random_projection: components_ has shape {self.components_.shape}")
