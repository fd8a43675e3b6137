"""Summaries of a 2-D layout: quadtree labels per zoom level, clusters, density contours, colours."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DimensionError, InputError
from . import _kernels as K

# Categorical palette (colour-blind-friendly Tableau-like) and a sequential ramp (viridis samples).
CATEGORICAL = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
               "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
               "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8",
               "#ffbb78", "#98df8a", "#ff9896"]
SEQUENTIAL = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725"]
MAX_CATEGORIES = len(CATEGORICAL)


@dataclass
class Level:
    """Labels of one quadtree level: `tiles` ids (ty * 2**z + tx) and `reps` (tiles x m point ids, -1 padded)."""

    z: int
    tiles: np.ndarray
    reps: np.ndarray


@dataclass
class ColorScheme:
    """One way to colour the points: a code per point and a legend entry per code."""

    name: str
    codes: np.ndarray          # uint8 per point, index into `colors`
    colors: list[str]
    labels: list[str]
    counts: list[int]
    kind: str                  # "cluster", "category" or "numeric"


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Return the rows scaled to unit length (zero rows stay zero), float32."""
    X = np.asarray(X, np.float32)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(n > 0, n, 1.0)).astype(np.float32)


def default_levels(n: int) -> int:
    """Return the deepest quadtree level worth storing for n points (about 4 points per tile)."""
    return int(min(11, max(1, math.ceil(math.log(max(n, 4) / 4, 4)))))


