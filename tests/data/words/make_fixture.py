"""Rebuild the fixtures of this folder (run by hand; tests never run it).

wordnet_glosses.txt.gz: glosses (definitions and examples) of WordNet 3.0 as
Debian's wordnet-base installs them (/usr/share/wordnet/data.*), lower-cased,
tokens [a-z0-9']+, one gloss per line, nouns/verbs/adjectives/adverbs
interleaved, the first ~120,000 tokens.  The evaluation files are copied (or
cut) from ../shared/data/eval.
"""

import gzip
import itertools
import re
import shutil
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
EVAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "eval"
HERE = Path(__file__).resolve().parent
TOKENS = 120_000


def glosses(pos: str) -> list[str]:
    tok = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
    out = []
    for line in open(WORDNET / f"data.{pos}", encoding="latin-1"):
        if line.startswith("  ") or "| " not in line:
            continue   # licence header lines start with two spaces
        t = tok.findall(line.split("| ", 1)[1].lower())
        if t:
            out.append(" ".join(t))
    return out


def main() -> None:
    lines, n = [], 0
    for tup in itertools.zip_longest(*(glosses(p) for p in ("noun", "verb", "adj", "adv"))):
        for x in tup:
            if x:
                lines.append(x)
                n += len(x.split())
        if n >= TOKENS:
            break
    with gzip.GzipFile(HERE / "wordnet_glosses.txt.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    shutil.copy(EVAL / "gensim" / "wordsim353.tsv", HERE / "wordsim353.tsv")
    shutil.copy(EVAL / "gensim" / "simlex999.txt", HERE / "simlex999.txt")
    keep, take = [], False
    for line in open(EVAL / "gensim" / "questions-words.txt"):
        if line.startswith(":"):
            take = line.strip() in (": family", ": gram2-opposite")
        if take:
            keep.append(line)
    (HERE / "questions-words-family-opposite.txt").write_text("".join(keep))
    msr = open(EVAL / "mangoes" / "msr_analogy_all.txt").read().splitlines()[:200]
    (HERE / "msr_analogy_200.txt").write_text("\n".join(msr) + "\n")
    men = open(EVAL / "mangoes" / "men.txt").read().splitlines()[:300]
    (HERE / "men_300.txt").write_text("\n".join(men) + "\n")


if __name__ == "__main__":
    main()
