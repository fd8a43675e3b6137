"""A sharded index on Ray: one index per shard, built by Ray tasks, served by one Ray actor per shard.

    idx = ShardedIndex.build("big.ovs", "hnsw", ray_address=addr, M=16)  # tasks build big-0000N-of-...ov.hnsw
    found = idx.search(Q, k=10, filter="counts >= 5")                    # fan-out, merged top-k
    idx.close()

Each shard's index is an ordinary index file beside its model file
(``<shard>.ov.hnsw``), so `omnivec verify` checks it and `omnivec.open` finds
it.  An actor opens its shard memory-mapped and its index, and answers
searches over its own rows; the driver needs only the manifest.  A filter is
pushed to the shards: allow/deny keys go to the shard their hash routes them
to, conditions to every shard, a mask (or a condition on ``row``) is cut
into each shard's slice.  A shard that does not answer (its actor died, or
it ran past `timeout`) makes the search raise ShardError naming it: a merged
top-k from fewer shards would be silently short.
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from ..core.neighbors import Neighbors
from ..errors import ClusterError, InputError, OmnivecError, ShardError
from .cluster import connect
from .shards import Manifest, merge_topk, read_manifest, shard_of


# -- work done on the cluster ------------------------------------------------------------

def build_shard_index(shard_path: str, backend: str, params: dict) -> dict:
    """Return a summary of building `backend`'s index over one shard file and saving it beside the file."""
    from ..search import build_index, index_path
    from ..store.model import open_table

    t0 = time.perf_counter()
    emb = open_table(shard_path)
    index = build_index(emb, backend, show_progress=False, **params)
    out = index_path(shard_path, backend)
    index.save(out)
    return {"path": os.fspath(out), "rows": len(emb), "seconds": time.perf_counter() - t0,
            "bytes": os.path.getsize(out), "pid": os.getpid()}


