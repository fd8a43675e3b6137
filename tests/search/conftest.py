"""Shared fixtures for the index tests: real GloVe vectors.

tests/data/glove6b50d_top2100.npz holds the 2,100 most frequent words of
GloVe 6B 50d; counts are a frequency rank proxy (the most frequent word gets
the largest count) so conditions such as counts >= N select real subsets.
"""

from __future__ import annotations

import os

# FAISS's OpenMP threads spin while waiting; on a shared 2-core runner that
# makes a 0.1 s IVF-PQ build take 20 s.  Must be set before faiss loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import omnivec  # noqa: E402
from search_helpers import DATA  # noqa: E402

@pytest.fixture(scope="session")
def glove_arrays() -> tuple[list[str], np.ndarray]:
    z = np.load(DATA, allow_pickle=False)
    return [str(k) for k in z["keys"]], z["vectors"].astype(np.float32)


@pytest.fixture(scope="session")
def glove(glove_arrays) -> omnivec.Embeddings:
    keys, vecs = glove_arrays
    return omnivec.Embeddings(keys, vecs, counts=np.arange(len(keys), 0, -1), name="words")


@pytest.fixture(scope="session")
def glove_queries(glove_arrays) -> np.ndarray:
    """Rows of the table moved by noise: near the data, not in it."""
    _, vecs = glove_arrays
    rng = np.random.default_rng(11)
    rows = rng.choice(len(vecs), 200, replace=False)
    return (vecs[rows] + 0.3 * vecs.std(axis=0) * rng.standard_normal((200, vecs.shape[1]))).astype(np.float32)


