"""Shared fixtures for the index tests: real GloVe vectors.

tests/data/glove6b50d_top2100.npz holds the 2,100 most frequent words of
GloVe 6B 50d; counts are a frequency rank proxy (the most frequent word gets
the largest count) so conditions such as counts >= N select real subsets.
"""

from __future__ import annotations

import numpy as np
import pytest

import omnivec
from search_helpers import DATA

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


