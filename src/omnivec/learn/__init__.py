"""Learners: turn sources (text, graphs, triples, hierarchies) into Embeddings.

Word vectors: `Word2Vec` (skip-gram, CBOW; negative sampling or
hierarchical softmax) and `FastText` (the same with hashed character
n-grams, fastText-compatible).  Each learner keeps its hyper-parameters in
the constructor and does the work in ``fit(corpus) -> Embeddings`` and
``update(corpus)``; `LEARNERS` lists them by name.
"""

from __future__ import annotations

from .._registry import Registry

LEARNERS: Registry[str] = Registry("learner")
LEARNERS.register("word2vec", "omnivec.learn.word2vec:Word2Vec", aliases=("w2v",))
LEARNERS.register("fasttext", "omnivec.learn.fasttext:FastText")


def get_learner(name: str):
    """Return the learner class registered under `name` (UnknownNameError lists the valid names)."""
    import importlib

    module, _, cls = LEARNERS.get(name).partition(":")
    return getattr(importlib.import_module(module), cls)


def __getattr__(name: str):
    # lazy: importing omnivec.learn does not compile or load any kernel
    if name == "Word2Vec":
        from .word2vec import Word2Vec
        return Word2Vec
    if name == "FastText":
        from .fasttext import FastText
        return FastText
    if name == "EpochReport":
        from ._trainer import EpochReport
        return EpochReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
