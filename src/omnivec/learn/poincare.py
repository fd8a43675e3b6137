"""Poincaré embeddings (Nickel & Kiela 2017): hierarchies in the unit ball of hyperbolic space.

``Poincare(dim=10).fit("closure.tsv")`` reads ``child parent`` relations
(a TSV or whitespace-separated file, ``.gz`` read transparently, the
``id1 id2`` header of the published WordNet closures skipped, ``#`` comments
and blank lines ignored; or an iterable of pairs) and returns an `Embeddings`
with metric "poincare" (``most_similar`` and every search rank by the
Poincaré distance).  Training is Riemannian SGD in the unit ball: each
relation (u, v) is scored against `negative` nodes drawn among those u is
not related to (the loss is the softmax of -d(u, v) over v and them), the
Euclidean gradient is rescaled by (1 - |x|^2)^2 / 4, and a row that reaches
the boundary is pulled back to norm 1 - eps.  The first `burn_in` epochs run
at lr / burn_in_factor with negatives drawn ∝ degree ** burn_in_exponent
(the reference implementation's 0.75); the `epochs` that follow at lr with
negatives drawn ∝ degree ** ns_exponent (0: uniformly).  Relations of a
batch share the vectors at its start; threads update shared vectors without
locks (Hogwild); one worker and a seed give the same vectors bit for bit.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .._lazy import kernels
from .._params import Bool, Callables, Choice, Float, Int
from .._progress import progress
from ..embeddings import Embeddings
from ..errors import InputError, ParseError
from ._hogwild import end_of_epoch, run_chunks
from ._learner import Learner

K = kernels("omnivec.learn._poincare_kernels")

log = logging.getLogger("omnivec.learn")

CHUNK = 4096                     # relations a worker takes at a time (each chunk has its own random draws)
HEADERS = {("id1", "id2"), ("child", "parent"), ("u", "v")}


# -- relations ---------------------------------------------------------------------

@dataclass
class Relations:
    """Relations (child -> parent) over nodes numbered 0..n-1, with what reading them found."""

    keys: list                   # node names, in order of first appearance
    child: np.ndarray            # int64 node numbers
    parent: np.ndarray
    source: str = "<pairs>"
    lines: int = 0               # relation lines read
    duplicates: int = 0          # repeated relations dropped
    cycles: list = field(default_factory=list)   # node names of each cycle found (with cycles="warn")

    def __len__(self) -> int:
        return len(self.child)

    @property
    def n_nodes(self) -> int:
        return len(self.keys)

    def related(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (ptr, idx): each node's parents (the nodes it is related to), CSR, sorted, unique."""
        return csr(self.n_nodes, self.child, self.parent)

    def degrees(self) -> np.ndarray:
        """Return each node's number of relations, as child or as parent."""
        n = self.n_nodes
        return (np.bincount(self.child, minlength=n) + np.bincount(self.parent, minlength=n)).astype(np.int64)

    def to_meta(self) -> dict:
        return {"source": self.source, "relations": len(self), "nodes": self.n_nodes,
                "lines": self.lines, "duplicates": self.duplicates,
                "cycles": [list(map(str, c[:10])) for c in self.cycles[:5]]}


