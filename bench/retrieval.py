"""Sentences and retrieval on Cranfield and CISI: every figure side by side with the tool it replaces.

One JSON line per collection, with a block per part:
- bm25: our BM25 vs bm25s (method="lucene", the same token lists): queries
  with identical top-10, index and query time ratios (bm25s / ours), nDCG@10.
- dense: all-MiniLM-L6-v2 through `SentenceEncoder` vs sentence-transformers
  called directly: max abs difference, throughput ratio, retrieval quality.
- static: `omnivec.encode.distill` vs model2vec's distill from the same teacher
  and PCA size: distill time, sentences/s, nDCG@10 of both and of the teacher.
- hybrid: the documents written by `encode_corpus`, BM25 built beside them,
  searched through `Retriever` (dense, bm25, hybrid rrf, hybrid convex) end
  to end: nDCG@10 of each, and whether hybrid >= max(bm25, dense).
- multivector: MiniLM token vectors; MUVERA's top-100 candidates vs exact
  MaxSim: recall@100, speed ratio, raw vs pruned storage and nDCG@10.

    .venv/bin/python bench/retrieval.py                        # both collections, every part
    .venv/bin/python bench/retrieval.py --collections cranfield --parts bm25,hybrid

The collections are read from ../shared/data/ir (or OMNIVEC_IR_DATA).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PARTS = ("bm25", "dense", "static", "hybrid", "multivector")
METRICS = ("ndcg@10", "recall@100", "mrr@10", "map")
# dense: the encoders' speed is timed on 256 evenly spaced documents (quality uses all of them)
OPTIONS = {"dense": {"sample": 256}}


def rankings_of(hits, query_ids) -> dict[str, list[str]]:
    """Return {query_id: [doc_id, ...]} from Neighbors (padding rows left out)."""
    return {q: [str(key) for key, row in zip(hits.keys[i], hits.ids[i].tolist()) if row >= 0]
            for i, q in enumerate(query_ids)}


def hybrid(col, *, model: str = "all-MiniLM-L6-v2", k: int = 100) -> dict:
    """Write the documents with encode_corpus, build BM25 beside them, search every mode through Retriever."""
    from omnivec.encode import SentenceEncoder
    from omnivec.evaluate.retrieval import evaluate
    from omnivec.files import index_build
    from omnivec.retrieve import Retriever

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.ov"
        enc = SentenceEncoder(model, progress=False)
        start = time.perf_counter()
        enc.encode_corpus(list(col.doc_texts), path, ids=list(col.doc_ids), empty="keep")
        out["encode_seconds"] = round(time.perf_counter() - start, 2)
        index_build(path, "bm25", show_progress=False)
        r = Retriever.open(path)
        for mode, kw in (("dense", {}), ("bm25", {}), ("hybrid_rrf", {"fusion": "rrf"}),
                         ("hybrid_convex", {"fusion": "convex", "alpha": 0.5})):
            hits = r.search(list(col.query_texts), k, mode=mode.split("_")[0], candidates=k, **kw)
            scores = evaluate(rankings_of(hits, col.query_ids), col.qrels, metrics=METRICS)
            out[mode] = {m: round(v, 4) for m, v in scores.items()}
    best_single = max(out["dense"]["ndcg@10"], out["bm25"]["ndcg@10"])
    out["hybrid_rrf_ge_best_single"] = out["hybrid_rrf"]["ndcg@10"] >= best_single
    out["hybrid_convex_ge_best_single"] = out["hybrid_convex"]["ndcg@10"] >= best_single
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--collections", default="cranfield,cisi")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    args = ap.parse_args()
    from omnivec.evaluate.ir import load_collection

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for p in parts:
        if p not in PARTS:
            ap.error(f"unknown part {p!r}; valid: {', '.join(PARTS)}")
    for name in [c.strip() for c in args.collections.split(",") if c.strip()]:
        col = load_collection(name)
        line: dict = {"bench": "retrieval", "collection": name, "documents": len(col.doc_ids),
                      "queries": len(col.query_ids)}
        for part in parts:
            print(f"# {name}: {part}", file=sys.stderr, flush=True)
            if part == "hybrid":
                line[part] = hybrid(col)
            else:
                line[part] = importlib.import_module(f"_retrieval_{part}").run(col, **OPTIONS.get(part, {}))
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
