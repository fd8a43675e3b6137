"""`omnivec shard MODEL -o TABLE.ovs -n 4`: write a table as N model files plus a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import files
from . import app
from ._common import console, emit_json, human_bytes, human_seconds


@app.command("shard")
def shard(model: Path = typer.Argument(..., metavar="MODEL", help="The model file to cut into shards."),
          output: Path = typer.Option(..., "--output", "-o", metavar="TABLE.ovs",
                                      help="The manifest to write; the shards are written beside it "
                                           "(TABLE-00000-of-0000N.ov, ...)."),
          shards: int = typer.Option(..., "--shards", "-n", min=1, max=65536, help="How many shards."),
          table: Optional[str] = typer.Option(None, "--table", help="The table to shard, in a file of several."),
          json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Write MODEL's table as N shards routed by key hash, opened as one with omnivec.distributed.open_sharded."""
    data = files.shard_file(model, output, shards, table=table)
    if json_out:
        emit_json(data)
        return
    console().print(f"wrote {data['path']}: {data['rows']:,} rows in {data['n_shards']} shards, "
                    f"{human_bytes(data['bytes'])}, in {human_seconds(data['seconds'])}", markup=False)
