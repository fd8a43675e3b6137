"""`omnivec train poincare RELATIONS -o MODEL`: Poincaré embeddings of a hierarchy.

The options are the learner's declared parameters (`omnivec.cli._learner_options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import train_app
from ._common import console, emit_json
from ._learner_options import learner_command


@learner_command(train_app, "poincare", short={"workers": "-w"})
def train_poincare(
    relations: Path = typer.Argument(..., metavar="RELATIONS",
                                     help="Relations file: 'child<TAB>parent' per line (.gz read too), "
                                          "e.g. a transitive closure of hypernyms."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn Poincaré embeddings (hyperbolic, metric poincare) of a hierarchy."""
    emb = learner.fit(str(relations))
    emb.save(output)
    run, rel = emb.meta["training"], emb.meta["relations"]
    summary = {"output": str(output), "nodes": len(emb), "dim": emb.dim, "relations": rel["relations"],
               "duplicates": rel["duplicates"], "cycles": rel["cycles"],
               "epochs_done": run["epochs_done"], "interrupted": run["interrupted"],
               "epoch_loss": run["epoch_loss"], "relations_per_second": run["relations_per_second"],
               "seconds": run["total_seconds"]}
    if as_json:
        emit_json(summary)
    else:
        note = " (interrupted: the model holds the training done so far)" if run["interrupted"] else ""
        loss = run["epoch_loss"][-1] if run["epoch_loss"] else float("nan")
        console().print(f"wrote {output}: {len(emb):,} nodes x {emb.dim} dims, {rel['relations']:,} "
                        f"relations, {run['epochs_done']} epochs, {run['relations_per_second'] or 0:,.0f} "
                        f"relations/s, final loss {loss:.4f}{note}")
    if run["interrupted"]:
        raise typer.Exit(130)      # saved what was trained, but say it was cut short
