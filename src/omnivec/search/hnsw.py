"""The HNSW backend: a usearch graph, memory-mapped straight out of the index file.

usearch was picked over FAISS's IndexHNSWFlat because it can serve a graph
from a memory view of the file (`Index.view`) — a 1M-vector index opens in
milliseconds and processes share the pages — and at equal recall its
queries/s were on par (bench/search_vs_faiss.py prints both).  Its build
does the same work as FAISS's at equal M/ef_construction (one thread: about
the same CPU seconds and the same recall at equal ef on GloVe), but its
threads spin on each other's locks, so the build uses only the CPUs other
processes leave idle, looked at again between batches (`BuildThreads`).

Deletes and filters are our masks: deleted nodes stay in the graph as
waypoints (so recall does not decay) and are skipped when results are taken;
a filter that passes few ids is answered by exact search over just those ids,
otherwise the graph is asked for enough candidates that k pass, widening the
request until they do.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from ..errors import require
from . import tune
from .index import BACKENDS, REBUILD, Index

_SPACE = {"ip": "ip", "l2": "l2sq"}   # a metric's engine space -> usearch's metric name
MAX_EF = 1 << 20                      # a search breadth past this is a damaged header, not a setting


def _usearch():
    return require("usearch.index", "hnsw", "the HNSW index")


_KIND: list = []


def _unknown_kind():
    """Return usearch's ScalarKind.Unknown (looked up once: it is passed on every query)."""
    if not _KIND:
        _KIND.append(_usearch().ScalarKind.Unknown)
    return _KIND[0]


