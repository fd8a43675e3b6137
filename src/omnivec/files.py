"""Library operations on files: convert, info, verify, and the indexes stored beside a model.

What `omnivec convert|info|verify|index ...` do, as functions that return
plain dicts (the CLI prints them, or their `--json`); the demo calls the
same functions.  `omnivec.convert`, `omnivec.info` and `omnivec.verify`
are these.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import FormatError, InputError, UnknownNameError

MODEL = "omnivec"
ON_DUPLICATE = ("first", "error")
RERANK = ("float16", "float32")
MUVERA = "muvera"


# -- opening --------------------------------------------------------------------

def open_table(path: str | os.PathLike, table: str | None = None, *, oov: bool | None = None, opened=None):
    """Return one table of a model file (the only one, or the one named), memory-mapped.

    Opened as `omnivec.open` opens it, so an index stored beside the file is
    found on first use (`opened`: what `omnivec.open(path)` already returned).
    """
    import omnivec
    from .embeddings import Embeddings

    if opened is None:
        opened = omnivec.open(path, oov=oov)
    if isinstance(opened, Embeddings):
        if table is not None and table != opened.name:
            raise InputError(f"no table {table!r} in {os.fspath(path)}; its only table is {opened.name!r}")
        return opened
    if table is None:
        raise InputError(f"{os.fspath(path)} holds {len(opened)} tables "
                         f"({', '.join(opened)}); pick one with --table NAME")
    return opened[table]


# -- convert --------------------------------------------------------------------

def _pick(name: str, value: str, valid: tuple[str, ...]) -> str:
    if value.lower() not in valid:
        raise UnknownNameError(f"unknown {name} {value!r}; valid names are: {', '.join(valid)}")
    return value.lower()


def _canonical(registry, name: str | None) -> str | None:
    return None if name is None else registry.canonical(name)


def _same_file(a: str, b: str) -> bool:
    """Return whether two paths name one file: equal once links are resolved, or one inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _refuse_overwriting_inputs(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Raise InputError when an output names one of the inputs (or another output) of a conversion."""
    for i, out in enumerate(outputs):
        for src in inputs:
            if _same_file(out, src):
                raise InputError(f"the output {out} is the input {src}: writing it would destroy the data "
                                 "being read; write to another path")
        for other in outputs[:i]:
            if _same_file(out, other):
                raise InputError(f"two outputs of this conversion are the same file ({out}); "
                                 "give the keys file another path")


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, from_format: str | None = None,
            to_format: str | None = None, storage: str | None = None, metric: str | None = None,
            keys_file: str | os.PathLike | None = None, on_duplicate: str = "first",
            nan: str = "error", oov: bool = False, table: str | None = None,
            encoding: str = "utf-8", encoding_errors: str = "strict", max_rows: int | None = None,
            progress: bool | None = None, rerank: str | None = None) -> dict:
    """Return a summary of converting `src` to `dst`: an import, an export, or a model-to-model copy.

    Formats are detected from the content of `src` and from the extension of
    `dst` (a model file when it has none we know) unless named.  A model-to-model
    copy keeps every table and changes the storage dtype, the metric or adds
    the OOV index; an import writes the model through
    `store.formats.import_vectors`; an export writes one table through
    `store.formats.export_vectors`.  An output that is one of the inputs
    (`src`, the keys file read), after resolving links, is refused before
    anything is written.
    """
    from .core.vectors import STORAGE
    from .metrics import METRICS
    from .store.formats import FORMATS, NAN_POLICIES, detect_format, export_vectors, format_for_path, \
        import_vectors

    storage = _canonical(STORAGE, storage)
    metric = _canonical(METRICS, metric)
    if rerank is not None:
        rerank = _pick("re-ranking copy", rerank, RERANK)
        if storage not in ("int8", "binary"):
            raise InputError(f"--rerank keeps a {rerank} copy beside int8 or binary codes; "
                             f"add --storage int8 or --storage binary (got {storage or 'none'})")
    on_duplicate = _pick("duplicate policy", on_duplicate, ON_DUPLICATE)
    nan = _pick("NaN policy", nan, NAN_POLICIES)
    src_fmt = _canonical(FORMATS, from_format) or detect_format(src)
    if to_format is not None:
        dst_fmt = FORMATS.canonical(to_format)
    else:
        try:
            dst_fmt = format_for_path(dst)
        except InputError:
            if Path(dst).suffix:   # an extension we do not know: never guess (out.csv is not a model)
                raise InputError(f"cannot tell which format to write from the extension of {dst}; "
                                 f"name it with --to (one of: {', '.join(FORMATS.names())}), or use "
                                 f".ov for a model file") from None
            dst_fmt = MODEL        # no extension at all: a model file
    if dst_fmt != MODEL:
        for flag, value in (("--storage", storage), ("--metric", metric), ("--oov", oov or None),
                            ("--rerank", rerank)):
            if value is not None:
                raise InputError(f"{flag} applies to model files; {dst} is written as {dst_fmt} "
                                 "(float32 vectors)")
    keys = None if keys_file is None else os.fspath(keys_file)
    # A model holds its keys: --keys then names where an export writes them; otherwise the keys read.
    keys_in, keys_out = (None, keys) if src_fmt == MODEL else (keys, None)
    _refuse_overwriting_inputs(
        [os.fspath(src), *FORMATS.get(src_fmt).files(os.fspath(src), keys_in, write=False)],
        [os.fspath(dst), *FORMATS.get(dst_fmt).files(os.fspath(dst), keys_out, write=True)])
    summary: dict = {"src": os.fspath(src), "dst": os.fspath(dst), "from": src_fmt, "to": dst_fmt}

    if src_fmt == MODEL:
        if keys_file is not None and dst_fmt != "npy":
            raise InputError(f"--keys names the keys file of .npy vectors; {src} is a model file "
                             "that holds its keys")
        if dst_fmt == MODEL:
            from .store.model import open_model, save_tables

            whole = open_model(src) if table is None else None
            tables = whole.tables if whole is not None else {table: open_table(src, table)}
            out = {}
            for name, emb in tables.items():
                if storage is not None and (storage != emb.storage or rerank is not None):
                    emb = emb.astype(storage, rerank=rerank)
                if metric is not None and metric != emb.metric:
                    emb = emb.with_metric(metric)
                out[name] = _with_oov(emb) if oov else emb
            save_tables(dst, out, kind=whole.kind or None if whole is not None else None)
            return {**summary, "mode": "copy", "tables": {
                n: {"rows": len(e), "dim": e.dim, "storage": e.storage, "metric": e.metric}
                for n, e in out.items()}, "bytes": os.path.getsize(dst)}
        emb = open_table(src, table)
        if to_format is None and dst_fmt == "word2vec-binary" and emb.subwords is not None:
            # A .bin of a model with subword buckets keeps them: fastText's .bin, not word2vec's.
            dst_fmt = summary["to"] = "fasttext-bin"
        export_vectors(emb, dst, dst_fmt, progress=progress, keys_file=keys_file)
        return {**summary, "mode": "export", "table": emb.name, "rows": len(emb), "dim": emb.dim,
                "bytes": os.path.getsize(dst)}

    kwargs = dict(format=src_fmt, storage="float32" if rerank else storage or "float32",
                  metric=metric or "cosine",
                  keys_file=keys_file, on_duplicate=on_duplicate, nan=nan, encoding=encoding,
                  encoding_errors=encoding_errors, max_rows=max_rows, progress=progress)
    if dst_fmt == MODEL and not oov and rerank is None:
        emb, report = import_vectors(src, dst, **kwargs)
    else:
        # Import in memory; the OOV index (part of the model file) or the export is added before
        # anything is written, so the output is written once.
        emb, report = import_vectors(src, None, **kwargs)
        if dst_fmt == MODEL:
            if rerank is not None:
                emb = emb.astype(storage, rerank=rerank)
            if oov:
                emb = _with_oov(emb)
            emb.save(dst)
            report.dst = os.fspath(dst)
        else:
            export_vectors(emb, dst, dst_fmt, progress=progress)
    return {**summary, "mode": "import" if dst_fmt == MODEL else "convert", "rows": len(emb),
            "dim": emb.dim, "storage": emb.storage, "metric": emb.metric, "oov": bool(oov),
            "report": report.to_dict(), "report_lines": list(report.lines()),
            "bytes": os.path.getsize(dst)}


def _with_oov(emb):
    from .core.oov import prepare_oov

    return prepare_oov(emb)


# -- info and verify ------------------------------------------------------------

def info(path: str | os.PathLike) -> dict:
    """Return what the header of a model file says: tables, sizes, storage, metric, provenance.

    Reads only the header (and memory-maps the tensors without touching them),
    so it takes the same time for a 1 kB and a 10 GB model.  A sharded
    table's manifest (`omnivec.distributed`) gives its table and its shards.
    """
    from .distributed import shards
    from .store import container

    if shards.is_manifest(path):
        return shards.info(path)
    from .store.model import read_header

    c = container.read(path)
    header = read_header(c)
    tables = []
    for name, tm in header["tables"].items():
        tm = tm if isinstance(tm, dict) else {}
        prefix = name + "."
        # sizes from the byte spans: tensors of dtypes numpy lacks (BF16, FP8) are listed, not mapped
        nbytes = {k[len(prefix):]: e["data_offsets"][1] - e["data_offsets"][0]
                  for k, e in c.entries.items() if k.startswith(prefix)}
        tables.append({
            "name": name, "rows": tm.get("n"), "dim": tm.get("dim"), "storage": tm.get("storage"),
            "metric": tm.get("metric"), "key_kind": tm.get("key_kind"), "counts": bool(tm.get("counts")),
            "subwords": tm.get("subwords") or None, "extras": list(tm.get("extras") or []),
            "texts": bool(tm.get("texts")), "text_bytes": nbytes.get("texts_blob", 0),
            "vector_bytes": nbytes.get("vectors", 0), "bytes": sum(nbytes.values()),
            "meta": tm.get("meta") if isinstance(tm.get("meta"), dict) else {},
        })
    return {"path": os.fspath(path), "file_bytes": os.path.getsize(path), "format": "omnivec",
            "format_version": header["format_version"], "tensors": len(c.tensors),
            "checksums": "checksums" in c.metadata, "tables": tables}


def verify(path: str | os.PathLike) -> dict:
    """Return the result of a full check of a model file or an index file: ok, problems, what was checked.

    A model file: every tensor's CRC-32, each key index, finite norms.  An index
    file: see `omnivec.search.verify_index` (CRC-32s, header, added keys, the
    engine's graph or lists parsed and bounds-checked).  A BM25 index file:
    see `omnivec.search.verify_bm25` (CRC-32s, header, posting lists,
    vocabulary and keys, and the keys of the model beside it).  A MUVERA index
    (``model.ov.muvera``): its FDE table, its backend index and the model it
    was built for (`omnivec.search.muvera.verify_muvera`).  A sharded table's
    manifest: every shard file, its rows, the keys' routing and checksums
    (`omnivec.distributed.shards.verify`).
    """
    from .distributed import shards
    from .search import verify_bm25, verify_index
    from .search.bm25 import BM25_FORMAT
    from .search.index import INDEX_FORMAT
    from .store import container
    from .search.muvera import is_muvera_file, verify_muvera
    from .store.model import verify as verify_file

    if shards.is_manifest(path):
        return shards.verify(path)
    c = container.read(path)
    if c.metadata.get("format") == INDEX_FORMAT:
        return verify_index(path)
    if c.metadata.get("format") == BM25_FORMAT:
        return verify_bm25(path)
    if is_muvera_file(path):
        return verify_muvera(path)
    problems = verify_file(path)
    if not problems:
        try:   # a typed view checks what ties its tables together (a multi-vector model's offsets)
            import omnivec
            omnivec.open(path)
        except FormatError as exc:
            problems = [str(exc)]
    return {"path": os.fspath(path), "kind": "model", "ok": not problems, "problems": problems,
            "tensors": len(c.tensors), "bytes": os.path.getsize(path)}


def shard_file(model: str | os.PathLike, output: str | os.PathLike, shards: int, *,
               table: str | None = None) -> dict:
    """Return a summary of writing one table of a model file as `shards` model files plus a manifest.

    The manifest is `output` (``*.ovs``); the shards are written beside it
    (`omnivec.distributed.write_shards`), each key in the shard its hash routes it to.
    """
    from .distributed import shards as sharding

    t0 = time.perf_counter()
    emb = open_table(model, table)
    sharded = sharding.write_shards(emb, output, shards)
    summary = sharding.info(output)
    summary.pop("meta", None)
    return {**summary, "source": os.fspath(model), "seconds": time.perf_counter() - t0,
            "n_shards": sharded.n_shards}


# -- indexes stored beside a model ---------------------------------------------

def index_build(model: str | os.PathLike, backend: str = "hnsw", *, params: dict | None = None,
                table: str | None = None, out: str | os.PathLike | None = None,
                show_progress: bool | None = None, texts: str | os.PathLike | None = None) -> dict:
    """Return a summary of building the `backend` index of a model and saving it beside the model.

    `recall` is the recall@10 the index reaches on a sample of the table's own
    rows (what `target_recall=` tuned, when given; no queries for the flat index).
    backend "bm25" builds the sparse index over the table's texts (`texts`: a
    file of one document per line, in row order, when the table holds none);
    its params are k1 and b.
    backend="muvera" indexes a multi-vector model (`omnivec.search.muvera`):
    `params` are the encoder's (k_sim, reps, d_proj, final_dim, seed,
    candidates) and the refine stage's (refine_dim, refine), `backend` the inner index of the FDEs, and the inner
    backend's own parameters.
    """
    from .search import BM25, get_backend, index_path
    from .search.tune import report

    if str(backend).strip().lower() == BM25.name:
        return _bm25_build(model, params=params, table=table, out=out, texts=texts)
    if texts is not None:
        raise InputError(f"--texts applies to the bm25 backend; a {backend} index is built over the vectors")
    if backend.lower() == MUVERA:   # several vectors per key: FDEs indexed with an inner backend
        from .search.muvera import build_muvera

        params = dict(params or {})
        inner = params.pop("backend", "flat")
        if table is not None:
            raise InputError("--table does not apply to a MUVERA index: it indexes a whole multi-vector model")
        return build_muvera(model, backend=inner, out=out, show_progress=show_progress, **params)
    cls = get_backend(backend)
    emb = open_table(model, table)
    start = time.perf_counter()
    idx = cls.build(emb, show_progress=show_progress, **(params or {}))
    build_seconds = time.perf_counter() - start
    path = Path(out) if out else index_path(model, cls.name)
    start = time.perf_counter()
    idx.save(path)
    result = idx.info()
    result.update(path=os.fspath(path), build_seconds=build_seconds, save_seconds=time.perf_counter() - start,
                  bytes=path.stat().st_size, recall=report(idx))
    return result


def read_texts_file(path: str | os.PathLike, rows: int | None = None) -> list[str]:
    """Return the documents of a text file, one per line (UTF-8; the line end is not part of it).

    With `rows`, the file must hold exactly that many lines (InputError naming the file otherwise).
    """
    try:
        with open(path, "r", encoding="utf-8", newline="") as fh:
            lines = [ln[:-2] if ln.endswith("\r\n") else ln[:-1] if ln.endswith(("\n", "\r")) else ln for ln in fh]
    except FileNotFoundError:
        raise InputError(f"{os.fspath(path)}: no such texts file") from None
    except IsADirectoryError:
        raise InputError(f"{os.fspath(path)}: is a folder; give a file of one document per line") from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"the texts file is not UTF-8 text (bad byte at {exc.start} of a line)", path=path) from None
    if rows is not None and len(lines) != rows:
        raise InputError(f"{os.fspath(path)}: {len(lines)} lines for a table of {rows} rows; give one document "
                         f"per line, in row order")
    return lines


def _table_texts(path: str | os.PathLike, emb) -> list[str]:
    """Return one text per row of `emb` from a corpus file.

    A .tsv or .jsonl corpus with ids (see omnivec.encode.corpus) is matched
    to the table's keys, in any order: every key needs exactly one text, and
    an id the table lacks is an error.  Without ids, or from a plain text
    file (one document per line), the texts are taken in row order.
    """
    from .encode.corpus import corpus_layout, read_documents

    if corpus_layout(path) == "text":
        return read_texts_file(path, len(emb))
    docs = list(read_documents(path))
    if not any(d.id is not None for d in docs):
        if len(docs) != len(emb):
            raise InputError(f"{os.fspath(path)}: {len(docs)} documents for a table of {len(emb)} rows; give "
                             "one per row in row order, or an id column")
        return [d.text for d in docs]
    out: list[str | None] = [None] * len(emb)
    for d in docs:
        try:
            r = emb.keys.row(_key_of(emb, d.id))
        except InputError:
            r = -1
        if r < 0:
            raise InputError(f"{os.fspath(path)}, line {d.line}: document id {d.id!r} is not a key of table "
                             f"{emb.name!r}")
        if out[r] is not None:
            raise InputError(f"{os.fspath(path)}, line {d.line}: document id {d.id!r} appears twice")
        out[r] = d.text
    missing = [i for i, t in enumerate(out) if t is None]
    if missing:
        raise InputError(f"{os.fspath(path)}: {len(missing)} keys of table {emb.name!r} have no text, e.g. "
                         f"{emb.keys.keys_of(missing[:1])[0]!r}")
    return out


def _bm25_build(model, *, params: dict | None, table: str | None, out, texts) -> dict:
    """Return a summary of building the BM25 index of a model's table and saving it beside the model."""
    from .search import BM25, bm25_path

    params = dict(params or {})
    unknown = sorted(set(params) - {"k1", "b"})
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} for the bm25 index; valid ones are: b, k1")
    emb = open_table(model, table)
    doc_texts = _table_texts(texts, emb) if texts is not None else None
    start = time.perf_counter()
    idx = BM25(**params).fit_table(emb, doc_texts)
    build_seconds = time.perf_counter() - start
    path = Path(out) if out else bm25_path(model)
    start = time.perf_counter()
    idx.save(path)
    result = idx.info()
    result.update(path=os.fspath(path), live=len(idx), build_seconds=build_seconds,
                  save_seconds=time.perf_counter() - start, bytes=path.stat().st_size,
                  params={"k1": idx.k1, "b": idx.b}, recall={"queries": 0})
    return result


