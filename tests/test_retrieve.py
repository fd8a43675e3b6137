"""Text retrieval over a document table: dense, BM25 and hybrid through one Retriever and `omnivec search`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import FormatError, InputError, UnknownNameError
from omnivec.evaluate.ir import load_collection
from omnivec.retrieve import Retriever, search_file
from omnivec.search import BM25
from omnivec.search.fusion import convex, rrf

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def col():
    return load_collection(DATA / "ir" / "cranfield")


class BagEncoder:
    """A small deterministic encoder: each word hashes to a fixed random vector; a text is their mean."""

    dim = 32

    def __init__(self):
        self.calls = []

    def _word(self, w):
        rng = np.random.default_rng(sum(w.encode()) * 7919 + len(w))
        return rng.standard_normal(self.dim)

    def encode(self, texts, kind=None):
        self.calls.append(kind)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            words = t.lower().split()
            if words:
                out[i] = np.mean([self._word(w) for w in words], axis=0)
            n = np.linalg.norm(out[i])
            out[i] /= n if n else 1.0
        return out


@pytest.fixture(scope="module")
def docs(col):
    enc = BagEncoder()
    return omnivec.Embeddings(list(col.doc_ids), enc.encode(list(col.doc_texts)), name="docs",
                              texts=list(col.doc_texts))


@pytest.fixture(scope="module")
def retriever(docs):
    return Retriever(docs, encoder=BagEncoder(), bm25=BM25().fit_table(docs))


def test_hybrid_is_the_default_and_fuses_the_two_lists(retriever, col):
    queries = list(col.query_texts)
    assert retriever.modes == ("dense", "bm25", "hybrid")
    got = retriever.search(queries, k=5)
    depth = len(retriever.docs)
    dense = retriever.search(queries, k=depth, mode="dense")
    sparse = retriever.search(queries, k=depth, mode="bm25")
    want = rrf([dense, sparse], k=5)
    assert got.keys == want.keys
    np.testing.assert_allclose(got.scores, want.scores)
    conv = retriever.search(queries, k=5, fusion="convex", alpha=0.3)
    assert conv.keys == convex([dense, sparse], alpha=0.3, k=5).keys


def test_dense_mode_embeds_queries_as_queries_and_matches_table_search(retriever, docs, col):
    enc = retriever.encoder
    got = retriever.search(col.query_texts[0], k=4, mode="dense")
    assert enc.calls[-1] == "query"
    want = docs.search(enc.encode([col.query_texts[0]]), 4)
    assert got.keys == want.keys
    assert got.ids.shape == (1, 4)


def test_bm25_mode_answers_as_the_index(retriever, col):
    got = retriever.search(list(col.query_texts), k=3, mode="bm25")
    assert got.keys == retriever.bm25.search(list(col.query_texts), 3).keys


def test_a_query_of_unknown_words_gets_no_documents_and_a_reason(retriever):
    hits = retriever.search("zzzqx qqqwy", k=5, mode="bm25")
    assert hits.pairs(0) == []
    report = retriever.report("zzzqx qqqwy", hits)
    assert report[0]["hits"] == [] and "zzzqx" in report[0]["reason"]


def test_the_reranker_reorders_the_fused_candidates(docs, col):
    def by_length(pairs):          # prefers the longest document
        return [float(len(text)) for _, text in pairs]

    r = Retriever(docs, encoder=BagEncoder(), bm25=BM25().fit_table(docs), reranker=by_length)
    hits = r.search(col.query_texts[0], k=3, candidates=len(docs))
    lengths = [len(docs.text(key)) for key in hits.keys[0]]
    assert lengths == sorted(lengths, reverse=True)
    assert lengths[0] == max(len(t) for t in col.doc_texts)


def test_modes_it_cannot_answer_and_bad_arguments_are_clear(docs, retriever):
    only_bm25 = Retriever(docs, bm25=BM25().fit_table(docs))
    assert only_bm25.modes == ("bm25",)
    with pytest.raises(InputError, match="dense search needs a query encoder"):
        only_bm25.search("wing", mode="dense")
    with pytest.raises(InputError, match="neither a query encoder nor a BM25 index"):
        Retriever(docs)
    with pytest.raises(UnknownNameError, match="valid names are: auto, dense, bm25, hybrid"):
        retriever.search("wing", mode="sparse")
    with pytest.raises(UnknownNameError, match="fusion"):
        retriever.search("wing", fusion="max")
    with pytest.raises(InputError, match="k must be"):
        retriever.search("wing", k=0)
    with pytest.raises(InputError, match="no queries"):
        retriever.search([])
    with pytest.raises(InputError, match="query 1 is a int"):
        retriever.search(["wing", 3])
    with pytest.raises(InputError, match="covers 3 documents"):
        Retriever(docs, bm25=BM25().fit(["a b", "c d", "e f"]))


@pytest.fixture(scope="module")
def docs_file(tmp_path_factory, col):
    """The fixture collection written by `omnivec encode` (all-MiniLM-L6-v2) with a BM25 index beside it."""
    pytest.importorskip("sentence_transformers")
    from omnivec.cli import main

    tmp = tmp_path_factory.mktemp("retrieve")
    with open(tmp / "docs.tsv", "w", encoding="utf-8") as fh:
        for key, text in zip(col.doc_ids, col.doc_texts):
            fh.write(f"{key}\t{text}\n")
    path = tmp / "docs.ov"
    assert main(["encode", "all-MiniLM-L6-v2", str(tmp / "docs.tsv"), "-o", str(path), "--keep-empty"]) == 0
    return path


def test_a_file_written_by_omnivec_encode_is_searched_by_text(docs_file, col, capsys):
    from omnivec.cli import main

    # without a BM25 index: dense only, queries embedded by the encoder the file records
    res = search_file(docs_file, col.query_texts[0], k=3)
    assert res["mode"] == "dense" and len(res["results"][0]["hits"]) == 3
    with pytest.raises(InputError, match="build one with `omnivec index build"):
        search_file(docs_file, "wing", mode="bm25")
    assert main(["index", "build", str(docs_file), "--backend", "bm25"]) == 0
    capsys.readouterr()
    assert main(["search", str(docs_file), col.query_texts[0], "slipstream", "-k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "hybrid" and out["fusion"] == "rrf"
    assert [r["query"] for r in out["results"]] == [col.query_texts[0], "slipstream"]
    first = out["results"][1]["hits"][0]
    assert "slipstream" in first["text"] and first["key"] in col.doc_ids
    r = Retriever.open(docs_file)
    assert r.modes == ("dense", "bm25", "hybrid")
    dense = r.search(col.query_texts[0], k=len(col.doc_ids), mode="dense")
    sparse = r.search(col.query_texts[0], k=len(col.doc_ids), mode="bm25")
    assert [h["key"] for h in out["results"][0]["hits"]] == rrf([dense, sparse], k=4).keys[0]


def test_cli_refuses_two_modes_and_a_table_without_encoder_or_index(docs_file, docs, tmp_path, capsys):
    from omnivec.cli import main

    assert main(["search", str(docs_file), "wing", "--dense", "--bm25"]) == 1
    assert "at most one of --hybrid, --dense, --bm25" in capsys.readouterr().err
    bare = tmp_path / "bare.ov"
    omnivec.save(bare, docs)
    with pytest.raises(FormatError, match="records no encoder and has no BM25 index"):
        Retriever.open(bare)
    assert Retriever.open(bare, encoder=BagEncoder()).modes == ("dense",)
