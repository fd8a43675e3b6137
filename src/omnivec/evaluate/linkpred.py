"""Filtered link-prediction evaluation: MRR and Hits@k of the true head and tail of each test triple.

The filtered, realistic ranks come from `omnivec.learn.kge.ranking.rank_triples`
(for a test triple (h, r, t) every entity is scored as the tail of (h, r, ?)
and as the head of (?, r, t), leaving out the other known answers; a tie
ranks at the mean of its optimistic and pessimistic rank, as PyKEEN's
"realistic" rank); this module summarises them: MRR and Hits@1/3/10 over
both sides and per side, for id or labelled triples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..learn.kge.ranking import mrr, rank_triples, realistic_ranks

__all__ = ["LinkPredResult", "evaluate", "evaluate_labels", "rank_triples", "HITS_AT"]

HITS_AT = (1, 3, 10)


@dataclass
class LinkPredResult:
    """Filtered MRR and Hits@k (realistic ranks) on both sides and per side; ranks kept per triple."""

    mrr: float
    hits: dict[int, float]
    n: int
    sides: dict[str, dict] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        """Return the metrics as a JSON-able dict."""
        out = {"mrr": self.mrr, **{f"hits@{k}": v for k, v in self.hits.items()}, "triples": self.n}
        out["sides"] = self.sides
        return out


def _metrics(ranks: np.ndarray) -> dict:
    return {"mrr": mrr(ranks), **{f"hits@{k}": float(np.mean(ranks <= k)) for k in HITS_AT}}


def evaluate(model, triples: np.ndarray, *, known: np.ndarray | None = None,
             batch_size: int = 256) -> LinkPredResult:
    """Return filtered MRR and Hits@1/3/10 (realistic ranks, both sides) of `model` on id triples."""
    raw = rank_triples(model, triples, known=known, batch_size=batch_size)
    ranks = realistic_ranks(raw)
    both = np.concatenate([ranks["head"], ranks["tail"]])
    m = _metrics(both)
    sides = {side: {**_metrics(ranks[side]),
                    "optimistic_mrr": mrr(raw[side][:, 0]),
                    "pessimistic_mrr": mrr(raw[side][:, 1])} for side in ranks}
    return LinkPredResult(mrr=m["mrr"], hits={k: m[f"hits@{k}"] for k in HITS_AT}, n=len(triples),
                          sides=sides, ranks=ranks)


def evaluate_labels(model, triples: list[tuple[str, str, str]], *,
                    known: list[tuple[str, str, str]] | None = None, batch_size: int = 256,
                    unknown: str = "error") -> tuple[LinkPredResult, int]:
    """Return (result, skipped) for labelled triples on a KGModel; unknown labels raise or are skipped.

    unknown="skip" leaves out test triples whose labels the model lacks and
    returns how many were left out; known triples with unknown labels never
    match a candidate, so they are dropped from the filter.
    """
    if unknown not in ("error", "skip"):
        raise InputError(f"unknown must be 'error' or 'skip'; got {unknown!r}")

    def ids(rows, strict):
        out, skipped = [], 0
        for h, r, t in rows:
            if (h in model.entities and t in model.entities and r in model.relations):
                out.append((model.entities.row(h), model.relations.row(r), model.entities.row(t)))
            elif strict:
                model.entity_id(h), model.relation_id(r), model.entity_id(t)  # raises KeyNotFound
            else:
                skipped += 1
        return np.array(out, dtype=np.int64).reshape(-1, 3), skipped

    test, skipped = ids(triples, unknown == "error")
    kn = ids(known, False)[0] if known else None
    return evaluate(model, test, known=kn, batch_size=batch_size), skipped
