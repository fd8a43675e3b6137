"""`omnivec search DOCS.ov "query text" [--hybrid|--dense|--bm25]`: documents for text queries."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from . import app
from ._common import console, emit_json
from ..errors import InputError


@app.command("search")
def search(
    model: Path = typer.Argument(..., metavar="DOCS", help="A document table (written by `omnivec encode`)."),
    query: List[str] = typer.Argument(..., metavar="QUERY...", help="One or more query texts."),
    k: int = typer.Option(10, "-k", "--k", min=1, help="Documents per query."),
    hybrid: bool = typer.Option(False, "--hybrid", help="Fuse dense and BM25 results (the default when the "
                                                        "table has both an encoder and a BM25 index)."),
    dense: bool = typer.Option(False, "--dense", help="Dense search only: the query embedded by the "
                                                      "table's encoder."),
    bm25: bool = typer.Option(False, "--bm25", help="BM25 only (the index beside the file, built by "
                                                    "`omnivec index build DOCS --backend bm25`)."),
    fusion: str = typer.Option("rrf", "--fusion", metavar="rrf|convex",
                               help="How --hybrid fuses: reciprocal ranks, or a convex combination of "
                                    "min-max normalised scores."),
    alpha: float = typer.Option(0.5, "--alpha", min=0.0, max=1.0,
                                help="Weight of the dense scores in --fusion convex."),
    candidates: int = typer.Option(100, "--candidates", min=1, help="Depth of each list that --hybrid fuses."),
    table: str = typer.Option(None, "--table", metavar="NAME", help="The table of a file with several."),
    width: int = typer.Option(100, "--width", min=0, help="Characters of each document's text shown "
                                                          "(0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Print the best documents of each query, with their scores and texts."""
    from ..retrieve import search_file

    picked = [name for name, on in (("hybrid", hybrid), ("dense", dense), ("bm25", bm25)) if on]
    if len(picked) > 1:
        raise InputError(f"give at most one of --hybrid, --dense, --bm25; got {', '.join('--' + p for p in picked)}")
    res = search_file(model, list(query), k=k, mode=picked[0] if picked else "auto", fusion=fusion, alpha=alpha,
                      candidates=candidates, table=table, width=0 if as_json else width)
    if as_json:
        emit_json(res)
        return
    from rich.markup import escape

    out = console()
    how = res["mode"] + (f" ({res['fusion']})" if res["fusion"] else "")
    for item in res["results"]:
        out.print(f"[bold]{escape(item['query'])}[/bold]  [dim]{how}[/dim]", highlight=False)
        if not item["hits"]:
            out.print(f"  no document matches: {item['reason']}" if item["reason"] else "  no document matches",
                      highlight=False, markup=False)
        for rank, hit in enumerate(item["hits"], 1):
            text = hit.get("text")
            line = f"{rank:>3}. {hit['key']}  {hit['score']:.4f}"
            out.print(line + (f"\n     {text}" if text else ""), highlight=False, markup=False)
