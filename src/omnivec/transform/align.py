"""Aligning two vector spaces: orthogonal Procrustes from a seed dictionary, CSLS retrieval, iterative
refinement, and translation precision.

`align(src, tgt, dictionary)` maps the source table into the target's space
the way VecMap and MUSE do in their supervised mode: both spaces unit-length,
mean-centred and unit-length again (`normalize=True`), then the orthogonal W
minimising |X W - Y| over the dictionary's pairs (Schoenemann's SVD
solution, W = U V^T of X^T Y); with `refine=N`, N rounds of inducing a new
dictionary (mutual nearest neighbours by CSLS among the `refine_vocab` first
words of both tables, plus the seed pairs) and solving again.  The seed
dictionary is a file of `source target` pairs (MUSE's format), pairs, or
`identical=True`: the keys both tables share.  The mapped table records the
map as a transform (`omnivec.transform.transform_of` maps any source vector).

CSLS (Conneau et al. 2018) scores a pair by 2 cos(x, y) - r_T(x) - r_S(y),
r being the mean cosine of a point's k nearest neighbours in the other
space; it penalises hubs.  `translation_precision` reports P@k of the
mapped source against held-out pairs (a source word with several correct
targets counts once, correct when any is found), by CSLS or plain nearest
neighbours.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np

from ..embeddings import Embeddings
from .._textlines import utf8_lines
from ..errors import DimensionError, InputError
from .base import Transform, apply_to_table
from .linear import Normalize

BLOCK = 4096


class OrthogonalMap(Transform):
    """x -> ((x/|x| - mean_) / |x/|x| - mean_|) @ W_ (normalize=True) or x @ W_: a fitted alignment.

    fit(X, Y) solves orthogonal Procrustes on paired rows (the source rows X,
    the target rows Y, both prepared alike).
    """

    name = "orthogonal_map"
    _arrays = ("W_", "mean_")

    def __init__(self, *, normalize: bool = True) -> None:
        if not isinstance(normalize, bool):
            raise InputError(f"normalize must be true or false; got {normalize!r}")
        self.normalize = normalize

    def prepare(self, X: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        if not self.normalize:
            return X
        U = Normalize()._transform(X)
        return Normalize()._transform(U - (self.mean_ if mean is None else mean))

    def fit(self, X, y=None) -> "OrthogonalMap":
        """Fit on paired rows: X (source) and y (their targets, the same number of rows and dims)."""
        from .base import as_matrix

        if y is None:
            raise InputError("OrthogonalMap.fit needs the paired target rows: fit(X, Y)")
        Xm, Ym = as_matrix(X), as_matrix(y, "Y")
        if Xm.shape != Ym.shape or len(Xm) == 0:
            raise DimensionError(f"X and Y must be paired rows of equal width; got {Xm.shape} and {Ym.shape}")
        self.mean_ = _unit(Xm).mean(axis=0) if self.normalize else np.zeros(Xm.shape[1])
        y_mean = _unit(Ym).mean(axis=0) if self.normalize else np.zeros(Ym.shape[1])
        self._solve(self.prepare(Xm), self.prepare(Ym, y_mean))
        self.n_features_in_ = Xm.shape[1]
        return self

    def _solve(self, Xp: np.ndarray, Yp: np.ndarray) -> None:
        self.W_ = _procrustes(Xp, Yp)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self.prepare(X) @ self.W_

    def _check_record(self) -> None:
        d = self.n_features_in_
        if self.W_.shape != (d, d) or self.mean_.shape != (d,):
            raise InputError(f"orthogonal_map: W_ {self.W_.shape} or mean_ {self.mean_.shape} do not fit {d} dims")


def read_dictionary(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Return the (source, target) pairs of a dictionary file: two words per line (space or tab)."""
    path = os.fspath(path)
    pairs = []
    for no, line in utf8_lines(path, "dictionary"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError(f"{path}, line {no}: a dictionary line holds two words (source target); "
                             f"got {len(parts)}")
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise InputError(f"{path}: the dictionary holds no pairs")
    return pairs


def _check_widths(src: Embeddings, tgt: Embeddings) -> None:
    if src.dim != tgt.dim:
        raise DimensionError(f"orthogonal alignment maps equal widths: the source has {src.dim} dims, the "
                             f"target {tgt.dim}; reduce the wider one first (omnivec transform --pca "
                             f"{min(src.dim, tgt.dim)})")


def _pairs(src: Embeddings, tgt: Embeddings, dictionary, identical: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (source rows, target rows, pairs dropped for a word a table lacks)."""
    if identical:
        if dictionary is not None:
            raise InputError("give a dictionary or identical=True, not both")
        shared = [k for k in src.keys if tgt.keys.row(k) >= 0]
        if not shared:
            raise InputError(f"tables {src.name!r} and {tgt.name!r} share no keys; give a dictionary")
        pairs: Iterable[tuple] = [(k, k) for k in shared]
    elif dictionary is None:
        raise InputError("give a seed dictionary (a file of source-target pairs, or pairs) or identical=True")
    elif isinstance(dictionary, (str, os.PathLike)):
        pairs = read_dictionary(dictionary)
    else:
        pairs = list(dictionary)
    s_rows, t_rows, dropped = [], [], 0
    for a, b in pairs:
        i, j = src.keys.row(a), tgt.keys.row(b)
        if i < 0 or j < 0:
            dropped += 1
            continue
        s_rows.append(i)
        t_rows.append(j)
    if not s_rows:
        raise InputError("no pair of the dictionary has both words in the tables (source and target)")
    return np.asarray(s_rows), np.asarray(t_rows), dropped


def _unit(X: np.ndarray) -> np.ndarray:
    return Normalize()._transform(np.asarray(X, np.float64))


def _knn_mean(A: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    """Return, for each row of A (unit), the mean cosine of its k nearest rows of B (unit)."""
    k = min(k, len(B))
    out = np.empty(len(A))
    for s in range(0, len(A), BLOCK):
        S = A[s:s + BLOCK] @ B.T
        out[s:s + BLOCK] = np.partition(S, -k, axis=1)[:, -k:].mean(axis=1)
    return out


def csls_topk(A: np.ndarray, B: np.ndarray, k: int, *, knn: int = 10, method: str = "csls",
              rA: np.ndarray | None = None, rB: np.ndarray | None = None) -> np.ndarray:
    """Return the k best rows of B for each row of A (unit rows): by CSLS or by cosine ("nn")."""
    if method not in ("csls", "nn"):
        raise InputError(f"method must be 'csls' or 'nn'; got {method!r}")
    if method == "csls":
        rA = _knn_mean(A, B, knn) if rA is None else rA
        rB = _knn_mean(B, A, knn) if rB is None else rB
    k = min(k, len(B))
    out = np.empty((len(A), k), np.int64)
    for s in range(0, len(A), BLOCK):
        S = A[s:s + BLOCK] @ B.T
        if method == "csls":
            S = 2 * S - rA[s:s + BLOCK, None] - rB[None, :]
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(S, part, 1), axis=1, kind="stable")
        out[s:s + BLOCK] = np.take_along_axis(part, order, 1)
    return out


def align(src: Embeddings, tgt: Embeddings, dictionary=None, *, identical: bool = False, refine: int = 0,
          refine_vocab: int = 20000, normalize: bool = True, knn: int = 10) -> Embeddings:
    """Return the source table mapped into the target's space (see the module docstring).

    meta["alignment"] records the pairs used, those dropped for a missing
    word, and each refinement's dictionary size.
    """
    _check_widths(src, tgt)
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise InputError(f"refine must be an int >= 0; got {refine!r}")
    si, ti, dropped = _pairs(src, tgt, dictionary, identical)
    X0, Y0 = np.asarray(src.vectors, np.float64), np.asarray(tgt.vectors, np.float64)
    m = OrthogonalMap(normalize=normalize)
    m.mean_ = _unit(X0).mean(axis=0) if normalize else np.zeros(src.dim)
    Xp = m.prepare(X0)
    Yp = m.prepare(Y0, _unit(Y0).mean(axis=0) if normalize else np.zeros(tgt.dim))
    m._solve(Xp[si], Yp[ti])
    sizes = [len(si)]
    nv = min(refine_vocab, len(src), len(tgt))
    for _ in range(refine):
        A, B = _unit(Xp[:nv] @ m.W_), _unit(Yp[:nv])
        fwd = csls_topk(A, B, 1, knn=knn)[:, 0]
        back = csls_topk(B, A, 1, knn=knn)[:, 0]
        mutual = np.flatnonzero(back[fwd] == np.arange(nv))
        ri = np.concatenate([si, mutual])
        rj = np.concatenate([ti, fwd[mutual]])
        m._solve(Xp[ri], Yp[rj])
        sizes.append(len(ri))
    m.n_features_in_ = src.dim
    out = apply_to_table(src, [m])
    out.meta["alignment"] = {"target": tgt.source or tgt.name, "pairs": int(len(si)), "dropped_pairs": dropped,
                             "identical": identical, "refine": refine, "dictionary_sizes": sizes}
    return out


def translation_precision(mapped: Embeddings, tgt: Embeddings, dictionary, *, ks: Sequence[int] = (1, 5),
                          method: str = "csls", knn: int = 10, target_vocab: int | None = 200000) -> dict:
    """Return P@k of the mapped source table against a dictionary (file or pairs), with counts.

    Candidates are the target's first `target_vocab` rows (None: all), as
    MUSE searches the 200,000 most frequent words.
    """
    pairs = read_dictionary(dictionary) if isinstance(dictionary, (str, os.PathLike)) else list(dictionary)
    if not pairs:
        raise InputError("the dictionary holds no pairs")
    if mapped.dim != tgt.dim:
        raise DimensionError(f"the mapped source has {mapped.dim} dims, the target {tgt.dim}")
    n = len(tgt) if target_vocab is None else min(target_vocab, len(tgt))
    gold: dict[int, set[int]] = {}
    missing = 0
    for a, b in pairs:
        i, j = mapped.keys.row(a), tgt.keys.row(b)
        if i < 0 or j < 0 or j >= n:
            missing += 1
            continue
        gold.setdefault(i, set()).add(j)
    if not gold:
        raise InputError("no pair of the dictionary has both words in the tables")
    rows = np.fromiter(gold, np.int64)
    A = _unit(mapped.vectors_of([mapped.keys.key(int(r)) for r in rows]))
    B = _unit(np.asarray(tgt.vectors[:n], np.float64))
    rA = rB = None
    if method == "csls":
        rA = _knn_mean(A, B, knn)
        rB = _knn_mean(B, _unit(np.asarray(mapped.vectors[:n], np.float64)), knn)
    top = csls_topk(A, B, max(ks), knn=knn, method=method, rA=rA, rB=rB)
    out = {"method": method, "queries": int(len(rows)), "missing_pairs": missing}
    for k in ks:
        hits = [bool(gold[int(r)] & set(top[i, :k].tolist())) for i, r in enumerate(rows)]
        out[f"p@{k}"] = float(np.mean(hits))
    return out


__all__ = ["OrthogonalMap", "align", "csls_topk", "read_dictionary", "translation_precision"]


# -- unsupervised alignment --------------------------------------------------------------------------
def _signature(M: np.ndarray) -> np.ndarray:
    """Return each row's sorted similarities to every row, centred and unit: unchanged by any rotation."""
    S = M @ M.T
    S.sort(axis=1)
    S = S[:, ::-1]
    return _unit(S - S.mean(axis=1, keepdims=True))


def _qap_2opt(SA: np.ndarray, SB: np.ndarray, rng: np.random.Generator, starts: int) -> np.ndarray:
    """Return the permutation p maximising sum_ij SA[i,j] SB[p[i],p[j]] (symmetric SA, SB) found by 2-opt
    (best swap until none improves) from `starts` random permutations: the quadratic assignment that
    matches two sets of centroids by their similarities among themselves."""
    k = len(SA)
    best, best_f = np.arange(k), -np.inf
    iu = np.triu_indices(k, 1)
    for _ in range(starts):
        p = rng.permutation(k)
        while True:
            M = SB[np.ix_(p, p)]
            G = SA @ M
            g = np.diag(G)
            # the gain of swapping p[a] and p[b], for every a < b at once
            D = G + G.T - g[:, None] - g[None, :]
            sa, m = np.diag(SA), np.diag(M)
            D -= (sa[:, None] - SA) * (M - m[:, None]) + (SA - sa[None, :]) * (m[None, :] - M)
            D = 2 * D + (sa[:, None] - sa[None, :]) * (m[None, :] - m[:, None])
            j = int(np.argmax(D[iu]))
            if D[iu][j] <= 1e-12:
                break
            a, b = iu[0][j], iu[1][j]
            p[a], p[b] = p[b], p[a]
        f = float(np.sum(SA * SB[np.ix_(p, p)]))
        if f > best_f:
            best, best_f = p.copy(), f
    return best


def _procrustes(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(X.T @ Y)
    return U @ Vt


def _init_clusters(A: np.ndarray, B: np.ndarray, rng: np.random.Generator, *, clusters: int, runs: int,
                   top_k: int, alpha: float = 0.5, **_) -> np.ndarray:
    """Return mini-vec2vec's map of A onto B (Dar 2025): centroids of both spaces matched by quadratic
    assignment over `runs` k-means runs on a third of the rows; each source row paired with the mean of its
    `top_k` nearest target rows in the relative space of the matched centroids; Procrustes; then
    `runs` rounds of iterative closest-point averaging and one cluster correction, each step smoothed."""
    sub_a, sub_b = max(clusters, len(A) // 3), max(clusters, len(B) // 3)
    CA, CB = [], []
    for _ in range(runs):
        ca = _kmeans(A[rng.choice(len(A), sub_a, replace=False)], clusters, rng, iterations=15)
        cb = _kmeans(B[rng.choice(len(B), sub_b, replace=False)], clusters, rng, iterations=15)
        p = _qap_2opt(ca @ ca.T, cb @ cb.T, rng, starts=8)
        CA.append(ca)
        CB.append(cb[p])
    RA, RB = _unit(A @ np.concatenate(CA).T), _unit(B @ np.concatenate(CB).T)
    near = csls_topk(RA, RB, top_k, method="nn")
    W = _procrustes(A, B[near].mean(axis=1))
    for _ in range(runs):      # refinement 1: iterative closest-point averaging
        rows = rng.choice(len(A), sub_a, replace=False)
        near = csls_topk(_unit(A[rows] @ W), B, top_k, method="nn")
        W = (1 - alpha) * W + alpha * _procrustes(A[rows], B[near].mean(axis=1))
    # refinement 2: the source's centroids, mapped, seed the target's k-means, which corrects them
    ca = _kmeans(A, min(50, len(A)), rng, iterations=15)
    cb = _kmeans(B, len(ca), rng, iterations=15, init=_unit(ca @ W))
    return (1 - alpha) * W + alpha * _procrustes(ca, cb)


def _init_distributions(A: np.ndarray, B: np.ndarray, rng: np.random.Generator, *, knn: int, **_) -> np.ndarray:
    """Return VecMap's unsupervised start (Artetxe et al. 2018): words paired by their sorted similarities
    to every word of their own space, which no rotation changes, then Procrustes on those pairs."""
    own = np.arange(len(A))
    SA, SB = _signature(A), _signature(B)
    fwd, back = csls_topk(SA, SB, 1, knn=knn)[:, 0], csls_topk(SB, SA, 1, knn=knn)[:, 0]
    return _procrustes(A[np.concatenate([own, back])], B[np.concatenate([fwd, own])])


# method -> (its start, its default vocabulary)
UNSUPERVISED = {"clusters": (_init_clusters, 10000), "distributions": (_init_distributions, 4000)}


def align_unsupervised(src: Embeddings, tgt: Embeddings, *, method: str = "clusters", vocab: int | None = None,
                       rounds: int = 10, knn: int = 10, clusters: int = 20, runs: int = 30, top_k: int = 50,
                       seed: int = 0) -> Embeddings:
    """Return the source mapped into the target's space without any dictionary.

    Both start from the first `vocab` words of each table (frequency
    order), unit-length, centred, unit-length again:

    - method="clusters" (the default) is mini-vec2vec (Dar 2025): k-means
      centroids of the two spaces matched by quadratic assignment of their
      similarity matrices (`clusters` centroids, `runs` runs), pseudo-parallel
      pairs from the relative representation over the matched centroids
      (each word paired with the mean of its `top_k` nearest target words),
      Procrustes, then refinement by closest-point averaging and a cluster
      correction;
    - method="distributions" is VecMap's start (Artetxe et al. 2018): words
      paired by their sorted similarities to the `vocab` first words, which
      no rotation changes (memory grows with vocab squared).

    Then `rounds` of self-learning: a new dictionary from CSLS nearest
    neighbours in both directions, Procrustes again.  Both need spaces close
    to isometric (the same kind of data); `seed` makes a run repeatable.
    meta["alignment"] records the method and the final mutual pairs.
    """
    _check_widths(src, tgt)
    if method not in UNSUPERVISED:
        raise InputError(f"method must be one of {sorted(UNSUPERVISED)}; got {method!r}")
    start, default_vocab = UNSUPERVISED[method]
    vocab = default_vocab if vocab is None else vocab
    for name, v, low in (("vocab", vocab, 2), ("rounds", rounds, 0), ("knn", knn, 1), ("clusters", clusters, 2),
                         ("runs", runs, 1), ("top_k", top_k, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise InputError(f"{name} must be an int >= {low}; got {v!r}")
    X0, Y0 = np.asarray(src.vectors, np.float64), np.asarray(tgt.vectors, np.float64)
    m = OrthogonalMap(normalize=True)
    m.mean_ = _unit(X0).mean(axis=0)
    n = min(vocab, len(X0), len(Y0))
    if n < 2 * clusters:
        raise InputError(f"unsupervised alignment needs at least {2 * clusters} rows in each table; "
                         f"got {len(X0)} and {len(Y0)}")
    A, B = m.prepare(X0[:n]), m.prepare(Y0[:n], _unit(Y0).mean(axis=0))
    rng = np.random.default_rng(seed)
    W = start(A, B, rng, knn=knn, clusters=clusters, runs=runs, top_k=min(top_k, n))
    own = np.arange(n)
    fwd = back = own
    for _ in range(rounds + 1):
        MA = _unit(A @ W)
        fwd, back = csls_topk(MA, B, 1, knn=knn)[:, 0], csls_topk(B, MA, 1, knn=knn)[:, 0]
        if _ < rounds:
            W = _procrustes(A[np.concatenate([own, back])], B[np.concatenate([fwd, own])])
    m.W_ = W
    m.n_features_in_ = src.dim
    out = apply_to_table(src, [m])
    out.meta["alignment"] = {"target": tgt.source or tgt.name, "unsupervised": True, "method": method,
                             "vocab": n, "rounds": rounds, "seed": seed,
                             "mutual_pairs": int((back[fwd] == own).sum())}
    return out


# -- relative representations ------------------------------------------
def _kmeans(X: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 25,
            init: np.ndarray | None = None) -> np.ndarray:
    """Return k unit centroids of unit rows X (spherical k-means from `init`, or k-means++ seeding)."""
    if init is not None:
        C = np.array(init, np.float64)
    else:
        C = [X[int(rng.integers(len(X)))]]
        d = 1 - X @ C[0]
        for _ in range(1, k):
            p = np.maximum(d, 0) ** 2
            C.append(X[int(rng.choice(len(X), p=p / p.sum()))] if p.sum() > 0 else X[int(rng.integers(len(X)))])
            d = np.minimum(d, 1 - X @ C[-1])
        C = np.stack(C)
    for _ in range(iterations):
        lab = (X @ C.T).argmax(axis=1)
        for j in range(k):
            m = X[lab == j]
            if len(m):
                C[j] = m.sum(axis=0)
        C = _unit(C)
    return C


def relative(emb: Embeddings, anchors: Sequence | int, *, seed: int = 0) -> Embeddings:
    """Return the relative representation of a table: each row's cosines to anchor keys (Moschella et al.
    2023), a space in which two tables that share the anchors are comparable without any map.

    `anchors` are keys, or a number: that many anchors discovered among the
    table's keys (spherical k-means of the first 20,000 rows, each cluster's
    key nearest its centroid).  meta["relative"] lists the anchors.
    """
    if isinstance(anchors, (int, np.integer)) and not isinstance(anchors, bool):
        k = int(anchors)
        if k < 1:
            raise InputError(f"anchors must be keys or an int >= 1; got {anchors!r}")
        U = _unit(np.asarray(emb.vectors[:20000], np.float64))
        if k > len(U):
            raise InputError(f"{k} anchors asked of {len(U)} rows")
        C = _kmeans(U, k, np.random.default_rng(seed))
        rows = list(dict.fromkeys(int(r) for r in (C @ U.T).argmax(axis=1)))
        keys = [emb.keys.key(r) for r in rows]
    else:
        keys = list(anchors)
        if not keys:
            raise InputError("give at least one anchor key")
    A = _unit(emb.vectors_of(keys).astype(np.float64))
    R = np.empty((len(emb), len(A)), np.float32)
    for s in range(0, len(emb), BLOCK):       # in blocks: a float32 result, never a float64 copy of the table
        R[s:s + BLOCK] = _unit(np.asarray(emb.vectors[s:s + BLOCK], np.float64)) @ A.T
    meta = dict(emb.meta)
    meta["relative"] = {"anchors": keys}
    from ..core.vectors import VectorStore

    return Embeddings.from_parts(name=emb.name, keys=emb.keys, store=VectorStore.encode(R),
                                 metric="cosine", counts=emb.counts, meta=meta, extras=dict(emb.extras),
                                 texts=emb.texts)


__all__ += ["align_unsupervised", "relative"]
