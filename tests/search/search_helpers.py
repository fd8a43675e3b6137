"""Helpers for the index tests: backend settings, a brute-force oracle, tie-tolerant recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivec.search import BACKENDS

DATA = Path(__file__).resolve().parent.parent / "data" / "glove6b50d_top2100.npz"

# Backend name -> the engine module it needs (None: always available).
ENGINES = {"flat": None, "hnsw": "usearch", "ivfpq": "faiss"}
# Small-table parameters: IVF-PQ over 2,100 rows needs few lists and probes them all
# by default in these tests, so its recall depends only on the codes + refine.
BUILD = {"flat": {}, "hnsw": {"M": 16, "ef_construction": 128},
         "ivfpq": {"nlist": 16, "m": 10, "nbits": 5}}
SEARCH = {"flat": {}, "hnsw": {"ef": 96}, "ivfpq": {"nprobe": 16, "refine": 8}}


def need_engine(backend: str) -> None:
    mod = ENGINES[backend]
    if mod is not None:
        pytest.importorskip(mod)


def oracle(vectors: np.ndarray, queries: np.ndarray, metric: str = "cosine",
           allowed: np.ndarray | None = None) -> np.ndarray:
    """Return the brute-force scores (queries x rows) of every row, -inf where not allowed."""
    V = vectors.astype(np.float64)
    Q = np.atleast_2d(queries).astype(np.float64)
    if metric == "cosine":
        S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (V / np.linalg.norm(V, axis=1, keepdims=True)).T
    elif metric == "dot":
        S = Q @ V.T
    else:
        S = -np.sqrt(np.maximum((Q ** 2).sum(1)[:, None] - 2 * Q @ V.T + (V ** 2).sum(1)[None, :], 0))
    if allowed is not None:
        S[:, ~allowed] = -np.inf
    return S


def tie_tolerant_recall(ids: np.ndarray, S: np.ndarray, k: int, tol: float = 1e-5) -> float:
    """Return the share of returned ids whose true score reaches the oracle's k-th best."""
    kth = -np.sort(-S, axis=1)[:, k - 1]
    hits = 0
    for i, row in enumerate(ids):
        row = row[row >= 0]
        hits += int((S[i, row] >= kth[i] - tol).sum())
    return hits / (len(ids) * k)


def backend_params():
    """Every registered backend, skipped when its engine is missing."""
    return [pytest.param(name, id=name) for name in BACKENDS.names()]