def open_with_index(model: str | os.PathLike, backend: str | None = None, index: str | os.PathLike | None = None,
                    table: str | None = None, opened=None):
    """Return (table, index): the index file named, or the one stored beside the model."""
    from .search import find_index, open_index

    emb = open_table(model, table, opened=opened)
    if index:
        return emb, open_index(index, emb, backend=backend)
    idx = find_index(emb, backend)
    if idx is None:
        want = f"a {backend} index" if backend else "an index"
        raise FormatError(f"no {want} beside the model (looked for {os.fspath(model)}.hnsw, .ivfpq, .flat); "
                          f"build one with `omnivec index build {os.fspath(model)}`", path=model)
    return emb, idx


def _key_of(emb, text):
    """Return the key a word names: an int for integer-keyed tables, else the string."""
    if emb.keys.kind == "int" and isinstance(text, str):
        try:
            return int(text)
        except ValueError:
            raise InputError(f"table {emb.name!r} has integer keys; {text!r} is not an integer") from None
    return text


def index_search(model: str | os.PathLike, keys: Sequence, *, k: int = 10, backend: str | None = None,
                 index: str | os.PathLike | None = None, table: str | None = None,
                 where: list[str] | None = None, allow: list | None = None,
                 deny: list | None = None, params: dict | None = None,
                 include_self: bool = False) -> dict:
    """Return the k nearest keys of each query key through the model's stored index."""
    from .search import Filter

    if k < 1:
        raise InputError(f"--k must be at least 1; got {k}")
    opened, mv = _multivectors(model, table)
    if mv is not None:
        return _muvera_search(mv, model, keys, k=k, backend=backend, index=index, filtered=bool(
            where or allow or deny), params=params, include_self=include_self)
    emb, idx = open_with_index(model, backend, index, table, opened=opened)
    qkeys = [_key_of(emb, x) for x in keys]
    flt = None
    if where or allow or deny:
        flt = Filter(allow=[_key_of(emb, x) for x in allow] if allow else None,
                     deny=[_key_of(emb, x) for x in deny] if deny else None, where=where or ())
    start = time.perf_counter()
    found = idx.search(qkeys if qkeys else np.zeros((0, emb.dim), np.float32), k, filter=flt,
                       exclude_self=not include_self, **(params or {}))
    seconds = time.perf_counter() - start
    results = []
    for i, qk in enumerate(qkeys):
        results.append({"key": qk, "neighbors": [{"key": kk, "score": s} for kk, s in found.pairs(i)]})
    return {"model": os.fspath(model), "index": idx.path, "backend": idx.name, "k": k,
            "filter": None if flt is None else str(flt), "seconds": seconds, "keys": results}


