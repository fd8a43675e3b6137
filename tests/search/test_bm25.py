"""BM25: the same terms, scores and top-10 as bm25s (method="lucene") on a Cranfield cut,
a numpy oracle of the formula, queries without indexed terms, files that round-trip,
stale and damaged files refused, bad input named."""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from fresh_process import run_python

import omnivec
from omnivec.errors import CorruptFileError, DuplicateKeyError, FormatError, InputError, MissingDependencyError
from omnivec.evaluate.ir import load_collection
from omnivec.search import BM25, Neighbors, Tokenizer, bm25_path, verify_bm25
from omnivec.search.bm25 import BM25_FORMAT, read_bm25_file
from omnivec.store import container

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "bm25" / "cranfield"


@pytest.fixture(scope="module")
def cran():
    return load_collection(FIXTURE)


@pytest.fixture(scope="module")
def fitted(cran):
    return BM25().fit(cran.doc_texts, keys=cran.doc_ids)


def _bm25s(texts, k1=1.2, b=0.75):
    bm25s = pytest.importorskip("bm25s")
    ret = bm25s.BM25(method="lucene", k1=k1, b=b)
    ret.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    return bm25s, ret


# -- the tokenizer ------------------------------------------------------------------
def test_tokenizer_splits_as_bm25s_does(cran):
    bm25s = pytest.importorskip("bm25s")
    tok = Tokenizer()
    texts = cran.doc_texts[:50] + cran.query_texts
    theirs = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    assert [tok.tokenize(t) for t in texts] == [list(x) for x in theirs]
    assert tok.stopwords == frozenset(bm25s.stopwords.STOPWORDS_EN)


def test_tokenizer_settings():
    assert Tokenizer().tokenize("The Boundary-Layer of a flow, x y") == ["boundary", "layer", "flow"]
    assert Tokenizer(min_length=1, stopwords=None).tokenize("a B c") == ["a", "b", "c"]
    assert Tokenizer(lowercase=False, stopwords=None).tokenize("Flow flow") == ["Flow", "flow"]
    assert Tokenizer(stopwords=["Flow"]).tokenize("flow over wings") == ["over", "wings"]
    stem = Tokenizer(stemmer=lambda w: w.rstrip("s"))
    assert stem.tokenize("wings and wing") == ["wing", "wing"]
    for tok in (Tokenizer(), Tokenizer(min_length=3, stopwords=None), Tokenizer(stopwords=["x", "y"])):
        again = Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
        assert again == tok and again.tokenize("x the y wings x") == tok.tokenize("x the y wings x")
    with pytest.raises(InputError, match="callable, which cannot be saved"):
        stem.to_dict()
    with pytest.raises(InputError, match="unknown stopword list 'klingon'"):
        Tokenizer(stopwords="klingon")
    with pytest.raises(InputError, match="min_length"):
        Tokenizer(min_length=0)
    with pytest.raises(InputError, match="text must be a str; got int"):
        Tokenizer().tokenize(3)


def test_a_named_stemmer_needs_pystemmer(monkeypatch):
    monkeypatch.setitem(sys.modules, "Stemmer", None)
    with pytest.raises(MissingDependencyError, match="pip install PyStemmer"):
        Tokenizer(stemmer="english")


# -- against bm25s and the formula -------------------------------------------------------
@pytest.mark.parametrize("k1,b", [(1.2, 0.75), (0.9, 0.4)])
def test_same_scores_and_top10_as_bm25s(cran, k1, b):
    bm25s, ret = _bm25s(cran.doc_texts, k1, b)
    ours = BM25(k1=k1, b=b).fit(cran.doc_texts)
    qtok = bm25s.tokenize(cran.query_texts, stopwords="en", return_ids=False, show_progress=False)
    found = ours.search(cran.query_texts, k=10)
    assert isinstance(found, Neighbors) and found.ids.shape == (len(cran.query_texts), 10)
    for i, q in enumerate(qtok):
        theirs = ret.get_scores(list(q))
        np.testing.assert_allclose(ours.get_scores(cran.query_texts[i]), theirs, rtol=1e-5, atol=1e-6)
        # bm25s's order, ties put on the lower row (ours): the same documents and scores
        want = np.lexsort((np.arange(len(theirs)), -theirs))[:10]
        assert found.ids[i].tolist() == want.tolist()
        np.testing.assert_allclose(found.scores[i], theirs[want], rtol=1e-5)