def morton(xy: np.ndarray, level: int) -> np.ndarray:
    """Return the Z-order code of each point's tile at `level` (interleaved tx, ty bits), uint64."""
    side = 1 << level
    t = np.clip((xy * side).astype(np.int64), 0, side - 1).astype(np.uint64)
    tx, ty = t[:, 0], t[:, 1]
    code = np.zeros(len(xy), np.uint64)
    for b in range(level):
        code |= ((tx >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
        code |= ((ty >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
    return code


def _deinterleave(code: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    tx = np.zeros(len(code), np.int64)
    ty = np.zeros(len(code), np.int64)
    c = code.astype(np.uint64)
    for b in range(level):
        tx |= ((c >> np.uint64(2 * b)) & np.uint64(1)).astype(np.int64) << b
        ty |= ((c >> np.uint64(2 * b + 1)) & np.uint64(1)).astype(np.int64) << b
    return tx, ty


def group_representatives(order: np.ndarray, starts: np.ndarray, rank: np.ndarray, unit: np.ndarray,
                          *, m: int = 3, candidates: int = 24, max_candidates: int = 256) -> np.ndarray:
    """Return (groups x m) point ids: per contiguous group, frequent points nearest its centroid."""
    sums = np.add.reduceat(unit[order], starts[:-1], axis=0) if len(order) else np.zeros((0, unit.shape[1]))
    cent = unit_rows(sums)
    out = np.full((len(starts) - 1, m), -1, np.int64)
    K.representatives(order.astype(np.int64), starts.astype(np.int64), rank.astype(np.int64),
                      np.ascontiguousarray(unit, np.float32), np.ascontiguousarray(cent, np.float32),
                      int(candidates), int(max(candidates, max_candidates)), int(m), out)
    return out


def quadtree_labels(xy: np.ndarray, rank: np.ndarray, unit: np.ndarray, *, max_level: int | None = None,
                    per_tile: int = 3, candidates: int = 24) -> list[Level]:
    """Return one Level per zoom level 0..max_level with the most representative points of each tile."""
    n = len(xy)
    L = default_levels(n) if max_level is None else int(max_level)
    if not 0 <= L <= 15:
        raise InputError(f"the quadtree depth must be an int in [0, 15]; got {L}")
    code = morton(xy, L)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    levels = []
    for z in range(L + 1):
        tile = sorted_code >> np.uint64(2 * (L - z))
        brk = np.flatnonzero(np.diff(tile)) + 1 if n else np.zeros(0, np.int64)
        starts = np.concatenate([[0], brk, [n]]).astype(np.int64) if n else np.zeros(1, np.int64)
        reps = group_representatives(order, starts, rank, unit, m=per_tile, candidates=candidates)
        tx, ty = _deinterleave(tile[starts[:-1]], z)
        levels.append(Level(z=z, tiles=(ty * (1 << z) + tx).astype(np.int64), reps=reps))
    return levels


def kmeans(X: np.ndarray, k: int, *, iters: int = 25, sample: int = 100_000,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels per row, centroids) of k-means (k-means++ start, Lloyd steps on a sample)."""
    n = len(X)
    if k < 1:
        raise InputError(f"the number of clusters must be at least 1; got {k}")
    k = min(k, n)
    rng = np.random.default_rng(seed)
    S = X if n <= sample else X[np.sort(rng.choice(n, sample, replace=False))]
    S = np.asarray(S, np.float32)
    s_sq = (S * S).sum(axis=1)
    cent = np.empty((k, X.shape[1]), np.float32)
    cent[0] = S[rng.integers(len(S))]
    d2 = np.maximum(s_sq - 2 * S @ cent[0] + cent[0] @ cent[0], 0)
    for i in range(1, k):
        tot = d2.sum()
        j = int(rng.choice(len(S), p=d2 / tot)) if tot > 0 else int(rng.integers(len(S)))
        cent[i] = S[j]
        d2 = np.minimum(d2, np.maximum(s_sq - 2 * S @ cent[i] + cent[i] @ cent[i], 0))

    def assign(A: np.ndarray) -> np.ndarray:
        out = np.empty(len(A), np.int64)
        c_sq = (cent * cent).sum(axis=1)
        for s in range(0, len(A), 65536):
            B = np.asarray(A[s:s + 65536], np.float32)
            out[s:s + len(B)] = np.argmin(c_sq[None, :] - 2 * B @ cent.T, axis=1)
        return out

    for _ in range(iters):
        lab = assign(S)
        # One-hot product instead of np.add.at, which is slow for many rows.
        onehot = np.zeros((k, len(S)), np.float32)
        onehot[lab, np.arange(len(S))] = 1
        sums = (onehot @ S).astype(np.float64)
        cnt = np.bincount(lab, minlength=k)
        new = np.where(cnt[:, None] > 0, sums / np.maximum(cnt, 1)[:, None], cent).astype(np.float32)
        if np.allclose(new, cent, atol=1e-6):
            cent = new
            break
        cent = new
    return assign(X), cent


def cluster_scheme(unit: np.ndarray, rank: np.ndarray, keys: list[str], k: int, seed: int = 0) -> ColorScheme:
    """Return the colouring by k-means cluster of the (unit) vectors, each cluster named by its typical keys."""
    k = max(1, min(k, len(unit), MAX_CATEGORIES))
    lab, _ = kmeans(unit, k, seed=seed)
    # Biggest cluster first, so colours and legend order do not depend on k-means' numbering.
    sizes = np.bincount(lab, minlength=k)
    remap = np.empty(k, np.int64)
    remap[np.argsort(-sizes, kind="stable")] = np.arange(k)
    lab = remap[lab]
    sizes = np.bincount(lab, minlength=k)
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    reps = group_representatives(order, starts, rank, unit, m=3, candidates=48)
    names = [", ".join(keys[r] if keys[r] != "" else "\u2205" for r in row if r >= 0) or "(empty)"
             for row in reps]
    return ColorScheme("cluster", lab.astype(np.uint8), CATEGORICAL[:k], names,
                       sizes.tolist(), "cluster")


def column_scheme(name: str, values: np.ndarray, n: int) -> ColorScheme:
    """Return the colouring by one per-row column: categories (few distinct values) or numeric bins."""
    v = np.asarray(values)
    if v.ndim != 1 or len(v) != n:
        raise DimensionError(f"colour column {name!r} must hold one value per point ({n}); got shape {v.shape}")
    if v.dtype.kind in "fiu" and v.dtype.kind != "b":
        finite = np.isfinite(v) if v.dtype.kind == "f" else np.ones(n, bool)
        uniq = np.unique(v[finite])
        if len(uniq) > MAX_CATEGORIES or v.dtype.kind == "f" and len(uniq) > 12:
            # Quantile bins (log-spaced for skewed, positive data such as counts).
            x = v.astype(np.float64)
            skewed = finite.any() and (x[finite] > 0).all() and x[finite].max() > 100 * max(x[finite].min(), 1e-12)
            t = np.log10(np.where(finite, x, 1.0)) if skewed else np.where(finite, x, 0.0)
            edges = np.unique(np.quantile(t[finite], np.linspace(0, 1, len(SEQUENTIAL) + 1)))
            if len(edges) < 2:
                edges = np.array([t[finite].min(), t[finite].max() + 1])
            codes = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
            nb = len(edges) - 1
            colors = [SEQUENTIAL[round(i * (len(SEQUENTIAL) - 1) / max(nb - 1, 1))] for i in range(nb)]
            back = (lambda e: 10 ** e) if skewed else (lambda e: e)
            labels = [f"{_num(back(edges[i]))} \u2013 {_num(back(edges[i + 1]))}" for i in range(nb)]
            if not finite.all():
                codes = np.where(finite, codes, nb)
                colors.append("#999999")
                labels.append("missing")
            cnt = np.bincount(codes, minlength=len(colors)).tolist()
            return ColorScheme(name, codes.astype(np.uint8), colors, labels, cnt, "numeric")
    # Categories: the most frequent values get colours, the rest share "other".
    sv = np.array(["" if x is None else str(x) for x in v.tolist()], dtype=object)
    uniq, inv, cnt = np.unique(sv, return_inverse=True, return_counts=True)
    top = np.argsort(-cnt, kind="stable")
    if len(uniq) > MAX_CATEGORIES:
        keep = top[:MAX_CATEGORIES - 1]
    else:
        keep = top
    code_of = np.full(len(uniq), len(keep), np.int64)
    code_of[keep] = np.arange(len(keep))
    codes = code_of[inv]
    labels = [str(uniq[i]) for i in keep]
    colors = CATEGORICAL[:len(keep)]
    if len(uniq) > len(keep):
        labels.append(f"other ({len(uniq) - len(keep)} values)")
        colors = colors + ["#999999"]
    counts = np.bincount(codes, minlength=len(labels)).tolist()
    return ColorScheme(name, codes.astype(np.uint8), list(colors), labels, counts, "category")


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


# -- density contours ----------------------------------------------------------
# Marching squares: for each of the 16 corner cases, the cell edges a contour
# segment joins (edges: 0 bottom, 1 right, 2 top, 3 left); saddles take two segments.
_CASES = {1: [(3, 0)], 2: [(0, 1)], 3: [(3, 1)], 4: [(1, 2)], 5: [(3, 2), (0, 1)], 6: [(0, 2)],
          7: [(3, 2)], 8: [(2, 3)], 9: [(0, 2)], 10: [(0, 3), (1, 2)], 11: [(1, 2)], 12: [(1, 3)],
          13: [(0, 1)], 14: [(0, 3)]}


def density_grid(xy: np.ndarray, size: int = 256, sigma: float = 2.0) -> np.ndarray:
    """Return a (size x size) smoothed point density over the unit square, rows = y."""
    H, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=size, range=[[0, 1], [0, 1]])
    r = int(math.ceil(3 * sigma))
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    H = np.apply_along_axis(lambda a: np.convolve(a, g, mode="same"), 0, H)
    H = np.apply_along_axis(lambda a: np.convolve(a, g, mode="same"), 1, H)
    return H


def marching_squares(F: np.ndarray, level: float) -> np.ndarray:
    """Return contour segments of F at `level` as (segments x 4) [x0, y0, x1, y1] in unit-square coordinates."""
    ny, nx = F.shape
    a = F[:-1, :-1] >= level   # bottom-left corner of each cell
    b = F[:-1, 1:] >= level    # bottom-right
    c = F[1:, 1:] >= level     # top-right
    d = F[1:, :-1] >= level    # top-left
    case = a * 1 + b * 2 + c * 4 + d * 8
    out = []
    f00, f10, f11, f01 = F[:-1, :-1], F[:-1, 1:], F[1:, 1:], F[1:, :-1]

    def frac(p, q):
        den = q - p
        return np.where(np.abs(den) > 1e-12, (level - p) / np.where(den == 0, 1, den), 0.5)

    for cs, pairs in _CASES.items():
        iy, ix = np.nonzero(case == cs)
        if not len(iy):
            continue
        for e0, e1 in pairs:
            pts = []
            for e in (e0, e1):
                if e == 0:
                    px, py = ix + frac(f00[iy, ix], f10[iy, ix]), iy.astype(float)
                elif e == 1:
                    px, py = ix + 1.0, iy + frac(f10[iy, ix], f11[iy, ix])
                elif e == 2:
                    px, py = ix + frac(f01[iy, ix], f11[iy, ix]), iy + 1.0
                else:
                    px, py = ix.astype(float), iy + frac(f00[iy, ix], f01[iy, ix])
                pts.append((px, py))
            seg = np.column_stack([pts[0][0], pts[0][1], pts[1][0], pts[1][1]])
            out.append(seg)
    if not out:
        return np.zeros((0, 4), np.float32)
    seg = np.concatenate(out)
    # Grid node i sits at the centre of histogram bin i.
    return ((seg + 0.5) / np.array([nx, ny, nx, ny])).astype(np.float32)


def contours(xy: np.ndarray, *, size: int | None = None, fractions=(0.5, 0.2, 0.05)) -> list[dict]:
    """Return density contours enclosing the densest places holding about each fraction of the points.

    Each entry is {"fraction": f, "level": density threshold, "segments": (s x 4) float32}.
    """
    if len(xy) < 10:
        return []
    # A grid fine enough for the data but not so fine that sparse maps turn into specks.
    size = int(min(256, max(48, 2 * math.sqrt(len(xy))))) if size is None else int(size)
    F = density_grid(xy, size, sigma=2.5)
    ix = np.clip((xy * size).astype(np.int64), 0, size - 1)
    at_points = np.sort(F[ix[:, 1], ix[:, 0]])[::-1]
    out = []
    for f in fractions:
        level = float(at_points[min(len(at_points) - 1, int(f * len(at_points)))])
        if level <= 0:
            continue
        out.append({"fraction": float(f), "level": level, "segments": marching_squares(F, level)})
    return out
