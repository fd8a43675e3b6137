"""Regenerate the fastText fixtures of tests/store/test_fasttext_bin.py and test_oov.py.

Needs Facebook's fastText Python module (``pip install fasttext-wheel``) and
the WordNet 3.0 database (Debian/Ubuntu: ``apt-get install wordnet-base``).
The tests themselves need neither: they read the files written here.

Writes, next to this script:
  wordnet_sg.bin        skip-gram model (dim 10, bucket 2000, minn 3, maxn 6) trained on
                        WordNet glosses
  wordnet_sup.bin       supervised model (dim 8, bucket 500, minn 2, maxn 4) predicting a
                        gloss's part of speech: a dictionary with labels
  reference.json        the words asked (in-vocabulary and out-of-vocabulary), fastText's
                        subword ids for each, and which model they belong to
  reference_sg.npy      fastText's get_word_vector for reference.json's "sg" words
  reference_sup.npy     the same for the "sup" words
  wordnet_sup_q.ftz     wordnet_sup.bin quantized (`fasttext quantize -qnorm -dsub 3`)
  wordnet_sup_cut.ftz   wordnet_sup.bin quantized and pruned to 400 rows (`-cutoff 400 -dsub 2`)
  reference_sup_q.npy, reference_sup_cut.npy   fastText's vectors for those two

Usage: python tests/data/fasttext/make_fixture.py [--wordnet /usr/share/wordnet]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
POS_FILES = {"noun": "data.noun", "verb": "data.verb", "adj": "data.adj", "adv": "data.adv"}
LINES_PER_POS = {"noun": 2500, "verb": 1500, "adj": 1500, "adv": 1000}

# Out-of-vocabulary probes: misspellings, inflections, non-ASCII (signed-char hashing),
# a one-letter word, and the empty string.
OOV_WORDS = ["recieve", "definately", "organisms", "photosynthesising", "unthinkably",
             "café", "naïve", "straße", "über", "façade", "日本語", "кошка", "δοκιμή",
             "emoji🙂", "x", "", "qwzx", "EXTRAORDINARY", "anti-inflammatory", "</s>"]


def glosses(wordnet: Path) -> dict[str, list[str]]:
    """Return, per part of speech, the gloss lines of the WordNet data files, lowercased."""
    out = {}
    for pos, name in POS_FILES.items():
        lines = []
        with open(wordnet / name, encoding="utf-8", errors="strict") as fh:
            for line in fh:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                gloss = line.split("|", 1)[1].strip().lower()
                gloss = re.sub(r"[^a-z0-9' -]+", " ", gloss)
                gloss = " ".join(gloss.split())
                if gloss:
                    lines.append(gloss)
        out[pos] = lines
    return out


def main() -> None:
    """Train both models, then write them and fastText's reference vectors."""
    import fasttext

    ap = argparse.ArgumentParser()
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    args = ap.parse_args()
    by_pos = glosses(Path(args.wordnet))
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "glosses.txt"
        labelled = Path(tmp) / "labelled.txt"
        chosen = []
        for pos, lines in by_pos.items():
            for line in lines[:LINES_PER_POS[pos]]:
                chosen.append((pos, line))
        rng.shuffle(chosen)
        text.write_text("".join(line + "\n" for _, line in chosen), encoding="utf-8")
        labelled.write_text("".join(f"__label__{pos} {line}\n" for pos, line in chosen), encoding="utf-8")

        sg = fasttext.train_unsupervised(str(text), model="skipgram", dim=10, epoch=3, minCount=8,
                                         bucket=2000, minn=3, maxn=6, thread=1, verbose=0)
        sup = fasttext.train_supervised(str(labelled), dim=8, epoch=3, minCount=8, bucket=500,
                                        minn=2, maxn=4, thread=1, verbose=0)
    sg.save_model(str(HERE / "wordnet_sg.bin"))
    sup.save_model(str(HERE / "wordnet_sup.bin"))
    # quantized copies (.ftz): all rows with quantized norms; and pruned to 400 rows
    sup_q = fasttext.load_model(str(HERE / "wordnet_sup.bin"))
    sup_q.quantize(qnorm=True, cutoff=0, retrain=False, dsub=3)
    sup_q.save_model(str(HERE / "wordnet_sup_q.ftz"))
    sup_cut = fasttext.load_model(str(HERE / "wordnet_sup.bin"))
    sup_cut.quantize(qnorm=False, cutoff=400, retrain=False, dsub=2)
    sup_cut.save_model(str(HERE / "wordnet_sup_cut.ftz"))

    reference = {}
    for tag, model in (("sg", sg), ("sup", sup), ("sup_q", sup_q), ("sup_cut", sup_cut)):
        known = list(model.words)
        words = known + OOV_WORDS
        vecs = np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)
        np.save(HERE / f"reference_{tag}.npy", vecs)
        reference[tag] = {
            "words": words,
            "n_known": len(known),
            "labels": list(model.labels) if tag != "sg" else [],
            "subword_ids": {w: [int(i) for i in model.get_subwords(w)[1]] for w in OOV_WORDS},
        }
    (HERE / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=0) + "\n",
                                         encoding="utf-8")
    for name in ("wordnet_sg.bin", "wordnet_sup.bin", "wordnet_sup_q.ftz", "wordnet_sup_cut.ftz",
                 "reference_sg.npy", "reference_sup.npy", "reference_sup_q.npy", "reference_sup_cut.npy",
                 "reference.json"):
        print(f"{name}: {os.path.getsize(HERE / name):,} bytes")


if __name__ == "__main__":
    main()
