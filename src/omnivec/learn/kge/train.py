"""KGE: the one training loop every registered knowledge-graph model shares.

Mini-batches of positive triples, each with `num_negatives` corrupted
triples (uniform or Bernoulli choice of the side to corrupt, one side per
positive for all its negatives), a margin, softplus or self-adversarial
(NSSA) loss, optional L2/N3 regularisation and Adam/Adagrad/SGD updates
(dense Adam by default, paid for lazily: see KGE).  Up to `workers` threads run
the compiled kernel over disjoint batches on shared arrays (Hogwild);
workers=1 with a seed is reproducible bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field

import numpy as np

from ..._params import Bool, Choice, Float, Int, Registered
from ..._progress import progress
from ...embeddings import Embeddings
from ...errors import InputError
from ..._lazy import kernels
from .._learner import Learner
from .data import TripleSet
from .losses import LOSSES, get_regularizer
from .model import KGModel
from .models import MODELS, ModelSpec, check_dim, get_model
from .optimizers import OPTIMIZERS
from .ranking import filtered_mrr

K = kernels("omnivec.learn.kge._kernels.common")
SAMPLERS = ("uniform", "bernoulli")
SLICE = 64  # batches per kernel call: Ctrl-C is seen between calls even with one worker

log = logging.getLogger("omnivec.learn.kge")


@dataclass
class History:
    """What happened during fit: per-epoch loss and seconds, validation MRR by epoch, best epoch."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    valid_mrr: dict[int, float] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    threads: int = 1

    def as_dict(self) -> dict:
        """Return the history as a JSON-able dict."""
        return {"loss": self.loss, "seconds": self.seconds,
                "valid_mrr": {str(k): v for k, v in self.valid_mrr.items()},
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "interrupted": self.interrupted, "threads": self.threads}


