"""`omnivec query` run in-process: answers match the Python API; bad input exits 1 in one line."""

import json

import numpy as np
import pytest

import omnivec
from cli_helpers import one_line_error, run


@pytest.fixture
def model(tmp_path, rng):
    keys = [f"w{i}" for i in range(300)]
    emb = omnivec.Embeddings(keys, rng.standard_normal((300, 16)).astype(np.float32), name="words")
    path = tmp_path / "m.omv"
    emb.save(path)
    return path


def test_neighbours_match_the_api(capsys, model):
    code, out, _ = run(capsys, "query", model, "w3", "w7", "--topn", 5, "--json")
    assert code == 0
    data = json.loads(out)
    emb = omnivec.load(model)
    assert [e["key"] for e in data["keys"]] == ["w3", "w7"]
    for entry in data["keys"]:
        want = emb.most_similar(entry["key"], topn=5)
        assert [(n["key"], n["score"]) for n in entry["neighbors"]] == [(k, pytest.approx(s)) for k, s in want]
        assert entry["oov"] is False
    assert data["rows"] == 300 and data["dim"] == 16 and data["table"] == "words"


def test_human_output_lists_the_neighbours(capsys, model):
    code, out, _ = run(capsys, "query", model, "w3", "-n", 3)
    assert code == 0
    emb = omnivec.load(model)
    for k, _ in emb.most_similar("w3", topn=3):
        assert k in out
    assert "w3" in out


def test_similarity_analogy_and_cosmul_match_the_api(capsys, model):
    emb = omnivec.load(model)
    code, out, _ = run(capsys, "query", model, "--similarity", "w1", "w2", "--analogy", "w1", "w2", "w3",
                       "-n", 4, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["similarity"]["score"] == pytest.approx(emb.similarity("w1", "w2"))
    assert [a["key"] for a in data["analogy"]["answers"]] == [k for k, _ in emb.analogy("w1", "w2", "w3", topn=4)]
    assert data["analogy"]["method"] == "3cosadd"
    code, out, _ = run(capsys, "query", model, "--analogy", "w1", "w2", "w3", "-n", 4, "--cosmul", "--json")
    data = json.loads(out)
    want = emb.analogy("w1", "w2", "w3", topn=4, method="3cosmul")
    assert [a["key"] for a in data["analogy"]["answers"]] == [k for k, _ in want]
    assert data["analogy"]["method"] == "3cosmul"
    assert "keys" not in data


def test_restrict_vocab_and_vector(capsys, model):
    emb = omnivec.load(model)
    code, out, _ = run(capsys, "query", model, "w250", "--restrict-vocab", 50, "--json")
    assert code == 0
    got = [n["key"] for n in json.loads(out)["keys"][0]["neighbors"]]
    assert all(emb.row(k) < 50 for k in got)
    assert got == [k for k, _ in emb.most_similar("w250", restrict_vocab=50)]
    code, out, _ = run(capsys, "query", model, "w5", "--vector", "--json")
    vec = np.array(json.loads(out)["keys"][0]["vector"], np.float32)
    np.testing.assert_array_equal(vec, emb["w5"])


def test_int8_model_and_named_table(capsys, tmp_path, rng):
    words = omnivec.Embeddings([f"w{i}" for i in range(200)], rng.standard_normal((200, 8)).astype(np.float32),
                               name="words")
    ids = omnivec.Embeddings(np.arange(100, 150), rng.standard_normal((50, 8)).astype(np.float32), name="nodes")
    path = tmp_path / "two.omv"
    omnivec.save(path, {"words": words.astype("int8"), "nodes": ids})
    code, _, err = run(capsys, "query", path, "w1")
    line = one_line_error(err)
    assert code == 1 and "--table" in line and "words" in line and "nodes" in line
    code, out, _ = run(capsys, "query", path, "w1", "--table", "words", "--json")
    assert code == 0
    want = omnivec.load(path, table="words").most_similar("w1")
    assert [n["key"] for n in json.loads(out)["keys"][0]["neighbors"]] == [k for k, _ in want]
    code, out, _ = run(capsys, "query", path, "120", "--table", "nodes", "--json", "-n", 3)
    assert code == 0
    data = json.loads(out)["keys"][0]
    assert data["key"] == 120 and all(isinstance(n["key"], int) for n in data["neighbors"])
    code, _, err = run(capsys, "query", path, "abc", "--table", "nodes")
    assert code == 1 and "integer" in one_line_error(err)


def test_unknown_key_suggests_oov(capsys, model):
    code, out, err = run(capsys, "query", model, "w1", "nosuchword")
    assert code == 1 and out == ""
    line = one_line_error(err)
    assert "'nosuchword'" in line and "--oov" in line
    code, _, err = run(capsys, "query", model, "--similarity", "w1", "zzz")
    assert code == 1 and "'zzz'" in one_line_error(err)


def test_bad_files_and_usage(capsys, tmp_path, model):
    code, _, err = run(capsys, "query", tmp_path / "missing.omv", "w1")
    assert code == 1 and "no such file" in one_line_error(err)
    text = tmp_path / "vectors.txt"
    text.write_text("king 0.1 0.2\nqueen 0.3 0.4\n")
    code, _, err = run(capsys, "query", text, "king")
    assert code == 1 and "not a model" in one_line_error(err)
    code, _, _ = run(capsys, "query", model)
    assert code == 2
    code, _, _ = run(capsys, "query", model, "w1", "--topn", "many")
    assert code == 2
    code, _, err = run(capsys, "query", model, "w1", "--topn", 0)
    assert code == 1 and "-k must be" in one_line_error(err)


def test_oov_misspelling_lands_near_its_word(capsys, tmp_path):
    from pathlib import Path

    with np.load(Path(__file__).parent.parent / "data" / "glove6b50d_top2100.npz") as z:
        emb = omnivec.Embeddings(z["keys"].tolist(), z["vectors"].astype(np.float32))
    path = tmp_path / "glove.omv"
    emb.save(path)
    code, out, _ = run(capsys, "query", path, "recieve", "king", "--oov", "--json")
    assert code == 0
    first, second = json.loads(out)["keys"]
    assert first["oov"] is True and second["oov"] is False
    assert "receive" in [n["key"] for n in first["neighbors"]]
    assert [n["key"] for n in second["neighbors"]] == [k for k, _ in emb.most_similar("king")]
    vectors = [json.loads(run(capsys, "query", path, "recieve", "--oov", "--vector", "--json")[1])
               ["keys"][0]["vector"] for _ in range(2)]
    assert vectors[0] == vectors[1]
    np.testing.assert_allclose(vectors[0], emb.vector("recieve", oov=True), rtol=1e-6)


def test_piped_output_is_never_line_wrapped(capsys, tmp_path, rng):
    keys = [f"key{i}" for i in range(10)]
    path = tmp_path / "wide.omv"
    omnivec.Embeddings(keys, rng.standard_normal((10, 300)).astype(np.float32)).save(path)
    code, out, _ = run(capsys, "query", path, "key1", "key2", "--vector")
    assert code == 0
    lines = out.splitlines()
    def numeric(ln):
        try:
            return [float(x) for x in ln.split()]
        except ValueError:
            return None

    numbers = [ln for ln in lines if numeric(ln)]
    assert [len(ln.split()) for ln in numbers] == [300, 300]      # one line per vector
