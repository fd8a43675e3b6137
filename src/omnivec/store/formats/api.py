"""import_vectors and export_vectors: any registered format to a table or a model file, and back.

An import detects the format (sniff.py) unless one is named, reads it with
the format's reader, builds the key table (transcode.py) and returns
Embeddings, or writes the model file: a streaming reader's rows go through
a raw temporary file in the destination folder straight into the model
file's writer, so memory holds one batch of rows, never the table.  An
export calls the format's writer.  Every file appears under its name only
once complete.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import FormatError, InputError
from .registry import FORMATS
from .report import ImportReport
from .rows import P, _check_options, _Options, _Parsed, _raw_blocks
from .sniff import detect_format, format_for_path, is_pickle
from .transcode import _keys_table


def _finish(parsed: _Parsed, path: str, o: _Options, report: ImportReport, meta: dict):
    """Return in-memory Embeddings for parsed rows held in memory."""
    from ...embeddings import Embeddings
    from ...metrics import get_metric
    from ...core.vectors import VectorStore

    table, keep = _keys_table(parsed, path, o, report)
    vectors = parsed.vectors
    if keep is not None:
        vectors = vectors[:P.compact_rows(vectors, keep)]
    store = VectorStore.encode(vectors, o.storage)
    return Embeddings.from_parts(name="embeddings", keys=table, store=store,
                                  metric=get_metric(o.metric), counts=None, meta=meta, subwords=None,
                                  extras={}, oov=False, source=None)


def _write_streamed(dst: str, name: str, table, parsed: _Parsed, keep: np.ndarray | None,
                    o: _Options, meta: dict) -> None:
    """Write a one-table model file from keys in memory and rows in a raw file, atomically.

    The model file's own writer (store.model.save_tables) encodes, checksums
    and writes the rows block by block as they are read back, so memory holds
    one block, never the table.
    """
    from ..model import StreamedTable, save_tables

    n = parsed.rows if keep is None else int(keep.sum())
    streamed = StreamedTable(keys=table, n=n, dim=parsed.dim, storage=o.storage, metric=o.metric, meta=meta,
                             blocks=lambda: _raw_blocks(parsed.raw_path, parsed.rows, parsed.dim, keep),
                             progress=o.progress)
    save_tables(dst, {name: streamed})


# -- import ----------------------------------------------------------------------


def import_vectors(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
                   format: str | None = None, storage: str = "float32", metric: str = "cosine",
                   keys_file: str | os.PathLike | None = None, on_duplicate: str = "first",
                   nan: str = "error", encoding: str = "utf-8", encoding_errors: str = "strict",
                   max_rows: int | None = None, progress: bool | None = None,
                   key_column: str | None = None, vector_column: str | None = None,
                   name: str = "embeddings", workers: int | None = None) -> tuple[Any, ImportReport]:
    """Return (Embeddings, ImportReport) for the vector file `src`; with `dst`, the model written there.

    The format is detected from the content unless `format` names one of
    FORMATS.  With `dst` the model file is written atomically and the returned
    Embeddings is that file, memory-mapped.  on_duplicate: "first" (keep the
    first copy, count the rest) or "error"; nan: "error", "skip" or "zero" for
    rows holding NaN/inf; keys that are not valid UTF-8 raise ParseError unless
    encoding_errors="replace"; max_rows stops after that many rows.  Text is
    parsed on `workers` threads (None: one thread on machines with two cores,
    numba's thread count above that; results do not depend on it).  Parquet: key_column / vector_column pick the columns when
    the schema leaves a doubt; npy: keys_file (default ``<base>.keys.txt``).
    """
    from ...embeddings import Embeddings

    t0 = time.perf_counter()
    path = os.fspath(src)
    o = _Options(storage=storage, metric=metric, keys_file=None if keys_file is None else os.fspath(keys_file),
                 on_duplicate=on_duplicate, nan=nan, encoding=encoding, encoding_errors=encoding_errors,
                 max_rows=max_rows, progress=progress, key_column=key_column, vector_column=vector_column,
                 workers=workers)
    _check_options(o)
    detected = None
    try:
        detected = detect_format(path)
    except FormatError:
        if format is None or not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise
        with open(path, "rb") as fh:
            h = fh.read(2)
        if is_pickle(h):
            raise
    if format is None:
        fmt = detected
    else:
        fmt = FORMATS.canonical(format)
        if detected is not None and detected != fmt:
            family = FORMATS.get(fmt).family
            same_family = family is not None and family == FORMATS.get(detected).family
            if same_family and family == "binary":
                fmt = detected        # ".bin" is either; the content decides
            elif not same_family:
                raise FormatError(f"asked to read {fmt}, but the content looks like {detected}; "
                                  "leave the format out to use the detected one", path=path)
    spec = FORMATS.get(fmt)
    if spec.reader is None:
        raise FormatError(f"{fmt} files cannot be imported", path=path)
    report = ImportReport(format=fmt, path=path, nan_policy=nan, storage=o.storage)
    meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {"format": fmt, "file": Path(path).name, "bytes": os.path.getsize(path)}}
    if dst is not None and spec.streams:
        folder = Path(os.fspath(dst)).parent
        if not folder.is_dir():
            raise FormatError(f"folder {folder} does not exist", path=dst)
        o.spill_dir = str(folder)
    result = spec.reader(path, fmt, o, report)
    if isinstance(result, Embeddings):
        emb = result
        if o.storage != emb.storage:
            emb = emb.astype(o.storage)
        if o.metric != emb.metric:
            emb = emb.with_metric(o.metric)
        emb.meta.setdefault("source", meta["source"])
        _note_import(emb.meta, report)
    elif result.raw_path is not None:
        from ..model import open_table

        try:
            table, keep = _keys_table(result, path, o, report)
            _note_import(meta, report)
            _write_streamed(os.fspath(dst), name, table, result, keep, o, meta)
        finally:
            Path(result.raw_path).unlink(missing_ok=True)
        emb = open_table(dst)
        report.rows, report.dim = len(emb), emb.dim
        report.dst = os.fspath(dst)
        report.seconds = time.perf_counter() - t0
        return emb, report
    else:
        emb = _finish(result, path, o, report, meta)
        _note_import(meta, report)
    report.rows, report.dim = len(emb), emb.dim
    if dst is not None:
        from ..model import open_table, save_tables

        save_tables(dst, {name: emb.replace(name=name)})
        emb = open_table(dst)
        report.dst = os.fspath(dst)
    elif name != emb.name:
        emb = emb.replace(name=name)
    report.seconds = time.perf_counter() - t0
    return emb, report


def _note_import(meta: dict, report: ImportReport) -> None:
    # Provenance: what the import skipped or changed travels with the model.
    info = {k: v for k, v in (("duplicates", report.duplicates), ("nan_rows", report.nan_rows),
                              ("replaced_encodings", report.replaced_encodings)) if v}
    if report.nan_rows:
        info["nan_policy"] = report.nan_policy
    if info:
        meta["import"] = info


# -- export ----------------------------------------------------------------------

def export_vectors(emb, path: str | os.PathLike, format: str | None = None, *,
                   progress: bool | None = None, keys_file: str | os.PathLike | None = None) -> None:
    """Write `emb` to `path` in `format` (judged by the extension when None), atomically; returns None.

    Text floats are written in their shortest form that reads back as the
    same float32.  npy writes the keys beside it (``<base>.keys.txt`` unless
    `keys_file` is given).  fastText .bin goes through omnivec.store.formats.fasttext_bin.
    """
    path = os.fspath(path)
    fmt = format_for_path(path) if format is None else FORMATS.canonical(format)
    if fmt == "word2vec-binary" and format is not None and _normal(format) == "bin" and emb.subwords is not None:
        fmt = "fasttext-bin"
    spec = FORMATS.get(fmt)
    if spec.writer is None:
        raise InputError(f"{fmt} files cannot be written")
    spec.writer(emb, path, fmt, progress=progress, keys_file=keys_file)


def _normal(name: str) -> str:
    from ..._registry import normalize_name

    return normalize_name(name)
