"""Benchmark data shared by the bench/ scripts: fixed-seed vector sets and their files.

`synthetic_vectors` builds clustered float32 data (points scattered around
random centres), so that nearest neighbours are meaningful rather than the
near-ties of i.i.d. noise.  Files are cached under bench/out/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from numba import njit

OUT = Path(__file__).resolve().parent / "out"


def synthetic_vectors(n: int, d: int, seed: int = 0, clusters: int = 1000) -> np.ndarray:
    """Return an (n x d) float32 array of points around `clusters` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    out = np.empty((n, d), np.float32)
    step = 100_000
    for s in range(0, n, step):
        e = min(n, s + step)
        which = rng.integers(0, clusters, e - s)
        out[s:e] = centres[which] + 0.6 * rng.standard_normal((e - s, d)).astype(np.float32)
    return out


def synthetic_keys(n: int, seed: int = 0) -> list[str]:
    """Return n distinct word-like lowercase keys (3 to 14 letters)."""
    rng = np.random.default_rng(seed + 1)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
    keys: list[str] = []
    seen: set[str] = set()
    while len(keys) < n:
        m = n - len(keys)
        lens = rng.integers(3, 15, m)
        chars = letters[rng.integers(0, 26, (m, 14))]
        for row, ln in zip(chars, lens):
            k = row[:ln].tobytes().decode()
            if k not in seen:
                seen.add(k)
                keys.append(k)
    return keys


@njit(cache=True)
def _format_rows(vectors, out):
    # "%.6f"-style text for each value, space separated; returns bytes written per row end.
    n, d = vectors.shape
    pos = 0
    ends = np.empty(n, np.int64)
    for i in range(n):
        for j in range(d):
            out[pos] = 32  # space before each value
            pos += 1
            v = vectors[i, j]
            if v < 0:
                out[pos] = 45
                pos += 1
                v = -v
            scaled = np.int64(v * 1e6 + 0.5)
            ip = scaled // 1000000
            fp = scaled % 1000000
            # integer part
            digits = np.empty(20, np.uint8)
            k = 0
            if ip == 0:
                digits[0] = 48
                k = 1
            while ip > 0:
                digits[k] = 48 + ip % 10
                ip //= 10
                k += 1
            for t in range(k - 1, -1, -1):
                out[pos] = digits[t]
                pos += 1
            out[pos] = 46
            pos += 1
            div = 100000
            for _ in range(6):
                out[pos] = 48 + (fp // div) % 10
                pos += 1
                div //= 10
        out[pos] = 10
        pos += 1
        ends[i] = pos
    return ends


def write_word2vec_text(path: Path, keys: list[str], vectors: np.ndarray) -> None:
    """Write keys + vectors as word2vec text ("n d" header, then "key v1 ... vd" lines)."""
    n, d = vectors.shape
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "wb") as fh:
        fh.write(f"{n} {d}\n".encode())
        step = 20_000
        buf = np.empty(step * d * 12 + step, np.uint8)
        for s in range(0, n, step):
            e = min(n, s + step)
            ends = _format_rows(np.ascontiguousarray(vectors[s:e]), buf)
            starts = np.concatenate([[0], ends[:-1]])
            body = buf[:ends[-1]].tobytes()
            fh.write(b"".join(keys[s + i].encode() + body[starts[i]:ends[i]] for i in range(e - s)))
    os.replace(tmp, path)


def dataset(n: int, d: int, seed: int = 0) -> tuple[list[str], np.ndarray, Path]:
    """Return (keys, vectors, word2vec text path) for the cached benchmark set of n x d."""
    OUT.mkdir(exist_ok=True)
    keys = synthetic_keys(n, seed)
    vectors = synthetic_vectors(n, d, seed)
    path = OUT / f"synthetic_{n}x{d}_s{seed}.w2v.txt"
    if not path.exists():
        write_word2vec_text(path, keys, vectors)
    return keys, vectors, path


IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "imdb_reviews.tsv.gz"


def imdb_word2vec(corpus: Path = IMDB, max_tokens: int | None = None, rebuild: bool = False,
                  progress: bool | None = None) -> tuple[Path, float | None]:
    """Return (model file, training seconds or None when cached): word2vec CBOW trained on the IMDB reviews.

    Real word vectors from the shared corpus (dim 100, window 5, min_count 5,
    5 epochs, 2 workers), cached under bench/out/ for the benches that search
    or map them.
    """
    from omnivec.learn import Word2Vec

    model = OUT / ("explore_imdb_w2v.ov" if not max_tokens else f"imdb_w2v_{max_tokens}.ov")
    if model.exists() and not rebuild:
        return model, None
    tokens = imdb_tokens(max_tokens, corpus)[0]
    t = time.perf_counter()
    emb = Word2Vec(dim=100, window=5, min_count=5, architecture="cbow", epochs=5, workers=2,
                   progress=progress).fit(tokens)
    emb.save(model)
    return model, time.perf_counter() - t


def imdb_tokens(max_tokens: int | None = None, corpus: Path = IMDB) -> tuple[Path, int]:
    """Return (token file, tokens): the IMDB reviews, one lower-cased review per line, `<br />` removed.

    Cached under bench/out/ by token budget; stops after the review that reaches max_tokens.
    """
    import gzip
    import re

    OUT.mkdir(exist_ok=True)
    path = OUT / f"imdb_tokens_{max_tokens or 'all'}.txt"
    if path.exists():
        with open(path) as fh:
            return path, sum(len(line.split()) for line in fh)
    tok = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
    n = 0
    tmp = path.with_suffix(".tmp")
    with gzip.open(corpus, "rt", encoding="utf-8") as f, open(tmp, "w") as out:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5 or parts[0] == "split":
                continue
            t = tok.findall(parts[4].replace("<br />", " ").lower())
            out.write(" ".join(t) + "\n")
            n += len(t)
            if max_tokens and n >= max_tokens:
                break
    tmp.rename(path)
    return path, n
