"""The model file and queries, side by side with gensim (and pymagnitude where it runs).

One run prints one JSON line: for each measurement our figure, gensim's, and
the ratio (>1 means omnivec is faster / smaller).  Every timed step runs in a
fresh subprocess where process state matters (open, import, first query), so
peak RSS and cold-start figures are the process's own.

    python bench/store_vs_gensim.py                # 1,000,000 x 300, the issue's setting
    python bench/store_vs_gensim.py --n 100000     # a quicker look

Data: bench/_data.py's fixed-seed clustered vectors with word-like keys,
written once as word2vec text under bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402

# Code run in child processes: each prints one JSON object on its last line.
CHILD_PRELUDE = r"""
import json, os, resource, sys, time
def rss_mb():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
def peak_mb():
    # VmHWM belongs to this process's own address space; ru_maxrss would inherit the
    # parent's high-water mark across fork+exec.
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
"""

CHILD = {
    "ours_import": r"""
import omnivec
from omnivec.store.formats import import_vectors
t = time.perf_counter()
emb, report = import_vectors(sys.argv[1], sys.argv[2], format="word2vec", progress=False)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "peak_mb": peak_mb(), "rows": report.rows}))
""",
    "gensim_import": r"""
from gensim.models import KeyedVectors
t = time.perf_counter()
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=False)
dt = time.perf_counter() - t
kv.save(sys.argv[2])
print(json.dumps({"seconds": dt, "peak_mb": peak_mb(), "rows": len(kv)}))
""",
    "queries": r"""
