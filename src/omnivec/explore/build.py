"""`build_map`: a table's 2-D layout, zoom-level labels, clusters, contours and neighbours."""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .._progress import progress
from .._registry import Registry
from ..errors import InputError
from ..metrics import get_metric
from . import layout as _layout
from . import summary as S

NEIGHBOR_ENGINES: Registry[str] = Registry("neighbour engine")
for _name in ("auto", "exact", "hnsw", "none"):
    NEIGHBOR_ENGINES.register(_name, _name)

# Exact top-k over all points is quadratic; past this many points "auto" takes HNSW
# (or, without usearch, exact neighbours for the best-ranked EXACT_AUTO_MAX points only).
EXACT_AUTO_MAX = 30_000
NEIGHBOR_CHUNK = 4096


@dataclass
class Map:
    """Everything the viewer draws, as numpy arrays (usable from a notebook too).

    Points are the table's rows minus any dropped for non-finite values:
    `rows[i]` is point i's row in the table and `keys[i]` its key (as text).
    `xy` lies in the unit square.  `neighbors[i]` lists point ids nearest to
    point i in the ORIGINAL space, best first (-1: not computed; see
    `info["neighbors"]`), with `neighbor_scores` (higher = closer).
    """

    name: str
    metric: str
    dim: int
    keys: list[str]
    key_kind: str
    rows: np.ndarray
    xy: np.ndarray
    rank: np.ndarray
    levels: list[S.Level]
    schemes: list[S.ColorScheme]
    contours: list[dict]
    neighbors: np.ndarray
    neighbor_scores: np.ndarray
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.xy)

    def labels_at(self, z: int) -> dict[tuple[int, int], list[str]]:
        """Return {(tx, ty): [label keys]} of zoom level z (level z has 2**z x 2**z tiles)."""
        lv = self.levels[min(max(z, 0), len(self.levels) - 1)]
        side = 1 << lv.z
        return {(int(t % side), int(t // side)): [self.keys[r] for r in reps if r >= 0]
                for t, reps in zip(lv.tiles.tolist(), lv.reps.tolist())}

    def save(self, folder: "str | os.PathLike", *, file_copies: bool = True) -> "Path":
        """Write the static site into `folder` (atomically) and return its path."""
        from .site import write_site

        return write_site(self, folder, file_copies=file_copies)


def _rank(emb, rows: np.ndarray) -> np.ndarray:
    # Lower rank = more representative: by count when the table has counts, else by row,
    # since vocabularies are conventionally stored most frequent first.
    if emb.counts is not None:
        c = np.asarray(emb.counts)[rows]
        order = np.lexsort((rows, -c))
    else:
        order = np.arange(len(rows))
    rank = np.empty(len(rows), np.int64)
    rank[order] = np.arange(len(rows))
    return rank


def _finite_rows(emb, drop_nonfinite: bool) -> tuple[np.ndarray, int]:
    X = emb.vectors
    bad = np.zeros(len(emb), bool)
    for s in range(0, len(emb), 65536):
        bad[s:s + 65536] = ~np.isfinite(np.asarray(X[s:s + 65536], np.float32)).all(axis=1)
    nbad = int(bad.sum())
    if nbad and not drop_nonfinite:
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{nbad:,} of {len(emb):,} rows of table {emb.name!r} hold NaN or infinite values "
                         f"(first: row {first}, key {emb.key(first)!r}); they have no place on a map. "
                         f"Drop them with drop_nonfinite=True (CLI: --drop-nonfinite)")
    return np.flatnonzero(~bad), nbad


def compute_neighbors(P: np.ndarray, metric: str, k: int, rank: np.ndarray, *, engine: str = "auto",
                      limit: int | None = None, show_progress: bool | None = None
                      ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return (neighbour ids, scores, facts): each point's k nearest other points in the original space.

    Rows without computed neighbours hold -1.  engine "auto" is exact up to
    EXACT_AUTO_MAX points, then HNSW when usearch is installed, else exact for
    the `limit` best-ranked points (the rest are answered on demand by `--serve`).
    """
    engine = NEIGHBOR_ENGINES.canonical(engine)
    n = len(P)
    k = int(k)
    if k < 1 or k > 100:
        raise InputError(f"the number of neighbours must be an int in [1, 100]; got {k}")
    kk = min(k, n - 1)
    ids = np.full((n, k), -1, np.int32)
    scores = np.full((n, k), np.nan, np.float32)
    info: dict = {"k": k}
    if engine == "none" or kk < 1:
        info.update(engine="none", computed=0)
        return ids, scores, info
    have_usearch = importlib.util.find_spec("usearch") is not None
    m = get_metric(metric)
    has_space = bool(m.space)      # an approximate engine has this metric's space
    if engine == "auto":
        engine = "exact" if n <= EXACT_AUTO_MAX else ("hnsw" if have_usearch and has_space else "exact")
        if engine == "exact" and n > EXACT_AUTO_MAX and limit is None:
            limit = EXACT_AUTO_MAX
            why = "usearch is not installed" if has_space else f"no approximate engine searches {m.name}"
            info["note"] = (f"{why}: exact neighbours for the "
                            f"{limit:,} best-ranked points; the rest are computed on demand by --serve")
    if limit is not None and limit < 0:
        raise InputError(f"the neighbour limit must be >= 0; got {limit}")
    which = np.arange(n) if limit is None or limit >= n else np.sort(np.argsort(rank, kind="stable")[:limit])
    t0 = time.perf_counter()
    got_r = np.empty((len(which), kk + 1), np.int64)
    got_s = np.empty((len(which), kk + 1), np.float32)
    with progress(f"Neighbours ({engine}, k={kk})", len(which), unit="points", enabled=show_progress) as task:
        if engine == "hnsw":
            from ..search import build_index
            import omnivec

            base = omnivec.Embeddings(np.arange(n), P, metric=metric)
            # M=12/ef_construction=64: recall@10 0.92 on GloVe 400k; M=16/32 builds in
            # two thirds of the time but drops recall to 0.88.
            idx = build_index(base, "hnsw", M=12, ef_construction=64, ef=max(96, 8 * kk), show_progress=False)
            for s in range(0, len(which), NEIGHBOR_CHUNK):
                h = idx.search(P[which[s:s + NEIGHBOR_CHUNK]], kk + 1)
                got_r[s:s + len(h.ids)], got_s[s:s + len(h.ids)] = h.ids, h.scores
                task.advance(len(h.ids))
        else:
            r, sc = _layout.knn(P, P[which], kk + 1, metric, engine="exact", on_chunk=task.advance)
            got_r[:], got_s[:] = r, sc
    # Drop each point itself (or, for exact duplicates ranked ahead of it, the last extra slot).
    self_col = got_r == which[:, None]
    has_self = self_col.any(axis=1)
    keep = ~self_col
    keep[~has_self, kk] = False
    r = got_r[keep].reshape(len(which), kk)
    sc = got_s[keep].reshape(len(which), kk)
    ids[which, :kk] = np.where(r >= 0, r, -1).astype(np.int32)
    scores[which, :kk] = sc
    info.update(engine=engine, computed=int(len(which)), seconds=time.perf_counter() - t0)
    if engine == "hnsw":
        info.update(M=12, ef_construction=64, ef=max(96, 8 * kk))
    return ids, scores, info


def build_map(emb, *, layout: str = "auto", sample: int = 50_000, seed: int | None = 0,
              neighbors: str = "auto", k: int = 10, neighbor_limit: int | None = None,
              clusters: int = 12, columns: Mapping[str, np.ndarray] | None = None,
              color: str | None = None, max_level: int | None = None, per_tile: int = 3,
              drop_nonfinite: bool = False, show_progress: bool | None = None) -> Map:
    """Return the Map of a table: layout, quadtree labels, colour schemes, contours, neighbours.

    layout: "auto" (UMAP with the `explore` extra, else PCA), "umap", "pca",
    "identity" (2-D tables).  Layouts of more than `sample` rows are fitted on
    a sample and the other rows placed by k-NN interpolation.  neighbors:
    "auto", "exact", "hnsw" or "none" (k per point, `neighbor_limit` best-ranked
    points only, if set).  Colour schemes: "cluster" (k-means with `clusters`
    groups on the original vectors), "count" when the table has counts, each
    1-D extra of the table, and each of `columns` (name -> one value per row);
    `color` names the one shown first.  Rows with NaN/inf raise InputError
    unless drop_nonfinite is true (they are then counted in `info`).
    """
    t0 = time.perf_counter()
    n_all = len(emb)
    if n_all == 0:
        raise InputError(f"table {emb.name!r} has no rows; there is nothing to map")
    keep, dropped = _finite_rows(emb, drop_nonfinite)
    if len(keep) == 0:
        raise InputError(f"every row of table {emb.name!r} holds NaN or infinite values; nothing to map")
    X = np.asarray(emb.vectors[keep] if dropped else emb.vectors, np.float32)
    metric = emb.metric
    keys_all = emb.keys.to_list()
    keys = [str(keys_all[r]) for r in keep.tolist()] if dropped else [str(k) for k in keys_all]
    rank = _rank(emb, keep)
    timings: dict[str, float] = {}

    xy, linfo = _layout.compute_layout(X, metric, method=layout, sample=sample, seed=seed,
                                       priority=np.argsort(rank, kind="stable"), show_progress=show_progress)
    timings["layout"] = linfo["seconds"]

    t = time.perf_counter()
    P = _layout.prepare(X, metric)
    # Typicality is judged on directions from the table's mean: raw embeddings share a
    # large common component, and without removing it every tile's centroid points at
    # the same few generic words.
    unit = S.unit_rows(P - P.mean(axis=0, dtype=np.float64).astype(np.float32))
    # Keys without a letter or digit (punctuation) make poor labels: they go last.
    label_rank = rank + len(keys) * np.fromiter((not any(c.isalnum() for c in k) for k in keys),
                                                bool, len(keys))
    levels = S.quadtree_labels(xy, label_rank, unit, max_level=max_level, per_tile=per_tile)
    cont = S.contours(xy)
    timings["summaries"] = time.perf_counter() - t

    t = time.perf_counter()
    schemes = [S.cluster_scheme(unit, label_rank, keys, clusters, seed=seed or 0)]
    if emb.counts is not None:
        schemes.append(S.column_scheme("count", np.asarray(emb.counts)[keep], len(keep)))
    for name, arr in (emb.extras or {}).items():
        a = np.asarray(arr)
        if a.ndim == 1 and len(a) == n_all:
            schemes.append(S.column_scheme(name, a[keep], len(keep)))
    for name, arr in (columns or {}).items():
        a = np.asarray(arr)
        if a.ndim != 1 or len(a) != n_all:
            raise InputError(f"column {name!r} must hold one value per row of the table ({n_all:,}); "
                             f"got shape {a.shape}")
        schemes = [s for s in schemes if s.name != name]
        schemes.append(S.column_scheme(name, a[keep], len(keep)))
    if color is not None:
        names = [s.name for s in schemes]
        if color not in names:
            raise InputError(f"no colour scheme {color!r}; this map has: {', '.join(names)}")
        schemes.sort(key=lambda s: s.name != color)
    timings["colors"] = time.perf_counter() - t

    nb, nbs, ninfo = compute_neighbors(P, metric, k, rank, engine=neighbors, limit=neighbor_limit,
                                       show_progress=show_progress)
    timings["neighbors"] = ninfo.get("seconds", 0.0)
    timings["total"] = time.perf_counter() - t0
    info = {"table": emb.name, "rows": n_all, "points": int(len(keep)), "dropped_nonfinite": dropped,
            "layout": linfo, "neighbors": ninfo, "levels": len(levels), "timings": timings,
            "rank": "counts" if emb.counts is not None else "row order"}
    return Map(name=emb.name, metric=metric, dim=emb.dim, keys=keys, key_kind=emb.keys.kind,
               rows=keep.astype(np.int64), xy=xy, rank=rank, levels=levels, schemes=schemes,
               contours=cont, neighbors=nb, neighbor_scores=nbs, info=info)
