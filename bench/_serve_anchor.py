"""The anchor of bench/serve_load.py: the FastAPI app a user writes around gensim's KeyedVectors.

Each uvicorn worker process loads its own copy of the vectors (KeyedVectors.load), as such
apps do.  Run: OMNIVEC_BENCH_KV=glove.kv uvicorn _serve_anchor:app --workers 2
"""

from __future__ import annotations

import os
import re
from typing import Optional, Union

import numpy as np
from fastapi import FastAPI, HTTPException
from gensim.models import KeyedVectors
from pydantic import BaseModel

kv = KeyedVectors.load(os.environ["OMNIVEC_BENCH_KV"])
kv.fill_norms()
WORD = re.compile(r"\w+|[^\w\s]+")
app = FastAPI()


class Keys(BaseModel):
    keys: list[str]


class Similar(BaseModel):
    positive: list[str]
    k: int = 10


class Search(BaseModel):
    vectors: list[list[float]]
    k: int = 10


class Embed(BaseModel):
    input: Union[str, list[str]]
    model: Optional[str] = None


@app.post("/vectors")
def vectors(body: Keys):
    missing = [k for k in body.keys if k not in kv.key_to_index]
    if missing:
        raise HTTPException(404, f"unknown key {missing[0]!r}")
    return {"vectors": kv[body.keys].tolist()}


@app.post("/most_similar")
def most_similar(body: Similar):
    try:
        found = kv.most_similar(positive=body.positive, topn=body.k)
    except KeyError as exc:
        raise HTTPException(404, str(exc))
    return {"results": [{"key": k, "score": float(s)} for k, s in found]}


@app.post("/search")
def search(body: Search):
    out = []
    for v in body.vectors:
        found = kv.similar_by_vector(np.asarray(v, np.float32), topn=body.k)
        out.append([{"key": k, "score": float(s)} for k, s in found])
    return {"results": out}


@app.post("/v1/embeddings")
def embeddings(body: Embed):
    texts = [body.input] if isinstance(body.input, str) else body.input
    data = []
    for i, t in enumerate(texts):
        rows = [kv.key_to_index[w] for w in WORD.findall(t.lower()) if w in kv.key_to_index]
        v = kv.vectors[rows].mean(axis=0) if rows else np.zeros(kv.vector_size, np.float32)
        n = np.linalg.norm(v)
        data.append({"object": "embedding", "index": i, "embedding": (v / n if n > 0 else v).tolist()})
    return {"object": "list", "data": data, "model": body.model}
