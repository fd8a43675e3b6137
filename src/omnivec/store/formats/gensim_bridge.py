"""gensim KeyedVectors as in-memory objects only.

gensim's own files are pickles and are never loaded: load them with gensim,
then pass the object to `from_gensim`; `to_gensim` goes the other way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError, require


def from_gensim(kv: Any, *, metric: str = "cosine", storage: str = "float32", name: str = "embeddings") -> Any:
    """Return Embeddings holding a gensim KeyedVectors' keys, vectors and counts (a copy).

    A FastTextKeyedVectors also brings its n-gram buckets as the subword table.
    gensim's files are pickles: load them with gensim, then pass the object here.
    """
    from ...embeddings import Embeddings
    from ...core.subwords import Subwords

    if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
        raise InputError(f"from_gensim expects a gensim KeyedVectors (or a model's .wv); got "
                         f"{type(kv).__name__}")
    keys = list(kv.index_to_key)
    vectors = np.asarray(kv.vectors)
    counts = None
    if keys and "count" in getattr(kv, "expandos", {}):
        c = np.asarray(kv.expandos["count"])
        if len(c) == len(keys) and c.dtype.kind in "iu" and c.any():
            counts = c.astype(np.int64)
    subwords = None
    ngrams = getattr(kv, "vectors_ngrams", None)
    if ngrams is not None and getattr(kv, "bucket", 0):
        vocab = getattr(kv, "vectors_vocab", None)
        subwords = Subwords(minn=int(kv.min_n), maxn=int(kv.max_n), bucket=int(kv.bucket),
                            vectors=np.ascontiguousarray(ngrams, np.float32),
                            word_vectors=None if vocab is None else np.ascontiguousarray(vocab, np.float32))
    meta = {"source": {"format": "gensim", "class": type(kv).__name__}}
    return Embeddings(keys, vectors, metric=metric, counts=counts, meta=meta, storage=storage,
                      subwords=subwords, name=name)


def to_gensim(emb: Any) -> Any:
    """Return a gensim KeyedVectors with the keys, float32 vectors and counts of `emb` (a copy)."""
    models = require("gensim.models", "gensim", "Converting to gensim KeyedVectors")
    kv = models.KeyedVectors(emb.dim, count=0, dtype=np.float32)
    keys = [k if isinstance(k, str) else int(k) for k in emb.keys]
    vecs = np.empty((len(emb), emb.dim), np.float32)
    for s, blk in emb.store.iter_chunks():
        vecs[s:s + len(blk)] = blk
    kv.add_vectors(keys, vecs)
    if emb.counts is not None:
        for k, c in zip(keys, np.asarray(emb.counts).tolist()):
            kv.set_vecattr(k, "count", c)
    return kv
