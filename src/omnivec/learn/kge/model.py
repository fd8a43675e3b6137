"""KGModel: a trained knowledge-graph embedding and its queries (predict tails/heads, score, nearest).

A KGModel is two Embeddings tables, ``entities`` and ``relations``, whose
``meta`` names the model, its algebra and its hyper-parameters; it saves to
and opens from one omnivec file, so the label <-> id maps travel with the
vectors.
"""

from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np

from ...embeddings import Embeddings
from ...errors import FormatError, InputError, KeyNotFound
from ...model import Model
from .models import ModelSpec, get_model

Pair = tuple[str, float]


def _read_only(vectors: np.ndarray) -> np.ndarray:
    """Return a read-only float32 C-contiguous view (or copy) of vectors.

    A model trained in memory and the same model opened (memory-mapped) from
    its file then score through one compiled specialisation of the kernels,
    so their scores agree to the last bit.
    """
    arr = np.ascontiguousarray(vectors, dtype=np.float32).view()
    arr.flags.writeable = False
    return arr


class KGModel(Model):
    """Entity and relation tables plus the model that scores (head, relation, tail) triples.

    A `Model` of kind "kge": ``m["entities"]`` and ``m["relations"]`` are
    ordinary tables; ``omnivec.open(path)`` returns a KGModel for a file
    written by `save`.
    """

    kind = "kge"
    required = ("entities", "relations")

    def __init__(self, entities: Embeddings, relations: Embeddings, *, path: str | None = None) -> None:
        super().__init__({"entities": entities, "relations": relations}, path=path)
        meta = entities.meta or {}
        if meta.get("learner") != "kge" or "model" not in meta:
            raise FormatError("the 'entities' table has no knowledge-graph model metadata "
                              "(meta.learner == 'kge'); was it written by omnivec train kge?")
        self.spec: ModelSpec = get_model(meta["model"])
        self.dim: int = int(meta["dim"])
        self.p: int = int(meta.get("p", 2))
        de, _, dro = self.spec.widths(self.dim)
        if entities.dim != de or relations.dim != dro:
            raise FormatError(f"{self.spec.name} with dim {self.dim} needs entity vectors of width {de} "
                              f"and relation vectors of width {dro}; found {entities.dim} and {relations.dim}")
        self.entities = entities
        self.relations = relations
        self._E: np.ndarray | None = None
        self._R: np.ndarray | None = None

    @classmethod
    def from_tables(cls, tables, *, path: str | None = None) -> "KGModel":
        """Return the KGModel over 'entities' and 'relations' tables (FormatError when they do not fit)."""
        missing = [n for n in cls.required if n not in tables]
        if missing or len(tables) != 2:
            raise FormatError(f"a knowledge-graph model holds exactly the tables entities and relations; "
                              f"found: {', '.join(tables)}", path=path)
        return cls(tables["entities"], tables["relations"], path=path)

    # -- facts --------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """Return the model's canonical name."""
        return self.spec.name

    @property
    def meta(self) -> dict:
        """Return the provenance: model, algebra, layout, hyper-parameters, training summary."""
        return self.entities.meta

    @property
    def num_entities(self) -> int:
        """Return the number of entities."""
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        """Return the number of relations."""
        return len(self.relations)

    @property
    def entity_array(self) -> np.ndarray:
        """Return the entity vectors as a read-only float32 C-contiguous array."""
        if self._E is None:
            self._E = _read_only(self.entities.vectors)
        return self._E

    @property
    def relation_array(self) -> np.ndarray:
        """Return the relation vectors (inference form) as a read-only float32 C-contiguous array."""
        if self._R is None:
            self._R = _read_only(self.relations.vectors)
        return self._R

    def __repr__(self) -> str:
        return (f"KGModel({self.model}, dim={self.dim}, entities={self.num_entities}, "
                f"relations={self.num_relations})")

    # -- key lookups ----------------------------------------------------------------------------
    def entity_id(self, label: str) -> int:
        """Return the row of an entity label; KeyNotFound if it is not in the model."""
        try:
            return int(self.entities.row(label))
        except KeyNotFound:
            raise KeyNotFound(f"unknown entity {label!r}: not among the model's "
                              f"{self.num_entities} entities") from None

    def relation_id(self, label: str) -> int:
        """Return the row of a relation label; KeyNotFound if it is not in the model."""
        try:
            return int(self.relations.row(label))
        except KeyNotFound:
            raise KeyNotFound(f"unknown relation {label!r}: not among the model's "
                              f"{self.num_relations} relations") from None

    def entity_ids(self, labels: Sequence[str]) -> np.ndarray:
        """Return the rows of entity labels (int64)."""
        return np.array([self.entity_id(x) for x in labels], dtype=np.int64)

    def relation_ids(self, labels: Sequence[str]) -> np.ndarray:
        """Return the rows of relation labels (int64)."""
        return np.array([self.relation_id(x) for x in labels], dtype=np.int64)

    # -- scores ---------------------------------------------------------------------------------
    def score(self, head: str, relation: str, tail: str) -> float:
        """Return the model's score of one labelled triple (higher is more plausible)."""
        E, R = self.entity_array, self.relation_array
        return float(self.spec.kernels.score(self.p, E[self.entity_id(head)], R[self.relation_id(relation)],
                                             E[self.entity_id(tail)]))

    def score_ids(self, triples: np.ndarray) -> np.ndarray:
        """Return the scores of id triples (n x 3 int array) as float32."""
        triples = self._check_ids(triples)
        E, R = self.entity_array, self.relation_array
        score = self.spec.kernels.score
        return np.array([score(self.p, E[h], R[r], E[t]) for h, r, t in triples], dtype=np.float32)

    def _check_ids(self, triples) -> np.ndarray:
        arr = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        if len(arr) and (arr[:, [0, 2]].min() < 0 or arr[:, [0, 2]].max() >= self.num_entities
                         or arr[:, 1].min() < 0 or arr[:, 1].max() >= self.num_relations):
            raise InputError(f"id triples must have entity ids in [0, {self.num_entities}) and "
                             f"relation ids in [0, {self.num_relations})")
        return arr

    @functools.cached_property
    def _use_query(self) -> bool:
        # one query vector per row is exact for RotatE only with unit-modulus relations (ours always are)
        exact = self.spec.query_exact
        return True if exact is None else exact(self.relation_array)

    def score_tails(self, heads: np.ndarray, relations: np.ndarray) -> np.ndarray:
        """Return a (len(heads) x num_entities) float32 array: the score of every tail per (head, relation)."""
        heads = np.ascontiguousarray(heads, dtype=np.int64)
        relations = np.ascontiguousarray(relations, dtype=np.int64)
        out = np.empty((len(heads), self.num_entities), dtype=np.float32)
        self.spec.score_candidates()(self.p, self.entity_array, self.relation_array,
                                     heads, relations, True, out, self._use_query)
        return out

    def score_heads(self, relations: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """Return a (len(tails) x num_entities) float32 array: the score of every head per (relation, tail)."""
        tails = np.ascontiguousarray(tails, dtype=np.int64)
        relations = np.ascontiguousarray(relations, dtype=np.int64)
        out = np.empty((len(tails), self.num_entities), dtype=np.float32)
        self.spec.score_candidates()(self.p, self.entity_array, self.relation_array,
                                     tails, relations, False, out, self._use_query)
        return out

    def _top(self, scores: np.ndarray, k: int, exclude: Sequence[str]) -> list[Pair]:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be a positive int; got {k!r}")
        s = scores.astype(np.float64)
        for label in exclude:
            s[self.entity_id(label)] = -np.inf
        k = min(int(k), len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.lexsort((idx, -s[idx]))]
        return [(str(self.entities.key(int(i))), float(s[i])) for i in idx if np.isfinite(s[i])]

    def predict_tails(self, head: str, relation: str, k: int = 10, *,
                      exclude: Sequence[str] = (), known=None) -> list[Pair]:
        """Return the k most plausible tails of (head, relation, ?) as (entity, score) pairs, best first.

        `known` (a TripleSet, or (head, relation, tail) label triples) leaves out
        the tails of triples already known, as PyKEEN's remove_known does.
        """
        s = self.score_tails(np.array([self.entity_id(head)]), np.array([self.relation_id(relation)]))[0]
        seen = [t for h, r, t in _label_triples(known) if h == head and r == relation]
        return self._top(s, k, [*exclude, *(t for t in seen if t in self.entities)])

    def predict_heads(self, relation: str, tail: str, k: int = 10, *,
                      exclude: Sequence[str] = (), known=None) -> list[Pair]:
        """Return the k most plausible heads of (?, relation, tail) as (entity, score) pairs, best first.

        `known` leaves out the heads of triples already known (see predict_tails).
        """
        s = self.score_heads(np.array([self.relation_id(relation)]), np.array([self.entity_id(tail)]))[0]
        seen = [h for h, r, t in _label_triples(known) if t == tail and r == relation]
        return self._top(s, k, [*exclude, *(h for h in seen if h in self.entities)])

    def nearest_entities(self, entity: str, k: int = 10) -> list[Pair]:
        """Return the k entities nearest to `entity` in the model's entity metric, as (entity, score) pairs."""
        self.entity_id(entity)
        return [(str(key), float(s)) for key, s in self.entities.most_similar(entity, topn=k)]


def _label_triples(known):
    """Yield (head, relation, tail) labels from a TripleSet, an id-free iterable of label triples, or None."""
    if known is None:
        return
    if hasattr(known, "splits") and hasattr(known, "entities"):
        ents, rels = known.entities, known.relations
        for arr in known.splits.values():
            for h, r, t in arr:
                yield ents[h], rels[r], ents[t]
        return
    for triple in known:
        if len(triple) != 3:
            raise InputError(f"known triples are (head, relation, tail); got {triple!r}")
        yield tuple(triple)