def _multivectors(model, table):
    """Return (what omnivec.open gives, that as MultiVectors or None): None unless a multi-vector model
    is asked for without a table name."""
    import omnivec
    from .search.multivector import MultiVectors

    opened = omnivec.open(model)
    return opened, (opened if table is None and isinstance(opened, MultiVectors) else None)


def _muvera_search(mv, model, keys, *, k, backend, index, filtered, params, include_self) -> dict:
    """Return the k best keys by MaxSim of each query key through the MUVERA index of a multi-vector model."""
    from .search.muvera import find_muvera, open_muvera

    if backend is not None and backend.strip().lower() != MUVERA:
        raise InputError(f"a multi-vector model is searched through its {MUVERA} index, not {backend}")
    if filtered:
        raise InputError("--where/--allow/--deny do not apply to a MUVERA index")
    params = dict(params or {})
    unknown = sorted(set(params) - {"candidates", "refine"})
    if unknown:
        raise InputError(f"unknown search parameter {unknown[0]!r} for a MUVERA index; valid ones are: "
                         "candidates, refine")
    idx = open_muvera(index, mv) if index else find_muvera(mv)
    if idx is None:
        raise FormatError(f"no MUVERA index beside the multi-vector model (looked for {os.fspath(model)}.muvera); "
                          f"build one with `omnivec index build {os.fspath(model)} --backend muvera`", path=model)
    mv.attach(idx)
    qkeys = [_key_of(mv.docs, x) for x in keys]
    start = time.perf_counter()
    found = mv.search(qkeys, k, approx=True, exclude_self=not include_self, **params)
    seconds = time.perf_counter() - start
    results = [{"key": qk, "neighbors": [{"key": kk, "score": sc} for kk, sc in found.pairs(i)]}
               for i, qk in enumerate(qkeys)]
    return {"model": os.fspath(model), "index": idx.path, "backend": MUVERA, "k": k, "filter": None,
            "seconds": seconds, "keys": results}


