"""The registered KGE models: how wide their vectors are, how they start, what they default to.

Each model is one `ModelSpec` in the MODELS registry.  Its compiled score,
gradient, relation forms and query composition are the functions of its
module in `_kernels/scores/` (`spec.kernels`, loaded on first use); the
shared training loop and candidate scorer are compiled for it from them
(`spec.train_loop`, `spec.score_candidates`).  Adding a model means one
scores module and one spec here; tests/kge/ then checks its gradients, its
query form and its ranking without further code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..._lazy import kernels
from ..._registry import Registry
from ...errors import InputError

_SCORES = "omnivec.learn.kge._kernels.scores."
_LOOP = kernels("omnivec.learn.kge._kernels.loop")
_STANDINS: dict[str, Any] = {}


def _module(path: str) -> Any:
    if path not in _STANDINS:
        _STANDINS[path] = kernels(path)
    return _STANDINS[path]


# -- how relation rows start (entity rows: see ModelSpec.init) ----------------------------------
def uniform_relations(rng: np.random.Generator, n: int, width: int, unit: bool) -> np.ndarray:
    """Glorot-style uniform rows (bound sqrt(6 / width)), optionally scaled to unit L2 norm."""
    R = rng.uniform(-1, 1, (n, width)) * math.sqrt(6.0 / width)
    if unit:
        R /= np.maximum(np.linalg.norm(R, axis=1, keepdims=True), 1e-12)
    return R


def phase_relations(rng: np.random.Generator, n: int, width: int, unit: bool) -> np.ndarray:
    """Phases uniform in [0, 2 pi)."""
    return rng.uniform(0, 2 * math.pi, (n, width))


def logit_relations(rng: np.random.Generator, n: int, width: int, unit: bool) -> np.ndarray:
    """Standard normal logits (over a group's elements)."""
    return rng.normal(0, 1, (n, width))


def unit_modulus(R: np.ndarray) -> bool:
    """Whether every complex coordinate of the [re | im] rows of R has modulus 1 (to 1e-4)."""
    R = R.astype(np.float64)
    d = R.shape[1] // 2
    modulus = np.sqrt(R[:, :d] ** 2 + R[:, d:] ** 2)
    return bool(modulus.size == 0 or np.abs(modulus - 1.0).max() < 1e-4)


@dataclass(frozen=True)
class ModelSpec:
    """One KGE model: its kernels module, vector widths (multiples of the rank) and defaults."""

    name: str
    module: str                 # the module of `_kernels/scores/` with its compiled functions
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
    relation_init: Callable = uniform_relations   # how xavier-initialised relation rows start
    # (entity blocks, entity mask, relation blocks, relation mask) of the unit-norm projections
    # when normalize_entities is on: the mask's bits pick which equal parts of a row are unit norm
    unit_blocks: tuple[int, int, int, int] = (1, 1, 1, 0)
    saves_training_form: bool = False   # keep the training-form relations as extra 'train_params'
    meta: dict = field(default_factory=dict)   # constants of the score recorded in a saved model
    query_exact: Callable[[np.ndarray], bool] | None = None   # whether the query form holds for
    # these inference-form relations (None: always)

    @property
    def kernels(self) -> Any:
        """The model's compiled functions (score, grad, rel_forward, make_query, ...), loaded on first use."""
        return _module(_SCORES + self.module)

    def train_loop(self, loss, optimizer, regularizer):
        """Return the compiled training loop of this model with these registry entries (see _kernels.loop)."""
        return _LOOP.train_batches(self.kernels, loss.kernel, optimizer.kernel, regularizer.kernel)

    def score_candidates(self):
        """Return the compiled all-candidates scorer of this model (see _kernels.loop)."""
        return _LOOP.score_candidates(self.kernels)

    def relation_table(self):
        """Return the compiled (R, width, tau) -> saved (inference) form of every relation row."""
        return _LOOP.relation_table(self.kernels)

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
        R = self.relation_init(rng, n_rel, dr, self.unit_relations)
        return np.ascontiguousarray(E, dtype=np.float32), np.ascontiguousarray(R, dtype=np.float32)


MODELS: Registry[ModelSpec] = Registry("KGE model")


def _add(spec: ModelSpec, aliases: tuple[str, ...] = ()) -> None:
    MODELS.register(spec.name, spec, aliases=aliases)


_add(ModelSpec("TransE", "transe", 1, 1, 1, "real", "d", "euclidean",
               "Bordes et al., NeurIPS 2013",
               dict(p=1, loss="margin", margin=1.0, normalize_entities=True), unit_relations=True))
_add(ModelSpec("DistMult", "distmult", 1, 1, 1, "real", "d", "cosine",
               "Yang et al., ICLR 2015",
               dict(loss="margin", margin=1.0, normalize_entities=True), unit_relations=True))
_add(ModelSpec("ComplEx", "complex", 2, 2, 2, "complex", "[re | im]", "cosine",
               "Trouillon et al., ICML 2016",
               dict(loss="softplus", regularizer="l2", reg_weight=0.01), initializer="normal"))
_add(ModelSpec("RotatE", "rotate", 2, 1, 2, "complex", "[re | im]; relations unit modulus",
               "euclidean", "Sun et al., ICLR 2019",
               dict(p=1, loss="nssa", margin=9.0, adversarial_temperature=1.0),
               relation_init=phase_relations, saves_training_form=True, query_exact=unit_modulus))
_add(ModelSpec("QuatE", "quate", 4, 4, 4, "quaternion", "[a | b | c | d]; relations unit norm",
               "cosine", "Zhang et al., NeurIPS 2019",
               dict(loss="softplus", regularizer="l2", reg_weight=0.01)))
_add(ModelSpec("DihEdral", "dihedral", 1, 4, 2, "dihedral-D4",
               "entities in 2-blocks; relations one 2x2 matrix (row-major) per block", "cosine",
               "Xu & Li, ACL 2019", dict(loss="softplus"),
               even_dim=True, relation_init=logit_relations, saves_training_form=True), aliases=("Dihedron",))
_add(ModelSpec("TranS", "trans", 2, 3, 3, "real",
               "entities [e | e_aux]; relations [r_head | r | r_tail]", "euclidean",
               "Zhang et al., 2022 (arXiv:2204.08401)",
               dict(loss="nssa", margin=9.0, adversarial_temperature=1.0, normalize_entities=True),
               # e and e_aux each unit norm; r_head and r_tail unit norm, r free
               unit_blocks=(2, 0b11, 3, 0b101), meta=dict(u=1.0)))   # u: the score's offset, scores/trans.U


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
