"""The distributed tests proper: run by test_cluster.py inside a private loopback-only network namespace.

One two-node local Ray cluster (head + worker, both 127.0.0.1) serves the module.
Run on its own only through test_cluster.py (it needs the namespace).
"""

import gzip
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.distributed import ShardedIndex, encode, open_sharded, tune, write_shards
from omnivec.distributed import shards as S
from omnivec.distributed.cluster import LocalCluster, connect
from omnivec.errors import KeyNotFound, ShardError
from omnivec.search import build_index

import faulty

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def ray_cluster():
    with LocalCluster(nodes=2, cpus=2, object_store_bytes=120 << 20) as cluster:
        ray = connect(cluster.address)
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield ray
        ray.shutdown()


@pytest.fixture(scope="module")
def glove():
    d = np.load(DATA / "glove6b50d_top2100.npz")
    return omnivec.Embeddings(list(d["keys"]), d["vectors"].astype(np.float32), counts=np.arange(2100, 0, -1))


@pytest.fixture(scope="module")
def sharded(glove, tmp_path_factory):
    return write_shards(glove, tmp_path_factory.mktemp("idx") / "glove.ovs", 3)


@pytest.fixture(scope="module")
def index(ray_cluster, sharded):
    idx = ShardedIndex.build(sharded.manifest.path, "hnsw", M=8, ef_construction=64)
    yield idx
    idx.close()


def test_two_nodes_on_loopback_and_tasks_on_both(ray_cluster):
    nodes = [n for n in ray_cluster.nodes() if n["Alive"]]
    assert len(nodes) == 2
    assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}

    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray_cluster.remote(num_cpus=1)
    def where():
        return ray_cluster.get_runtime_context().get_node_id()

    ids = [n["NodeID"] for n in nodes]
    ran = ray_cluster.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(i, soft=False)).remote()
                           for i in ids])
    assert ran == ids


def test_sharded_index_exact_search_equals_one_exact_search(index, sharded, glove):
    union = sharded.to_embeddings()
    keys = list(glove.keys)[::11]
    got = index.search(keys, k=10, exact=True)
    want = union.search(keys, k=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    assert got.keys == want.keys
    np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-6)
    # approximate: the same recall as one HNSW index over the union with the same parameters
    one = build_index(union, "hnsw", M=8, ef_construction=64)
    exact = [set(r) for r in want.ids.tolist()]
    recall = np.mean([len(set(r) & e) / 10 for r, e in zip(index.search(keys, k=10).ids.tolist(), exact)])
    single = np.mean([len(set(r) & e) / 10 for r, e in zip(one.search(keys, k=10).ids.tolist(), exact)])
    assert recall >= single - 0.02
    # the shard actors ran on both nodes, each holding its shard's rows
    info = index.info()
    assert [i["rows"] for i in info] == [s.rows for s in sharded.manifest.shards]
    assert len({i["node"] for i in info}) == 2


def test_filters_are_pushed_to_the_shards(index, sharded, glove):
    union = sharded.to_embeddings()
    flat = build_index(union, "flat")
    keys = ["king", "the", "paris", "music"]
    for flt in ["counts >= 1500", {"allow": list(glove.keys)[:300]}, {"deny": ["queen", "prince", "a"]},
                {"where": ["counts < 1000", "row >= 400"]}]:
        got = index.search(keys, k=5, filter=flt, exact=True)
        want = flat.search(keys, k=5, filter=flt, exact=True)
        assert got.keys == want.keys, flt
    mask = np.zeros(len(union), bool)
    mask[::3] = True
    assert index.search(keys, k=5, filter=mask, exact=True).keys == flat.search(keys, k=5, filter=mask).keys
    with pytest.raises(KeyNotFound, match="no-such-word"):
        index.search(keys, k=5, filter={"allow": ["no-such-word", "king"]})


def test_a_killed_shard_actor_fails_the_search_naming_the_shard(index, sharded):
    keys = ["king", "queen"]
    before = index.search(keys, k=5)
    pid = index.info()[1]["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)
    with pytest.raises(ShardError, match=r"shard 1 of 3 \(.*glove-00001-of-00003\.ov\): its actor died") as err:
        index.search(np.stack([sharded["king"], sharded["queen"]]), k=5)
    assert err.value.shards == [1]
    index.restart(1)
    assert index.search(keys, k=5).keys == before.keys


def test_encode_survives_a_killed_worker_without_lost_or_repeated_rows(ray_cluster, tmp_path):
    model = faulty.static_model(tmp_path / "static.ov")
    with gzip.open(DATA / "words" / "wordnet_glosses.txt.gz", "rt", encoding="utf-8") as fh:
        texts = [line.rstrip("\n") for line in fh][:2000]
    marker = tmp_path / "killed"
    table = encode(texts, faulty.KillOnce(model, marker, at=2), tmp_path / "out", workers=2, shards=3,
                   batch_size=200, cpus_per_worker=0.5)
    assert marker.exists()                      # a worker did die in the middle of a batch
    assert len(table) == len(texts) and table.n_shards == 3
    ids = np.arange(len(texts))
    assert table.manifest.ids_checksum == S.ids_checksum(S.key_hashes(ids))
    assert sorted(int(k) for k in table) == ids.tolist()
    assert omnivec.verify(table.manifest.path)["ok"]
    reference = omnivec.open(model).encode(texts)
    rows = [0, 1, 777, 1999]
    np.testing.assert_allclose(table.vectors_of(rows), reference[rows], rtol=0, atol=1e-6)
    assert open_sharded(table.manifest.path).text(5) == texts[5]      # each row keeps its text


def test_tune_keeps_every_trials_model_and_picks_the_best(ray_cluster, tmp_path):
    with gzip.open(DATA / "words" / "wordnet_glosses.txt.gz", "rt", encoding="utf-8") as fh:
        lines = [line for line in fh][:1500]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(lines), encoding="utf-8")
    pairs = DATA / "words" / "wordsim353.tsv"
    result = tune("word2vec", {"window": [2, 5]}, source=str(corpus), metric="similarity",
                  metric_args={"pairs": str(pairs)}, fixed={"dim": 16, "epochs": 1, "min_count": 2, "seed": 3},
                  out_dir=tmp_path / "sweep")
    assert len(result.trials) == 2
    assert sorted(t["params"]["window"] for t in result.trials) == [2, 5]
    from omnivec.evaluate.similarity import evaluate_similarity

    for t in result.trials:
        kept = omnivec.open(t["path"])           # each trial's model is kept, and scores as reported
        assert kept.meta["params"]["window"] == t["params"]["window"]
        assert evaluate_similarity(kept, str(pairs)).spearman == pytest.approx(t["score"])
    assert result.best["score"] == max(t["score"] for t in result.trials)
    assert (tmp_path / "sweep" / "tune.json").is_file()
