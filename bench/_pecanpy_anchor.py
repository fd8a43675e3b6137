"""The anchor side of bench/graph_vs_pecanpy.py: PecanPy walks + gensim Word2Vec, in PecanPy's own environment.

Run by the bench with the interpreter of an environment holding pecanpy and
gensim (PecanPy pins numpy < 2, so it cannot share omnivec's); it imports
nothing from omnivec.  Prints one JSON line: phase times (read, walks,
training), the process's peak resident memory, and where the vectors went
(an .npz of keys and vectors).

    python _pecanpy_anchor.py EDGES OUT.npz --mode SparseOTF --p 0.25 --q 0.25 \
        --dim 128 --walk-length 80 --num-walks 10 --window 10 --workers 1 --seed 1
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("edges")
    ap.add_argument("out")
    ap.add_argument("--mode", default="SparseOTF")
    ap.add_argument("--p", type=float, default=1.0)
    ap.add_argument("--q", type=float, default=1.0)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--walk-length", type=int, default=80)
    ap.add_argument("--num-walks", type=int, default=10)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--directed", action="store_true")
    a = ap.parse_args()

    t0 = time.perf_counter()
    import numpy as np
    from gensim.models import Word2Vec
    from pecanpy import pecanpy

    t_import = time.perf_counter()
    g = getattr(pecanpy, a.mode)(p=a.p, q=a.q, workers=a.workers, verbose=False, random_state=a.seed)
    g.read_edg(a.edges, weighted=False, directed=a.directed)
    t_read = time.perf_counter()
    if a.mode in ("PreComp", "PreCompFirstOrder"):
        g.preprocess_transition_probs()
    walks = g.simulate_walks(num_walks=a.num_walks, walk_length=a.walk_length)
    t_walks = time.perf_counter()
    # PecanPy's own command line trains exactly this (gensim defaults otherwise)
    model = Word2Vec(walks, vector_size=a.dim, window=a.window, min_count=0, sg=1, workers=a.workers,
                     epochs=a.epochs, seed=a.seed)
    t_train = time.perf_counter()
    keys = list(model.wv.index_to_key)
    np.savez(a.out, keys=np.array(keys, dtype=str), vectors=model.wv.vectors.astype(np.float32))
    print(json.dumps({
        "import_s": round(t_import - t0, 3), "read_s": round(t_read - t_import, 3),
        "walks_s": round(t_walks - t_read, 3), "train_s": round(t_train - t_walks, 3),
        "total_s": round(t_train - t_import, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "walk_tokens": int(sum(len(w) for w in walks)),
    }))


if __name__ == "__main__":
    main()
