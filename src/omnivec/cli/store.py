"""`omnivec convert`, `omnivec info`, `omnivec verify`: model files (and index files) from the command line.

Each command parses its arguments, calls one function of omnivec.files and prints the result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .. import files
from ..files import ON_DUPLICATE
from ..metrics import METRICS
from ..store.formats import FORMATS, NAN_POLICIES
from ..core.vectors import STORAGE
from . import app
from ._common import choices, console, emit_json, human_bytes, human_seconds, timed


# -- convert --------------------------------------------------------------------
@app.command()
def convert(src: Path = typer.Argument(..., metavar="SRC", help="Vectors to import, or a model file to export or copy."),
            dst: Path = typer.Argument(..., metavar="DST", help="File to write: a model file unless --to or its extension (.txt .vec .bin .npy "
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
            encoding_errors: str = typer.Option(
                "strict", "--encoding-errors", help="Keys that are not valid text: strict (refuse) or replace "
                                                    "(U+FFFD, counted)."),
            max_rows: Optional[int] = typer.Option(None, "--max-rows", help="Import at most this many rows."),
            json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Convert vectors to a model file, a model file to another format, or a model to new storage."""
    with timed() as t:
        result = files.convert(src, dst, from_format=from_format, to_format=to_format, storage=storage,
                              metric=metric, keys_file=keys, on_duplicate=on_duplicate, nan=nan, oov=oov,
                              table=table, encoding=encoding, encoding_errors=encoding_errors,
                              max_rows=max_rows, rerank=rerank)
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
def info(model: Path = typer.Argument(..., metavar="MODEL", help="A model file."),
         json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables.")) -> None:
    """Show a model file's tables, sizes, storage, metric and provenance (reads only the header)."""
    with timed() as t:
        data = files.info(model)
    if json_out:
        emit_json({**data, "seconds": t.seconds})
        return
    from rich.table import Table

    out = console()
    if data["format"] == "omnivec-shards":
        out.print(f"[bold]{data['path']}[/]  sharded table {data['table']!r}: {data['rows']:,} rows x "
                  f"{data['dim']} dims, metric {data['metric']}, {data['key_kind']} keys, "
                  f"{data['n_shards']} shards ({data['routing']}), {human_bytes(data['bytes'])}")
        for sh in data["shards"]:
            size = "missing" if sh["bytes"] is None else human_bytes(sh["bytes"])
            out.print(f"  shard {sh['shard']}: {sh['path']}  {sh['rows']:,} rows  {size}", markup=False)
        return
    out.print(f"[bold]{data['path']}[/]  {human_bytes(data['file_bytes'])}  omnivec model format "
              f"v{data['format_version']}, {data['tensors']} tensors"
              f"{', CRC-32 per tensor' if data['checksums'] else ', no checksums'}")
    grid = Table(show_edge=False, header_style="bold")
    for col in ("table", "rows", "dim", "storage", "metric", "keys", "counts", "subwords", "extras", "texts",
                "size"):
        grid.add_column(col, justify="right" if col in ("rows", "dim", "size") else "left")
    for tb in data["tables"]:
        sw = tb["subwords"]
        sw_text = f"{sw.get('kind', '?')} n={sw.get('minn')}..{sw.get('maxn')} buckets={sw.get('bucket'):,}" \
            if isinstance(sw, dict) and isinstance(sw.get("bucket"), int) else ("yes" if sw else "-")
        grid.add_row(tb["name"], f"{tb['rows']:,}" if isinstance(tb["rows"], int) else str(tb["rows"]),
                     str(tb["dim"]), str(tb["storage"]), str(tb["metric"]), str(tb["key_kind"]),
                     "yes" if tb["counts"] else "-", sw_text, _extras_text(tb["extras"]),
                     human_bytes(tb["text_bytes"]) if tb.get("texts") else "-", human_bytes(tb["bytes"]))
    out.print(grid)
    for tb in data["tables"]:
        if tb["meta"]:
            out.print(f"[bold]{tb['name']}[/] provenance:")
            for k, v in tb["meta"].items():
                out.print(f"  {k}: {_meta_text(v)}", markup=False)
    out.print(f"[dim]read in {human_seconds(t.seconds)}[/]")


# -- verify ---------------------------------------------------------------------
@app.command()
def verify(model: Path = typer.Argument(..., metavar="MODEL", help="A model file, or an index file beside one."),
           json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Check every tensor's CRC-32 and each key index, or an index file's graph or lists; exit 1 on damage."""
    with timed() as t:
        result = files.verify(model)
    result["seconds"] = t.seconds
    if json_out:
        emit_json(result)
    else:
        out = console()
        what = result.get("what") or ("CRC-32, key index, finite norms" if result["kind"] == "model"
                                      else f"{result['backend']} index: CRC-32, header, added keys, "
                                           f"engine structure")
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
