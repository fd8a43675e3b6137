import os

# FAISS's OpenMP threads spin while waiting; on a shared 2-core runner that turns a
# 0.1 s build into 20 s.  Must be set before anything imports faiss.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

import omnivec


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small(rng):
    """A 500 x 32 in-memory table with string keys."""
    keys = [f"k{i}" for i in range(500)]
    return omnivec.Embeddings(keys, rng.standard_normal((500, 32)).astype(np.float32))
