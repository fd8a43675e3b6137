"""Turning text into terms for the sparse (BM25) index: `Tokenizer`.

    tok = Tokenizer()                      # lowercase, words of 2+ characters, English stopwords
    tok.tokenize("The Boundary-Layer flow")   # ['boundary', 'layer', 'flow']
    Tokenizer.from_dict(tok.to_dict())     # the settings an index file stores

The default split is scikit-learn's and bm25s's (`(?u)\\b\\w\\w+\\b`: runs of
two or more word characters); the English stopword list ships with the
package (`data/stopwords-english.txt`: Lucene's classic English stop set, the
33 words bm25s uses for stopwords="english"), so an index built here and one
built by bm25s see the same terms.  Stopwords are dropped before stemming, as
bm25s does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Iterable

from ..errors import InputError, MissingDependencyError

#: stopword lists shipped with the package, by name
STOPWORD_LISTS = {"english": "stopwords-english.txt", "en": "stopwords-english.txt"}
TOKENIZER_VERSION = 1


@lru_cache(maxsize=None)
def stopword_list(name: str = "english") -> frozenset[str]:
    """Return the named stopword list shipped with omnivec (e.g. "english")."""
    key = str(name).lower()
    if key not in STOPWORD_LISTS:
        raise InputError(f"unknown stopword list {name!r}; shipped ones are: "
                         f"{', '.join(sorted(set(STOPWORD_LISTS) - {'en'}))} (or give your own words)")
    text = resources.files(__package__).joinpath("data", STOPWORD_LISTS[key]).read_text("utf-8")
    return frozenset(w for w in (line.strip() for line in text.splitlines()) if w)


class Tokenizer:
    """Split text into terms: a regex word split, lowercasing, stopwords, an optional stemmer.

    `lowercase` folds case first; `min_length` is the shortest term kept (2:
    bm25s's and scikit-learn's `\\b\\w\\w+\\b`); `stopwords` is "english"
    (the shipped list), None (keep every word) or an iterable of words,
    compared after lowercasing and before stemming.  `stemmer` is None, a
    language name for PyStemmer's Snowball stemmers (e.g. "english"; saved
    with an index), or any callable mapping one word to its stem (used in
    memory only: an index that uses one cannot be saved).
    """

    def __init__(self, lowercase: bool = True, min_length: int = 2,
                 stopwords: str | Iterable[str] | None = "english",
                 stemmer: str | Callable[[str], str] | None = None) -> None:
        if not isinstance(lowercase, bool):
            raise InputError(f"lowercase must be True or False; got {lowercase!r}")
        if isinstance(min_length, bool) or not isinstance(min_length, int) or not 1 <= min_length <= 1000:
            raise InputError(f"min_length must be an int from 1 to 1000; got {min_length!r}")
        self.lowercase = lowercase
        self.min_length = min_length
        if stopwords is None or stopwords is False:
            self.stopwords_name, words = None, frozenset()
        elif isinstance(stopwords, str):
            self.stopwords_name, words = stopwords.lower(), stopword_list(stopwords)
        else:
            words = list(stopwords)
            bad = [w for w in words if not isinstance(w, str)]
            if bad:
                raise InputError(f"stopwords must be strings; got {type(bad[0]).__name__} {bad[0]!r}")
            self.stopwords_name, words = None, frozenset(w.lower() if lowercase else w for w in words)
        self.stopwords = words
        self._custom_stopwords = stopwords is not None and stopwords is not False and not isinstance(stopwords, str)
        self.stemmer_name: str | None = None
        self._stem: Callable[[str], str] | None = None
        if isinstance(stemmer, str):
            self.stemmer_name = stemmer.lower()
            self._stem = _snowball(self.stemmer_name)
        elif stemmer is not None:
            if hasattr(stemmer, "stemWord"):      # a PyStemmer Stemmer object
                self._stem = stemmer.stemWord
            elif callable(stemmer):
                self._stem = stemmer
            else:
                raise InputError(f"stemmer must be a language name, a callable or None; got "
                                 f"{type(stemmer).__name__}")
        self._split = re.compile(r"(?u)\b\w{%d,}\b" % min_length).findall
        self._cache: dict[str, str] = {}

    def tokenize(self, text: str) -> list[str]:
        """Return the terms of `text`, in order (repeats kept: they are term frequencies)."""
        if not isinstance(text, str):
            raise InputError(f"text must be a str; got {type(text).__name__}")
        words = self._split(text.lower() if self.lowercase else text)
        if self.stopwords:
            stop = self.stopwords
            words = [w for w in words if w not in stop]
        if self._stem is not None:
            cache, stem = self._cache, self._stem
            out = []
            for w in words:
                s = cache.get(w)
                if s is None:
                    s = cache[w] = stem(w)
                out.append(s)
            words = out
        return words

    __call__ = tokenize

    def tokenize_many(self, texts: Iterable[str], *, what: str = "text") -> list[list[str]]:
        """Return the terms of each text; a text that is not a str raises InputError naming its position."""
        out = []
        tok = self.tokenize
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"{what} {i} is {type(t).__name__} {t!r:.60}; expected a str")
            out.append(tok(t))
        return out

    # -- saving ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-able dict (`from_dict` rebuilds the same tokenizer).

        A stemmer given as a callable cannot be saved (InputError): give its
        PyStemmer language name instead.
        """
        if self._stem is not None and self.stemmer_name is None:
            raise InputError("this tokenizer's stemmer is a Python callable, which cannot be saved; "
                             "give the stemmer as a PyStemmer language name (e.g. stemmer='english')")
        stop: Any = self.stopwords_name if not self._custom_stopwords else sorted(self.stopwords)
        return {"version": TOKENIZER_VERSION, "lowercase": self.lowercase, "min_length": self.min_length,
                "stopwords": stop, "stemmer": self.stemmer_name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Tokenizer":
        """Return the tokenizer described by `to_dict()`'s output (InputError when it is malformed)."""
        if not isinstance(d, dict):
            raise InputError(f"tokenizer settings must be an object; got {type(d).__name__}")
        unknown = set(d) - {"version", "lowercase", "min_length", "stopwords", "stemmer"}
        if unknown:
            raise InputError(f"unknown tokenizer settings: {', '.join(sorted(unknown))}")
        v = d.get("version", TOKENIZER_VERSION)
        if not isinstance(v, int) or v > TOKENIZER_VERSION:
            raise InputError(f"tokenizer settings version {v!r}; this omnivec reads up to {TOKENIZER_VERSION}")
        stop = d.get("stopwords")
        if not (stop is None or isinstance(stop, (str, list))):
            raise InputError(f"tokenizer stopwords must be a list name, a list of words or null; got {stop!r}")
        stemmer = d.get("stemmer")
        if not (stemmer is None or isinstance(stemmer, str)):
            raise InputError(f"tokenizer stemmer must be a language name or null; got {stemmer!r}")
        return cls(lowercase=d.get("lowercase", True), min_length=d.get("min_length", 2), stopwords=stop,
                   stemmer=stemmer)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokenizer):
            return NotImplemented
        return (self.lowercase, self.min_length, self.stopwords, self.stemmer_name, self._stem is None) == (
            other.lowercase, other.min_length, other.stopwords, other.stemmer_name, other._stem is None)

    def __repr__(self) -> str:
        stop = self.stopwords_name or (f"{len(self.stopwords)} words" if self.stopwords else None)
        return (f"Tokenizer(lowercase={self.lowercase}, min_length={self.min_length}, stopwords={stop!r}, "
                f"stemmer={self.stemmer_name or ('callable' if self._stem else None)!r})")


def _snowball(language: str) -> Callable[[str], str]:
    """Return PyStemmer's stemWord for `language` (MissingDependencyError when PyStemmer is absent)."""
    try:
        import Stemmer
    except ImportError:
        raise MissingDependencyError(f"a stemming tokenizer ({language!r}) needs the PyStemmer package, which "
                                     f"is not installed. Install it with: pip install PyStemmer") from None
    try:
        return Stemmer.Stemmer(language).stemWord
    except KeyError:
        raise InputError(f"PyStemmer has no stemmer for {language!r}; it has: "
                         f"{', '.join(Stemmer.algorithms())}") from None


__all__ = ["Tokenizer", "stopword_list", "STOPWORD_LISTS"]
