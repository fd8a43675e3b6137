"""Every registered vector file format, held to one bar.

Each writable format in omnivec.store.formats.FORMATS writes a real table
(the 2,100 most frequent GloVe 6B 50d words, tests/data/glove6b50d_top2100.npz),
is recognised by content detection as what it is, reads back to the same keys
and float32 vectors in memory and streamed into a model file, and leaves no
temporary file behind.  A new format needs one line in FILE_NAMES (the name
its export is written under); the meta-test fails when a registered format
has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.store.formats import FORMATS, detect_format, export_vectors, format_for_path, import_vectors
from omnivec.store.model import verify

DATA = Path(__file__).resolve().parents[1] / "data" / "glove6b50d_top2100.npz"

# the file name each format's export is written under (its own extension where it registers one)
FILE_NAMES = {
    "word2vec-text": "vectors.txt",
    "glove": "vectors.glove",
    "fasttext-vec": "vectors.vec",
    "word2vec-binary": "vectors.bin",
    "fasttext-bin": "model.bin",
    "npy": "vectors.npy",
    "parquet": "vectors.parquet",
    "omnivec": "vectors.omv",
}
NEEDS = {"parquet": "pyarrow"}
WRITABLE = [name for name, spec in FORMATS.items() if spec.writer is not None]


@pytest.fixture(scope="module")
def table():
    data = np.load(DATA)
    keys = [str(k) for k in data["keys"]]
    return omnivec.Embeddings(keys, data["vectors"].astype(np.float32)), keys, data["vectors"].astype(np.float32)


def test_every_registered_format_has_a_fixture():
    assert sorted(FORMATS.names()) == sorted(FILE_NAMES), \
        "add the new format's file name to FILE_NAMES (and it then gets every test here)"


@pytest.mark.parametrize("fmt", WRITABLE)
def test_round_trip_and_detection(tmp_path, fmt, table):
    if fmt in NEEDS:
        pytest.importorskip(NEEDS[fmt])
    emb, keys, vectors = table
    path = tmp_path / FILE_NAMES[fmt]
    spec = FORMATS.get(fmt)
    if spec.suffixes:
        assert format_for_path(path) == fmt
    export_vectors(emb, path, fmt)
    assert detect_format(path) == fmt
    back, report = import_vectors(path)
    assert report.format == fmt
    assert (report.rows, report.dim) == (len(keys), 50)
    assert list(back.keys) == keys
    assert np.array_equal(back.vectors, vectors)
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


@pytest.mark.parametrize("fmt", [f for f in WRITABLE if FORMATS.get(f).reader is not None])
def test_import_into_a_model_file_matches_the_in_memory_import(tmp_path, fmt, table):
    if fmt in NEEDS:
        pytest.importorskip(NEEDS[fmt])
    emb, keys, vectors = table
    path = tmp_path / FILE_NAMES[fmt]
    export_vectors(emb, path, fmt)
    out = tmp_path / "out"
    out.mkdir()
    for storage in ("float32", "int8"):
        memory, _ = import_vectors(path, storage=storage)
        written, report = import_vectors(path, out / f"{storage}.ov", storage=storage)
        assert report.dst == str(out / f"{storage}.ov")
        assert verify(out / f"{storage}.ov") == []
        assert list(written.keys) == keys
        assert np.array_equal(np.asarray(written.store.data), np.asarray(memory.store.data))
        assert np.array_equal(written.norms, memory.norms)
    assert sorted(p.name for p in out.iterdir()) == ["float32.ov", "int8.ov"]   # no raw row file left
