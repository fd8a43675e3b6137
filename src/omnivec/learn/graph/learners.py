"""DeepWalk and node2vec: random walks streamed into skip-gram with negative sampling.

Both learners walk a `Graph` chunk by chunk: the walks of a few hundred start
nodes are written into a reusable buffer and a skip-gram kernel trains on
them at once, so no walk corpus is ever held in memory or written to disk.
The kernel is, by default, `_kernels.train_walks_batched`: each window's
(context, output) pairs as one small matrix product with the window's
negatives shared (Ji et al. 2016), every pair still its own gradient - the
same updates as word2vec's, batched so that each output row is read once per
window; ``batch_windows=False`` uses the word trainer's pair-by-pair kernel
(`omnivec.learn._kernels.train_chunk`).  Every round of walks
visits the start nodes in a fresh random order; a chunk's walks and updates
depend only on (seed, chunk), so one worker and a seed reproduce a run bit
for bit, and several workers train Hogwild (threads without locks).

Node frequencies for subsampling and for the noise distribution are
estimated from the (weighted) degrees, the stationary distribution of a
first-order walk on an undirected graph, instead of being counted in a
corpus that is never materialised.

node2vec's second-order walks use per-edge alias tables when their memory
(8 bytes per entry, sum over edges (t -> v) of deg(v)) fits
`PRECOMPUTE_BYTES`, otherwise rejection sampling over per-node tables,
memory O(E) (the choice PecanPy makes between PreComp and SparseOTF);
``walk_mode`` forces either.

k-core acceleration (``kcore=K``): the walks and training run on the
K-core only (the densest part, where most of the walk steps go anyway);
every other node then takes the mean of its already embedded neighbours,
shell by shell in decreasing core number (Brandeis, Jarret and Sevestre
2020, "About Graph Degeneracy, Representation Learning and Scalability").
Nodes in components without a K-core node keep their random start vector
(counted in meta["kcore"]["unreached"]).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from itertools import count
from typing import Callable, Sequence

import numpy as np

from ..._lazy import kernels
from ..._params import Bool, Callables, Choice, Float, Int
from ..._progress import progress
from ...embeddings import Embeddings
from ...errors import InputError
from .. import vocab as vocab_mod
from .._hogwild import end_of_epoch, run_chunks
from .._learner import Learner
from .._trainer import EpochReport, _sigmoid_tables
from .graph import Graph, read_graph

K = kernels("omnivec.learn._kernels")
GK = kernels("omnivec.learn.graph._kernels")

log = logging.getLogger("omnivec.learn")

CHUNK_NODES = 16384          # walk nodes per chunk (the buffer one worker reuses)
PRECOMPUTE_BYTES = 512 << 20  # node2vec's per-edge alias tables are built when they fit this

MODES = {"first_order": 0, "precompute": 1, "rejection": 2}

COMMON = {
    "dim": Int(1, 4096, help="Dimensions of the node vectors."),
    "walk_length": Int(2, 100000, help="Nodes per walk (the start node included)."),
    "num_walks": Int(1, 100000, help="Walks started from every node."),
    "window": Int(1, 1000, help="Largest context radius within a walk."),
    "negative": Int(1, 100, help="Noise nodes per prediction (negative sampling)."),
    "ns_exponent": Float(-10.0, 10.0, help="Noise nodes are drawn in proportion to degree ** ns_exponent."),
    "sample": Float(0.0, 1.0, open_hi=True,
                    help="Subsampling threshold of frequent nodes, frequency estimated from degree (0: off)."),
    "epochs": Int(1, 10000, help="Passes; each pass walks anew from every node num_walks times."),
    "lr": Float(0.0, 10.0, open_lo=True, help="Starting learning rate."),
    "min_lr": Float(0.0, 10.0, none_ok=True, help="Learning rate at the end of the linear decay (None: lr * 1e-4)."),
    "batch_windows": Bool(help="Train each window as one small matrix product (2-3x faster); "
                               "off: word2vec's pair-by-pair kernel."),
    "kcore": Int(0, 100000, help="Train on the k-core only and propagate to the other nodes (0: off)."),
    "workers": Int(1, 1024, none_ok=True,
                   help="Training threads (None: all cores); 1 with a seed is reproducible bit for bit."),
    "seed": Int(0, 2**63 - 1, help="Seed of the random initialisation, walks and sampling."),
    "metric": Choice(("cosine", "dot", "euclidean"), help="Metric of the resulting table."),
    "progress": Bool(none_ok=True, help="Show a progress bar (None: when writing to a terminal)."),
    "callbacks": Callables(help="Called after each epoch with an EpochReport (words = walk nodes)."),
}

TAIL = ("batch_windows", "kcore", "workers", "seed", "metric", "progress", "callbacks")
NODE2VEC = {
    **{k: v for k, v in COMMON.items() if k not in TAIL},
    "p": Float(0.0, 1e6, open_lo=True, help="Return parameter: weight 1/p for stepping back to the previous node."),
    "q": Float(0.0, 1e6, open_lo=True, help="In-out parameter: weight 1/q for moving away from the previous node."),
    "walk_mode": Choice(("auto", "precompute", "rejection"),
                        help="Second-order sampling: per-edge alias tables, rejection, or by their memory."),
    **{k: COMMON[k] for k in TAIL},
}


class _WalkLearner(Learner):
    """The engine shared by DeepWalk and Node2Vec."""

    _constraints = COMMON

    # -- parameters -----------------------------------------------------------
    @property
    def workers_(self) -> int:
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)

    @property
    def min_lr_(self) -> float:
        return self.min_lr if self.min_lr is not None else self.lr * 1e-4

    def _pq(self) -> tuple[float, float]:
        return 1.0, 1.0

    def _walk_mode(self) -> str:
        return "auto"

    # -- the verb -------------------------------------------------------------
    def fit(self, source: Graph | str | os.PathLike) -> Embeddings:
        """Return node vectors learnt from `source` (a `Graph`, or a graph file read undirected).

        Keys are the node keys in id order; `counts` the times each node was
        walked through; meta holds the graph report, the parameters, the walk
        figures and, with ``kcore``, the core that was trained.
        """
        t0 = time.perf_counter()
        graph = source if isinstance(source, Graph) else read_graph(source)
        if len(graph.indices) == 0:
            raise InputError(f"{type(self).__name__}.fit: the graph has no edges to walk")
        rng = np.random.default_rng(self.seed)
        n = len(graph)
        half = 0.5 / self.dim
        vectors = (rng.random((n, self.dim), dtype=np.float32) * (2 * half) - half).astype(np.float32)
        core_meta = None
        if self.kcore:
            sub, members, core_meta = _core_subgraph(graph, self.kcore)
            win = vectors[members].copy()
            run, visits_sub = self._train(sub, win, t0)
            vectors[members] = win
            visits = np.zeros(n, np.int64)
            visits[members] = visits_sub
            t1 = time.perf_counter()
            core_meta["propagated"], core_meta["unreached"] = _propagate(graph, members, core_meta.pop("_core"),
                                                                         vectors)
            core_meta["propagate_seconds"] = round(time.perf_counter() - t1, 3)
            run["total_seconds"] = round(time.perf_counter() - t0, 3)
        else:
            run, visits = self._train(graph, vectors, t0)
        meta = {"learner": self.name, "params": self.get_params(),
                "graph": {**graph.report, "directed": graph.directed, "weighted": graph.weighted},
                "training": [run]}
        if core_meta is not None:
            meta["kcore"] = core_meta
        self.interrupted_ = run["interrupted"]
        self.embeddings_ = Embeddings(graph.nodes, vectors, metric=self.metric, counts=visits, meta=meta,
                                      name="nodes")
        return self.embeddings_

    # -- the engine -----------------------------------------------------------
    def _train(self, g: Graph, win: np.ndarray, t0: float) -> tuple[dict, np.ndarray]:
        n = len(g)
        p, q = self._pq()
        weighted = g.weights is not None
        t_prep = time.perf_counter()
        mode, (nprob, nalias, total, eoff, eprob, ealias) = _sampler(g, p, q, self._walk_mode())
        prep_seconds = time.perf_counter() - t_prep
        freq = _frequencies(g)
        if freq.sum() <= 0:
            raise InputError(f"{type(self).__name__}.fit: every edge weighs 0; nothing to walk")
        noise = np.maximum(freq, 1e-12 * freq.max())   # a node never walked still has a row
        keep = vocab_mod.keep_thresholds(noise, self.sample)
        alias_p, alias_i = vocab_mod.negative_table(noise, self.ns_exponent)
        codes = np.zeros(1, np.uint8)
        points = np.zeros(1, np.int32)
        hoff = np.zeros(1, np.int64)
        sub_ids = np.arange(n, dtype=np.int32)
        sub_off = np.arange(n + 1, dtype=np.int64)
        wout = np.zeros((n, self.dim), np.float32)
        sig, nls = _sigmoid_tables()
        starts_per_chunk = max(1, CHUNK_NODES // self.walk_length)
        rounds = self.num_walks * self.epochs
        chunks_per_round = -(-n // starts_per_chunk)
        nominal = float(n) * self.walk_length
        total_nodes = nominal * rounds
        lr0, lr1 = self.lr, self.min_lr_
        workers = self.workers_
        seed_base = (int(self.seed) * 0x9E3779B97F4A7C15) % 2**64
        # each round's start order is drawn when the round begins and dropped two rounds later
        # (a late worker that needs it again redraws the same order from (seed, round))
        orders: dict[int, np.ndarray] = {}
        orders_lock = threading.Lock()

        def order_of(r: int) -> np.ndarray:
            with orders_lock:
                o = orders.get(r)
                if o is None:
                    o = np.random.default_rng([self.seed, 1, r]).permutation(n).astype(np.int32)
                    orders[r] = o
                    for old in [k for k in orders if k < r - 2]:
                        del orders[old]
                return o
        stop = np.zeros(1, np.int64)
        inv_p, inv_q = 1.0 / p, 1.0 / q
        wl = self.walk_length
        buf_len = starts_per_chunk * wl

        class Buffers:
            def __init__(self) -> None:
                self.tokens = np.empty(buf_len, np.int32)
                self.ends = np.empty(starts_per_chunk, np.int64)
                self.visits = np.zeros(n, np.int64)
                self.walk = np.zeros(4)
                self.train = np.zeros(3)

        def run_chunk(c: int, b: Buffers) -> None:
            r, k = divmod(c, chunks_per_round)
            starts = order_of(r)[k * starts_per_chunk:(k + 1) * starts_per_chunk]
            seed = (seed_base ^ (c * 0xD1B54A32D192ED03)) % 2**64
            GK.walk_chunk(g.indptr, g.indices, weighted, nprob, nalias, total, mode, inv_p, inv_q,
                          eoff, eprob, ealias, starts, wl, np.uint64(seed), b.tokens, b.ends,
                          b.visits, b.walk)
            pos0 = r * nominal + k * starts_per_chunk * wl
            if self.batch_windows:
                GK.train_walks_batched(win, wout, b.tokens, b.ends, len(starts), keep, self.negative,
                                       self.window, alias_p, alias_i, lr0, lr1, float(pos0), total_nodes,
                                       np.uint64(seed ^ 0x5851F42D4C957F2D), wl, sig, nls, b.train, stop)
                return
            K.train_chunk(win, wout, sub_ids, sub_off, b.tokens, b.ends, 0, len(starts), keep, False, False,
                          self.negative, self.window, codes, points, hoff, alias_p, alias_i, lr0, lr1,
                          float(pos0), total_nodes, np.uint64(seed ^ 0x5851F42D4C957F2D), wl, sig, nls,
                          b.train, stop)

        # compile (or load from the cache) before threads start
        warm = Buffers()
        GK.walk_chunk(g.indptr, g.indices, weighted, nprob, nalias, total, mode, inv_p, inv_q, eoff, eprob,
                      ealias, np.zeros(0, np.int32), wl, np.uint64(0), warm.tokens, warm.ends, warm.visits,
                      warm.walk)
        if self.batch_windows:
            GK.train_walks_batched(win, wout, warm.tokens, warm.ends, 0, keep, self.negative, self.window,
                                   alias_p, alias_i, lr0, lr1, 0.0, total_nodes, np.uint64(0), wl, sig, nls,
                                   warm.train, stop)
        else:
            K.train_chunk(win, wout, sub_ids, sub_off, warm.tokens, warm.ends, 0, 0, keep, False, False,
                          self.negative, self.window, codes, points, hoff, alias_p, alias_i, lr0, lr1, 0.0,
                          total_nodes, np.uint64(0), wl, sig, nls, warm.train, stop)

        bufs = [Buffers() for _ in range(workers)]
        next_chunk = count().__next__
        interrupted = False
        reports: list[EpochReport] = []
        per_epoch = self.num_walks * chunks_per_round
        start_train = time.perf_counter()
        name = type(self).__name__

        def done_nodes() -> float:
            return float(sum(b.walk[1] for b in bufs))

        def loss_now() -> float:
            tr = np.sum([b.train for b in bufs], axis=0)
            return float(tr[0] / max(tr[1], 1))

        with progress(f"{name} walks", total=total_nodes, unit="nodes", enabled=self.progress) as task:
            for epoch in range(self.epochs):
                te = time.perf_counter()
                before = done_nodes()
                hi = (epoch + 1) * per_epoch

                interrupted = run_chunks(hi, next_chunk, run_chunk, bufs, stop=stop, name="walk", tick_every=8,
                                         tick=lambda: task.update(completed=done_nodes(), loss=loss_now()))
                # the counter ran one past the epoch's last chunk in every worker: rewind to the next epoch
                next_chunk = count(hi).__next__
                walked = done_nodes() - before
                lr_now = lr0 - (lr0 - lr1) * min(1.0, done_nodes() / total_nodes)
                rep = EpochReport(epoch=epoch + 1, epochs=self.epochs, loss=loss_now(), words=int(walked),
                                  seconds=time.perf_counter() - te, lr=lr_now, interrupted=interrupted)
                reports.append(rep)
                task.update(completed=done_nodes(), loss=rep.loss)
                if end_of_epoch(rep, interrupted, self.callbacks, log, epoch, self.epochs):
                    interrupted = True
                    break
        seconds = time.perf_counter() - start_train
        walk = np.sum([b.walk for b in bufs], axis=0)
        visits = np.sum([b.visits for b in bufs], axis=0)
        mode_name = {v: k for k, v in MODES.items()}[mode]
        run = {"walks": int(walk[0]), "walk_nodes": int(walk[1]), "stopped_at_dead_ends": int(walk[2]),
               "walk_mode": mode_name, "sampler_seconds": round(prep_seconds, 3),
               "rejection_proposals": int(walk[3]),
               "epochs_done": sum(1 for r in reports if not r.interrupted), "interrupted": interrupted,
               "train_seconds": round(seconds, 3), "total_seconds": round(time.perf_counter() - t0, 3),
               "nodes_per_second": round(float(walk[1]) / seconds, 1) if seconds > 0 else None,
               "epoch_loss": [round(r.loss, 6) for r in reports], "workers": workers}
        return run, visits


def _frequencies(g: Graph) -> np.ndarray:
    """Estimated share of walk visits per node: (weighted) degree; in + out for a directed graph."""
    n = len(g)
    w = np.ones(len(g.indices)) if g.weights is None else g.weights.astype(np.float64)
    src = np.repeat(np.arange(n), g.degree())
    freq = np.bincount(src, weights=w, minlength=n)
    if g.directed:
        freq += np.bincount(g.indices, weights=w, minlength=n)
    return freq


def _sampler(g: Graph, p: float, q: float, walk_mode: str) -> tuple[int, tuple]:
    """Return (mode, tables) for walking g: node alias tables and, precomputed, edge tables."""
    weighted = g.weights is not None
    if weighted:
        nprob, nalias, total = GK.node_alias(g.indptr, g.weights)
    else:
        nprob, nalias, total = np.ones(1, np.float32), np.zeros(1, np.int32), np.ones(1)
    empty = (np.zeros(1, np.int64), np.ones(1, np.float32), np.zeros(1, np.int32))
    if p == 1.0 and q == 1.0:
        return MODES["first_order"], (nprob, nalias, total, *empty)
    if walk_mode == "auto":
        walk_mode = "precompute" if precompute_bytes(g) <= PRECOMPUTE_BYTES else "rejection"
    if walk_mode == "rejection":
        return MODES["rejection"], (nprob, nalias, total, *empty)
    eoff = GK.edge_alias_offsets(g.indptr, g.indices)
    w = g.weights if weighted else np.ones(1, np.float32)
    eprob, ealias = GK.edge_alias(g.indptr, g.indices, w, weighted, 1.0 / p, 1.0 / q, eoff)
    return MODES["precompute"], (nprob, nalias, total, eoff, eprob, ealias)


def precompute_bytes(g: Graph) -> int:
    """Bytes of node2vec's per-edge alias tables for g (8 per entry, sum over edges (t -> v) of deg(v))."""
    return 8 * int(g.degree()[g.indices].sum()) + 8 * (len(g.indices) + 1)


