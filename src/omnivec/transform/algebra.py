"""Vector algebra on tables: concept axes, and vector-symbolic binding and bundling.

Concept axes.  A direction in the space from examples: ``concept_axis(emb,
pairs=[("man", "woman"), ("king", "queen")])`` is the mean of the pairs'
differences (first minus second), ``concept_axis(emb, positive=[...],
negative=[...])`` the mean of one set minus the mean of the other; both unit
length.  ``along(emb, axis, k)`` ranks keys by their projection on it (the
top and the bottom k), ``project(emb, axis, keys)`` gives the projections.

Vector-symbolic architectures (holographic reduced representations, Plate
1995).  ``bind(a, b)`` is circular convolution (by FFT), ``unbind(c, a)``
circular correlation, its approximate inverse; ``bundle(vectors)`` the
normalised sum.  A bundle of n bound pairs can be queried for the filler of
a role; ``bundle_capacity(dim, n_items)`` measures how often the right item
is recovered from a bundle of n random items (cleaned up by nearest
neighbour in a codebook), which falls as n grows against the dimension.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..embeddings import Embeddings
from ..errors import DimensionError, InputError


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n == 0:
        raise InputError("the examples define no direction (the difference is the zero vector)")
    return v / n


def concept_axis(emb: Embeddings, *, pairs: Sequence[tuple] | None = None, positive: Sequence | None = None,
                 negative: Sequence | None = None) -> np.ndarray:
    """Return a unit direction (float64) from example pairs, or from a positive and a negative set."""
    if (pairs is None) == (positive is None):
        raise InputError("give pairs=[(a, b), ...] or positive=[...] (with negative=[...])")
    if pairs is not None:
        pairs = list(pairs)
        if not pairs or any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
            raise InputError("pairs must be a non-empty list of (key, key) pairs")
        a = emb.vectors_of([p[0] for p in pairs]).astype(np.float64)
        b = emb.vectors_of([p[1] for p in pairs]).astype(np.float64)
        return _unit((_rows_unit(a) - _rows_unit(b)).mean(axis=0))
    positive = list(positive)
    if not positive:
        raise InputError("positive must name at least one key")
    v = _rows_unit(emb.vectors_of(positive).astype(np.float64)).mean(axis=0)
    if negative:
        v = v - _rows_unit(emb.vectors_of(list(negative)).astype(np.float64)).mean(axis=0)
    return _unit(v)


def _rows_unit(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, n, out=np.zeros_like(X), where=n > 0)


def _axis(emb: Embeddings, axis) -> np.ndarray:
    a = np.asarray(axis, np.float64).ravel()
    if a.shape != (emb.dim,):
        raise DimensionError(f"the axis has {a.size} dims; table {emb.name!r} has {emb.dim}")
    return _unit(a)


def project(emb: Embeddings, axis, keys: Sequence | None = None) -> np.ndarray:
    """Return the projection of unit rows on the axis (cosine with it): of `keys`, or of every row."""
    a = _axis(emb, axis)
    X = emb.vectors if keys is None else emb.vectors_of(list(keys))
    return (_rows_unit(np.asarray(X, np.float64)) @ a).astype(np.float32)


def along(emb: Embeddings, axis, k: int = 10, *, restrict_vocab: int | None = None) -> dict:
    """Return the k keys furthest along the axis and the k furthest against it, as (key, score) lists."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be an int >= 1; got {k!r}")
    s = project(emb, axis)
    if restrict_vocab is not None:
        s = s[:restrict_vocab]
    k = min(k, len(s))
    top = np.argsort(-s, kind="stable")[:k]
    bottom = np.argsort(s, kind="stable")[:k]
    keys = emb.keys
    return {"top": [(keys.key(int(i)), float(s[i])) for i in top],
            "bottom": [(keys.key(int(i)), float(s[i])) for i in bottom]}


# -- vector-symbolic architectures ------------------------------------------------------------
def _vecs(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a, np.float64) for a in arrays]
    d = out[0].shape[-1]
    if any(a.shape[-1] != d for a in out):
        raise DimensionError(f"binding needs vectors of one width; got {[a.shape[-1] for a in out]}")
    return out


def bind(a, b) -> np.ndarray:
    """Return the circular convolution of a and b (rows broadcast): the HRR binding."""
    a, b = _vecs(a, b)
    return np.fft.irfft(np.fft.rfft(a) * np.fft.rfft(b), n=a.shape[-1])


def unbind(c, a) -> np.ndarray:
    """Return the circular correlation of c with a: approximately b when c = bind(a, b)."""
    c, a = _vecs(c, a)
    return np.fft.irfft(np.fft.rfft(c) * np.conj(np.fft.rfft(a)), n=c.shape[-1])


def bundle(vectors) -> np.ndarray:
    """Return the unit-length sum of the rows (the superposition of several items)."""
    X = np.asarray(vectors, np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise InputError("bundle takes a non-empty (items x dims) array")
    return _unit(X.sum(axis=0))


def random_items(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Return n random HRR item vectors (entries N(0, 1/dim)), the codebook VSA works with."""
    return np.random.default_rng(seed).standard_normal((n, dim)) / np.sqrt(dim)


def bundle_capacity(dim: int, n_items: int, *, codebook: int = 1000, trials: int = 20, bound: bool = True,
                    seed: int = 0) -> float:
    """Return the share of items recovered from bundles of `n_items` (mean over `trials`).

    bound=True: each item is a (role, filler) pair bound together, and the
    filler is asked for by unbinding its role; bound=False: plain items,
    each checked to be among the bundle's `n_items` nearest codebook items.
    Cleanup is nearest neighbour (cosine) in a codebook of random items.
    """
    for name, v in (("dim", dim), ("n_items", n_items), ("codebook", codebook), ("trials", trials)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name} must be an int >= 1; got {v!r}")
    if n_items > codebook:
        raise InputError(f"n_items ({n_items}) cannot exceed the codebook ({codebook})")
    rng = np.random.default_rng(seed)
    book = random_items(codebook, dim, seed)
    unit_book = _rows_unit(book)
    hits = 0
    for _ in range(trials):
        idx = rng.choice(codebook, n_items, replace=False)
        if bound:
            roles = random_items(n_items, dim, int(rng.integers(2**31)))
            c = bind(roles, book[idx]).sum(axis=0)
            got = (_rows_unit(unbind(c[None, :], roles)) @ unit_book.T).argmax(axis=1)
            hits += int((got == idx).sum())
        else:
            c = book[idx].sum(axis=0)
            top = np.argsort(-(unit_book @ _unit(c)))[:n_items]
            hits += len(set(top.tolist()) & set(idx.tolist()))
    return hits / (trials * n_items)


__all__ = ["along", "bind", "bundle", "bundle_capacity", "concept_axis", "project", "random_items", "unbind"]
