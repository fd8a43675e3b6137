"""BM25: a sparse (inverted) index over texts, scored as Lucene scores them.

    bm25 = BM25(k1=1.2, b=0.75).fit(texts, keys=ids)     # or .fit_table(emb)
    found = bm25.search("boundary layer flow", k=10)      # Neighbors (keys, scores)
    bm25.save(bm25_path("docs.ov"))                       # docs.ov.bm25, beside the model
    bm25 = BM25.open("docs.ov.bm25", emb)                 # memory-mapped, checked against emb

The score of document d for query q is the sum over q's terms t (a repeated
term counts again) of

    idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl)),
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with tf the count of t in d, |d| its number of terms, avgdl the mean over
all N documents (empty ones included) and df(t) the documents holding t:
Lucene's BM25 since 8.0 (the (k1 + 1) numerator factor of older releases
scales every score alike and was dropped), and what bm25s computes for
method="lucene".  Every (term, document) score is computed once when the
index is built and stored as float32 in term-major (CSC) posting lists:
`indptr` (terms + 1, int64), `docs` (int32, increasing within a term),
`scores` (float32).  A query sums its terms' posting lists (float32, in
term order) into the documents they touch and selects the k best of those:
score descending, ties to the lower row.  A document no query term occurs
in is never returned, so a row can be shorter than k (ids -1, scores -inf
past the end); one whose terms are all stopwords or unknown comes back
empty with `reasons[i]` saying so, never an exception.

The file (`<model>.bm25`) is a safetensors container like every omnivec
file: the posting lists, document lengths, vocabulary and keys as tensors,
each with its CRC-32, and a header holding k1, b, the tokenizer settings and
the counts.  Opening one checks every CRC-32 and bound before a kernel reads
it; given the table, it also refuses an index built over other keys.
"""

from __future__ import annotations

import json
import math
import os
from itertools import chain
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .._lazy import kernels
from ..core.keys import Key, check_packed, encode_keys
from ..core.neighbors import Neighbors
from ..errors import CorruptFileError, DuplicateKeyError, FormatError, InputError, UnsupportedVersionError
from ..store import container
from .text import Tokenizer

K = kernels("omnivec.search._bm25_kernels")   # numba loads with the first search

BM25_FORMAT = "omnivec-bm25"
BM25_VERSION = 1
SUFFIX = "bm25"
REBUILD = "; rebuild it with `omnivec index build MODEL --backend bm25`"
PARALLEL_POSTINGS = 1 << 21   # queries reading fewer postings in all run on one thread
MAX_DOCS = 2**31 - 1     # documents are int32 in the posting lists


def bm25_path(model_path: str | os.PathLike) -> Path:
    """Return where the BM25 index of a model file lives: beside it, `<model>.bm25`."""
    return Path(f"{os.fspath(model_path)}.{SUFFIX}")


# -- keys -----------------------------------------------------------------------
class _Keys:
    """The keys of an index's documents (row -> key), from a table, a list or the file's tensors."""

    __slots__ = ("kind", "blob", "offsets", "ids", "_list")

    def __init__(self, kind: str, *, blob=None, offsets=None, ids=None, keys: list | None = None) -> None:
        self.kind, self.blob, self.offsets, self.ids, self._list = kind, blob, offsets, ids, keys

    @classmethod
    def of(cls, keys: Sequence[Key] | None, n: int) -> "_Keys":
        if keys is None:
            return cls("int", ids=np.arange(n, dtype=np.int64))
        if isinstance(keys, (str, bytes)) or not hasattr(keys, "__len__"):
            raise InputError(f"keys must be a sequence of one key per document; got {type(keys).__name__}")
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            keys = keys.astype(np.int64).tolist()
        keys = list(keys)
        if len(keys) != n:
            raise InputError(f"{len(keys)} keys for {n} documents; give one key per document")
        ints = [isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys]
        if all(ints):
            keys = [int(k) for k in keys]
            ids = np.asarray(keys, np.int64) if keys else np.zeros(0, np.int64)
            out = cls("int", ids=ids, keys=keys)
        else:
            bad = next((i for i, k in enumerate(keys) if not isinstance(k, str)), None)
            if bad is not None:
                raise InputError(f"key {bad} is {type(keys[bad]).__name__} {keys[bad]!r}; keys are all str "
                                 f"or all int")
            blob, offsets = encode_keys(keys)
            out = cls("str", blob=blob, offsets=offsets, keys=keys)
        if len(set(keys)) != len(keys):
            seen: set = set()
            i = next(i for i, k in enumerate(keys) if k in seen or seen.add(k))
            raise DuplicateKeyError(f"key {keys[i]!r} of document {i} repeats an earlier key; keys must be unique")
        return out

    @classmethod
    def of_table(cls, emb) -> "_Keys":
        t = emb.keys
        if t.kind == "str":
            return cls("str", blob=np.asarray(t.blob), offsets=np.asarray(t.offsets))
        return cls("int", ids=np.asarray(t.ids))

    def arrays(self) -> dict[str, np.ndarray]:
        if self.kind == "str":
            return {"keys_blob": self.blob, "keys_offsets": self.offsets}
        return {"keys_ids": self.ids}

    def checksums(self) -> dict[str, str]:
        return {name: container.crc32(arr) for name, arr in self.arrays().items()}

    def key(self, row: int) -> Key:
        if self._list is not None:
            return self._list[row]
        if self.kind == "int":
            return int(self.ids[row])
        return bytes(self.blob[int(self.offsets[row]):int(self.offsets[row + 1])]).decode("utf-8")

    def decode(self, rows: np.ndarray) -> list[Key]:
        return [self.key(r) for r in np.asarray(rows).tolist() if r >= 0]