def csr(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (ptr, idx): for each node x in 0..n-1 the sorted unique b of the pairs (x, b)."""
    pairs = np.unique(np.stack([np.asarray(a, np.int64), np.asarray(b, np.int64)], axis=1), axis=0) \
        if len(a) else np.zeros((0, 2), np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pairs[:, 0], minlength=n), out=ptr[1:])
    return ptr, np.ascontiguousarray(pairs[:, 1])


def read_relations(source, *, cycles: str = "error", allow_empty: bool = False) -> Relations:
    """Return the relations of a ``child parent`` file (TSV, whitespace, .gz) or an iterable of pairs.

    A line must hold two fields (tab-separated, else whitespace-separated);
    blank lines and ``#`` comments are skipped, and a first line that reads
    ``id1 id2`` (or ``child parent``) is a header.  A malformed line or a
    node related to itself raises ParseError (InputError for pairs) naming the
    file and line; repeated relations are counted and dropped.  Cycles
    (u above v above ... above u) raise InputError naming their nodes, or with
    cycles="warn" are logged and kept.
    """
    if cycles not in ("error", "warn"):
        raise InputError(f"cycles must be 'error' or 'warn'; got {cycles!r}")
    if isinstance(source, Relations):
        return source
    index: dict = {}
    keys: list = []
    ch: list[int] = []
    pa: list[int] = []

    def node(name) -> int:
        i = index.get(name)
        if i is None:
            i = index[name] = len(keys)
            keys.append(name)
        return i

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        lines = _read_file(path, node, ch, pa)
        where = path
    else:
        where = "<pairs>"
        lines = 0
        for no, pair in enumerate(source, 1):
            try:
                a, b = pair
            except (TypeError, ValueError):
                raise InputError(f"relation {no}: expected a (child, parent) pair; got {pair!r}") from None
            if a == b:
                raise InputError(f"relation {no}: {a!r} is related to itself; a hierarchy relates a node "
                                 "to others only")
            ch.append(node(a))
            pa.append(node(b))
            lines += 1
    child = np.asarray(ch, np.int64)
    parent = np.asarray(pa, np.int64)
    if not len(child) and not allow_empty:
        raise InputError(f"{where}: no relations; expected lines 'child<TAB>parent'")
    if all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys) and keys:
        keys = [int(k) for k in keys]
    else:
        keys = [str(k) for k in keys]
    rel = Relations(keys, child, parent, source=where, lines=lines)
    if len(child):
        pairs, first = np.unique(np.stack([child, parent], axis=1), axis=0, return_index=True)
        rel.duplicates = int(len(child) - len(pairs))
        if rel.duplicates:
            keep = np.sort(first)
            rel.child, rel.parent = child[keep], parent[keep]
            log.info("%s: %d repeated relations dropped", where, rel.duplicates)
    found = find_cycles(rel)
    if found:
        names = [[rel.keys[i] for i in c] for c in found]
        shown = "; ".join(" -> ".join(map(str, c[:8])) + (" ..." if len(c) > 8 else "") for c in names[:3])
        msg = (f"{where}: the relations have {len(found)} cycle{'s' if len(found) > 1 else ''} "
               f"(nodes above themselves): {shown}")
        if cycles == "error":
            raise InputError(msg + "; a hierarchy has none (pass cycles='warn' to train anyway)")
        log.warning("%s", msg)
        rel.cycles = names
    return rel


def _read_file(path: str, node, ch: list, pa: list) -> int:
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such relations file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a relations file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open the relations file: {exc.strerror or exc}") from None
    with raw:
        fh = gzip.open(raw) if raw.peek(2)[:2] == b"\x1f\x8b" else raw
        lines = 0
        first = True
        try:
            for no, data in enumerate(fh, 1):
                try:
                    line = data.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    raise ParseError(f"not UTF-8 text ({exc.reason})", path=path, line=no) from None
                if not line or line.startswith("#"):
                    continue
                parts = line.split("\t") if "\t" in line else line.split()
                parts = [p.strip() for p in parts]
                if first:
                    first = False
                    if len(parts) == 2 and (parts[0].lower(), parts[1].lower()) in HEADERS:
                        continue
                if len(parts) != 2 or not parts[0] or not parts[1]:
                    raise ParseError(f"expected 2 fields 'child<TAB>parent', found {len(parts)}: "
                                     f"{line[:80]!r}", path=path, line=no)
                if parts[0] == parts[1]:
                    raise ParseError(f"{parts[0]!r} is related to itself; a hierarchy relates a node "
                                     "to others only", path=path, line=no)
                ch.append(node(parts[0]))
                pa.append(node(parts[1]))
                lines += 1
        except (EOFError, OSError) as exc:     # gzip reports damage where it reaches it
            raise ParseError(f"damaged gzip data after {lines} relations ({exc})", path=path) from None
    return lines


def find_cycles(rel: Relations) -> list[list[int]]:
    """Return the node numbers of each cycle (strongly connected set of 2 or more nodes), largest first."""
    if not len(rel):
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = rel.n_nodes
    g = coo_matrix((np.ones(len(rel), np.int8), (rel.child, rel.parent)), shape=(n, n)).tocsr()
    k, labels = connected_components(g, directed=True, connection="strong")
    if k == n:
        return []
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes > 1)
    big = big[np.argsort(-sizes[big], kind="stable")]
    return [np.flatnonzero(labels == c).tolist() for c in big]


# -- the learner -------------------------------------------------------------------

@dataclass
class PoincareEpoch:
    """What one epoch did; passed to every callback."""

    epoch: int            # 1-based, burn-in epochs included
    epochs: int           # burn_in + epochs
    burn_in: bool
    loss: float           # mean loss per relation
    relations: int        # relations trained on this epoch
    seconds: float
    lr: float
    interrupted: bool = False


class Poincare(Learner):
    """Learns Poincaré embeddings (Nickel & Kiela 2017) of a hierarchy from ``child parent`` relations.

    ``fit(source)`` returns an `Embeddings` (metric "poincare"; nodes in
    order of first appearance, counts = degrees; provenance in ``.meta``).
    Ctrl-C during fit stops at the next batch and returns the vectors trained
    so far (``meta['training']['interrupted']`` is True).
    """

    name = "poincare"
    _constraints = {
        "dim": Int(1, 4096, help="Dimensions of the vectors."),
        "epochs": Int(0, 100000, help="Epochs at the full learning rate, after the burn-in epochs."),
        "negative": Int(1, 10000, help="Nodes u is not related to, scored against each relation (u, v)."),
        "lr": Float(0.0, 1000.0, open_lo=True, help="Learning rate of Riemannian SGD."),
        "burn_in": Int(0, 100000, help="Burn-in epochs at lr / burn_in_factor before the others."),
        "burn_in_factor": Float(1.0, 1e6, help="The burn-in learning rate is lr divided by this."),
        "burn_in_exponent": Float(-10.0, 10.0,
                                  help="Burn-in negatives are drawn in proportion to degree ** this."),
        "ns_exponent": Float(-10.0, 10.0,
                                   help="Later negatives are drawn in proportion to degree ** this "
                                        "(0: uniformly)."),
        "batch_size": Int(1, 1 << 20, help="Relations whose gradients are taken at the same vectors."),
        "eps": Float(0.0, 0.1, open_lo=True, help="Rows are kept at norm 1 - eps at most."),
        "regularization": Float(0.0, 1000.0,
                                help="L2 pull of each relation's parent towards the origin (gensim's "
                                     "regularization_coeff; 0 in the paper)."),
        "init_range": Float(0.0, 0.5, open_lo=True,
                            help="Initial coordinates are uniform in [-init_range, init_range]."),
        "cycles": Choice(("error", "warn"), help="What cycles in the relations do: refuse, or warn."),
        "workers": Int(1, 1024, none_ok=True,
                       help="Training threads (None: all cores); 1 with a seed is reproducible bit for bit."),
        "seed": Int(0, 2**63 - 1, help="Seed of the initialisation, order and negatives."),
        "progress": Bool(none_ok=True, help="Show a progress bar (None: when writing to a terminal)."),
        "callbacks": Callables(help="Called after each epoch with a PoincareEpoch."),
    }

    def __init__(self, *, dim: int = 10, epochs: int = 50, negative: int = 10, lr: float = 0.3,
                 burn_in: int = 10, burn_in_factor: float = 10.0, burn_in_exponent: float = 0.75,
                 ns_exponent: float = 0.0, batch_size: int = 10, eps: float = 1e-5,
                 regularization: float = 0.0, init_range: float = 0.001, cycles: str = "error",
                 workers: int | None = None, seed: int = 1, progress: bool | None = None,
                 callbacks: Sequence[Callable[[PoincareEpoch], None]] = ()) -> None:
        super().__init__(dim=dim, epochs=epochs, negative=negative, lr=lr, burn_in=burn_in,
                         burn_in_factor=burn_in_factor, burn_in_exponent=burn_in_exponent,
                         ns_exponent=ns_exponent, batch_size=batch_size, eps=eps,
                         regularization=regularization, init_range=init_range, cycles=cycles,
                         workers=workers, seed=seed, progress=progress, callbacks=callbacks)

    @property
    def workers_(self) -> int:
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)

    def fit(self, source: str | os.PathLike | Iterable[tuple[Any, Any]] | Relations) -> Embeddings:
        """Return the Poincaré vectors of the nodes of `source` (a relations file, pairs, or `Relations`)."""
        t0 = time.perf_counter()
        rel = read_relations(source, cycles=self.cycles)
        if rel.n_nodes < 2:
            raise InputError(f"{rel.source}: one node; nothing to embed")
        self.relations_ = rel
        n, dim = rel.n_nodes, self.dim
        rng = np.random.default_rng(self.seed)
        X = rng.uniform(-self.init_range, self.init_range, (n, dim))
        self.vectors_ = X
        ptr, idx = rel.related()
        deg = rel.degrees().astype(np.float64)
        tables = {}
        for e in {self.burn_in_exponent, self.ns_exponent}:
            w = np.where(deg > 0, deg, 1.0) ** e
            tables[e] = K.alias_table(w)
        E = len(rel)
        child = np.ascontiguousarray(rel.child)
        parent = np.ascontiguousarray(rel.parent)
        workers = self.workers_
        total_epochs = self.burn_in + self.epochs
        halt = np.zeros(1, np.int64)
        seed_base = (int(self.seed) * 0x9E3779B97F4A7C15) % 2**64
        # compile (or load from the cache) before the threads start
        K.train_chunk(X, child, parent, np.zeros(0, np.int64), 0, 0, ptr, idx, *tables[self.ns_exponent],
                      self.negative, 0.0, self.eps, 0.0, self.batch_size, np.uint64(0), np.zeros(3), halt)
        reports: list[PoincareEpoch] = []
        interrupted = False
        missing = 0
        start_train = time.perf_counter()
        n_chunks = (E + CHUNK - 1) // CHUNK
        with progress("Poincare", total=E * total_epochs, unit="relations", enabled=self.progress) as task:
            for epoch in range(total_epochs):
                burn = epoch < self.burn_in
                lr = self.lr / self.burn_in_factor if burn else self.lr
                prob, alias = tables[self.burn_in_exponent if burn else self.ns_exponent]
                order = np.random.default_rng([self.seed, epoch]).permutation(E).astype(np.int64)
                te = time.perf_counter()
                stats = [np.zeros(3) for _ in range(workers)]
                next_chunk = count().__next__
                def run(c: int, st: np.ndarray, lr=lr, prob=prob, alias=alias, order=order,
                        epoch=epoch) -> None:
                    seed = (seed_base ^ ((epoch & 0xFFFFF) << 40) ^ c) % 2**64
                    K.train_chunk(X, child, parent, order, c * CHUNK, min(E, (c + 1) * CHUNK), ptr, idx,
                                  prob, alias, self.negative, lr, self.eps, self.regularization,
                                  self.batch_size, np.uint64(seed), st, halt)

                def tick(stats=stats, epoch=epoch, lr=lr) -> None:
                    tot = np.sum(stats, axis=0)
                    task.update(completed=epoch * E + tot[1], loss=float(tot[0] / max(tot[1], 1)), lr=lr)

                interrupted = run_chunks(n_chunks, next_chunk, run, stats, tick=tick, stop=halt, name="poincare",
                                         tick_every=1)
                tot = np.sum(stats, axis=0)
                missing += int(tot[2])
                rep = PoincareEpoch(epoch=epoch + 1, epochs=total_epochs, burn_in=burn,
                                    loss=float(tot[0] / max(tot[1], 1)), relations=int(tot[1]),
                                    seconds=time.perf_counter() - te, lr=lr, interrupted=interrupted)
                reports.append(rep)
                tick()
                if end_of_epoch(rep, interrupted, self.callbacks, log, epoch, total_epochs):
                    interrupted = True
                    break
        seconds = time.perf_counter() - start_train
        if missing:
            log.warning("%d negatives could not be drawn (nodes related to nearly every other node)", missing)
        self.history_ = reports
        self.interrupted_ = interrupted
        done = sum(r.relations for r in reports)
        meta = {"learner": self.name, "params": self.get_params(), "relations": rel.to_meta(),
                "training": {"epochs_done": sum(1 for r in reports if not r.interrupted),
                             "interrupted": interrupted, "relations": done,
                             "train_seconds": round(seconds, 3),
                             "total_seconds": round(time.perf_counter() - t0, 3),
                             "relations_per_second": round(done / seconds, 1) if seconds > 0 else None,
                             "epoch_loss": [round(r.loss, 6) for r in reports],
                             "missing_negatives": missing, "workers": workers}}
        self.embeddings_ = Embeddings(rel.keys, X.astype(np.float32), metric="poincare",
                                      counts=rel.degrees(), meta=meta, name="nodes")
        return self.embeddings_
