"""Re-ranking a first stage's candidates with a pair scorer (e.g. a cross-encoder).

    first = bm25.search(queries, k=100)
    best = rerank(queries, first, texts=doc_texts, scorer=CrossEncoderReranker("path/to/model"), k=10)

`scorer` is any callable taking a list of (query text, document text) pairs
and returning one score per pair, higher is better; every candidate of every
query goes to it in one call (a cross-encoder batches them itself).
`CrossEncoderReranker` wraps sentence-transformers' CrossEncoder and loads
only local models (a folder, or one already in the Hugging Face cache): it
never downloads.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import numpy as np

from ..core.keys import Key
from ..core.neighbors import Neighbors
from ..errors import InputError, require

Scorer = Callable[[list[tuple[str, str]]], Sequence[float]]


def _text_of(texts, key: Key, id_: int, q: int) -> str:
    if isinstance(texts, Mapping):
        if key not in texts:
            raise InputError(f"query {q}: no text for document {key!r} in texts")
        t = texts[key]
    else:
        if not 0 <= id_ < len(texts):
            raise InputError(f"query {q}: document {key!r} has id {id_}, outside texts (0..{len(texts) - 1}); "
                             f"give texts as a mapping of key to text")
        t = texts[id_]
    if not isinstance(t, str):
        raise InputError(f"the text of document {key!r} is {type(t).__name__}, not str")
    return t


def rerank(queries: str | Sequence[str], results: Neighbors, *, texts: Mapping[Key, str] | Sequence[str],
           scorer: Scorer, k: int | None = None) -> Neighbors:
    """Return `results` re-ordered by `scorer`'s score of each (query, document text) pair.

    `queries` are the texts the results answer (one per row of `results`);
    `texts` gives each document's text, as a mapping from key or a sequence
    indexed by id (table row).  The result's scores are the scorer's; equal
    scores keep the first stage's order.  `k` keeps the best k (default: all
    candidates).
    """
    if not isinstance(results, Neighbors):
        raise InputError(f"results must be Neighbors (a first-stage search); got {type(results).__name__}")
    qs = [queries] if isinstance(queries, str) else list(queries) if isinstance(queries, (list, tuple)) else None
    if qs is None or not all(isinstance(x, str) for x in qs):
        raise InputError("queries must be a str or a list of str (the texts the results answer)")
    if len(qs) != len(results):
        raise InputError(f"{len(qs)} queries for results of {len(results)} queries; give the texts the "
                         f"results answer, in order")
    if not callable(scorer):
        raise InputError(f"scorer must be a callable taking (query, text) pairs; got {type(scorer).__name__}")
    if isinstance(texts, str) or not isinstance(texts, (Mapping, Sequence)):
        raise InputError("texts must map keys to texts, or be a sequence of texts indexed by id")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise InputError(f"k must be an int >= 1 or None; got {k!r}")
    pairs: list[tuple[str, str]] = []
    rows: list[list[tuple[Key, int]]] = []
    for q in range(len(results)):
        ids = results.ids[q].tolist()
        keys = results.keys[q]
        row = [(key, i) for key, i in zip(keys, ids) if i >= 0]
        rows.append(row)
        pairs.extend((qs[q], _text_of(texts, key, i, q)) for key, i in row)
    raw = scorer(pairs) if pairs else []
    try:
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"the scorer returned {type(raw).__name__}, not a sequence of numbers") from None
    if len(scores) != len(pairs):
        raise InputError(f"the scorer returned {len(scores)} scores for {len(pairs)} pairs; it must return "
                         f"one score per pair")
    if not np.isfinite(scores).all():
        i = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise InputError(f"the scorer returned {scores[i]} for pair {i}; scores must be finite")
    out_rows = []
    pos = 0
    for row in rows:
        s = scores[pos:pos + len(row)]
        pos += len(row)
        order = np.argsort(-s, kind="stable")
        out_rows.append([(row[j][0], row[j][1], float(s[j])) for j in order.tolist()])
    width = max((len(r) for r in out_rows), default=0)
    if k is not None:
        width = min(width, int(k))
    nq = len(out_rows)
    ids = np.full((nq, width), -1, np.int64)
    out = np.full((nq, width), -np.inf, np.float32)
    keys_out = []
    for q, r in enumerate(out_rows):
        r = r[:width]
        ids[q, :len(r)] = [i for _, i, _ in r]
        out[q, :len(r)] = [s for _, _, s in r]
        keys_out.append([key for key, _, _ in r])
    return Neighbors(ids, out, keys_out, reasons=list(results.reasons))


class CrossEncoderReranker:
    """A pair scorer over a local sentence-transformers CrossEncoder model (never downloads).

    `model` is a folder holding the model, or the name of one already in the
    Hugging Face cache.  Calling the object with (query, text) pairs returns
    their scores (float32), batch_size pairs at a time on `device`.
    """

    def __init__(self, model: str | os.PathLike, device: str = "cpu", batch_size: int = 32) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an int >= 1; got {batch_size!r}")
        st = require("sentence_transformers", "encode", "cross-encoder re-ranking")
        self.model_name = os.fspath(model)
        self.device = device
        self.batch_size = batch_size
        try:
            self.model = st.CrossEncoder(self.model_name, device=device, local_files_only=True)
        except Exception as exc:   # the hub, torch and transformers raise many kinds; one line for all
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cross-encoder model {self.model_name!r} is not available offline ({first[:200]}); "
                             f"give a local folder or a model already in the Hugging Face cache") from None

    def __call__(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, np.float32)
        out = self.model.predict([list(p) for p in pairs], batch_size=self.batch_size, show_progress_bar=False,
                                 convert_to_numpy=True)
        out = np.asarray(out, np.float32)
        if out.ndim > 1:       # a model with several labels: the last is the "relevant" one
            out = out[:, -1]
        return out

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.model_name!r}, device={self.device!r}, batch_size={self.batch_size})"


__all__ = ["rerank", "CrossEncoderReranker", "Scorer"]