def _table_keys_checksums(emb) -> dict[str, str]:
    """Return the CRC-32s of a table's key arrays, named as an index file stores them."""
    return _Keys.of_table(emb).checksums()


# -- the index ------------------------------------------------------------------
class BM25:
    """A BM25 index over texts (Lucene's scoring; see the module docstring).

    `k1` (>= 0) saturates term frequency, `b` (0..1) normalises by document
    length; `tokenizer` is a `Tokenizer` (default: lowercase, 2+ character
    words, English stopwords, no stemming), used for documents and queries.
    """

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75, tokenizer: Tokenizer | None = None) -> None:
        for pname, v, hi in (("k1", k1, math.inf), ("b", b, 1.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(v)) or not 0 <= float(v) <= hi:
                rng = ">= 0" if hi == math.inf else "from 0 to 1"
                raise InputError(f"BM25 parameter {pname} must be a finite number {rng}; got {v!r}")
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise InputError(f"tokenizer must be an omnivec.search.Tokenizer; got {type(tokenizer).__name__}")
        self.k1 = float(k1)
        self.b = float(b)
        self.tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        self.n_docs = 0
        self.indptr: np.ndarray | None = None
        self.docs: np.ndarray | None = None
        self.scores: np.ndarray | None = None
        self.doc_lengths: np.ndarray | None = None
        self.vocab_blob: np.ndarray | None = None
        self.vocab_offsets: np.ndarray | None = None
        self.avgdl = 0.0
        self.table: dict | None = None     # {"name", "n", "source"} when built from a table
        self.path: str | None = None
        self._keys: _Keys | None = None
        self._terms: list[str] | None = None
        self._lookup: dict[str, int] | None = None

    # -- sizes --------------------------------------------------------------
    def __len__(self) -> int:
        return self.n_docs

    @property
    def n_terms(self) -> int:
        """Return the number of distinct terms (the vocabulary's size)."""
        return 0 if self.indptr is None else len(self.indptr) - 1

    @property
    def vocabulary(self) -> list[str]:
        """Return the indexed terms, sorted (term i's postings are docs[indptr[i]:indptr[i + 1]])."""
        if self._terms is None:
            raw = bytes(self.vocab_blob)
            off = self.vocab_offsets.tolist()
            self._terms = [raw[a:b].decode("utf-8") for a, b in zip(off[:-1], off[1:])]
        return self._terms

    def _check_fitted(self) -> None:
        if self.indptr is None:
            raise InputError("this BM25 index is empty: call fit(texts), fit_tokens(...) or fit_table(emb) "
                             "first, or BM25.open(path)")

    # -- building -----------------------------------------------------------
    def fit(self, texts: Sequence[str], keys: Sequence[Key] | None = None) -> "BM25":
        """Index `texts` (one document each; empty ones are allowed and counted); returns self.

        `keys` names the documents in results (default: their positions 0..n-1).
        """
        texts = _as_texts(texts, "texts")
        return self.fit_tokens(self.tokenizer.tokenize_many(texts, what="text"), keys)

    def fit_table(self, emb, texts: Sequence[str] | None = None) -> "BM25":
        """Index the texts of a table's rows (its text column, or `texts` in row order); returns self.

        Results carry the table's keys, and the saved index is tied to them:
        `BM25.open(path, emb)` refuses it once the table's keys change, or,
        when it indexed the table's own text column, once those texts change.
        """
        own = None
        if texts is None:
            texts = own = getattr(emb, "texts", None)
            if texts is None:
                raise InputError(f"table {getattr(emb, 'name', '?')!r} holds no texts: give texts= (one per "
                                 f"row, in row order), or --texts FILE on the command line")
        texts = _as_texts(texts, "texts")
        if len(texts) != len(emb):
            raise InputError(f"{len(texts)} texts for table {emb.name!r} of {len(emb)} rows; give one text "
                             f"per row, in row order")
        self.fit_tokens(self.tokenizer.tokenize_many(texts, what="text"))
        self._keys = _Keys.of_table(emb)
        self.table = {"name": emb.name, "n": len(emb), "source": emb.source,
                      "texts_crc32": None if own is None else own.checksum()}
        return self

    def fit_tokens(self, token_lists: Sequence[Sequence[str]], keys: Sequence[Key] | None = None) -> "BM25":
        """Index documents given as lists of terms (already tokenized); returns self."""
        if isinstance(token_lists, (str, bytes)) or not hasattr(token_lists, "__iter__"):
            raise InputError(f"token_lists must be a list of term lists; got {type(token_lists).__name__}")
        docs = list(token_lists)
        n = len(docs)
        if n == 0:
            raise InputError("cannot build a BM25 index over no documents")
        if n > MAX_DOCS:
            raise InputError(f"{n} documents; a BM25 index holds at most {MAX_DOCS}")
        for i, d in enumerate(docs):
            if isinstance(d, (str, bytes)) or not isinstance(d, (list, tuple)):
                raise InputError(f"document {i} is {type(d).__name__}; give a list of terms (str) per document")
        keys_obj = _Keys.of(keys, n)
        lengths = np.fromiter(map(len, docs), np.int64, count=n)
        flat = list(chain.from_iterable(docs))
        terms = list(dict.fromkeys(flat))
        bad = next((t for t in terms if not isinstance(t, str)), None)
        if bad is not None or (terms and "" in set(terms)):
            i = next(i for i, d in enumerate(docs) if any(not isinstance(t, str) or t == "" for t in d))
            what = "an empty term" if bad is None else f"{type(bad).__name__} {bad!r}"
            raise InputError(f"document {i} holds {what}; terms are non-empty str")
        terms.sort()
        lookup = {t: i for i, t in enumerate(terms)}
        term_ids = np.fromiter(map(lookup.__getitem__, flat), np.int64, count=len(flat))
        self._build(term_ids, lengths, len(terms))
        self.vocab_blob, self.vocab_offsets = encode_keys(terms)
        self._terms, self._lookup = terms, lookup
        self._keys = keys_obj
        self.table = None
        self.path = None
        return self

    def _build(self, term_ids: np.ndarray, lengths: np.ndarray, n_terms: int) -> None:
        """Compute the posting lists and their scores from term ids in document order (vectorised)."""
        n = len(lengths)
        doc_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pair = term_ids * n + doc_of                  # term-major, then document
        pair.sort()
        if len(pair):
            first = np.empty(len(pair), bool)
            first[0] = True
            np.not_equal(pair[1:], pair[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            tf = np.diff(np.append(starts, len(pair))).astype(np.float64)
            pair = pair[starts]
        else:
            tf = np.zeros(0, np.float64)
        term, doc = np.divmod(pair, n)
        df = np.bincount(term, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        total = int(lengths.sum())
        avgdl = total / n
        # idf rounded to float32 first, as bm25s stores it, so both compute the same float32 scores
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32).astype(np.float64)
        if avgdl > 0:
            norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
        else:
            norm = np.full(n, self.k1, np.float64)
        scores = (idf[term] * (tf / (tf + norm[doc]))).astype(np.float32)
        self.n_docs = n
        self.indptr, self.docs, self.scores = indptr, doc.astype(np.int32), scores
        self.doc_lengths = lengths.astype(np.int32)
        self.avgdl = avgdl

    # -- searching ----------------------------------------------------------
    def _term_lookup(self) -> dict[str, int]:
        if self._lookup is None:
            self._lookup = {t: i for i, t in enumerate(self.vocabulary)}
        return self._lookup

    def search(self, queries: str | Sequence[str], k: int = 10) -> Neighbors:
        """Return the k best documents of each query text as Neighbors (keys, ids = rows, scores).

        `queries` is one text or a list of them.  Rows are best first, ties to
        the lower row; a query matching fewer than k documents gets fewer
        (ids -1, scores -inf after them), and one with no indexed term gets
        none, with `reasons[i]` saying why.
        """
        one = isinstance(queries, str)
        qs = [queries] if one else _as_texts(queries, "queries", allow_empty=True)
        return self.search_tokens(self.tokenizer.tokenize_many(qs, what="query"), k, _texts=qs)

    def search_tokens(self, token_lists: Sequence[Sequence[str]], k: int = 10, *, _texts=None) -> Neighbors:
        """Return the k best documents of each query given as a list of terms (already tokenized)."""
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be an int >= 1; got {k!r}")
        if isinstance(token_lists, (str, bytes)) or not hasattr(token_lists, "__iter__"):
            raise InputError(f"queries must be a list of term lists; got {type(token_lists).__name__}")
        lookup = self._term_lookup()
        qlists = list(token_lists)
        nq = len(qlists)
        qptr = np.zeros(nq + 1, np.int64)
        flat: list[int] = []
        reasons: list[str | None] = [None] * nq
        for i, toks in enumerate(qlists):
            if isinstance(toks, (str, bytes)) or not isinstance(toks, (list, tuple)):
                raise InputError(f"query {i} is {type(toks).__name__}; give a list of terms per query")
            ids = [j for j in map(lookup.get, toks) if j is not None]
            if not ids:
                reasons[i] = _no_terms_reason(toks, _texts[i] if _texts is not None else None, self.tokenizer)
            flat.extend(ids)
            qptr[i + 1] = len(flat)
        kk = int(min(int(k), self.n_docs))
        out_ids = np.full((nq, kk), -1, np.int64)
        out_scores = np.full((nq, kk), -np.inf, np.float32)
        out_n = np.zeros(nq, np.int64)
        if flat:
            qterms = np.asarray(flat, np.int64)
            work = int((self.indptr[qterms + 1] - self.indptr[qterms]).sum())
            if nq > 1 and work >= PARALLEL_POSTINGS:
                K.bm25_topk(self.indptr, self.docs, self.scores, qptr, qterms, self.n_docs, 4 * K.threads(),
                            out_ids, out_scores, out_n)
            else:
                K.bm25_topk_serial(self.indptr, self.docs, self.scores, qptr, qterms, self.n_docs, 1,
                                   out_ids, out_scores, out_n)
        width = int(out_n.max()) if nq else 0
        if width < kk:
            out_ids, out_scores = out_ids[:, :width].copy(), out_scores[:, :width].copy()
        for i in range(nq):
            if reasons[i] is None and out_n[i] < kk:
                reasons[i] = (f"only {int(out_n[i])} of the {self.n_docs} documents hold a term of the query"
                              if kk else None)
        return Neighbors(out_ids, out_scores, self._keys.decode, reasons=reasons)

    def get_scores(self, query: str | Sequence[str]) -> np.ndarray:
        """Return the BM25 score of every document for one query (text or list of terms), float32."""
        self._check_fitted()
        toks = self.tokenizer.tokenize(query) if isinstance(query, str) else list(query)
        lookup = self._term_lookup()
        out = np.zeros(self.n_docs, np.float32)
        for t in toks:
            j = lookup.get(t)
            if j is not None:
                a, b = int(self.indptr[j]), int(self.indptr[j + 1])
                out[self.docs[a:b]] += self.scores[a:b]
        return out

    def keys_of(self, rows: Sequence[int] | np.ndarray) -> list[Key]:
        """Return the key of each document row (-1 rows are left out)."""
        self._check_fitted()
        return self._keys.decode(np.asarray(rows))

    # -- persistence --------------------------------------------------------
    def _head(self) -> dict[str, Any]:
        return {"version": BM25_VERSION, "method": "lucene", "k1": self.k1, "b": self.b,
                "tokenizer": self.tokenizer.to_dict(), "n_docs": self.n_docs, "n_terms": self.n_terms,
                "postings": int(len(self.docs)), "tokens": int(self.doc_lengths.sum(dtype=np.int64)),
                "empty_docs": int(np.count_nonzero(self.doc_lengths == 0)), "avgdl": self.avgdl,
                "key_kind": self._keys.kind,
                "table": None if self.table is None else {
                    "name": self.table["name"], "n": self.table["n"],
                    "keys_crc32": self._keys.checksums(),
                    **({"texts_crc32": self.table["texts_crc32"]} if self.table.get("texts_crc32") else {})}}

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to `path` atomically (usually `bm25_path(model)`); `BM25.open` reads it."""
        self._check_fitted()
        head = self._head()
        tensors = {"indptr": self.indptr, "docs": self.docs, "scores": self.scores,
                   "doc_lengths": self.doc_lengths, "vocab_blob": self.vocab_blob,
                   "vocab_offsets": self.vocab_offsets, **self._keys.arrays()}
        tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        container.write(path, tensors, {"format": BM25_FORMAT, BM25_FORMAT: json.dumps(head, sort_keys=True)})
        self.path = os.fspath(path)

    @classmethod
    def open(cls, path: str | os.PathLike, emb=None) -> "BM25":
        """Return the index stored at `path`, memory-mapped, after checking every CRC-32 and bound.

        With `emb`, the index must have been built over that table's keys
        (FormatError naming both otherwise: a stale index).
        """
        f = read_bm25_file(path, emb)
        self = cls(k1=f.head["k1"], b=f.head["b"], tokenizer=f.tokenizer)
        t = f.tensors
        self.n_docs = f.head["n_docs"]
        self.indptr, self.docs, self.scores = t["indptr"], t["docs"], t["scores"]
        self.doc_lengths = t["doc_lengths"]
        self.vocab_blob, self.vocab_offsets = t["vocab_blob"], t["vocab_offsets"]
        self.avgdl = float(f.head["avgdl"])
        if f.head["key_kind"] == "str":
            self._keys = _Keys("str", blob=t["keys_blob"], offsets=t["keys_offsets"])
        else:
            self._keys = _Keys("int", ids=t["keys_ids"])
        tab = f.head.get("table")
        if tab:
            self.table = {"name": tab["name"], "n": tab["n"], "source": None if emb is None else emb.source}
        self.path = os.fspath(path)
        return self

    def info(self) -> dict[str, Any]:
        """Return a JSON-able summary: parameters, tokenizer, sizes, the table it belongs to."""
        self._check_fitted()
        head = self._head()
        return {"backend": self.name, "path": self.path, "k1": self.k1, "b": self.b,
                "tokenizer": head["tokenizer"], "documents": self.n_docs, "terms": self.n_terms,
                "postings": head["postings"], "tokens": head["tokens"], "empty_documents": head["empty_docs"],
                "avgdl": self.avgdl, "table": None if self.table is None else self.table["name"]}

    def __repr__(self) -> str:
        return f"BM25(k1={self.k1}, b={self.b}, documents={self.n_docs}, terms={self.n_terms})"

    def __reduce__(self):
        raise TypeError("a BM25 index is not pickled: save() it and BM25.open() it where it is needed")


def _as_texts(texts, what: str, *, allow_empty: bool = False) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise InputError(f"{what} must be a list of str (one per document); got {type(texts).__name__}")
    out = list(texts)
    one = {"texts": "text", "queries": "query"}.get(what, what)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"{one} {i} is {type(t).__name__} {t!r:.60}; expected a str")
    return out


def _no_terms_reason(toks: Sequence[str], text: str | None, tok: Tokenizer) -> str:
    if not toks:
        if text is not None and text.strip():
            return ("the query has no terms once tokenized: only stopwords, or words shorter than "
                    f"{tok.min_length} characters")
        return "the query is empty"
    shown = ", ".join(repr(t) for t in list(dict.fromkeys(toks))[:5])
    return f"no document holds any term of the query ({shown}{', ...' if len(set(toks)) > 5 else ''})"


# -- reading a file safely -------------------------------------------------------
class BM25File:
    """A BM25 index file read and checked: its header, tokenizer and tensors."""

    def __init__(self, path: str, head: dict, tokenizer: Tokenizer, tensors: dict[str, np.ndarray],
                 checks: list[str]) -> None:
        self.path, self.head, self.tokenizer, self.tensors, self.checks = path, head, tokenizer, tensors, checks


def _corrupt(path, part: str, message: str, offset: int | None = None) -> CorruptFileError:
    return CorruptFileError(f"{part}: {message}{REBUILD}", path=path, offset=offset)


def read_bm25_header(path: str | os.PathLike) -> tuple[container.Container, dict]:
    """Return the opened container and the header of a BM25 index file, or raise FormatError."""
    c = container.read(path)
    if c.metadata.get("format") != BM25_FORMAT or BM25_FORMAT not in c.metadata:
        raise FormatError("not an omnivec BM25 index file (its header has no omnivec-bm25 metadata)", path=path)
    head = container.parse_json(c.metadata[BM25_FORMAT], what="the BM25 header", path=os.fspath(path),
                                offset=8, error=CorruptFileError, locate=False)
    if not isinstance(head, dict) or isinstance(head.get("version"), bool) or not isinstance(head.get("version"), int):
        raise CorruptFileError("the BM25 header has no integer 'version'", path=path, offset=8)
    if head["version"] > BM25_VERSION:
        raise UnsupportedVersionError(f"BM25 index format version {head['version']}; this omnivec reads up to "
                                      f"{BM25_VERSION}. Upgrade omnivec or rebuild the index", path=path)
    return c, head


def _int(head: dict, name: str, path, low: int = 0) -> int:
    v = head.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise _corrupt(path, "the BM25 header", f"{name!r} is {v!r}; expected an integer >= {low}", 8)
    return v


def _check_head(path: str, head: dict) -> Tokenizer:
    for name, hi in (("k1", math.inf), ("b", 1.0)):
        v = head.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= hi:
            raise _corrupt(path, "the BM25 header", f"{name} is {v!r}", 8)
    if head.get("method") != "lucene":
        raise _corrupt(path, "the BM25 header", f"method {head.get('method')!r}; this omnivec scores 'lucene'", 8)
    n = _int(head, "n_docs", path, 1)
    if n > MAX_DOCS:
        raise _corrupt(path, "the BM25 header", f"n_docs is {n}; at most {MAX_DOCS}", 8)
    for name in ("n_terms", "postings", "tokens", "empty_docs"):
        _int(head, name, path)
    if head.get("key_kind") not in ("str", "int"):
        raise _corrupt(path, "the BM25 header", f"key_kind is {head.get('key_kind')!r}; expected 'str' or 'int'", 8)
    avgdl = head.get("avgdl")
    if isinstance(avgdl, bool) or not isinstance(avgdl, (int, float)) or not math.isfinite(avgdl) or avgdl < 0:
        raise _corrupt(path, "the BM25 header", f"avgdl is {avgdl!r}", 8)
    tab = head.get("table")
    if tab is not None and (not isinstance(tab, dict) or not isinstance(tab.get("name"), str)
                            or tab.get("n") != n or not isinstance(tab.get("keys_crc32"), dict)):
        raise _corrupt(path, "the BM25 header", "its table entry needs name, n (= n_docs) and keys_crc32", 8)
    try:
        return Tokenizer.from_dict(head.get("tokenizer"))
    except InputError as exc:
        raise _corrupt(path, "the BM25 header's tokenizer", str(exc), 8) from None


_tensor = partial(container.expect_tensor, hint=REBUILD)
_start = container.tensor_start


def _check_tensors(c: container.Container, head: dict) -> dict[str, np.ndarray]:
    """Return the tensors after checking names, shapes, dtypes, bounds and order (CorruptFileError)."""
    path = c.path
    n, v, p = head["n_docs"], head["n_terms"], head["postings"]
    key_names = ("keys_blob", "keys_offsets") if head["key_kind"] == "str" else ("keys_ids",)
    expected = {"indptr", "docs", "scores", "doc_lengths", "vocab_blob", "vocab_offsets", *key_names}
    extra = sorted(set(c.entries) - expected)
    if extra:
        raise _corrupt(path, "tensors", f"unexpected {', '.join(map(repr, extra))}", 8)
    t = {"indptr": _tensor(c, "indptr", (v + 1,), np.int64), "docs": _tensor(c, "docs", (p,), np.int32),
         "scores": _tensor(c, "scores", (p,), np.float32),
         "doc_lengths": _tensor(c, "doc_lengths", (n,), np.int32),
         "vocab_blob": _tensor(c, "vocab_blob", None, np.uint8),
         "vocab_offsets": _tensor(c, "vocab_offsets", (v + 1,), np.int64)}
    indptr, docs, scores = t["indptr"], t["docs"], t["scores"]
    steps = np.diff(indptr)
    if indptr[0] != 0 or indptr[-1] != p or (steps < 1).any():
        where = int(np.flatnonzero(steps < 1)[0]) if (steps < 1).any() else 0
        raise _corrupt(path, "tensor 'indptr'", f"the posting lists must run from 0 to {p} with at least one "
                       f"document per term (term {where})", _start(c, "indptr") + 8 * where)
    if p:
        bad = (docs < 0) | (docs >= n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _corrupt(path, "tensor 'docs'", f"posting {i} names document {int(docs[i])}; there are {n}",
                           _start(c, "docs") + 4 * i)
        up = np.diff(docs.astype(np.int64)) > 0
        up[indptr[1:-1] - 1] = True          # a new term starts: no order across the boundary
        if not up.all():
            i = int(np.flatnonzero(~up)[0]) + 1
            raise _corrupt(path, "tensor 'docs'", f"posting {i}: the documents of a term must increase",
                           _start(c, "docs") + 4 * i)
        good = np.isfinite(scores) & (scores > 0)
        if not good.all():
            i = int(np.flatnonzero(~good)[0])
            raise _corrupt(path, "tensor 'scores'", f"posting {i} scores {float(scores[i])!r}; BM25 scores are "
                           f"finite and positive", _start(c, "scores") + 4 * i)
    lengths = t["doc_lengths"]
    if (lengths < 0).any() or int(lengths.sum(dtype=np.int64)) != head["tokens"] \
            or int(np.count_nonzero(lengths == 0)) != head["empty_docs"]:
        raise _corrupt(path, "tensor 'doc_lengths'", f"the document lengths do not add up to the header's "
                       f"{head['tokens']} terms in {n} documents ({head['empty_docs']} empty)",
                       _start(c, "doc_lengths"))
    if not math.isclose(head["avgdl"], head["tokens"] / n, rel_tol=1e-9, abs_tol=1e-12):
        raise _corrupt(path, "the BM25 header", f"avgdl {head['avgdl']} is not {head['tokens']} / {n}", 8)
    try:
        check_packed(t["vocab_blob"], t["vocab_offsets"], path)
    except CorruptFileError as exc:
        raise _corrupt(path, "the vocabulary", str(exc).split(": ", 1)[-1], _start(c, "vocab_offsets")) from None
    if v:
        raw = bytes(t["vocab_blob"])
        off = t["vocab_offsets"].tolist()
        terms = [raw[a:b] for a, b in zip(off[:-1], off[1:])]
        # UTF-8 bytes sort as their code points do: sorted bytes = sorted str
        bad = next((i for i in range(1, v) if not terms[i - 1] < terms[i]), None)
        if bad is not None or terms[0] == b"":
            raise _corrupt(path, "the vocabulary", f"terms must be non-empty, sorted and unique (term {bad or 0})",
                           _start(c, "vocab_offsets"))
    if head["key_kind"] == "str":
        t["keys_offsets"] = _tensor(c, "keys_offsets", (n + 1,), np.int64)
        t["keys_blob"] = _tensor(c, "keys_blob", None, np.uint8)
        try:
            check_packed(t["keys_blob"], t["keys_offsets"], path)
        except CorruptFileError as exc:
            raise _corrupt(path, "the keys", str(exc).split(": ", 1)[-1], _start(c, "keys_offsets")) from None
        raw = bytes(t["keys_blob"])
        off = t["keys_offsets"].tolist()
        unique = len({raw[a:b] for a, b in zip(off[:-1], off[1:])}) == n
    else:
        t["keys_ids"] = _tensor(c, "keys_ids", (n,), np.int64)
        unique = len(np.unique(t["keys_ids"])) == n
    if not unique:
        raise _corrupt(path, "the keys", "a key names two documents")
    return t


def read_bm25_file(path: str | os.PathLike, emb=None, *, checks: list[str] | None = None) -> BM25File:
    """Return the checked contents of a BM25 index file, or raise naming the file and the part that failed.

    Checks, in order: the container and header; the table (with `emb`: same
    number of rows and key CRC-32s as when built, else FormatError: stale);
    every tensor's CRC-32; names, shapes and dtypes; posting lists within
    bounds and increasing; scores finite and positive; lengths adding up;
    vocabulary and keys well-formed UTF-8, sorted/unique.
    """
    path = os.fspath(path)
    done = [] if checks is None else checks
    c, head = read_bm25_header(path)
    tok = _check_head(path, head)
    done.append(f"header: BM25 (k1={head['k1']}, b={head['b']}) over {head['n_docs']:,} documents, "
                f"{head['n_terms']:,} terms, {head['postings']:,} postings; {tok!r}")
    if emb is not None:
        tab = head.get("table")
        cur = _table_keys_checksums(emb)
        if len(emb) != head["n_docs"]:
            problem = f"it was built over {head['n_docs']} documents but the table has {len(emb)} rows"
        elif tab is None:
            sums = _stored_sums(c)
            problem = None if all(sums.get(k) == v for k, v in cur.items()) else \
                "it was built over other keys than the table's"
        else:
            problem = None if tab["keys_crc32"] == cur else (
                f"the table's keys differ from those it was built over (CRC-32 {tab['keys_crc32']} in the "
                f"index, {cur} in the table)")
            own = getattr(emb, "texts", None)
            if problem is None and tab.get("texts_crc32") and own is not None \
                    and own.checksum() != tab["texts_crc32"]:
                problem = "the table's texts differ from those it indexed"
        if problem:
            raise FormatError(f"this BM25 index does not belong to table {emb.name!r}"
                              f"{' of ' + emb.source if emb.source else ''} (a stale index?): {problem}{REBUILD}",
                              path=path)
        done.append(f"table: built over table {emb.name!r} ({len(emb):,} rows, same keys)")
    bad = container.verify_checksums(c)
    if bad:
        raise _corrupt(path, "checksums", "; ".join(bad))
    done.append(f"CRC-32 of {len(c.entries)} tensors ({os.path.getsize(path):,} bytes)")
    tensors = _check_tensors(c, head)
    done.append("postings: within bounds, increasing per term, finite positive scores; lengths, vocabulary "
                "and keys well-formed")
    return BM25File(path, head, tok, tensors, done)


def _stored_sums(c: container.Container) -> dict[str, str]:
    try:
        sums = json.loads(c.metadata.get("checksums", "{}"))
    except ValueError:
        return {}
    return sums if isinstance(sums, dict) else {}


def verify_bm25(path: str | os.PathLike, emb=None) -> dict:
    """Return the result of a full check of a BM25 index file: ok, the checks passed and the problems.

    Without `emb`, the table is the one of the model file beside the index
    (`docs.ov.bm25` belongs to `docs.ov`) when there is one.  A file that is
    not a BM25 index at all raises FormatError instead.
    """
    path = os.fspath(path)
    c, head = read_bm25_header(path)
    model = emb.source if emb is not None else None
    notes = []
    if emb is None:
        p = Path(path)
        if p.suffix == f".{SUFFIX}" and p.with_suffix("").is_file():
            model = os.fspath(p.with_suffix(""))
            tab = head.get("table") if isinstance(head.get("table"), dict) else None
            try:
                from ..store.model import open_table
                emb = open_table(model, table=tab.get("name") if tab else None, oov=False)
            except (FormatError, KeyError, InputError) as exc:
                notes.append(f"the table was not checked: {model} could not be opened ({exc})")
        else:
            notes.append("the table was not checked: no model file beside the index")
    checks: list[str] = []
    problems: list[str] = []
    try:
        read_bm25_file(path, emb, checks=checks)
    except FormatError as exc:
        problems.append(str(exc))
    return {"path": path, "kind": "index", "backend": BM25.name, "ok": not problems, "checks": checks,
            "what": "bm25 index: CRC-32, header, posting lists, vocabulary, keys",
            "problems": problems, "notes": notes, "model": model, "table": None if emb is None else emb.name,
            "tensors": len(c.entries), "bytes": os.path.getsize(path)}


__all__ = ["BM25", "BM25File", "BM25_FORMAT", "bm25_path", "read_bm25_file", "read_bm25_header", "verify_bm25"]
