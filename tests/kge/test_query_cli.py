"""`omnivec query` on a knowledge-graph model: tails and heads, known triples left out."""

import json
import os

import pytest

from kge_planted import DATA
from omnivec.cli import main
from omnivec.learn.kge import KGE, load_triples

NATIONS = os.path.join(DATA, "nations")


@pytest.fixture(scope="module")
def nations_model(tmp_path_factory):
    data = load_triples(NATIONS)
    km = KGE(model="DistMult", dim=16, epochs=20, seed=0, workers=1).fit(data)
    path = tmp_path_factory.mktemp("kg") / "nations.ov"
    km.save(path)
    return path, data


def _answers(capsys, *args):
    assert main(["query", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["predictions"][0]["answers"]


def test_tails_and_heads_match_the_library(nations_model, capsys):
    path, data = nations_model
    h, r, t = data.entities[0], data.relations[0], data.entities[1]
    import omnivec
    km = omnivec.open(path)
    got = _answers(capsys, path, "--tails", h, r, "-n", 5)
    want = km.predict_tails(h, r, 5)
    assert [a["key"] for a in got] == [k for k, _ in want]
    assert [a["score"] for a in got] == pytest.approx([s for _, s in want])
    got = _answers(capsys, path, "--heads", r, t, "-n", 5)
    assert [a["key"] for a in got] == [k for k, _ in km.predict_heads(r, t, 5)]


def test_known_triples_are_left_out_as_pykeen_remove_known_does(nations_model, capsys):
    path, data = nations_model
    train = data.splits["train"]
    h, r = train[0, 0], train[0, 1]
    known_tails = {data.entities[t] for hh, rr, t in train if hh == h and rr == r}
    head, rel = data.entities[h], data.relations[r]
    every = _answers(capsys, path, "--tails", head, rel, "-n", 14)
    assert known_tails & {a["key"] for a in every}
    left = _answers(capsys, path, "--tails", head, rel, "-n", 14, "--known", NATIONS)
    assert not known_tails & {a["key"] for a in left}
    assert [a["key"] for a in left] == [a["key"] for a in every if a["key"] not in known_tails]


def test_tails_on_a_word_table_is_a_clean_error(tmp_path, capsys):
    import numpy as np

    import omnivec
    omnivec.save(tmp_path / "w.ov", omnivec.Embeddings(["a", "b"], np.eye(2, dtype=np.float32)))
    assert main(["query", str(tmp_path / "w.ov"), "--tails", "a", "b"]) == 1
    assert "not a knowledge-graph model" in capsys.readouterr().err
