"""The registered KGE models: how wide their vectors are, how they start, what they default to.

Each model is one `ModelSpec` in the MODELS registry; the score and gradient
code lives in `_kernels.py` under the spec's `kind`.  Adding a model means one
spec here and one branch per kernel function there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..._registry import Registry
from ...errors import InputError
from . import _codes as C


@dataclass(frozen=True)
class ModelSpec:
    """One KGE model: score family, vector widths (multiples of the rank) and defaults."""

    name: str
    kind: int
    entity_width: int           # entity vector = entity_width * dim reals
    relation_width: float       # training relation vector = relation_width * dim reals
    relation_out_width: float   # saved (inference) relation vector = relation_out_width * dim reals
    algebra: str                # how the saved real arrays are to be read
    layout: str
    metric: str                 # geometry for nearest-entity queries
    paper: str
    defaults: dict = field(default_factory=dict)
    even_dim: bool = False
    initializer: str = "xavier"         # "xavier" (uniform, bound sqrt(6 / width)) or "normal" (N(0, 1))
    unit_relations: bool = False   # start relation rows at unit L2 norm

    def widths(self, dim: int) -> tuple[int, int, int]:
        """Return (entity, training relation, saved relation) widths for rank `dim`."""
        return (self.entity_width * dim, int(round(self.relation_width * dim)),
                int(round(self.relation_out_width * dim)))

    def init(self, n_ent: int, n_rel: int, dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return freshly initialised (entity, relation) training arrays, float32."""
        de, dr, _ = self.widths(dim)
        # Glorot-style uniform bound over the row width (as PyKEEN's xavier_uniform_)
        if self.initializer == "normal":
            return (np.ascontiguousarray(rng.normal(0, 1, (n_ent, de)), dtype=np.float32),
                    np.ascontiguousarray(rng.normal(0, 1, (n_rel, dr)), dtype=np.float32))
        E = rng.uniform(-1, 1, (n_ent, de)) * math.sqrt(6.0 / de)
        if self.kind == C.KIND_ROTATE:
            R = rng.uniform(0, 2 * math.pi, (n_rel, dr))  # phases
        elif self.kind == C.KIND_DIHEDRAL:
            R = rng.normal(0, 1, (n_rel, dr))  # logits over the 8 group elements per block
        else:
            R = rng.uniform(-1, 1, (n_rel, dr)) * math.sqrt(6.0 / dr)
            if self.unit_relations:
                R /= np.maximum(np.linalg.norm(R, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(E, dtype=np.float32), np.ascontiguousarray(R, dtype=np.float32)


MODELS: Registry[ModelSpec] = Registry("KGE model")


def _add(spec: ModelSpec, aliases: tuple[str, ...] = ()) -> None:
    MODELS.register(spec.name, spec, aliases=aliases)


_add(ModelSpec("TransE", C.KIND_TRANSE, 1, 1, 1, "real", "d", "euclidean",
               "Bordes et al., NeurIPS 2013",
               dict(p=1, loss="margin", margin=1.0, normalize_entities=True), unit_relations=True))
_add(ModelSpec("DistMult", C.KIND_DISTMULT, 1, 1, 1, "real", "d", "cosine",
               "Yang et al., ICLR 2015",
               dict(loss="margin", margin=1.0, normalize_entities=True), unit_relations=True))
_add(ModelSpec("ComplEx", C.KIND_COMPLEX, 2, 2, 2, "complex", "[re | im]", "cosine",
               "Trouillon et al., ICML 2016",
               dict(loss="softplus", regularizer="l2", reg_weight=0.01), initializer="normal"))
_add(ModelSpec("RotatE", C.KIND_ROTATE, 2, 1, 2, "complex", "[re | im]; relations unit modulus",
               "euclidean", "Sun et al., ICLR 2019",
               dict(p=1, loss="nssa", margin=9.0, adversarial_temperature=1.0)))
_add(ModelSpec("QuatE", C.KIND_QUATE, 4, 4, 4, "quaternion", "[a | b | c | d]; relations unit norm",
               "cosine", "Zhang et al., NeurIPS 2019",
               dict(loss="softplus", regularizer="l2", reg_weight=0.01)))
_add(ModelSpec("DihEdral", C.KIND_DIHEDRAL, 1, 4, 2, "dihedral-D4",
               "entities in 2-blocks; relations one 2x2 matrix (row-major) per block", "cosine",
               "Xu & Li, ACL 2019", dict(loss="softplus"),
               even_dim=True), aliases=("Dihedron",))
_add(ModelSpec("TranS", C.KIND_TRANS, 2, 3, 3, "real",
               "entities [e | e_aux]; relations [r_head | r | r_tail]", "euclidean",
               "Zhang et al., 2022 (arXiv:2204.08401)",
               dict(loss="nssa", margin=9.0, adversarial_temperature=1.0, normalize_entities=True)))


def get_model(name: str) -> ModelSpec:
    """Return the spec of a registered model (names ignore case and separators)."""
    return MODELS.get(name)


def model_names() -> list[str]:
    """Return the canonical names of the registered models."""
    return MODELS.names()


def check_dim(spec: ModelSpec, dim: int) -> None:
    """Raise InputError when `dim` does not suit the model."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or not 1 <= dim <= 4096:
        raise InputError(f"The 'dim' parameter of {spec.name} must be an int in [1, 4096]. Got {dim!r} instead.")
    if spec.even_dim and dim % 2:
        raise InputError(f"{spec.name} works on 2-dimensional blocks, so 'dim' must be even; got {dim}")