def index_eval(model: str | os.PathLike, *, k: int = 10, queries: int = 1000, seed: int = 0,
               backend: str | None = None, index: str | os.PathLike | None = None,
               table: str | None = None, params: dict | None = None) -> dict:
    """Return recall@k of the model's stored index against exact search, with both sides' queries/s.

    See `omnivec.evaluate.recall.index_recall`: queries are `queries` rows of
    the table drawn with `seed`; recall is tie-tolerant.
    """
    from .evaluate.recall import index_recall

    if k < 1 or queries < 1:
        raise InputError(f"--k and --queries must be at least 1; got {k} and {queries}")
    _, idx = open_with_index(model, backend, index, table)
    result = index_recall(idx, k, queries, seed, params=params)
    return {"model": os.fspath(model), "index": idx.path, **result}


def index_info(path: str | os.PathLike, *, table: str | None = None) -> dict:
    """Return what an index file holds (or, for a model file, the indexes stored beside it)."""
    from .search import BACKENDS, bm25_path, index_path
    from .search.index import read_index_header

    for reader in (read_index_header, _bm25_head, _muvera_head):
        try:
            _, head = reader(path)
            head = dict(head)
            head["path"] = os.fspath(path)
            head["bytes"] = Path(path).stat().st_size
            return {"indexes": [head]}
        except FormatError:   # not an index: maybe the model it belongs to
            pass
    opened, mv = _multivectors(path, table)
    if mv is None:
        open_table(path, table, opened=opened)  # raises a clear error when it is neither
    found = []
    for name in BACKENDS.names():
        p = index_path(path, name)
        if p.exists():
            _, head = read_index_header(p)
            found.append({**head, "path": os.fspath(p), "bytes": p.stat().st_size})
    p = bm25_path(path)
    if p.exists():
        found.append({**_bm25_head(p)[1], "path": os.fspath(p), "bytes": p.stat().st_size})
    if mv is not None:
        from .search.muvera import muvera_path

        p = muvera_path(path)
        if p.exists():
            found.append({**_muvera_head(p)[1], "path": os.fspath(p), "bytes": p.stat().st_size})
    return {"model": os.fspath(path), "indexes": found}


