"""omnivec DeepWalk/node2vec vs PecanPy + gensim Word2Vec: end-to-end time, peak memory, node-classification F1.

One JSON line per configuration on stdout.  On BlogCatalog (10,312 nodes,
333,983 edges, 39 labels, multi-label) both tools run the settings of the
node2vec paper, dim 128, walk length 80, 10 walks per node, window 10, one
epoch, node2vec p = q = 0.25 and DeepWalk p = q = 1, end to end: reading the
edge list, the walks, the skip-gram training.  Each run is a fresh process
(ours: this interpreter; the anchor: PecanPy's environment, see below), so
the times include imports of the compiled kernels (both cache them on disk;
a warm-up run fills the caches first) and the peak resident memory is that
process's own (VmHWM from /proc/self/status; ru_maxrss would carry over the
high-water mark of the bench process that forked it).  Runs
alternate between the tools and the reported times are medians.
Macro/micro-F1 come from `omnivec.evaluate.nodes.node_classification`
(one-vs-rest logistic regression on 50% of the labelled nodes, the rest
predicted with each node's number of labels, `--f1-repeats` splits) for
both tools' vectors alike.  Also measured: our k-core variant (``kcore``,
time and F1), our time with 2 threads, and a table of our F1 on Cora,
CiteSeer and PubMed (single-label; their labelled nodes).

Both use one worker for a reproducible comparison.  The anchor runs PecanPy's
recommended mode for each walk (SparseOTF for node2vec: its per-edge tables
would need ~2.8 GiB on BlogCatalog; FirstOrderUnweighted for DeepWalk), and
trains with gensim's defaults as PecanPy's command line does (negative 5,
sample 1e-3, lr 0.025) - which are also ours.

PecanPy pins numpy < 2, so it lives in an environment of its own, which
`make bench` creates:

    python3 -m venv bench/.pecanpy-venv
    bench/.pecanpy-venv/bin/pip install pecanpy gensim

and the bench finds its interpreter by --pecanpy-python, else the
OMNIVEC_PECANPY_PYTHON environment variable, else bench/.pecanpy-venv.

    .venv/bin/python bench/graph_vs_pecanpy.py                       # the paper's settings
    .venv/bin/python bench/graph_vs_pecanpy.py --num-walks 2 --repeats 1   # a quick look

The paper reports macro-F1 0.2581 (node2vec) and 0.2110 (DeepWalk) at 50%.

Measured (2 shared cores, one worker, medians of 2 runs, F1 over 5 splits):
node2vec 59.8 s vs 426.9 s (7.1x), macro/micro-F1 0.2286/0.3854 vs
0.2351/0.3889; DeepWalk 49.6 s vs 224.4 s (4.5x), 0.2113/0.3730 vs
0.2132/0.3761; peak memory 193 MB vs 407 MB (node2vec) and 351 MB
(DeepWalk).  The k-core variant trades F1 for time: k = 21 (half the nodes)
1.6-2.1x faster, macro-F1 0.15-0.16.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pecanpy_anchor import peak_rss_mb  # noqa: E402  (standard library only: it runs in both environments)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "graphs"
BENCH = Path(__file__).resolve().parent

CONFIGS = {
    "node2vec": dict(p=0.25, q=0.25, mode="SparseOTF"),
    "deepwalk": dict(p=1.0, q=1.0, mode="FirstOrderUnweighted"),
}


def pecanpy_python(arg: str | None) -> str:
    for cand in (arg, os.environ.get("OMNIVEC_PECANPY_PYTHON"), BENCH / ".pecanpy-venv" / "bin" / "python"):
        if cand and Path(cand).exists():
            return str(cand)
    sys.exit("no PecanPy environment: create one (see this file's docstring) or pass --pecanpy-python")


# -- the child that runs our side ------------------------------------------------
def child(a: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    import numpy as np

    from omnivec.learn.graph import DeepWalk, Node2Vec, read_graph

    t_import = time.perf_counter()
    g = read_graph(a.edges)
    t_read = time.perf_counter()
    kw = dict(dim=a.dim, walk_length=a.walk_length, num_walks=a.num_walks, window=a.window, epochs=a.epochs,
              workers=a.workers, seed=a.seed, kcore=a.kcore, progress=False)
    learner = (DeepWalk(**kw) if a.config == "deepwalk"
               else Node2Vec(p=CONFIGS[a.config]["p"], q=CONFIGS[a.config]["q"], **kw))
    emb = learner.fit(g)
    t_train = time.perf_counter()
    np.savez(a.child_out, keys=np.array(emb.keys.keys_of(range(len(emb))), dtype=str), vectors=emb.vectors)
    run = emb.meta["training"][0]
    print(json.dumps({
        "import_s": round(t_import - t0, 3), "read_s": round(t_read - t_import, 3),
        "walks_train_s": round(t_train - t_read, 3), "total_s": round(t_train - t_import, 3),
        "peak_rss_mb": peak_rss_mb(),
        "walk_tokens": run["walk_nodes"], "walk_mode": run["walk_mode"],
        "kcore": emb.meta.get("kcore")}))


def run_ours(edges: Path, config: str, a: argparse.Namespace, out: str, *, workers: int = 1,
             kcore: int = 0, num_walks: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", config, "--edges", str(edges), "--child-out", out,
           "--workers", str(workers), "--kcore", str(kcore), "--dim", str(a.dim),
           "--walk-length", str(a.walk_length), "--num-walks", str(num_walks or a.num_walks),
           "--window", str(a.window), "--epochs", str(a.epochs), "--seed", str(a.seed)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        sys.exit(f"our run failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_anchor(py: str, edges: Path, config: str, a: argparse.Namespace, out: str) -> dict:
    c = CONFIGS[config]
    cmd = [py, str(BENCH / "_pecanpy_anchor.py"), str(edges), out, "--mode", c["mode"], "--p", str(c["p"]),
           "--q", str(c["q"]), "--dim", str(a.dim), "--walk-length", str(a.walk_length),
           "--num-walks", str(a.num_walks), "--window", str(a.window), "--epochs", str(a.epochs),
           "--workers", "1", "--seed", str(a.seed)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"the PecanPy run failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def f1(npz: str, labels: Path, a: argparse.Namespace) -> dict:
    import numpy as np

    from omnivec import Embeddings
    from omnivec.evaluate.nodes import node_classification

    z = np.load(npz)
    emb = Embeddings(list(z["keys"]), z["vectors"], name="nodes")
    rep = node_classification(emb, labels, train_ratios=(0.5,), repeats=a.f1_repeats, seed=0)
    row = rep.at(0.5)
    return {"macro_f1": round(row["macro_f1"], 4), "micro_f1": round(row["micro_f1"], 4),
            "macro_f1_std": round(row["macro_f1_std"], 4), "micro_f1_std": round(row["micro_f1_std"], 4)}


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="node2vec,deepwalk")
    ap.add_argument("--pecanpy-python", default=None)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--walk-length", type=int, default=80)
    ap.add_argument("--num-walks", type=int, default=10)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per tool (medians)")
    ap.add_argument("--f1-repeats", type=int, default=5, help="random 50%% splits per F1")
    ap.add_argument("--kcore", type=int, default=0,
                    help="k of the k-core variant (0: the core holding about half the nodes)")
    ap.add_argument("--no-table", action="store_true", help="skip the Cora/CiteSeer/PubMed table")
    ap.add_argument("--table-walks", type=int, default=None, help="walks per node for the table (default: --num-walks)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--edges", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.config = a.child
        child(a)
        return

    py = pecanpy_python(a.pecanpy_python)
    blog = DATA / "blogcatalog"
    edges, labels = blog / "edges.tsv", blog / "labels.tsv"
    tmp = tempfile.mkdtemp(prefix="omnivec-graph-bench-")
    ours_npz, theirs_npz = os.path.join(tmp, "ours.npz"), os.path.join(tmp, "theirs.npz")
    kcore = a.kcore
    if not kcore:
        sys.path.insert(0, str(ROOT / "src"))
        import numpy as np

        from omnivec.learn.graph import core_numbers, read_graph

        core = core_numbers(read_graph(edges))
        ks = np.arange(1, core.max() + 1)
        kcore = int(ks[np.argmin([abs((core >= k).mean() - 0.5) for k in ks])])
    for config in a.configs.split(","):
        # warm-up: fills both tools' compile caches, so timed runs load kernels as a user's second run does
        run_ours(edges, config, a, ours_npz, num_walks=1)
        run_anchor(py, edges, config, argparse.Namespace(**{**vars(a), "num_walks": 1}), theirs_npz)
        ours, theirs = [], []
        for _ in range(a.repeats):
            ours.append(run_ours(edges, config, a, ours_npz))
            theirs.append(run_anchor(py, edges, config, a, theirs_npz))
        f_ours, f_theirs = f1(ours_npz, labels, a), f1(theirs_npz, labels, a)
        core_run = run_ours(edges, config, a, ours_npz, kcore=kcore)
        f_core = f1(ours_npz, labels, a)
        two = run_ours(edges, config, a, ours_npz, workers=2)
        t_ours, t_theirs = median(ours, "total_s"), median(theirs, "total_s")
        print(json.dumps({
            "bench": "graph_vs_pecanpy", "dataset": "blogcatalog", "config": config,
            "p": CONFIGS[config]["p"], "q": CONFIGS[config]["q"], "dim": a.dim, "walk_length": a.walk_length,
            "num_walks": a.num_walks, "window": a.window, "epochs": a.epochs, "repeats": a.repeats,
            "anchor": f"pecanpy {CONFIGS[config]['mode']} + gensim Word2Vec", "workers": 1,
            "ours_s": t_ours, "pecanpy_s": t_theirs, "speedup": round(t_theirs / t_ours, 2),
            "ours_phases": {"read_s": median(ours, "read_s"), "walks_train_s": median(ours, "walks_train_s")},
            "pecanpy_phases": {k: median(theirs, k) for k in ("read_s", "walks_s", "train_s")},
            "ours_walk_mode": ours[0]["walk_mode"],
            "ours_peak_mb": max(r["peak_rss_mb"] for r in ours),
            "pecanpy_peak_mb": max(r["peak_rss_mb"] for r in theirs),
            "ours_f1": f_ours, "pecanpy_f1": f_theirs,
            "macro_f1_gap": round(f_ours["macro_f1"] - f_theirs["macro_f1"], 4),
            "micro_f1_gap": round(f_ours["micro_f1"] - f_theirs["micro_f1"], 4),
            "kcore": {"k": kcore, "core_nodes": core_run["kcore"]["core_nodes"], "s": core_run["total_s"],
                      "speedup_vs_ours": round(t_ours / core_run["total_s"], 2), "f1": f_core,
                      "peak_mb": core_run["peak_rss_mb"]},
            "ours_2_threads_s": two["total_s"],
            "ours_2_threads_speedup": round(t_ours / two["total_s"], 2),
        }), flush=True)
    if a.no_table:
        return
    rows = {}
    for name in ("cora", "citeseer", "pubmed"):
        d = DATA / name
        for config in a.configs.split(","):
            r = run_ours(d / "edges.tsv", config, a, ours_npz, num_walks=a.table_walks)
            rows[f"{name}/{config}"] = {**f1(ours_npz, d / "labels.tsv", a), "s": r["total_s"]}
    print(json.dumps({"bench": "graph_vs_pecanpy", "table": "ours", "num_walks": a.table_walks or a.num_walks,
                      "ratio": 0.5, "f1_repeats": a.f1_repeats, "results": rows}), flush=True)


if __name__ == "__main__":
    main()
