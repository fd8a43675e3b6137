"""Saved KG models keep label <-> id maps and predictions; bad input gets a clear OmnivecError."""

import gzip
import os

import numpy as np
import pytest

import omnivec
import kge_planted as planted
from kge_planted import DATA
from omnivec.errors import FormatError, InputError, KeyNotFound, OmnivecError, ParseError
from omnivec.learn.kge import KGE, KGModel, load_triples, read_triples

NATIONS = os.path.join(DATA, "nations")


@pytest.fixture(scope="module")
def nations():
    return load_triples(NATIONS)


@pytest.mark.parametrize("name", ["TransE", "ComplEx", "RotatE", "QuatE", "DihEdral", "TranS"])
def test_save_open_keeps_mappings_and_predictions(tmp_path, nations, name):
    km = KGE(name, 8, epochs=3, progress=False).fit(nations)
    path = tmp_path / "m.omnivec"
    km.save(path)
    back = KGModel.open(path)
    assert back.model == name and back.dim == 8
    assert list(back.entities.keys) == nations.entities
    assert list(back.relations.keys) == nations.relations
    h, r, t = nations.entities[0], nations.relations[3], nations.entities[5]
    assert back.score(h, r, t) == pytest.approx(km.score(h, r, t), rel=1e-6)
    assert back.predict_tails(h, r, k=5) == km.predict_tails(h, r, k=5)
    assert back.predict_heads(r, t, k=5) == km.predict_heads(r, t, k=5)
    meta = back.meta
    assert meta["model"] == name and meta["params"]["dim"] == 8 and "algebra" in meta
    # the plain bundle API sees the same two tables
    bundle = omnivec.open(path)
    assert bundle.table("entities").dim == km.entity_array.shape[1]


def test_algebra_is_named_in_the_metadata(nations):
    assert KGE("ComplEx", 4, epochs=1, progress=False).fit(nations).meta["algebra"] == "complex"
    assert KGE("QuatE", 4, epochs=1, progress=False).fit(nations).meta["algebra"] == "quaternion"
    rot = KGE("RotatE", 4, epochs=1, progress=False).fit(nations)
    R = rot.relation_array
    np.testing.assert_allclose(R[:, :4] ** 2 + R[:, 4:] ** 2, 1.0, rtol=1e-5)   # unit modulus


def test_predictions_are_sorted_and_agree_with_score(nations):
    km = KGE("DistMult", 8, epochs=5, progress=False).fit(nations)
    h, r = nations.entities[2], nations.relations[0]
    top = km.predict_tails(h, r, k=len(nations.entities))
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True)
    for e, s in top[:3]:
        assert s == pytest.approx(km.score(h, r, e), rel=1e-5)
    heads = km.predict_heads(r, h, k=3, exclude=[h])
    assert h not in [e for e, _ in heads] and len(heads) == 3
    near = km.nearest_entities(h, k=3)
    assert len(near) == 3 and h not in [e for e, _ in near]


def test_unknown_entity_or_relation_in_a_query(nations):
    km = KGE("TransE", 4, epochs=1, progress=False).fit(nations)
    with pytest.raises(KeyNotFound, match="unknown entity 'atlantis'"):
        km.predict_tails("atlantis", nations.relations[0])
    with pytest.raises(KeyNotFound, match="unknown relation 'invades'"):
        km.predict_heads("invades", nations.entities[0])
    with pytest.raises(KeyNotFound, match="unknown entity"):
        km.score(nations.entities[0], nations.relations[0], "atlantis")
    with pytest.raises(KeyNotFound):
        km.nearest_entities("atlantis")
    with pytest.raises(InputError, match="k must be"):
        km.predict_tails(nations.entities[0], nations.relations[0], k=0)


def test_malformed_tsv_names_file_and_line(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text("a\tr\tb\nc\tr\n d\tr\te\n\nx\t\ty\n", encoding="utf-8")
    with pytest.raises(ParseError, match=r"train.txt, line 2: expected 3 .* found 2"):
        read_triples(p)
    from omnivec.learn.kge.data import ReadReport

    rep = ReadReport(str(p))
    rows = read_triples(p, on_bad="skip", report=rep)
    assert rows == [("a", "r", "b"), ("d", "r", "e")]
    assert rep.skipped == 2 and rep.kept == 2
    assert rep.bad == {"expected 3 tab-separated fields (head, relation, tail), found 2": 1, "empty label": 1}
    assert rep.first_bad[1].startswith("line 5")


def test_skipped_rows_are_reported_in_the_saved_model(tmp_path):
    (tmp_path / "train.txt").write_text("a\tr\tb\nb\tr\tc\nbad row\nc\tr\ta\n", encoding="utf-8")
    with pytest.raises(ParseError):
        load_triples(tmp_path)
    ts = load_triples(tmp_path, on_bad="skip")
    km = KGE("TransE", 4, epochs=2, progress=False).fit(ts)
    assert km.meta["training"]["input"]["train"]["skipped"] == 1


def test_gzip_and_empty_split(tmp_path):
    with gzip.open(tmp_path / "train.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("a\tr\tb\n")
    (tmp_path / "test.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="test split has no triples|empty"):
        load_triples(tmp_path, require=("train", "test"))
    ts = load_triples(tmp_path)
    assert ts.num_entities == 2
    with pytest.raises(InputError, match="'test' split is empty"):
        ts.split("test")
    (tmp_path / "train.txt.gz").unlink()
    with pytest.raises(InputError, match="no 'train' triples file"):
        load_triples(tmp_path)


def test_not_utf8_is_a_parse_error(tmp_path):
    p = tmp_path / "train.txt"
    p.write_bytes(b"a\tr\tb\n\xff\xfe\tr\tc\n")
    with pytest.raises(ParseError, match=r"line 2, byte 6: not UTF-8"):
        read_triples(p)


def test_a_plain_embeddings_file_is_not_a_kg_model(tmp_path):
    emb = omnivec.Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    omnivec.save(tmp_path / "x.omnivec", {"entities": emb, "relations": emb})
    with pytest.raises(FormatError, match="knowledge-graph model metadata"):
        KGModel.open(tmp_path / "x.omnivec")


def test_errors_are_omnivec_errors():
    assert issubclass(ParseError, OmnivecError) and issubclass(KeyNotFound, OmnivecError)
    ts, _ = planted.inverse()
    assert ts.num_relations == 2
