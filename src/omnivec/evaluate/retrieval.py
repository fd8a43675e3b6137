"""Retrieval quality: nDCG@k, recall@k, MRR@k, MAP and P@k from relevance judgements.

The definitions are trec_eval's, so that figures compare with published ones:

- **ndcg@k** (trec_eval's `ndcg_cut_k`): graded gains (the judgement's grade),
  discount log2(rank + 1), divided by the ideal DCG@k of the query's judged
  grades; `ndcg` without a cut uses the whole ranking.
- **recall@k**: relevant documents in the top k / relevant documents judged.
- **mrr@k**: 1 / rank of the first relevant document in the top k, else 0
  (trec_eval's `recip_rank` has no cut: that is `mrr`).
- **map** (uninterpolated average precision; `map@k` is trec_eval's
  `map_cut_k`): the mean over the judged relevant documents of the precision
  at the rank each is retrieved (0 for those never retrieved).
- **precision@k** (`P_k`): relevant in the top k / k.

A document is relevant when its grade is at least 1; grades of 0 or less
(judged not relevant) and unjudged documents gain nothing.  Queries whose
judgements hold no relevant document are left out of the means and counted
(`no_relevant`), as trec_eval does; judged queries that a run does not answer
score 0 (trec_eval `-c`) unless `missing="skip"`, and are counted
(`missing`); queries of the run without judgements are ignored and counted
(`unjudged`).  Ids are compared as text.

Qrels are `{query_id: {doc_id: grade}}`; rankings are `{query_id: [doc_id,
... best first]}`.  `read_qrels`/`write_qrels`, `read_run`/`write_run` read
and write the TREC files (`qid iter docid grade` and `qid Q0 docid rank
score tag`); a run file is ranked as trec_eval ranks it: by score, highest
first, ties by document id in reverse order (the rank column is not used).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .._atomic import atomic_path
from .._registry import Registry
from ..errors import FormatError, InputError, ParseError

Qrels = dict[str, dict[str, int]]
Rankings = dict[str, list[str]]

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map")
MISSING = ("zero", "skip")


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Judged:
    """One query's ranking turned into grades, and its judged relevant grades (highest first)."""

    grades: np.ndarray   # grade of each retrieved document, in rank order (0 when unjudged or <= 0)
    ideal: np.ndarray    # grades >= 1 of every judged document, highest first

    @property
    def relevant(self) -> int:
        return len(self.ideal)


def _dcg(grades: np.ndarray) -> float:
    return float((grades / np.log2(np.arange(2, len(grades) + 2))).sum())


def _ndcg(q: Judged, k: int | None) -> float:
    ideal = _dcg(q.ideal[:k])
    return _dcg(q.grades[:k]) / ideal if ideal > 0 else 0.0


def _recall(q: Judged, k: int | None) -> float:
    return float((q.grades[:k] >= 1).sum()) / q.relevant


def _precision(q: Judged, k: int | None) -> float:
    depth = len(q.grades) if k is None else k
    return float((q.grades[:k] >= 1).sum()) / depth if depth else 0.0


def _mrr(q: Judged, k: int | None) -> float:
    hits = np.flatnonzero(q.grades[:k] >= 1)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def _map(q: Judged, k: int | None) -> float:
    hits = np.flatnonzero(q.grades[:k] >= 1)
    return float(((np.arange(len(hits)) + 1) / (hits + 1)).sum()) / q.relevant


@dataclass(frozen=True)
class RetrievalMetric:
    """A per-query measure `score(judged, k)`; `needs_k` when a cut is required (precision)."""

    score: Callable[[Judged, "int | None"], float]
    description: str
    needs_k: bool = False


RETRIEVAL_METRICS: Registry[RetrievalMetric] = Registry("retrieval metric")
RETRIEVAL_METRICS.register("ndcg", RetrievalMetric(_ndcg, "normalised discounted cumulative gain (graded)"))
RETRIEVAL_METRICS.register("recall", RetrievalMetric(_recall, "relevant retrieved / relevant judged"))
RETRIEVAL_METRICS.register("mrr", RetrievalMetric(_mrr, "reciprocal rank of the first relevant document"),
                           aliases=("recip_rank",))
RETRIEVAL_METRICS.register("map", RetrievalMetric(_map, "mean (uninterpolated) average precision"))
RETRIEVAL_METRICS.register("precision", RetrievalMetric(_precision, "relevant in the top k / k", needs_k=True),
                           aliases=("p",))

_SPEC = re.compile(r"^\s*([A-Za-z_ -]+?)\s*(?:@\s*(\S+))?\s*$")


