"""Alignment: Procrustes on seed pairs, CSLS, refinement, translation precision, bad input, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.embeddings import Embeddings
from omnivec.errors import DimensionError, EncodingError, InputError
from omnivec.transform import align, read_dictionary, relative, transform_of, translation_precision
from omnivec.transform.align import csls_topk


def spaces(n=600, d=16, noise=0.05, seed=0):
    """A target space and a source that is a rotated, noisy, shuffled copy of it (words src_i -> tgt_i)."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, d))
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = Y @ R.T + noise * rng.standard_normal((n, d)) + 0.3          # rotated, shifted, noisy
    order = rng.permutation(n)
    tgt = Embeddings([f"t{i}" for i in range(n)], Y.astype(np.float32), name="tgt")
    src = Embeddings([f"s{i}" for i in order], X[order].astype(np.float32), name="src")
    pairs = [(f"s{i}", f"t{i}") for i in range(n)]
    return src, tgt, pairs


def test_procrustes_recovers_a_rotation_and_translates_held_out_words():
    src, tgt, pairs = spaces()
    mapped = align(src, tgt, pairs[:300])
    res = translation_precision(mapped, tgt, pairs[300:], method="nn")
    assert res["p@1"] >= 0.95 and res["p@5"] >= res["p@1"] and res["queries"] == 300
    assert translation_precision(mapped, tgt, pairs[300:])["p@1"] >= 0.95            # csls
    # an unaligned source does not translate
    raw = src.replace(meta={})
    assert translation_precision(raw, tgt, pairs[300:], method="nn")["p@1"] < 0.2
    # the map is recorded: any source vector lands where the mapped rows are
    np.testing.assert_allclose(transform_of(mapped).transform(src.vectors[:3]), mapped.vectors[:3], atol=1e-5)
    assert mapped.meta["alignment"]["pairs"] == 300


def test_refinement_grows_the_dictionary_from_a_small_seed():
    src, tgt, pairs = spaces(noise=0.2)
    few = align(src, tgt, pairs[:20])
    better = align(src, tgt, pairs[:20], refine=2, refine_vocab=600)
    p_few = translation_precision(few, tgt, pairs[300:], method="nn")["p@1"]
    p_better = translation_precision(better, tgt, pairs[300:], method="nn")["p@1"]
    assert p_better >= p_few and better.meta["alignment"]["dictionary_sizes"][-1] > 20


def test_identical_keys_seed_the_map():
    src, tgt, pairs = spaces()
    same = Embeddings([k.replace("s", "t") for k in src.keys], src.vectors, name="src")
    mapped = align(same, tgt, identical=True)
    assert translation_precision(mapped, tgt, [(f"t{i}", f"t{i}") for i in range(50)], method="nn")["p@1"] > 0.95


def test_csls_penalises_hubs():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((50, 8))
    B[0] = B[1:].mean(axis=0) * 5                                   # a hub near everything
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    A = B[1:] + 0.3 * rng.standard_normal((49, 8))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    nn = csls_topk(A, B, 1, method="nn")[:, 0]
    cs = csls_topk(A, B, 1, knn=5)[:, 0]
    assert (cs == 0).sum() <= (nn == 0).sum()
    assert (cs == np.arange(1, 50)).mean() >= (nn == np.arange(1, 50)).mean()


def test_bad_input(tmp_path):
    src, tgt, pairs = spaces(n=50)
    wide = Embeddings([f"t{i}" for i in range(50)], np.ones((50, 20), np.float32))
    with pytest.raises(DimensionError, match="source has 16 dims, the target 20.*--pca 16"):
        align(src, wide, pairs)
    with pytest.raises(InputError, match="give a seed dictionary"):
        align(src, tgt)
    with pytest.raises(InputError, match="no pair of the dictionary has both words"):
        align(src, tgt, [("nope", "t1")])
    with pytest.raises(InputError, match="share no keys"):
        align(src, tgt, identical=True)
    f = tmp_path / "d.txt"
    f.write_text("s1 t1\ns2\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: a dictionary line holds two words"):
        read_dictionary(f)
    f.write_bytes(b"s1 t1\n\xff t2\n")
    with pytest.raises(EncodingError, match="line 2 is not UTF-8"):
        read_dictionary(f)
    f.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no pairs"):
        read_dictionary(f)
    with pytest.raises(InputError, match="method must be 'csls' or 'nn'"):
        translation_precision(align(src, tgt, pairs), tgt, pairs, method="cosine")


