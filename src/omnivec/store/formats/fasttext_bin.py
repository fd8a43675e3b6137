"""fastText `.bin` models: read them into Embeddings with their subword table, and write them back.

The layout (fastText 0.9, format version 12; all little-endian):

    int32 magic 793712314, int32 version (11 or 12)
    Args:       int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket,
                minn, maxn, lrUpdateRate; float64 t
    Dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
                size entries of (word bytes, NUL, int64 count, int8 type 0=word 1=label);
                pruneidx_size pairs of int32 (only in pruned, quantized models)
    bool quant_input; input matrix: int64 rows (nwords + bucket), int64 cols (dim), float32 data
    bool quant_output; output matrix: int64 rows, int64 cols, float32 data

The table's vectors are fastText's word vectors (``get_word_vector``: the
mean of a word's own input row and its n-gram bucket rows); the bucket rows,
the words' own rows, the output matrix and the remaining arguments go into
``Subwords`` so that `write_fasttext_bin` writes a file fastText loads and
that gives the same vectors (byte-identical for files fastText wrote).
Quantized `.ftz` models (``fasttext quantize``) are decoded to float32 as
fastText decodes them: product-quantized rows (sub-vector centroids, times
a quantized norm with ``-qnorm``).  A model quantized with ``-cutoff`` keeps
only some words and n-gram rows (the dictionary's pruneidx maps an n-gram
id to its kept row; other n-grams are skipped in the mean); having no full
bucket table it gets no ``Subwords``: the kept rows go to the table's extras
(``fasttext_pruned_ids``, ``fasttext_pruned_rows``, ``fasttext_pruned_params``)
and OOV vectors come from them exactly as fastText computes them.
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
import time
from typing import TYPE_CHECKING

import numpy as np

from ..._lazy import kernels
from ...errors import CorruptFileError, DuplicateKeyError, FormatError, InputError, ParseError, UnsupportedVersionError
from ...core.subwords import Subwords
from .registry import register_format
from .report import ImportReport
from .rows import _Options

K = kernels("omnivec.core._ngram_kernels")   # numba loads with the first .bin read or written

if TYPE_CHECKING:
    from ...embeddings import Embeddings

MAGIC = 793712314
VERSION = 12
ARGS = struct.Struct("<12id")
ARG_NAMES = ("dim", "ws", "epoch", "minCount", "neg", "wordNgrams", "loss", "model", "bucket",
             "minn", "maxn", "lrUpdateRate", "t")
DICT_HEAD = struct.Struct("<3iqq")
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
# fastText's defaults, used when writing a table that did not come from fastText
DEFAULTS = {"ws": 5, "epoch": 5, "minCount": 5, "neg": 5, "wordNgrams": 1, "loss": "ns",
            "model": "skipgram", "lrUpdateRate": 100, "t": 1e-4}
READ_BLOCK = 1 << 24


def _code(table: dict[int, str], name: str, what: str) -> int:
    for k, v in table.items():
        if v == name:
            return k
    raise InputError(f"fastText {what} {name!r} is not one of: {', '.join(table.values())}")


def _read_matrix(mm: np.ndarray, fh, pos: int, path: str, what: str, dim: int, rows: int | None,
                 task, skip: bool = False) -> tuple[np.ndarray, int]:
    """Return (matrix float32, position after it) of a dense fastText matrix at mm[pos:].

    With skip the sizes are checked but the data is not read: the matrix
    returned is a zero-stride (rows x dim) view of one zero row.
    """
    size = len(mm)
    if pos + 17 > size:
        raise CorruptFileError(f"truncated: the {what} header needs 17 bytes, the file ends after "
                               f"{size - pos}", path=path, offset=pos)
    if mm[pos] not in (0, 1):
        raise CorruptFileError(f"the {what} quantization flag must be 0 or 1, found {int(mm[pos])}",
                               path=path, offset=pos)
    if mm[pos]:
        return _read_quantized(mm, pos + 1, path, what, dim, rows, task)
    m, n = struct.unpack_from("<qq", mm, pos + 1)
    if n != dim or m < 0 or (rows is not None and m != rows):
        want = f"{rows} x {dim}" if rows is not None else f"? x {dim}"
        raise CorruptFileError(f"the {what} is {m} x {n}; the header says {want}", path=path, offset=pos + 1)
    start = pos + 17
    nbytes = m * n * 4
    if start + nbytes > size:
        raise CorruptFileError(f"truncated: the {what} ({m} x {n} float32) needs {nbytes:,} bytes from "
                               f"byte {start}, the file has {size - start:,}", path=path, offset=start)
    if skip:
        task.advance(nbytes / 1e6)
        return np.broadcast_to(np.zeros(n, np.float32), (m, n)), start + nbytes
    out = np.empty((m, n), np.float32)
    flat = memoryview(out.reshape(-1).view(np.uint8))
    # read() into the array block by block: no second full-size buffer, no mapped pages kept
    # resident, and the progress bar moves
    fh.seek(start)
    for s in range(0, nbytes, READ_BLOCK):
        e = min(nbytes, s + READ_BLOCK)
        got = fh.readinto(flat[s:e])
        if got != e - s:
            raise CorruptFileError(f"the file shrank while being read: the {what} ends early",
                                   path=path, offset=start + s + (got or 0))
        task.advance((e - s) / 1e6)
    return out, start + nbytes


def _read_pq(mm: np.ndarray, pos: int, path: str, what: str, dim: int) -> tuple[tuple, int]:
    """Return ((nsubq, dsub, lastdsub, centroids), position after) of a fastText ProductQuantizer."""
    if pos + 16 > len(mm):
        raise CorruptFileError(f"truncated: the {what}'s product quantizer header needs 16 bytes",
                               path=path, offset=pos)
    pdim, nsubq, dsub, lastdsub = struct.unpack_from("<4i", mm, pos)
    if (pdim != dim or nsubq <= 0 or dsub <= 0 or not 0 < lastdsub <= dsub
            or (nsubq - 1) * dsub + lastdsub != dim):
        raise CorruptFileError(f"the {what}'s product quantizer (dim {pdim}, {nsubq} sub-quantizers of "
                               f"{dsub}, last {lastdsub}) does not cover the {dim} dims", path=path,
                               offset=pos)
    pos += 16
    nbytes = 256 * dim * 4
    if pos + nbytes > len(mm):
        raise CorruptFileError(f"truncated: the {what}'s centroids need {nbytes:,} bytes", path=path,
                               offset=pos)
    centroids = np.frombuffer(mm[pos:pos + nbytes].tobytes(), "<f4").astype(np.float32)
    return (nsubq, dsub, lastdsub, centroids), pos + nbytes


def _read_quantized(mm: np.ndarray, pos: int, path: str, what: str, dim: int, rows: int | None,
                    task) -> tuple[np.ndarray, int]:
    """Return (decoded matrix float32, position after it) of a product-quantized fastText matrix."""
    size = len(mm)
    if pos + 21 > size:
        raise CorruptFileError(f"truncated: the quantized {what} header needs 21 bytes", path=path,
                               offset=pos)
    if mm[pos] not in (0, 1):
        raise CorruptFileError(f"the {what} norm-quantization flag must be 0 or 1, found {int(mm[pos])}",
                               path=path, offset=pos)
    qnorm = bool(mm[pos])
    m, n = struct.unpack_from("<qq", mm, pos + 1)
    (codesize,) = struct.unpack_from("<i", mm, pos + 17)
    if n != dim or m < 0 or (rows is not None and m != rows):
        want = f"{rows} x {dim}" if rows is not None else f"? x {dim}"
        raise CorruptFileError(f"the quantized {what} is {m} x {n}; the header says {want}", path=path,
                               offset=pos + 1)
    pos += 21
    if codesize < 0 or pos + codesize > size or (m and codesize % m):
        raise CorruptFileError(f"the quantized {what} has {codesize:,} code bytes for {m:,} rows "
                               f"({size - pos:,} bytes left in the file)", path=path, offset=pos - 4)
    codes_at = pos
    pos += codesize
    (nsubq, dsub, lastdsub, centroids), pos = _read_pq(mm, pos, path, what, dim)
    if codesize != m * nsubq:
        raise CorruptFileError(f"the quantized {what} has {codesize:,} code bytes; {m:,} rows of "
                               f"{nsubq} sub-quantizers need {m * nsubq:,}", path=path, offset=codes_at - 4)
    codes = np.frombuffer(mm[codes_at:codes_at + codesize].tobytes(), np.uint8).reshape(m, nsubq)
    norm_codes = np.zeros(0, np.uint8)
    norm_centroids = np.zeros(0, np.float32)
    if qnorm:
        if pos + m > size:
            raise CorruptFileError(f"truncated: the {what}'s {m:,} norm codes run past the end",
                                   path=path, offset=pos)
        norm_codes = np.frombuffer(mm[pos:pos + m].tobytes(), np.uint8)
        pos += m
        (nq, _, _, norm_centroids), pos = _read_pq(mm, pos, path, f"{what} norm", 1)
    out = np.empty((m, dim), np.float32)
    K.pq_decode(codes, centroids, nsubq, dsub, lastdsub, norm_codes, norm_centroids, qnorm, out)
    task.advance((codesize + m) / 1e6)
    return out, pos


def read_fasttext_bin(path: str | os.PathLike, *, progress: bool | None = None,
                      compact: bool = False) -> "tuple[Embeddings, ImportReport]":
    """Return (Embeddings, ImportReport) for a fastText `.bin` model, vectors as fastText's get_word_vector gives them.

    `progress` shows a bar (None: only on a terminal).  compact=True keeps
    only the n-gram bucket rows beside the word vectors, dropping the words'
    own input rows and the output matrix (about half the model file for
    unsupervised models): OOV vectors are unchanged and a `.bin` written
    back gives the same word vectors within float32 rounding, but is not the
    original file and cannot resume training.
    Raises CorruptFileError / FormatError naming the byte offset for bad input.
    """
    from ..._progress import progress as _progress
    from ...core.ngrams import compose_vectors, ngram_ids_many
    from ...embeddings import Embeddings
    from ...metrics import get_metric
    from ...core.keys import KeyTable
    from ...core.vectors import VectorStore

    started = time.perf_counter()
    path = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror}", path=path) from None
    if size < 8:
        raise FormatError(f"not a fastText .bin model: {size} bytes, shorter than the 8-byte magic "
                          "and version", path=path, offset=0)
    mm = np.memmap(path, np.uint8, "r").view(np.ndarray)  # plain ndarray view: numba takes it as is
    magic, version = struct.unpack_from("<ii", mm, 0)
    if magic != MAGIC:
        raise FormatError(f"not a fastText .bin model: magic number {magic}, expected {MAGIC}",
                          path=path, offset=0)
    if version > VERSION:
        raise UnsupportedVersionError(f"fastText format version {version}; omnivec reads versions 11 "
                                      f"and {VERSION}", path=path, offset=4)
    if version < 11:
        raise FormatError(f"fastText format version {version} is too old; omnivec reads versions 11 "
                          f"and {VERSION}: re-save the model with fastText 0.9", path=path, offset=4)
    pos = 8
    if pos + ARGS.size + DICT_HEAD.size > size:
        raise CorruptFileError(f"truncated: the arguments and dictionary header need "
                               f"{ARGS.size + DICT_HEAD.size} bytes, the file ends after {size - pos}",
                               path=path, offset=pos)
    args = dict(zip(ARG_NAMES, ARGS.unpack_from(mm, pos)))
    dim, bucket, minn, maxn = args["dim"], args["bucket"], args["minn"], args["maxn"]
    if args["loss"] not in LOSSES or args["model"] not in MODELS:
        raise CorruptFileError(f"unknown loss {args['loss']} or model {args['model']} code in the "
                               "arguments (loss 1-4, model 1-3)", path=path, offset=pos)
    if dim <= 0 or bucket < 0 or minn < 0 or maxn < 0 or not np.isfinite(args["t"]):
        raise CorruptFileError(f"bad arguments dim={dim} bucket={bucket} minn={minn} maxn={maxn} "
                               f"t={args['t']} (dim > 0, the others >= 0, t finite)",
                               path=path, offset=pos)
    if bucket == 0 and maxn > 0 and maxn >= minn:
        raise CorruptFileError(f"character {minn}-{maxn}-grams need buckets, but bucket is 0",
                               path=path, offset=pos)
    if version == 11 and args["model"] == 3:
        maxn = 0  # version-11 supervised models had no character n-grams; fastText does the same
    pos += ARGS.size
    nsize, nwords, nlabels, ntokens, prune = DICT_HEAD.unpack_from(mm, pos)
    if nsize < 0 or nwords < 0 or nlabels < 0 or nwords + nlabels != nsize:
        raise CorruptFileError(f"dictionary sizes disagree: {nwords} words + {nlabels} labels != "
                               f"{nsize} entries", path=path, offset=pos)
    pos += DICT_HEAD.size
    if prune < -1:
        raise CorruptFileError(f"the pruned n-gram count is {prune}; expected -1 (not pruned) or >= 0",
                               path=path, offset=pos - 8)
    if pos + 10 * nsize > size:
        raise CorruptFileError(f"truncated: {nsize} dictionary entries need at least {10 * nsize:,} "
                               f"bytes, the file has {size - pos:,} left", path=path, offset=pos)
    starts, ends, counts, types, pos, bad, bad_at = K.parse_ft_dictionary(mm, pos, nsize)
    if bad >= 0:
        raise CorruptFileError(f"truncated: dictionary entry {bad} of {nsize} runs past the end of "
                               "the file", path=path, offset=int(bad_at))
    wrong = np.flatnonzero(types != np.where(np.arange(nsize) < nwords, 0, 1))
    if len(wrong):
        i = int(wrong[0])
        raise CorruptFileError(f"dictionary entry {i} has type {int(types[i])}; expected "
                               f"{0 if i < nwords else 1} (words first, then labels)", path=path,
                               offset=int(ends[i]) + 9)
    if (counts < 0).any():
        i = int(np.flatnonzero(counts < 0)[0])
        raise CorruptFileError(f"dictionary entry {i} has a negative count {int(counts[i])}",
                               path=path, offset=int(ends[i]) + 1)
    blob, offsets = K.gather_ranges(mm, starts, ends)
    _check_utf8(blob, offsets, starts, path)
    pruned = None
    if prune >= 0:
        # quantized with a cutoff: only these n-gram ids keep a row (id -> row among the kept)
        if pos + 8 * prune > size:
            raise CorruptFileError(f"truncated: {prune:,} pruned n-gram pairs need {8 * prune:,} bytes",
                                   path=path, offset=pos)
        pairs = np.frombuffer(mm[pos:pos + 8 * prune].tobytes(), "<i4").reshape(prune, 2).astype(np.int64)
        bad = np.flatnonzero((pairs[:, 0] < 0) | (pairs[:, 0] >= max(bucket, 1))
                             | (pairs[:, 1] < 0) | (pairs[:, 1] >= prune))
        if len(bad) or len(np.unique(pairs[:, 0])) != prune:
            i = int(bad[0]) if len(bad) else 0
            raise CorruptFileError(f"pruned n-gram pair {i} ({int(pairs[i, 0])} -> {int(pairs[i, 1])}) "
                                   f"is out of range or repeated (ids < {bucket}, rows < {prune})",
                                   path=path, offset=pos + 8 * i)
        pruned = pairs
        pos += 8 * prune
    if pos < size and mm[pos] == 0 and pruned is not None:
        raise CorruptFileError("the dictionary is pruned but the input matrix is not quantized; "
                               "fastText refuses such files too", path=path, offset=pos)

    rows = nwords + (bucket if pruned is None else len(pruned))
    quantized = pos < size and int(mm[pos]) == 1
    with _progress(f"Reading {os.path.basename(path)}", (size - pos) / 1e6, unit="MB",
                   enabled=progress) as task, open(path, "rb", buffering=0) as fh:
        inp, pos = _read_matrix(mm, fh, pos, path, "input matrix", dim, rows, task)
        out_rows = nlabels if args["model"] == 3 else nwords
        output, pos = _read_matrix(mm, fh, pos, path, "output matrix", dim, None, task, skip=compact)
    if output.shape[0] != out_rows:
        raise CorruptFileError(f"the output matrix has {output.shape[0]} rows; a "
                               f"{MODELS[args['model']]} model with {nwords} words and {nlabels} labels "
                               f"should have {out_rows}", path=path, offset=pos - output.nbytes - 16)
    if pos != size:
        raise CorruptFileError(f"{size - pos:,} unexpected bytes after the output matrix", path=path,
                               offset=pos)
    del mm

    word_rows, buckets = inp[:nwords], inp[nwords:]
    word_blob, word_offsets = blob[:offsets[nwords]], offsets[:nwords + 1]
    if pruned is None:
        vectors = compose_vectors(word_rows, buckets, word_blob, word_offsets, minn, maxn, bucket)
    else:
        ids, id_offsets = ngram_ids_many(word_blob, word_offsets, minn, maxn, bucket) if bucket else \
            (np.empty(0, np.int64), np.zeros(nwords + 1, np.int64))
        remap = np.full(max(bucket, 1), -1, np.int64)
        remap[pruned[:, 0]] = pruned[:, 1]
        vectors = np.empty((nwords, dim), np.float32)
        K.compose_mapped(word_rows, buckets, ids, id_offsets, remap, vectors)
    try:
        keys, _ = KeyTable.from_blob(word_blob, word_offsets)
    except DuplicateKeyError as exc:
        raise CorruptFileError(f"the dictionary repeats a word: {exc}", path=path) from None
    labels = [bytes(blob[offsets[i]:offsets[i + 1]]).decode("utf-8") for i in range(nwords, nsize)]
    settings = {"version": version, "ws": args["ws"], "epoch": args["epoch"], "minCount": args["minCount"],
                "neg": args["neg"], "wordNgrams": args["wordNgrams"], "loss": LOSSES[args["loss"]],
                "model": MODELS[args["model"]], "lrUpdateRate": args["lrUpdateRate"], "t": args["t"],
                "ntokens": int(ntokens), "labels": labels,
                "label_counts": [int(c) for c in counts[nwords:]]}
    settings["quantized"] = quantized
    extras = {}
    if pruned is None:
        subwords = Subwords(minn=minn, maxn=maxn, bucket=bucket, vectors=buckets,
                            word_vectors=None if compact else word_rows,
                            output=None if compact else output, settings=settings)
    else:
        # a pruned n-gram table is not a full bucket table: keep the kept rows, by id, for OOV
        subwords = None
        order = np.argsort(pruned[:, 0])
        extras = {"fasttext_pruned_ids": pruned[order, 0].copy(),
                  "fasttext_pruned_rows": np.ascontiguousarray(buckets[pruned[order, 1]]),
                  "fasttext_pruned_params": np.array([minn, maxn, bucket], np.int64)}
    meta = {"source_format": "fasttext-bin", "source": os.path.basename(path),
            "learner": "fastText", "parameters": {k: settings[k] for k in
                                                   ("model", "loss", "ws", "epoch", "minCount", "neg",
                                                    "wordNgrams", "t")}
            | {"dim": dim, "bucket": bucket, "minn": minn, "maxn": maxn}}
    meta["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    store = VectorStore.encode(vectors, "float32")
    emb = Embeddings.from_parts(name="embeddings", keys=keys, store=store, metric=get_metric("cosine"),
                                 counts=counts[:nwords].copy(), meta=meta, subwords=subwords, extras=extras,
                                 oov=False, source=None)
    report = _report(path=path, rows=nwords, dim=dim, labels=nlabels, bucket=bucket, version=version,
                     minn=minn, maxn=maxn, size=size, seconds=time.perf_counter() - started,
                     quantized=quantized, pruned=None if pruned is None else len(pruned))
    return emb, report


def _report(*, path: str, rows: int, dim: int, labels: int, bucket: int, version: int,
            minn: int, maxn: int, size: int, seconds: float, quantized: bool,
            pruned: int | None) -> "ImportReport":
    """Return the import report."""
    notes = [f"fastText format version {version}: {rows:,} words, {bucket:,} n-gram buckets "
             f"(character {minn}-{maxn}-grams)" + (f", {labels:,} labels kept in the subword settings"
                                                  if labels and pruned is None else "")]
    if quantized:
        notes.append("product-quantized (.ftz) matrices decoded to float32, as fastText decodes them")
    if pruned is not None:
        notes.append(f"pruned model: {pruned:,} n-gram rows kept (stored as extras for OOV vectors); "
                     "it has no full bucket table, so it exports to .bin without n-grams")
    return ImportReport(format="fasttext-bin", path=path, rows=rows, dim=dim, bytes_read=size,
                        seconds=seconds, notes=notes)


def _check_utf8(blob: np.ndarray, offsets: np.ndarray, starts: np.ndarray, path: str) -> None:
    """Raise ParseError naming the entry's byte offset when a word is not valid UTF-8."""
    try:
        bytes(blob).decode("utf-8")
    except UnicodeDecodeError as exc:
        i = int(np.searchsorted(offsets, exc.start, side="right") - 1)
        raise ParseError(f"dictionary entry {i} is not valid UTF-8 ({exc.reason}); omnivec keys are "
                         "UTF-8 text", path=path, offset=int(starts[i]) + exc.start - int(offsets[i])) from None
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    split = nonempty[(blob[offsets[nonempty]] & 0xC0) == 0x80]
    if len(split):
        i = int(split[0])
        raise ParseError(f"dictionary entry {i} starts in the middle of a UTF-8 character",
                         path=path, offset=int(starts[i]))


