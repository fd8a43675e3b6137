"""omnivec KGE vs PyKEEN: time per epoch, filtered test MRR, and evaluator agreement.

One JSON line per model x dataset on stdout.  For every seed the two tools
train with the same settings (model, rank, loss, negatives, optimiser,
learning rate, batch size, epochs, constraints, no regulariser) one after
the other, so load on the shared machine hits both alike; we report medians
of the per-epoch wall and CPU (all threads) times, their ratios, the mean
filtered test MRR of each tool
over the seeds, the time of one filtered test evaluation (both sides) per
tool, and - on our seed-0 vectors loaded into the PyKEEN model - PyKEEN's
filtered MRR next to ours (the evaluators must agree).

    .venv/bin/python bench/kge_vs_pykeen.py --datasets nations --seeds 3 --epochs 50
    .venv/bin/python bench/kge_vs_pykeen.py --datasets kinships,umls --seeds 3 --epochs 20 \
        --batch-size 512
    .venv/bin/python bench/kge_vs_pykeen.py --datasets fb15k237 --seeds 1 --epochs 1 \
        --timing-only --batch-size 1024

Datasets are read from ../shared/data/kg/<name> (train/valid/test, .txt or
.txt.gz); both tools get the same label <-> id maps.  Needs torch (install
torch==2.13.0 first for the CPU build) and pykeen.
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
DATA = os.path.join(ROOT, "..", "shared", "data", "kg")

# Same settings on both sides; PyKEEN's own defaults for constraints are kept
# (TransE/DistMult: unit-norm entities) and its default regularisers turned off.
SETTINGS = {
    "transe": dict(loss="margin", margin=1.0, p=1, normalize_entities=True),
    "distmult": dict(loss="softplus", normalize_entities=True),
    "complex": dict(loss="softplus", normalize_entities=False),
    "rotate": dict(loss="nssa", margin=9.0, adversarial_temperature=1.0, p=2, normalize_entities=False),
}
PYKEEN_NAMES = {"transe": "TransE", "distmult": "DistMult", "complex": "ComplEx", "rotate": "RotatE"}


def load_dataset(name: str, data_root: str):
    from omnivec.learn.kge import load_triples

    return load_triples(os.path.join(data_root, name), require=("train", "valid", "test"))


def pykeen_factories(ds):
    from pykeen.triples import TriplesFactory

    e2i = {e: i for i, e in enumerate(ds.entities)}
    r2i = {r: i for i, r in enumerate(ds.relations)}
    import torch

    return {s: TriplesFactory(mapped_triples=torch.as_tensor(ds.splits[s], dtype=torch.long),
                              entity_to_id=e2i, relation_to_id=r2i) for s in ("train", "valid", "test")}


def pykeen_model(model, tf, dim, seed):
    import torch
    from pykeen import losses, models

    st = SETTINGS[model]
    loss = {"margin": lambda: losses.MarginRankingLoss(margin=st.get("margin", 1.0)),
            "softplus": lambda: losses.SoftplusLoss(),
            "nssa": lambda: losses.NSSALoss(margin=st["margin"],
                                            adversarial_temperature=st["adversarial_temperature"])}[st["loss"]]()
    torch.manual_seed(seed)
    kw = dict(triples_factory=tf, embedding_dim=dim, loss=loss, random_seed=seed)
    if model == "transe":
        return models.TransE(scoring_fct_norm=st["p"], regularizer=None, **kw)
    if model == "distmult":
        return models.DistMult(regularizer=None, **kw)
    if model == "complex":
        return models.ComplEx(regularizer=None, **kw)
    return models.RotatE(regularizer=None, **kw)


def pykeen_eval(pmodel, tfs, batch_size=256) -> float:
    from pykeen.evaluation import RankBasedEvaluator

    ev = RankBasedEvaluator(filtered=True)
    res = ev.evaluate(pmodel, tfs["test"].mapped_triples, batch_size=batch_size, use_tqdm=False,
                      additional_filter_triples=[tfs["train"].mapped_triples, tfs["valid"].mapped_triples])
    return float(res.get_metric("both.realistic.inverse_harmonic_mean_rank"))


def run_pykeen(model, tfs, args, seed):
    import torch
    from pykeen.training import SLCWATrainingLoop

    pm = pykeen_model(model, tfs["train"], args.dim, seed)
    opt = torch.optim.Adam(pm.parameters(), lr=args.lr)
    loop = SLCWATrainingLoop(model=pm, triples_factory=tfs["train"], optimizer=opt,
                             negative_sampler="basic",
                             negative_sampler_kwargs=dict(num_negs_per_pos=args.negatives))
    t0, c0 = time.perf_counter(), time.process_time()
    loop.train(triples_factory=tfs["train"], num_epochs=args.epochs, batch_size=args.batch_size,
               use_tqdm=False, use_tqdm_batch=False)
    sec = (time.perf_counter() - t0) / args.epochs
    cpu = (time.process_time() - c0) / args.epochs
    mrr = ev = None
    if not args.timing_only:
        t0 = time.perf_counter()
        mrr = pykeen_eval(pm.eval(), tfs)
        ev = time.perf_counter() - t0
    return sec, cpu, mrr, ev


def run_ours(model, ds, args, seed):
    from omnivec.evaluate.linkpred import evaluate
    from omnivec.learn.kge import KGE

    est = KGE(model, args.dim, epochs=args.epochs, batch_size=args.batch_size,
              num_negatives=args.negatives, optimizer="adam", lr=args.lr,
              regularizer=None,
              workers=args.workers, seed=seed, dense_updates=args.dense, progress=False,
              **SETTINGS[model])
    t0, c0 = time.perf_counter(), time.process_time()
    km = est.fit(ds)
    sec = (time.perf_counter() - t0) / args.epochs
    cpu = (time.process_time() - c0) / args.epochs
    mrr = ev = None
    if not args.timing_only:
        t0 = time.perf_counter()
        mrr = evaluate(km, ds.splits["test"], known=np.concatenate([ds.splits["train"], ds.splits["valid"]])).mrr
        ev = time.perf_counter() - t0
    return sec, cpu, mrr, ev, km


def load_into_pykeen(model, km, tfs, args):
    """Return a PyKEEN model of the same kind holding our trained vectors."""
    import torch

    pm = pykeen_model(model, tfs["train"], args.dim, 0)
    E, R = km.entity_array, km.relation_array

    def interleave(x):
        d = x.shape[1] // 2
        return np.stack([x[:, :d], x[:, d:]], axis=-1).reshape(len(x), 2 * d)

    if model in ("complex", "rotate"):
        E, R = interleave(E), interleave(R)
    with torch.no_grad():
        pm.entity_representations[0]._embeddings.weight.copy_(torch.as_tensor(E))
        pm.relation_representations[0]._embeddings.weight.copy_(torch.as_tensor(R))
    pm.eval()
    # the two scorers must agree before their rankings are compared
    sample = tfs["test"].mapped_triples[:64]
    ours = km.score_ids(sample.numpy())
    theirs = pm.score_hrt(sample).detach().numpy().ravel()
    return pm, float(np.max(np.abs(ours - theirs)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="nations,kinships,umls")
    ap.add_argument("--models", default="transe,distmult,complex,rotate")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--negatives", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--timing-only", action="store_true", help="skip evaluation (large KGs)")
    ap.add_argument("--lazy", dest="dense", action="store_false",
                    help="sparse Adam updates (only the rows a batch touched step) instead of the dense "
                         "ones both tools use by default (every row's Adam state advances each batch)")
    ap.add_argument("--data", default=DATA)
    args = ap.parse_args(argv)

    import torch
    import pykeen

    import omnivec
    from omnivec.evaluate.linkpred import evaluate
    from omnivec.learn.kge import KGE

    torch.set_num_threads(args.torch_threads)
    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in SETTINGS:
            ap.error(f"--models: {m!r} is not one of {', '.join(SETTINGS)}")
    # compile/load our kernels once, outside any timing
    for m in models:
        warm = load_dataset("nations", args.data) if os.path.isdir(os.path.join(args.data, "nations")) else None
        if warm is not None:
            KGE(m, 8, epochs=1, progress=False, workers=args.workers, **SETTINGS[m]).fit(warm)
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        ds = load_dataset(name, args.data)
        tfs = pykeen_factories(ds)
        for model in models:
            ours_t, theirs_t, ours_m, theirs_m, ours_c, theirs_c = [], [], [], [], [], []
            threads = set()
            ours_ev, theirs_ev = [], []   # seconds of one filtered test evaluation
            agree = None
            for seed in range(args.seeds):
                # alternate who goes first so drifting load favours neither
                order = ("pykeen", "ours") if seed % 2 == 0 else ("ours", "pykeen")
                for who in order:
                    if who == "pykeen":
                        sec, cpu, mrr, ev = run_pykeen(model, tfs, args, seed)
                        theirs_ev.append(ev)
                        theirs_t.append(sec)
                        theirs_c.append(cpu)
                        theirs_m.append(mrr)
                    else:
                        sec, cpu, mrr, ev, km = run_ours(model, ds, args, seed)
                        ours_ev.append(ev)
                        ours_t.append(sec)
                        ours_c.append(cpu)
                        ours_m.append(mrr)
                        threads.add(km.entities.meta["training"]["threads"])
                        if seed == 0 and not args.timing_only:
                            pm, score_diff = load_into_pykeen(model, km, tfs, args)
                            agree = {"ours_evaluator_mrr": mrr, "pykeen_evaluator_mrr": pykeen_eval(pm, tfs),
                                     "max_score_diff": score_diff}
                            agree["abs_diff"] = abs(agree["ours_evaluator_mrr"] - agree["pykeen_evaluator_mrr"])
                    # one line per finished run, so a long run's partial results are not lost
                    print(json.dumps({"progress": {"dataset": name, "model": model, "seed": seed, "tool": who,
                                                   "epoch_s": sec, "mrr": mrr, "eval_s": ev}}), file=sys.stderr,
                          flush=True)
            row = {"dataset": name, "model": PYKEEN_NAMES[model],
                   "triples": {k: int(len(v)) for k, v in ds.splits.items()},
                   "entities": ds.num_entities, "relations": ds.num_relations,
                   "settings": {"dim": args.dim, "epochs": args.epochs, "batch_size": args.batch_size,
                                "negatives": args.negatives, "optimizer": "adam", "lr": args.lr,
                                "regularizer": None, "workers": args.workers,
                                # what our trainer used: fewer than asked when a batch covers the graph
                                "ours_threads": sorted(threads),
                                "ours_dense_updates": args.dense,
                                "torch_threads": args.torch_threads, **SETTINGS[model]},
                   "seeds": args.seeds,
                   "ours_epoch_s": statistics.median(ours_t), "pykeen_epoch_s": statistics.median(theirs_t),
                   "speedup": statistics.median(theirs_t) / statistics.median(ours_t),
                   "ours_epoch_s_all": ours_t, "pykeen_epoch_s_all": theirs_t,
                   # CPU seconds (all threads) per epoch: robust to other load on a shared machine
                   "ours_epoch_cpu_s": statistics.median(ours_c),
                   "pykeen_epoch_cpu_s": statistics.median(theirs_c),
                   "cpu_speedup": statistics.median(theirs_c) / max(statistics.median(ours_c), 1e-9),
                   "versions": {"omnivec": omnivec.__version__, "pykeen": pykeen.get_version(),
                                "torch": torch.__version__}}
            if not args.timing_only:
                row.update({"ours_mrr_mean": float(np.mean(ours_m)), "pykeen_mrr_mean": float(np.mean(theirs_m)),
                            "mrr_diff": float(np.mean(ours_m) - np.mean(theirs_m)),
                            # the seed-to-seed noise of that difference (standard error of a
                            # difference of two means), to read mrr_diff against
                            "mrr_diff_se": float(np.sqrt(np.var(ours_m, ddof=1) / len(ours_m)
                                                         + np.var(theirs_m, ddof=1) / len(theirs_m)))
                            if len(ours_m) > 1 else None,
                            "ours_mrr_all": ours_m, "pykeen_mrr_all": theirs_m, "evaluator_agreement": agree,
                            # filtered evaluation of the test split, both sides (median over seeds)
                            "ours_eval_s": statistics.median(ours_ev), "pykeen_eval_s": statistics.median(theirs_ev),
                            "eval_speedup": statistics.median(theirs_ev) / statistics.median(ours_ev)})
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
