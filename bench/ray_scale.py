"""Scale-out on Ray, measured on a two-node local cluster: overhead and correctness, not speed-up.

    python bench/ray_scale.py            # the reduced run (minutes on a shared 2-core machine)
    python bench/ray_scale.py --full     # the issue's sizes: 100,000 reviews, 1,000,000 rows, 8 full trials

The cluster (head + one worker node), the driver and the fault injection run
in a private network namespace with only loopback (`run_isolated`: unshare
--net, as root), so both nodes are 127.0.0.1.  On one machine with two cores
the two nodes share the same cores: the numbers are Ray's overhead and the
results' correctness, never a speed-up.

Measured, each against the same work in one process (the anchor):
- encoding IMDB reviews with a static model (distilled from all-MiniLM-L6-v2)
  and with all-MiniLM-L6-v2 itself: texts/s in one process, on Ray with 1
  and 2 actors, and Ray's extra time split (by a half-size run) into a part
  per batch and a fixed part; on a loaded machine the split is noisy and the
  part per batch can come out negative (below what the machine resolves);
- the static vectors of the reviews as a 4-shard table: fan-out exact top-10
  against one exact search (identical answers), HNSW recall@10 of the shards
  against one HNSW index, added latency per query, resident memory per node;
- a word2vec sweep (lr x window x negatives, 8 trials) on IMDB reviews: the
  best trial's analogy accuracy, the sweep's time on Ray against the trials
  run one after another;
- faults: a worker killed mid-encode (output complete, no duplicates), a shard
  actor killed mid-search (the search raises ShardError naming the shard).

Prints one JSON line.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
IMDB = SHARED / "text" / "imdb_reviews.tsv.gz"
QUESTIONS = SHARED / "eval" / "gensim" / "questions-words.txt"
FULL = "--full" in sys.argv
SIZES = dict(static_texts=100_000 if FULL else 10_000, minilm_texts=100_000 if FULL else 300,
             table_rows=1_000_000 if FULL else 50_000, sweep_reviews=100_000 if FULL else 2_000,
             sweep_epochs=5 if FULL else 1, queries=200 if FULL else 100,
             static_vocabulary=None if FULL else 5_000)
OUT = HERE / "out"


def say(what: str) -> None:
    print(f"[ray_scale {time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def reviews(n: int) -> list[str]:
    out = []
    with gzip.open(IMDB, "rt", encoding="utf-8") as fh:
        for line in fh:
            text = line.rstrip("\n").split("\t", 4)[4]
            out.append(re.sub(r"<br\s*/?>", " ", text))
            if len(out) == n:
                break
    return out


def rss(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class KillOnce:
    """An encoder factory whose process kills itself in the middle of its 3rd batch, once per marker."""

    def __init__(self, model: str, marker: str) -> None:
        self.model, self.marker = model, marker

    def __call__(self):
        from omnivec.distributed.encoding import make_encoder

        inner, marker = make_encoder(self.model), self.marker

        class Dying:
            batches = 0

            def encode(self, texts):
                Dying.batches += 1
                if Dying.batches == 3:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                        os.kill(os.getpid(), signal.SIGKILL)
                    except FileExistsError:
                        pass
                return inner.encode(texts)

        return Dying()


def encoding(work: Path, static_path: str, out: dict) -> None:
    from omnivec.distributed import encode
    from omnivec.distributed.encoding import make_encoder
    from omnivec.distributed.shards import ids_checksum, key_hashes

    for label, spec, n, batch in (("static", static_path, SIZES["static_texts"], 1000),
                                  ("minilm", "all-MiniLM-L6-v2", SIZES["minilm_texts"], 32)):
        texts = reviews(n)
        enc = make_encoder(spec)
        enc.encode(texts[:batch])                       # warm: first-call costs out of the timing
        t = time.perf_counter()
        ref = enc.encode(texts)
        one = time.perf_counter() - t
        t = time.perf_counter()
        enc.encode(texts[:n // 2])
        one_half = time.perf_counter() - t
        row = {"texts": n, "batch": batch, "one_process_texts_per_s": round(n / one, 1)}
        extra = {}
        for workers, m in ((1, n // 2), (1, n), (2, n)):
            t = time.perf_counter()
            table = encode(texts[:m], spec, work / f"{label}-{workers}-{m}", workers=workers, shards=2,
                           batch_size=batch, cpus_per_worker=1.0)
            took = time.perf_counter() - t
            if m == n // 2:
                extra["half"] = took - one_half
                continue
            row[f"ray_{workers}w_texts_per_s"] = round(n / took, 1)
            row[f"ray_{workers}w_vs_one_process"] = round(one / took, 3)
            if workers == 1:
                # Ray's extra time over one process, split by two sizes into a part per batch and a
                # fixed part (actor start, model load, the shuffle to shards, the writes)
                full, half = took - one, extra["half"]
                nb, hb = -(-n // batch), -(-(n // 2) // batch)
                per_batch = (full - half) / (nb - hb)
                row["ray_extra_s"] = round(full, 2)
                row["ray_overhead_per_batch_s"] = round(per_batch, 4)
                row["ray_fixed_overhead_s"] = round(full - per_batch * nb, 2)
            got = table.vectors_of(list(range(0, n, max(1, n // 50))))
            row[f"ray_{workers}w_max_abs_diff"] = float(np.abs(got - ref[::max(1, n // 50)]).max())
        out[f"encode_{label}"] = row
        del enc
    # a worker killed mid-encode: the output is complete and has no repeated row
    texts = reviews(min(SIZES["static_texts"], 20_000))
    marker = work / "killed"
    table = encode(texts, KillOnce(static_path, os.fspath(marker)), work / "fault", workers=2, shards=2,
                   batch_size=1000, cpus_per_worker=1.0)
    ids = [int(k) for k in table]
    out["fault_encode"] = {"worker_killed": marker.exists(), "rows": len(ids), "expected_rows": len(texts),
                           "unique_ids": len(set(ids)),
                           "checksum_ok": table.manifest.ids_checksum == ids_checksum(key_hashes(np.arange(len(texts))))}


def sharded_search(work: Path, static_path: str, out: dict) -> None:
    import omnivec
    from omnivec.distributed import ShardedIndex, write_shards
    from omnivec.distributed.encoding import make_encoder
    from omnivec.errors import ShardError
    from omnivec.search import build_index

    n = SIZES["table_rows"]
    texts = reviews(min(n, 100_000))
    X = make_encoder(static_path).encode(texts)
    if n > len(X):     # more rows than reviews: each review again with its words' order reversed
        extra = make_encoder(static_path).encode([" ".join(t.split()[::-1]) + " ." for t in texts])
        X = np.concatenate([X] + [extra] * (-(-(n - len(X)) // len(extra))))[:n]
    emb = omnivec.Embeddings(np.arange(n, dtype=np.int64), X)
    t = time.perf_counter()
    sharded = write_shards(emb, work / "table.ovs", 4)
    row = {"rows": n, "dim": int(X.shape[1]), "shards": 4, "write_s": round(time.perf_counter() - t, 2)}
    union = sharded.to_embeddings()
    rng = np.random.default_rng(0)
    Q = X[rng.choice(n, SIZES["queries"], replace=False)] + 0.01 * rng.standard_normal(
        (SIZES["queries"], X.shape[1])).astype(np.float32)
    want = union.search(Q, 10)
    t = time.perf_counter()
    idx = ShardedIndex.build(sharded.manifest.path, "hnsw", M=16, ef_construction=100)
    row["hnsw_build_and_serve_s"] = round(time.perf_counter() - t, 2)
    got = idx.search(Q, 10, exact=True)
    row["exact_identical_rows"] = int((got.ids == want.ids).all(axis=1).sum())
    row["exact_queries"] = len(Q)
    row["exact_max_score_diff"] = float(np.abs(got.scores - want.scores).max())
    one = build_index(union, "hnsw", M=16, ef_construction=100)
    exact = [set(r) for r in want.ids.tolist()]

    def recall(ids):
        return float(np.mean([len(set(r) & e) / 10 for r, e in zip(ids.tolist(), exact)]))

    row["hnsw_recall_sharded"] = round(recall(idx.search(Q, 10).ids), 4)
    row["hnsw_recall_one_index"] = round(recall(one.search(Q, 10).ids), 4)

    def per_query(fn):
        times = []
        for q in Q[:50]:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    one_exact = per_query(lambda q: union.search(q, 10))
    one_hnsw = per_query(lambda q: one.search(q, 10))
    sh_exact = per_query(lambda q: idx.search(q, 10, exact=True))
    sh_hnsw = per_query(lambda q: idx.search(q, 10))
    row.update(one_process_exact_ms=round(one_exact * 1e3, 3), sharded_exact_ms=round(sh_exact * 1e3, 3),
               one_process_hnsw_ms=round(one_hnsw * 1e3, 3), sharded_hnsw_ms=round(sh_hnsw * 1e3, 3),
               added_ms_per_query_hnsw=round((sh_hnsw - one_hnsw) * 1e3, 3),
               added_ms_per_query_exact=round((sh_exact - one_exact) * 1e3, 3),
               query_bytes=int(Q[0].nbytes), answer_bytes_per_shard=10 * (8 + 4))
    info = idx.info()
    per_node: dict[str, int] = {}
    for i in info:
        per_node[i["node"][:8]] = per_node.get(i["node"][:8], 0) + i["rss_bytes"]
    row["actor_rss_mib_per_node"] = {k: round(v / 2**20, 1) for k, v in per_node.items()}
    row["vector_mib_per_shard"] = round(X.nbytes / 4 / 2**20, 1)
    row["driver_rss_mib"] = round(rss() / 2**20, 1)
    # a shard actor killed while searches run: every search either answers in full or raises ShardError
    outcomes = {"full": 0, "short": 0, "shard_error": 0, "other_error": 0}
    named = set()
    stop = threading.Event()

    def searcher():
        while not stop.is_set():
            try:
                r = idx.search(Q[:5], 10)
                outcomes["full" if r.ids.shape == (5, 10) else "short"] += 1
            except ShardError as exc:
                outcomes["shard_error"] += 1
                named.update(exc.shards)
                stop.set()
            except Exception:
                outcomes["other_error"] += 1
                stop.set()

    th = threading.Thread(target=searcher)
    th.start()
    time.sleep(1.0)
    os.kill(info[2]["pid"], signal.SIGKILL)
    th.join(timeout=60)
    stop.set()
    out["fault_search"] = {**outcomes, "shards_named": sorted(named)}
    idx.close()
    out["sharded_table"] = row


def sweep(work: Path, out: dict) -> None:
    from omnivec.distributed import tune
    from omnivec.evaluate.analogy import evaluate_analogies
    from omnivec.learn import get_learner

    corpus = work / "imdb.txt"
    corpus.write_text("\n".join(t.lower() for t in reviews(SIZES["sweep_reviews"])) + "\n", encoding="utf-8")
    space = {"lr": [0.025, 0.05], "window": [3, 5], "negative": [5, 10]}
    fixed = {"dim": 100, "epochs": SIZES["sweep_epochs"], "min_count": 5, "seed": 1}
    t = time.perf_counter()
    result = tune("word2vec", space, source=os.fspath(corpus), metric="analogy",
                  metric_args={"questions": os.fspath(QUESTIONS)}, fixed=fixed, out_dir=work / "sweep",
                  cpus_per_trial=1)
    ray_s = time.perf_counter() - t
    t = time.perf_counter()
    seq_best = -1.0
    for lr in space["lr"]:
        for window in space["window"]:
            for negative in space["negative"]:
                model = get_learner("word2vec")(**fixed, lr=lr, window=window, negative=negative,
                                                workers=1).fit(os.fspath(corpus))
                seq_best = max(seq_best, evaluate_analogies(model, os.fspath(QUESTIONS)).accuracy)
    seq_s = time.perf_counter() - t
    best = result.best
    out["sweep"] = {"trials": len(result.trials), "reviews": SIZES["sweep_reviews"], "epochs": fixed["epochs"],
                    "best_params": best["params"], "best_analogy_accuracy": round(best["score"], 4),
                    "sequential_best_analogy_accuracy": round(seq_best, 4),
                    "ray_s": round(ray_s, 1), "sequential_s": round(seq_s, 1),
                    "ray_vs_sequential": round(seq_s / ray_s, 3)}


def inside() -> None:
    from omnivec.distributed.cluster import LocalCluster, connect
    from omnivec.encode import distill

    out: dict = {"bench": "ray_scale", "machine": f"{os.cpu_count()} cores, two Ray nodes on one machine "
                 "(overhead and correctness, not speed-up)", "full": FULL, "sizes": SIZES}
    work = Path(tempfile.mkdtemp(prefix="ray-scale-"))
    OUT.mkdir(exist_ok=True)
    static_path = os.fspath(OUT / f"ray_scale_static_{SIZES['static_vocabulary'] or 'all'}.ov")
    if not os.path.exists(static_path):
        say("distilling the static model from all-MiniLM-L6-v2")
        options = {} if SIZES["static_vocabulary"] is None else {"max_vocabulary": SIZES["static_vocabulary"]}
        distill("all-MiniLM-L6-v2", pca_dims=256, progress=False, **options).save(static_path)
    say("starting the two-node cluster")
    t = time.perf_counter()
    with LocalCluster(nodes=2, cpus=2, object_store_bytes=(1500 if FULL else 400) << 20) as cluster:
        out["cluster_start_s"] = round(time.perf_counter() - t, 1)
        ray = connect(cluster.address)
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            time.sleep(0.2)
        out["nodes"] = sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"])
        for step in (encoding, sharded_search):
            say(step.__name__)
            t = time.perf_counter()
            step(work, static_path, out)
            out[f"{step.__name__}_s"] = round(time.perf_counter() - t, 1)
        say("sweep")
        t = time.perf_counter()
        sweep(work, out)
        out["sweep_s"] = round(time.perf_counter() - t, 1)
        ray.shutdown()
    print(json.dumps(out), flush=True)


def main() -> int:
    if os.environ.get("OMNIVEC_BENCH_ISOLATED") == "1":
        inside()
        return 0
    from omnivec.distributed.cluster import isolation_available, run_isolated

    ok, why = isolation_available()
    if not ok:
        print(json.dumps({"bench": "ray_scale", "skipped": why}))
        return 0
    env = dict(os.environ, OMNIVEC_BENCH_ISOLATED="1", RAY_USAGE_STATS_ENABLED="0", HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = run_isolated([sys.executable, os.fspath(Path(__file__).resolve()), *sys.argv[1:]],
                        timeout=7200 if FULL else 1500, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    sys.stderr.write("\n".join(ln for ln in proc.stderr.splitlines() if ln.startswith("[ray_scale")) + "\n")
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        return 1
    print(lines[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
