"""LINE on BlogCatalog: time and node-classification F1, next to node2vec and the reference LINE.

One JSON line on stdout.  In one run, on the same graph and labels:

- omnivec's LINE(1st+2nd) (dim 128 = 64 + 64, `--samples` edge samples per
  order, negative 5, lr 0.025), timed `--runs` times (median);
- the authors' reference LINE (Tang et al.'s C++ `line`, built from their
  repository: ``g++ -O3 line.cpp -o line -lgsl -lgslcblas -lm -pthread``;
  pass the binary with `--reference-line`, or leave it at bench/out/line),
  run with the same settings, first and second order at 64 dimensions, each
  normalised and concatenated as the authors' normalize/concatenate tools
  do; skipped (and said so) when the binary is absent;
- omnivec's node2vec at the node2vec paper's settings for BlogCatalog
  (dim 128, walk length 80, 10 walks per node, window 10, p = q = 0.25);
- with `--link-prediction`, LINE trained on half the edges
  (`split_edges`) and scored on the held-out half and as many non-edges
  (ROC-AUC of the Hadamard logistic regression and of the cosine).

Every table is scored by `omnivec.evaluate.nodes.node_classification`
(one-vs-rest liblinear logistic regression, top-k labels, `--repeats`
shuffled splits at 10, 50 and 90% training).  The node2vec paper's Table 2
is the published anchor at 50% (macro-F1: LINE 0.0784, node2vec 0.2581,
DeepWalk 0.2110).

    .venv/bin/python bench/line_blogcatalog.py --samples 20000000 --runs 2 --repeats 5
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "graphs" / "blogcatalog"
PUBLISHED_MACRO_F1_AT_50 = {"line": 0.0784, "node2vec": 0.2581, "deepwalk": 0.2110}


def f1_figures(report) -> dict:
    return {f"{int(round(r['ratio'] * 100))}%": {"micro_f1": round(r["micro_f1"], 4),
                                                  "macro_f1": round(r["macro_f1"], 4),
                                                  "macro_f1_std": round(r["macro_f1_std"], 4)}
            for r in report.rows()}


def read_text_vectors(path: str) -> tuple[list[str], np.ndarray]:
    with open(path, encoding="utf-8") as fh:
        n, d = map(int, fh.readline().split())
        keys, rows = [], np.empty((n, d), np.float32)
        for i, line in enumerate(fh):
            f = line.split()
            keys.append(f[0])
            rows[i] = np.asarray(f[1:d + 1], np.float32)
    return keys, rows


def reference_line(binary: str, graph, samples: int, dim: int, workers: int, tmp: str) -> tuple[float, object]:
    """Run the reference LINE (both orders) and return (seconds, the concatenated table)."""
    from omnivec import Embeddings

    net = os.path.join(tmp, "net.txt")
    if not os.path.exists(net):
        src = np.repeat(np.arange(len(graph)), np.diff(graph.indptr))
        with open(net, "w") as fh:   # every stored edge: both directions of an undirected graph
            for a, b in zip(graph.nodes[src].tolist(), graph.nodes[graph.indices].tolist()):
                fh.write(f"{a} {b} 1\n")
    millions = max(1, samples // 1_000_000)
    t0 = time.perf_counter()
    halves = []
    for order in (1, 2):
        out = os.path.join(tmp, f"ref{order}.txt")
        subprocess.run([binary, "-train", net, "-output", out, "-binary", "0", "-size", str(dim // 2),
                        "-order", str(order), "-negative", "5", "-samples", str(millions), "-rho", "0.025",
                        "-threads", str(workers)], check=True, capture_output=True)
        halves.append(out)
    seconds = time.perf_counter() - t0
    (k1, v1), (k2, v2) = (read_text_vectors(p) for p in halves)
    row2 = {k: i for i, k in enumerate(k2)}
    v2 = v2[[row2[k] for k in k1]]
    unit = [v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in (v1, v2)]
    return seconds, Embeddings(k1, np.concatenate(unit, axis=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20_000_000, help="edge samples per order (the paper's T)")
    ap.add_argument("--runs", type=int, default=2, help="timed runs of each LINE (median)")
    ap.add_argument("--repeats", type=int, default=5, help="shuffled splits per training ratio")
    ap.add_argument("--ratios", default="0.1,0.5,0.9")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reference-line", default=str(ROOT / "bench" / "out" / "line"),
                    help="the reference LINE binary (skipped when absent)")
    ap.add_argument("--no-node2vec", action="store_true", help="leave node2vec out")
    ap.add_argument("--link-prediction", action="store_true",
                    help="also hold out half the edges, train LINE on the rest and report ROC-AUC")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()

    from omnivec.evaluate.nodes import link_prediction, node_classification, read_labels, split_edges
    from omnivec.learn.graph import LINE, Node2Vec, read_graph

    ratios = tuple(float(r) for r in args.ratios.split(","))
    t0 = time.perf_counter()
    graph = read_graph(os.path.join(args.data, "edges.tsv"))
    read_seconds = time.perf_counter() - t0
    labels = read_labels(os.path.join(args.data, "labels.tsv"))

    def score(emb):
        return f1_figures(node_classification(emb, labels, train_ratios=ratios, repeats=args.repeats, seed=0))

    # compile (or load the cache) outside the timings
    LINE(dim=8, samples=1000, workers=1, progress=False).fit(graph)
    ours_times, ours = [], None
    ref_times, ref = [], None
    have_ref = os.path.isfile(args.reference_line) and os.access(args.reference_line, os.X_OK)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):       # alternate the tools so load on the machine hits both alike
            t = time.perf_counter()
            emb = LINE(dim=128, order="both", samples=args.samples, workers=args.workers, seed=1 + run,
                       progress=False).fit(graph)
            ours_times.append(time.perf_counter() - t)
            if ours is None:
                ours = emb
            if have_ref:
                seconds, table = reference_line(args.reference_line, graph, args.samples, 128, args.workers, tmp)
                ref_times.append(seconds)
                if ref is None:
                    ref = table
    result = {
        "bench": "line_blogcatalog", "nodes": len(graph), "edges": graph.num_edges,
        "samples_per_order": args.samples, "workers": args.workers, "repeats": args.repeats,
        "read_seconds": round(read_seconds, 3),
        "line": {"seconds": round(statistics.median(ours_times), 2), "runs": [round(x, 2) for x in ours_times],
                 "f1": score(ours)},
    }
    if have_ref:
        med = statistics.median(ref_times)
        result["reference_line"] = {"seconds": round(med, 2), "runs": [round(x, 2) for x in ref_times],
                                    "f1": score(ref)}
        result["speedup_vs_reference"] = round(med / statistics.median(ours_times), 2)
        ours_mac = result["line"]["f1"].get("50%", {}).get("macro_f1")
        ref_mac = result["reference_line"]["f1"].get("50%", {}).get("macro_f1")
        if ours_mac is not None and ref_mac is not None:
            result["macro_f1_at_50_minus_reference"] = round(ours_mac - ref_mac, 4)
    else:
        result["reference_line"] = f"skipped: no binary at {args.reference_line}"
    if not args.no_node2vec:
        t = time.perf_counter()
        n2v = Node2Vec(dim=128, walk_length=80, num_walks=10, window=10, p=0.25, q=0.25,
                       workers=args.workers, seed=1, progress=False).fit(graph)
        result["node2vec"] = {"seconds": round(time.perf_counter() - t, 2), "f1": score(n2v)}
        result["line_time_vs_node2vec"] = round(statistics.median(ours_times) / result["node2vec"]["seconds"], 3)
    if args.link_prediction:
        split = split_edges(graph, 0.5, seed=0)
        held = LINE(dim=128, order="both", samples=args.samples, workers=args.workers, seed=1,
                    progress=False).fit(split.train)
        lp = link_prediction(held, split)
        result["line_link_prediction"] = {"auc_hadamard": round(lp.auc, 4), "auc_cosine": round(lp.cosine_auc, 4),
                                          "held_out_edges": len(split.test_pos)}
    result["published_macro_f1_at_50"] = PUBLISHED_MACRO_F1_AT_50
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
