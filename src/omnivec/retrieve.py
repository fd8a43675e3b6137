"""Text retrieval over a document table: dense, BM25 or hybrid, with an optional re-ranker.

    r = Retriever.open("docs.ov")                      # encoder from the table, BM25 beside it
    hits = r.search("how do wings stall", k=10)        # hybrid when both are there
    hits = r.search(queries, k=10, mode="bm25")
    for key, score in hits.pairs(0): print(key, score, r.docs.text(key))

A document table is what `SentenceEncoder.encode_corpus` writes: keys are
document ids, rows their vectors, the texts kept as the table's text column,
and the encoder's settings in its metadata, so queries are embedded the way
the documents were.  The BM25 index is the one `omnivec index build DOCS.ov
--backend bm25` stores beside the file.  Hybrid search fuses the two top
`candidates` lists by reciprocal-rank fusion (`fusion="rrf"`) or by a convex
combination of min-max normalised scores (`fusion="convex"`, `alpha` the
dense weight).  Every mode returns `Neighbors` whose ids are table rows.
"""

from __future__ import annotations

import inspect
import os
from typing import Callable, Sequence

import numpy as np

from .core.neighbors import Neighbors
from .errors import FormatError, InputError, UnknownNameError

MODES = ("auto", "dense", "bm25", "hybrid")
FUSIONS = ("rrf", "convex")


