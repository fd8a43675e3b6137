import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError
from omnivec.learn.fasttext import FastText
from omnivec.core.ngrams import ngram_ids, subword_vector

from planted_words import GROUPS

FAST = dict(dim=16, min_count=1, epochs=4, sample=0, workers=1, bucket=5000)


@pytest.fixture(scope="module")
def model(planted_corpus):
    return FastText(**FAST).fit(planted_corpus)


def test_planted_synonyms_end_up_nearest(model):
    hits = []
    for g in GROUPS:
        for w in g:
            top = {k for k, _ in model.most_similar(w, topn=len(g) - 1)}
            hits.append(top == set(g) - {w})
    assert sum(hits) >= len(hits) - 2, hits


def test_word_vectors_are_the_mean_of_word_and_ngram_rows(model):
    sw = model.subwords
    n = len(model)
    assert sw.vectors.shape == (5000, 16) and sw.word_vectors.shape == (n, 16)
    for w in ["cat", "paris", "bright"]:
        r = model.row(w)
        ids = ngram_ids(w, 3, 6, 5000)
        expected = (sw.word_vectors[r] + sw.vectors[ids].sum(axis=0)) / (1 + len(ids))
        assert np.allclose(model[w], expected, atol=1e-6)


def test_oov_vectors_compose_from_ngrams_as_fasttext(model):
    sw = model.subwords
    for w in ["cats", "doggy", "parisian", "zz"]:
        assert w not in model
        assert np.array_equal(model.vector(w, oov=True), subword_vector(w, sw.vectors, 3, 6, 5000))


def test_reproducible_with_one_worker(planted_corpus, model):
    again = FastText(**FAST).fit(planted_corpus)
    assert np.array_equal(again.vectors, model.vectors)
    assert np.array_equal(again.subwords.vectors, model.subwords.vectors)


def test_cbow_and_hs_train(planted_corpus):
    for kw in (dict(architecture="cbow"), dict(loss="hs")):
        emb = FastText(**{**FAST, **kw}).fit(planted_corpus)
        assert np.isfinite(emb.vectors).all()
        assert {k for k, _ in emb.most_similar("red", topn=3)} & {"blue", "green", "pink"}


def test_maxn_zero_is_plain_word_vectors(planted_corpus):
    emb = FastText(**{**FAST, "maxn": 0}).fit(planted_corpus)
    assert emb.subwords is None


def test_update_inserts_new_word_rows_before_the_buckets(planted_corpus, model):
    learner = FastText(**FAST)
    first = learner.fit(planted_corpus)
    second = learner.update([["zebra", "animal", "pet"]] * 30)
    assert len(second) == len(first) + 1 and second.key(len(first)) == "zebra"
    assert second.subwords.vectors.shape == first.subwords.vectors.shape
    assert second.subwords.word_vectors.shape[0] == len(second)


def test_bad_ngram_parameters():
    with pytest.raises(InputError, match="'minn' parameter of FastText must be <= maxn"):
        FastText(minn=5, maxn=3)
    with pytest.raises(InputError, match="'bucket' parameter of FastText"):
        FastText(bucket=-1)


def test_model_file_keeps_subwords(model, tmp_path):
    path = tmp_path / "ft.omv"
    model.save(path)
    back = omnivec.load(path, oov=True)
    assert np.array_equal(back.vectors, model.vectors)
    assert np.array_equal(back["unseenword"], model.vector("unseenword", oov=True))


def test_fasttext_bin_and_vec_round_trip(model, tmp_path):
    formats = pytest.importorskip("omnivec.store.formats")
    fb = pytest.importorskip("omnivec.store.formats.fasttext_bin")
    path = tmp_path / "m.bin"
    fb.write_fasttext_bin(model, path)
    back, _ = fb.read_fasttext_bin(path)
    assert list(back) == list(model)
    assert np.allclose(back.vectors, model.vectors, atol=1e-6)
    for w in ["cats", "wolves"]:
        assert np.allclose(back.vector(w, oov=True), model.vector(w, oov=True), atol=1e-6)
    vec = tmp_path / "m.vec"
    formats.export_vectors(model, vec, "fasttext-vec")
    again, _ = formats.import_vectors(vec, format="fasttext-vec")
    assert np.array_equal(again.vectors, model.vectors)


def test_facebook_fasttext_reads_our_model_identically(model, tmp_path):
    fasttext = pytest.importorskip("fasttext")
    fb = pytest.importorskip("omnivec.store.formats.fasttext_bin")
    path = tmp_path / "m.bin"
    fb.write_fasttext_bin(model, path)
    ft = fasttext.load_model(str(path))
    for w in ["cat", "paris", "cats", "parisian", "qq"]:
        assert np.array_equal(ft.get_word_vector(w), model.vector(w, oov=True)), w


def test_hierarchical_softmax_model_exports_its_inner_node_rows(planted_corpus, tmp_path):
    learner = FastText(**{**FAST, "loss": "hs"})
    emb = learner.fit(planted_corpus)
    out = emb.subwords.output
    n = len(emb)
    # fastText's shape: one row per word; the n - 1 inner nodes first, then a zero row
    assert out.shape == (n, emb.dim)
    assert np.array_equal(out[:n - 1], learner.wout_) and not out[-1].any() and out[:n - 1].any()
    path = tmp_path / "hs.bin"
    omnivec.export_vectors(emb, path, format="fasttext-bin")
    back, _ = omnivec.read_fasttext_bin(path)
    assert np.array_equal(back.subwords.output, out)
