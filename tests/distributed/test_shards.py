"""Sharded tables: a manifest plus N model files opening as one table (no Ray needed)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.distributed import open_sharded, shard_of, write_shards
from omnivec.distributed import shards as S
from omnivec.errors import CorruptFileError, FormatError, InputError, KeyNotFound, UnsupportedVersionError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def glove():
    """2,100 GloVe 50d rows (real vectors, string keys) with counts, as one in-memory table."""
    d = np.load(DATA / "glove6b50d_top2100.npz")
    return omnivec.Embeddings(list(d["keys"]), d["vectors"].astype(np.float32),
                              counts=np.arange(2100, 0, -1))


@pytest.fixture(scope="module")
def sharded(glove, tmp_path_factory):
    path = tmp_path_factory.mktemp("sh") / "glove.ovs"
    return write_shards(glove, path, 3)


def test_shards_are_ordinary_model_files_holding_every_key_once(glove, sharded):
    m = sharded.manifest
    assert len(sharded) == len(glove) == sum(len(s) for s in sharded.shards)
    seen = set()
    for i in range(3):
        one = omnivec.open(m.shard_path(i))           # each shard opens on its own
        keys = list(one.keys)
        assert (shard_of(keys, 3) == i).all()
        seen.update(keys)
        assert len(one) == m.shards[i].rows
    assert seen == set(glove.keys)
    assert all(s.rows > 500 for s in m.shards)       # the hash spreads 2,100 keys over 3 shards


def test_lookups_route_to_the_keys_shard(glove, sharded):
    for key in ["the", "king", "queen", ",", "2010"]:
        assert key in sharded
        np.testing.assert_array_equal(sharded[key], glove[key])
        assert sharded.key(sharded.row(key)) == key
    np.testing.assert_array_equal(sharded[["king", "the"]], glove[["king", "the"]])
    assert "no-such-word" not in sharded
    with pytest.raises(KeyNotFound, match="no-such-word.*shard"):
        sharded["no-such-word"]
    assert sharded.rows(["king", "no-such-word"])[1] == -1
    assert sorted(sharded) == sorted(glove.keys)


def test_fan_out_search_equals_one_exact_search_over_the_union(glove, sharded):
    union = sharded.to_embeddings()
    keys = list(glove.keys)[::7]
    got = sharded.search(keys, k=10)
    want = union.search(keys, k=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.scores, want.scores)
    assert got.keys == want.keys
    # and the same neighbours as the original table (rows are numbered differently)
    assert got.keys == glove.search(keys, k=10).keys
    Q = glove.vectors[:40] + 0.01
    assert sharded.search(Q, k=5).keys == glove.search(Q, k=5).keys
    assert sharded.most_similar("king", topn=8) == glove.most_similar("king", topn=8)
    assert [k for k, _ in sharded.most_similar(positive=["king", "woman"], negative=["man"], topn=5)] == \
        [k for k, _ in glove.most_similar(positive=["king", "woman"], negative=["man"], topn=5)]
    assert sharded.search(keys[:3], k=0).ids.shape == (3, 0)
    with pytest.raises(InputError, match="k must be"):
        sharded.search(keys[:3], k=-1)


def test_k_larger_than_the_table_and_int_keys(tmp_path, rng):
    X = rng.standard_normal((50, 8)).astype(np.float32)
    emb = omnivec.Embeddings(np.arange(1000, 1050), X, metric="euclidean")
    t = write_shards(emb, tmp_path / "ints.ovs", 4)
    assert t.manifest.key_kind == "int" and len(t) == 50
    got = t.search(X[:5], k=100)
    want = emb.search(X[:5], k=100)
    assert got.ids.shape == (5, 50)
    assert got.keys == want.keys
    np.testing.assert_array_equal(t[1007], X[7])


def test_info_and_verify_understand_the_manifest(sharded, capsys):
    path = sharded.manifest.path
    info = omnivec.info(path)
    assert info["format"] == "omnivec-shards" and info["rows"] == 2100 and info["n_shards"] == 3
    assert [s["rows"] for s in info["shards"]] == [s.rows for s in sharded.manifest.shards]
    report = omnivec.verify(path)
    assert report["ok"], report["problems"]
    assert main(["verify", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["info", path]) == 0
    assert "3 shards" in capsys.readouterr().out


def _copy(sharded, folder: Path) -> Path:
    import shutil

    m = sharded.manifest
    for i in range(m.shards.__len__()):
        shutil.copy(m.shard_path(i), folder / m.shards[i].path)
    shutil.copy(m.path, folder / "glove.ovs")
    return folder / "glove.ovs"


def test_verify_finds_a_missing_a_foreign_and_a_damaged_shard(sharded, glove, tmp_path):
    path = _copy(sharded, tmp_path)
    m = S.read_manifest(path)
    # a shard replaced by another table's rows: its key checksum and routing no longer match
    other = glove.subset(list(glove.keys)[:m.shards[1].rows])
    other.save(tmp_path / m.shards[1].path)
    report = omnivec.verify(path)
    assert not report["ok"]
    assert any("shard 1 of 3" in p and "route to other shards" in p for p in report["problems"])
    assert any("shard 1 of 3" in p and "checksum" in p for p in report["problems"])
    # a flipped byte in a shard's vectors: its CRC-32 fails, named with the shard
    p0 = tmp_path / m.shards[0].path
    raw = bytearray(p0.read_bytes())
    raw[-10] ^= 0xFF
    p0.write_bytes(bytes(raw))
    assert any(p.startswith("shard 0 of 3") for p in omnivec.verify(path)["problems"])
    os.remove(tmp_path / m.shards[2].path)
    assert "shard 2 of 3" in " ".join(omnivec.verify(path)["problems"])
    with pytest.raises(FormatError, match="shard 2 of 3 .* is missing"):
        open_sharded(path)
    assert main(["verify", str(path)]) == 1


def test_a_shard_with_other_rows_than_the_manifest_is_refused_on_open(sharded, glove, tmp_path):
    path = _copy(sharded, tmp_path)
    m = S.read_manifest(path)
    glove.subset(list(glove.keys)[:10]).save(tmp_path / m.shards[0].path)
    with pytest.raises(CorruptFileError, match=r"shard 0 of 3 .* holds 10 rows; the manifest says"):
        open_sharded(path)


@pytest.mark.parametrize("edit, error, match", [
    (lambda d: d.update(version=99), UnsupportedVersionError, "manifest version 99"),
    (lambda d: d.update(rows=5), CorruptFileError, "says 5 rows but its shards list"),
    (lambda d: d["shards"][0].update(path="../../etc/passwd"), CorruptFileError, "stay inside"),
    (lambda d: d["shards"][1].update(rows="many"), CorruptFileError, "shard 1 of the manifest needs a int 'rows'"),
    (lambda d: d.update(routing="range"), UnsupportedVersionError, "unknown key routing"),
    (lambda d: d.update(shards=[]), CorruptFileError, "lists no shards"),
])
def test_bad_manifests_are_refused_naming_the_field(sharded, tmp_path, edit, error, match):
    doc = json.loads(Path(sharded.manifest.path).read_text())
    edit(doc)
    bad = tmp_path / "bad.ovs"
    bad.write_text(json.dumps(doc))
    with pytest.raises(error, match=match):
        open_sharded(bad)


def test_not_a_manifest(tmp_path):
    p = tmp_path / "x.ovs"
    p.write_text('{"format": "omnivec-shards", "version": 1,')
    with pytest.raises(FormatError, match="not a sharded-table manifest"):
        open_sharded(p)
    with pytest.raises(FormatError, match="no such file"):
        open_sharded(tmp_path / "absent.ovs")


def test_cli_shard_writes_the_manifest_and_shards(glove, tmp_path, capsys):
    model = tmp_path / "glove.ov"
    glove.save(model)
    out = tmp_path / "g.ovs"
    assert main(["shard", str(model), "-o", str(out), "-n", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_shards"] == 2 and data["rows"] == 2100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g-00000-of-00002.ov", "g-00001-of-00002.ov",
                                                          "g.ovs", "glove.ov"]
    t = open_sharded(out)
    assert t.most_similar("queen", topn=3) == glove.most_similar("queen", topn=3)
    assert main(["shard", str(model), "-o", str(out), "-n", "0"]) == 2


def test_checksum_sees_a_missing_and_a_repeated_key():
    h = S.key_hashes(["a", "b", "c"])
    whole = S.ids_checksum(h)
    assert S.ids_checksum(h[[2, 0, 1]]) == whole
    assert S.ids_checksum(h[:2]) != whole
    assert S.ids_checksum(h[[0, 1, 2, 2]]) != whole
    assert S.combine_checksums([S.ids_checksum(h[:1]), S.ids_checksum(h[1:])]) == whole
    np.testing.assert_array_equal(S.key_hashes([5, 7]), S.key_hashes(np.array([5, 7])))