def test_scores_follow_the_formula_with_empty_documents():
    texts = ["wing wing flow", "", "flow over the plate", "plate plate plate wing", ""]
    k1, b = 1.5, 0.6
    idx = BM25(k1=k1, b=b).fit(texts)
    toks = [Tokenizer().tokenize(t) for t in texts]
    n, dl = len(texts), np.array([len(t) for t in toks], float)
    avgdl = dl.mean()                                  # empty documents count
    assert idx.info()["empty_documents"] == 2 and idx.avgdl == pytest.approx(avgdl)

    def oracle(terms):
        s = np.zeros(n)
        for t in terms:
            df = sum(t in d for d in toks)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for j, d in enumerate(toks):
                tf = d.count(t)
                if tf:
                    s[j] += idf * tf / (tf + k1 * (1 - b + b * dl[j] / avgdl))
        return s

    for q in (["wing"], ["plate", "wing"], ["flow", "flow"]):
        want = oracle(q)
        np.testing.assert_allclose(idx.get_scores(q), want, rtol=1e-6)
        got = idx.search_tokens([q], k=10)
        hits = np.flatnonzero(want > 0)
        order = hits[np.lexsort((hits, -want[hits]))]
        assert got.ids[0].tolist() == order.tolist()          # only documents holding a term


def test_ties_go_to_the_lower_row_and_fit_tokens_equals_fit():
    texts = ["alpha beta", "gamma", "alpha beta", "alpha beta", "delta"]
    idx = BM25().fit(texts, keys=["a", "b", "c", "d", "e"])
    found = idx.search("beta alpha", k=2)
    assert found.keys == [["a", "c"]] and found.scores[0, 0] == found.scores[0, 1]
    same = BM25().fit_tokens([Tokenizer().tokenize(t) for t in texts], keys=["a", "b", "c", "d", "e"])
    np.testing.assert_array_equal(same.scores, idx.scores)
    assert same.vocabulary == idx.vocabulary == sorted(idx.vocabulary)


def test_a_query_without_indexed_terms_comes_back_empty_with_a_reason(fitted):
    found = fitted.search(["the of and", "zzzqqq xyzzy", "boundary layer", ""], k=5)
    assert found.ids.shape == (4, 5)
    assert (found.ids[[0, 1, 3]] == -1).all() and np.isneginf(found.scores[[0, 1, 3]]).all()
    assert found.keys[0] == [] and found.pairs(1) == []
    assert "stopwords" in found.reasons[0]
    assert "'zzzqqq'" in found.reasons[1]
    assert found.reasons[2] is None and len(found.keys[2]) == 5
    assert found.reasons[3] == "the query is empty"
    alone = fitted.search("the", k=3)
    assert alone.ids.shape == (1, 0) and alone.reasons[0]


def test_a_row_shorter_than_k_is_padded_and_explained():
    idx = BM25().fit(["wing flow", "plate", "wing"])
    found = idx.search(["wing", "plate"], k=10)
    assert found.ids.shape == (2, 2)          # k is capped by the documents; columns by the longest row
    assert found.ids[1].tolist() == [1, -1] and found.keys[1] == [1]
    assert "only 1 of the 3 documents" in found.reasons[1]


def test_bad_input_is_named():
    with pytest.raises(InputError, match="no documents"):
        BM25().fit([])
    with pytest.raises(InputError, match="text 2 is int"):
        BM25().fit(["a doc", "another", 7])
    with pytest.raises(InputError, match="list of str"):
        BM25().fit("one long string")
    with pytest.raises(InputError, match="3 keys for 2 documents"):
        BM25().fit(["wing", "flow"], keys=["a", "b", "c"])
    with pytest.raises(DuplicateKeyError, match="'a' of document 2"):
        BM25().fit(["wing", "flow", "plate"], keys=["a", "b", "a"])
    with pytest.raises(InputError, match="key 1 is float"):
        BM25().fit(["wing", "flow"], keys=["a", 1.5])
    with pytest.raises(InputError, match="k1 must be a finite number >= 0"):
        BM25(k1=-1)
    with pytest.raises(InputError, match="b must be a finite number from 0 to 1"):
        BM25(b=1.5)
    with pytest.raises(InputError, match="call fit"):
        BM25().search("wing")
    idx = BM25().fit(["wing flow", "plate"])
    for k in (0, -3, True, 2.5):
        with pytest.raises(InputError, match="k must be an int >= 1"):
            idx.search("wing", k=k)
    assert idx.search("wing", k=10**12).ids.shape == (1, 1)        # huge k: every match
    with pytest.raises(InputError, match="query 1 is int"):
        idx.search(["wing", 3])
    with pytest.raises(InputError, match="document 1 holds int"):
        BM25().fit_tokens([["wing"], [1]])
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(idx)