def test_cli_align_and_eval_translation(capsys, tmp_path):
    src, tgt, pairs = spaces()
    src.save(tmp_path / "src.ov")
    tgt.save(tmp_path / "tgt.ov")
    (tmp_path / "train.txt").write_text("".join(f"{a} {b}\n" for a, b in pairs[:300]), encoding="utf-8")
    (tmp_path / "test.txt").write_text("".join(f"{a}\t{b}\n" for a, b in pairs[300:]), encoding="utf-8")
    code = main(["align", str(tmp_path / "src.ov"), str(tmp_path / "tgt.ov"), "-o", str(tmp_path / "m.ov"),
                 "-d", str(tmp_path / "train.txt"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["pairs"] == 300
    code = main(["eval", "translation", str(tmp_path / "m.ov"), str(tmp_path / "tgt.ov"),
                 str(tmp_path / "test.txt"), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["p@1"] >= 0.95
    code = main(["align", str(tmp_path / "src.ov"), str(tmp_path / "tgt.ov"), "-o", str(tmp_path / "x.ov")])
    assert code == 1 and "give a seed dictionary" in capsys.readouterr().err
    code = main(["align", str(tmp_path / "src.ov"), str(tmp_path / "tgt.ov"), "-o", str(tmp_path / "u.ov"),
                 "--unsupervised", "--method", "distributions", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["unsupervised"] and out["method"] == "distributions"
    code = main(["eval", "translation", str(tmp_path / "u.ov"), str(tmp_path / "tgt.ov"),
                 str(tmp_path / "test.txt"), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["p@1"] >= 0.9
    code = main(["align", str(tmp_path / "src.ov"), str(tmp_path / "tgt.ov"), "-o", str(tmp_path / "v.ov"),
                 "--unsupervised", "--identical"])
    assert code == 1 and "without a seed" in capsys.readouterr().err


def test_relative_representations_make_two_spaces_comparable_without_a_map():
    src, tgt, pairs = spaces()
    anchors_t = [f"t{i}" for i in range(40)]
    anchors_s = [f"s{i}" for i in range(40)]
    rt = relative(tgt, anchors_t)
    rs = relative(src, anchors_s)
    assert rt.dim == 40 and rt.meta["relative"]["anchors"] == anchors_t
    # in the relative space each source word's nearest target word is its own translation
    found = [rt.most_similar(rs[f"s{i}"], topn=1)[0][0] for i in range(100, 150)]
    assert np.mean([f == f"t{i}" for f, i in zip(found, range(100, 150))]) > 0.9
    discovered = relative(tgt, 12)
    assert discovered.dim == len(discovered.meta["relative"]["anchors"]) <= 12
    with pytest.raises(InputError, match="at least one anchor"):
        relative(tgt, [])


def clustered_spaces(n=2000, d=16, noise=0.1, seed=0):
    """spaces() with the points in clusters of uneven sizes, as words are: the shape mini-vec2vec matches."""
    rng = np.random.default_rng(seed)
    centres = 2 * rng.standard_normal((25, d))
    Y = centres[rng.choice(25, n, p=rng.dirichlet(np.full(25, 0.7)))] + rng.standard_normal((n, d))
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = Y @ R.T + noise * rng.standard_normal((n, d)) + 0.3
    order = rng.permutation(n)
    tgt = Embeddings([f"t{i}" for i in range(n)], Y.astype(np.float32), name="tgt")
    src = Embeddings([f"s{i}" for i in order], X[order].astype(np.float32), name="src")
    return src, tgt, [(f"s{i}", f"t{i}") for i in range(n)]


@pytest.mark.parametrize("method", ["clusters", "distributions"])
def test_unsupervised_alignment_finds_the_rotation_without_a_dictionary(method):
    from omnivec.transform import align_unsupervised

    src, tgt, pairs = clustered_spaces()
    mapped = align_unsupervised(src, tgt, method=method, vocab=2000, rounds=3, runs=8)
    assert translation_precision(mapped, tgt, pairs[:300], method="nn")["p@1"] >= 0.95
    meta = mapped.meta["alignment"]
    assert meta["unsupervised"] and meta["method"] == method and meta["mutual_pairs"] > 1500
    np.testing.assert_allclose(transform_of(mapped).transform(src.vectors[:2]), mapped.vectors[:2], atol=1e-5)
    again = align_unsupervised(src, tgt, method=method, vocab=2000, rounds=3, runs=8)
    np.testing.assert_array_equal(again.vectors, mapped.vectors)          # one seed, one map


def test_the_distributions_start_needs_no_clusters():
    from omnivec.transform import align_unsupervised

    src, tgt, pairs = spaces(n=1200, noise=0.1)
    mapped = align_unsupervised(src, tgt, method="distributions", vocab=1200, rounds=5)
    assert translation_precision(mapped, tgt, pairs[:300], method="nn")["p@1"] >= 0.95


def test_centroids_are_matched_by_the_best_quadratic_assignment():
    import itertools

    from omnivec.transform.align import _qap_2opt

    rng = np.random.default_rng(3)
    for k in (5, 7):
        X = rng.standard_normal((k, 4))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
        perm = rng.permutation(k)
        SA, SB = X @ X.T, (X[perm] @ Q) @ (X[perm] @ Q).T
        best = max(np.sum(SA * SB[np.ix_(p, p)]) for p in itertools.permutations(range(k)))
        p = _qap_2opt(SA, SB, rng, starts=8)
        assert np.sum(SA * SB[np.ix_(p, p)]) == pytest.approx(best)
        assert (p == np.argsort(perm)).all()              # the planted matching


def test_unsupervised_alignment_refuses_bad_settings():
    from omnivec.transform import align_unsupervised

    src, tgt, _ = spaces(n=100)
    with pytest.raises(InputError, match="rounds must be an int >= 0"):
        align_unsupervised(src, tgt, rounds=-1)
    with pytest.raises(InputError, match="method must be one of"):
        align_unsupervised(src, tgt, method="adversarial")
    with pytest.raises(InputError, match="at least 40 rows"):
        align_unsupervised(Embeddings(list(src.keys)[:30], src.vectors[:30]), tgt)