def hogwild_threads(workers: int, n_entities: int, batch_size: int, num_negatives: int) -> int:
    """Return how many of `workers` lock-free threads suit this graph: at most one per share of the
    entity table that one batch's entity rows (head, tail and negatives) can cover.

    Hogwild pays off when concurrent batches touch mostly different rows.  On a
    small graph every batch touches nearly every entity, the threads' updates
    to the same rows overwrite each other, and quality drops for no gain in
    speed (Kinships, 104 entities, DistMult, batch 512, seeds 0-9 before this
    cap: filtered MRR 0.449 with 2 threads, 0.457 with 1).
    """
    rows_per_batch = batch_size * (2 + num_negatives)
    return int(max(1, min(workers, n_entities // rows_per_batch)))


PARAMS = {
    "model": Registered(registry=MODELS, help="The KGE model."),
    "dim": Int(1, 4096, help="Rank (complex/quaternion models: that many complex/quaternion numbers)."),
    "epochs": Int(1, 10**6, help="Passes over the training triples."),
    "batch_size": Int(1, 10**7, help="Positive triples per mini-batch."),
    "num_negatives": Int(1, 10**4, help="Corrupted triples per positive."),
    "sampler": Choice(SAMPLERS, help="How the side to corrupt is chosen: uniform, or bernoulli (Wang et al. 2014)."),
    "loss": Choice(tuple(LOSSES), none_ok=True, help="Training loss (None: the model's)."),
    "margin": Float(0, 1e6, none_ok=True, help="Margin of the margin and NSSA losses (None: the model's)."),
    "adversarial_temperature": Float(0, 1e6, none_ok=True,
                                     help="Temperature of self-adversarial negative weights (None: the model's)."),
    "optimizer": Choice(tuple(OPTIMIZERS), help="Update rule."),
    "lr": Float(0, 1e3, open_lo=True, help="Learning rate."),
    "regularizer": Choice(("none", "l2", "n3", "default"), none_ok=True,
                          help="Weight penalty; default: the model's (L2 for ComplEx and QuatE); None: none."),
    "reg_weight": Float(0, 1e6, none_ok=True, help="Weight of the regularisation term (None: the model's)."),
    "p": Int(1, 2, none_ok=True, help="Norm of distance models, 1 or 2 (None: the model's)."),
    "normalize_entities": Bool(none_ok=True,
                               help="Unit-norm entity rows after each update (None: the model's; TransE does)."),
    "workers": Int(1, 256, help="Most Hogwild threads (fewer when each batch covers much of the graph); "
                               "1 with a seed is reproducible bit for bit."),
    "seed": Int(0, 2**63 - 1, help="Seed of the initialisation, the batch order and the negatives."),
    "early_stopping": Bool(help="Stop when the validation MRR stops improving (needs a valid split)."),
    "eval_every": Int(1, 10**6, help="Epochs between validation evaluations (early stopping)."),
    "patience": Int(1, 10**6, help="Evaluations without improvement before stopping early."),
    "tau_final": Float(0, 100, open_lo=True,
                       help="Final Gumbel-softmax temperature of DihEdral's relations (annealed from 3)."),
    "dense_updates": Bool(help="Adam moves every row after every batch (dense, as torch's Adam), "
                               "or only the rows a batch touched (sparse)."),
    "progress": Bool(none_ok=True, help="Show a progress bar (None: when writing to a terminal)."),
}


# what a parameter left as None means when the model names no default of its own
DEFAULTS = {"loss": "softplus", "margin": 1.0, "adversarial_temperature": 1.0, "reg_weight": 0.0, "p": 2,
            "normalize_entities": False}


class KGE(Learner):
    """Trains a registered KGE model (TransE, DistMult, ComplEx, RotatE, QuatE, DihEdral, TranS).

    Parameters left as None take the model's defaults (see `models.MODELS`):
    loss, margin, adversarial_temperature, reg_weight, p (norm of distance
    models) and normalize_entities (unit-norm entity rows after each update,
    as TransE does; for TranS the unit-norm parts of its published form).
    `regularizer` is "l2", "n3", None (none, as in PyKEEN) or "default" (the
    model's: L2 for ComplEx and QuatE).  `dense_updates` (the default)
    gives Adam's dense semantics, as torch's Adam: every row's moments and
    position advance after every batch, also rows the batch did not touch; the
    zero-gradient steps a row skipped are taken in one closed-form step when a
    batch next touches it and at the end of each epoch, so the cost is that of
    sparse updates.  `dense_updates=False`: only touched rows step, each
    counting its own Adam steps (like torch's SparseAdam, with per-row bias
    correction).  SGD and Adagrad take no step on a zero gradient, so for
    them both are the same.  `workers` is the most lock-free (Hogwild)
    threads: fewer are used when one batch's entity rows cover more than
    1/workers of the entity table (see `hogwild_threads`); the number used is
    in `history_.threads` and the model's training metadata.  `fit(triples)`
    returns a KGModel; the training record is in `history_`.
    """

    name = "kge"
    _constraints = PARAMS

    def __init__(self, model: str = "TransE", dim: int = 50, *, epochs: int = 100,
                 batch_size: int = 256, num_negatives: int = 1, sampler: str = "uniform",
                 loss: str | None = None, margin: float | None = None,
                 adversarial_temperature: float | None = None, optimizer: str = "adam",
                 lr: float = 0.001, regularizer: str | None = "default", reg_weight: float | None = None,
                 p: int | None = None, normalize_entities: bool | None = None,
                 workers: int = 1, seed: int = 0, early_stopping: bool = False,
                 eval_every: int = 10, patience: int = 2, tau_final: float = 0.5,
                 dense_updates: bool = True, progress: bool | None = None) -> None:
        super().__init__(model=model, dim=dim, epochs=epochs, batch_size=batch_size,
                         num_negatives=num_negatives, sampler=sampler, loss=loss, margin=margin,
                         adversarial_temperature=adversarial_temperature, optimizer=optimizer, lr=lr,
                         regularizer=regularizer, reg_weight=reg_weight, p=p,
                         normalize_entities=normalize_entities, workers=workers, seed=seed,
                         early_stopping=early_stopping, eval_every=eval_every, patience=patience,
                         tau_final=tau_final, dense_updates=dense_updates, progress=progress)

    @classmethod
    def _check_together(cls, values: dict) -> None:
        check_dim(get_model(values["model"]), values["dim"])

    # -- parameters -----------------------------------------------------------------------------
    def resolved_params(self) -> dict:
        """Return every hyper-parameter with the model's defaults filled in, validated."""
        # checked again: attributes may have been set since construction
        v = self.check_params({k: getattr(self, k) for k in self._constraints})
        spec = get_model(v["model"])
        d = spec.defaults

        def pick(name):
            return d.get(name, DEFAULTS[name]) if v[name] is None else v[name]

        params = {
            "model": spec.name, "dim": v["dim"], "epochs": v["epochs"], "batch_size": v["batch_size"],
            "num_negatives": v["num_negatives"], "sampler": v["sampler"],
            "loss": pick("loss"), "margin": pick("margin"),
            "adversarial_temperature": pick("adversarial_temperature"),
            "optimizer": v["optimizer"], "lr": v["lr"],
            "regularizer": d.get("regularizer") if v["regularizer"] == "default" else v["regularizer"],
            "reg_weight": pick("reg_weight"), "p": pick("p"),
            "normalize_entities": bool(pick("normalize_entities")),
            "workers": v["workers"], "seed": v["seed"], "early_stopping": v["early_stopping"],
            "eval_every": v["eval_every"], "patience": v["patience"], "tau_final": v["tau_final"],
            "dense_updates": v["dense_updates"],
        }
        if params["regularizer"] == "none":
            params["regularizer"] = None
        return params

    # -- training ---------------------------------------------------------------------------------
    def fit(self, triples: TripleSet) -> KGModel:
        """Return the trained KGModel (and set `history_`); early stopping restores the best epoch."""
        prm = self.resolved_params()
        spec: ModelSpec = get_model(prm["model"])
        train = np.ascontiguousarray(triples.split("train"), dtype=np.int64)
        valid = None
        if prm["early_stopping"]:
            valid = triples.split("valid")
        n_ent, n_rel = triples.num_entities, triples.num_relations
        if n_ent < 2:
            raise InputError(f"training needs at least 2 entities to corrupt triples; found {n_ent}")
        rng = np.random.default_rng(prm["seed"])
        E, R = spec.init(n_ent, n_rel, prm["dim"], rng)
        e_blocks, e_mask, r_blocks, r_mask = self._unit_norm_blocks(spec, prm)
        for row in E:
            K.normalize_blocks(row, e_blocks, e_mask)
        for row in R:
            K.normalize_blocks(row, r_blocks, r_mask)
        head_prob = self._head_prob(train, n_rel, prm["sampler"])
        W = hogwild_threads(prm["workers"], n_ent, prm["batch_size"], prm["num_negatives"])
        if W < prm["workers"]:
            log.info("training on %d thread(s), not %d: a batch of %d triples touches more than 1/%d of the "
                     "%d entities, so lock-free threads would overwrite each other's updates",
                     W, prm["workers"], prm["batch_size"], prm["workers"], n_ent)
        mE, vE = np.zeros_like(E), np.zeros_like(E)
        mR, vR = np.zeros_like(R), np.zeros_like(R)
        stepE = np.zeros(n_ent, dtype=np.int64)
        stepR = np.zeros(n_rel, dtype=np.int64)
        bufs = [dict(gE=np.zeros_like(E), gR=np.zeros_like(R), markE=np.zeros(n_ent, np.uint8),
                     markR=np.zeros(n_rel, np.uint8), listE=np.zeros(n_ent, np.int64),
                     listR=np.zeros(n_rel, np.int64)) for _ in range(W)]
        n = len(train)
        bs = prm["batch_size"]
        nb = -(-n // bs)
        hist = History(threads=W)
        best = (-1.0, None, None, 0)
        bad_evals = 0
        known = triples.all_known() if valid is not None else None
        opt = OPTIMIZERS.get(prm["optimizer"])
        train_batches = spec.train_loop(LOSSES.get(prm["loss"]), opt, get_regularizer(prm["regularizer"]))
        dri = spec.widths(prm["dim"])[2]
        stop = np.zeros(1, dtype=np.int64)
        # dense updates: one global step count (sparse: each row counts its own, gstep stays -1)
        gstep = np.array([0 if prm["dense_updates"] else -1], dtype=np.int64)
        eps = opt.eps
        tau0 = 3.0
        # anneal the Gumbel-softmax temperature from 3 to tau_final over the first 2/3 of training
        decay = math.log(tau0 / prm["tau_final"]) / max(1.0, 2.0 * prm["epochs"] / 3.0) \
            if prm["tau_final"] < tau0 else 0.0
        pool = ThreadPoolExecutor(max_workers=W) if W > 1 else None
        try:
            with progress(f"Training {spec.name}", prm["epochs"], unit="epochs",
                          enabled=self.progress) as task:
                for epoch in range(prm["epochs"]):
                    t0 = time.perf_counter()
                    tau = max(prm["tau_final"], tau0 * math.exp(-decay * epoch))
                    order = rng.permutation(n).astype(np.int64)
                    states = [np.array([int(x) | 1], dtype=np.uint64) for x in
                              np.random.SeedSequence([prm["seed"], epoch]).generate_state(W, np.uint64)]
                    outs = [np.zeros(2, dtype=np.float64) for _ in range(W)]

                    def run(w, tau=tau, order=order, states=states, outs=outs):
                        bf = bufs[w]
                        first, last = (nb * w) // W, (nb * (w + 1)) // W
                        for b0 in range(first, last, SLICE):
                            if stop[0]:
                                break
                            train_batches(prm["p"], E, R, dri, train, order, b0, min(b0 + SLICE, last),
                                          bs, prm["num_negatives"], head_prob, float(prm["margin"]),
                                          float(prm["adversarial_temperature"]), float(prm["reg_weight"]),
                                          float(prm["lr"]), opt.beta1, opt.beta2, eps,
                                          e_blocks, e_mask, r_blocks, r_mask, tau, mE, vE, stepE, mR, vR,
                                          stepR, bf["gE"], bf["gR"], bf["markE"], bf["markR"], bf["listE"],
                                          bf["listR"], states[w], outs[w], gstep, stop)

                    futures = []
                    try:
                        if pool is None:
                            run(0)
                        else:
                            futures = [pool.submit(run, w) for w in range(W)]
                            while wait_futures(futures, timeout=0.25).not_done:
                                pass  # the main thread waits in short steps so Ctrl-C reaches it
                    except KeyboardInterrupt:
                        stop[0] = 1
                        wait_futures(futures)
                        hist.interrupted = True
                    for f in futures:
                        f.result()  # a worker's error surfaces here
                    if gstep[0] > 0:
                        # rows this epoch's last batches skipped take their pending zero-gradient steps
                        for P, M, V, S, nbk, msk in ((E, mE, vE, stepE, e_blocks, e_mask),
                                                     (R, mR, vR, stepR, r_blocks, r_mask)):
                            opt.catch_up(P, M, V, S, int(gstep[0]), float(prm["lr"]), opt.beta1, opt.beta2, eps,
                                         nbk, msk)
                    if hist.interrupted:
                        log.warning("training interrupted in epoch %d of %d; keeping the model trained so far",
                                    epoch + 1, prm["epochs"])
                        break
                    tot = np.sum(outs, axis=0)
                    loss = float(tot[0] / max(tot[1], 1.0))
                    if not math.isfinite(loss):
                        raise InputError(f"training diverged at epoch {epoch + 1} (loss {loss}); "
                                         "lower the learning rate")
                    hist.loss.append(loss)
                    hist.seconds.append(time.perf_counter() - t0)
                    info = {"loss": loss}
                    if valid is not None and ((epoch + 1) % prm["eval_every"] == 0
                                              or epoch + 1 == prm["epochs"]):
                        mrr = self._valid_mrr(spec, prm, E, R, tau, triples, valid, known)
                        hist.valid_mrr[epoch + 1] = mrr
                        info["valid_mrr"] = mrr
                        if mrr > best[0]:
                            best = (mrr, E.copy(), R.copy(), epoch + 1)
                            bad_evals = 0
                        else:
                            bad_evals += 1
                    task.advance(1)
                    task.update(**info)
                    if valid is not None and bad_evals >= prm["patience"]:
                        hist.stopped_early = True
                        break
        finally:
            if pool is not None:
                pool.shutdown()
        if best[1] is not None:
            E, R = best[1], best[2]
            hist.best_epoch = best[3]
        self.history_ = hist
        return self._to_model(spec, prm, E, R, tau, triples, hist)

    @staticmethod
    def _unit_norm_blocks(spec: ModelSpec, prm: dict) -> tuple[int, int, int, int]:
        """Return (entity blocks, entity mask, relation blocks, relation mask) of the unit-norm projections."""
        if not prm["normalize_entities"]:
            return 1, 0, 1, 0
        return spec.unit_blocks

    @staticmethod
    def _head_prob(train: np.ndarray, n_rel: int, sampler: str) -> np.ndarray:
        """Return, per relation, the probability of corrupting the head (Bernoulli: tph / (tph + hpt))."""
        prob = np.full(n_rel, 0.5, dtype=np.float64)
        if sampler == "bernoulli":
            for r in range(n_rel):
                rows = train[train[:, 1] == r]
                if len(rows) == 0:
                    continue
                tph = len(rows) / len(np.unique(rows[:, 0]))  # tails per head
                hpt = len(rows) / len(np.unique(rows[:, 2]))  # heads per tail
                prob[r] = tph / (tph + hpt)
        return prob

    def _model_from_arrays(self, spec, prm, E, R, tau, triples, meta_extra=None) -> KGModel:
        _, _, dro = spec.widths(prm["dim"])
        Rinf = spec.relation_table()(R, dro, tau)
        meta = {"learner": "kge", "model": spec.name, "dim": prm["dim"], "algebra": spec.algebra,
                "layout": spec.layout, "p": prm["p"], "paper": spec.paper,
                "params": {k: v for k, v in prm.items()},
                "num_entities": triples.num_entities, "num_relations": triples.num_relations}
        meta.update(spec.meta)
        meta.update(meta_extra or {})
        ent = Embeddings(triples.entities, E.copy(), metric=spec.metric, meta=meta, name="entities")
        rel = Embeddings(triples.relations, Rinf, metric="cosine", meta=dict(meta), name="relations")
        if spec.saves_training_form:
            rel.extras["train_params"] = np.ascontiguousarray(R, dtype=np.float32)
        return KGModel(ent, rel)

    def _valid_mrr(self, spec, prm, E, R, tau, triples, valid, known) -> float:
        m = self._model_from_arrays(spec, prm, E, R, tau, triples)
        return filtered_mrr(m, valid, known=known)

    def _to_model(self, spec, prm, E, R, tau, triples, hist) -> KGModel:
        reports = {k: v.as_dict() for k, v in triples.reports.items()}
        extra = {"training": {"epochs_run": len(hist.loss), "final_loss": hist.loss[-1] if hist.loss else None,
                              "best_epoch": hist.best_epoch, "stopped_early": hist.stopped_early,
                              "interrupted": hist.interrupted, "threads": hist.threads,
                              "seconds": float(sum(hist.seconds)),
                              "triples": {k: int(len(v)) for k, v in triples.splits.items()},
                              "input": reports}}
        return self._model_from_arrays(spec, prm, E, R, tau, triples, extra)
