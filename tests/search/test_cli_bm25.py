"""`omnivec index build MODEL --backend bm25` and `omnivec verify MODEL.bm25`, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.evaluate.ir import load_collection
from omnivec.search import BM25

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "bm25" / "cranfield"


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def cran():
    return load_collection(FIXTURE)


@pytest.fixture
def docs(tmp_path, cran):
    model = tmp_path / "docs.ov"
    vecs = np.random.default_rng(0).standard_normal((len(cran.doc_ids), 8)).astype(np.float32)
    omnivec.Embeddings(cran.doc_ids, vecs, name="docs").save(model)
    texts = tmp_path / "docs.txt"
    texts.write_text("".join(" ".join(t.split()) + "\n" for t in cran.doc_texts), encoding="utf-8")
    return model, texts


def test_build_and_verify(capsys, docs, cran):
    model, texts = docs
    code, out, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", texts,
                         "--k1", 0.9, "--b", 0.4, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["path"] == f"{model}.bm25" and info["documents"] == 200 and info["table"] == "docs"
    assert (info["k1"], info["b"]) == (0.9, 0.4)
    idx = BM25.open(info["path"], omnivec.open(model))
    want = BM25(k1=0.9, b=0.4).fit(cran.doc_texts, keys=cran.doc_ids).search(cran.query_texts, k=10)
    got = idx.search(cran.query_texts, k=10)
    assert got.keys == want.keys
    code, out, err = run(capsys, "verify", info["path"], "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["backend"] == "bm25" and report["model"] == str(model)
    code, out, err = run(capsys, "verify", info["path"])
    assert code == 0 and "posting lists" in out
    code, out, err = run(capsys, "index", "info", model, "--json")
    assert code == 0, err
    (head,) = json.loads(out)["indexes"]
    assert head["backend"] == "bm25" and head["n_docs"] == 200 and head["path"] == info["path"]
    code, out, err = run(capsys, "index", "info", info["path"])
    assert code == 0 and "bm25 index, 200 documents" in out


def test_build_over_the_tables_own_texts(capsys, tmp_path, cran):
    model = tmp_path / "with_texts.ov"
    vecs = np.random.default_rng(1).standard_normal((len(cran.doc_ids), 4)).astype(np.float32)
    omnivec.Embeddings(cran.doc_ids, vecs, name="docs", texts=cran.doc_texts).save(model)
    code, out, err = run(capsys, "index", "build", model, "--backend", "bm25", "--json")
    assert code == 0, err
    idx = BM25.open(json.loads(out)["path"], omnivec.open(model))
    want = BM25().fit(cran.doc_texts, keys=cran.doc_ids).search(cran.query_texts, k=10)
    assert idx.search(cran.query_texts, k=10).keys == want.keys


def test_verify_fails_on_a_damaged_index(capsys, docs):
    model, texts = docs
    assert run(capsys, "index", "build", model, "-b", "bm25", "--texts", texts)[0] == 0
    path = Path(f"{model}.bm25")
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x55
    path.write_bytes(bytes(raw))
    code, out, err = run(capsys, "verify", path)
    assert code == 1 and "CRC-32" in err and str(path) in err


def test_build_errors_are_one_line(capsys, docs, tmp_path):
    model, texts = docs
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25")
    assert code == 1 and "holds no texts" in err and len(err.strip().splitlines()) == 1
    short = tmp_path / "short.txt"
    short.write_text("one document\nanother\n", encoding="utf-8")
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", short)
    assert code == 1 and "2 lines for a table of 200 rows" in err
    code, _, err = run(capsys, "index", "build", model, "--backend", "hnsw", "--k1", 1.0)
    assert code == 1 and "--k1 applies to the bm25 backend" in err
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", texts, "--b", 3)
    assert code == 1 and "b must be a finite number from 0 to 1" in err
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", texts, "-p", "M=4")
    assert code == 1 and "unknown parameter 'M' for the bm25 index" in err
    assert not Path(f"{model}.bm25").exists()


def test_texts_from_a_corpus_file_are_matched_to_the_keys_by_id(capsys, docs, cran, tmp_path):
    model, _ = docs
    # a JSONL corpus in another order, texts with line breaks inside (one plain line per document cannot)
    order = np.random.default_rng(1).permutation(len(cran.doc_ids))
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": cran.doc_ids[i], "text": cran.doc_texts[i]}) + "\n"
                              for i in order), encoding="utf-8")
    code, out, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", corpus)
    assert code == 0, err
    got = BM25.open(f"{model}.bm25", omnivec.open(model)).search(cran.query_texts, k=10)
    assert got.keys == BM25().fit(cran.doc_texts, keys=cran.doc_ids).search(cran.query_texts, k=10).keys
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("id\ttext\nnot-a-key\tsome text\n", encoding="utf-8")
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", tsv)
    assert code == 1 and "line 2: document id 'not-a-key' is not a key of table 'docs'" in err
    tsv.write_text("id\ttext\n" + f"{cran.doc_ids[0]}\tsome text\n", encoding="utf-8")
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", tsv)
    assert code == 1 and "199 keys of table 'docs' have no text" in err
    tsv.write_text("id\ttext\n" + f"{cran.doc_ids[0]}\ta\n{cran.doc_ids[0]}\tb\n", encoding="utf-8")
    code, _, err = run(capsys, "index", "build", model, "--backend", "bm25", "--texts", tsv)
    assert code == 1 and "line 3" in err and "appears twice" in err
