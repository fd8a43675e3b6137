"""Sentence encoders: a sentence-transformers adapter and static models distilled from one.

    enc = SentenceEncoder("all-MiniLM-L6-v2")          # offline, CPU by default
    X = enc.encode(["a sentence", "another"])          # float32, rows L2-normalised
    enc.encode_corpus("docs.tsv", "docs.ov")           # keys = document ids, text kept
    static = distill(enc, vocabulary=corpus_words)     # a StaticEncoder: one model file

The engines (torch, sentence-transformers, tokenizers) load only when an
encoder is built; `pip install 'omnivec[encode]'` installs them.
"""

from __future__ import annotations

_LAZY = {
    "SentenceEncoder": "omnivec.encode.sentence:SentenceEncoder",
    "StaticEncoder": "omnivec.encode.static:StaticEncoder",
    "distill": "omnivec.encode.static:distill",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'omnivec.encode' has no attribute {name!r}")
    from .._registry import resolve
    return resolve(target)