class ShardServer:
    """Serves one shard: its table memory-mapped and its index, answering searches over its rows."""

    def __init__(self, shard_path: str, backend: str | None) -> None:
        from ..search import open_index, index_path
        from ..store.model import open_table

        self.path = shard_path
        self.emb = open_table(shard_path)
        if backend is None:
            from ..search import build_index
            self.index = build_index(self.emb, "flat")
        else:
            self.index = open_index(index_path(shard_path, backend), self.emb, backend=backend)

    def info(self) -> dict:
        """Return the shard's rows, this process's id and resident memory, and the node it runs on."""
        import ray

        return {"rows": len(self.emb), "pid": os.getpid(), "rss_bytes": _rss_bytes(),
                "node": ray.get_runtime_context().get_node_id()}

    def vectors(self, keys: list) -> np.ndarray:
        """Return the vectors of keys of this shard (KeyNotFound for one it lacks)."""
        return self.emb.vectors_of(keys)

    def search(self, Q: np.ndarray, k: int, flt: dict | None, exclude_keys: list, exact: bool,
               params: dict) -> tuple[np.ndarray, np.ndarray, list[list]]:
        """Return (local ids, scores, keys) of the k best rows of this shard per query."""
        from ..search.filters import Filter

        exclude = None
        if any(key is not None for key in exclude_keys):
            present = [key for key in exclude_keys if key is not None]
            ids = dict(zip(present, self.index.ids_of(present).tolist()))
            exclude = [[ids[key]] if key is not None and ids[key] >= 0 else [] for key in exclude_keys]
        found = self.index.search(Q, k, filter=None if flt is None else Filter(**flt), exclude=exclude,
                                  exclude_self=False, exact=exact, **params)
        return found.ids, found.scores, found.keys


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def place(ray, i: int):
    """Return where shard i runs: the (i mod nodes)-th alive node, preferred, not required."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU"))
    if not nodes:
        return "DEFAULT"
    return NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True)


# -- the driver's side ------------------------------------------------------------------------

class ShardedIndex:
    """An index over a sharded table, one Ray actor per shard; `search` fans out and merges the top-k.

    Open one with `ShardedIndex.build` (builds every shard's index as Ray
    tasks, then serves) or `ShardedIndex.serve` (serves indexes built
    before; backend None serves exact search only).  Results are `Neighbors`
    over the sharded table's rows (numbered shard by shard).
    """

    def __init__(self, manifest: Manifest, backend: str | None, actors: list, ray) -> None:
        self.manifest = manifest
        self.backend = backend
        self.actors = actors
        self._ray = ray
        self.offsets = manifest.offsets

    # -- making one -------------------------------------------------------------------------
    @classmethod
    def build(cls, manifest_path: str | os.PathLike, backend: str = "hnsw", *, ray_address: str | None = None,
              serve: bool = True, timeout: float | None = None, **params: Any) -> "ShardedIndex | list[dict]":
        """Return the served index after building `backend`'s index of every shard as parallel Ray tasks.

        Each task opens its shard file and writes ``<shard>.<backend>`` beside
        it, so the shard files must be on storage every node reads (a shared
        folder; one machine in tests).  serve=False returns the tasks'
        summaries instead.  ShardError names a shard whose task failed.
        """
        from ..search import get_backend

        name = get_backend(backend).name
        get_backend(backend).check_params(dict(params))
        m = read_manifest(manifest_path)
        ray = connect(ray_address, purpose="building a sharded index")
        task = ray.remote(num_cpus=1, max_retries=1)(build_shard_index)
        futures = [task.options(scheduling_strategy=place(ray, i)).remote(os.fspath(m.shard_path(i)), name,
                                                                           dict(params))
                   for i in range(len(m.shards))]
        summaries = _gather(ray, futures, m, timeout, "building its index")
        if not serve:
            return summaries
        return cls.serve(manifest_path, name, ray_address=ray_address)

    @classmethod
    def serve(cls, manifest_path: str | os.PathLike, backend: str | None = "hnsw", *,
              ray_address: str | None = None, cpus: float = 0.5, timeout: float | None = 300.0) -> "ShardedIndex":
        """Return the index served by one actor per shard, each opening its shard and `backend`'s index file.

        backend=None serves exact search over each shard (a flat index built
        in the actor).  Actors are not restarted when they die: a search then
        raises ShardError naming the shard (`restart` brings one back).
        """
        from ..search import get_backend

        name = None if backend is None else get_backend(backend).name
        m = read_manifest(manifest_path)
        ray = connect(ray_address, purpose="serving a sharded index")
        server = ray.remote(num_cpus=cpus, max_restarts=0, max_task_retries=0)(ShardServer)
        actors = [server.options(scheduling_strategy=place(ray, i)).remote(os.fspath(m.shard_path(i)), name)
                  for i in range(len(m.shards))]
        index = cls(m, name, actors, ray)
        index._server = server
        index._cpus = cpus
        index.shard_info = _gather(ray, [a.info.remote() for a in actors], m, timeout, "opening its shard")
        return index

    def restart(self, shard: int, *, timeout: float | None = 300.0) -> dict:
        """Return the info of a new actor for `shard`, replacing one that died."""
        actor = self._server.options(scheduling_strategy=place(self._ray, shard)).remote(
            os.fspath(self.manifest.shard_path(shard)), self.backend)
        self.actors[shard] = actor
        info = _gather(self._ray, [actor.info.remote()], self.manifest, timeout, "reopening its shard",
                       shards=[shard])[0]
        self.shard_info[shard] = info
        return info

    def close(self) -> None:
        """Stop the shard actors."""
        for a in self.actors:
            try:
                self._ray.kill(a)
            except Exception:   # an actor already gone is what close wants
                pass
        self.actors = []

    def __enter__(self) -> "ShardedIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.manifest.rows

    def __repr__(self) -> str:
        return (f"ShardedIndex({self.backend or 'exact'}, rows={len(self):,}, shards={len(self.actors)}, "
                f"manifest={self.manifest.path!r})")

    # -- searching ---------------------------------------------------------------------------
    def search(self, queries, k: int = 10, *, filter=None, exclude_self: bool = True, exact: bool = False,
               timeout: float | None = None, **search_params: Any) -> Neighbors:
        """Return the k nearest keys of each query over every shard, as Neighbors over the table's rows.

        `queries` are vectors or keys (a key query never finds itself unless
        exclude_self=False).  `filter` is what `Index.search` takes (a Filter,
        a condition text, a dict, or a boolean mask over the table's rows),
        applied inside each shard.  exact=True scores every row: the same
        answer as one exact search over the concatenated shards.  ShardError
        when a shard does not answer within `timeout` seconds or its actor died.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        Q, own = self._queries(queries, exclude_self, timeout)
        n = len(self.manifest.shards)
        per_shard = self._filters(filter)
        owner = shard_of(own, n) if own is not None and len(own) else None
        futures, asked = [], []
        for s in range(n):
            if per_shard[s] is False:       # the filter lets nothing of this shard through
                continue
            excl = [None] * len(Q)
            if owner is not None:
                excl = [key if o == s else None for key, o in zip(own, owner.tolist())]
            futures.append(self.actors[s].search.remote(Q, int(k), per_shard[s], excl, bool(exact),
                                                        dict(search_params)))
            asked.append(s)
        answers = _gather(self._ray, futures, self.manifest, timeout, "searching", shards=asked)
        keys_of: dict[int, Any] = {}
        parts = []
        for s, (ids, scores, keys) in zip(asked, answers):
            lo = int(self.offsets[s])
            g = np.where(ids >= 0, ids.astype(np.int64) + lo, -1)
            for row_ids, row_keys in zip(g, keys):
                keys_of.update(zip(row_ids[row_ids >= 0].tolist(), row_keys))
            parts.append((g, scores))
        if not parts:
            return Neighbors(np.zeros((len(Q), 0), np.int64), np.zeros((len(Q), 0), np.float32),
                             [[] for _ in range(len(Q))])
        ids, scores = merge_topk(parts, int(k))
        return Neighbors(ids, scores, [[keys_of[i] for i in row.tolist() if i >= 0] for row in ids])

    def _queries(self, queries, exclude_self: bool, timeout) -> tuple[np.ndarray, list | None]:
        if isinstance(queries, np.ndarray) and queries.dtype.kind == "f":
            Q = np.atleast_2d(queries).astype(np.float32)
            if Q.ndim != 2 or Q.shape[1] != self.manifest.dim:
                raise InputError(f"queries have shape {queries.shape}; this table has {self.manifest.dim} dims")
            if not np.isfinite(Q).all():
                raise InputError("queries hold NaN or infinity")
            return Q, None
        keys = [queries] if isinstance(queries, (str, int, np.integer)) else list(queries)
        owner = shard_of(keys, len(self.manifest.shards)) if keys else np.zeros(0, np.int64)
        Q = np.empty((len(keys), self.manifest.dim), np.float32)
        groups = [(s, np.flatnonzero(owner == s)) for s in np.unique(owner).tolist()]
        got = _gather(self._ray, [self.actors[s].vectors.remote([keys[i] for i in at.tolist()])
                                  for s, at in groups], self.manifest, timeout, "looking up query keys",
                      shards=[s for s, _ in groups])
        for (s, at), vecs in zip(groups, got):
            Q[at] = vecs
        return Q, (keys if exclude_self else None)

    def _filters(self, flt) -> list:
        """Return each shard's filter as Filter fields (None: no filter; False: nothing passes there)."""
        from ..search.filters import as_filter

        n = len(self.manifest.shards)
        if isinstance(flt, np.ndarray) and flt.dtype == bool:
            from ..search.filters import Filter
            flt = Filter(mask=flt)
        flt = as_filter(flt)
        if flt is None:
            return [None] * n
        total = self.manifest.rows
        mask = None
        if flt.mask is not None:
            mask = np.asarray(flt.mask)
            if mask.dtype != bool or mask.shape != (total,):
                raise InputError(f"filter mask must be a boolean array of {total} entries (one per row of the "
                                 f"sharded table); got shape {mask.shape} dtype {mask.dtype}")
        where = []
        for cond in flt.where:
            if cond.attribute == "row":     # rows are the table's, numbered shard by shard: a mask
                m = cond.mask(np.arange(total))
                mask = m if mask is None else (mask & m)
            else:
                where.append((cond.attribute, cond.op, cond.value))
        route = {}
        for name in ("allow", "deny"):
            keys = getattr(flt, name)
            if keys is not None:
                keys = list(keys)
                owner = shard_of(keys, n) if keys else np.zeros(0, np.int64)
                route[name] = [[keys[i] for i in np.flatnonzero(owner == s).tolist()] for s in range(n)]
        out = []
        for s in range(n):
            lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
            fields: dict = {"where": list(where), "missing": flt.missing}
            if mask is not None:
                fields["mask"] = np.ascontiguousarray(mask[lo:hi])
                if not fields["mask"].any():
                    out.append(False)
                    continue
            if "allow" in route:
                if not route["allow"][s]:
                    out.append(False)
                    continue
                fields["allow"] = route["allow"][s]
            if "deny" in route:
                fields["deny"] = route["deny"][s]
            out.append(fields)
        return out

    # -- facts ------------------------------------------------------------------------------------
    def info(self) -> list[dict]:
        """Return each shard actor's rows, process id, resident memory and node."""
        return _gather(self._ray, [a.info.remote() for a in self.actors], self.manifest, None, "reporting")


def _gather(ray, futures: list, m: Manifest, timeout: float | None, doing: str,
            shards: Sequence[int] | None = None) -> list:
    """Return every future's result; ShardError naming each shard that failed or did not answer in time.

    An OmnivecError raised inside a shard (a key not found, a bad filter) is
    raised as itself.
    """
    shards = list(range(len(futures))) if shards is None else list(shards)
    deadline = None if timeout is None else time.monotonic() + timeout
    results, failed = [], []
    for s, f in zip(shards, futures):
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            results.append(ray.get(f, timeout=left))
        except ray.exceptions.GetTimeoutError:
            failed.append((s, f"gave no answer within {timeout} s"))
            results.append(None)
        except ray.exceptions.RayActorError as exc:
            failed.append((s, f"its actor died ({_first_line(exc)})"))
            results.append(None)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, OmnivecError):
                raise cause from None
            failed.append((s, f"failed: {_first_line(cause or exc)}"))
            results.append(None)
        except ray.exceptions.RayError as exc:
            failed.append((s, f"failed on the cluster: {_first_line(exc)}"))
            results.append(None)
    if failed:
        n = len(m.shards)
        lines = "; ".join(f"shard {s} of {n} ({m.shard_path(s)}): {why}" for s, why in failed)
        raise ShardError(f"{doing}: {lines}. No result is returned from the other shards, which would be "
                         "silently short", shards=[s for s, _ in failed])
    return results


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    for line in text:
        if line.strip() and not line.startswith("Traceback"):
            return line.strip()[:300]
    return type(exc).__name__


__all__ = ["ClusterError", "ShardError", "ShardServer", "ShardedIndex", "build_shard_index"]