def write_fasttext_bin(emb: "Embeddings", path: str | os.PathLike) -> None:
    """Write `emb` as a fastText `.bin` model (format version 12) that fastText loads, atomically.

    A table read from a `.bin` is written back byte for byte.  When the
    table's subwords lack the words' own input rows, or its float32 vectors
    no longer equal their composition (changed after import), own rows are
    solved from the vectors, so fastText's word vectors equal the table's.  A table
    without subwords is written with bucket 0 (no n-grams): fastText then
    returns the table's own vectors.  String keys only, without NUL bytes.
    """
    from ...core.ngrams import compose_vectors, decompose_vectors
    from ..container import atomic_path

    if emb.keys.kind != "str":
        raise InputError("fastText .bin models need string keys; this table has integer keys")
    keys = emb.keys.checked()  # compiled kernels below read these arrays without bounds checks
    blob = np.asarray(keys.blob, np.uint8)
    offsets = np.asarray(keys.offsets, np.int64)
    if (blob == 0).any():
        i = int(np.searchsorted(offsets, int(np.flatnonzero(blob == 0)[0]), side="right") - 1)
        raise InputError(f"key {i} ({emb.keys.key(i)!r}) holds a NUL byte, which fastText's "
                         "dictionary uses as its word terminator")
    n, dim = len(emb), emb.dim
    sw = emb.subwords
    if sw is not None and sw.kind != "fasttext":
        raise InputError(f"subword table of kind {sw.kind!r} cannot be written as fastText n-grams")
    settings = dict(DEFAULTS)
    if sw is not None:
        settings.update({k: v for k, v in sw.settings.items() if k in DEFAULTS})
        minn, maxn, bucket = sw.minn, sw.maxn, sw.bucket
        buckets = np.asarray(sw.vectors, np.float32)
        word_rows = None
        if sw.word_vectors is not None and sw.word_vectors.shape == (n, dim):
            word_rows = np.asarray(sw.word_vectors, np.float32)
            if emb.storage == "float32":
                # the table's vectors win: if they were changed after import, solve new own rows
                composed = compose_vectors(word_rows, buckets, blob, offsets, minn, maxn, bucket)
                if n and float(np.abs(composed - emb.vectors).max()) > 1e-5:
                    word_rows = None
        if word_rows is None:
            word_rows = decompose_vectors(emb.vectors, buckets, blob, offsets, minn, maxn, bucket)
        labels = list(sw.settings.get("labels", []))
        label_counts = list(sw.settings.get("label_counts", [1] * len(labels)))
        ntokens = sw.settings.get("ntokens")
        output = sw.output
    else:
        minn = maxn = bucket = 0
        buckets = np.empty((0, dim), np.float32)
        word_rows = emb.vectors
        labels, label_counts, ntokens, output = [], [], None, None
    if len(label_counts) != len(labels):
        raise InputError(f"{len(labels)} labels but {len(label_counts)} label counts in the subword settings")
    model, loss = _code(MODELS, settings["model"], "model"), _code(LOSSES, settings["loss"], "loss")
    out_rows = len(labels) if model == 3 else n
    if output is None:
        # a zero-stride view: written block by block, never allocated in full
        output = np.broadcast_to(np.zeros(dim, np.float32), (out_rows, dim))
    if output.shape != (out_rows, dim):
        raise InputError(f"the fastText output matrix is {output.shape[0]} x {output.shape[1]}; a "
                         f"{settings['model']} model needs {out_rows} x {dim}")
    counts = emb.counts if emb.counts is not None else np.ones(n, np.int64)
    all_blob, all_offsets = blob, offsets
    if labels:
        lb = [s.encode("utf-8") for s in labels]
        all_blob = np.concatenate([blob, np.frombuffer(b"".join(lb), np.uint8)])
        all_offsets = np.concatenate([offsets, offsets[-1] + np.cumsum([len(b) for b in lb])])
    all_counts = np.concatenate([np.asarray(counts, np.int64), np.asarray(label_counts, np.int64)])
    types = np.concatenate([np.zeros(n, np.int8), np.ones(len(labels), np.int8)])
    if ntokens is None:
        ntokens = int(all_counts.sum())
    head = struct.pack("<ii", MAGIC, VERSION) + ARGS.pack(
        dim, int(settings["ws"]), int(settings["epoch"]), int(settings["minCount"]), int(settings["neg"]),
        int(settings["wordNgrams"]), loss, model, bucket, minn, maxn, int(settings["lrUpdateRate"]),
        float(settings["t"]))
    head += DICT_HEAD.pack(n + len(labels), n, len(labels), int(ntokens), -1)
    entries = K.pack_ft_dictionary(all_blob, all_offsets.astype(np.int64), all_counts, types)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(head)
        fh.write(memoryview(entries))
        fh.write(b"\x00" + struct.pack("<qq", n + bucket, dim))
        _write_rows(fh, word_rows)
        _write_rows(fh, buckets)
        fh.write(b"\x00" + struct.pack("<qq", output.shape[0], dim))
        _write_rows(fh, output)


