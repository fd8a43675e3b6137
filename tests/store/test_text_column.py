"""The text column: one text per key, stored as texts_blob + texts_offsets, memory-mapped on open."""

import json

import numpy as np
import pytest
from fresh_process import run_python

import omnivec
from omnivec import CorruptFileError, DimensionError, DuplicateKeyError, InputError, KeyNotFound
from omnivec.core.keys import KeyTable
from omnivec.store import container
from omnivec.store.model import StreamedTable, save_tables
from omnivec.store.texts import TextSpool

TEXTS = ["The cat sat.", "", "naïve café — 東京 🚀", "line one\nline two\ttab", " "]
KEYS = ["a", "b", "c", "d", "e"]


def table(rng, texts=TEXTS, keys=KEYS):
    return omnivec.Embeddings(keys, rng.standard_normal((len(keys), 8)).astype(np.float32), texts=texts)


def test_texts_round_trip_exactly_through_a_model_file(tmp_path, rng):
    emb = table(rng)
    p = tmp_path / "t.ov"
    emb.save(p)
    back = omnivec.open(p)
    assert list(back.texts) == TEXTS
    assert [back.text(k) for k in KEYS] == TEXTS
    assert isinstance(back.texts.blob, np.ndarray) and not back.texts.blob.flags.writeable  # mapped
    np.testing.assert_array_equal(back.vectors, emb.vectors)
    # saved again from the opened file: byte-identical texts
    back.save(tmp_path / "again.ov")
    assert list(omnivec.open(tmp_path / "again.ov").texts) == TEXTS


def test_texts_sequence_indexes_slices_and_iterates(rng):
    t = table(rng).texts
    assert len(t) == 5
    assert t[2] == TEXTS[2] and t[-1] == " " and t[1] == ""
    assert t[1:4] == TEXTS[1:4] and t[::-2] == TEXTS[::-2]
    assert list(t) == TEXTS
    with pytest.raises(IndexError, match="row 5"):
        t[5]


def test_a_table_without_texts_says_so(rng, tmp_path):
    emb = omnivec.Embeddings(["x"], np.ones((1, 3), np.float32))
    assert emb.texts is None
    with pytest.raises(InputError, match="keeps no texts"):
        emb.text("x")
    emb.save(tmp_path / "n.ov")
    head = container.read(tmp_path / "n.ov")
    tables = json.loads(head.metadata["omnivec"])["tables"]
    assert "texts" not in tables["embeddings"]            # files without texts are as before
    assert not any(k.startswith("embeddings.texts") for k in head.entries)
    assert omnivec.open(tmp_path / "n.ov").texts is None


def test_bad_texts_are_refused_naming_the_row(rng):
    V = rng.standard_normal((3, 4)).astype(np.float32)
    with pytest.raises(DimensionError, match="3 keys but 2 texts"):
        omnivec.Embeddings(["a", "b", "c"], V, texts=["x", "y"])
    with pytest.raises(InputError, match="row 1"):
        omnivec.Embeddings(["a", "b", "c"], V, texts=["x", None, "z"])
    with pytest.raises(InputError, match="row 2"):
        omnivec.Embeddings(["a", "b", "c"], V, texts=["x", "y", "bad \ud800 surrogate"])
    with pytest.raises(InputError, match="not one str"):
        omnivec.Embeddings(["a", "b", "c"], V, texts="abc")


def test_subset_keeps_texts_vectors_and_order(tmp_path, rng):
    emb = table(rng)
    emb.save(tmp_path / "t.ov")
    opened = omnivec.open(tmp_path / "t.ov")
    sub = opened.subset(["d", "a", "c"])
    assert list(sub.keys) == ["d", "a", "c"]
    assert list(sub.texts) == [TEXTS[3], TEXTS[0], TEXTS[2]]
    np.testing.assert_array_equal(sub.vectors, emb.vectors[[3, 0, 2]])
    assert sub.text("c") == TEXTS[2]
    sub.save(tmp_path / "s.ov")
    assert list(omnivec.open(tmp_path / "s.ov").texts) == list(sub.texts)
    with pytest.raises(KeyNotFound, match="'zz'"):
        opened.subset(["a", "zz"])
    with pytest.raises(DuplicateKeyError, match="'a'"):
        opened.subset(["a", "b", "a"])


