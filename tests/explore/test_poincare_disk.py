"""A 2-D Poincaré table is drawn as it is in the unit disk, with its boundary; neighbours are hyperbolic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError
from omnivec.explore.build import build_map
from omnivec.explore.layout import DISK_RADIUS, compute_layout
from omnivec.explore.site import read_manifest
from omnivec.learn.poincare import Poincare

CANINE = Path(__file__).resolve().parents[1] / "data" / "poincare" / "canine_closure.tsv"


def _dist(u, v):
    return np.arccosh(1 + 2 * np.sum((u - v) ** 2) / ((1 - u @ u) * (1 - v @ v)))


def test_a_two_d_poincare_table_is_drawn_in_the_disk(tmp_path):
    emb = Poincare(dim=2, epochs=5, burn_in=2, workers=1, progress=False).fit(CANINE)
    m = build_map(emb, k=5)
    lay = m.info["layout"]
    assert lay["method"] == "identity" and lay["boundary"] == {"cx": 0.5, "cy": 0.5, "r": DISK_RADIUS}
    X = emb.vectors[m.rows].astype(np.float64)
    # the disk's own coordinates, only moved and scaled: no projection, no stretching to the data
    np.testing.assert_allclose(m.xy, X * DISK_RADIUS + 0.5, atol=1e-6)
    assert (np.hypot(m.xy[:, 0] - 0.5, m.xy[:, 1] - 0.5) < DISK_RADIUS).all()
    # each point's listed neighbours are its nearest by the Poincaré distance
    i = 7
    want = sorted((j for j in range(len(X)) if j != i), key=lambda j: _dist(X[i], X[j]))[:5]
    assert [_dist(X[i], X[j]) for j in m.neighbors[i]] == pytest.approx([_dist(X[i], X[j]) for j in want],
                                                                        rel=1e-4)
    m.save(tmp_path / "site")
    assert read_manifest(tmp_path / "site")["info"]["layout"]["boundary"]["r"] == DISK_RADIUS


def test_higher_dimensional_poincare_tables_take_pca_not_umap():
    X = np.random.default_rng(0).uniform(-0.2, 0.2, (80, 5)).astype(np.float32)
    xy, info = compute_layout(X, "poincare", method="pca")
    assert info["method"] == "pca" and xy.shape == (80, 2)
    with pytest.raises(InputError, match="UMAP has no poincare space"):
        compute_layout(X, "poincare", method="umap")


def test_approximate_indexes_refuse_a_hyperbolic_table():
    emb = omnivec.Embeddings([f"n{i}" for i in range(50)],
                             np.random.default_rng(1).uniform(-0.1, 0.1, (50, 4)).astype(np.float32),
                             metric="poincare")
    from omnivec.search import build_index

    with pytest.raises(InputError, match="'flat' backend"):
        build_index(emb, "hnsw")
    flat = build_index(emb, "flat")
    hits = flat.search(emb.vectors[:3], 4)
    exact = emb.search(emb.vectors[:3], 4)
    np.testing.assert_array_equal(hits.ids, exact.ids)
    np.testing.assert_allclose(hits.scores, exact.scores, rtol=1e-5)
