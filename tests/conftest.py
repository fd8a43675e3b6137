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
