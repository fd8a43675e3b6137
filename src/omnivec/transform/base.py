"""The transform contract: scikit-learn's, on arrays and on tables.

A transform is configured by keyword parameters stored as given
(``get_params`` / ``set_params``), learns from data in ``fit(X)`` (fitted
state in trailing-underscore attributes such as ``mean_`` and
``components_``), and maps rows with ``transform(X)``; ``fit_transform``
does both.  ``X`` is a (rows x dims) array or an `Embeddings`:

- an array gives an array (float32);
- a table gives a new in-memory table with the same keys, counts, extras
  and texts, the vectors transformed, and the transform recorded: its name,
  parameters and dims in ``meta["transforms"]`` (appended, so a chain of
  transforms reads in order), its fitted arrays in ``fitted`` under
  ``"<step>.<attribute>"``, saved with the table in the model file.
  `transform_of(table)` rebuilds the fitted chain from that record, so a
  query vector from elsewhere is transformed the same way.

Subword (fastText) vectors are not carried into a transformed table: its
out-of-vocabulary vectors would live in the old space.  A new transform is
one subclass here (parameters in ``__init__``, ``_fit``, ``_transform``,
``_arrays`` naming the fitted attributes, ``out_dim``) and one
``TRANSFORMS.register`` line in ``omnivec.transform``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from ..embeddings import Embeddings
from ..errors import DimensionError, InputError
from ..core.vectors import VectorStore

RECORD = "transforms"


def as_matrix(X: Any, what: str = "X") -> np.ndarray:
    """Return X as a finite float64 (rows x dims) matrix, or raise InputError/DimensionError naming it."""
    if isinstance(X, Embeddings):
        X = X.vectors
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DimensionError(f"{what} must be a (rows x dims) array; got shape {arr.shape}")
    if arr.dtype.kind not in "fiu" or arr.dtype == bool:
        raise InputError(f"{what} must hold numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(f"{what} row {row} holds NaN or infinity")
    return arr


class NotFittedError(InputError):
    """A transform was used before `fit`."""


class Transform:
    """The base of every transform (see the module docstring)."""

    name: ClassVar[str] = ""
    #: the fitted attributes saved with a transformed table
    _arrays: ClassVar[tuple[str, ...]] = ()
    #: fit learns nothing: transform works unfitted (the input width is taken as it comes)
    stateless: ClassVar[bool] = False

    # -- parameters (scikit-learn's contract) ------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the parameters this transform was built with."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Transform":
        """Set parameters (checked as the constructor checks them) and return self."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise InputError(f"{type(self).__name__} has no parameter {unknown[0]!r}; its parameters are "
                             f"{', '.join(self._param_names()) or 'none'}")
        merged = {**self.get_params(), **params}
        type(self).__init__(self, **merged)
        return self

    def __sklearn_tags__(self):
        """Describe this transform to scikit-learn (so its clone and Pipeline take it); needs scikit-learn."""
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(preserves_dtype=["float32"]),
                    requires_fit=not self.stateless)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "Transform":
        """Learn from the rows of X (an array or a table); return self."""
        M = as_matrix(X)
        if len(M) == 0:
            raise InputError(f"{type(self).__name__}.fit needs at least one row")
        self._fit(M)
        self.n_features_in_ = M.shape[1]
        return self

    def _fit(self, X: np.ndarray) -> None:
        """Learn the fitted attributes from X (float64)."""

    def fitted(self) -> bool:
        """Return whether the transform has been fitted (or needs no fitting)."""
        return self.stateless or hasattr(self, "n_features_in_")

    def _check_input(self, M: np.ndarray) -> None:
        if not self.fitted():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")
        want = getattr(self, "n_features_in_", None)
        if want is not None and M.shape[1] != want:
            raise DimensionError(f"{type(self).__name__} was fitted on {want}-dim vectors; got {M.shape[1]} dims")

    def out_dim(self, in_dim: int) -> int:
        """Return the width of the output for `in_dim`-dim input."""
        return in_dim

    # -- transforming ------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """Return X transformed: a float32 array for an array, a new recorded table for a table."""
        if isinstance(X, Embeddings):
            return apply_to_table(X, [self])
        M = as_matrix(X)
        self._check_input(M)
        return self._transform(M).astype(np.float32)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit on X and return X transformed."""
        return self.fit(X, y).transform(X)

    # -- the record a table keeps ------------------------------------------------------------
    def record(self, in_dim: int) -> tuple[dict, dict[str, np.ndarray]]:
        """Return (JSON-able description, fitted arrays by attribute) of this fitted transform."""
        arrays = {a: np.asarray(getattr(self, a)) for a in self._arrays}
        params = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self.get_params().items()}
        return {"name": self.name, "params": params, "in_dim": int(in_dim), "out_dim": self.out_dim(in_dim),
                "arrays": sorted(arrays)}, arrays

    @classmethod
    def from_record(cls, rec: dict, arrays: dict[str, np.ndarray]) -> "Transform":
        """Return the fitted transform a record describes (InputError when it does not fit together)."""
        t = cls(**rec.get("params", {}))
        for a in cls._arrays:
            if a not in arrays:
                raise InputError(f"the record of {cls.name} lacks its fitted array {a!r}")
            setattr(t, a, np.asarray(arrays[a], np.float64))
        t.n_features_in_ = int(rec["in_dim"])
        t._check_record()
        return t

    def _check_record(self) -> None:
        """Raise InputError when the fitted arrays do not agree with n_features_in_ (a damaged record)."""


def apply_to_table(emb: Embeddings, steps: list[Transform]) -> Embeddings:
    """Return a new table: `emb`'s rows passed through the fitted `steps`, each recorded (module docstring)."""
    X = as_matrix(emb.vectors, f"table {emb.name!r}")
    history = list(emb.meta.get(RECORD, [])) if isinstance(emb.meta.get(RECORD), list) else []
    fitted = dict(emb.fitted)
    for t in steps:
        t._check_input(X)
        rec, arrays = t.record(X.shape[1])
        X = t._transform(X)
        i = len(history)
        rec["arrays"] = {a: f"{i}.{a}" for a in sorted(arrays)}
        for a, arr in arrays.items():
            fitted[f"{i}.{a}"] = np.ascontiguousarray(arr, np.float32 if arr.dtype.kind == "f" else arr.dtype)
        history.append(rec)
    meta = dict(emb.meta)
    meta[RECORD] = history
    if emb.subwords is not None:
        meta["subwords_dropped"] = "the subword vectors live in the untransformed space"
    return Embeddings.from_parts(name=emb.name, keys=emb.keys, store=VectorStore.encode(X.astype(np.float32)),
                                 metric=emb.metric, counts=emb.counts, meta=meta, extras=dict(emb.extras),
                                 texts=emb.texts, fitted=fitted)