# -- files --------------------------------------------------------------------------
def test_save_and_open_round_trip(tmp_path, fitted, cran):
    path = tmp_path / "cran.bm25"
    fitted.save(path)
    again = BM25.open(path)
    assert not again.scores.flags.writeable and not again.docs.flags.writeable   # read-only memory maps
    a, b = fitted.search(cran.query_texts, k=10), again.search(cran.query_texts, k=10)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.keys == b.keys and isinstance(b.keys[0][0], str)
    assert again.tokenizer == fitted.tokenizer and (again.k1, again.b) == (fitted.k1, fitted.b)
    assert again.info()["terms"] == fitted.n_terms
    assert verify_bm25(path)["ok"]


def test_opening_a_bm25_file_starts_no_compiler(tmp_path, fitted):
    path = tmp_path / "c.bm25"
    fitted.save(path)
    code = ("import sys\nfrom omnivec.search import BM25\nidx = BM25.open(sys.argv[1])\n"
            "print(len(idx), 'numba' in sys.modules)\n")
    assert run_python(code, path).split() == [str(len(fitted)), "False"]


def _table(keys, seed=0, texts=None):
    vecs = np.random.default_rng(seed).standard_normal((len(keys), 8)).astype(np.float32)
    return omnivec.Embeddings(list(keys), vecs, name="docs", texts=texts)


def test_a_table_index_beside_the_model_and_a_stale_one_refused(tmp_path, cran):
    model = tmp_path / "docs.ov"
    _table(cran.doc_ids).save(model)
    emb = omnivec.open(model)
    with pytest.raises(InputError, match="holds no texts"):
        BM25().fit_table(emb)
    with pytest.raises(InputError, match="3 texts for table 'docs' of 200 rows"):
        BM25().fit_table(emb, texts=["a", "b", "c"])
    idx = BM25().fit_table(emb, texts=cran.doc_texts)
    _table(cran.doc_ids, texts=cran.doc_texts).save(model)         # the same keys, now with their texts
    emb = omnivec.open(model)
    from_column = BM25().fit_table(emb)                             # the table's text column
    np.testing.assert_array_equal(from_column.scores, idx.scores)
    path = bm25_path(model)
    assert path == Path(f"{model}.bm25")
    idx.save(path)
    opened = BM25.open(path, emb)
    assert opened.search(cran.query_texts[0], k=3).keys == idx.search(cran.query_texts[0], k=3).keys
    # the model file is rewritten with other keys: the index beside it is stale
    _table([f"x{d}" for d in cran.doc_ids]).save(model)
    with pytest.raises(FormatError, match=r"stale.*keys differ") as err:
        BM25.open(path, omnivec.open(model))
    assert str(path) in str(err.value)
    report = verify_bm25(path)
    assert not report["ok"] and "stale" in report["problems"][0]
    _table(cran.doc_ids[:150]).save(model)
    with pytest.raises(FormatError, match="built over 200 documents but the table has 150 rows"):
        BM25.open(path, omnivec.open(model))
    # an index of the table's own texts is stale once those texts change, even with the same keys
    _table(cran.doc_ids, texts=cran.doc_texts).save(model)
    from_column.save(path)
    assert BM25.open(path, omnivec.open(model)).n_docs == 200
    _table(cran.doc_ids, texts=[t.upper() + " x" for t in cran.doc_texts]).save(model)
    with pytest.raises(FormatError, match="stale.*texts differ from those it indexed"):
        BM25.open(path, omnivec.open(model))
    idx.save(path)      # built from texts given apart from the table: tied to the keys only
    assert BM25.open(path, omnivec.open(model)).n_docs == 200