def parse_metric(spec: str) -> tuple[str, RetrievalMetric, int | None]:
    """Return (canonical name as 'name@k' or 'name', metric, k) for a spec such as 'nDCG@10' or 'map'."""
    m = _SPEC.match(str(spec))
    if not m:
        raise InputError(f"bad retrieval metric {spec!r}: write a name and an optional cut, e.g. 'ndcg@10', "
                         f"'map'; names are: {', '.join(RETRIEVAL_METRICS.names())}")
    metric = RETRIEVAL_METRICS.get(m.group(1))
    name = RETRIEVAL_METRICS.canonical(m.group(1))
    k = None
    if m.group(2) is not None:
        try:
            k = int(m.group(2))
        except ValueError:
            k = 0
        if k < 1:
            raise InputError(f"bad cut in retrieval metric {spec!r}: the number after '@' must be an integer "
                             f"of at least 1")
    elif metric.needs_k:
        raise InputError(f"retrieval metric {spec!r} needs a cut, e.g. '{name}@10'")
    return (name if k is None else f"{name}@{k}"), metric, k


# --------------------------------------------------------------------------- evaluation


@dataclass
class RetrievalResult:
    """Means and per-query scores of a run, with the queries left out and why."""

    metrics: list[str]
    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    no_relevant: list[str] = field(default_factory=list)   # judged, but nothing relevant: left out
    missing: list[str] = field(default_factory=list)       # judged with relevant documents, not in the run
    unjudged: list[str] = field(default_factory=list)      # in the run, without judgements: ignored
    missing_policy: str = "zero"

    @property
    def queries(self) -> int:
        """Queries that enter the means."""
        return len(self.per_query)

    def to_dict(self) -> dict:
        return {"metrics": list(self.metrics), "means": dict(self.means), "queries": self.queries,
                "no_relevant": len(self.no_relevant), "missing": len(self.missing),
                "unjudged": len(self.unjudged), "missing_policy": self.missing_policy,
                "per_query": {q: dict(v) for q, v in self.per_query.items()}}


def evaluate(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], *,
             metrics: Iterable[str] = DEFAULT_METRICS, missing: str = "zero") -> dict[str, float]:
    """Return the mean of each metric over the judged queries, e.g. {'ndcg@10': 0.41, ...}.

    `rankings` is {query_id: [doc_id, ... best first]}, `qrels` {query_id:
    {doc_id: grade}}.  See `evaluate_rankings` for the counts and per-query
    scores behind the means, and the module docstring for the definitions.
    A mean over no query (nothing judged relevant) is NaN.
    """
    return evaluate_rankings(rankings, qrels, metrics=metrics, missing=missing).means