def test_streamed_writer_appends_texts_in_batches(tmp_path, rng):
    n, dim = 2500, 6
    texts = [("é" * (i % 7)) + f"document {i}" + (" ✓" if i % 3 else "") for i in range(n)]
    texts[17] = ""
    V = rng.standard_normal((n, dim)).astype(np.float32)
    p = tmp_path / "s.ov"
    with TextSpool.beside(p) as spool:
        for s in range(0, n, 700):
            spool.extend(texts[s:s + 700])
        assert len(spool) == n and spool.read(15, 19) == texts[15:19]
        keys, _ = KeyTable.from_keys([f"d{i}" for i in range(n)])
        streamed = StreamedTable(keys=keys, n=n, dim=dim, storage="float32", metric="cosine",
                                 blocks=lambda: (V[s:s + 1000] for s in range(0, n, 1000)),
                                 texts=spool, progress=False)
        save_tables(p, {"docs": streamed})
        spool_file = spool.path
    assert not spool_file.exists()
    assert [q.name for q in tmp_path.iterdir()] == ["s.ov"]
    emb = omnivec.open(p)
    assert list(emb.texts) == texts
    np.testing.assert_array_equal(emb.vectors, V)
    assert omnivec.verify(p)["ok"]
    info = omnivec.info(p)["tables"][0]
    assert info["texts"] and info["text_bytes"] == sum(len(t.encode()) for t in texts)


def test_streamed_texts_must_match_the_rows(tmp_path, rng):
    p = tmp_path / "s.ov"
    with TextSpool.beside(p) as spool:
        spool.extend(["only one"])
        keys, _ = KeyTable.from_keys(["a", "b"])
        streamed = StreamedTable(keys=keys, n=2, dim=2, storage="float32", metric="cosine",
                                 blocks=lambda: iter([np.ones((2, 2), np.float32)]), texts=spool)
        with pytest.raises(InputError, match="2 rows but 1 texts"):
            save_tables(p, {"docs": streamed})
    assert not p.exists()


def _tensor_span(path, name):
    c = container.read(path)
    a, b = c.entries[name]["data_offsets"]
    return c.data_start + a, c.data_start + b


def test_verify_detects_a_corrupted_text_blob(tmp_path, rng):
    p = tmp_path / "t.ov"
    table(rng).save(p)
    assert omnivec.verify(p)["ok"]
    a, b = _tensor_span(p, "embeddings.texts_blob")
    raw = bytearray(p.read_bytes())
    raw[a + 2] ^= 0x40
    p.write_bytes(bytes(raw))
    res = omnivec.verify(p)
    assert not res["ok"]
    assert any("embeddings.texts_blob" in line for line in res["problems"])


def test_verify_finds_bad_utf8_in_texts_even_with_matching_checksums(tmp_path, rng):
    p = tmp_path / "t.ov"
    texts = ["abc", "déf"]
    omnivec.Embeddings(["a", "b"], rng.standard_normal((2, 3)).astype(np.float32), texts=texts).save(p)
    c = container.read(p)
    tensors = {k: np.array(v) for k, v in c.tensors.items()}
    blob = tensors["embeddings.texts_blob"]
    blob[4] = 0xFF                                   # inside "déf": no longer UTF-8
    meta = {k: v for k, v in c.metadata.items() if k != "checksums"}
    del c
    container.write(p, tensors, meta)               # fresh, matching checksums
    res = omnivec.verify(p)
    assert not res["ok"]
    assert any("not valid UTF-8" in line and "row 1" in line for line in res["problems"])
    with pytest.raises(CorruptFileError, match="row 1"):
        omnivec.open(p).text("b")


def test_opening_a_table_with_texts_imports_no_compiler(tmp_path, rng):
    p = tmp_path / "t.ov"
    table(rng).save(p)
    code = ("import sys, omnivec\n"
            "emb = omnivec.open(sys.argv[1])\n"
            "assert emb.text('c') == emb.texts[2] and len(list(emb.texts)) == 5\n"
            "print('numba' in sys.modules)\n")
    assert run_python(code, p).split() == ["False"]


def test_info_shows_that_a_table_has_texts(tmp_path, rng, capsys, monkeypatch):
    from omnivec.cli import main

    p = tmp_path / "t.ov"
    table(rng).save(p)
    assert omnivec.info(p)["tables"][0]["texts"] is True
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "texts" in out


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=12))
def test_any_unicode_texts_round_trip(tmp_path_factory, texts):
    p = tmp_path_factory.mktemp("t") / "h.ov"
    emb = omnivec.Embeddings([f"k{i}" for i in range(len(texts))], np.ones((len(texts), 2), np.float32),
                             texts=texts)
    assert list(emb.texts) == texts
    emb.save(p)
    back = omnivec.open(p)
    assert list(back.texts) == texts and back.texts[len(texts) - 1] == texts[-1]
    assert back.texts.problems() == []
