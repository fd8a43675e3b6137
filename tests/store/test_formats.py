"""Importers and exporters: every format round-trips, detection by content, exact float parsing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError, MissingDependencyError, UnknownNameError
from omnivec.store.formats import _parse_kernels as P
from omnivec.store.formats import rows as R
from omnivec.store import formats as F
from omnivec.store.formats import (FORMATS, ImportReport, detect_format, export_vectors, from_gensim,
                                   import_vectors, to_gensim)
from omnivec.store.model import verify

DATA = Path(__file__).parent.parent / "data" / "vectors"
W2V = DATA / "glove6b50d_top300.w2v.txt"


def reference(path: Path = W2V) -> tuple[list[str], np.ndarray]:
    """The fixture parsed the slow, obvious way: Python float() rounded to float32."""
    lines = path.read_text("utf-8").splitlines()
    keys, rows = [], []
    for line in lines[1:]:
        parts = line.rstrip().split(" ")
        keys.append(parts[0])
        rows.append([float(x) for x in parts[1:]])
    return keys, np.array(rows, np.float64).astype(np.float32)


@pytest.fixture(scope="module")
def ref():
    return reference()


@pytest.fixture
def glove(tmp_path):
    p = tmp_path / "vectors.txt"
    p.write_text("".join(W2V.read_text("utf-8").splitlines(keepends=True)[1:]), "utf-8")
    return p


def test_word2vec_text_matches_python_float(ref):
    keys, vecs = ref
    emb, report = import_vectors(W2V)
    assert list(emb.keys) == keys
    assert np.array_equal(emb.vectors, vecs)
    assert report.format == "word2vec-text"
    assert (report.rows, report.dim, report.header_rows) == (len(keys), vecs.shape[1], len(keys))
    assert report.lines_read == len(keys) + 1
    assert report.bytes_read == W2V.stat().st_size
    assert emb.metric == "cosine" and emb.storage == "float32"


def test_glove_without_header(glove, ref):
    keys, vecs = ref
    assert detect_format(glove) == "glove"
    emb, report = import_vectors(glove)
    assert report.format == "glove" and report.header_rows is None
    assert list(emb.keys) == keys and np.array_equal(emb.vectors, vecs)


def test_gzip_input_is_read_transparently(tmp_path, ref):
    p = tmp_path / "v.txt.gz"
    p.write_bytes(gzip.compress(W2V.read_bytes()))
    assert detect_format(p) == "word2vec-text"
    emb, _ = import_vectors(p)
    assert list(emb.keys) == ref[0] and np.array_equal(emb.vectors, ref[1])


def test_small_chunks_cross_line_boundaries(monkeypatch, glove, ref):
    # Chunks far smaller than a line and batches of a few lines exercise the partial-line carry-over.
    # A 100-byte chunk is shorter than any line: the read buffer has to grow.
    for chunk, batch in ((1000, 7), (100, 3)):
        monkeypatch.setattr(R, "CHUNK", chunk)
        monkeypatch.setattr(R, "BATCH_LINES", batch)
        for path in (W2V, glove):
            emb, report = import_vectors(path)
            assert list(emb.keys) == ref[0] and np.array_equal(emb.vectors, ref[1])


def test_small_chunks_binary(monkeypatch, tmp_path, ref):
    emb, _ = import_vectors(W2V)
    p = tmp_path / "v.bin"
    export_vectors(emb, p, "word2vec-binary")
    monkeypatch.setattr(R, "CHUNK", 333)
    back, report = import_vectors(p)
    assert report.format == "word2vec-binary"
    assert list(back.keys) == ref[0] and np.array_equal(back.vectors, ref[1])


def test_import_to_model_file(tmp_path, ref):
    dst = tmp_path / "model.omv"
    emb, report = import_vectors(W2V, dst, storage="int8", metric="dot")
    assert emb.source == str(dst) and report.dst == str(dst)
    assert emb.storage == "int8" and emb.metric == "dot"
    assert verify(dst) == []
    again = omnivec.load(dst)
    assert list(again.keys) == ref[0]
    assert np.allclose(again.vectors, ref[1], atol=np.abs(ref[1]).max() / 127)
    assert again.meta["source"]["format"] == "word2vec-text"
    assert [p.name for p in tmp_path.iterdir()] == ["model.omv"]


def test_max_rows(glove, ref):
    for path in (W2V, glove):
        emb, report = import_vectors(path, max_rows=17)
        assert len(emb) == 17 and report.max_rows_reached
        assert list(emb.keys) == ref[0][:17]
        assert any("max_rows" in line for line in report.lines())


def test_blank_lines_are_counted(tmp_path, ref):
    lines = W2V.read_text("utf-8").splitlines(keepends=True)
    p = tmp_path / "blank.txt"
    p.write_text(lines[0] + lines[1] + "\n   \n" + "".join(lines[2:]) + "\n\n", "utf-8")
    emb, report = import_vectors(p)
    assert report.blank_lines == 4
    assert list(emb.keys) == ref[0]


def test_crlf_trailing_blanks_and_bom(tmp_path, ref):
    lines = W2V.read_text("utf-8").splitlines()
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"\xef\xbb\xbf" + "".join(l + " \r\n" for l in lines).encode("utf-8"))
    emb, _ = import_vectors(p)
    assert list(emb.keys) == ref[0] and np.array_equal(emb.vectors, ref[1])


WRITABLE = [name for name, spec in FORMATS.items() if spec.writer is not None and name != "fasttext-bin"]


@pytest.mark.parametrize("fmt", WRITABLE)
def test_every_format_round_trips(tmp_path, fmt, ref):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    emb, _ = import_vectors(W2V)
    ext = {"npy": ".npy", "parquet": ".parquet", "omnivec": ".omv", "word2vec-binary": ".bin",
           "fasttext-vec": ".vec"}.get(fmt, ".txt")
    p = tmp_path / f"out{ext}"
    export_vectors(emb, p, fmt)
    assert detect_format(p) == fmt
    back, report = import_vectors(p)
    assert report.format == fmt
    assert list(back.keys) == ref[0]
    assert np.array_equal(back.vectors, ref[1])
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


def test_export_decodes_other_storage(tmp_path, ref):
    emb, _ = import_vectors(W2V, storage="float16")
    p = tmp_path / "f16.txt"
    export_vectors(emb, p, "glove")
    back, _ = import_vectors(p)
    assert np.array_equal(back.vectors, ref[1].astype(np.float16).astype(np.float32))


def test_export_format_from_extension(tmp_path):
    emb, _ = import_vectors(W2V, max_rows=5)
    for name, fmt in (("a.vec", "fasttext-vec"), ("a.bin", "word2vec-binary"), ("a.npy", "npy"),
                      ("a.txt", "word2vec-text")):
        export_vectors(emb, tmp_path / name)
        assert detect_format(tmp_path / name) == fmt
    with pytest.raises(InputError, match="cannot tell the format"):
        export_vectors(emb, tmp_path / "a.weird")


def test_text_export_refuses_keys_with_blanks(tmp_path):
    emb = omnivec.Embeddings(["new york", "b"], np.ones((2, 3), np.float32))
    with pytest.raises(InputError, match="new york"):
        export_vectors(emb, tmp_path / "x.txt", "word2vec-text")
    assert list(tmp_path.iterdir()) == []
    export_vectors(emb, tmp_path / "x.npy", "npy")      # a keys file holds one key per line: blanks are fine
    assert list(import_vectors(tmp_path / "x.npy")[0].keys) == ["new york", "b"]
    broken = omnivec.Embeddings(["a", "two\nlines"], np.ones((2, 3), np.float32))
    with pytest.raises(InputError, match="line break"):
        export_vectors(broken, tmp_path / "y.npy", "npy")


def test_int_keys_in_parquet_round_trip(tmp_path, rng):
    pytest.importorskip("pyarrow")
    emb = omnivec.Embeddings(np.arange(100, 150), rng.standard_normal((50, 8)).astype(np.float32))
    p = tmp_path / "ids.parquet"
    export_vectors(emb, p, "parquet")
    back, _ = import_vectors(p)
    assert back.keys.kind == "int" and list(back.keys) == list(range(100, 150))
    assert np.array_equal(back.vectors, emb.vectors)


def test_parquet_one_column_per_dimension(tmp_path, ref):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    keys, vecs = ref
    cols = {"word": pa.array(keys)} | {f"d{j}": pa.array(vecs[:, j].astype(np.float64)) for j in range(vecs.shape[1])}
    p = tmp_path / "wide.parquet"
    pq.write_table(pa.table(cols), p, row_group_size=100)
    emb, report = import_vectors(p)
    assert list(emb.keys) == keys and np.array_equal(emb.vectors, vecs)
    lists = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"token": pa.array(keys), "emb": pa.array(vecs.astype(np.float64).tolist())}), lists)
    emb2, _ = import_vectors(lists)
    assert np.array_equal(emb2.vectors, vecs)


def test_npy_with_keys_file(tmp_path, ref):
    keys, vecs = ref
    np.save(tmp_path / "v.npy", vecs.astype(np.float64))
    (tmp_path / "v.keys.txt").write_text("\n".join(keys) + "\n", "utf-8")
    emb, report = import_vectors(tmp_path / "v.npy")
    assert list(emb.keys) == keys and np.array_equal(emb.vectors, vecs)
    (tmp_path / "words.txt").write_text("\r\n".join(keys), "utf-8")
    emb2, _ = import_vectors(tmp_path / "v.npy", keys_file=tmp_path / "words.txt")
    assert list(emb2.keys) == keys


def test_gensim_objects_round_trip(ref):
    gensim_models = pytest.importorskip("gensim.models")
    keys, vecs = ref
    kv = gensim_models.KeyedVectors(vecs.shape[1])
    kv.add_vectors(keys, vecs)
    for i, k in enumerate(keys):
        kv.set_vecattr(k, "count", 1000 - i)
    emb = from_gensim(kv)
    assert list(emb.keys) == keys and np.array_equal(emb.vectors, vecs)
    assert emb.counts[0] == 1000
    back = to_gensim(emb)
    assert back.index_to_key == keys and np.array_equal(back.vectors, vecs)
    assert back.get_vecattr(keys[3], "count") == 997
    assert [k for k, _ in back.most_similar(keys[5], topn=5)] == [k for k, _ in emb.most_similar(keys[5], topn=5)]


def test_from_gensim_checks_its_argument():
    with pytest.raises(InputError, match="KeyedVectors"):
        from_gensim({"a": [1.0]})


def test_to_gensim_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gensim.models", None)   # import fails as if not installed
    emb = omnivec.Embeddings(["a"], np.ones((1, 2), np.float32))
    with pytest.raises(MissingDependencyError, match=r"omnivec\[gensim\]"):
        to_gensim(emb)


def test_registry_names_and_aliases():
    assert FORMATS.canonical("w2v") == "word2vec-text"
    assert FORMATS.canonical("GloVe") == "glove"
    assert FORMATS.canonical("vec") == "fasttext-vec"
    assert FORMATS.canonical("word2vec_binary") == "word2vec-binary"
    assert FORMATS.canonical("bin") == "word2vec-binary"
    with pytest.raises(UnknownNameError, match="word2vec-text"):
        FORMATS.get("csv")


def test_bin_is_decided_by_content(tmp_path):
    emb, _ = import_vectors(W2V, max_rows=3)
    p = tmp_path / "model.bin"
    export_vectors(emb, p, "bin")
    assert detect_format(p) == "word2vec-binary"
    ft = tmp_path / "ft.bin"
    ft.write_bytes(np.array([793712314, 12], "<i4").tobytes() + bytes(64))
    assert detect_format(ft) == "fasttext-bin"
    back, report = import_vectors(p, format="fasttext-bin")   # the content wins within the .bin family
    assert report.format == "word2vec-binary" and len(back) == 3


def test_report_lines_and_json(tmp_path):
    text = "3 2\na 1 2\nb nan 1\na 3 4\n"
    p = tmp_path / "r.txt"
    p.write_text(text)
    emb, report = import_vectors(p, nan="skip")
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["duplicates"] == 1 and d["nan_rows"] == 1 and d["first_nan_line"] == 3
    assert d["first_duplicate_line"] == 4 and d["first_duplicate_key"] == "a"
    assert isinstance(report, ImportReport)
    text_lines = "\n".join(report.lines())
    assert "duplicate" in text_lines and "NaN" in text_lines and "line 4" in text_lines


def test_progress_bar_does_not_break_import(capsys):
    emb, _ = import_vectors(W2V, progress=True)
    assert len(emb) == 300


def test_bad_options_list_the_valid_choices():
    with pytest.raises(UnknownNameError, match="skip"):
        import_vectors(W2V, nan="ignore")
    with pytest.raises(UnknownNameError, match="first"):
        import_vectors(W2V, on_duplicate="last")
    with pytest.raises(UnknownNameError):
        import_vectors(W2V, storage="float8")
    with pytest.raises(InputError):
        import_vectors(W2V, max_rows=0)


# -- float parsing and formatting ---------------------------------------------------

def _random_float32s(rng, n):
    bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    specials = np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38,
                         0.1, 1e-5, 1e8, 123456789.0, 16777216.0, 16777217.0], np.float32)
    return np.concatenate([x, rng.standard_normal(n).astype(np.float32),
                           (rng.standard_normal(n) * 1e-3).astype(np.float32), specials])


def test_written_floats_read_back_exactly_in_python_and_omnivec(rng):
    xs = _random_float32s(rng, 20000)
    vec = xs.reshape(-1, 1)
    out = np.empty(len(xs) * 40, np.uint8)
    lengths = np.empty(len(xs), np.int64)
    blob = np.frombuffer(b"k" * len(xs), np.uint8)
    offsets = np.arange(len(xs) + 1, dtype=np.int64)
    P.format_rows(vec, blob, offsets, 0, 40, out, lengths)
    n = P.pack_slots(out, 40, lengths)
    text = out[:n].tobytes().decode("ascii").splitlines()
    tokens = [line.split(" ")[1] for line in text]
    python = np.array([float(t) for t in tokens], np.float64).astype(np.float32)
    assert np.array_equal(python.view(np.uint32), xs.view(np.uint32))
    ours = np.array([P.parse_one(np.frombuffer(t.encode(), np.uint8))[0] for t in tokens], np.float32)
    assert np.array_equal(ours.view(np.uint32), xs.view(np.uint32))
    # Shortest form: never longer than numpy's own shortest repr of the same float32 by more
    # than the notation difference (positional vs exponent), and usually as short.
    numpy_len = np.array([len(np.format_float_scientific(x, unique=True, trim="-")) for x in xs[:2000]])
    ours_len = np.array([len(t) for t in tokens[:2000]])
    assert np.median(ours_len - numpy_len) <= 0


def test_parse_matches_python_float_on_many_spellings(rng):
    xs = rng.standard_normal(3000) * 10.0 ** rng.integers(-40, 39, 3000)
    strings = [repr(float(x)) for x in xs] + [f"{x:.3e}" for x in xs[:500]] + [f"{x:.12f}" for x in xs[:500]]
    strings += ["1", "-0", "+1.5", ".5", "5.", "1E5", "1e+05", "-1.0e-3", "NaN", "-inf", "Infinity",
                "0.000000000000000000000000000000000000000000001", "1e39", "-1e-50",
                "123456789012345678901234567890", "0.1234567890123456789012345"]
    for s in strings:
        v, ok = P.parse_one(np.frombuffer(s.encode(), np.uint8))
        with np.errstate(over="ignore"):
            want = np.float32(float(s))
        assert ok, s
        assert (v == want) or (np.isnan(v) and np.isnan(want)), (s, v, want)
        if v == 0:
            assert np.signbit(v) == np.signbit(want), s


@pytest.mark.parametrize("bad", ["", "-", "1e", "1e+", "abc", ".", "+.e5", "1_0", "0x10"])
def test_parse_rejects_non_numbers(bad):
    v, ok = P.parse_one(np.frombuffer(bad.encode(), np.uint8))
    assert not ok


GENSIM_FILES = [("euclidean_vectors.bin", "word2vec-binary"), ("poincare_vectors.bin", "word2vec-binary"),
                ("high_precision.kv.txt", "word2vec-text"), ("lee_fasttext.vec", "fasttext-vec"),
                ("test_glove.txt", "glove")]


@pytest.mark.parametrize("name,fmt", GENSIM_FILES)
def test_files_written_by_other_tools_match_gensim(name, fmt):
    # Real files from gensim's own test data, read by gensim's loader as the oracle.
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    path = Path(gensim.__file__).parent / "test" / "test_data" / name
    if not path.exists():
        pytest.skip(f"this gensim wheel has no {name}")
    assert detect_format(path) == fmt
    emb, _ = import_vectors(path)
    kv = KeyedVectors.load_word2vec_format(path, binary=fmt.endswith("binary"), no_header=fmt == "glove")
    assert list(emb.keys) == kv.index_to_key
    assert np.array_equal(emb.vectors, kv.vectors)


def test_gensim_native_file_is_refused(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(4)
    kv.add_vectors(["a", "b"], np.ones((2, 4), np.float32))
    kv.save(str(tmp_path / "native.kv"))
    from omnivec.errors import FormatError

    with pytest.raises(FormatError, match="from_gensim"):
        import_vectors(tmp_path / "native.kv")


@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "binary"])
def test_streamed_model_file_equals_the_core_writer(tmp_path, storage):
    # An import with a destination streams rows through a raw file; the model file it
    # writes must be the one Embeddings.save writes for the same table, byte for byte.
    lines = W2V.read_text("utf-8").splitlines(keepends=True)
    src = tmp_path / "src"
    src.mkdir()
    text = src / "dups.txt"
    text.write_text("".join(lines[1:40]) + lines[5] + "x nan" + " 1" * 49 + "\n" + "".join(lines[40:]))
    emb, _ = import_vectors(W2V)
    sources = [text, src / "v.bin", src / "v.npy"]
    export_vectors(emb, src / "v.bin", "word2vec-binary")
    export_vectors(emb, src / "v.npy", "npy")
    try:
        import pyarrow  # noqa: F401

        export_vectors(emb, src / "v.parquet", "parquet")
        sources.append(src / "v.parquet")
    except ImportError:
        pass
    out = tmp_path / "out"
    out.mkdir()
    for path in sources:
        streamed, report = import_vectors(path, out / "s.omv", storage=storage, nan="skip")
        in_memory, _ = import_vectors(path, storage=storage, nan="skip")
        assert len(streamed) == len(in_memory) == 300
        in_memory.replace(meta=streamed.meta).save(out / "m.omv")
        assert (out / "s.omv").read_bytes() == (out / "m.omv").read_bytes(), path.name
        assert verify(out / "s.omv") == []
        assert sorted(p.name for p in out.iterdir()) == ["m.omv", "s.omv"]


def test_thread_count_does_not_change_the_result(ref, monkeypatch):
    monkeypatch.setattr(R, "PARALLEL_MIN_LINES", 8)
    one, _ = import_vectors(W2V, workers=1)
    two, _ = import_vectors(W2V, workers=2)
    assert np.array_equal(one.vectors, ref[1]) and np.array_equal(two.vectors, ref[1])
    with pytest.raises(InputError, match="workers"):
        import_vectors(W2V, workers=0)


def test_utf8_check_agrees_with_python(rng):
    samples = ["plain", "café", "日本語", "😀x", ""] + [bytes(rng.integers(0, 256, rng.integers(1, 6), dtype=np.uint8))
                                                  for _ in range(3000)]
    raw = [s.encode("utf-8") if isinstance(s, str) else s for s in samples]
    raw += [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xf0\x9f\x98"]   # surrogate, overlong, too big, cut
    offsets = np.zeros(len(raw) + 1, np.int64)
    np.cumsum([len(b) for b in raw], out=offsets[1:])
    blob = np.frombuffer(b"".join(raw), np.uint8)
    bad = np.zeros(len(raw), np.bool_)
    P.utf8_bad_rows(blob, offsets, bad)

    def invalid(b):
        try:
            b.decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True

    assert bad.tolist() == [invalid(b) for b in raw]