def _pick(what: str, value: str, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in valid:
        raise UnknownNameError(f"unknown {what} {value!r}; valid names are: {', '.join(valid)}")
    return value.lower()


def _queries(queries) -> list[str]:
    texts = [queries] if isinstance(queries, str) else list(queries)
    for i, q in enumerate(texts):
        if not isinstance(q, str):
            raise InputError(f"query {i} is a {type(q).__name__}, not a text")
    if not texts:
        raise InputError("no queries given")
    return texts


class Retriever:
    """Text queries over one document table: `search(queries, k, mode=...)` -> Neighbors.

    `encoder` embeds queries for dense search (anything with `.encode(texts,
    kind="query")`, or a StaticEncoder's `.encode(texts)`); `bm25` is a fitted
    `omnivec.search.BM25` over the same table; `reranker` scores (query, text)
    pairs of the fused candidates (a callable, or a `CrossEncoderReranker`).
    """

    def __init__(self, docs, *, encoder=None, bm25=None,
                 reranker: Callable | None = None) -> None:
        if encoder is None and bm25 is None:
            raise InputError(f"table {docs.name!r} has neither a query encoder nor a BM25 index: "
                             "give encoder= or bm25=")
        if bm25 is not None and len(bm25) != len(docs):
            raise InputError(f"the BM25 index covers {len(bm25)} documents; table {docs.name!r} has {len(docs)}")
        self.docs = docs
        self.encoder = encoder
        self.bm25 = bm25
        self.reranker = reranker

    @classmethod
    def open(cls, path: str | os.PathLike, *, table: str | None = None, encoder=None,
             bm25: bool | str | os.PathLike = True, reranker: Callable | None = None) -> "Retriever":
        """Open a document table with the query encoder its metadata names and the BM25 index beside it.

        `encoder=` overrides the recorded one (a SentenceEncoder or StaticEncoder);
        `bm25=False` skips the index, a path names another index file.
        """
        import omnivec

        docs = omnivec.load(path, table=table)
        if encoder is None and docs.meta.get("encoder"):
            encoder = _encoder_for(docs)
        index = None
        if bm25 is not False:
            from .search.bm25 import BM25, bm25_path

            where = bm25_path(path) if bm25 is True else os.fspath(bm25)
            if os.path.exists(where):
                index = BM25.open(where, emb=docs)
            elif bm25 is not True:
                raise FormatError(f"no BM25 index at {where}", path=where)
        if encoder is None and index is None:
            raise FormatError(f"{os.fspath(path)}: table {docs.name!r} records no encoder and has no BM25 index "
                              f"beside it; write it with `omnivec encode` or build one with "
                              f"`omnivec index build {os.fspath(path)} --backend bm25`", path=path)
        return cls(docs, encoder=encoder, bm25=index, reranker=reranker)

    @property
    def modes(self) -> tuple[str, ...]:
        """Return the modes this retriever can answer."""
        have = (["dense"] if self.encoder is not None else []) + (["bm25"] if self.bm25 is not None else [])
        return tuple(have + (["hybrid"] if len(have) == 2 else []))

    def _mode(self, mode: str) -> str:
        mode = _pick("mode", mode, MODES)
        if mode == "auto":
            return self.modes[-1]
        if mode not in self.modes:
            missing = {"dense": "a query encoder (the table records none; give encoder=)",
                       "bm25": "a BM25 index (build one with `omnivec index build DOCS --backend bm25`)",
                       "hybrid": "both a query encoder and a BM25 index"}[mode]
            raise InputError(f"{mode} search needs {missing}")
        return mode

    def dense(self, queries: Sequence[str], k: int, *, approx: bool = False) -> Neighbors:
        """Return the k nearest documents of each query by the table's metric."""
        enc = self.encoder
        if "kind" in inspect.signature(enc.encode).parameters:
            Q = enc.encode(list(queries), kind="query")
        else:                       # an encoder without query/passage kinds (a static model)
            Q = enc.encode(list(queries))
        Q = np.asarray(Q, dtype=np.float32)
        if Q.shape[1] != self.docs.dim:
            raise InputError(f"the encoder gives {Q.shape[1]}-dim vectors; table {self.docs.name!r} has "
                             f"{self.docs.dim}")
        return self.docs.search(Q, k, approx=approx)

    def search(self, queries: str | Sequence[str], k: int = 10, *, mode: str = "auto", fusion: str = "rrf",
               alpha: float = 0.5, rank_constant: float = 60, candidates: int = 100,
               approx: bool = False, rerank: bool | None = None) -> Neighbors:
        """Return the k best documents of each query text as Neighbors (ids are table rows).

        `candidates` is the depth of each list that hybrid search fuses and
        the re-ranker re-orders (at least k).  `rerank` defaults to whether a
        re-ranker was given.
        """
        texts = _queries(queries)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be an int >= 1; got {k!r}")
        if isinstance(candidates, bool) or not isinstance(candidates, (int, np.integer)) or candidates < 1:
            raise InputError(f"candidates must be an int >= 1; got {candidates!r}")
        mode = self._mode(mode)
        fusion = _pick("fusion", fusion, FUSIONS)
        rerank = self.reranker is not None if rerank is None else rerank
        if rerank and self.reranker is None:
            raise InputError("rerank=True needs a reranker (Retriever(..., reranker=...))")
        depth = max(int(k), int(candidates)) if (mode == "hybrid" or rerank) else int(k)
        depth = min(depth, len(self.docs))
        if mode == "dense":
            hits = self.dense(texts, depth, approx=approx)
        elif mode == "bm25":
            hits = self.bm25.search(texts, depth)
        else:
            from .search.fusion import convex, rrf

            lists = [self.dense(texts, depth, approx=approx), self.bm25.search(texts, depth)]
            if fusion == "rrf":
                hits = rrf(lists, k=depth, rank_constant=rank_constant)
            else:
                hits = convex(lists, alpha=alpha, k=depth)
        if rerank:
            from .search.rerank import rerank as rerank_hits

            return rerank_hits(texts, hits, texts=self.docs.texts, scorer=self.reranker, k=int(k))
        return _first(hits, int(k))

    def report(self, queries: str | Sequence[str], hits: Neighbors, *, width: int = 0) -> list[dict]:
        """Return JSON-able results: per query its text, hits as {key, score, text}, and why it has fewer than k."""
        texts = _queries(queries)
        have_text = self.docs.texts is not None
        out = []
        for q, text in enumerate(texts):
            rows = []
            for key, row, score in zip(hits.keys[q], hits.ids[q].tolist(), hits.scores[q].tolist()):
                if row < 0:
                    continue
                item = {"key": key, "score": float(score)}
                if have_text:
                    doc = self.docs.texts[row]
                    item["text"] = doc if width <= 0 or len(doc) <= width else doc[:max(width - 3, 1)] + "..."
                rows.append(item)
            reasons = getattr(hits, "reasons", None)
            out.append({"query": text, "hits": rows, "reason": reasons[q] if reasons else None})
        return out


def _first(hits: Neighbors, k: int) -> Neighbors:
    if hits.k <= k:
        return hits
    return Neighbors(hits.ids[:, :k].copy(), hits.scores[:, :k].copy(), [row[:k] for row in hits.keys],
                     reasons=hits.reasons)


def _encoder_for(docs):
    """Return the query encoder a document table's metadata records."""
    from .encode import SentenceEncoder
    from .encode.static import ENCODER, StaticEncoder

    if docs.meta["encoder"].get("adapter") == ENCODER:
        return StaticEncoder.for_table(docs)
    return SentenceEncoder.for_table(docs)


def search_file(path: str | os.PathLike, queries: str | Sequence[str], *, k: int = 10, mode: str = "auto",
                fusion: str = "rrf", alpha: float = 0.5, candidates: int = 100, table: str | None = None,
                width: int = 0) -> dict:
    """Return what `omnivec search DOCS.ov QUERY...` prints: the mode used and each query's hits."""
    r = Retriever.open(path, table=table)
    used = r._mode(mode)
    hits = r.search(queries, k, mode=used, fusion=fusion, alpha=alpha, candidates=candidates)
    return {"model": os.fspath(path), "table": r.docs.name, "mode": used,
            "fusion": fusion if used == "hybrid" else None, "k": int(k),
            "results": r.report(queries, hits, width=width)}
