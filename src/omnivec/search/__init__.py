"""Nearest-neighbour search over Embeddings: exact top-k and indexes (flat, HNSW, IVF-PQ).

    idx = build_index(emb, "hnsw", M=16)          # or "flat", "ivfpq"
    found = idx.search(vectors_or_keys, k=10, filter=Filter(where="counts >= 5"))  # Neighbors
    idx.save(index_path(model_path, "hnsw"))      # model.ov.hnsw, beside the model
    emb.attach(open_index(index_path(model_path, "hnsw"), emb))   # approx=True queries use it
    verify_index(index_path(model_path, "hnsw"))  # {"ok": ..., "checks": [...], "problems": [...]}

Over texts: a sparse BM25 index, fusion of ranked lists, and re-ranking.

    bm25 = BM25().fit_table(emb)                  # or .fit(texts, keys=...); Tokenizer() splits words
    bm25.save(bm25_path(model_path))              # model.ov.bm25
    hybrid = rrf([bm25.search(texts, k=100), emb.search(vectors, k=100)], k=10)   # or convex(...)
    best = rerank(texts, hybrid, texts=doc_texts, scorer=pair_scorer)

The engines (usearch, faiss) are imported only when an index of theirs is built or opened, and
see an index file's bytes only after its CRC-32s and structural checks passed (`integrity`).
"""

from .filters import Condition, Filter
from ..core.neighbors import Neighbors
from .index import BACKENDS, Index, build_index, find_index, get_backend, index_path, open_index
from . import flat, hnsw, ivfpq  # noqa: E402,F401  - registers the backends
from .integrity import read_index_file, verify_index
from .text import Tokenizer
from .bm25 import BM25, bm25_path, verify_bm25
from .fusion import convex, rrf
from .rerank import CrossEncoderReranker, rerank

__all__ = ["BACKENDS", "BM25", "Condition", "CrossEncoderReranker", "Filter", "Index", "Neighbors", "Tokenizer",
           "bm25_path", "build_index", "convex", "find_index", "get_backend", "index_path", "open_index",
           "read_index_file", "rerank", "rrf", "verify_bm25", "verify_index"]

# several vectors per key: late-interaction MaxSim and the MUVERA index
from .multivector import MultiVectors  # noqa: E402
from .muvera import FDEEncoder, MuveraIndex, open_muvera  # noqa: E402

__all__ += ["FDEEncoder", "MultiVectors", "MuveraIndex", "open_muvera"]
