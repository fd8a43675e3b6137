"""Real fixtures for the explorer tests: GloVe 6B 50d words from tests/data."""

from pathlib import Path

import numpy as np

import omnivec

DATA = Path(__file__).resolve().parents[1] / "data"


def glove2100() -> omnivec.Embeddings:
    d = np.load(DATA / "glove6b50d_top2100.npz")
    return omnivec.Embeddings([str(k) for k in d["keys"]], d["vectors"].astype(np.float32), name="glove2100")


def glove20k() -> omnivec.Embeddings:
    keys = (DATA / "fasttext" / "glove_top20k.keys.txt").read_text("utf-8").split("\n")[:20000]
    X = np.load(DATA / "fasttext" / "glove_top20k.f16.npy").astype(np.float32)
    return omnivec.Embeddings(keys, X, name="glove20k")