def _muvera_head(path):
    """Return (None, summary) of a MUVERA index file (opened with the model beside it), or raise FormatError."""
    from .search.muvera import is_muvera_file, open_muvera

    if not is_muvera_file(path):
        raise FormatError("not a MUVERA index file", path=path)
    return None, open_muvera(path).info()


def _bm25_head(path):
    """Return (container, header) of a BM25 index file, its header marked with backend "bm25"."""
    from .search.bm25 import read_bm25_header

    c, head = read_bm25_header(path)
    return c, {"backend": "bm25", **head}


# -- transform ------------------------------------------------------------------

def transform_file(model: str | os.PathLike, output: str | os.PathLike, *, center: bool = False,
                   abtt: int | None = None, pca: int | None = None, whiten: bool = False,
                   random_projection: int | None = None, truncate: int | None = None,
                   normalize: bool = False, seed: int = 0, table: str | None = None) -> dict:
    """Return a summary of transforming a table's vectors and writing them to `output` (`omnivec transform`).

    The steps run in a fixed order: center, all-but-the-top, PCA (whitened
    with `whiten`) or whitening alone, random projection, truncation,
    normalisation; each is fitted on the table's rows and recorded in the
    output (`omnivec.transform`).
    """
    from .transform import (PCA, AllButTheTop, Center, Normalize, Pipeline, RandomProjection, Truncate,
                            Whiten)

    steps = []
    if center:
        steps.append(Center())
    if abtt is not None:
        steps.append(AllButTheTop(n_components=abtt))
    if pca is not None:
        steps.append(PCA(n_components=pca, whiten=whiten))
    elif whiten:
        steps.append(Whiten())
    if random_projection is not None:
        steps.append(RandomProjection(n_components=random_projection, seed=seed))
    if truncate is not None:
        steps.append(Truncate(dim=truncate))
    if normalize:
        steps.append(Normalize())
    if not steps:
        raise InputError("no transform asked for: give at least one of --center, --abtt, --pca, --whiten, "
                         "--random-projection, --truncate, --normalize")
    if os.path.abspath(model) == os.path.abspath(output):
        raise InputError(f"{os.fspath(output)} is the input; write the transformed table to another file")
    emb = open_table(model, table)
    start = time.perf_counter()
    out = Pipeline(steps).fit_transform(emb)
    seconds = time.perf_counter() - start
    out.save(output)
    return {"model": os.fspath(model), "output": os.fspath(output), "table": emb.name, "rows": len(out),
            "in_dim": emb.dim, "dim": out.dim, "steps": [t.name for t in steps], "seconds": seconds,
            "bytes": os.path.getsize(output)}


