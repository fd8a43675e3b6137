"""Word analogies a : b :: c : d — 3CosAdd and 3CosMul, per-section and total accuracy (as gensim).

Files: Google's ``questions-words.txt`` (``: section`` lines, then ``a b c d``)
and the MSR set (``b a d c`` per line, tab or space separated).  A question
with a word outside the (restricted) vocabulary is counted as OOV and left
out of the accuracy, as gensim does; `accuracy_all` counts it as wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .._registry import Registry
from ..embeddings import Embeddings
from ..errors import InputError, ParseError
from ._words import WordView

METHODS = Registry[str]("analogy method")
METHODS.register("3cosadd", "3cosadd", aliases=("add", "cosadd"))
METHODS.register("3cosmul", "3cosmul", aliases=("mul", "cosmul"))

FORMATS = Registry[str]("analogy file format")
FORMATS.register("google", "google", aliases=("questions-words",))
FORMATS.register("msr", "msr")


@dataclass
class AnalogySection:
    """One section's tally."""

    name: str
    correct: int = 0
    answered: int = 0      # questions with every word in the vocabulary
    oov: int = 0           # questions skipped for an unknown word
    #: the answered questions (a, b, c, d), by outcome, as in gensim's evaluate_word_analogies
    right: list[tuple[str, str, str, str]] = field(default_factory=list, repr=False)
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list, repr=False)
    unknown: list[tuple[str, str, str, str]] = field(default_factory=list, repr=False)

    @property
    def accuracy(self) -> float:
        """Return correct / answered (0.0 when nothing was answered)."""
        return self.correct / self.answered if self.answered else 0.0


@dataclass
class AnalogyResult:
    """Accuracy over every section, and per section."""

    method: str
    sections: list[AnalogySection] = field(default_factory=list)
    skipped: int = 0       # malformed lines passed over (skip_bad=True)

    @property
    def correct(self) -> int:
        """Return the number of correctly answered questions."""
        return sum(s.correct for s in self.sections)

    @property
    def answered(self) -> int:
        """Return the number of questions with every word in the vocabulary."""
        return sum(s.answered for s in self.sections)

    @property
    def oov(self) -> int:
        """Return the number of questions skipped for an out-of-vocabulary word."""
        return sum(s.oov for s in self.sections)

    @property
    def accuracy(self) -> float:
        """Return correct / answered (gensim's figure)."""
        return self.correct / self.answered if self.answered else 0.0

    @property
    def accuracy_all(self) -> float:
        """Return correct / all questions, OOV questions counted as wrong."""
        total = self.answered + self.oov
        return self.correct / total if total else 0.0

    @property
    def oov_ratio(self) -> float:
        """Return the fraction of questions skipped for an unknown word."""
        total = self.answered + self.oov
        return self.oov / total if total else 0.0

    def to_dict(self) -> dict:
        """Return a JSON-able summary."""
        return {"method": self.method, "accuracy": self.accuracy, "accuracy_all": self.accuracy_all,
                "correct": self.correct, "answered": self.answered, "oov": self.oov,
                "oov_ratio": self.oov_ratio, "skipped_lines": self.skipped,
                "sections": [{"name": s.name, "correct": s.correct, "answered": s.answered, "oov": s.oov,
                              "accuracy": s.accuracy} for s in self.sections]}


class Questions(list):
    """[(section, [(a, b, c, d), ...]), ...] as read from a file; `skipped` lists passed-over lines."""

    def __init__(self, sections=(), skipped: list[tuple[int, str]] | None = None) -> None:
        super().__init__(sections)
        self.skipped: list[tuple[int, str]] = skipped or []


