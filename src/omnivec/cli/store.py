"""`omnivec convert`, `omnivec info`, `omnivec verify`: the model file from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from . import app
from ._common import console, emit_json, human_bytes, human_seconds, timed


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


def _meta_text(value) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


@app.command()
def info(model: Path = typer.Argument(..., help="A model file (.omv / .safetensors)."),
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
                     "yes" if tb["counts"] else "-", sw_text, ", ".join(tb["extras"]) or "-",
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
    """Return the result of a full check of a model file: ok, problems, tensors and bytes checked."""
    from ..store import container
    from ..store.model import verify as verify_file

    c = container.read(path)
    problems = verify_file(path)
    return {"path": os.fspath(path), "ok": not problems, "problems": problems,
            "tensors": len(c.tensors), "bytes": os.path.getsize(path)}


@app.command()
def verify(model: Path = typer.Argument(..., help="A model file."),
           json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Check every tensor's CRC-32 and each key index; exit 1 listing the problems if any."""
    with timed() as t:
        result = verify_model(model)
    result["seconds"] = t.seconds
    if json_out:
        emit_json(result)
    else:
        out = console()
        if result["ok"]:
            out.print(f"[green]ok[/] {result['path']}: {result['tensors']} tensors, "
                      f"{human_bytes(result['bytes'])} checked (CRC-32, key index, finite norms) "
                      f"in {human_seconds(t.seconds)}")
        else:
            err = console(stderr=True)
            err.print(f"[red]FAILED[/] {result['path']}: {len(result['problems'])} problem(s)")
            for p in result["problems"]:
                err.print(f"  - {p}", markup=False)
    if not result["ok"]:
        raise typer.Exit(1)

