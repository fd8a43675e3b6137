"""`omnivec index build|search|eval|info` run in-process on real GloVe vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.search import find_index, open_index


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture
def model(tmp_path, glove):
    path = tmp_path / "glove.ov"
    glove.save(path)
    return path


def test_build_search_eval_info_flat(capsys, model):
    code, out, err = run(capsys, "index", "build", model, "--backend", "flat", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["path"].endswith("glove.ov.flat") and info["live"] == 2100
    code, out, err = run(capsys, "index", "search", model, "king", "paris", "-k", 5, "--json")
    assert code == 0, err
    data = json.loads(out)
    emb = omnivec.load(model)
    want = emb.most_similar("king", topn=5)
    assert [n["key"] for n in data["keys"][0]["neighbors"]] == [k for k, _ in want]
    assert data["keys"][1]["key"] == "paris" and "paris" not in [n["key"] for n in data["keys"][1]["neighbors"]]
    code, out, err = run(capsys, "index", "search", model, "king", "-k", 5, "--where", "counts >= 2000", "--json")
    assert code == 0, err
    got = [n["key"] for n in json.loads(out)["keys"][0]["neighbors"]]
    assert len(got) == 5 and all(emb.counts[emb.row(k)] >= 2000 for k in got)
    code, out, err = run(capsys, "index", "eval", model, "--queries", 50, "--json")
    assert code == 0, err
    assert json.loads(out)["recall"] == 1.0
    code, out, err = run(capsys, "index", "info", model, "--json")
    assert code == 0, err
    assert [h["backend"] for h in json.loads(out)["indexes"]] == ["flat"]
    code, out, _ = run(capsys, "index", "info", model)
    assert code == 0 and "flat index" in out


def test_hnsw_through_the_cli_and_attached_to_the_model(capsys, model, glove_queries):
    pytest.importorskip("usearch")
    code, out, err = run(capsys, "index", "build", model, "--param", "M=12", "--param", "ef=80", "--json")
    assert code == 0, err
    assert json.loads(out)["params"]["M"] == 12
    code, out, err = run(capsys, "index", "eval", model, "--queries", 200, "-p", "ef=128", "--json")
    assert code == 0, err
    assert json.loads(out)["recall"] >= 0.95
    emb = omnivec.load(model)
    idx = emb.index
    assert idx is not None and idx.name == "hnsw" and idx.info()["memory_mapped"]
    assert idx.search_params["ef"] == 80
    found = emb.search("king", 5, approx=True)
    assert "king" not in found.keys[0] and len(found.keys[0]) == 5
    code, out, _ = run(capsys, "index", "search", model, "king", "-k", 3)
    assert code == 0 and ("queen" in out or "prince" in out)


def test_cli_errors_are_one_line(capsys, model, tmp_path):
    code, _, err = run(capsys, "index", "build", model, "--backend", "annoy")
    assert code == 1 and "valid names are: flat, hnsw, ivfpq" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "index", "build", model, "--backend", "flat", "--param", "oops")
    assert code == 1 and "NAME=VALUE" in err
    code, _, err = run(capsys, "index", "search", model, "king")
    assert code == 1 and "omnivec index build" in err
    run(capsys, "index", "build", model, "--backend", "flat")
    code, _, err = run(capsys, "index", "search", model, "king", "--where", "counts >>= 3")
    assert code == 1 and "cannot read the condition" in err
    code, _, err = run(capsys, "index", "search", model, "king", "--where", "size >= 3")
    assert code == 1 and "valid names are: row, counts" in err
    # an index beside a model that was rewritten with other vectors is refused
    emb = omnivec.load(model)
    other = omnivec.Embeddings(list(emb.keys), np.asarray(emb.vectors)[::-1].copy(), counts=emb.counts,
                               name=emb.name)
    other.save(model)
    code, _, err = run(capsys, "index", "search", model, "king")
    assert code == 1 and "does not belong" in err and "Rebuild" in err
    with pytest.raises(omnivec.FormatError):
        open_index(str(model) + ".flat", omnivec.load(model))


def test_build_prints_the_recall_it_reached(capsys, model):
    pytest.importorskip("usearch")
    code, out, err = run(capsys, "index", "build", model, "-p", "target_recall=0.98", "--json")
    assert code == 0, err
    r = json.loads(out)["recall"]
    assert r["k"] == 10 and r["queries"] == 300 and r["target_recall"] == 0.98 and r["recall"] >= 0.98
    # the tuned ef is the stored default: eval through the saved index agrees
    code, out, err = run(capsys, "index", "eval", model, "--queries", 300, "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert ev["search_params"]["ef"] == r["search_params"]["ef"] and ev["recall"] >= 0.96
    code, out, err = run(capsys, "index", "build", model)
    assert code == 0, err
    assert "recall@10 " in out and "on 300 rows of the table (ef=64)" in out
