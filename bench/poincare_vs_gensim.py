"""omnivec Poincaré embeddings vs gensim's PoincareModel: training time and reconstruction (mean rank, MAP).

One JSON line per configuration on stdout (progress lines carry a "progress" key):

- ``mammal`` at each dim: both tools train with the same settings (epochs
  after burn-in, burn-in epochs and learning-rate factor, negatives, lr,
  batch size 10, regularisation, init range, eps), one after the other so
  load on the shared machine hits both alike; our time is the median of
  ``--repeats`` runs, gensim's of ``--gensim-repeats``; both tables are
  scored by the same reconstruction evaluation (the paper's protocol,
  omnivec.evaluate.hierarchy; tests/evaluate/test_hierarchy.py shows it equals
  gensim's ReconstructionEvaluation).  gensim draws negatives in proportion to
  degree in both phases; we report our default sampling (the reference
  implementation's: degree ** 0.75 during burn-in, uniform after) and ours
  with gensim's sampling side by side.
- ``nouns`` at each dim: the WordNet noun closure (743,241 relations) is too
  large for gensim to train to the end on two shared cores, so both tools are
  timed on the same relations per second basis: ours on ``--noun-epochs``
  whole epochs, gensim on ``--gensim-relations`` relations through
  PoincareModel's own batch step (a fixed fraction of an epoch, said in the
  JSON); the ratio is of seconds per epoch.
- ``nouns-equal`` at each dim (not in the default run): both tools trained
  alike on the whole noun closure for ``--equal-burn-in`` + ``--equal-epochs``
  epochs (gensim's part takes minutes per epoch), both evaluated: MAP and mean
  rank at equal epochs.
- ``nouns-converge``: ours at dim 10 trained within ``--budget-minutes``
  (a callback ends training when the next epoch would not fit), then the full
  reconstruction evaluation and the distance to the paper's figures.

    .venv/bin/python bench/poincare_vs_gensim.py                       # everything (about 40 minutes)
    .venv/bin/python bench/poincare_vs_gensim.py --datasets mammal --dims 10 --repeats 1
    .venv/bin/python bench/poincare_vs_gensim.py --datasets nouns-converge --budget-minutes 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "poincare")
FILES = {"mammal": "mammal_closure.tsv", "nouns": "wordnet_noun_closure.tsv.gz"}
# Nickel & Kiela (2017), WordNet noun reconstruction at dim 10, as the issue quotes them
PAPER = {"map": 0.87, "mean_rank": 4.02}


def log(**what) -> None:
    print(json.dumps({"progress": what}), file=sys.stderr, flush=True)


def ours(rel, dim: int, a, *, epochs: int, burn_in: int, seed: int, callbacks=(), **extra):
    from omnivec.learn.poincare import Poincare

    learner = Poincare(dim=dim, epochs=epochs, burn_in=burn_in, negative=a.negatives, lr=a.lr,
                       burn_in_factor=a.burn_in_factor, batch_size=a.batch_size, regularization=a.regularization,
                       workers=a.workers, seed=seed, progress=False, callbacks=callbacks, **extra)
    t = time.perf_counter()
    emb = learner.fit(rel)
    return emb, time.perf_counter() - t, learner


def gensim_model(rel, dim: int, a, *, burn_in: int, seed: int):
    from gensim.models.poincare import PoincareModel

    pairs = [(rel.keys[c], rel.keys[p]) for c, p in zip(rel.child, rel.parent)]
    t = time.perf_counter()
    model = PoincareModel(pairs, size=dim, alpha=a.lr, negative=a.negatives, workers=1, epsilon=1e-5,
                          regularization_coeff=a.regularization, burn_in=burn_in,
                          burn_in_alpha=a.lr / a.burn_in_factor, init_range=(-0.001, 0.001), seed=seed)
    return model, time.perf_counter() - t


def gensim_table(model):
    import omnivec

    kv = model.kv
    return omnivec.Embeddings(list(kv.index_to_key), kv.vectors.astype(np.float32), metric="poincare")


def quality(emb, rel, sample=None) -> dict:
    from omnivec.evaluate.hierarchy import reconstruction

    r = reconstruction(emb, rel, sample=sample)
    return {"mean_rank": round(r.mean_rank, 3), "map": round(r.map, 4), "eval_seconds": round(r.seconds, 2),
            "evaluated_relations": r.relations}


def run_mammal(rel, dim: int, a) -> dict:
    times, gtimes, first, gfirst = [], [], None, None
    for i in range(max(a.repeats, a.gensim_repeats)):
        if i < a.repeats:
            emb, t, _ = ours(rel, dim, a, epochs=a.epochs, burn_in=a.burn_in, seed=a.seed)
            times.append(t)
            first = first or emb
            log(dataset="mammal", dim=dim, tool="omnivec", run=i, seconds=round(t, 2))
        if i < a.gensim_repeats:
            model, build = gensim_model(rel, dim, a, burn_in=a.burn_in, seed=a.seed)
            t = time.perf_counter()
            model.train(epochs=a.epochs, batch_size=a.batch_size, print_every=10**9)
            gtimes.append(time.perf_counter() - t + build)
            gfirst = gfirst or model
            log(dataset="mammal", dim=dim, tool="gensim", run=i, seconds=round(gtimes[-1], 2))
    same, _, _ = ours(rel, dim, a, epochs=a.epochs, burn_in=a.burn_in, seed=a.seed,
                      burn_in_exponent=1.0, ns_exponent=1.0)
    q_ours, q_gensim, q_same = quality(first, rel), quality(gensim_table(gfirst), rel), quality(same, rel)
    t_ours, t_gensim = statistics.median(times), statistics.median(gtimes)
    return {"dataset": "mammal", "dim": dim, "relations": len(rel), "nodes": rel.n_nodes,
            "settings": settings(a, a.epochs),
            "omnivec": {"seconds": round(t_ours, 3), "runs": len(times), **q_ours},
            "omnivec_gensim_sampling": q_same,
            "gensim": {"seconds": round(t_gensim, 3), "runs": len(gtimes), **q_gensim},
            "speedup": round(t_gensim / t_ours, 1),
            "map_difference": round(q_ours["map"] - q_gensim["map"], 4),
            "target_10x_at_equal_or_better_map": bool(t_gensim / t_ours >= 10 and q_ours["map"] >= q_gensim["map"]),
            "note": "times are training (gensim: vocabulary build + train); reconstruction by "
                    "omnivec.evaluate.hierarchy on both tables (the paper's protocol)"}


def run_nouns(rel, dim: int, a) -> dict:
    emb, t, learner = ours(rel, dim, a, epochs=a.noun_epochs, burn_in=0, seed=a.seed)
    # the epochs' own time: the setup (related-node lists, alias tables, loading the compiled
    # kernels) is paid once per fit, not per epoch, and is reported apart
    per_epoch = emb.meta["training"]["train_seconds"] / a.noun_epochs
    log(dataset="nouns", dim=dim, tool="omnivec", seconds=round(t, 2))
    model, build = gensim_model(rel, dim, a, burn_in=0, seed=a.seed)
    log(dataset="nouns", dim=dim, tool="gensim", build_seconds=round(build, 2))
    rng = np.random.default_rng(a.seed)
    order = rng.permutation(len(model.all_relations))[:a.gensim_relations]
    model.alpha = a.lr
    done = 0
    t0 = time.perf_counter()
    for s in range(0, len(order), a.batch_size):
        model._train_on_batch([model.all_relations[i] for i in order[s:s + a.batch_size]])
        done += len(order[s:s + a.batch_size])
    g = time.perf_counter() - t0
    g_epoch = g / done * len(rel)
    log(dataset="nouns", dim=dim, tool="gensim", relations=done, seconds=round(g, 2))
    return {"dataset": "nouns", "dim": dim, "relations": len(rel), "nodes": rel.n_nodes,
            "settings": settings(a, a.noun_epochs),
            "omnivec": {"epochs": a.noun_epochs, "seconds_per_epoch": round(per_epoch, 2),
                        "fit_seconds": round(t, 2),
                        "relations_per_second": round(len(rel) / per_epoch)},
            "gensim": {"relations_timed": done, "fraction_of_epoch": round(done / len(rel), 4),
                       "seconds": round(g, 2), "seconds_per_epoch_extrapolated": round(g_epoch, 1),
                       "relations_per_second": round(done / g), "vocabulary_build_seconds": round(build, 2)},
            "speedup_per_epoch": round(g_epoch / per_epoch, 1),
            "note": f"gensim trained on {done} relations ({done / len(rel):.1%} of one epoch) through "
                    "PoincareModel's own batch step (_train_on_batch: negatives, gradients, update), "
                    "its epoch time extrapolated; the full noun closure at gensim's speed would take "
                    "hours per configuration on two shared cores, so MAP is compared on the mammal "
                    "closure and reported for ours in nouns-converge"}


def run_converge(rel, a) -> dict:
    budget = a.budget_minutes * 60.0
    start = time.perf_counter()
    seen: list = []

    def stop_in_time(report) -> None:
        seen.append(report.seconds)
        elapsed = time.perf_counter() - start
        if elapsed + 1.1 * max(seen[-3:]) > budget:
            raise KeyboardInterrupt      # the Ctrl-C path: training ends, the vectors are kept

    emb, t, learner = ours(rel, 10, a, epochs=a.converge_epochs, burn_in=a.burn_in, seed=a.seed,
                           callbacks=[stop_in_time], ns_exponent=a.converge_negative_exponent)
    q = quality(emb, rel)
    tr = emb.meta["training"]
    return {"dataset": "nouns-converge", "dim": 10, "relations": len(rel), "nodes": rel.n_nodes,
            "settings": {**settings(a, a.converge_epochs), "negative_exponent": a.converge_negative_exponent},
            "budget_minutes": a.budget_minutes,
            "epochs_done": tr["epochs_done"], "stopped_by_budget": tr["interrupted"],
            "train_seconds": round(t, 1), "omnivec": q, "paper": PAPER,
            "map_gap": round(PAPER["map"] - q["map"], 4),
            "mean_rank_gap": round(q["mean_rank"] - PAPER["mean_rank"], 2),
            "epoch_loss_last": tr["epoch_loss"][-3:]}


def settings(a, epochs: int) -> dict:
    return {"epochs": epochs, "burn_in": a.burn_in, "burn_in_factor": a.burn_in_factor, "negatives": a.negatives,
            "lr": a.lr, "batch_size": a.batch_size, "regularization": a.regularization, "workers": a.workers,
            "seed": a.seed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="mammal,nouns,nouns-converge")
    ap.add_argument("--dims", default="10,50")
    ap.add_argument("--epochs", type=int, default=50, help="mammal: epochs after burn-in (both tools)")
    ap.add_argument("--burn-in", type=int, default=10)
    ap.add_argument("--burn-in-factor", type=float, default=10.0)
    ap.add_argument("--negatives", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--regularization", type=float, default=0.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gensim-repeats", type=int, default=1)
    ap.add_argument("--noun-epochs", type=int, default=2, help="nouns: our timed epochs")
    ap.add_argument("--gensim-relations", type=int, default=20000, help="nouns: relations gensim is timed on")
    ap.add_argument("--budget-minutes", type=float, default=15.0)
    ap.add_argument("--equal-epochs", type=int, default=1, help="nouns-equal: epochs after burn-in (both tools)")
    ap.add_argument("--equal-burn-in", type=int, default=1, help="nouns-equal: burn-in epochs (both tools)")
    ap.add_argument("--converge-epochs", type=int, default=1000, help="nouns-converge: most epochs (the budget "
                    "usually ends training first)")
    ap.add_argument("--converge-negative-exponent", type=float, default=0.75,
                    help="nouns-converge: negatives after burn-in drawn in proportion to degree ** this "
                         "(0.75 reached a higher MAP in 30 epochs than uniform draws)")
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from omnivec.learn.poincare import read_relations

    dims = [int(d) for d in a.dims.split(",") if d]
    cache: dict = {}

    def load(name):
        if name not in cache:
            t = time.perf_counter()
            cache[name] = read_relations(os.path.join(a.data, FILES[name]))
            log(read=name, relations=len(cache[name]), seconds=round(time.perf_counter() - t, 2))
        return cache[name]

    for name in [d for d in a.datasets.split(",") if d]:
        if name == "mammal":
            for dim in dims:
                print(json.dumps(run_mammal(load("mammal"), dim, a)), flush=True)
        elif name == "nouns":
            for dim in dims:
                print(json.dumps(run_nouns(load("nouns"), dim, a)), flush=True)
        elif name == "nouns-equal":
            # both tools trained alike on the whole noun closure for a few epochs, both evaluated
            eq = argparse.Namespace(**{**vars(a), "epochs": a.equal_epochs, "burn_in": a.equal_burn_in,
                                       "repeats": 1, "gensim_repeats": 1})
            for dim in dims:
                res = run_mammal(load("nouns"), dim, eq)
                res["dataset"] = "nouns-equal"
                print(json.dumps(res), flush=True)
        elif name == "nouns-converge":
            print(json.dumps(run_converge(load("nouns"), a)), flush=True)
        else:
            ap.error(f"unknown dataset {name!r}: mammal, nouns, nouns-equal, nouns-converge")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