def random_walks(graph: Graph, *, walk_length: int = 80, num_walks: int = 1, p: float = 1.0, q: float = 1.0,
                 walk_mode: str = "auto", seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return (nodes int32, ends int64): `num_walks` walks from every node, in the learners' sampler.

    Walk i is ``nodes[ends[i-1]:ends[i]]`` (node ids; shorter than
    walk_length when it reached a node without out-edges).  Starts follow
    node order, round after round.  For inspecting walks; the learners never
    build this array.
    """
    for name, v in (("walk_length", walk_length), ("num_walks", num_walks)):
        if int(v) < 1:
            raise InputError(f"random_walks: {name} must be >= 1, got {v}")
    if not (p > 0 and q > 0):
        raise InputError(f"random_walks: p and q must be > 0, got p={p}, q={q}")
    if walk_mode not in ("auto", "precompute", "rejection"):
        raise InputError(f"random_walks: walk_mode must be auto, precompute or rejection, got {walk_mode!r}")
    mode, (nprob, nalias, total, eoff, eprob, ealias) = _sampler(graph, float(p), float(q), walk_mode)
    n = len(graph)
    starts = np.tile(np.arange(n, dtype=np.int32), num_walks)
    tokens = np.empty(len(starts) * walk_length, np.int32)
    ends = np.empty(len(starts), np.int64)
    used = GK.walk_chunk(graph.indptr, graph.indices, graph.weights is not None, nprob, nalias, total, mode,
                         1.0 / p, 1.0 / q, eoff, eprob, ealias, starts, walk_length, np.uint64(seed), tokens,
                         ends, np.zeros(n, np.int64), np.zeros(4))
    return tokens[:used].copy(), ends


class DeepWalk(_WalkLearner):
    """Learns node vectors from uniform (or weight-proportional) random walks (Perozzi et al. 2014).

    ``fit(graph)`` takes a `Graph` (or a graph file, read undirected) and
    returns an `Embeddings` of its nodes.  Walks of ``walk_length`` nodes
    start ``num_walks`` times from every node, each step to a neighbour
    chosen uniformly (in proportion to the edge weight in a weighted graph);
    in a directed graph a walk stops at a node without out-edges.  The walks
    train skip-gram with negative sampling (``window``, ``negative``, linear
    learning-rate decay from ``lr``) chunk by chunk, never stored.
    ``kcore=K`` trains on the K-core and propagates (see the module docs).
    With ``workers=1`` and a seed a run is reproducible bit for bit; Ctrl-C
    stops at the next chunk and returns the model trained so far.
    """

    name = "deepwalk"

    def __init__(self, *, dim: int = 128, walk_length: int = 80, num_walks: int = 10, window: int = 10,
                 negative: int = 5, ns_exponent: float = 0.75, sample: float = 1e-3, epochs: int = 1,
                 lr: float = 0.025, min_lr: float | None = None, batch_windows: bool = True, kcore: int = 0,
                 workers: int | None = None, seed: int = 1, metric: str = "cosine",
                 progress: bool | None = None, callbacks: Sequence[Callable[[EpochReport], None]] = ()) -> None:
        super().__init__(dim=dim, walk_length=walk_length, num_walks=num_walks, window=window,
                         negative=negative, ns_exponent=ns_exponent, sample=sample, epochs=epochs, lr=lr,
                         min_lr=min_lr, batch_windows=batch_windows, kcore=kcore, workers=workers, seed=seed,
                         metric=metric, progress=progress, callbacks=callbacks)


class Node2Vec(_WalkLearner):
    """Learns node vectors from node2vec's biased second-order walks (Grover and Leskovec 2016).

    As `DeepWalk`, but a walk that came from t to v moves on to x with
    weight w(v, x) / p when x is t, w(v, x) when x is a neighbour of t, and
    w(v, x) / q otherwise: small p keeps walks local, small q sends them
    outward.  p = q = 1 is DeepWalk's walk.  ``walk_mode`` picks the
    sampler: "precompute" (an alias table per edge, O(1) a step, memory the
    sum over edges of the target's degree), "rejection" (memory O(E)) or
    "auto" (precompute when its tables fit 512 MiB).
    """

    name = "node2vec"
    _constraints = NODE2VEC

    def __init__(self, *, dim: int = 128, walk_length: int = 80, num_walks: int = 10, window: int = 10,
                 negative: int = 5, ns_exponent: float = 0.75, sample: float = 1e-3, epochs: int = 1,
                 lr: float = 0.025, min_lr: float | None = None, p: float = 1.0, q: float = 1.0,
                 walk_mode: str = "auto", batch_windows: bool = True, kcore: int = 0,
                 workers: int | None = None, seed: int = 1, metric: str = "cosine",
                 progress: bool | None = None, callbacks: Sequence[Callable[[EpochReport], None]] = ()) -> None:
        super().__init__(dim=dim, walk_length=walk_length, num_walks=num_walks, window=window,
                         negative=negative, ns_exponent=ns_exponent, sample=sample, epochs=epochs, lr=lr,
                         min_lr=min_lr, p=p, q=q, walk_mode=walk_mode, batch_windows=batch_windows, kcore=kcore,
                         workers=workers, seed=seed, metric=metric, progress=progress, callbacks=callbacks)

    def _pq(self) -> tuple[float, float]:
        return float(self.p), float(self.q)

    def _walk_mode(self) -> str:
        return self.walk_mode


# --- k-core ------------------------------------------------------------------
def _symmetric(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of g with every edge in both directions (g's own arrays when undirected)."""
    if not g.directed:
        return g.indptr, g.indices
    src = np.repeat(np.arange(len(g), dtype=np.int64), g.degree())
    u = Graph.from_edges(src, g.indices.astype(np.int64), directed=False, nodes=g.nodes)
    return u.indptr, u.indices


def core_numbers(graph: Graph) -> np.ndarray:
    """Return every node's core number (int32): the largest k such that the node is in the k-core.

    Edge directions are ignored and self-loops do not count (Batagelj and
    Zaversnik's O(E) peeling, compiled).
    """
    indptr, indices = _symmetric(graph)
    return GK.core_numbers(indptr, indices)


def _core_subgraph(g: Graph, k: int) -> tuple[Graph, np.ndarray, dict]:
    core = core_numbers(g)
    top = int(core.max()) if len(core) else 0
    members = np.flatnonzero(core >= k)
    if len(members) < 2:
        raise InputError(f"kcore={k}: the graph's largest core is the {top}-core; "
                         f"give kcore <= {top} (0 turns the k-core training off)")
    new = np.full(len(g), -1, np.int64)
    new[members] = np.arange(len(members))
    src = np.repeat(np.arange(len(g), dtype=np.int64), g.degree())
    keep = (new[src] >= 0) & (new[g.indices] >= 0)
    s, d = new[src[keep]], new[g.indices[keep]]
    indptr = np.zeros(len(members) + 1, np.int64)
    np.cumsum(np.bincount(s, minlength=len(members)), out=indptr[1:])
    w = None if g.weights is None else g.weights[keep]
    sub = Graph(indptr, d.astype(np.int32), w, g.nodes[members], directed=g.directed)
    meta = {"k": k, "max_core": top, "core_nodes": int(len(members)), "core_edges": sub.num_edges,
            "_core": core}
    return sub, members, meta


def _propagate(g: Graph, members: np.ndarray, core: np.ndarray, vectors: np.ndarray) -> tuple[int, int]:
    indptr, indices = _symmetric(g)
    done = np.zeros(len(g), np.uint8)
    done[members] = 1
    order = np.argsort(-core.astype(np.int64), kind="stable").astype(np.int64)
    filled = int(GK.propagate(indptr, indices, order, done, vectors))
    return filled, int(len(g) - len(members) - filled)