def evaluate_rankings(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], *,
                      metrics: Iterable[str] = DEFAULT_METRICS, missing: str = "zero") -> RetrievalResult:
    """Score every judged query of `rankings`; return a RetrievalResult (means, per query, counts).

    `missing` says what a judged query with relevant documents but no ranking
    scores: "zero" (trec_eval -c; the default) or "skip" (left out of the
    means, as trec_eval without -c).  Either way it is listed in `missing`.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    parsed = [parse_metric(m) for m in metrics]
    if not parsed:
        raise InputError("give at least one retrieval metric, e.g. 'ndcg@10'")
    if missing not in MISSING:
        raise InputError(f"missing must be one of {', '.join(MISSING)}; got {missing!r}")
    if not isinstance(rankings, Mapping):
        raise InputError(f"rankings must be a mapping {{query_id: [doc_id, ...]}}; got {type(rankings).__name__}")
    if not isinstance(qrels, Mapping):
        raise InputError(f"qrels must be a mapping {{query_id: {{doc_id: grade}}}}; got {type(qrels).__name__}")
    run = {str(q): _ranking(q, docs) for q, docs in rankings.items()}
    result = RetrievalResult([name for name, _, _ in parsed], {}, {}, missing_policy=missing)
    for q, judged in qrels.items():
        q = str(q)
        grades = _grades(q, judged)
        ideal = np.sort(np.array([g for g in grades.values() if g >= 1], dtype=np.float64))[::-1]
        if not len(ideal):
            result.no_relevant.append(q)
            continue
        if q not in run:
            result.missing.append(q)
            if missing == "skip":
                continue
        j = Judged(np.array([max(grades.get(d, 0), 0) for d in run.get(q, ())], dtype=np.float64), ideal)
        result.per_query[q] = {name: metric.score(j, k) for name, metric, k in parsed}
    judged_ids = {str(q) for q in qrels}
    result.unjudged = [q for q in run if q not in judged_ids]
    n = len(result.per_query)
    result.means = {name: (math.fsum(s[name] for s in result.per_query.values()) / n if n else float("nan"))
                    for name, _, _ in parsed}
    return result


def _ranking(q, docs) -> list[str]:
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Iterable):
        raise InputError(f"the ranking of query {q!r} must be a list of document ids, best first; "
                         f"got {type(docs).__name__}")
    out = [str(d) for d in docs]
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dup = next(d for d in out if d in seen or seen.add(d))
        raise InputError(f"the ranking of query {q!r} lists document {dup!r} twice")
    return out


def _grades(q: str, judged) -> dict[str, int]:
    if not isinstance(judged, Mapping):
        raise InputError(f"the judgements of query {q!r} must be a mapping {{doc_id: grade}}; "
                         f"got {type(judged).__name__}")
    out = {}
    for d, g in judged.items():
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)):
            raise InputError(f"the grade of document {d!r} for query {q!r} must be an integer; got {g!r}")
        out[str(d)] = int(g)
    return out


# --------------------------------------------------------------------------- TREC files


def _lines(path: str | os.PathLike):
    path = Path(path)
    if path.is_dir():
        raise FormatError("is a folder; give a file", path=path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FormatError("no such file", path=path) from None
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", path=path) from None
    with fh:
        for no, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ParseError(f"not UTF-8 text (byte {exc.start} of the line)", path=path, line=no) from None
            if line.strip():
                yield no, line.split()


def read_qrels(path: str | os.PathLike) -> Qrels:
    """Read a TREC qrels file (`query_id iteration doc_id grade` per line) into {qid: {doc_id: grade}}."""
    qrels: Qrels = {}
    for no, cols in _lines(path):
        if len(cols) != 4:
            raise ParseError(f"expected 4 columns 'query_id iteration doc_id grade', found {len(cols)}: "
                             f"{' '.join(cols)!r}", path=path, line=no)
        q, _, d, g = cols
        try:
            grade = int(g)
        except ValueError:
            raise ParseError(f"the grade must be an integer, found {g!r}", path=path, line=no) from None
        judged = qrels.setdefault(q, {})
        if d in judged:
            raise ParseError(f"document {d!r} is judged twice for query {q!r}", path=path, line=no)
        judged[d] = grade
    return qrels


def read_run(path: str | os.PathLike) -> Rankings:
    """Read a TREC run file (`query_id Q0 doc_id rank score tag`) into {qid: [doc_id, ... best first]}.

    Documents are ranked as trec_eval ranks them: by score, highest first,
    ties broken by document id in reverse order; the rank column is ignored.
    """
    scored: dict[str, dict[str, float]] = {}
    for no, cols in _lines(path):
        if len(cols) != 6:
            raise ParseError(f"expected 6 columns 'query_id Q0 doc_id rank score tag', found {len(cols)}: "
                             f"{' '.join(cols)!r}", path=path, line=no)
        q, _, d, _, s, _ = cols
        try:
            score = float(s)
        except ValueError:
            raise ParseError(f"the score must be a number, found {s!r}", path=path, line=no) from None
        if not math.isfinite(score):
            raise ParseError(f"the score must be a finite number, found {s!r}", path=path, line=no)
        docs = scored.setdefault(q, {})
        if d in docs:
            raise ParseError(f"document {d!r} appears twice for query {q!r}", path=path, line=no)
        docs[d] = score
    return {q: [d for d, _ in sorted(sorted(docs.items(), reverse=True), key=lambda x: -x[1])]
            for q, docs in scored.items()}


def _check_id(what: str, value) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise InputError(f"{what} {value!r} cannot be written to a TREC file: ids must be non-empty and "
                         f"hold no spaces")
    return text


def write_qrels(qrels: Mapping[str, Mapping[str, int]], path: str | os.PathLike) -> Path:
    """Write {qid: {doc_id: grade}} as a TREC qrels file (iteration 0); return the path."""
    lines = []
    for q, judged in qrels.items():
        qid = _check_id("query id", q)
        for d, g in _grades(qid, judged).items():
            lines.append(f"{qid} 0 {_check_id('document id', d)} {g}\n")
    return _write(path, lines)


def write_run(rankings: Mapping[str, Sequence], path: str | os.PathLike, *, tag: str = "omnivec") -> Path:
    """Write rankings as a TREC run file; return the path.

    Each ranking is a list of document ids, best first (the score written
    is the number of documents below it, so trec_eval keeps the order), or
    a list of (doc_id, score) pairs, best first.
    """
    tag = _check_id("run tag", tag)
    lines = []
    for q, docs in rankings.items():
        qid = _check_id("query id", q)
        docs = list(docs)
        pairs = [(d[0], float(d[1])) if isinstance(d, tuple) else (d, float(len(docs) - i))
                 for i, d in enumerate(docs)]
        _ranking(qid, [d for d, _ in pairs])
        lines.extend(f"{qid} Q0 {_check_id('document id', d)} {i + 1} {s!r} {tag}\n"
                     for i, (d, s) in enumerate(pairs))
    return _write(path, lines)


def _write(path: str | os.PathLike, lines: list[str]) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
    return Path(path)


def evaluate_run_file(run: str | os.PathLike, *, qrels: str | os.PathLike | None = None,
                      collection: str | os.PathLike | None = None, metrics: Iterable[str] = DEFAULT_METRICS,
                      missing: str = "zero") -> RetrievalResult:
    """Score a TREC run file against a TREC qrels file or a built-in collection's judgements.

    Give exactly one of `qrels` (a file) or `collection` ("cranfield",
    "cisi" or a folder, see omnivec.evaluate.ir.load_collection; its query
    ids are the ones a run must use, e.g. Cranfield's positions 1..225).
    """
    if (qrels is None) == (collection is None):
        raise InputError("give the judgements as exactly one of a qrels file or a collection "
                         "(--qrels FILE or --collection cranfield|cisi|FOLDER)")
    if qrels is not None:
        judged = read_qrels(qrels)
    else:
        from .ir import load_collection

        judged = load_collection(collection).qrels
    return evaluate_rankings(read_run(run), judged, metrics=metrics, missing=missing)
