"""What the Ray operations check before they reach a cluster (no cluster needed)."""

from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.distributed import shard_of, write_shards
from omnivec.distributed.index import ShardedIndex
from omnivec.distributed.shards import read_manifest
from omnivec.errors import InputError, UnknownNameError

pytest.importorskip("ray", reason="needs Ray: pip install 'omnivec[ray]'")

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    d = np.load(DATA / "glove6b50d_top2100.npz")
    emb = omnivec.Embeddings(list(d["keys"]), d["vectors"].astype(np.float32), counts=np.arange(2100, 0, -1))
    return read_manifest(write_shards(emb, tmp_path_factory.mktemp("a") / "g.ovs", 3).manifest.path)


def test_filters_are_cut_into_each_shards_part(manifest):
    idx = ShardedIndex(manifest, None, [], None)
    off = manifest.offsets
    keys = ["king", "queen", "the", "paris"]
    owner = shard_of(keys, 3)
    parts = idx._filters({"allow": keys, "where": ["counts >= 10", "row < 1000"]})
    for s, part in enumerate(parts):
        mine = [k for k, o in zip(keys, owner.tolist()) if o == s]
        if not mine:
            assert part is False              # nothing of this shard can pass: it is not asked
            continue
        assert part["allow"] == mine
        assert part["where"] == [("counts", ">=", 10.0)]
        np.testing.assert_array_equal(part["mask"], np.arange(off[s], off[s + 1]) < 1000)
    mask = np.zeros(manifest.rows, bool)
    mask[off[1]:off[1] + 5] = True
    cut = idx._filters(mask)
    assert cut[0] is False and cut[2] is False and cut[1]["mask"].sum() == 5
    assert idx._filters(None) == [None, None, None]
    with pytest.raises(InputError, match="2100 entries"):
        idx._filters(np.ones(5, bool))


def test_encode_and_tune_refuse_bad_arguments_before_joining_a_cluster(tmp_path):
    from omnivec.distributed import encode, tune

    with pytest.raises(InputError, match="workers must be an int >= 1"):
        encode(["a"], "x", tmp_path, workers=0)
    with pytest.raises(InputError, match="shards must be"):
        encode(["a"], "x", tmp_path, shards=0)
    with pytest.raises(UnknownNameError, match="learner"):
        tune("no-such-learner", {"dim": [8]}, source="c.txt", metric="analogy", out_dir=tmp_path)
    with pytest.raises(UnknownNameError, match="Word2Vec has no parameter 'windw'"):
        tune("word2vec", {"windw": [2]}, source="c.txt", metric="analogy", out_dir=tmp_path)
    with pytest.raises(UnknownNameError, match="unknown metric 'accuracy'"):
        tune("word2vec", {"window": [2]}, source="c.txt", metric="accuracy", out_dir=tmp_path)
    with pytest.raises(InputError, match="window"):
        tune("word2vec", {"window": [0]}, source="c.txt", metric="analogy", out_dir=tmp_path)
