"""Planted toy knowledge graphs: symmetry, inversion and composition, with held-out triples.

Each builder returns (TripleSet, held-out id triples); a model that can
express the pattern ranks the held-out triples far above chance.
"""

from __future__ import annotations

import os

import numpy as np

from omnivec.learn.kge import TripleSet

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "kg")


def _make(train, test, n_ent):
    ents = [f"e{i}" for i in range(n_ent)]
    rels = sorted({r for _, r, _ in train + test})
    ts = TripleSet.from_labels({"train": [(f"e{h}", r, f"e{t}") for h, r, t in train],
                                "test": [(f"e{h}", r, f"e{t}") for h, r, t in test]},
                               entities=ents, relations=rels)
    return ts, ts.splits["test"]


def symmetric(seed: int = 0, n: int = 24):
    """Pairs joined by 'married' both ways in training, except held-out pairs given one way only."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    pairs = [(int(perm[2 * i]), int(perm[2 * i + 1])) for i in range(n // 2)]
    train, test = [], []
    for i, (a, b) in enumerate(pairs):
        train.append((a, "married", b))
        (test if i % 3 == 0 else train).append((b, "married", a))
    # a second, unrelated relation so the model cannot make every relation symmetric for free
    for a in range(n):
        train.append((a, "likes", int((a * 7 + 3) % n)))
    return _make(train, test, n)


def inverse(seed: int = 0, n: int = 24):
    """'parent' facts all in training, their 'child' inverses partly held out."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for a in range(1, n):
        p = int(rng.integers(0, a))
        train.append((p, "parent", a))
        (test if a % 3 == 0 else train).append((a, "child", p))
    return _make(train, test, n)


def composition(seed: int = 0, k: int = 10):
    """Three layers joined by bijections r1, r2; r3 = r2 after r1, partly held out."""
    rng = np.random.default_rng(seed)
    f1, f2 = rng.permutation(k), rng.permutation(k)
    train, test = [], []
    for i in range(k):
        a, b, c = i, k + int(f1[i]), 2 * k + int(f2[f1[i]])
        train += [(a, "r1", b), (b, "r2", c)]
        (test if i % 3 == 0 else train).append((a, "r3", c))
    # the same two-step paths in other layers
    for i in range(k):
        a, b = 3 * k + i, 4 * k + int(f1[i])
        c = 5 * k + int(f2[f1[i]])
        train += [(a, "r1", b), (b, "r2", c), (a, "r3", c)]
    return _make(train, test, 6 * k)
