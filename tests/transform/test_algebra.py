"""Concept axes and vector-symbolic binding: directions, rankings, HRR identities, the capacity curve."""

from __future__ import annotations

import numpy as np
import pytest

from omnivec.embeddings import Embeddings
from omnivec.errors import DimensionError, InputError
from omnivec.transform.algebra import (along, bind, bundle, bundle_capacity, concept_axis, project,
                                       random_items, unbind)


@pytest.fixture
def emb():
    """Words whose first coordinate is their 'size', the rest noise."""
    rng = np.random.default_rng(0)
    words = ["tiny", "small", "medium", "big", "huge", "cat", "dog", "car"]
    size = np.array([-2, -1, 0, 1, 2, 0.1, -0.1, 0.0])
    X = np.column_stack([size, 0.1 * rng.standard_normal((8, 5))])
    return Embeddings(words, X.astype(np.float32), name="words")


def test_a_concept_axis_from_pairs_or_sets_ranks_keys_along_it(emb):
    a = concept_axis(emb, pairs=[("big", "small"), ("huge", "tiny")])
    assert np.isclose(np.linalg.norm(a), 1) and a[0] > 0.9
    b = concept_axis(emb, positive=["big", "huge"], negative=["small", "tiny"])
    assert a @ b > 0.95
    ranked = along(emb, a, k=2)
    assert {k for k, _ in ranked["top"]} == {"huge", "big"}
    assert {k for k, _ in ranked["bottom"]} == {"tiny", "small"}
    assert ranked["top"][0][1] >= ranked["top"][1][1]
    s = project(emb, a, ["huge", "tiny"])
    assert s[0] > 0.9 and s[1] < -0.9
    assert along(emb, a, k=3, restrict_vocab=3)["top"][0][0] == "medium"


def test_concept_axes_refuse_bad_input(emb):
    with pytest.raises(InputError, match="give pairs"):
        concept_axis(emb)
    with pytest.raises(InputError, match="no direction"):
        concept_axis(emb, pairs=[("cat", "cat")])
    with pytest.raises(DimensionError, match="the axis has 3 dims"):
        project(emb, [1, 0, 0])
    with pytest.raises(InputError, match="k must be an int >= 1"):
        along(emb, np.ones(6), k=0)


def test_binding_is_circular_convolution_and_unbinding_recovers_the_filler():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    direct = np.array([sum(a[j] * b[(i - j) % 16] for j in range(16)) for i in range(16)])
    np.testing.assert_allclose(bind(a, b), direct, atol=1e-10)
    np.testing.assert_allclose(bind(a, b), bind(b, a), atol=1e-10)
    items = random_items(50, 1024, seed=2)
    role = random_items(1, 1024, seed=3)[0]
    got = unbind(bind(role, items[7]), role)
    assert int(np.argmax(items @ got)) == 7
    np.testing.assert_allclose(np.linalg.norm(bundle(items[:3])), 1.0)


def test_capacity_falls_with_more_items_and_rises_with_more_dims():
    few = bundle_capacity(256, 4, codebook=200, trials=5)
    many = bundle_capacity(256, 60, codebook=200, trials=5)
    wide = bundle_capacity(2048, 60, codebook=200, trials=5)
    assert few > many and wide > many and few > 0.9
    assert bundle_capacity(512, 10, codebook=100, trials=3, bound=False) > 0.8
    with pytest.raises(InputError, match="cannot exceed the codebook"):
        bundle_capacity(64, 20, codebook=10)
