"""Out-of-vocabulary vectors: fastText composition and Magnitude-style vectors on real GloVe vectors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import CorruptFileError, KeyNotFound
from omnivec.core import oov as O
from omnivec.core.subwords import Subwords

DATA = Path(__file__).resolve().parents[1] / "data" / "fasttext"


@pytest.fixture(scope="module")
def glove():
    """GloVe 6B 50d, the 20,000 most frequent words (frequency order), float16 on disk."""
    keys = (DATA / "glove_top20k.keys.txt").read_text(encoding="utf-8").split("\n")[:-1]
    vectors = np.load(DATA / "glove_top20k.f16.npy").astype(np.float32)
    return omnivec.Embeddings(keys, vectors)


def test_unknown_key_raises_unless_asked(glove):
    assert "recieve" not in glove
    with pytest.raises(KeyNotFound, match="oov=True"):
        glove["recieve"]
    v = glove.vector("recieve", oov=True)
    assert v.shape == (50,) and v.dtype == np.float32 and np.isfinite(v).all()
    opted = glove.replace(oov=True)
    np.testing.assert_array_equal(opted["recieve"], v)
    np.testing.assert_array_equal(glove.vector("receive", oov=True), glove["receive"])  # known keys unchanged


@pytest.mark.parametrize("typo,word", [("recieve", "receive"), ("definately", "definitely"),
                                       ("goverment", "government"), ("enviroment", "environment"),
                                       ("accomodate", "accommodate"), ("Recieve", "receive")])
def test_misspelling_lands_near_its_word(glove, typo, word):
    assert typo not in glove and word in glove
    near = [k for k, _ in glove.similar_by_vector(glove.vector(typo, oov=True), topn=10)]
    assert word in near, near


def test_same_key_same_vector_across_processes(glove, tmp_path):
    keys = ["recieve", "qwzxv", "日本語のテスト", ""]
    here = np.stack([glove.vector(k, oov=True) for k in keys])
    again = np.stack([O.oov_model_for(glove).vector(k) for k in keys])
    np.testing.assert_array_equal(here, again)
    out = tmp_path / "v.npy"
    script = (
        "import sys, numpy as np, omnivec\n"
        "from pathlib import Path\n"
        f"d = Path({str(DATA)!r})\n"
        "keys = (d / 'glove_top20k.keys.txt').read_text(encoding='utf-8').split('\\n')[:-1]\n"
        "emb = omnivec.Embeddings(keys, np.load(d / 'glove_top20k.f16.npy').astype(np.float32))\n"
        f"np.save({str(out)!r}, np.stack([emb.vector(k, oov=True) for k in {keys!r}]))\n")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    np.testing.assert_array_equal(np.load(out), here)


def test_unrelated_keys_differ_and_look_alikes_correlate(glove):
    a, b, c = (glove.vector(k, oov=True) for k in ("recieve", "recieves", "zzqxj"))
    cos = lambda x, y: float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))  # noqa: E731
    assert cos(a, b) > 0.5 > cos(a, c)


def test_random_part_alone_when_nothing_looks_alike(glove):
    m = O.MagnitudeOOV(glove)
    assert m.similar("ж") == []
    v = m.vector("ж")
    r = O.random_part("ж", 50)
    expected = r / np.linalg.norm(r) * float(np.asarray(glove.norms, np.float64).mean())
    np.testing.assert_allclose(v, expected.astype(np.float32), rtol=1e-5)


def _python_trigrams(key: str) -> set[str]:
    s = "<" + key.casefold() + ">"
    return {s[i:i + 3] for i in range(len(s) - 2)}


def test_index_matches_plain_python():
    keys = ["Straße", "strasse", "İstanbul", "istanbul", "the", "THE", "é", "", "naïve", "naive", "日本語"]
    emb = omnivec.Embeddings(keys, np.eye(len(keys), 4, dtype=np.float32))
    idx = O.build_index(emb.keys.blob, emb.keys.offsets)
    rows_of = defaultdict(set)
    for r, k in enumerate(keys):
        for g in _python_trigrams(k):
            rows_of[g].add(r)
    off, post = idx["oov_ngram_offsets"], idx["oov_ngram_postings"]
    assert len(off) - 1 == len(rows_of)
    got = [post[off[j]:off[j + 1]].tolist() for j in range(len(off) - 1)]
    assert all(g == sorted(g) for g in got)
    assert sorted(got) == sorted(sorted(r) for r in rows_of.values())
    assert sorted(idx["oov_ngram_slot_ids"][idx["oov_ngram_slot_ids"] >= 0].tolist()) == list(range(len(got)))
    sizes = [len(_python_trigrams(k)) for k in keys]
    assert idx["oov_ngram_sizes"].tolist() == sizes


@pytest.mark.parametrize("keys", [["ABC", "Déjà", "x"], ["Straße", "ǅ", "ﬁne"], ["a\nb", "Ü", "ok"]])
def test_casefolding_paths(keys):
    enc = [k.encode("utf-8") for k in keys]
    blob = np.frombuffer(b"".join(enc), np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
    fb, fo = O._fold_blob(blob, offsets)
    assert [bytes(fb[fo[i]:fo[i + 1]]).decode("utf-8") for i in range(len(keys))] == [k.casefold() for k in keys]


def test_prepared_index_is_stored_and_reused(glove, tmp_path, monkeypatch):
    small = omnivec.Embeddings(list(glove.keys)[:3000], glove.vectors[:3000])
    want = small.vector("recieve", oov=True)
    prepared = O.prepare_oov(small)
    assert set(O.EXTRA_NAMES) <= set(prepared.extras)
    path = tmp_path / "g.omnivec"
    prepared.save(path, storage="float16")
    opened = omnivec.open(path, oov=True)

    def no_rebuild(*a, **k):
        raise AssertionError("the stored index should have been used")

    monkeypatch.setattr(O, "build_index", no_rebuild)
    got = opened["recieve"]
    # float16 storage changes the look-alikes' vectors slightly, not the look-alikes
    assert float(got @ want / np.linalg.norm(got) / np.linalg.norm(want)) > 0.999
    assert O.prepare_oov(opened) is opened


def test_damaged_stored_index_is_reported(glove):
    small = O.prepare_oov(omnivec.Embeddings(list(glove.keys)[:500], glove.vectors[:500]))
    post = small.extras["oov_ngram_postings"].copy()
    post[3] = 10_000                       # a row the table does not have
    bad = small.replace(extras={**small.extras, "oov_ngram_postings": post})
    with pytest.raises(CorruptFileError, match="OOV n-gram index"):
        bad.vector("recieve", oov=True)


def test_other_storages_and_metrics(glove):
    small = omnivec.Embeddings(list(glove.keys)[:5000], glove.vectors[:5000], metric="euclidean")
    for storage in ("float16", "int8"):
        v = small.astype(storage).vector("recieve", oov=True)
        near = [k for k, _ in small.astype(storage).with_metric("cosine").similar_by_vector(v, topn=10)]
        assert "receive" in near
    # the norm follows the look-alikes, so euclidean neighbours make sense too
    v = small.vector("recieve", oov=True)
    assert abs(np.linalg.norm(v) - np.linalg.norm(small["receive"])) < 0.5 * np.linalg.norm(small["receive"])


def test_integer_keys_get_deterministic_random_vectors(rng):
    emb = omnivec.Embeddings(np.arange(10), rng.standard_normal((10, 6)).astype(np.float32))
    v = emb.vector(12345, oov=True)
    np.testing.assert_array_equal(v, emb.vector(12345, oov=True))
    assert not np.array_equal(v, emb.vector(12346, oov=True))
    assert O.prepare_oov(emb) is emb


def test_subword_tables_use_fasttext_composition(rng):
    buckets = rng.standard_normal((97, 5)).astype(np.float32)
    sw = Subwords(minn=3, maxn=4, bucket=97, vectors=buckets)
    emb = omnivec.Embeddings(["a", "b"], rng.standard_normal((2, 5)).astype(np.float32), subwords=sw)
    from omnivec.core.ngrams import word_ngram_ids

    ids = word_ngram_ids("kitten", 3, 4, 97)
    np.testing.assert_allclose(emb.vector("kitten", oov=True), buckets[ids].mean(axis=0), atol=1e-6)
    short = omnivec.Embeddings(["a"], np.ones((1, 5), np.float32),
                               subwords=Subwords(minn=5, maxn=6, bucket=97, vectors=buckets))
    assert not short.vector("ab", oov=True).any()     # "<ab>" has no 5-grams: fastText gives zeros
    assert O.prepare_oov(emb) is emb


def test_subword_table_smaller_than_bucket_is_refused(rng):
    from omnivec.errors import InputError

    sw = Subwords(minn=3, maxn=4, bucket=1000, vectors=rng.standard_normal((10, 5)).astype(np.float32))
    with pytest.raises(InputError, match="1000 buckets"):
        omnivec.Embeddings(["a"], np.ones((1, 5), np.float32), subwords=sw)
    # A table assembled around the constructor is still refused when OOV reads it.
    emb = omnivec.Embeddings(["a"], np.ones((1, 5), np.float32)).replace(subwords=sw)
    with pytest.raises(InputError, match="10 rows but bucket is 1000"):
        emb.vector("kitten", oov=True)