def _cpu_ticks() -> tuple[int, int]:
    """Return (idle, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return f[3] + f[4], sum(f[:8])


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class BuildThreads:
    """How many threads a graph build should use: the CPUs this process may run on, less those others keep busy.

    usearch's threads wait for each other's node locks by spinning.  When other
    processes keep the cores busy, a thread holding a lock gets descheduled
    and the rest spin through their time slices: on a 2-core machine shared
    with other work, 2 threads built a 100k x 50 graph 3x slower than 1
    (README, search section).  So the build asks `next()` before each batch:
    the CPUs other processes used since the last call (Linux /proc/stat less
    this process's own CPU time) are taken off, leaving at least one.
    Elsewhere, or with `fixed`, every usable CPU (or `fixed`) is used.
    """

    def __init__(self, fixed: int = 0, window: float = 0.1) -> None:
        self.cpus = fixed or _usable_cpus()
        self.fixed = bool(fixed) or self.cpus == 1
        self._mark = None
        self.last = self.cpus      # kept while a look finds too little time passed to tell
        if not self.fixed:
            try:
                self._sample()
                if window > 0:
                    time.sleep(window)   # a first look at the machine before any batch
                else:
                    self._mark = None
                with open("/proc/stat") as fh:
                    self.machine = sum(1 for line in fh if line.startswith("cpu") and line[3:4].isdigit())
            except (OSError, ValueError, IndexError):
                self.fixed = True

    def _sample(self):
        prev, self._mark = self._mark, (_cpu_ticks(), time.process_time(), time.monotonic())
        return prev

    def others(self) -> float | None:
        """Return how many CPUs other processes kept busy since the last look (None: unknown)."""
        prev = self._sample()
        if prev is None:
            return None
        (i0, t0), own0, w0 = prev
        (i1, t1), own1, w1 = self._mark
        if t1 <= t0 or w1 <= w0:
            return None
        busy = (1 - (i1 - i0) / (t1 - t0)) * self.machine
        return max(0.0, busy - (own1 - own0) / (w1 - w0))

    def next(self) -> int:
        """Return the threads for the next batch."""
        if self.fixed:
            return self.cpus
        others = self.others()
        if others is not None:
            self.last = max(1, min(self.cpus, int(self.cpus - others + 0.5)))
        return self.last


def build_threads(window: float = 0.1) -> int:
    """Return the threads a build would start with now (see BuildThreads)."""
    return BuildThreads(0, window).next()


# Rows per usearch add call while building: the thread count is looked at again between calls.
ADD_BATCH = 16384


@BACKENDS.register("hnsw", aliases=("usearch",))
class HNSWIndex(Index):
    """Approximate search over a usearch HNSW graph; `ef` trades speed for recall."""

    name = "hnsw"
    # target_recall 0 = keep `ef`; otherwise `ef` is tuned after the build (search/tune.py)
    # threads 0 = the CPUs this process may run on that are idle (build_threads)
    build_defaults: dict[str, Any] = {"M": 16, "ef_construction": 128, "dtype": "f32", "target_recall": 0.0,
                                      "threads": 0}
    search_defaults: dict[str, Any] = {"ef": 64}
    # Below ~2% of ids a graph walk must discard almost everything it visits;
    # exact search over the gathered rows is both faster and exact there.
    exact_fraction = 0.02

    @classmethod
    def check_params(cls, params):
        out = super().check_params(params)
        if out["M"] < 2:
            from ..errors import InputError
            raise InputError(f"the 'M' parameter of the hnsw index must be an int >= 2; got {out['M']}")
        if out["dtype"] not in ("f32", "f16", "i8", "bf16"):
            from ..errors import InputError
            raise InputError(f"the 'dtype' parameter of the hnsw index must be one of f32, f16, bf16, i8; "
                             f"got {out['dtype']!r}")
        tune.check_target(out["target_recall"], cls.name)
        return out

    def _new_engine(self):
        ui = _usearch()
        return ui.Index(ndim=self.dim, metric=_SPACE[self.metric.space], dtype=self.params["dtype"],
                        connectivity=self.params["M"], expansion_add=self.params["ef_construction"],
                        expansion_search=self.params["ef"])

    def _engine_build(self, task) -> None:
        self.engine = self._new_engine()
        self._view = None
        # below ~10k rows a build takes well under a second: not worth 0.1 s of looking
        threads = BuildThreads(self.params["threads"], 0.1 if self.n_base >= 10_000 else 0.0)
        for s, X in self._base_chunks():
            for i in range(0, len(X), ADD_BATCH):
                part = X[i:i + ADD_BATCH]
                self.engine.add(np.arange(s + i, s + i + len(part), dtype=np.uint64), part,
                                threads=threads.next())
                task.advance(len(part))
        if self.params["target_recall"]:
            self.tuning = tune.tune(self, self.params["target_recall"], self._tune_candidates)

    # Search breadths tried when tuning: ~1.5x apart, so the chosen one is within 1.5x of the least.
    TUNE_EF = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)

    def _tune_candidates(self, probe: tune.Probe, target: float) -> list[tuple[float, dict]]:
        """Return [(cost, {"ef": least ef reaching target})] (the largest ef tried when none does)."""
        efs = [e for e in self.TUNE_EF if e >= probe.k] or [probe.k]
        ef = tune.smallest(efs, lambda e: probe.recall(self, ef=e) >= target) or efs[-1]
        return [(float(ef), {"ef": ef})]

    def _writable(self):
        if self._view is not None:
            # A memory view is read-only: adding copies the graph into memory once.
            ui = _usearch()
            eng = ui.Index(ndim=self.dim, metric=_SPACE[self.metric.space], dtype=self.params["dtype"],
                           connectivity=self.params["M"], expansion_add=self.params["ef_construction"],
                           expansion_search=self.params["ef"])
            eng.load(bytes(self._view))
            self.engine, self._view = eng, None
        return self.engine

    def _engine_add(self, X: np.ndarray, ids: np.ndarray) -> None:
        self._writable().add(ids.astype(np.uint64), X)

    def _scores(self, dist: np.ndarray) -> np.ndarray:
        """Return float32 higher-is-closer scores for usearch distances (1 - ip, or squared L2)."""
        # usearch's "ip" distance is 1 - <a, b>; its "l2sq" is the squared distance itself
        return self.metric.engine_scores(np.float32(1.0) - dist if self.metric.space == "ip" else dist)

    @staticmethod
    def _run(eng, Q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (ids, distances, found) from the engine for 2-D float32 Q; ids -1 past found."""
        # One query cannot use a thread pool; waking one costs more than it gives.
        threads = 1 if len(Q) == 1 else 0
        try:
            # The compiled call behind usearch's search(): its public wrapper builds
            # Matches objects that would be unpacked again at once.
            keys, dist, found = eng._compiled.search_many(Q, count=count, exact=False, threads=threads,
                                                          dtype=_unknown_kind())[:3]
        except (AttributeError, TypeError):  # a usearch without that entry point
            m = eng.search(Q, count, threads=threads)
            keys, dist = np.asarray(m.keys), np.asarray(m.distances)
            if keys.ndim == 1:  # one query comes back 1-D, holding only what was found
                found = np.array([len(keys)])
                keys = np.concatenate([keys, np.zeros(count - len(keys), keys.dtype)])[None, :]
                dist = np.concatenate([dist, np.full(count - len(dist), np.inf, dist.dtype)])[None, :]
            else:
                found = np.asarray(m.counts).reshape(-1)
        ids = keys.astype(np.int64)
        if (found < count).any():
            ids[np.arange(count)[None, :] >= np.asarray(found)[:, None]] = -1
        return ids, dist, found

    def _engine_with_ef(self, sp: dict) -> Any:
        """Return the engine, its search breadth set to sp['ef']."""
        eng = self.engine
        ef = int(sp["ef"])
        if eng.expansion_search != ef:
            eng.expansion_search = ef
        return eng

    def _search_one(self, q, k):
        n2 = float(q @ q)
        if not math.isfinite(n2):
            return None  # NaN or infinity: search() says which
        if self.metric.normalize_queries and n2 > 0:
            q = q / np.float32(math.sqrt(n2))
        ids, dist, found = self._run(self._engine_with_ef(self.search_params), q[None, :], k)
        return None if found[0] < k else (ids, self._scores(dist))

    def _engine_search(self, Q, k, allowed, n_ok, sp, filtered):
        eng = self._engine_with_ef(sp)
        Qp = self._prepare(Q)
        total = self.total
        if allowed is None:
            ids, dist, _ = self._run(eng, Qp, k)
            return ids, self._scores(dist)
        # Ask for enough candidates that k pass the mask, widening until they do.
        if filtered:
            fetch = min(total, k + math.ceil(k * total / max(n_ok, 1) * 1.3))
        else:  # only deletes to skip: a few spare candidates usually suffice
            fetch = min(total, k + min(self.n_deleted, k))
        nq = len(Q)
        out_ids = np.full((nq, k), -1, np.int64)
        out_sc = np.full((nq, k), -np.inf, np.float32)
        todo = np.arange(nq)
        # Past this width a graph walk costs more than the exact search that
        # search() runs for any query still short of k.
        cap = min(total, max(fetch * 16, 4096))
        while len(todo):
            ids, dist, _ = self._run(eng, Qp[todo], fetch)
            valid = ids >= 0
            valid &= allowed[np.where(valid, ids, 0)]
            order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
            got = np.take_along_axis(valid, order, axis=1)
            sel_ids = np.where(got, np.take_along_axis(ids, order, axis=1), -1)
            sel_sc = np.where(got, self._scores(np.take_along_axis(dist, order, axis=1)), -np.inf)
            done = got.all(axis=1) | (fetch >= cap)
            out_ids[todo[done]] = sel_ids[done]
            out_sc[todo[done]] = sel_sc[done]
            todo = todo[~done]
            fetch = min(cap, fetch * 4)
        return out_ids, out_sc

    def _engine_bytes(self) -> np.ndarray:
        if self._view is not None:
            return self._view
        return np.frombuffer(self.engine.save(), np.uint8)

    @classmethod
    def _engine_check(cls, f) -> str:
        from ..errors import CorruptFileError
        from ._usearch_layout import check_graph

        for name in ("ef", "ef_construction"):
            if f.params[name] > MAX_EF:
                raise CorruptFileError(f"the index header's params: {name}={f.params[name]}, more than the "
                                       f"{MAX_EF} allowed{REBUILD}", path=f.path, offset=8)
        return check_graph(f.engine, path=f.path, base=f.engine_offset, dim=f.dim, dtype=f.params["dtype"],
                           space=f.metric.space, connectivity=f.params["M"], total=f.total)

    def _engine_load(self, buf: np.ndarray) -> None:
        ui = _usearch()
        eng = ui.Index(ndim=self.dim, metric=_SPACE[self.metric.space], dtype=self.params["dtype"],
                       connectivity=self.params["M"], expansion_search=self.params["ef"])
        # A view over the memory-mapped file: no copy, nothing read until searched.
        eng.view(buf)
        self.engine, self._view = eng, buf

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["memory_mapped"] = self._view is not None
        return out