def retrofit_file(model: str | os.PathLike, lexicon: str | os.PathLike, output: str | os.PathLike, *,
                  iterations: int = 10, alpha: float = 1.0, beta: float = 1.0, lowercase: bool = True,
                  table: str | None = None) -> dict:
    """Return a summary of retrofitting a table to a lexicon file and writing it (`omnivec retrofit`)."""
    from .transform.retrofit import retrofit

    if os.path.abspath(model) == os.path.abspath(output):
        raise InputError(f"{os.fspath(output)} is the input; write the retrofitted table to another file")
    emb = open_table(model, table)
    out = retrofit(emb, lexicon, iterations=iterations, alpha=alpha, beta=beta, lowercase=lowercase)
    out.save(output)
    return {"model": os.fspath(model), "output": os.fspath(output), "table": emb.name, "rows": len(out),
            **out.meta["retrofit"], "bytes": os.path.getsize(output)}


def align_files(source, target, output, *, dictionary=None, identical: bool = False, refine: int = 0,
                refine_vocab: int = 20000, unsupervised: bool = False, method: str = "clusters",
                seed: int = 0) -> dict:
    """Return a summary of mapping one model into another's space and writing it (`omnivec align`)."""
    from .transform.align import UNSUPERVISED, align, align_unsupervised

    if os.path.abspath(source) == os.path.abspath(output):
        raise InputError(f"{os.fspath(output)} is the input; write the mapped table to another file")
    if unsupervised and (dictionary is not None or identical):
        raise InputError("--unsupervised learns the map without a seed: drop --dictionary / --identical")
    src, tgt = open_table(source), open_table(target)
    if unsupervised:
        default_vocab = UNSUPERVISED.get(method, (None, refine_vocab))[1]    # an unknown method is named below
        out = align_unsupervised(src, tgt, method=method, vocab=min(refine_vocab, default_vocab),
                                 rounds=max(refine, 10), seed=seed)
    else:
        out = align(src, tgt, dictionary, identical=identical, refine=refine, refine_vocab=refine_vocab)
    out.save(output)
    return {"source": os.fspath(source), "target": os.fspath(target), "output": os.fspath(output),
            "rows": len(out), **out.meta["alignment"]}


def translation_file(mapped, target, dictionary, *, method: str = "csls", target_vocab: int = 200000) -> dict:
    """Return translation precision of a mapped model against a dictionary file (`omnivec eval translation`)."""
    from .transform.align import translation_precision

    return {"mapped": os.fspath(mapped), "target": os.fspath(target), "dictionary": os.fspath(dictionary),
            **translation_precision(open_table(mapped), open_table(target), dictionary, method=method,
                                    target_vocab=target_vocab)}


__all__ = ["align_files", "translation_file", "retrofit_file", "transform_file", "convert", "info", "verify", "open_table", "index_build", "index_search", "index_eval", "index_info",
           "open_with_index"]
