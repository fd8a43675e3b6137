"""Scale out: sharded tables, and on a Ray cluster sharded indexes, encoding and sweeps.

    write_shards(emb, "big.ovs", shards=4)         # 4 model files + the manifest big.ovs
    t = open_sharded("big.ovs")                   # one table: len, t["key"], t.search(...), most_similar
    idx = ShardedIndex.build("big.ovs", "hnsw", ray_address="127.0.0.1:6379")   # a Ray task per shard
    found = idx.search(vectors, k=10, filter="counts >= 5")   # an actor per shard, merged top-k
    encode(texts, "static.ov", "out/", ray_address=...)       # Ray Data, shards written without duplicates
    tune("word2vec", {"window": [2, 5]}, source=..., metric="analogy", ray_address=...)

Sharded tables need only numpy; the rest needs Ray (`pip install 'omnivec[ray]'`),
imported when first used.
"""

from __future__ import annotations

from .shards import (Manifest, ShardedTable, is_manifest, open_sharded, read_manifest, shard_of,
                     write_shards)

_LAZY = {
    "ShardedIndex": "omnivec.distributed.index:ShardedIndex",
    "encode": "omnivec.distributed.encoding:encode",
    "tune": "omnivec.distributed.sweeps:tune",
    "TuneResult": "omnivec.distributed.sweeps:TuneResult",
}

__all__ = ["Manifest", "ShardedTable", "is_manifest", "open_sharded", "read_manifest", "shard_of",
           "write_shards", *sorted(_LAZY)]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'omnivec.distributed' has no attribute {name!r}")
    from .._registry import resolve
    return resolve(target)
