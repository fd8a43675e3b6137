"""BM25 over a test collection: omnivec's `BM25` side by side with bm25s (method="lucene").

Both index every document of the collection and answer every query with the
same k1 and b and the same tokenisation (a word split of 2+ word characters,
lowercased, the same 33 English stopwords, no stemming: omnivec's default
`Tokenizer()` and `bm25s.tokenize(stopwords="en")`; the run counts the texts
the two split differently, which should be none).  bm25s runs its default
(numpy) backend, single-threaded as omnivec runs queries this small; both
are warmed up first (omnivec's compiled kernel loads from its cache).

Figures: `identical_top10` counts the queries whose top-k documents come back
in the same order from both; `tie_order_only` those that differ only in the
order of equal scores (bm25s orders ties as its partial sort leaves them,
omnivec puts the lower row first); `differing_top10` the rest.  bm25s fills
its k with documents of score 0 when fewer match; those are left out of the
comparison (omnivec returns only matching documents).  Times are medians over
`repeats` interleaved rounds; `*_ratio` = bm25s time / ours (above 1: ours is
faster): `index_ratio` from raw texts (tokenising included),
`index_tokens_ratio` from the same token lists, `query_ratio` for all queries
from their texts (tokenising included).  Quality: nDCG@10, recall@100,
MRR@10 and MAP of each side's top-100 against the collection's judgements
(`omnivec.evaluate.retrieval.evaluate`).

    python bench/_retrieval_bm25.py              # one JSON line per collection (cranfield, cisi)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from omnivec.evaluate.retrieval import evaluate  # noqa: E402
from omnivec.search import BM25, Tokenizer  # noqa: E402

METRICS = ("ndcg@10", "recall@100", "mrr@10", "map")


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(col, repeats: int = 5, k: int = 10, k1: float = 1.2, b: float = 0.75) -> dict:
    """Return the figures of omnivec's BM25 against bm25s on one collection (see the module docstring)."""
    import bm25s

    docs, queries = list(col.doc_texts), list(col.query_texts)
    tok = Tokenizer()

    def theirs_tokens(texts):
        return [list(t) for t in bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)]

    our_doc_tokens = [tok.tokenize(t) for t in docs]
    split_differently = sum(a != b_ for a, b_ in zip(our_doc_tokens, theirs_tokens(docs)))
    split_differently += sum(a != b_ for a, b_ in zip([tok.tokenize(q) for q in queries], theirs_tokens(queries)))

    def ours_index():
        return BM25(k1=k1, b=b).fit(docs, keys=col.doc_ids)

    def theirs_index():
        ret = bm25s.BM25(method="lucene", k1=k1, b=b)
        ret.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
        return ret

    def ours_index_tokens():
        return BM25(k1=k1, b=b).fit_tokens(our_doc_tokens, keys=col.doc_ids)

    def theirs_index_tokens():
        ret = bm25s.BM25(method="lucene", k1=k1, b=b)
        ret.index(our_doc_tokens, show_progress=False)
        return ret

    ours, theirs = ours_index(), theirs_index()
    ours.search(queries[:3], k=k)                 # loads the compiled kernel (from numba's cache)

    def ours_query():
        return ours.search(queries, k=k)

    def theirs_query():
        qt = bm25s.tokenize(queries, stopwords="en", show_progress=False)
        return theirs.retrieve(qt, k=k, show_progress=False, n_threads=0)

    theirs_query()
    times: dict[str, list[float]] = {n: [] for n in ("oi", "ti", "oit", "tit", "oq", "tq")}
    for _ in range(repeats):                       # interleaved rounds
        times["oi"].append(_timed(ours_index)[0])
        times["ti"].append(_timed(theirs_index)[0])
        times["oit"].append(_timed(ours_index_tokens)[0])
        times["tit"].append(_timed(theirs_index_tokens)[0])
        times["oq"].append(_timed(ours_query)[0])
        times["tq"].append(_timed(theirs_query)[0])
    med = {n: statistics.median(v) for n, v in times.items()}

    found = ours_query()
    res = theirs_query()
    t_docs, t_scores = np.asarray(res.documents), np.asarray(res.scores)
    identical = tie_only = differing = 0
    max_diff = 0.0
    for i in range(len(queries)):
        pos = t_scores[i] > 0
        td, ts = t_docs[i][pos], t_scores[i][pos]
        od = found.ids[i][found.ids[i] >= 0]
        os_ = found.scores[i][: len(od)]
        if len(od) == len(td) and len(od):
            max_diff = max(max_diff, float(np.max(np.abs(os_ - ts))))
        if od.tolist() == td.tolist():
            identical += 1
            continue
        # bm25s's k documents with ties put on the lower row; the k-th score may tie with
        # documents outside its k, so compare with its full scores
        full = theirs.get_scores(tok.tokenize(queries[i]))
        want = np.lexsort((np.arange(len(full)), -full))[: len(od)]
        same_scores = len(od) == len(td) and np.allclose(np.sort(os_), np.sort(ts), rtol=1e-5)
        if same_scores and od.tolist() == want.tolist():
            tie_only += 1
        else:
            differing += 1

    deep_ours = ours.search(queries, k=100)
    deep_theirs = theirs.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=100,
                                  show_progress=False)
    rank_ours = {q: [str(x) for x in keys] for q, keys in zip(col.query_ids, deep_ours.keys)}
    rank_theirs = {q: [col.doc_ids[int(d)] for d, s in zip(row, srow) if s > 0]
                   for q, row, srow in zip(col.query_ids, np.asarray(deep_theirs.documents),
                                           np.asarray(deep_theirs.scores))}
    q_ours = evaluate(rank_ours, col.qrels, metrics=METRICS)
    q_theirs = evaluate(rank_theirs, col.qrels, metrics=METRICS)

    out = {"collection": col.name, "documents": len(docs), "queries": len(queries), "k": k, "k1": k1, "b": b,
           "repeats": repeats, "texts_split_differently": split_differently,
           "identical_top10": identical, "tie_order_only": tie_only, "differing_top10": differing,
           "max_score_diff": max_diff,
           "index_ratio": med["ti"] / med["oi"], "index_tokens_ratio": med["tit"] / med["oit"],
           "query_ratio": med["tq"] / med["oq"],
           "ours_index_s": med["oi"], "bm25s_index_s": med["ti"], "ours_index_tokens_s": med["oit"],
           "bm25s_index_tokens_s": med["tit"], "ours_query_s": med["oq"], "bm25s_query_s": med["tq"]}
    for m in METRICS:
        out[f"ours_{m}"] = q_ours[m]
        out[f"bm25s_{m}"] = q_theirs[m]
    return out


if __name__ == "__main__":
    from omnivec.evaluate.ir import load_collection

    for name in ("cranfield", "cisi"):
        print(json.dumps(run(load_collection(name))), flush=True)