def read_analogies(path: str | os.PathLike, *, fmt: str | None = None, skip_bad: bool = False) -> Questions:
    """Return [(section, [(a, b, c, d), ...]), ...] read from a Google or MSR analogy file.

    fmt None guesses: a file with ``: section`` lines is Google's, else MSR
    (one section named 'msr'; its ``b a d c`` order is turned into a b c d).
    A line without exactly four words raises ParseError naming it, unless
    skip_bad=True: then it is passed over and listed in the result's
    `skipped` as (line number, reason), as gensim skips such lines.
    """
    p = str(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read analogy file {p!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid UTF-8 ({exc.reason}); expected a UTF-8 text file", path=p,
                         line=raw.count(b"\n", 0, exc.start) + 1, offset=exc.start) from None
    lines = text.split("\n")
    kind = FORMATS.get(fmt) if fmt is not None else (
        "google" if any(ln.startswith(":") for ln in lines) else "msr")
    sections = Questions()
    current: list | None = None
    if kind == "msr":
        current = []
        sections.append(("msr", current))
    for no, ln in enumerate(lines, 1):
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(":"):
            if kind == "msr":
                raise ParseError(f"section line {s!r} in an MSR file; expected 'b a d c'", path=p, line=no)
            current = []
            sections.append((s[1:].strip(), current))
            continue
        parts = s.split()
        if len(parts) != 4:
            if skip_bad:
                sections.skipped.append((no, f"expected 4 words, found {len(parts)}"))
                continue
            raise ParseError(f"expected 4 words, found {len(parts)}: {s[:80]!r}; pass skip_bad=True "
                             "(--skip-bad) to pass over such lines", path=p, line=no)
        if current is None:
            raise ParseError("question before the first ': section' line", path=p, line=no)
        if kind == "msr":
            b, a, d, c = parts
            current.append((a, b, c, d))
        else:
            current.append(tuple(parts))
    if not any(q for _, q in sections):
        raise ParseError("no analogy questions found; expected lines 'a b c d'", path=p)
    return sections


def evaluate_analogies(emb: Embeddings, questions, *, method: str = "3cosadd",
                       restrict_vocab: int | None = 300000, case_insensitive: bool = True,
                       batch: int = 256, skip_bad: bool = False) -> AnalogyResult:
    """Return the analogy accuracy of `emb` on `questions` (a file path or read_analogies' output).

    For a : b :: c : ?, 3CosAdd picks argmax cos(x, b - a + c) and 3CosMul
    argmax cos'(x,b) cos'(x,c) / (cos'(x,a) + 0.001) with cos' = (1 + cos) / 2,
    over the first `restrict_vocab` words, never a, b or c (as gensim).
    """
    method = METHODS.get(method)
    if isinstance(questions, (str, os.PathLike)):
        questions = read_analogies(questions, skip_bad=skip_bad)
    view = WordView(emb, restrict_vocab, case_insensitive)
    W = view.unit
    result = AnalogyResult(method=method, skipped=len(getattr(questions, "skipped", ())))
    for name, qs in questions:
        sec = AnalogySection(name)
        result.sections.append(sec)
        rows, asked = [], []
        for q in qs:
            r = [view.row(w) for w in q]
            if min(r) < 0:
                sec.oov += 1
                sec.unknown.append(tuple(q))
            else:
                rows.append(r)
                asked.append(tuple(q))
        if not rows:
            continue
        R = np.asarray(rows, np.int64)
        for s in range(0, len(R), batch):
            blk = R[s:s + batch]
            a, b, c, d = blk[:, 0], blk[:, 1], blk[:, 2], blk[:, 3]
            if method == "3cosadd":
                q = W[b] - W[a] + W[c]
                scores = q @ W.T
            else:
                sa = (1.0 + W[a] @ W.T) * 0.5
                sb = (1.0 + W[b] @ W.T) * 0.5
                sc = (1.0 + W[c] @ W.T) * 0.5
                scores = sb * sc / (sa + 1e-3)
            idx = np.arange(len(blk))
            for col in (a, b, c):
                scores[idx, col] = -np.inf
            pred = np.argmax(scores, axis=1)
            # two keys folding to one form count as the same word, as in gensim
            hits = [view.fold(view.keys[p]) == view.fold(view.keys[t]) for p, t in zip(pred.tolist(), d.tolist())]
            for q, hit in zip(asked[s:s + batch], hits):
                (sec.right if hit else sec.wrong).append(q)
            sec.correct += int(sum(hits))
            sec.answered += len(blk)
    return result
