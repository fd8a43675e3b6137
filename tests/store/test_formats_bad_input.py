"""Bad input to the importers: each a clear error naming file and line or byte offset, no output left."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import os

import numpy as np
import pytest

from omnivec.errors import FormatError, OmnivecError, ParseError
from omnivec.store import formats as F
from omnivec.store.formats import export_vectors, import_vectors

DATA = Path(__file__).parent.parent / "data" / "vectors"
W2V = DATA / "glove6b50d_top300.w2v.txt"


@pytest.fixture
def lines():
    """The fixture's lines (header first), each ending in '\\n'."""
    return W2V.read_text("utf-8").splitlines(keepends=True)


def write(tmp_path, name, data) -> Path:
    p = tmp_path / "in" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else "".join(data).encode("utf-8"))
    return p


def fails(tmp_path, src, exc=ParseError, **kw):
    """Import src to a model file; assert exc is raised and no output (or temporary) file remains."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    with pytest.raises(exc) as info:
        import_vectors(src, out / "model.omv", **kw)
    assert list(out.iterdir()) == [], "a failed import left a file behind"
    assert str(src) in str(info.value)
    return info.value


def offset_of(lines, line_index, column=0) -> int:
    return sum(len(l.encode("utf-8")) for l in lines[:line_index]) + column


# -- truncation and header disagreements ------------------------------------------------

def test_truncated_text_fewer_rows_than_header(tmp_path, lines):
    src = write(tmp_path, "cut.txt", lines[:101])
    err = fails(tmp_path, src)
    assert "announces 300 rows" in str(err) and "100" in str(err)


def test_truncated_text_mid_line(tmp_path, lines):
    cut = lines[:51] + [lines[51][:lines[51].rindex(" ", 0, 40)]]
    src = write(tmp_path, "cut.txt", cut)
    err = fails(tmp_path, src)
    assert err.line == 52 and "expected 50 values" in str(err) and "truncated" in str(err)
    mid_token = write(tmp_path, "cut2.txt", lines[:51] + [lines[51][:lines[51].rindex(" ", 0, 40) + 2]])
    err = fails(tmp_path, mid_token)
    assert err.line == 52 and "truncated" in str(err)


def test_more_rows_than_header(tmp_path, lines):
    src = write(tmp_path, "more.txt", ["10 50\n"] + lines[1:13])
    err = fails(tmp_path, src)
    assert err.line == 12 and "announces 10 rows" in str(err)
    assert err.offset == offset_of(["10 50\n"] + lines[1:], 11)


def test_blank_lines_after_the_announced_rows_are_fine(tmp_path, lines):
    src = write(tmp_path, "ok.txt", ["3 50\n"] + lines[1:4] + ["\n", "  \n"])
    emb, report = import_vectors(src)
    assert len(emb) == 3 and report.blank_lines == 2


def test_header_dim_disagrees_with_rows(tmp_path, lines):
    src = write(tmp_path, "dim.txt", ["300 40\n"] + lines[1:])
    err = fails(tmp_path, src)
    assert err.line == 2 and "expected 40 values" in str(err) and "header" in str(err)


def test_truncated_binary(tmp_path):
    emb, _ = import_vectors(W2V, max_rows=20)
    full = tmp_path / "full.bin"
    export_vectors(emb, full, "word2vec-binary")
    data = full.read_bytes()
    src = write(tmp_path, "cut.bin", data[:len(data) - 77])
    err = fails(tmp_path, src)
    assert "truncated" in str(err) and err.offset is not None
    rec = len(data.split(b"\n", 1)[0]) + 1
    assert err.offset >= rec


def test_binary_header_counts_disagree(tmp_path):
    emb, _ = import_vectors(W2V, max_rows=20)
    full = tmp_path / "full.bin"
    export_vectors(emb, full, "word2vec-binary")
    body = full.read_bytes().split(b"\n", 1)[1]
    fewer = write(tmp_path, "fewer.bin", b"25 50\n" + body)
    assert "announces 25 rows" in str(fails(tmp_path, fewer))
    more = write(tmp_path, "more.bin", b"15 50\n" + body)
    err = fails(tmp_path, more)
    assert "more data follows" in str(err) and err.offset is not None


# -- row contents ----------------------------------------------------------------------

def test_row_with_too_few_values(tmp_path, lines):
    bad = lines[:]
    parts = bad[7].rstrip("\n").split(" ")
    bad[7] = " ".join(parts[:-1]) + "\n"
    err = fails(tmp_path, write(tmp_path, "few.txt", bad))
    assert err.line == 8 and "found 49" in str(err)


def test_row_with_too_many_values(tmp_path, lines):
    bad = lines[:]
    bad[9] = bad[9].rstrip("\n") + " 0.5 0.25\n"
    err = fails(tmp_path, write(tmp_path, "many.txt", bad))
    assert err.line == 10 and "found 52" in str(err)
    assert err.offset == offset_of(bad, 9, len(lines[9]) - 1 + 1)


def test_non_numeric_value_names_line_and_byte(tmp_path, lines):
    bad = lines[:]
    parts = bad[5].rstrip("\n").split(" ")
    parts[3] = "0.1x7"
    bad[5] = " ".join(parts) + "\n"
    err = fails(tmp_path, write(tmp_path, "nonnum.txt", bad))
    assert err.line == 6 and "'0.1x7'" in str(err) and "not a number" in str(err)
    assert err.offset == offset_of(bad, 5, bad[5].index("0.1x7"))


def test_glove_non_numeric_value(tmp_path, lines):
    bad = lines[1:]
    bad[2] = bad[2].replace(" ", " abc ", 1)
    err = fails(tmp_path, write(tmp_path, "g.txt", bad))
    assert err.line == 3 and "'abc'" in str(err)


def test_empty_key(tmp_path, lines):
    bad = lines[:]
    bad[4] = " " + bad[4].split(" ", 1)[1]
    err = fails(tmp_path, write(tmp_path, "empty_key.txt", bad))
    assert err.line == 5


# -- NaN / inf policy ------------------------------------------------------------------

def nan_lines(lines):
    bad = lines[:]
    for i, tok in ((3, "nan"), (8, "-inf"), (12, "1e39")):
        parts = bad[i].rstrip("\n").split(" ")
        parts[2] = tok
        bad[i] = " ".join(parts) + "\n"
    return bad


def test_nan_is_an_error_by_default(tmp_path, lines):
    err = fails(tmp_path, write(tmp_path, "nan.txt", nan_lines(lines)))
    assert err.line == 4 and "nan='skip'" in str(err)


def test_nan_skip_and_zero_are_counted(tmp_path, lines):
    src = write(tmp_path, "nan.txt", nan_lines(lines))
    emb, report = import_vectors(src, nan="skip")
    assert len(emb) == 297 and report.nan_rows == 3 and report.first_nan_line == 4
    assert lines[3].split(" ")[0] not in emb
    emb, report = import_vectors(src, nan="zero")
    assert len(emb) == 300 and report.nan_rows == 3
    assert not emb[lines[8].split(" ")[0]].any()
    assert any("NaN" in l for l in report.lines())


def test_nan_in_binary(tmp_path):
    emb, _ = import_vectors(W2V, max_rows=10)
    vecs = emb.vectors.copy()
    data = bytearray(b"10 50\n")
    keys = list(emb.keys)
    for i, k in enumerate(keys):
        row = vecs[i].copy()
        if i == 4:
            row[7] = np.nan
        data += k.encode() + b" " + row.astype("<f4").tobytes() + b"\n"
    src = write(tmp_path, "nan.bin", bytes(data))
    err = fails(tmp_path, src)
    assert keys[4] in str(err) and err.offset == bytes(data).index(b"\n" + keys[4].encode() + b" ") + 1
    emb2, report = import_vectors(src, nan="skip")
    assert len(emb2) == 9 and report.nan_rows == 1 and report.first_nan_offset == err.offset


def test_npy_nan_policy(tmp_path):
    v = np.ones((5, 3), np.float32)
    v[2, 1] = np.inf
    np.save(tmp_path / "v.npy", v)
    (tmp_path / "v.keys.txt").write_text("a\nb\nc\nd\ne\n")
    with pytest.raises(ParseError, match="row 2"):
        import_vectors(tmp_path / "v.npy")
    emb, report = import_vectors(tmp_path / "v.npy", nan="skip")
    assert list(emb.keys) == ["a", "b", "d", "e"] and report.nan_rows == 1


# -- keys: duplicates and encodings ------------------------------------------------------

def test_duplicate_keys_keep_first_and_are_reported(tmp_path, lines):
    bad = lines[:]
    first_key = lines[1].split(" ")[0]
    dup = first_key + " " + lines[20].split(" ", 1)[1]
    bad = [f"{len(lines)} 50\n"] + lines[1:20] + [dup] + lines[20:]
    src = write(tmp_path, "dup.txt", bad)
    emb, report = import_vectors(src)
    assert len(emb) == 300 and report.duplicates == 1
    assert report.first_duplicate_key == first_key and report.first_duplicate_line == 21
    ref, _ = import_vectors(W2V)
    assert np.array_equal(emb[first_key], ref[first_key])
    assert list(emb.keys) == list(ref.keys)
    err = fails(tmp_path, src, on_duplicate="error")
    assert err.line == 21 and "line 2" in str(err)


def test_duplicate_keys_in_binary_name_the_byte(tmp_path):
    data = b"3 2\n" + b"a " + np.array([1, 2], "<f4").tobytes() + b"\nb " + \
        np.array([3, 4], "<f4").tobytes() + b"\na " + np.array([5, 6], "<f4").tobytes() + b"\n"
    src = write(tmp_path, "dup.bin", data)
    emb, report = import_vectors(src)
    assert len(emb) == 2 and np.array_equal(emb["a"], [1, 2])
    assert report.duplicates == 1 and report.first_duplicate_offset == data.rindex(b"a ")


def test_invalid_utf8_key(tmp_path, lines):
    bad = [l.encode("utf-8") for l in lines]
    bad[6] = b"caf\xe9" + bad[6][bad[6].index(b" "):]
    src = write(tmp_path, "latin.txt", b"".join(bad))
    err = fails(tmp_path, src)
    assert err.line == 7 and "UTF-8" in str(err)
    emb, report = import_vectors(src, encoding_errors="replace")
    assert "caf\ufffd" in emb and report.replaced_encodings == 1
    emb, report = import_vectors(src, encoding="latin-1")
    assert "café" in emb and report.replaced_encodings == 0


# -- not vector files at all ---------------------------------------------------------------

def test_empty_file(tmp_path):
    err = fails(tmp_path, write(tmp_path, "empty.txt", b""), FormatError)
    assert "empty" in str(err)


def test_png_is_not_a_vector_file(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17)
    err = fails(tmp_path, write(tmp_path, "picture.txt", png), FormatError)
    assert "PNG" in str(err)


def test_random_bytes_are_not_a_vector_file(tmp_path, rng):
    data = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    data = b"\x01" + data[1:]
    err = fails(tmp_path, write(tmp_path, "noise.vec", data), FormatError)
    assert "not a vector file" in str(err)


def test_text_that_is_not_vectors(tmp_path):
    err = fails(tmp_path, write(tmp_path, "README.txt", "This is a readme.\nNothing here.\n"), FormatError)
    assert "not a vector file" in str(err) and err.line == 1


def test_gensim_pickle_is_refused_unopened(tmp_path):
    # A pickle whose loading would run code: it must be recognised, never loaded.
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    src = write(tmp_path, "model.kv", pickle.dumps(Boom(), protocol=4))
    err = fails(tmp_path, src, FormatError)
    assert "from_gensim" in str(err) and "pickle" in str(err)
    with pytest.raises(FormatError, match="pickle"):
        import_vectors(src, format="word2vec-text")


def test_npy_object_array_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (tmp_path / "obj.keys.txt").write_text("a\nb\n")
    with pytest.raises(FormatError, match="pickle"):
        import_vectors(tmp_path / "obj.npy")


def test_npy_keys_count_mismatch(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((3, 2), np.float32))
    (tmp_path / "v.keys.txt").write_text("a\nb\n")
    with pytest.raises(FormatError, match="2 keys but the vectors have 3 rows"):
        import_vectors(tmp_path / "v.npy")
    (tmp_path / "v.keys.txt").unlink()
    with pytest.raises(OmnivecError, match="keys_file"):
        import_vectors(tmp_path / "v.npy")


def test_format_that_contradicts_content(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((3, 2), np.float32))
    with pytest.raises(FormatError, match="looks like npy"):
        import_vectors(tmp_path / "v.npy", format="glove")


def test_parquet_rows_of_different_widths(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "c"], "vector": [[1.0, 2.0], [3.0, 4.0], [5.0]]}), p)
    with pytest.raises(ParseError, match="row 2: expected 2 values"):
        import_vectors(p)


def test_damaged_gzip(tmp_path):
    import gzip

    data = gzip.compress(W2V.read_bytes())
    err = fails(tmp_path, write(tmp_path, "cut.txt.gz", data[: len(data) // 2]))
    assert "gzip" in str(err) or "announces" in str(err)


def test_interrupt_leaves_no_output(tmp_path, monkeypatch, lines):
    # Ctrl-C in the middle of an import: nothing appears under the output name.
    src = write(tmp_path, "big.txt", lines)
    real = F.P.commit_lines

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(F.P, "commit_lines", interrupted)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        import_vectors(src, out / "model.omv")
    monkeypatch.setattr(F.P, "commit_lines", real)
    assert list(out.iterdir()) == []

    from omnivec.store import container

    real_crc = container.crc32
    calls = []

    def crc_then_interrupt(arr):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_crc(arr)

    monkeypatch.setattr(container, "crc32", crc_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_vectors(src, out / "model.omv")
    assert list(out.iterdir()) == []


# -- arbitrary damage: an OmnivecError or a valid table, never another exception -------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SMALL_TEXT = b"".join(W2V.read_bytes().splitlines(keepends=True)[:6]).replace(b"300 50", b"5 50", 1)


def _small_binary() -> bytes:
    out = bytearray(b"4 3\n")
    for i, k in enumerate((b"a", b"bb", b"ccc", b"d")):
        out += k + b" " + np.array([i, -i, 0.5], "<f4").tobytes() + b"\n"
    return bytes(out)


@st.composite
def damaged(draw, base):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i:i + draw(st.integers(1, 20))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(damaged(SMALL_TEXT), damaged(_small_binary())))
def test_damaged_files_fail_cleanly(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    src = folder / "in.vec"
    src.write_bytes(data)
    out = folder / "out"
    out.mkdir()
    try:
        emb, report = import_vectors(src, out / "m.omv", nan="skip", encoding_errors="replace")
    except OmnivecError:
        assert list(out.iterdir()) == []
        return
    assert report.rows == len(emb) and np.isfinite(emb.vectors).all()
    assert [p.name for p in out.iterdir()] == ["m.omv"]


def test_invalid_utf8_key_in_binary_names_the_byte(tmp_path):
    rec = [b"ok " + np.array([1, 2], "<f4").tobytes() + b"\n",
           b"caf\xe9 " + np.array([3, 4], "<f4").tobytes() + b"\n"]
    data = b"2 2\n" + b"".join(rec)
    src = write(tmp_path, "latin.bin", data)
    err = fails(tmp_path, src)
    assert err.offset == data.index(b"caf\xe9") + 3 and "UTF-8" in str(err)
    emb, report = import_vectors(src, encoding_errors="replace")
    assert report.replaced_encodings == 1 and np.array_equal(emb["caf\ufffd"], [3, 4])


def test_a_damaged_npy_does_not_blame_object_arrays(tmp_path):
    p = tmp_path / "cut.npy"
    np.save(p, np.ones((100, 4), np.float32))
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(FormatError) as ei:
        import_vectors(p)
    assert "object arrays" not in str(ei.value)


@pytest.mark.parametrize("head", [b"1 536870912\nking 0.1\n", b"3 999999999999\nking 0.1\n"])
def test_a_header_announcing_more_than_the_file_holds_is_refused_before_allocating(tmp_path, head):
    p = tmp_path / "h.txt"
    p.write_bytes(head)
    for dst in (None, tmp_path / "h.ov"):           # in memory and streamed to a model file
        with pytest.raises(ParseError, match="more than the file can hold"):
            import_vectors(p, dst)


def test_corrupt_gzip_is_a_parse_error(tmp_path):
    import gzip

    blob = gzip.compress(b"king 0.1 0.2\nqueen 0.3 0.4\n" * 2000)
    p = tmp_path / "v.txt.gz"
    p.write_bytes(blob[:30] + bytes(60) + blob[90:])
    with pytest.raises(ParseError, match="damaged or truncated"):
        import_vectors(p, tmp_path / "v.ov")
    assert not (tmp_path / "v.ov").exists() and not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_a_compressed_binary_header_with_a_huge_count_reserves_nothing_and_says_so(tmp_path):
    import gzip

    body = b"".join(f"w{i} ".encode() + np.arange(4, dtype=np.float32).tobytes() + b"\n" for i in range(50))
    p = tmp_path / "v.bin.gz"
    p.write_bytes(gzip.compress(b"2000000000 4\n" + body))
    with pytest.raises(ParseError, match="announces 2,000,000,000 rows but the file ends after 50"):
        import_vectors(p, format="word2vec-binary")
