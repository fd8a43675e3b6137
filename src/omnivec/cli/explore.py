"""`omnivec explore`: a model file in, a zoomable map in the browser out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, emit_json, human_bytes, human_seconds, open_table


def run_explore(model: str | os.PathLike, *, out: str | os.PathLike | None = None, table: str | None = None,
                layout: str = "auto", sample: int = 50_000, seed: Optional[int] = 0, neighbors: str = "auto",
                k: int = 10, neighbor_limit: Optional[int] = None, clusters: int = 12,
                color: Optional[str] = None, drop_nonfinite: bool = False, file_copies: bool = True,
                show_progress: bool | None = None):
    """Return (facts as a JSON-able dict, the Map, the table) after writing the map folder of `model`."""
    from ..explore import build_map
    from ..explore.site import read_manifest

    emb = open_table(model, table)
    out = Path(out) if out is not None else Path(f"{Path(model).name}.map")
    m = build_map(emb, layout=layout, sample=sample, seed=seed, neighbors=neighbors, k=k,
                  neighbor_limit=neighbor_limit, clusters=clusters, color=color,
                  drop_nonfinite=drop_nonfinite, show_progress=show_progress)
    folder = m.save(out, file_copies=file_copies)
    man = read_manifest(folder)
    facts = {"model": os.fspath(model), "table": emb.name, "out": os.fspath(folder),
             "index": os.fspath(Path(folder) / "index.html"), "points": len(m), "rows": len(emb),
             "dropped_nonfinite": m.info["dropped_nonfinite"], "layout": m.info["layout"],
             "neighbors": m.info["neighbors"], "schemes": [s.name for s in m.schemes],
             "levels": len(m.levels), "timings": m.info["timings"],
             "bytes": sum(man["sizes"].values())}
    return facts, m, emb


@app.command("explore")
def explore(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model file (.ov) to map, or a map folder to serve."),
    out: Optional[Path] = typer.Option(None, "-o", "--out",
                                       help="Output folder (default: MODEL_NAME.map in the current folder)."),
    table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
    layout: str = typer.Option("auto", "--layout", help="auto|umap|pca|identity (auto: UMAP with the "
                               "'explore' extra, else PCA)."),
    sample: int = typer.Option(50_000, "--sample", help="Fit the layout on this many rows; place the rest."),
    seed: int = typer.Option(0, "--seed", help="Random seed (sample, UMAP, k-means); -1: unseeded, "
                             "multi-threaded UMAP."),
    neighbors: str = typer.Option("auto", "--neighbors", help="auto|exact|hnsw|none: how the neighbour "
                                  "lists are computed."),
    k: int = typer.Option(10, "-k", "--k", help="Neighbours per point."),
    neighbor_limit: Optional[int] = typer.Option(None, "--neighbor-limit",
                                                 help="Precompute neighbours for only the N best-ranked "
                                                 "points (the rest on demand with --serve)."),
    clusters: int = typer.Option(12, "--clusters", help="k-means clusters for the 'cluster' colouring."),
    color: Optional[str] = typer.Option(None, "--color", help="Colour scheme shown first (cluster, count, "
                                        "or a column the model stores)."),
    drop_nonfinite: bool = typer.Option(False, "--drop-nonfinite", help="Leave rows with NaN/inf off the "
                                        "map (counted) instead of failing."),
    no_file_copies: bool = typer.Option(False, "--no-file-copies", help="Skip the data/*.js copies that "
                                        "let the page open from disk (halves the size; the map then "
                                        "needs a web server such as --serve)."),
    serve: bool = typer.Option(False, "--serve", help="Serve the map on http://127.0.0.1:PORT after writing it."),
    port: int = typer.Option(8765, "--port", help="Port for --serve (0: any free port)."),
    json_out: bool = typer.Option(False, "--json", help="Print the facts as JSON."),
) -> None:
    """Write a zoomable map of a model's embeddings (index.html + data) and optionally serve it."""
    from ..errors import InputError
    from ..explore.server import OnDemandNeighbors, make_server

    if model.is_dir():
        if not serve:
            raise InputError(f"{model} is a folder; give a model file to map, or add --serve to serve "
                             f"a map folder")
        from ..explore.site import read_manifest

        read_manifest(model)
        _serve(make_server(model, port=port), json_out)
        return
    facts, m, emb = run_explore(model, out=out, table=table, layout=layout, sample=sample,
                                seed=None if seed < 0 else seed, neighbors=neighbors, k=k,
                                neighbor_limit=neighbor_limit, clusters=clusters, color=color,
                                drop_nonfinite=drop_nonfinite, file_copies=not no_file_copies)
    if json_out and not serve:
        emit_json(facts)
    elif not json_out:
        c = console()
        lay = facts["layout"]
        c.print(f"map of {facts['points']:,} points written to {facts['index']} "
                f"({human_bytes(facts['bytes'])}) in {human_seconds(facts['timings']['total'])}")
        fitted = f" fitted on {lay['fitted_on']:,} rows" if lay.get("fitted_on") else ""
        c.print(f"  layout {lay['method']}{fitted}"
                + f" ({human_seconds(lay['seconds'])}); neighbours {facts['neighbors']['engine']} "
                f"for {facts['neighbors'].get('computed', 0):,} points; colours: {', '.join(facts['schemes'])}")
        for note in (lay.get("note"), facts["neighbors"].get("note")):
            if note:
                c.print(f"  note: {note}")
        if facts["dropped_nonfinite"]:
            c.print(f"  {facts['dropped_nonfinite']:,} rows with NaN/inf values were left off the map")
    if serve:
        on_demand = None
        if facts["neighbors"].get("computed", 0) < facts["points"]:
            from ..explore.layout import prepare
            import numpy as np

            on_demand = OnDemandNeighbors(prepare(np.asarray(emb.vectors[m.rows], np.float32), emb.metric),
                                          emb.metric, max(1, k))
        _serve(make_server(facts["out"], port=port, on_demand=on_demand), json_out, facts)


def _serve(server, json_out: bool, facts: dict | None = None) -> None:
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/index.html"
    if json_out:
        emit_json({**(facts or {}), "url": url})
    else:
        console().print(f"serving {url}  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