import numpy as np, omnivec
from gensim.models import KeyedVectors
path_ov, path_i8, path_i8r, path_kv, nq, reps = sys.argv[1:5] + [int(sys.argv[5]), int(sys.argv[6])]
emb = omnivec.load(path_ov)
emb8 = omnivec.load(path_i8)
emb8r = omnivec.load(path_i8r)
kv = KeyedVectors.load(path_kv, mmap="r")
rng = np.random.default_rng(7)
n = len(emb)
keys = [emb.key(int(r)) for r in rng.integers(0, n, 5000)]
res = {}
def med(f, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
import statistics
# warm both (page cache, lazily built norms, compiled kernels)
for m in (emb, emb8, emb8r, kv):
    m.most_similar(keys[0], topn=10)
# one-key lookup: per-lookup time over 5000 random keys, median of reps
def one(lookup):
    def run():
        for k in keys:
            lookup(k)
    return med(run, reps) / len(keys)
res["lookup1_ours_us"] = one(emb.__getitem__) * 1e6
res["lookup1_gensim_us"] = one(kv.__getitem__) * 1e6
batch = keys[:1000]
res["lookup1000_ours_ms"] = med(lambda: emb[batch], reps * 5) * 1e3
res["lookup1000_gensim_ms"] = med(lambda: kv[batch], reps * 5) * 1e3
qkeys = keys[1000:1000 + nq]
def ms(model):
    out = []
    for k in qkeys:
        t = time.perf_counter(); r = model.most_similar(k, topn=10); out.append(time.perf_counter() - t)
    return statistics.median(out)
ours, gens, ours8, ours8r = [], [], [], []
for _ in range(reps):   # interleaved so load changes hit all alike
    ours.append(ms(emb)); gens.append(ms(kv)); ours8.append(ms(emb8)); ours8r.append(ms(emb8r))
res["most_similar_ours_ms"] = statistics.median(ours) * 1e3
res["most_similar_gensim_ms"] = statistics.median(gens) * 1e3
res["most_similar_int8_ms"] = statistics.median(ours8) * 1e3
res["most_similar_int8_rerank_ms"] = statistics.median(ours8r) * 1e3
res["bytes_f32"] = int(emb.store.nbytes)
res["bytes_int8"] = int(emb8.store.nbytes)
agree = same10 = same10r = recall = 0
for k in qkeys:
    a = [w for w, _ in kv.most_similar(k, topn=10)]
    b = [w for w, _ in emb.most_similar(k, topn=10)]
    c = [w for w, _ in emb8.most_similar(k, topn=10)]
    d = [w for w, _ in emb8r.most_similar(k, topn=10)]
    agree += a == b
    same10 += set(a) == set(c)
    same10r += set(a) == set(d)
    recall += len(set(a) & set(c)) / 10
res["top10_identical_f32_vs_gensim"] = agree / len(qkeys)
res["top10_same_set_int8_vs_gensim"] = same10 / len(qkeys)
res["recall10_int8_vs_gensim"] = recall / len(qkeys)
res["top10_same_set_int8_rerank_vs_gensim"] = same10r / len(qkeys)
print(json.dumps(res))
""",
}


# Open a model and look one key up (timed, with RSS growth), then two queries: the first
# after open (cold) and a second.  LOAD is each tool's way to open its own native file.
OPEN_CHILD = r"""
IMPORTS
key = sys.argv[2]
before = rss_mb()
t = time.perf_counter()
emb = LOAD
v = emb[key]
t_open = time.perf_counter() - t
grow = rss_mb() - before
t = time.perf_counter()
emb.most_similar(key, topn=10)
t_first = time.perf_counter() - t
t = time.perf_counter()
emb.most_similar(key, topn=10)
t_second = time.perf_counter() - t
print(json.dumps({"open_s": t_open, "rss_growth_mb": grow, "first_query_s": t_first,
                  "second_query_s": t_second}))
"""
CHILD["ours_open"] = OPEN_CHILD.replace("IMPORTS", "import omnivec").replace("LOAD", "omnivec.open(sys.argv[1])")
CHILD["gensim_open"] = OPEN_CHILD.replace("IMPORTS", "from gensim.models import KeyedVectors").replace(
    "LOAD", 'KeyedVectors.load(sys.argv[1], mmap="r")')


def child(name: str, *args: str, python: str = sys.executable, timeout: float = 3600) -> dict:
    """Return the JSON result of one child measurement run in a fresh process."""
    code = CHILD_PRELUDE + CHILD[name]
    proc = subprocess.run([python, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in runs)


MAGNITUDE_STATUS = (
    "not run: pymagnitude 0.1.143 does not build on Python 3.11 (its bundled pysqlite2 and APSW "
    "C sources use CPython APIs removed since 3.9: PyCode_New's signature, PyFrameObject and "
    "PyThreadState.frame); on Python 3.8 it builds, but importing it imports PyTorch (for its "
    "bundled AllenNLP ELMo) and the only PyTorch build available offline here is for Python 3.11")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each process-level measurement")
    ap.add_argument("--queries", type=int, default=20, help="most_similar queries per round")
    args = ap.parse_args()

    keys, vectors, text = _data.dataset(args.n, args.dim)
    del vectors
    out = _data.OUT
    ov, ov8, kvp = out / f"{text.stem}.ov", out / f"{text.stem}.int8.ov", out / f"{text.stem}.kv"
    ov8r = out / f"{text.stem}.int8r.ov"
    probe_key = keys[len(keys) // 2]

    ours_imp, gen_imp = [], []
    for _ in range(args.repeats):  # interleaved: machine load hits both alike
        ours_imp.append(child("ours_import", text, ov))
        gen_imp.append(child("gensim_import", text, kvp))
    import omnivec

    omnivec.load(ov).save(ov8, storage="int8")
    omnivec.load(ov).save(ov8r, storage="int8", rerank="float16")

    ours_open, gen_open = [], []
    for _ in range(args.repeats):
        ours_open.append(child("ours_open", ov, probe_key))
        gen_open.append(child("gensim_open", kvp, probe_key))
    q = child("queries", ov, ov8, ov8r, kvp, args.queries, args.repeats)

    gbps = q["bytes_f32"] / (q["most_similar_ours_ms"] / 1e3) / 1e9
    gbps8 = q["bytes_int8"] / (q["most_similar_int8_ms"] / 1e3) / 1e9
    result = {
        "bench": "store_vs_gensim", "n": args.n, "dim": args.dim, "repeats": args.repeats,
        "cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0],
        "import_s": {"ours": median_of(ours_imp, "seconds"), "gensim": median_of(gen_imp, "seconds")},
        "import_peak_rss_mb": {"ours": median_of(ours_imp, "peak_mb"), "gensim": median_of(gen_imp, "peak_mb")},
        "open_s": {"ours": median_of(ours_open, "open_s"), "gensim": median_of(gen_open, "open_s")},
        "open_rss_growth_mb": {"ours": median_of(ours_open, "rss_growth_mb"),
                               "gensim": median_of(gen_open, "rss_growth_mb")},
        "first_query_after_open_s": {"ours": median_of(ours_open, "first_query_s"),
                                     "gensim": median_of(gen_open, "first_query_s")},
        "second_query_s": {"ours": median_of(ours_open, "second_query_s"),
                           "gensim": median_of(gen_open, "second_query_s")},
        "lookup_1key_us": {"ours": q["lookup1_ours_us"], "gensim": q["lookup1_gensim_us"]},
        "lookup_1000keys_ms": {"ours": q["lookup1000_ours_ms"], "gensim": q["lookup1000_gensim_ms"]},
        "most_similar_top10_ms": {"ours_f32": q["most_similar_ours_ms"], "ours_int8": q["most_similar_int8_ms"],
                                  "ours_int8_rerank_f16": q["most_similar_int8_rerank_ms"],
                                  "gensim_f32": q["most_similar_gensim_ms"]},
        "scan_gb_per_s": {"ours_f32": gbps, "ours_int8": gbps8},
        "top10_identical_f32_vs_gensim": q["top10_identical_f32_vs_gensim"],
        "top10_same_set_int8_vs_gensim": q["top10_same_set_int8_vs_gensim"],
        "recall10_int8_vs_gensim": q["recall10_int8_vs_gensim"],
        "top10_same_set_int8_rerank_vs_gensim": q["top10_same_set_int8_rerank_vs_gensim"],
    }
    ratio = lambda a, b: round(b / a, 2) if a else None  # noqa: E731  (gensim / ours: >1 = we win)
    result["ratios_gensim_over_ours"] = {
        "import_time": ratio(result["import_s"]["ours"], result["import_s"]["gensim"]),
        "import_peak_rss": ratio(result["import_peak_rss_mb"]["ours"], result["import_peak_rss_mb"]["gensim"]),
        "open_time": ratio(result["open_s"]["ours"], result["open_s"]["gensim"]),
        "lookup_1key": ratio(q["lookup1_ours_us"], q["lookup1_gensim_us"]),
        "lookup_1000keys": ratio(q["lookup1000_ours_ms"], q["lookup1000_gensim_ms"]),
        "most_similar_f32": ratio(q["most_similar_ours_ms"], q["most_similar_gensim_ms"]),
        "most_similar_int8_vs_gensim_f32": ratio(q["most_similar_int8_ms"], q["most_similar_gensim_ms"]),
        "most_similar_int8_rerank_vs_gensim_f32": ratio(q["most_similar_int8_rerank_ms"], q["most_similar_gensim_ms"]),
        "first_query_after_open": ratio(result["first_query_after_open_s"]["ours"],
                                        result["first_query_after_open_s"]["gensim"]),
    }
    result["pymagnitude"] = MAGNITUDE_STATUS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
