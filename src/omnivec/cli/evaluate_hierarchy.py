"""`omnivec eval hierarchy MODEL CLOSURE`: reconstruction (or link prediction) mean rank and MAP."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import eval_app
from ._common import console, emit_json, open_table


@eval_app.command("hierarchy")
def eval_hierarchy(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model file (a Poincaré table, or any other)."),
    closure: Path = typer.Argument(..., metavar="CLOSURE",
                                   help="Relations file, 'child<TAB>parent' per line: the closure to "
                                        "reconstruct, or the training relations with --test."),
    test: Optional[Path] = typer.Option(None, "--test", metavar="HELD_OUT",
                                        help="Held-out relations: rank these instead (link prediction), "
                                             "the CLOSURE ones left out of the ranking."),
    include_self: bool = typer.Option(False, "--include-self",
                                      help="Count each node as closer than its relations, as gensim's "
                                           "evaluation does."),
    table: Optional[str] = typer.Option(None, "--table", help="Table to evaluate in a multi-table model."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Print the mean rank and MAP of the relations (Nickel & Kiela's protocol)."""
    from ..evaluate.hierarchy import link_prediction, reconstruction

    emb = open_table(model, table)
    if test is not None:
        res = link_prediction(emb, str(closure), str(test), include_self=include_self)
    else:
        res = reconstruction(emb, str(closure), include_self=include_self)
    if as_json:
        emit_json(res.as_dict())
        return
    out = console()
    out.print(f"{res.task}: mean rank {res.mean_rank:.2f}, MAP {res.map:.4f} "
              f"({res.relations:,} relations of {res.nodes:,} nodes, {res.seconds:.1f} s)")
    if res.unknown_nodes:
        out.print(f"note: {res.unknown_nodes:,} nodes are not in the model; "
                  f"{res.skipped_relations:,} relations left out")
    for c in res.cycles[:3]:
        out.print("note: cycle " + " -> ".join(map(str, c[:8])) + (" ..." if len(c) > 8 else ""))
