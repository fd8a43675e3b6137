"""Hyper-parameter sweeps of the registered learners on Ray Tune, each trial's model kept.

    result = tune("word2vec", {"window": [2, 5], "negative": [5, 10]}, source="corpus.txt",
                  metric="analogy", metric_args={"questions": "questions-words.txt"},
                  out_dir="sweep/", ray_address="127.0.0.1:6379")
    result.best                    # {"params": {...}, "score": 0.31, "path": "sweep/trial-....ov"}

A trial builds the learner (`omnivec.learn.LEARNERS`) with the fixed
parameters plus its point of the space, fits it on `source`, scores the
result with the learner family's own evaluation (`METRICS`: analogy
accuracy, word-pair Spearman, link-prediction MRR) or a function of yours,
and saves the model to `out_dir` (a folder every node writes to).  A list in
`space` is swept as a grid; Ray Tune's own search spaces (``tune.uniform``)
are passed through.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._atomic import atomic_path
from ..errors import ClusterError, InputError, UnknownNameError, require
from .cluster import connect


def _table(model):
    from ..embeddings import Embeddings

    return model if isinstance(model, Embeddings) else model[next(iter(model))]


def _analogy(model, *, questions, restrict_vocab: int | None = 300000) -> float:
    from ..evaluate.analogy import evaluate_analogies

    return float(evaluate_analogies(_table(model), questions, restrict_vocab=restrict_vocab).accuracy)


def _similarity(model, *, pairs) -> float:
    from ..evaluate.similarity import evaluate_similarity

    return float(evaluate_similarity(_table(model), pairs).spearman)


def _mrr(model, *, triples) -> float:
    from .._textlines import utf8_lines
    from ..evaluate.linkpred import evaluate_labels

    rows = []
    for _, text in utf8_lines(triples, "triples"):
        parts = text.rstrip("\n").split("\t")
        if len(parts) == 3:
            rows.append(tuple(parts))
    result, _ = evaluate_labels(model, rows, unknown="skip")
    return float(result.mrr)


#: the learners' own evaluations, by name: function(model, **metric_args) -> score (higher is better)
METRICS: dict[str, Callable[..., float]] = {"analogy": _analogy, "similarity": _similarity, "mrr": _mrr}


@dataclass
class TuneResult:
    """The sweep: every trial's parameters, score and model file, the best one, and the time taken."""

    metric: str
    mode: str
    trials: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> dict:
        """Return the best finished trial ({params, score, path, seconds})."""
        done = [t for t in self.trials if t.get("score") is not None]
        if not done:
            raise ClusterError("no trial of the sweep finished")
        pick = max if self.mode == "max" else min
        return pick(done, key=lambda t: t["score"])

    def to_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode, "seconds": self.seconds, "trials": self.trials,
                "best": self.best}


def run_trial(config: dict, *, learner: str, fixed: dict, source: Any, metric: Any, metric_args: dict,
              out_dir: str) -> None:
    """One trial (runs on the cluster): fit, score, save the model, report to Ray Tune."""
    from ray import tune as rt

    from ..learn import get_learner

    t0 = time.perf_counter()
    params = {**fixed, **config}
    model = get_learner(learner)(**params).fit(source)
    score = METRICS[metric](model, **metric_args) if isinstance(metric, str) else float(metric(model, **metric_args))
    trial = rt.get_context().get_trial_id()
    path = Path(out_dir) / f"trial-{trial}.ov"
    model.save(path)
    rt.report({"score": score, "path": os.fspath(path), "fit_seconds": time.perf_counter() - t0})


def tune(learner: str, space: dict, *, source: Any, metric: str | Callable[..., float], out_dir: str | os.PathLike,
         metric_args: dict | None = None, mode: str = "max", fixed: dict | None = None, num_samples: int = 1,
         cpus_per_trial: float = 1.0, ray_address: str | None = None, max_concurrent: int | None = None
         ) -> TuneResult:
    """Return the sweep of `learner` over `space` on Ray Tune: every trial's score and saved model.

    `metric`: a name in `METRICS` ('analogy' with metric_args
    {"questions": path}, 'similarity' with {"pairs": path}, 'mrr' with
    {"triples": path}) or a function(model, **metric_args) -> float.
    `fixed` parameters go to every trial (workers defaults to
    cpus_per_trial).  Each parameter name is checked against the learner's
    declared parameters before anything runs.
    """
    from ..learn import get_learner

    cls = get_learner(learner)
    if mode not in ("max", "min"):
        raise InputError(f"mode must be 'max' or 'min'; got {mode!r}")
    if isinstance(metric, str) and metric not in METRICS:
        raise UnknownNameError(f"unknown metric {metric!r}; valid names are: {', '.join(METRICS)} "
                               "(or pass a function of the model)")
    if not isinstance(space, dict) or not space:
        raise InputError("space must be a non-empty dict of parameter name -> list of values (or a Ray Tune "
                         "search space)")
    fixed = dict(fixed or {})
    if "workers" in cls._constraints:
        fixed.setdefault("workers", max(1, int(cpus_per_trial)))
    declared = set(cls._constraints)
    for name in [*space, *fixed]:
        if name not in declared:
            raise UnknownNameError(f"{cls.__name__} has no parameter {name!r}; its parameters are: "
                                   f"{', '.join(sorted(declared))}")
    for name, values in space.items():   # every listed value must pass the learner's own checks
        if isinstance(values, (list, tuple)):
            for v in values:
                cls.check_params({**fixed, name: v})
    ray = connect(ray_address, purpose="a hyper-parameter sweep")
    rt = require("ray.tune", "ray", "a hyper-parameter sweep")
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    param_space = {k: rt.grid_search(list(v)) if isinstance(v, (list, tuple)) else v for k, v in space.items()}
    trainable = rt.with_parameters(run_trial, learner=learner, fixed=fixed, source=source, metric=metric,
                                   metric_args=dict(metric_args or {}), out_dir=os.fspath(out))
    trainable = rt.with_resources(trainable, {"cpu": cpus_per_trial})
    t0 = time.perf_counter()
    tuner = rt.Tuner(trainable, param_space=param_space,
                     tune_config=rt.TuneConfig(num_samples=num_samples, max_concurrent_trials=max_concurrent),
                     run_config=rt.RunConfig(storage_path=os.fspath(out / "ray"), name="sweep", verbose=0))
    grid = tuner.fit()
    result = TuneResult(metric=metric if isinstance(metric, str) else getattr(metric, "__name__", "metric"),
                        mode=mode, seconds=time.perf_counter() - t0)
    for r in grid:
        cfg = {k: _plain(v) for k, v in (r.config or {}).items()}
        m = r.metrics or {}
        result.trials.append({"params": cfg, "score": m.get("score"), "path": m.get("path"),
                              "seconds": m.get("fit_seconds"),
                              "error": None if r.error is None else str(r.error).strip().splitlines()[-1][:300]})
    failed = [t for t in result.trials if t["error"]]
    if len(failed) == len(result.trials):
        raise ClusterError(f"every trial of the sweep failed; the first: {failed[0]['error']}")
    with atomic_path(out / "tune.json") as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    del ray
    return result


def _plain(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


__all__ = ["METRICS", "TuneResult", "run_trial", "tune"]