def test_damaged_files_are_refused_naming_the_file(tmp_path, fitted):
    path = tmp_path / "c.bm25"
    fitted.save(path)
    raw = bytearray(path.read_bytes())
    c = container.read(path)
    a, _ = c.entries["scores"]["data_offsets"]
    del c
    bad = tmp_path / "flipped.bm25"
    raw[8 + int.from_bytes(raw[:8], "little") + a + 5] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="scores.*CRC-32") as err:
        BM25.open(bad)
    assert str(bad) in str(err.value)
    report = verify_bm25(bad)
    assert not report["ok"] and "CRC-32" in report["problems"][0]
    short = tmp_path / "short.bm25"
    short.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(FormatError, match="truncated|after the last tensor|ends at byte") as err:
        BM25.open(short)
    assert str(short) in str(err.value)
    other = tmp_path / "model.ov"
    _table(["a", "b"]).save(other)
    with pytest.raises(FormatError, match="not an omnivec BM25 index file"):
        BM25.open(other)


def _rewrite(src, dst, change):
    """Write src's tensors and header again, after change(tensors, head): fresh, valid CRC-32s."""
    c = container.read(src)
    tensors = {k: np.array(v) for k, v in c.tensors.items()}
    head = json.loads(c.metadata[BM25_FORMAT])
    change(tensors, head)
    container.write(dst, tensors, {"format": BM25_FORMAT, BM25_FORMAT: json.dumps(head)})


@pytest.mark.parametrize("change,match", [
    (lambda t, h: t["docs"].__setitem__(3, 10_000), "names document 10000"),
    (lambda t, h: t["docs"].__setitem__(slice(0, 2), [5, 5]), "must increase"),
    (lambda t, h: t["scores"].__setitem__(7, np.nan), "finite and positive"),
    (lambda t, h: t["indptr"].__setitem__(2, t["indptr"][1]), "at least one document per term"),
    (lambda t, h: h.__setitem__("tokens", h["tokens"] + 1), "do not add up"),
    (lambda t, h: h.__setitem__("k1", -1), "k1 is -1"),
    (lambda t, h: h.__setitem__("tokenizer", {"stopwords": 5}), "tokenizer"),
])
def test_crafted_damage_with_valid_checksums_is_refused(tmp_path, fitted, change, match):
    path = tmp_path / "c.bm25"
    fitted.save(path)
    bad = tmp_path / "bad.bm25"
    _rewrite(path, bad, change)
    with pytest.raises(CorruptFileError, match=match) as err:
        read_bm25_file(bad)
    assert str(bad) in str(err.value) and "rebuild" in str(err.value)


def test_newer_format_versions_are_refused(tmp_path, fitted):
    path = tmp_path / "c.bm25"
    fitted.save(path)
    bad = tmp_path / "v9.bm25"
    _rewrite(path, bad, lambda t, h: h.__setitem__("version", 9))
    with pytest.raises(FormatError, match="version 9"):
        BM25.open(bad)


def test_the_threaded_kernel_answers_as_the_serial_one(fitted, cran):
    """Large batches run the threaded kernel (blocks of queries per thread): same answers."""
    from omnivec.search.bm25 import K

    lookup = fitted._term_lookup()
    toks = [[lookup[t] for t in fitted.tokenizer.tokenize(q) if t in lookup] for q in cran.query_texts * 3]
    qptr = np.zeros(len(toks) + 1, np.int64)
    np.cumsum([len(t) for t in toks], out=qptr[1:])
    qterms = np.array([t for q in toks for t in q], np.int64)
    outs = []
    for fn, blocks in ((K.bm25_topk_serial, 1), (K.bm25_topk, 7)):
        ids = np.full((len(toks), 10), -1, np.int64)
        sc = np.full((len(toks), 10), -np.inf, np.float32)
        n = np.zeros(len(toks), np.int64)
        fn(fitted.indptr, fitted.docs, fitted.scores, qptr, qterms, fitted.n_docs, blocks, ids, sc, n)
        outs.append((ids, sc, n))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(outs[0][0][:20], fitted.search(cran.query_texts, k=10).ids)
