"""`omnivec convert`, `omnivec info`, `omnivec verify`: model files (and index files) from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..metrics import METRICS
from ..store.formats import FORMATS, NAN_POLICIES
from ..core.vectors import STORAGE
from . import app
from ._common import (check_choice, choices, console, emit_json, human_bytes, human_seconds, open_table,
                      timed)

ON_DUPLICATE = ("first", "error")
RERANK = ("float16", "float32")
MODEL = "omnivec"


# -- convert --------------------------------------------------------------------
def _pick(name: str, value: str, valid: tuple[str, ...]) -> str:
    from ..errors import UnknownNameError

    if value.lower() not in valid:
        raise UnknownNameError(f"unknown {name} {value!r}; valid names are: {', '.join(valid)}")
    return value.lower()


def convert_file(src: str | os.PathLike, dst: str | os.PathLike, *, from_format: str | None = None,
                 to_format: str | None = None, storage: str | None = None, metric: str | None = None,
                 keys_file: str | os.PathLike | None = None, on_duplicate: str = "first",
                 nan: str = "error", oov: bool = False, table: str | None = None,
                 encoding: str = "utf-8", max_rows: int | None = None,
                 progress: bool | None = None, rerank: str | None = None) -> dict:
    """Return a summary of converting `src` to `dst`: an import, an export, or a model-to-model copy.

    Formats are detected from the content of `src` and from the extension of
    `dst` (a model file when it has none we know) unless named.  A model-to-model
    copy keeps every table and changes the storage dtype, the metric or adds
    the OOV index; an import writes the model through
    `store.formats.import_vectors`; an export writes one table through
    `store.formats.export_vectors`.
    """
    from ..errors import InputError
    from ..store.formats import detect_format, export_vectors, format_for_path, import_vectors

    storage = check_choice(STORAGE, storage)
    metric = check_choice(METRICS, metric)
    if rerank is not None:
        rerank = _pick("re-ranking copy", rerank, RERANK)
        if storage not in ("int8", "binary"):
            raise InputError(f"--rerank keeps a {rerank} copy beside int8 or binary codes; "
                             f"add --storage int8 or --storage binary (got {storage or 'none'})")
    on_duplicate = _pick("duplicate policy", on_duplicate, ON_DUPLICATE)
    nan = _pick("NaN policy", nan, NAN_POLICIES)
    src_fmt = check_choice(FORMATS, from_format) or detect_format(src)
    if to_format is not None:
        dst_fmt = FORMATS.canonical(to_format)
    else:
        try:
            dst_fmt = format_for_path(dst)
        except InputError:   # no vector-file extension: the output is a model file (.ov, .omv, ...)
            dst_fmt = MODEL
    if dst_fmt != MODEL:
        for flag, value in (("--storage", storage), ("--metric", metric), ("--oov", oov or None),
                            ("--rerank", rerank)):
            if value is not None:
                raise InputError(f"{flag} applies to model files; {dst} is written as {dst_fmt} "
                                 "(float32 vectors)")
    summary: dict = {"src": os.fspath(src), "dst": os.fspath(dst), "from": src_fmt, "to": dst_fmt}

    if src_fmt == MODEL:
        if keys_file is not None and dst_fmt != "npy":
            raise InputError(f"--keys names the keys file of .npy vectors; {src} is a model file "
                             "that holds its keys")
        if dst_fmt == MODEL:
            from ..store.model import open_model, save_tables

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
                  max_rows=max_rows, progress=progress)
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
    from ..core.oov import prepare_oov

    return prepare_oov(emb)


@app.command()
def convert(src: Path = typer.Argument(..., help="Vectors to import, or a model file to export or copy."),
            dst: Path = typer.Argument(..., help="File to write: a model file unless --to or its extension (.txt .vec .bin .npy "
                             ".parquet) names another format."),
            from_format: Optional[str] = typer.Option(
                None, "--from", help=f"Input format, one of: {choices(FORMATS)}. Detected from the content when omitted."),
            to_format: Optional[str] = typer.Option(
                None, "--to", help=f"Output format, one of: {choices(FORMATS)}. Judged by DST's extension when omitted."),
            storage: Optional[str] = typer.Option(
                None, "--storage", help=f"Vector storage, one of: {choices(STORAGE)}. float32 for imports, "
                                        "unchanged for model copies when omitted."),
            metric: Optional[str] = typer.Option(
                None, "--metric", help=f"Metric the vectors are queried with, one of: {choices(METRICS)}. "
                                       "cosine for imports when omitted."),
            keys: Optional[Path] = typer.Option(None, "--keys", help="Keys file (one key per line) of .npy input, or where an .npy export writes its keys."),
            on_duplicate: str = typer.Option("first", "--on-duplicate",
                                             help=f"Duplicate keys: {', '.join(ON_DUPLICATE)} (first keeps the first and counts the rest)."),
            nan: str = typer.Option("error", "--nan", help=f"Rows holding NaN/inf: {', '.join(NAN_POLICIES)} (skipped or zeroed rows are counted)."),
            oov: bool = typer.Option(False, "--oov/--no-oov", help="Precompute the out-of-vocabulary index."),
            rerank: Optional[str] = typer.Option(
                None, "--rerank", help="With --storage int8 or binary: keep a float16 (or float32) copy so "
                                       "searches scan the codes and re-score the best candidates exactly."),
            table: Optional[str] = typer.Option(None, "--table", help="Table to export from a multi-table model."),
            encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the input."),
            max_rows: Optional[int] = typer.Option(None, "--max-rows", help="Import at most this many rows."),
            json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Convert vectors to a model file, a model file to another format, or a model to new storage."""
    with timed() as t:
        result = convert_file(src, dst, from_format=from_format, to_format=to_format, storage=storage,
                              metric=metric, keys_file=keys, on_duplicate=on_duplicate, nan=nan, oov=oov,
                              table=table, encoding=encoding, max_rows=max_rows, rerank=rerank)
    result["seconds"] = t.seconds
    if json_out:
        emit_json(result)
        return
    out = console()
    for line in result.get("report_lines", []):
        out.print(f"  {line}", markup=False)
    if result["mode"] == "copy":
        what = ", ".join(f"{n}: {v['rows']:,} x {v['dim']} {v['storage']} {v['metric']}"
                         for n, v in result["tables"].items())
    else:
        what = f"{result['rows']:,} x {result['dim']}"
    rate = ""
    if result["mode"] != "copy" and t.seconds > 0:
        rate = f", {result['rows'] / t.seconds:,.0f} rows/s"
    out.print(f"[green]{result['mode']}[/] {result['src']} -> {result['dst']} ({what}; "
              f"{human_bytes(result['bytes'])}) in {human_seconds(t.seconds)}{rate}")


