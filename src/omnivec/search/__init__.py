"""Nearest-neighbour search over Embeddings: exact top-k and indexes (flat, HNSW, IVF-PQ).

    idx = build_index(emb, "hnsw", M=16)          # or "flat", "ivfpq"
    found = idx.search(vectors_or_keys, k=10, filter=Filter(where="counts >= 5"))  # Neighbors
    idx.save(index_path(model_path, "hnsw"))      # model.ov.hnsw, beside the model
    emb.attach(open_index(index_path(model_path, "hnsw"), emb))   # approx=True queries use it
    verify_index(index_path(model_path, "hnsw"))  # {"ok": ..., "checks": [...], "problems": [...]}

The engines (usearch, faiss) are imported only when an index of theirs is built or opened, and
see an index file's bytes only after its CRC-32s and structural checks passed (`integrity`).
"""

from .filters import Condition, Filter
from ..core.neighbors import Neighbors
from .index import BACKENDS, Index, build_index, find_index, get_backend, index_path, open_index
from . import flat, hnsw, ivfpq  # noqa: E402,F401  - registers the backends
from .integrity import read_index_file, verify_index

__all__ = ["BACKENDS", "Condition", "Filter", "Index", "Neighbors", "build_index", "find_index",
           "get_backend", "index_path", "open_index", "read_index_file", "verify_index"]

# several vectors per key: late-interaction MaxSim and the MUVERA index
from .multivector import MultiVectors  # noqa: E402
from .muvera import FDEEncoder, MuveraIndex, open_muvera  # noqa: E402

__all__ += ["FDEEncoder", "MultiVectors", "MuveraIndex", "open_muvera"]