def _write_rows(fh, arr: np.ndarray) -> None:
    # block by block: the source may be a memory map larger than RAM
    step = max(1, READ_BLOCK // max(1, arr.shape[1] * 4))
    for s in range(0, arr.shape[0], step):
        fh.write(memoryview(np.ascontiguousarray(arr[s:s + step], dtype="<f4")).cast("B"))


# -- as a vector format -----------------------------------------------------------

def _is_fasttext_bin(probe) -> bool:
    head = probe.head
    return len(head) >= 4 and struct.unpack("<i", head[:4])[0] == MAGIC


def _read(path: str, fmt: str, o: _Options, report: ImportReport):
    # A .bin is one model (words, n-gram buckets, output matrix): it is read whole or refused,
    # so the row-by-row options of the vector formats are refused rather than ignored.
    if o.max_rows is not None:
        raise InputError(f"{path}: max_rows does not apply to a fastText .bin model, which is read whole "
                         "(its words and n-gram buckets are one model); import it, then keep the rows you need")
    if o.nan != "error":
        raise InputError(f"{path}: nan={o.nan!r} does not apply to a fastText .bin model: it is read whole, "
                         "and refused if it holds NaN or infinity")
    try:
        emb, ft_report = read_fasttext_bin(path, progress=o.progress)
    except InputError as exc:  # e.g. NaN in a matrix: say which file
        raise CorruptFileError(f"{exc}", path=path) from None
    for f in ("lines_read", "bytes_read", "notes"):
        setattr(report, f, getattr(ft_report, f))
    report.bytes_read = report.bytes_read or os.path.getsize(path)
    return emb


def _write(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    write_fasttext_bin(emb, path)


register_format("fasttext-bin", "fastText .bin model (words and subword buckets)", read=_read, write=_write,
                detect=_is_fasttext_bin, magic=True, extensions=(".bin",), family="binary",
                aliases=("fasttext", "ft-bin"))
