"""Retrofitting word vectors to a lexicon (Faruqui et al. 2015, "Retrofitting Word Vectors to Semantic
Lexicons").

Each word the lexicon links to others moves towards its neighbours while
staying near where it started: it minimises

    sum_i [ alpha_i |q_i - q^_i|^2 + sum_{j in N(i)} beta_ij |q_i - q_j|^2 ]

by the paper's update q_i = (alpha_i q^_i + sum_j beta_ij q_j) / (alpha_i + sum_j beta_ij), with the
authors' weights: alpha_i = alpha * deg(i), beta_ij = beta (so alpha = beta = 1 gives their
(deg q^_i + sum_j q_j) / (2 deg)).  The updates are Jacobi sweeps (every word from the previous
sweep, one sparse product per sweep), which reach the same fixed point as the authors' in-place loop
and take a second or two for 400,000 words.  Words outside the lexicon keep their vectors.

Lexicon files are the paper's format: one word per line followed by its neighbours, separated by
spaces (`.gz` read as is), words lower-cased by default as the authors do.  `wordnet_lexicon`
builds the WordNet synonym lexicon from the WordNet 3.0 database files (Debian's `wordnet-base`
installs them in /usr/share/wordnet): ``python -m omnivec.transform.retrofit wordnet -o wn.txt``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..core.vectors import VectorStore
from ..embeddings import Embeddings
from .._textlines import utf8_lines
from ..errors import FormatError, InputError

WORDNET_DIR = "/usr/share/wordnet"
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")


def read_lexicon(path: str | os.PathLike, *, lowercase: bool = True) -> dict[str, list[str]]:
    """Return {word: neighbours} of a lexicon file (one word and its neighbours per line, spaces between).

    A word on several lines gathers all their neighbours (each once, in
    order); a word listed as its own neighbour is dropped.  Bytes that are not
    UTF-8 raise EncodingError naming the file and line.
    """
    path = os.fspath(path)
    out: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    for _, line in utf8_lines(path, "lexicon"):
        words = (line.lower() if lowercase else line).split()
        if not words:
            continue
        head, rest = words[0], words[1:]
        lst = out.setdefault(head, [])
        have = seen.setdefault(head, set())
        for w in rest:
            if w != head and w not in have:
                have.add(w)
                lst.append(w)
    if not out:
        raise InputError(f"{path}: the lexicon holds no words")
    return out


def retrofit(emb: Embeddings, lexicon: Mapping[str, Sequence[str]] | str | os.PathLike, *,
             iterations: int = 10, alpha: float = 1.0, beta: float = 1.0, lowercase: bool = True) -> Embeddings:
    """Return a new table: `emb` retrofitted to `lexicon` (a mapping word -> neighbours, or a lexicon file).

    meta["retrofit"] records the lexicon, the settings and the counts: lexicon
    words in the table, words moved, links used, and lexicon words the table
    lacks (which are skipped).
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError(f"iterations must be an int >= 1; got {iterations!r}")
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise InputError(f"{name} must be a positive number; got {v!r}")
    source = None
    if isinstance(lexicon, (str, os.PathLike)):
        source = os.fspath(lexicon)
        lexicon = read_lexicon(lexicon, lowercase=lowercase)
    if not isinstance(lexicon, Mapping) or not lexicon:
        raise InputError("the lexicon is empty: give a mapping of word -> neighbours or a lexicon file")
    start = time.perf_counter()
    rows_of = emb.keys.row
    src, dst = [], []
    absent = 0
    for word, neighbours in lexicon.items():
        i = rows_of(word)
        if i < 0:
            absent += 1
            continue
        for w in neighbours:
            j = rows_of(w)
            if j >= 0 and j != i:
                src.append(i)
                dst.append(j)
    Q0 = np.asarray(emb.vectors, np.float64)
    Q = Q0.copy()
    moved = np.unique(np.asarray(src, np.int64))
    if len(moved):
        from scipy import sparse

        A = sparse.csr_matrix((np.ones(len(src)), (np.asarray(src), np.asarray(dst))), shape=(len(emb), len(emb)))
        A.sum_duplicates()
        A.data[:] = 1.0                                    # a link given twice counts once
        deg = np.asarray(A.sum(axis=1)).ravel()[moved]
        A = A[moved]
        keep = (alpha * deg)[:, None] * Q0[moved]
        denom = ((alpha + beta) * deg)[:, None]
        for _ in range(iterations):
            Q[moved] = (keep + beta * (A @ Q)) / denom
    meta = dict(emb.meta)
    meta["retrofit"] = {"lexicon": source, "iterations": iterations, "alpha": alpha, "beta": beta,
                        "lexicon_words": len(lexicon), "lexicon_words_absent": absent,
                        "words_moved": int(len(moved)), "links": int(len(set(zip(src, dst)))),
                        "seconds": time.perf_counter() - start}
    return Embeddings.from_parts(name=emb.name, keys=emb.keys, store=VectorStore.encode(Q.astype(np.float32)),
                                 metric=emb.metric, counts=emb.counts, meta=meta, extras=dict(emb.extras),
                                 texts=emb.texts, fitted=dict(emb.fitted))


def wordnet_lexicon(wordnet_dir: str | os.PathLike = WORDNET_DIR) -> dict[str, list[str]]:
    """Return the WordNet synonym lexicon: each lemma -> the other lemmas of every synset it is in.

    Reads the WordNet 3.0 database files data.noun, data.verb, data.adj and
    data.adv (Debian: `apt install wordnet-base`); lemmas lower-cased, their
    underscores kept (multi-word lemmas like ``ice_cream``), adjective
    markers such as ``(a)`` dropped.
    """
    base = Path(wordnet_dir)
    missing = [f for f in WORDNET_FILES if not (base / f).exists()]
    if missing:
        raise InputError(f"{base}: no WordNet database files ({', '.join(missing)} missing); on Debian or "
                         "Ubuntu `apt install wordnet-base` puts them in /usr/share/wordnet")
    lex: dict[str, dict[str, None]] = {}
    for fname in WORDNET_FILES:
        with open(base / fname, "rb") as fh:
            for no, raw in enumerate(fh, 1):
                if raw.startswith(b"  "):          # the licence header
                    continue
                parts = raw.decode("utf-8", "replace").split()
                try:
                    n = int(parts[3], 16)
                    words = [parts[4 + 2 * k].lower().split("(")[0] for k in range(n)]
                except (IndexError, ValueError):
                    raise FormatError(f"line {no} is not a WordNet synset record", path=str(base / fname)) from None
                for w in words:
                    group = lex.setdefault(w, {})
                    for v in words:
                        if v != w:
                            group[v] = None
    return {w: list(v) for w, v in lex.items() if v}


def write_lexicon(lexicon: Mapping[str, Iterable[str]], path: str | os.PathLike) -> int:
    """Write a lexicon in the paper's format (atomically); return the number of lines."""
    from .._atomic import atomic_path

    lines = [" ".join([w, *ns]) + "\n" for w, ns in sorted(lexicon.items())]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m omnivec.transform.retrofit wordnet [-d DIR] -o LEXICON``: write the WordNet synonym lexicon."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m omnivec.transform.retrofit",
                                 description="Write the WordNet synonym lexicon for retrofitting.")
    ap.add_argument("what", choices=["wordnet"])
    ap.add_argument("-d", "--wordnet-dir", default=WORDNET_DIR)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        n = write_lexicon(wordnet_lexicon(args.wordnet_dir), args.output)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {n:,} words with their WordNet synonyms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
