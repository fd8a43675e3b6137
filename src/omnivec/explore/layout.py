"""2-D layouts of a table's vectors: UMAP (optional extra) or PCA, fitted on a sample.

Large tables are laid out in two steps: the layout is fitted on a random
sample, then every other row is placed at the similarity-weighted mean of the
2-D positions of its nearest sampled rows in the original space (k-NN
interpolation).  Interpolation costs one k-NN query per row, which is far
cheaper than fitting UMAP on all rows or running UMAP's own `transform`
(another optimisation pass per batch).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .._progress import progress
from .._registry import Registry
from ..core.exact import topk_any
from ..core.vectors import VectorStore
from ..errors import InputError, require
from ..metrics import Metric, get_metric

LAYOUTS: Registry[str] = Registry("layout method")
for _name in ("auto", "umap", "pca", "identity"):
    LAYOUTS.register(_name, _name)

# UMAP needs more rows than its n_neighbors; below this PCA is the honest choice.
UMAP_MIN_ROWS = 64
PLACE_CHUNK = 8192
_UMAP_SPACE = {"ip": "cosine", "l2": "euclidean"}   # a metric's engine space -> UMAP's metric
DISK_RADIUS = 0.48     # the unit disk of a 2-D Poincaré table, in the layout's unit square


def umap_available() -> bool:
    """Return True when the optional `umap-learn` package can be imported."""
    import importlib.util

    try:
        return importlib.util.find_spec("umap") is not None
    except (ImportError, ValueError, AttributeError):  # a broken or blocked install counts as absent
        return False


def prepare(X: np.ndarray, metric: str | Metric) -> np.ndarray:
    """Return the rows as float32 in the geometry of `metric` (unit rows for cosine)."""
    return get_metric(metric).prepare(X)


def pca_2d(X: np.ndarray, *, sample: int | None = None, seed: int = 0) -> np.ndarray:
    """Return the projection of the rows on their two leading principal axes, (n x 2) float32.

    The axes come from the eigendecomposition of the d x d covariance
    (accumulated in blocks, so memory stays bounded by one block), fitted on at
    most `sample` rows.
    """
    n, d = X.shape
    rng = np.random.default_rng(seed)
    fit = X if sample is None or n <= sample else X[np.sort(rng.choice(n, sample, replace=False))]
    mean = fit.mean(axis=0, dtype=np.float64)
    cov = np.zeros((d, d), np.float64)
    for s in range(0, len(fit), 65536):
        B = fit[s:s + 65536].astype(np.float64) - mean
        cov += B.T @ B
    w, V = np.linalg.eigh(cov)
    axes = V[:, ::-1][:, :2]
    # A fixed sign per axis makes the picture the same from run to run.
    axes = axes * np.where(axes[np.abs(axes).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
    out = np.empty((n, 2), np.float32)
    for s in range(0, n, 65536):
        out[s:s + 65536] = (X[s:s + 65536].astype(np.float64) - mean) @ axes
    return out


def knn(base: np.ndarray, queries: np.ndarray, k: int, metric: str | Metric, *,
        engine: str = "auto", on_chunk: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, scores) of the k nearest `base` rows of each query, best first.

    Scores are higher-is-closer.  engine "hnsw" uses omnivec's HNSW index
    (usearch), "exact" the chunked exact top-k; "auto" takes HNSW for large
    problems when usearch is installed.
    """
    import omnivec

    k = min(k, len(base))
    if engine == "auto":
        import importlib.util
        big = len(base) * len(queries) > 2e9
        engine = "hnsw" if big and importlib.util.find_spec("usearch") is not None else "exact"
    rows = np.empty((len(queries), k), np.int64)
    scores = np.empty((len(queries), k), np.float32)
    if engine == "hnsw":
        from ..search import build_index

        emb = omnivec.Embeddings(np.arange(len(base)), base, metric=metric)
        idx = build_index(emb, "hnsw", M=12, ef_construction=64, ef=max(32, 3 * k), show_progress=False)
        for s in range(0, len(queries), PLACE_CHUNK):
            h = idx.search(queries[s:s + PLACE_CHUNK], k)
            rows[s:s + len(h.ids)], scores[s:s + len(h.ids)] = h.ids, h.scores
            if on_chunk:
                on_chunk(len(h.ids))
        return rows, scores
    return exact_knn(base, queries, k, metric, on_chunk=on_chunk)


