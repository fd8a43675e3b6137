"""fastText .bin reading and writing, checked against vectors fastText itself computed.

The fixtures (tests/data/fasttext, made by make_fixture.py with Facebook's
fastText 0.9.2) hold two tiny real models and fastText's get_word_vector for
their words and for out-of-vocabulary probes, so these tests need neither
fastText nor gensim.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import (CorruptFileError, FormatError, InputError, KeyNotFound, OmnivecError,
                            ParseError, UnsupportedVersionError)
from omnivec.store.formats.fasttext_bin import read_fasttext_bin, write_fasttext_bin
from omnivec.core.ngrams import fasttext_hash, ngram_ids, ngram_ids_many, word_ngram_ids
from omnivec.core.subwords import Subwords

DATA = Path(__file__).resolve().parents[1] / "data" / "fasttext"
REF = json.loads((DATA / "reference.json").read_text(encoding="utf-8"))
MODELS = {"sg": ("wordnet_sg.bin", 3, 6, 2000), "sup": ("wordnet_sup.bin", 2, 4, 500)}


@pytest.fixture(scope="module", params=["sg", "sup"])
def model(request):
    tag = request.param
    emb, report = read_fasttext_bin(DATA / MODELS[tag][0])
    return tag, emb, report


def _reference(tag):
    r = REF[tag]
    return r["words"], r["n_known"], np.load(DATA / f"reference_{tag}.npy")


def _py_hash(b: bytes) -> int:
    # fastText's hash written out plainly: FNV-1a, each byte sign-extended from int8 first
    h = 2166136261
    for c in b:
        h ^= (c - 256 if c >= 128 else c) & 0xFFFFFFFF
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def test_hash_matches_plain_definition():
    for s in ["", "a", "<the>", "café", "日本語", "emoji🙂", "\x7f\x80"]:
        assert fasttext_hash(s.encode("utf-8")) == _py_hash(s.encode("utf-8"))
    assert fasttext_hash(bytes([0xFF])) != fasttext_hash(bytes([0x7F]))


@pytest.mark.parametrize("tag", ["sg", "sup"])
def test_ngram_ids_match_fasttext(tag):
    _, minn, maxn, bucket = MODELS[tag]
    nwords = REF[tag]["n_known"]
    for word, ids in REF[tag]["subword_ids"].items():
        if word == "</s>":
            continue  # in the vocabulary: fastText lists its own row, and no n-grams
        assert (ngram_ids(word, minn, maxn, bucket) + nwords).tolist() == ids, word
    assert word_ngram_ids("</s>", minn, maxn, bucket).size == 0


def test_ngram_ids_many_equals_one_by_one():
    words = ["the", "café", "", "</s>", "日本語", "x"]
    enc = [w.encode("utf-8") for w in words]
    blob = np.frombuffer(b"".join(enc), np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
    ids, off = ngram_ids_many(blob, offsets, 2, 5, 1000)
    for i, w in enumerate(words):
        assert ids[off[i]:off[i + 1]].tolist() == word_ngram_ids(w, 2, 5, 1000).tolist()
    with pytest.raises(InputError, match="bucket"):
        ngram_ids("abc", 3, 6, 0)


def test_vectors_equal_fasttext(model):
    tag, emb, _ = model
    words, n_known, ref = _reference(tag)
    assert list(emb.keys) == words[:n_known]
    np.testing.assert_allclose(emb[words[:n_known]], ref[:n_known], atol=1e-5, rtol=0)
    oov = np.stack([emb.vector(w, oov=True) for w in words[n_known:]])
    np.testing.assert_allclose(oov, ref[n_known:], atol=1e-5, rtol=0)


def test_counts_subwords_and_report(model):
    tag, emb, report = model
    _, minn, maxn, bucket = MODELS[tag]
    sw = emb.subwords
    assert (sw.minn, sw.maxn, sw.bucket) == (minn, maxn, bucket)
    assert sw.vectors.shape == (bucket, emb.dim) and sw.word_vectors.shape == (len(emb), emb.dim)
    assert emb.counts is not None and emb.counts[0] >= emb.counts[-1] > 0  # frequency-sorted
    assert sw.settings["labels"] == REF[tag]["labels"]
    assert sw.settings["model"] == ("supervised" if tag == "sup" else "skipgram")
    assert report.rows == len(emb) and report.dim == emb.dim and report.format == "fasttext-bin"


def test_oov_is_explicit(model):
    _, emb, _ = model
    with pytest.raises(KeyNotFound, match="oov=True"):
        emb["unknownword"]
    with pytest.raises(KeyNotFound):
        emb[["the", "unknownword"]]
    assert emb.vector("unknownword", oov=True).shape == (emb.dim,)
    both = emb.vectors_of(["the", "unknownword"], oov=True)
    np.testing.assert_array_equal(both[1], emb.vector("unknownword", oov=True))


def test_write_back_is_byte_identical(model, tmp_path):
    tag, emb, _ = model
    out = tmp_path / "back.bin"
    write_fasttext_bin(emb, out)
    assert out.read_bytes() == (DATA / MODELS[tag][0]).read_bytes()


def test_model_file_keeps_everything_for_write_back(model, tmp_path):
    tag, emb, _ = model
    words, n_known, ref = _reference(tag)
    path = tmp_path / "m.omnivec"
    emb.save(path)
    opened = omnivec.open(path, oov=True)
    np.testing.assert_allclose(opened["recieve"], ref[words.index("recieve")], atol=1e-5, rtol=0)
    with pytest.raises(KeyNotFound):
        omnivec.open(path, oov=False)["recieve"]
    # a model with subwords composes unknown words by default, as fastText's get_word_vector does
    np.testing.assert_array_equal(omnivec.open(path)["recieve"], opened["recieve"])
    write_fasttext_bin(opened, tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == (DATA / MODELS[tag][0]).read_bytes()


def test_table_without_word_rows_is_solved(model, tmp_path):
    # a table with subwords but without the words' own input rows (as a learner may keep it)
    tag, emb, _ = model
    sw = emb.subwords
    bare = emb.replace(subwords=Subwords(sw.minn, sw.maxn, sw.bucket, vectors=sw.vectors,
                                         settings=dict(sw.settings)))
    if tag == "sup":
        bare = bare.replace(subwords=Subwords(sw.minn, sw.maxn, sw.bucket, vectors=sw.vectors,
                                              output=sw.output, settings=dict(sw.settings)))
    write_fasttext_bin(bare, tmp_path / "solved.bin")
    back, _ = read_fasttext_bin(tmp_path / "solved.bin")
    np.testing.assert_allclose(back.vectors, emb.vectors, atol=1e-5, rtol=0)
    np.testing.assert_allclose(back.subwords.word_vectors, sw.word_vectors, atol=1e-4, rtol=0)


def test_compact_import_keeps_vectors_and_oov(model, tmp_path):
    tag, emb, _ = model
    small, _ = read_fasttext_bin(DATA / MODELS[tag][0], compact=True)
    assert small.subwords.word_vectors is None and small.subwords.output is None
    np.testing.assert_array_equal(small.vectors, emb.vectors)
    np.testing.assert_array_equal(small.vector("recieve", oov=True), emb.vector("recieve", oov=True))
    small.save(tmp_path / "small.omnivec")
    emb.save(tmp_path / "full.omnivec")
    assert (tmp_path / "small.omnivec").stat().st_size < (tmp_path / "full.omnivec").stat().st_size
    write_fasttext_bin(omnivec.load(tmp_path / "small.omnivec"), tmp_path / "small.bin")
    back, _ = read_fasttext_bin(tmp_path / "small.bin")
    np.testing.assert_allclose(back.vectors, emb.vectors, atol=1e-5, rtol=0)


def test_changed_vectors_win_over_stored_rows(tmp_path):
    emb, _ = read_fasttext_bin(DATA / MODELS["sg"][0])
    changed = emb.vectors * 2.0 + 0.25
    moved = emb.replace(store=omnivec.Embeddings(list(emb.keys), changed).store)
    write_fasttext_bin(moved, tmp_path / "moved.bin")
    back, _ = read_fasttext_bin(tmp_path / "moved.bin")
    np.testing.assert_allclose(back.vectors, changed, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(back.subwords.vectors, emb.subwords.vectors)


def test_table_without_subwords_round_trips(tmp_path, rng):
    emb = omnivec.Embeddings(["alpha", "beta", "γάμμα"], rng.standard_normal((3, 7)).astype(np.float32),
                             counts=[5, 3, 1])
    write_fasttext_bin(emb, tmp_path / "plain.bin")
    back, _ = read_fasttext_bin(tmp_path / "plain.bin")
    assert list(back.keys) == ["alpha", "beta", "γάμμα"]
    np.testing.assert_array_equal(back.vectors, emb.vectors)
    np.testing.assert_array_equal(back.counts, [5, 3, 1])
    assert back.subwords.bucket == 0
    assert not back.vector("unknown", oov=True).any()  # fastText: no n-grams, zero vector


def test_writer_refuses_what_fasttext_cannot_hold(tmp_path, rng):
    vecs = rng.standard_normal((2, 4)).astype(np.float32)
    with pytest.raises(InputError, match="string keys"):
        write_fasttext_bin(omnivec.Embeddings(np.array([3, 4]), vecs), tmp_path / "a.bin")
    with pytest.raises(InputError, match="NUL"):
        write_fasttext_bin(omnivec.Embeddings(["ok", "b\x00d"], vecs), tmp_path / "b.bin")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_written_file_loads_in_fasttext(model, tmp_path):
    fasttext = pytest.importorskip("fasttext")
    tag, emb, _ = model
    write_fasttext_bin(emb, tmp_path / "w.bin")
    ft = fasttext.load_model(str(tmp_path / "w.bin"))
    words, _, ref = _reference(tag)
    got = np.stack([ft.get_word_vector(w) for w in words])
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)


# -- bad input --------------------------------------------------------------------------------

def _bytes(tag="sg") -> bytes:
    return (DATA / MODELS[tag][0]).read_bytes()


def _write(tmp_path, data: bytes, name="bad.bin") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


DICT_START = 8 + 56 + 28      # magic+version, Args, dictionary header


def test_empty_and_foreign_files(tmp_path):
    with pytest.raises(FormatError, match="shorter than") as e:
        read_fasttext_bin(_write(tmp_path, b""))
    assert e.value.offset == 0
    with pytest.raises(FormatError, match="magic number"):
        read_fasttext_bin(_write(tmp_path, b"the 0.1 0.2\nof 0.3 0.4\n"))
    with pytest.raises(FormatError, match="cannot read"):
        read_fasttext_bin(tmp_path / "missing.bin")


def test_newer_and_older_versions(tmp_path):
    data = bytearray(_bytes())
    struct.pack_into("<i", data, 4, 13)
    with pytest.raises(UnsupportedVersionError, match="version 13") as e:
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    assert e.value.offset == 4
    struct.pack_into("<i", data, 4, 10)
    with pytest.raises(FormatError, match="too old"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))


@pytest.mark.parametrize("cut", [20, DICT_START - 3, DICT_START + 50, 30_000, 120_000, -5])
def test_truncated_file(tmp_path, cut):
    data = _bytes()
    with pytest.raises(CorruptFileError, match="truncated") as e:
        read_fasttext_bin(_write(tmp_path, data[:cut]))
    assert e.value.offset is not None and str(e.value.path).endswith("bad.bin")


def test_trailing_bytes(tmp_path):
    with pytest.raises(CorruptFileError, match="unexpected bytes") as e:
        read_fasttext_bin(_write(tmp_path, _bytes() + b"\x00" * 12))
    assert e.value.offset == len(_bytes())


def test_sizes_disagree(tmp_path):
    data = bytearray(_bytes())
    nsize, nwords = struct.unpack_from("<ii", data, 64)
    struct.pack_into("<i", data, 64 + 4, nwords - 1)          # nwords + nlabels != size
    with pytest.raises(CorruptFileError, match="dictionary sizes disagree"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    data = bytearray(_bytes())
    struct.pack_into("<i", data, 8 + 8 * 4, 1999)              # bucket: input matrix rows disagree
    with pytest.raises(CorruptFileError, match="input matrix is"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    data = bytearray(_bytes())
    struct.pack_into("<i", data, 8 + 8 * 4, 0)                 # bucket 0 with n-grams on
    with pytest.raises(CorruptFileError, match="need buckets"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    data = bytearray(_bytes())
    struct.pack_into("<i", data, 8, 11)                        # dim
    with pytest.raises(CorruptFileError):
        read_fasttext_bin(_write(tmp_path, bytes(data)))


def test_false_quantization_flags(tmp_path):
    emb, _ = read_fasttext_bin(DATA / MODELS["sg"][0])
    data = bytearray(_bytes())
    flag_at = len(data) - (emb.subwords.output.nbytes + 17) - (emb.subwords.vectors.nbytes
                                                                + emb.subwords.word_vectors.nbytes + 17)
    assert data[flag_at] == 0
    data[flag_at] = 1                                           # dense data read as quantized
    with pytest.raises(CorruptFileError, match="input matrix"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    data[flag_at] = 7
    with pytest.raises(CorruptFileError, match="must be 0 or 1") as e:
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    assert e.value.offset == flag_at
    data = bytearray(_bytes())
    struct.pack_into("<q", data, 8 + 56 + 20, 10)              # says pruned, but nothing is
    with pytest.raises(CorruptFileError, match="pruned"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))


# -- quantized (.ftz) models ---------------------------------------------------------------------

FTZ = {"sup_q": "wordnet_sup_q.ftz", "sup_cut": "wordnet_sup_cut.ftz"}


@pytest.mark.parametrize("tag", sorted(FTZ))
def test_quantized_vectors_equal_fasttext(tag, tmp_path):
    emb, report = read_fasttext_bin(DATA / FTZ[tag])
    words, n_known, ref = _reference(tag)
    assert list(emb.keys) == words[:n_known]
    np.testing.assert_allclose(emb[words[:n_known]], ref[:n_known], atol=1e-5, rtol=0)
    oov = np.stack([emb.vector(w, oov=True) for w in words[n_known:]])
    np.testing.assert_allclose(oov, ref[n_known:], atol=1e-5, rtol=0)
    assert any("quantized" in note for note in report.notes)
    # the model file keeps what OOV needs (the subword table, or the kept rows of a pruned model)
    emb.save(tmp_path / "q.omnivec")
    opened = omnivec.open(tmp_path / "q.omnivec", oov=True)
    np.testing.assert_allclose(opened.vectors_of(words[n_known:]), ref[n_known:], atol=1e-5, rtol=0)


def test_pruned_model_keeps_its_rows_as_extras():
    emb, report = read_fasttext_bin(DATA / FTZ["sup_cut"])
    assert emb.subwords is None and len(emb) < REF["sup"]["n_known"]
    ids, rows = emb.extras["fasttext_pruned_ids"], emb.extras["fasttext_pruned_rows"]
    assert len(ids) + len(emb) == 400 and rows.shape == (len(ids), emb.dim)
    assert np.all(np.diff(ids) > 0)
    assert any("pruned" in note for note in report.notes)


@pytest.mark.parametrize("tag", sorted(FTZ))
def test_quantized_model_exports_to_plain_bin(tag, tmp_path):
    emb, _ = read_fasttext_bin(DATA / FTZ[tag])
    write_fasttext_bin(emb, tmp_path / "plain.bin")
    back, _ = read_fasttext_bin(tmp_path / "plain.bin")
    assert not back.subwords.settings["quantized"]
    np.testing.assert_array_equal(back.vectors, emb.vectors)
    if tag == "sup_q":
        np.testing.assert_array_equal(back.vector("recieve", oov=True), emb.vector("recieve", oov=True))


@pytest.mark.parametrize("tag", sorted(FTZ))
def test_quantized_damage(tag, tmp_path):
    data = (DATA / FTZ[tag]).read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 300, len(data) - 1):
        with pytest.raises(CorruptFileError) as e:
            read_fasttext_bin(_write(tmp_path, data[:cut]))
        assert e.value.offset is not None
    rng = np.random.default_rng(11)
    for i in range(40):
        d = bytearray(data)
        for at in rng.integers(0, len(d), size=int(rng.integers(1, 6))):
            d[int(at)] = int(rng.integers(0, 256))
        try:
            emb, _ = read_fasttext_bin(_write(tmp_path, bytes(d), f"q{i}.ftz"))
            emb.vector("someunknownword", oov=True)
        except OmnivecError:
            pass


def test_bad_entries(tmp_path):
    data = bytearray(_bytes())
    first_nul = data.index(b"\x00", DICT_START)
    data[first_nul + 9] = 1                                     # entry 0 says label: words come first
    with pytest.raises(CorruptFileError, match="entry 0 has type 1"):
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    data = bytearray(_bytes())
    second = first_nul + 10
    data[second] = 0xFF                                         # not UTF-8
    with pytest.raises(ParseError, match="entry 1 is not valid UTF-8") as e:
        read_fasttext_bin(_write(tmp_path, bytes(data)))
    assert e.value.offset == second


def test_random_damage_gives_omnivec_errors_only(tmp_path):
    # bytes changed at random in the header and dictionary, or the file cut anywhere
    data = _bytes("sup")
    rng = np.random.default_rng(7)
    for i in range(60):
        d = bytearray(data)
        if i % 3 == 0:
            d = d[:int(rng.integers(0, len(d)))]
        else:
            for at in rng.integers(0, min(len(d), 12_000), size=int(rng.integers(1, 6))):
                d[int(at)] = int(rng.integers(0, 256))
        p = _write(tmp_path, bytes(d), f"r{i}.bin")
        try:
            emb, _ = read_fasttext_bin(p)
        except OmnivecError:
            continue
        assert emb.vectors.shape[1] == emb.dim


def test_row_options_are_refused_and_nan_names_the_file(tmp_path):
    src = DATA / MODELS["sg"][0]
    with pytest.raises(InputError, match="max_rows does not apply"):
        omnivec.import_vectors(src, format="fasttext-bin", max_rows=10)
    with pytest.raises(InputError, match="nan='zero' does not apply"):
        omnivec.import_vectors(src, format="fasttext-bin", nan="zero")
    emb, _ = read_fasttext_bin(src)
    d, sw = emb.dim, emb.subwords
    data = bytearray(_bytes())
    in_end = len(data) - (1 + 16 + sw.output.shape[0] * d * 4)     # the output matrix closes the file
    in_start = in_end - (len(emb) + sw.bucket) * d * 4            # word rows, then n-gram buckets
    data[in_start:in_start + 4] = struct.pack("<f", float("nan"))  # word 0's own row
    bad = _write(tmp_path, bytes(data))
    with pytest.raises(CorruptFileError, match="NaN") as e:
        omnivec.import_vectors(bad, format="fasttext-bin")
    assert e.value.path is not None and "bad.bin" in str(e.value)
