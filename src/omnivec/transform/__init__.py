"""Transforms of vector spaces, with scikit-learn's contract (`fit`, `transform`, `fit_transform`,
`get_params`), on arrays and on tables.

    from omnivec.transform import AllButTheTop, PCA, Pipeline, transform_of
    emb2 = Pipeline([AllButTheTop(n_components=2), PCA(n_components=25)]).fit_transform(emb)
    emb2.save("glove-abtt-pca.ov")                       # the fitted steps are saved with the vectors
    q = transform_of(omnivec.open("glove-abtt-pca.ov")).transform(vector_from_elsewhere)

`TRANSFORMS` lists them by name; a transformed table records every step it
went through (`meta["transforms"]`, arrays in `fitted`), and `transform_of`
rebuilds the fitted chain from a table.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._registry import Registry
from ..embeddings import Embeddings
from ..errors import InputError
from .base import RECORD, NotFittedError, Transform, apply_to_table, as_matrix
from .linear import PCA, AllButTheTop, Center, Normalize, RandomProjection, Truncate, Whiten
from .algebra import along, bind, bundle, bundle_capacity, concept_axis, project, unbind
from .align import OrthogonalMap, align, align_unsupervised, read_dictionary, relative, translation_precision
from .retrofit import read_lexicon, retrofit, wordnet_lexicon

TRANSFORMS: Registry[type] = Registry("transform")
for _cls in (Normalize, Center, PCA, Whiten, Truncate, RandomProjection):
    TRANSFORMS.register(_cls.name, _cls)
TRANSFORMS.register(AllButTheTop.name, AllButTheTop, aliases=("abtt",))
TRANSFORMS.register(OrthogonalMap.name, OrthogonalMap)


class Pipeline(Transform):
    """Several transforms applied in order; fitting fits each on the output of the ones before."""

    name = "pipeline"

    def __init__(self, steps: Sequence[Transform | tuple[str, Transform]] = ()) -> None:
        items = []
        for s in steps:
            t = s[1] if isinstance(s, tuple) and len(s) == 2 else s
            if not isinstance(t, Transform) or isinstance(t, Pipeline):
                raise InputError(f"a pipeline step must be a transform (not a pipeline); got {t!r}")
            items.append(t)
        self.steps: list[Transform] = items

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": list(self.steps)}
        if deep:
            for i, t in enumerate(self.steps):
                out.update({f"{i}__{k}": v for k, v in t.get_params().items()})
        return out

    def set_params(self, **params: Any) -> "Pipeline":
        if "steps" in params:
            type(self).__init__(self, params.pop("steps"))
        for key, value in params.items():
            i, _, name = key.partition("__")
            if not i.isdigit() or int(i) >= len(self.steps) or not name:
                raise InputError(f"pipeline parameters are named '<step>__<name>' (steps 0..{len(self.steps) - 1});"
                                 f" got {key!r}")
            self.steps[int(i)].set_params(**{name: value})
        return self

    def __repr__(self) -> str:
        return f"Pipeline({self.steps!r})"

    def fitted(self) -> bool:
        return all(t.fitted() for t in self.steps)

    def fit(self, X: Any, y: Any = None) -> "Pipeline":
        M = as_matrix(X)
        if len(M) == 0:
            raise InputError("Pipeline.fit needs at least one row")
        self.n_features_in_ = M.shape[1]
        for t in self.steps:
            if not t.stateless:
                t._fit(M)
            t.n_features_in_ = M.shape[1]
            t._check_input(M)
            M = t._transform(M)
        return self

    def _check_input(self, M: np.ndarray) -> None:
        if self.steps:
            self.steps[0]._check_input(M)
        for t in self.steps[1:]:
            if not t.fitted():
                raise NotFittedError(f"this pipeline's {type(t).__name__} is not fitted yet; call fit(X) first")

    def _transform(self, X: np.ndarray) -> np.ndarray:
        for t in self.steps:
            X = t._transform(X)
        return X

    def transform(self, X: Any) -> Any:
        if isinstance(X, Embeddings):
            return apply_to_table(X, self.steps)
        return super().transform(X)

    def out_dim(self, in_dim: int) -> int:
        for t in self.steps:
            in_dim = t.out_dim(in_dim)
        return in_dim


def transform_of(emb: Embeddings) -> Pipeline:
    """Return the fitted pipeline of every transform `emb` went through (empty when none), to apply to
    queries from elsewhere: ``transform_of(emb).transform(q)`` lands where emb's rows live.

    InputError names the table when its record and its fitted arrays disagree.
    """
    history = emb.meta.get(RECORD, []) if isinstance(emb.meta, dict) else []
    if not isinstance(history, list):
        raise InputError(f"table {emb.name!r}: meta['{RECORD}'] is not a list of steps")
    steps = []
    for i, rec in enumerate(history):
        try:
            cls = TRANSFORMS.get(rec["name"])
            arrays = {a: emb.fitted[name] for a, name in rec.get("arrays", {}).items()}
            steps.append(cls.from_record(rec, arrays))
        except (KeyError, TypeError) as exc:
            raise InputError(f"table {emb.name!r}: transform step {i} cannot be rebuilt ({exc!r})") from None
        except InputError as exc:
            raise InputError(f"table {emb.name!r}: transform step {i}: {exc}") from None
    p = Pipeline(steps)
    if steps:
        p.n_features_in_ = steps[0].n_features_in_
    return p


__all__ = ["AllButTheTop", "Center", "Normalize", "NotFittedError", "OrthogonalMap", "PCA", "Pipeline",
           "RandomProjection", "TRANSFORMS", "Transform", "Truncate", "Whiten", "align", "align_unsupervised",
           "along", "bind", "bundle", "bundle_capacity", "concept_axis", "project", "read_dictionary",
           "read_lexicon", "relative", "retrofit", "transform_of", "translation_precision", "unbind",
           "wordnet_lexicon"]