def exact_knn(base: np.ndarray, queries: np.ndarray, k: int, metric: str | Metric, *,
              on_chunk: Callable[[int], None] | None = None,
              q_block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Return the exact (rows, scores) of the k nearest `base` rows of each query, best first.

    omnivec's one exact top-k (`omnivec.core.exact.topk_any`) over the base
    rows, `q_block` queries at a time so progress can be reported.
    """
    metric = get_metric(metric)
    store = VectorStore.encode(np.ascontiguousarray(base, dtype=np.float32))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    nq = len(queries)
    k = min(int(k), len(store))
    idx = np.full((nq, k), -1, np.int64)
    sc = np.full((nq, k), -np.inf, np.float32)
    for qs in range(0, nq, q_block):
        idx[qs:qs + q_block], sc[qs:qs + q_block] = topk_any(store, metric, queries[qs:qs + q_block], k)
        if on_chunk:
            on_chunk(len(queries[qs:qs + q_block]))
    return idx, sc


def interpolate(xy_base: np.ndarray, rows: np.ndarray, scores: np.ndarray, metric: str | Metric,
                chunk: int = 65536) -> np.ndarray:
    """Return 2-D positions for new rows from their nearest sampled rows' positions.

    A plain weighted mean fails when the neighbours lie in two places on the
    map (a city name near both countries and other cities): it lands between
    them, among unrelated points.  So the position is the weighted mean of the
    neighbours that lie near their weighted 2-D medoid: the point joins the
    group holding most of its neighbours' weight.
    """
    dist = get_metric(metric).spread(scores)
    if dist is None:  # scores without a scale (dot): rank-based weights
        dist = np.broadcast_to(np.arange(rows.shape[1], dtype=np.float32), rows.shape)
    # Weights fall off with the distance relative to the nearest neighbour's, so the
    # nearest sampled rows dominate whatever the scale of the space.
    ref = dist[:, :1] + 1e-6
    w = np.exp(-dist / ref).astype(np.float32)
    w = np.where(rows >= 0, w, 0.0)
    out = np.empty((len(rows), 2), np.float32)
    for s in range(0, len(rows), chunk):
        pts = xy_base[np.maximum(rows[s:s + chunk], 0)].astype(np.float32)      # (c, k, 2)
        ww = w[s:s + chunk]
        D = np.linalg.norm(pts[:, :, None, :] - pts[:, None, :, :], axis=-1)   # (c, k, k)
        med = (D * ww[:, None, :]).sum(axis=2).argmin(axis=1)
        dm = D[np.arange(len(pts)), med]                                      # (c, k)
        near = dm <= np.median(np.where(ww > 0, dm, np.inf), axis=1, keepdims=True)
        w2 = ww * near
        w2 /= np.maximum(w2.sum(axis=1, keepdims=True), 1e-12)
        out[s:s + chunk] = np.einsum("nk,nkc->nc", w2, pts)
    return out


def normalize(xy: np.ndarray) -> np.ndarray:
    """Return the layout scaled into the unit square, centred, aspect ratio kept."""
    xy = np.asarray(xy, np.float64)
    if len(xy) == 0:
        return xy.astype(np.float32)
    # Robust extent: a few far outliers must not squash the whole map into a corner.
    lo = np.percentile(xy, 0.05, axis=0) if len(xy) > 2000 else xy.min(axis=0)
    hi = np.percentile(xy, 99.95, axis=0) if len(xy) > 2000 else xy.max(axis=0)
    span = float(max((hi - lo).max(), 1e-12))
    centre = (lo + hi) / 2
    out = (xy - centre) / span * 0.96 + 0.5
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def compute_layout(X: np.ndarray, metric: str | Metric, *, method: str = "auto", sample: int = 50_000,
                   n_neighbors: int = 15, min_dist: float = 0.1, seed: int | None = 0,
                   place_k: int = 10, priority: np.ndarray | None = None,
                   show_progress: bool | None = None) -> tuple[np.ndarray, dict]:
    """Return (positions in the unit square (n x 2 float32), facts about how they were made).

    method: "auto" (UMAP when installed and there are enough rows, else PCA),
    "umap", "pca" or "identity" (2-D tables).  Tables with more than `sample`
    rows are fitted on a random sample of that size and the rest placed by
    k-NN interpolation; half of the sample is the first rows of `priority`
    (e.g. the most frequent keys, which users look for), the rest random.
    """
    method = LAYOUTS.canonical(method)
    n, d = X.shape
    info: dict = {"requested": method, "rows": int(n), "dims": int(d)}
    t0 = time.perf_counter()
    if n == 0:
        raise InputError("cannot lay out an empty table (0 rows)")
    if sample < 2:
        raise InputError(f"the layout sample must be at least 2 rows; got {sample}")
    if d == 2 and method in ("auto", "identity") and get_metric(metric).unit_disk:
        # A hyperbolic table in the Poincaré disk: drawn as is, the unit circle its boundary.
        xy = (np.asarray(X, np.float64) * DISK_RADIUS + 0.5).astype(np.float32)
        info.update(method="identity", boundary={"cx": 0.5, "cy": 0.5, "r": DISK_RADIUS},
                    note="a 2-D table in the Poincaré disk; drawn as it is, with the disk's boundary")
        info["seconds"] = time.perf_counter() - t0
        return xy, info
    if d <= 2 and method in ("auto", "identity"):
        # The vectors already are a map; any projection would only distort it.
        xy = X.astype(np.float32) if d == 2 else np.column_stack([X[:, 0], np.zeros(n, np.float32)])
        info.update(method="identity", note=f"the vectors have {d} dimension(s); drawn as they are")
        info["seconds"] = time.perf_counter() - t0
        return normalize(xy), info
    if method == "identity":
        raise InputError(f"layout 'identity' needs vectors of 1 or 2 dimensions; these have {d}")
    if n < 3:
        # One point sits in the middle; two points on a horizontal line: nothing else to show.
        xy = np.zeros((n, 2), np.float32)
        if n == 2:
            xy[:, 0] = [-1.0, 1.0]
        info.update(method="trivial", note=f"{n} point(s): placed without a layout")
        info["seconds"] = time.perf_counter() - t0
        return normalize(xy), info
    if method == "auto":
        method = "umap" if umap_available() and n >= UMAP_MIN_ROWS else "pca"
        if method == "pca":
            info["note"] = ("umap-learn is not installed (pip install 'omnivec[explore]'); used PCA"
                            if n >= UMAP_MIN_ROWS else f"{n} rows are too few for UMAP; used PCA")
    if method == "umap" and n < UMAP_MIN_ROWS:
        raise InputError(f"UMAP needs at least {UMAP_MIN_ROWS} rows; this table has {n}. "
                         f"Use layout 'pca' (or 'auto', which picks it)")
    P = prepare(X, metric)
    if method == "pca":
        with progress("Layout (PCA)", 1, unit="steps", enabled=show_progress) as task:
            xy = pca_2d(P, sample=max(sample, 200_000), seed=seed or 0)
            task.advance(1)
        info.update(method="pca", fitted_on=int(min(n, max(sample, 200_000))))
        info["seconds"] = time.perf_counter() - t0
        return normalize(xy), info

    umap = require("umap", "explore", "the UMAP layout")
    rng = np.random.default_rng(seed)
    if n <= sample:
        fit_rows = np.arange(n)
    elif priority is None:
        fit_rows = np.sort(rng.choice(n, sample, replace=False))
    else:
        first = np.asarray(priority[:sample // 2], np.int64)
        others = np.setdiff1d(np.arange(n), first, assume_unique=False)
        fit_rows = np.sort(np.concatenate([first, rng.choice(others, sample - len(first), replace=False)]))
    if get_metric(metric).space not in _UMAP_SPACE:
        raise InputError(f"UMAP has no {get_metric(metric).name} space; use layout 'pca'"
                         + (" (or a 2-D table, drawn as it is)" if get_metric(metric).unit_disk else ""))
    umap_metric = _UMAP_SPACE[get_metric(metric).space]
    nn = int(min(n_neighbors, len(fit_rows) - 1))
    # random_state makes UMAP single-threaded; seed=None trades reproducibility for speed.
    reducer = umap.UMAP(n_components=2, n_neighbors=nn, min_dist=min_dist, metric=umap_metric,
                        random_state=seed, low_memory=True, verbose=False,
                        n_jobs=1 if seed is not None else -1)
    with progress(f"Layout (UMAP on {len(fit_rows):,} rows)", 1, unit="fits", enabled=show_progress) as task:
        base = np.asarray(reducer.fit_transform(P[fit_rows]), np.float32)
        task.advance(1)
    info.update(method="umap", fitted_on=int(len(fit_rows)), n_neighbors=nn, min_dist=min_dist,
                fit_seconds=time.perf_counter() - t0)
    xy = np.empty((n, 2), np.float32)
    xy[fit_rows] = base
    if len(fit_rows) < n:
        t1 = time.perf_counter()
        rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
        with progress("Placing the other rows", len(rest), enabled=show_progress) as task:
            rows, scores = knn(P[fit_rows], P[rest], place_k, metric, on_chunk=task.advance)
        xy[rest] = interpolate(base, rows, scores, metric)
        info.update(placed=int(len(rest)), place_k=int(place_k), place_seconds=time.perf_counter() - t1)
    info["seconds"] = time.perf_counter() - t0
    return normalize(xy), info
