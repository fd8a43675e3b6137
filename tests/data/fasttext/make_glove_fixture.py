"""Regenerate glove_top20k.f16.npy and glove_top20k.keys.txt: GloVe 6B 50d, its 20,000 most frequent words.

GloVe (Pennington, Socher and Manning, 2014) is under the Public Domain
Dedication and License (PDDL).  Reads the word2vec text file
``glove6b50d_top50k.w2v.txt.gz`` (the 50,000 most frequent words, in the
original frequency order) and keeps the first 20,000 rows as float16.

Usage: python tests/data/fasttext/make_glove_fixture.py PATH/glove6b50d_top50k.w2v.txt.gz
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N = 20000


def main(src: str) -> None:
    """Write the fixture from the word2vec text file at `src`."""
    keys, rows = [], []
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        n, dim = map(int, fh.readline().split())
        for line in fh:
            parts = line.rstrip("\n").split(" ")
            keys.append(parts[0])
            rows.append(np.asarray(parts[1:], np.float32))
            if len(keys) == N:
                break
    vectors = np.stack(rows)
    assert vectors.shape == (N, dim)
    np.save(HERE / "glove_top20k.f16.npy", vectors.astype(np.float16))
    (HERE / "glove_top20k.keys.txt").write_text("".join(k + "\n" for k in keys), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
