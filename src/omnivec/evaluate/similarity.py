"""Word-pair similarity: Spearman and Pearson correlation with human scores, OOV ratio.

Files: WordSim353, SimLex-999, MEN, RW, MTurk, RG65 — two words and a score
per line, separated by tabs, spaces or commas; ``#`` comments and a header
line are skipped.  SimLex-999's original file (score in its 'SimLex999'
column) and MEN's POS-tagged form (``sun-n``) are read too.
"""

from __future__ import annotations

import math
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


def _betacf(a: float, b: float, x: float) -> float:
    """Return the continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Return the regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r: float, n: int) -> float:
    """Return the two-sided p-value of a correlation r over n pairs (Student's t, n - 2 degrees).

    The test scipy's pearsonr and spearmanr report: t = r sqrt((n-2) / (1-r^2)).
    """
    if n < 3 or not math.isfinite(r):
        return float("nan")
    r = max(-1.0, min(1.0, r))
    if abs(r) == 1.0:
        return 0.0
    df = n - 2
    t2 = r * r * df / (1.0 - r * r)
    return _betainc(0.5 * df, 0.5, df / (df + t2))


@dataclass
class SimilarityResult:
    """Correlations between model cosines and human scores over the pairs in the vocabulary."""

    spearman: float
    pearson: float
    pairs: int       # pairs in the file
    used: int        # pairs with both words in the vocabulary
    skipped: int = 0  # malformed lines passed over (skip_bad=True)
    scored: int = -1  # pairs in the correlation: `used`, plus the unknown ones with dummy4unknown

    def __post_init__(self) -> None:
        if self.scored < 0:
            self.scored = self.used

    @property
    def spearman_pvalue(self) -> float:
        """Return the two-sided p-value of the Spearman correlation (as scipy's spearmanr)."""
        return correlation_pvalue(self.spearman, self.scored)

    @property
    def pearson_pvalue(self) -> float:
        """Return the two-sided p-value of the Pearson correlation (as scipy's pearsonr)."""
        return correlation_pvalue(self.pearson, self.scored)

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
        return {"spearman": self.spearman, "pearson": self.pearson, "spearman_pvalue": self.spearman_pvalue,
                "pearson_pvalue": self.pearson_pvalue, "pairs": self.pairs, "used": self.used,
                "oov": self.oov, "oov_ratio": self.oov_ratio, "skipped_lines": self.skipped}


class Pairs(list):
    """[(word1, word2, score), ...] as read from a file; `skipped` lists passed-over lines."""

    def __init__(self, pairs=(), skipped: list[tuple[int, str]] | None = None) -> None:
        super().__init__(pairs)
        self.skipped: list[tuple[int, str]] = skipped or []


def _number(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def read_pairs(path: str | os.PathLike, *, skip_bad: bool = False) -> Pairs:
    """Return [(word1, word2, score), ...] from a word-similarity file.

    A line without two words and a number raises ParseError naming it, unless
    skip_bad=True: then it is passed over and listed in `skipped`.
    """
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
    pairs = Pairs()
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
        problem = (f"expected two words and a score, found {len(parts)} fields" if len(parts) <= col else
                   None if _number(parts[col]) is not None else
                   f"expected a number in field {col + 1}, found {parts[col]!r}")
        if problem:
            if skip_bad:
                pairs.skipped.append((no, problem))
                continue
            raise ParseError(f"{problem}: {s[:80]!r}; pass skip_bad=True (--skip-bad) to pass over such "
                             "lines", path=p, line=no)
        v = _number(parts[col])
        pairs.append((parts[0], parts[1], v))
        if len(pairs) == 1:
            strip_pos = bool(_POS.search(parts[0]) and _POS.search(parts[1]))
        elif strip_pos and not (_POS.search(parts[0]) and _POS.search(parts[1])):
            strip_pos = False
    if not pairs:
        raise ParseError("no word pairs found; expected lines 'word1 word2 score'", path=p)
    if strip_pos:
        pairs = Pairs([(_POS.sub("", a), _POS.sub("", b), v) for a, b, v in pairs], pairs.skipped)
    return pairs


def evaluate_similarity(emb: Embeddings, pairs, *, restrict_vocab: int | None = 300000,
                        case_insensitive: bool = True, skip_bad: bool = False,
                        dummy4unknown: bool = False) -> SimilarityResult:
    """Return Spearman/Pearson correlations of cosine similarity with the human scores of `pairs`.

    `pairs` is a file path or read_pairs' output; pairs with a word outside
    the (restricted) vocabulary are skipped and counted, as gensim does.
    """
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_pairs(pairs, skip_bad=skip_bad)
    view = WordView(emb, restrict_vocab, case_insensitive)
    model, human = [], []
    for a, b, v in pairs:
        ra, rb = view.row(a), view.row(b)
        if ra < 0 or rb < 0:
            if dummy4unknown:      # gensim's option: an unknown pair scores 0 instead of being left out
                model.append(0.0)
                human.append(v)
            continue
        model.append(float(view.unit[ra] @ view.unit[rb]))
        human.append(v)
    used = sum(1 for a, b, _ in pairs if view.row(a) >= 0 and view.row(b) >= 0)
    return SimilarityResult(spearman=spearman(model, human) if len(model) > 1 else float("nan"),
                            pearson=pearson(model, human) if len(model) > 1 else float("nan"),
                            pairs=len(pairs), used=used, scored=len(model),
                            skipped=len(getattr(pairs, "skipped", ())))
