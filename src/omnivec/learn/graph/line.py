"""LINE: node vectors from first- and second-order proximity (Tang et al. 2015).

First-order proximity makes the vectors of the two ends of an edge alike
(the loss ``-log σ(u·v)`` with noise nodes pushed away); second-order
proximity makes nodes with shared neighbours alike, each node having a
vector and a separate context vector (``-log σ(u·c_v)``).  Training draws
edges in proportion to their weights from an alias table (the paper's edge
sampling, which keeps the gradient's scale independent of the weights),
``negative`` noise nodes per edge in proportion to degree ** 0.75, and
lowers the learning rate linearly over the ``samples`` edge samples (the
paper's T).  ``order="both"`` trains the two models with dim/2 dimensions
each and concatenates their L2-normalised vectors, the paper's LINE(1st+2nd).

Samples are trained in chunks; a chunk's random draws depend only on
(seed, order, chunk), so one worker and a seed reproduce a run bit for bit,
and several workers train Hogwild.  Ctrl-C stops at the next chunk and
returns the model trained so far.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable, Sequence

import numpy as np

from ..._lazy import kernels
from ..._params import Bool, Callables, Choice, Float, Int
from ..._progress import progress
from ...embeddings import Embeddings
from ...errors import InputError
from .._hogwild import run_chunks
from .._learner import Learner
from .._trainer import EpochReport, _sigmoid_tables
from .graph import Graph, read_graph

K = kernels("omnivec.learn._kernels")
LK = kernels("omnivec.learn.graph._line_kernels")

log = logging.getLogger("omnivec.learn")

CHUNK_SAMPLES = 1 << 16      # edge samples per chunk (the unit of threads, seeds and Ctrl-C)
SAMPLES_PER_EDGE = 100       # samples=None trains 100 samples per stored edge


@dataclass(frozen=True)
class _Order(Choice):
    """LINE's order: 1, 2 (as numbers or text) or "both"."""

    def check(self, v: Any) -> Any:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            v = str(int(v))
        return super().check(v)


CONSTRAINTS = {
    "dim": Int(1, 4096, help="Dimensions of the node vectors (order both: dim/2 from each order)."),
    "order": _Order(("first", "second", "both"), (("1", "first"), ("2", "second"), ("1+2", "both")),
                    help="Proximity: first (edges), second (shared neighbours) or both concatenated."),
    "samples": Int(1, 10**13, none_ok=True,
                   help="Edge samples per order, the paper's T (None: 100 per stored edge)."),
    "negative": Int(1, 100, help="Noise nodes per edge sample (negative sampling)."),
    "ns_exponent": Float(-10.0, 10.0, help="Noise nodes are drawn in proportion to degree ** ns_exponent."),
    "lr": Float(0.0, 10.0, open_lo=True, help="Starting learning rate (falls linearly to lr * 1e-4)."),
    "normalize": Bool(help="Scale each order's vectors to unit length (always with order both)."),
    "workers": Int(1, 1024, none_ok=True,
                   help="Training threads (None: all cores); 1 with a seed is reproducible bit for bit."),
    "seed": Int(0, 2**63 - 1, help="Seed of the random initialisation and sampling."),
    "metric": Choice(("cosine", "dot", "euclidean"), help="Metric of the resulting table."),
    "progress": Bool(none_ok=True, help="Show a progress bar (None: when writing to a terminal)."),
    "callbacks": Callables(help="Called after each order's training with an EpochReport (words = samples)."),
}


