"""Embeddings.most_similar(approx=True) and Embeddings.search(approx=True) use the attached index."""

from __future__ import annotations

import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError
from omnivec.search import build_index, find_index, index_path, open_index


def test_without_an_index_approx_queries_are_exact(glove):
    emb = glove.replace()
    assert emb.index is None
    assert emb.most_similar("king", topn=5, approx=True) == emb.most_similar("king", topn=5)
    a, b = emb.search(["king", "paris"], 4, approx=True), emb.search(["king", "paris"], 4)
    assert a.keys == b.keys


@pytest.mark.parametrize("backend", ["flat", "hnsw"])
def test_index_beside_the_model_answers_approx_queries(tmp_path, glove, backend):
    if backend == "hnsw":
        pytest.importorskip("usearch")
    path = tmp_path / "glove.ov"
    glove.save(path)
    emb = omnivec.load(path)
    idx = build_index(emb, backend)
    idx.delete(["queen"])            # visible only through the index: proves the index answered
    idx.save(index_path(path, backend))
    emb = omnivec.load(path)
    exact = emb.most_similar("king", topn=10)
    approx = emb.most_similar("king", topn=10, approx=True)
    assert "queen" in [k for k, _ in exact] and "queen" not in [k for k, _ in approx]
    assert "king" not in [k for k, _ in approx] and len(approx) == 10
    assert len({k for k, _ in exact} & {k for k, _ in approx}) >= 8
    n = emb.search(["king", "man"], 5, exclude_self=True, approx=True)
    assert n.ids.shape == (2, 5) and "king" not in n.keys[0] and "man" not in n.keys[1]
    top = emb.most_similar("king", topn=5, restrict_vocab=300, approx=True)
    assert all(emb.row(k) < 300 for k, _ in top) and len(top) == 5


def test_attach_an_in_memory_index(glove, glove_arrays):
    keys, vecs = glove_arrays
    emb = glove.replace()
    idx = build_index(emb, "flat")
    idx.add(["zz-twin-of-king"], emb["king"])
    assert emb.attach(idx) is emb
    assert emb.index is idx
    assert emb.most_similar("king", topn=1, approx=True)[0][0] == "zz-twin-of-king"
    other = omnivec.Embeddings(keys, vecs[::-1].copy())
    with pytest.raises(InputError, match="does not belong"):
        other.attach(idx)
    emb.attach(None)
    assert emb.most_similar("king", topn=1, approx=True)[0][0] != "zz-twin-of-king"


def test_an_index_built_in_memory_opens_against_the_saved_model(tmp_path, glove):
    idx = build_index(glove, "flat")
    path = tmp_path / "glove.ov"
    glove.save(path)
    idx.save(index_path(path, "flat"))
    emb = omnivec.load(path)
    assert emb.index.info()["fingerprint"] == idx.info()["fingerprint"]
    assert find_index(emb).info()["fingerprint"] == idx.info()["fingerprint"]


def test_a_table_opened_below_the_facade_finds_no_index_until_attached(tmp_path, glove):
    from omnivec.store.model import open_table

    path = tmp_path / "glove.ov"
    glove.save(path)
    build_index(glove, "flat").save(index_path(path, "flat"))
    emb = open_table(path)
    assert emb.index is None                     # only omnivec.open looks beside the file
    emb.attach(open_index(index_path(path, "flat"), emb))
    assert emb.index is not None and emb.index.name == "flat"


def test_a_key_query_never_finds_itself_unless_asked(glove):
    idx = build_index(glove, "flat")
    for found in (glove.search(["king"], 3), idx.search(["king"], 3), idx.search("king", 3)):
        assert "king" not in found.keys[0] and found.ids.shape == (1, 3)
    for found in (glove.search(["king"], 3, exclude_self=False), idx.search(["king"], 3, exclude_self=False)):
        assert found.keys[0][0] == "king"
    assert "king" not in [k for k, _ in glove.most_similar("king", topn=3)]
