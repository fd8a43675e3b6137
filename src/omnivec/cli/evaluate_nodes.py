"""`omnivec eval nodes MODEL LABELS`: node classification (micro/macro-F1 per training ratio)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import eval_app
from ._common import console, emit_json


def _ratios(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--train-ratios takes numbers separated by commas, like 0.1,0.5,0.9; "
                         f"got {text!r}") from None


@eval_app.command("nodes")
def eval_nodes(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model file with node vectors."),
    labels: Path = typer.Argument(..., metavar="LABELS", help="Labels file: node<TAB>label rows, several "
                                  "rows per node for multi-label data."),
    train_ratios: str = typer.Option("0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "--train-ratios",
                                     help="Fractions of labelled nodes to train on, comma-separated."),
    repeats: int = typer.Option(10, "--repeats", help="Shuffled splits per ratio (F1 is their mean)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the shuffled splits."),
    normalize: bool = typer.Option(False, "--normalize", help="Scale vectors to unit length first."),
    table: Optional[str] = typer.Option(None, "--table", help="Table to evaluate (default: the only "
                                        "table, or 'nodes')."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Print micro- and macro-F1 of one-vs-rest logistic regression per training ratio.

    The DeepWalk/node2vec protocol: each test node gets its k most probable
    labels, k being how many it has. Needs scikit-learn (omnivec[graph]).
    """
    import omnivec
    from ..evaluate.nodes import node_classification
    from ..files import open_table

    opened = omnivec.open(model) if table is None else open_table(model, table)
    res = node_classification(opened, labels, train_ratios=_ratios(train_ratios), repeats=repeats,
                              seed=seed, normalize=normalize)
    if as_json:
        emit_json(res.as_dict())
        return
    out = console()
    out.print(f"{res.nodes:,} labelled nodes, {res.labels} labels"
              f"{' (multi-label)' if res.multilabel else ''}, {res.repeats} splits per ratio")
    out.print(f"{'train':>6s} {'micro-F1':>16s} {'macro-F1':>16s}")
    for row in res.rows():
        out.print(f"{row['ratio']:6.0%} {row['micro_f1']:9.4f} ±{row['micro_f1_std']:.4f} "
                  f"{row['macro_f1']:9.4f} ±{row['macro_f1_std']:.4f}")
    if res.missing:
        out.print(f"left out {res.missing:,} labelled nodes the model lacks "
                  f"(e.g. {', '.join(res.missing_examples)})")