def edge_sampler(graph: Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (source, target, prob, alias): the stored edges and an alias table over their weights.

    An undirected graph stores each edge in both directions, so both ends
    serve as source equally often.  Drawing index i with the alias table
    (`omnivec.learn._kernels.alias_table`) picks edge (source[i], target[i])
    with probability weight_i / total weight.
    """
    n = len(graph)
    src = np.repeat(np.arange(n, dtype=np.int32), np.diff(graph.indptr))
    w = np.ones(len(graph.indices)) if graph.weights is None else graph.weights.astype(np.float64)
    prob, alias = K.alias_table(w)
    return src, graph.indices, prob, alias


def noise_weights(graph: Graph, exponent: float) -> np.ndarray:
    """Return each node's noise weight: its (weighted) out-degree ** exponent, 0 without out-edges."""
    w = np.ones(len(graph.indices)) if graph.weights is None else graph.weights.astype(np.float64)
    deg = np.bincount(np.repeat(np.arange(len(graph)), np.diff(graph.indptr)), weights=w,
                      minlength=len(graph))
    out = np.zeros(len(graph))
    pos = deg > 0
    out[pos] = deg[pos] ** exponent
    return out


class LINE(Learner):
    """Learns node vectors by LINE (Tang et al. 2015): first-order, second-order or both.

    ``fit(graph)`` takes a `Graph` (or a graph file, read undirected) and
    returns an `Embeddings` of its nodes (table "nodes", keys in id order).
    See the module docstring for the method; ``samples`` (None: 100 per
    stored edge) is the number of edge samples per order.  Nodes without
    out-edges are never a sample's source and keep their small random start
    vectors (counted in meta["training"]).
    """

    name = "line"
    _constraints = CONSTRAINTS

    def __init__(self, *, dim: int = 128, order: Any = "both", samples: int | None = None,
                 negative: int = 5, ns_exponent: float = 0.75, lr: float = 0.025, normalize: bool = True,
                 workers: int | None = None, seed: int = 1, metric: str = "cosine",
                 progress: bool | None = None,
                 callbacks: Sequence[Callable[[EpochReport], None]] = ()) -> None:
        super().__init__(dim=dim, order=order, samples=samples, negative=negative, ns_exponent=ns_exponent,
                         lr=lr, normalize=normalize, workers=workers, seed=seed, metric=metric,
                         progress=progress, callbacks=callbacks)

    @classmethod
    def _check_together(cls, values: dict[str, Any]) -> None:
        if values.get("order") == "both" and values.get("dim", 128) % 2:
            raise InputError(f"LINE: order='both' splits dim between the two orders; dim must be even, "
                             f"got {values['dim']}")

    @property
    def workers_(self) -> int:
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)

    def fit(self, source: Graph | str | os.PathLike) -> Embeddings:
        """Return LINE node vectors learnt from `source` (a `Graph`, or a graph file read undirected)."""
        t0 = time.perf_counter()
        graph = source if isinstance(source, Graph) else read_graph(source)
        if len(graph.indices) == 0:
            raise InputError("LINE.fit: the graph has no edges to sample")
        if graph.weights is not None and not (graph.weights.sum() > 0):
            raise InputError("LINE.fit: every edge weighs 0; nothing to sample")
        orders = ("first", "second") if self.order == "both" else (self.order,)
        dim = self.dim // len(orders)
        samples = self.samples if self.samples is not None else SAMPLES_PER_EDGE * len(graph.indices)
        esrc, edst, eprob, ealias = edge_sampler(graph)
        nprob, nalias = K.alias_table(noise_weights(graph, self.ns_exponent))
        n = len(graph)
        parts, runs = [], []
        interrupted = False
        name = f"LINE {'1st+2nd' if len(orders) == 2 else self.order}"
        with progress(name, total=float(samples * len(orders)), unit="edges", enabled=self.progress) as task:
            for i, order in enumerate(orders):
                emb = self._start(i, n, dim)
                ctx = np.zeros((n, dim) if order == "second" else (1, dim), np.float32)
                run, interrupted = self._train(order, i, emb, ctx, samples, esrc, edst, eprob, ealias, nprob,
                                               nalias, task, i * samples)
                runs.append(run)
                if self.normalize or len(orders) == 2:
                    norms = np.linalg.norm(emb, axis=1, keepdims=True)
                    emb /= np.where(norms > 0, norms, 1.0)
                parts.append(emb)
                rep = EpochReport(epoch=i + 1, epochs=len(orders), loss=run["loss"], words=run["samples"],
                                  seconds=run["train_seconds"], lr=run["final_lr"], interrupted=interrupted)
                if interrupted:
                    log.warning("LINE interrupted in its %s-order training; keeping the model trained so far",
                                order)
                    break
                try:
                    for cb in self.callbacks:
                        cb(rep)
                except KeyboardInterrupt:
                    interrupted = True
                    break
        for i in range(len(parts), len(orders)):    # an order never started keeps its start vectors
            start = self._start(i, n, dim)
            parts.append(start / np.linalg.norm(start, axis=1, keepdims=True))
        vectors = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        no_source = int((np.diff(graph.indptr) == 0).sum())
        meta = {"learner": self.name, "params": self.get_params(),
                "graph": {**graph.report, "directed": graph.directed, "weighted": graph.weighted},
                "training": [{"orders": runs, "samples_per_order": int(samples), "interrupted": interrupted,
                              "nodes_without_out_edges": no_source,
                              "total_seconds": round(time.perf_counter() - t0, 3),
                              "workers": self.workers_}]}
        self.interrupted_ = interrupted
        self.embeddings_ = Embeddings(graph.nodes, np.ascontiguousarray(vectors), metric=self.metric,
                                      meta=meta, name="nodes")
        return self.embeddings_

    def _start(self, index: int, n: int, dim: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index])
        half = 0.5 / dim
        return (rng.random((n, dim), dtype=np.float32) * (2 * half) - half).astype(np.float32)

    def _train(self, order: str, index: int, emb: np.ndarray, ctx: np.ndarray, samples: int, esrc, edst,
               eprob, ealias, nprob, nalias, task, offset: int) -> tuple[dict, bool]:
        second = order == "second"
        sig, nls = _sigmoid_tables()
        stop = np.zeros(1, np.int64)
        n_chunks = -(-samples // CHUNK_SAMPLES)
        seed_base = (int(self.seed) * 0x9E3779B97F4A7C15 + (index + 1) * 0xD1B54A32D192ED03) % 2**64
        lr0 = float(self.lr)
        workers = self.workers_
        stats = [np.zeros(3) for _ in range(workers)]
        next_chunk = count().__next__

        def run_chunk(c: int, st: np.ndarray) -> None:
            a = c * CHUNK_SAMPLES
            m = min(CHUNK_SAMPLES, samples - a)
            seed = (seed_base ^ (c * 0x5851F42D4C957F2D)) % 2**64
            LK.line_chunk(emb, ctx, second, esrc, edst, eprob, ealias, nprob, nalias, self.negative, lr0,
                          float(a), float(samples), m, np.uint64(seed), sig, nls, st, stop)

        def done() -> int:
            return int(sum(st[2] for st in stats))

        def tick() -> None:
            tot = np.sum(stats, axis=0)
            task.update(completed=offset + float(tot[2]), loss=float(tot[0] / max(tot[1], 1)))

        # compile (or load from the cache) before threads start
        LK.line_chunk(emb, ctx, second, esrc, edst, eprob, ealias, nprob, nalias, self.negative, lr0, 0.0,
                      1.0, 0, np.uint64(0), sig, nls, np.zeros(3), stop)
        t0 = time.perf_counter()
        interrupted = run_chunks(n_chunks, next_chunk, run_chunk, stats, tick=tick, stop=stop, name="line",
                                 tick_every=8)
        tick()
        seconds = time.perf_counter() - t0
        tot = np.sum(stats, axis=0)
        ran = done()
        final_lr = max(lr0 * (1.0 - ran / (samples + 1.0)), lr0 * 1e-4)
        return ({"order": order, "dim": int(emb.shape[1]), "samples": ran,
                 "loss": round(float(tot[0] / max(tot[1], 1)), 6), "train_seconds": round(seconds, 3),
                 "final_lr": final_lr,
                 "samples_per_second": round(ran / seconds, 1) if seconds > 0 else None}, interrupted)