# -- info -----------------------------------------------------------------------
def model_info(path: str | os.PathLike) -> dict:
    """Return what the header of a model file says: tables, sizes, storage, metric, provenance.

    Reads only the header (and memory-maps the tensors without touching them),
    so it takes the same time for a 1 kB and a 10 GB model.
    """
    from ..store import container
    from ..store.model import read_header

    c = container.read(path)
    header = read_header(c)
    tables = []
    for name, tm in header["tables"].items():
        tm = tm if isinstance(tm, dict) else {}
        prefix = name + "."
        nbytes = {k[len(prefix):]: int(np.prod(e["shape"], dtype=np.int64)) * c.tensors[k].itemsize
                  for k, e in c.entries.items() if k.startswith(prefix)}
        tables.append({
            "name": name, "rows": tm.get("n"), "dim": tm.get("dim"), "storage": tm.get("storage"),
            "metric": tm.get("metric"), "key_kind": tm.get("key_kind"), "counts": bool(tm.get("counts")),
            "subwords": tm.get("subwords") or None, "extras": list(tm.get("extras") or []),
            "vector_bytes": nbytes.get("vectors", 0), "bytes": sum(nbytes.values()),
            "meta": tm.get("meta") if isinstance(tm.get("meta"), dict) else {},
        })
    return {"path": os.fspath(path), "file_bytes": os.path.getsize(path), "format": "omnivec",
            "format_version": header["format_version"], "tensors": len(c.tensors),
            "checksums": "checksums" in c.metadata, "tables": tables}


