"""Learners: turn sources (text, graphs, triples, hierarchies) into Embeddings.

Word vectors: `Word2Vec` (skip-gram, CBOW; negative sampling or
hierarchical softmax) and `FastText` (the same with hashed character
n-grams, fastText-compatible); knowledge-graph embeddings: `KGE`
(`omnivec.learn.kge`).  Every learner is a `Learner`: a ``name``, its
parameters declared in ``_constraints`` (`omnivec._params`) and checked at
construction, ``get_params()`` and ``fit(source)`` returning an `Embeddings`
or a `Model`.  `LEARNERS` lists them by name ("module:Class", imported when
asked for); ``omnivec train <name>`` is generated from the declarations.
"""

from __future__ import annotations

from .._registry import Registry, resolve

LEARNERS: Registry[str] = Registry("learner")
LEARNERS.register("word2vec", "omnivec.learn.word2vec:Word2Vec", aliases=("w2v",))
LEARNERS.register("fasttext", "omnivec.learn.fasttext:FastText")
LEARNERS.register("kge", "omnivec.learn.kge.train:KGE")
LEARNERS.register("poincare", "omnivec.learn.poincare:Poincare")


def get_learner(name: str):
    """Return the learner class registered under `name` (UnknownNameError lists the valid names)."""
    return resolve(LEARNERS.get(name))


def __getattr__(name: str):
    # lazy: importing omnivec.learn does not compile or load any kernel
    if name == "Word2Vec":
        from .word2vec import Word2Vec
        return Word2Vec
    if name == "FastText":
        from .fasttext import FastText
        return FastText
    if name == "Learner":
        from ._learner import Learner
        return Learner
    if name == "EpochReport":
        from ._trainer import EpochReport
        return EpochReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
