"""What `omnivec.open` returns is a table wherever a table is accepted; several tables make a Model."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.errors import FormatError, InputError, KeyNotFound

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def glove_file(tmp_path_factory) -> Path:
    z = np.load(DATA / "glove6b50d_top2100.npz", allow_pickle=False)
    keys = [str(k) for k in z["keys"]]
    emb = omnivec.Embeddings(keys, z["vectors"].astype(np.float32), counts=np.arange(len(keys), 0, -1),
                             name="words")
    path = tmp_path_factory.mktemp("one") / "glove.ov"
    emb.save(path)
    return path


def test_open_returns_an_embeddings_for_a_one_table_file(glove_file):
    emb = omnivec.open(glove_file)
    assert isinstance(emb, omnivec.Embeddings) and type(emb) is omnivec.Embeddings
    names = set(dir(emb))
    assert {"most_similar", "search", "vectors", "keys", "metric", "attach", "save"} <= names
    assert emb.source == str(glove_file)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(emb)


def test_every_public_function_that_takes_a_table_takes_what_open_returns(glove_file, tmp_path):
    from omnivec.evaluate.analogy import evaluate_analogies
    from omnivec.evaluate.similarity import evaluate_similarity
    from omnivec.explore import build_map
    from omnivec.search import BACKENDS, build_index, find_index, index_path, open_index

    emb = omnivec.open(glove_file)
    for backend in BACKENDS.names():
        if backend == "hnsw":
            pytest.importorskip("usearch")
        if backend == "ivfpq":
            pytest.importorskip("faiss")
        params = {"nlist": 16, "m": 10} if backend == "ivfpq" else {}
        idx = build_index(emb, backend, show_progress=False, **params)
        assert idx.search("king", 3).keys[0] and "king" not in idx.search("king", 3).keys[0]
        idx.save(index_path(glove_file, backend))
        again = open_index(index_path(glove_file, backend), omnivec.open(glove_file))
        assert again.search(["paris"], 2).ids.shape == (1, 2)
        assert emb.attach(again) is emb and emb.search("paris", 2, approx=True).ids.shape == (1, 2)
        emb.attach(None)
    assert find_index(omnivec.open(glove_file)) is not None
    assert omnivec.open(glove_file).search("king", 5, approx=True).keys[0][0] in emb.keys
    assert evaluate_similarity(emb, DATA / "words" / "wordsim353.tsv").pairs > 0
    assert evaluate_analogies(emb, DATA / "words" / "questions-words-family-opposite.txt").answered > 0
    m = build_map(emb, layout="pca", show_progress=False)
    assert len(m.xy) == len(emb)
    omnivec.save(tmp_path / "copy.ov", emb)
    assert np.array_equal(omnivec.load(tmp_path / "copy.ov").vectors, emb.vectors)
    omnivec.export_vectors(emb, tmp_path / "g.vec")
    back, _ = omnivec.import_vectors(tmp_path / "g.vec")
    assert list(back.keys) == list(emb.keys)
    assert omnivec.prepare_oov(emb).vector("kingg", oov=True).shape == (emb.dim,)


def test_several_tables_open_as_a_model(glove_file, tmp_path):
    words = omnivec.load(glove_file)
    docs = omnivec.Embeddings(["d1", "d2", "d3"], words.vectors[:3].copy(), name="docs")
    m = omnivec.Model({"words": words, "docs": docs})
    m.save(tmp_path / "m.ov")
    back = omnivec.open(tmp_path / "m.ov")
    assert isinstance(back, omnivec.Model) and not isinstance(back, omnivec.Embeddings)
    assert list(back) == ["words", "docs"] and len(back) == 2 and "docs" in back
    assert isinstance(back["docs"], omnivec.Embeddings) and back["docs"].search("d1", 1).keys[0][0] in ("d2", "d3")
    assert dict(back.items())["words"].most_similar("king", topn=1)
    assert omnivec.load(tmp_path / "m.ov", table="docs").name == "docs"
    with pytest.raises(InputError, match="name one"):
        omnivec.load(tmp_path / "m.ov")
    with pytest.raises(KeyNotFound, match="its tables are: words, docs"):
        back["nope"]
    assert "nope" not in back and back.get("nope") is None
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(back)


def test_a_typed_view_opens_from_its_kind_and_refuses_other_files(tmp_path, glove_file):
    from omnivec.learn.kge import KGE, KGModel, load_triples

    data = load_triples(DATA / "kg" / "nations")
    km = KGE("TransE", dim=8, epochs=2, workers=1, seed=1, progress=False).fit(data)
    km.save(tmp_path / "kg.ov")
    back = omnivec.open(tmp_path / "kg.ov")
    assert isinstance(back, KGModel) and isinstance(back, omnivec.Model) and back.kind == "kge"
    assert sorted(back) == ["entities", "relations"] and back.predict_tails("usa", "embassy", k=2)
    assert isinstance(KGModel.open(tmp_path / "kg.ov"), KGModel)
    with pytest.raises(FormatError, match="knowledge-graph"):
        KGModel.open(glove_file)


def test_a_model_refuses_what_is_not_a_table():
    with pytest.raises(InputError, match="not Embeddings"):
        omnivec.Model({"a": np.zeros((2, 2))})
    with pytest.raises(InputError, match="at least one table"):
        omnivec.Model({})