def _extras_text(names: list[str]) -> str:
    if len(names) <= 2:
        return ", ".join(names) or "-"
    prefix = os.path.commonprefix(names)
    return f"{prefix}* ({len(names)})" if len(prefix) >= 3 else f"{len(names)} arrays"


def _meta_text(value) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


@app.command()
def info(model: Path = typer.Argument(..., help="A model file."),
         json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables.")) -> None:
    """Show a model file's tables, sizes, storage, metric and provenance (reads only the header)."""
    with timed() as t:
        data = model_info(model)
    if json_out:
        emit_json({**data, "seconds": t.seconds})
        return
    from rich.table import Table

    out = console()
    out.print(f"[bold]{data['path']}[/]  {human_bytes(data['file_bytes'])}  omnivec model format "
              f"v{data['format_version']}, {data['tensors']} tensors"
              f"{', CRC-32 per tensor' if data['checksums'] else ', no checksums'}")
    grid = Table(show_edge=False, header_style="bold")
    for col in ("table", "rows", "dim", "storage", "metric", "keys", "counts", "subwords", "extras", "size"):
        grid.add_column(col, justify="right" if col in ("rows", "dim", "size") else "left")
    for tb in data["tables"]:
        sw = tb["subwords"]
        sw_text = f"{sw.get('kind', '?')} n={sw.get('minn')}..{sw.get('maxn')} buckets={sw.get('bucket'):,}" \
            if isinstance(sw, dict) and isinstance(sw.get("bucket"), int) else ("yes" if sw else "-")
        grid.add_row(tb["name"], f"{tb['rows']:,}" if isinstance(tb["rows"], int) else str(tb["rows"]),
                     str(tb["dim"]), str(tb["storage"]), str(tb["metric"]), str(tb["key_kind"]),
                     "yes" if tb["counts"] else "-", sw_text, _extras_text(tb["extras"]),
                     human_bytes(tb["bytes"]))
    out.print(grid)
    for tb in data["tables"]:
        if tb["meta"]:
            out.print(f"[bold]{tb['name']}[/] provenance:")
            for k, v in tb["meta"].items():
                out.print(f"  {k}: {_meta_text(v)}", markup=False)
    out.print(f"[dim]read in {human_seconds(t.seconds)}[/]")


# -- verify ---------------------------------------------------------------------
def verify_model(path: str | os.PathLike) -> dict:
    """Return the result of a full check of a model file or an index file: ok, problems, what was checked."""
    from ..store import container
    from ..store.model import verify as verify_file
    from ..search.index import INDEX_FORMAT
    from ..search import verify_index

    c = container.read(path)
    if c.metadata.get("format") == INDEX_FORMAT:
        return verify_index(path)
    problems = verify_file(path)
    return {"path": os.fspath(path), "kind": "model", "ok": not problems, "problems": problems,
            "tensors": len(c.tensors), "bytes": os.path.getsize(path)}


@app.command()
def verify(model: Path = typer.Argument(..., help="A model file, or an index file beside one."),
           json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Check every tensor's CRC-32 and each key index, or an index file's graph or lists; exit 1 on damage."""
    with timed() as t:
        result = verify_model(model)
    result["seconds"] = t.seconds
    if json_out:
        emit_json(result)
    else:
        out = console()
        what = ("CRC-32, key index, finite norms" if result["kind"] == "model"
                else f"{result['backend']} index: CRC-32, header, added keys, engine structure")
        if result["ok"]:
            out.print(f"[green]ok[/] {result['path']}: {result['tensors']} tensors, "
                      f"{human_bytes(result['bytes'])} checked ({what}) in {human_seconds(t.seconds)}")
            for line in result.get("checks", []):
                out.print(f"  - {line}", markup=False)
            for line in result.get("notes", []):
                out.print(f"  note: {line}", markup=False)
        else:
            err = console(stderr=True)
            err.print(f"[red]FAILED[/] {result['path']}: {len(result['problems'])} problem(s)")
            for line in result.get("checks", []):
                err.print(f"  passed: {line}", markup=False)
            for p in result["problems"]:
                err.print(f"  - {p}", markup=False)
            for line in result.get("notes", []):
                err.print(f"  note: {line}", markup=False)
    if not result["ok"]:
        raise typer.Exit(1)
