"""Transforms: each against a numpy or scikit-learn oracle, the scikit-learn contract, tables that
record their transforms in the model file, bad input, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.embeddings import Embeddings
from omnivec.errors import DimensionError, InputError
from omnivec.transform import (PCA, TRANSFORMS, AllButTheTop, Center, Normalize, NotFittedError, OrthogonalMap,
                               Pipeline, RandomProjection, Truncate, Whiten, transform_of)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((400, 12)) @ rng.standard_normal((12, 12)) + 3.0).astype(np.float32)


@pytest.fixture
def emb(X):
    return Embeddings([f"w{i}" for i in range(len(X))], X, counts=np.arange(len(X)) + 1,
                      texts=[f"text {i}" for i in range(len(X))], name="words")


# one fitted instance of every registered transform, for the conformance checks
EXAMPLES = {"normalize": lambda: Normalize(), "center": lambda: Center(), "pca": lambda: PCA(n_components=4),
            "whiten": lambda: Whiten(n_components=5), "all_but_the_top": lambda: AllButTheTop(n_components=2),
            "truncate": lambda: Truncate(dim=6), "random_projection": lambda: RandomProjection(n_components=7),
            "orthogonal_map": lambda: OrthogonalMap()}
# transforms fitted on paired rows get them (a rotation of the input)
PAIRED = {"orthogonal_map"}


def _target(name, X):
    if name not in PAIRED:
        return None
    R, _ = np.linalg.qr(np.random.default_rng(9).standard_normal((X.shape[1], X.shape[1])))
    return np.asarray(X) @ R


def test_every_registered_transform_has_an_example():
    assert sorted(TRANSFORMS.names()) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_transform_keeps_the_contract_and_round_trips_through_a_file(name, emb, X, tmp_path):
    t = EXAMPLES[name]()
    params = t.get_params()
    assert type(t)(**params).get_params() == params
    out = t.fit_transform(X, _target(name, X))
    assert out.dtype == np.float32 and out.shape == (len(X), t.out_dim(X.shape[1]))
    np.testing.assert_allclose(t.transform(X[:5]), out[:5], rtol=1e-5, atol=1e-5)
    # a transformed table records the step; saved and opened, it transforms new vectors alike
    table = EXAMPLES[name]().fit_transform(emb, _target(name, X))
    assert table.meta["transforms"][-1]["name"] == name and table.dim == out.shape[1]
    np.testing.assert_allclose(table.vectors, out, rtol=1e-5, atol=1e-5)
    assert list(table.keys) == list(emb.keys) and table.text("w3") == "text 3"
    np.testing.assert_array_equal(table.counts, emb.counts)
    table.save(tmp_path / "t.ov")
    back = omnivec.open(tmp_path / "t.ov")
    again = transform_of(back)
    np.testing.assert_allclose(again.transform(X[:7]), back.vectors[:7], rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="has no parameter 'bogus'"):
        t.set_params(bogus=1)


def test_pca_matches_scikit_learn(X):
    sk = pytest.importorskip("sklearn.decomposition")
    ours = PCA(n_components=4).fit(X)
    theirs = sk.PCA(n_components=4).fit(X.astype(np.float64))
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-6)
    signs = np.sign((ours.components_ * theirs.components_).sum(axis=1))
    np.testing.assert_allclose(ours.components_, theirs.components_ * signs[:, None], atol=1e-8)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X) * signs, rtol=1e-4, atol=1e-4)
    # the axes' signs are fixed: two fits agree exactly
    np.testing.assert_array_equal(PCA(n_components=4).fit(X).components_, ours.components_)


def test_whitening_gives_identity_covariance_and_abtt_removes_the_top_directions(X):
    W = Whiten().fit_transform(X).astype(np.float64)
    np.testing.assert_allclose(np.cov(W, rowvar=False), np.eye(X.shape[1]), atol=1e-4)
    a = AllButTheTop(n_components=2).fit(X)
    Y = a.transform(X).astype(np.float64)
    np.testing.assert_allclose(Y.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Y @ a.components_.T, 0, atol=1e-3)
    # the top directions are the covariance's leading eigenvectors
    vals, vecs = np.linalg.eigh(np.cov(X.astype(np.float64), rowvar=False))
    np.testing.assert_allclose(np.abs(a.components_ @ vecs[:, -1]).max(), 1.0, atol=1e-8)
    assert AllButTheTop().fit(X).components_.shape == (1, 12)       # default: dims / 100, at least 1


def test_truncate_normalize_and_random_projection(X):
    T = Truncate(dim=5).fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(T, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(T * np.linalg.norm(X[:, :5], axis=1, keepdims=True), X[:, :5], rtol=1e-5)
    assert Truncate(dim=5, normalize=False).fit_transform(X).tolist() == X[:, :5].tolist()
    N = Normalize().fit_transform(np.vstack([X[:3], np.zeros((1, 12))]))
    assert not N[3].any() and np.allclose(np.linalg.norm(N[:3], axis=1), 1)
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((50, 400))
    P = RandomProjection(n_components=300, seed=1).fit_transform(Z)
    d0 = np.linalg.norm(Z[:25] - Z[25:], axis=1)
    d1 = np.linalg.norm(P[:25] - P[25:], axis=1)
    assert np.abs(d1 / d0 - 1).max() < 0.25                           # Johnson-Lindenstrauss
    S = RandomProjection(n_components=300, kind="sparse", seed=1).fit(Z)
    assert set(np.unique(np.round(S.components_ * np.sqrt(300 / 3), 6))) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(RandomProjection(n_components=30, seed=4).fit(Z).components_,
                                  RandomProjection(n_components=30, seed=4).fit(Z).components_)


def test_pipelines_chain_record_every_step_and_work_in_scikit_learn(emb, X, tmp_path):
    p = Pipeline([AllButTheTop(n_components=1), PCA(n_components=6), Normalize()])
    table = p.fit_transform(emb)
    assert [r["name"] for r in table.meta["transforms"]] == ["all_but_the_top", "pca", "normalize"]
    np.testing.assert_allclose(table.vectors, Normalize().fit_transform(
        PCA(n_components=6).fit_transform(AllButTheTop(n_components=1).fit_transform(X))), atol=1e-5)
    # a second transform of a transformed table appends to its record
    more = Truncate(dim=3).fit_transform(table)
    assert len(more.meta["transforms"]) == 4
    more.save(tmp_path / "m.ov")
    back = omnivec.open(tmp_path / "m.ov")
    np.testing.assert_allclose(transform_of(back).transform(X[:4]), back.vectors[:4], atol=1e-5)
    assert transform_of(emb).steps == []
    p.set_params(**{"1__n_components": 3})
    assert p.steps[1].n_components == 3 and p.get_params()["1__n_components"] == 3
    base = pytest.importorskip("sklearn.base")
    pipe = pytest.importorskip("sklearn.pipeline")
    clone = base.clone(PCA(n_components=3, whiten=True))
    assert clone.get_params() == {"n_components": 3, "whiten": True}
    sk = pipe.make_pipeline(Center(), PCA(n_components=2)).fit(X)
    np.testing.assert_allclose(sk.transform(X), PCA(n_components=2).fit_transform(X), atol=1e-4)


def test_bad_input_is_named(X, emb):
    with pytest.raises(InputError, match="row 2 holds NaN"):
        PCA(n_components=2).fit(np.vstack([X[:2], [np.nan] * 12]))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        PCA(n_components=2).transform(X)
    with pytest.raises(DimensionError, match="fitted on 12-dim vectors; got 5 dims"):
        Center().fit(X).transform(X[:, :5])
    with pytest.raises(InputError, match="n_components=20 is more than the 12 dims"):
        PCA(n_components=20).fit(X)
    with pytest.raises(InputError, match="needs at least 10 rows; got 3"):
        PCA(n_components=10).fit(X[:3])
    with pytest.raises(InputError, match="at least one row"):
        Center().fit(np.zeros((0, 4)))
    with pytest.raises(InputError, match="would remove all 12 dims"):
        AllButTheTop(n_components=12).fit(X)
    with pytest.raises(InputError, match="n_components must be an int >= 1"):
        PCA(n_components=0)
    with pytest.raises(InputError, match="kind must be one of gaussian, sparse"):
        RandomProjection(kind="dense")
    with pytest.raises(InputError, match="dim=20 is more than the 12 dims"):
        Truncate(dim=20).fit_transform(X)
    table = PCA(n_components=3).fit_transform(emb)
    broken = table.replace(fitted={k: v[:1] for k, v in table.fitted.items()})
    with pytest.raises(InputError, match="table 'words': transform step 0"):
        transform_of(broken)


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_transform(capsys, emb, tmp_path):
    src = tmp_path / "w.ov"
    emb.save(src)
    code, out, err = run(capsys, "transform", src, "-o", tmp_path / "t.ov", "--abtt", 1, "--pca", 4,
                         "--normalize", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["steps"] == ["all_but_the_top", "pca", "normalize"] and (info["in_dim"], info["dim"]) == (12, 4)
    back = omnivec.open(tmp_path / "t.ov")
    np.testing.assert_allclose(transform_of(back).transform(emb.vectors[:3]), back.vectors[:3], atol=1e-5)
    code, out, err = run(capsys, "transform", src, "-o", tmp_path / "x.ov")
    assert code == 1 and "no transform asked for" in err
    code, out, err = run(capsys, "transform", src, "-o", src, "--center")
    assert code == 1 and "is the input" in err
    code, out, err = run(capsys, "transform", src, "-o", tmp_path / "y.ov", "--pca", 50)
    assert code == 1 and "n_components=50 is more than the 12 dims" in err and not (tmp_path / "y.ov").exists()
