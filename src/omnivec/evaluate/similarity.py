"""Word-pair similarity: Spearman and Pearson correlation with human scores, OOV ratio.

Files: WordSim353, SimLex-999, MEN, RW, MTurk, RG65 — two words and a score
per line, separated by tabs, spaces or commas; ``#`` comments and a header
line are skipped.  SimLex-999's original file (score in its 'SimLex999'
column) and MEN's POS-tagged form (``sun-n``) are read too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..embeddings import Embeddings
from ..errors import InputError, ParseError
from ._words import WordView

_SPLIT = re.compile(r"[\t,; ]+")
_POS = re.compile(r"-[nvja]$")


def rankdata(x: np.ndarray) -> np.ndarray:
    """Return the ranks of x (1-based, ties get their average rank), as scipy's rankdata."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    xs = x[order]
    # group runs of equal values and give each run its mean position
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Return Pearson's correlation of x and y (nan when either is constant or shorter than 2)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if len(x) != len(y):
        raise InputError(f"pearson needs equal lengths; got {len(x)} and {len(y)}")
    if len(x) < 2:
        return float("nan")
    xc = x - x.mean()
    yc = y - y.mean()
    den = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / den) if den > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Return Spearman's rank correlation (Pearson of average ranks, ties handled)."""
    return pearson(rankdata(x), rankdata(y))


@dataclass
class SimilarityResult:
    """Correlations between model cosines and human scores over the pairs in the vocabulary."""

    spearman: float
    pearson: float
    pairs: int       # pairs in the file
    used: int        # pairs with both words in the vocabulary

    @property
    def oov(self) -> int:
        """Return the number of pairs skipped for an unknown word."""
        return self.pairs - self.used

    @property
    def oov_ratio(self) -> float:
        """Return the fraction of pairs skipped for an unknown word."""
        return self.oov / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict:
        """Return a JSON-able summary."""
        return {"spearman": self.spearman, "pearson": self.pearson, "pairs": self.pairs,
                "used": self.used, "oov": self.oov, "oov_ratio": self.oov_ratio}


def _number(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def read_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """Return [(word1, word2, score), ...] from a word-similarity file."""
    p = str(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read similarity file {p!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid UTF-8 ({exc.reason}); expected a UTF-8 text file", path=p,
                         line=raw.count(b"\n", 0, exc.start) + 1, offset=exc.start) from None
    col = 2
    pairs: list[tuple[str, str, float]] = []
    seen_data = False
    strip_pos = False
    for no, ln in enumerate(text.split("\n"), 1):
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        parts = _SPLIT.split(s)
        if not seen_data and (len(parts) < 3 or _number(parts[2]) is None or
                              any(h in s.lower() for h in ("word1", "word 1"))):
            # a header: find the score column by name where it is named (SimLex-999)
            low = [x.lower() for x in parts]
            if "simlex999" in low:
                col = low.index("simlex999")
            seen_data = True
            continue
        seen_data = True
        if len(parts) <= col:
            raise ParseError(f"expected two words and a score, found {len(parts)} fields: {s[:80]!r}",
                             path=p, line=no)
        v = _number(parts[col])
        if v is None:
            raise ParseError(f"expected a number in field {col + 1}, found {parts[col]!r}", path=p, line=no)
        pairs.append((parts[0], parts[1], v))
        if len(pairs) == 1:
            strip_pos = bool(_POS.search(parts[0]) and _POS.search(parts[1]))
        elif strip_pos and not (_POS.search(parts[0]) and _POS.search(parts[1])):
            strip_pos = False
    if not pairs:
        raise ParseError("no word pairs found; expected lines 'word1 word2 score'", path=p)
    if strip_pos:
        pairs = [(_POS.sub("", a), _POS.sub("", b), v) for a, b, v in pairs]
    return pairs


def evaluate_similarity(emb: Embeddings, pairs, *, restrict_vocab: int | None = 300000,
                        case_insensitive: bool = True) -> SimilarityResult:
    """Return Spearman/Pearson correlations of cosine similarity with the human scores of `pairs`.

    `pairs` is a file path or read_pairs' output; pairs with a word outside
    the (restricted) vocabulary are skipped and counted, as gensim does.
    """
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_pairs(pairs)
    view = WordView(emb, restrict_vocab, case_insensitive)
    model, human = [], []
    for a, b, v in pairs:
        ra, rb = view.row(a), view.row(b)
        if ra < 0 or rb < 0:
            continue
        model.append(float(view.unit[ra] @ view.unit[rb]))
        human.append(v)
    return SimilarityResult(spearman=spearman(model, human) if len(model) > 1 else float("nan"),
                            pearson=pearson(model, human) if len(model) > 1 else float("nan"),
                            pairs=len(pairs), used=len(model))
