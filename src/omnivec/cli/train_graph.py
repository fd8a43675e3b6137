"""`omnivec train deepwalk|node2vec|line GRAPH -o MODEL`: learn node vectors from a graph (walks or edges).

The options are the learners' declared parameters (`omnivec.cli._learner_options`)
plus how to read the graph file (`--directed`, `--weighted/--unweighted`,
`--format`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from . import train_app
from ._common import console, emit_json
from ._learner_options import learner_command

GRAPH_HELP = ("Edge list (source target [weight]) or adjacency list, plain or .gz; "
              "integer or text node ids.")


def _report(emb, output: Path, as_json: bool) -> None:
    run = emb.meta["training"][-1]
    graph = emb.meta["graph"]
    summary = {"output": str(output), "nodes": len(emb), "dim": emb.dim, "graph": graph,
               "walks": run["walks"], "walk_nodes": run["walk_nodes"],
               "stopped_at_dead_ends": run["stopped_at_dead_ends"], "walk_mode": run["walk_mode"],
               "epochs_done": run["epochs_done"], "interrupted": run["interrupted"],
               "epoch_loss": run["epoch_loss"], "nodes_per_second": run["nodes_per_second"],
               "seconds": run["total_seconds"]}
    if "kcore" in emb.meta:
        summary["kcore"] = emb.meta["kcore"]
    if as_json:
        emit_json(summary)
        return
    out = console()
    note = " (interrupted: the model holds the training done so far)" if run["interrupted"] else ""
    out.print(f"wrote {output}: {len(emb):,} nodes x {emb.dim} dims from {graph['edges']:,} edges, "
              f"{run['walks']:,} walks ({run['walk_mode'].replace('_', ' ')}), "
              f"{run['nodes_per_second'] or 0:,.0f} nodes/s, "
              f"final loss {run['epoch_loss'][-1] if run['epoch_loss'] else float('nan'):.4f}{note}")
    counts = [f"{graph[k]:,} {k.replace('_', ' ')}" for k in ("self_loops", "duplicate_edges", "isolated", "sinks")
              if graph.get(k)]
    if counts:
        out.print("graph: " + ", ".join(counts))
    if run["stopped_at_dead_ends"]:
        out.print(f"note: {run['stopped_at_dead_ends']:,} walks stopped early at nodes without out-edges")
    if "kcore" in emb.meta:
        kc = emb.meta["kcore"]
        out.print(f"k-core: trained the {kc['k']}-core ({kc['core_nodes']:,} nodes), "
                  f"propagated to {kc['propagated']:,}, {kc['unreached']:,} unreached")


def _train(learner, graph: Path, output: Path, directed: bool, weighted: Optional[bool], fmt: str,
           as_json: bool) -> None:
    from ..learn.graph import read_graph

    g = read_graph(graph, directed=directed, weighted=weighted, format=fmt)
    emb = learner.fit(g)
    emb.save(output)
    _report(emb, output, as_json)
    if emb.meta["training"][-1]["interrupted"]:
        raise typer.Exit(130)


SHORT = {"workers": "-w", "dim": "-d"}


@learner_command(train_app, "deepwalk", short=SHORT)
def train_deepwalk(
    graph: Path = typer.Argument(..., metavar="GRAPH", help=GRAPH_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    directed: bool = typer.Option(False, "--directed", help="Edges go from source to target."),
    weighted: Optional[bool] = typer.Option(None, "--weighted/--unweighted",
                                            help="Read a third column as weights (default: if present)."),
    fmt: str = typer.Option("auto", "--format", help="auto, edgelist or adjlist."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn DeepWalk node vectors (uniform random walks, skip-gram)."""
    _train(learner, graph, output, directed, weighted, fmt, as_json)


@learner_command(train_app, "node2vec", short=SHORT)
def train_node2vec(
    graph: Path = typer.Argument(..., metavar="GRAPH", help=GRAPH_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    directed: bool = typer.Option(False, "--directed", help="Edges go from source to target."),
    weighted: Optional[bool] = typer.Option(None, "--weighted/--unweighted",
                                            help="Read a third column as weights (default: if present)."),
    fmt: str = typer.Option("auto", "--format", help="auto, edgelist or adjlist."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn node2vec node vectors (biased second-order walks, skip-gram)."""
    _train(learner, graph, output, directed, weighted, fmt, as_json)


@learner_command(train_app, "line", short=SHORT)
def train_line(
    graph: Path = typer.Argument(..., metavar="GRAPH", help=GRAPH_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    directed: bool = typer.Option(False, "--directed", help="Edges go from source to target."),
    weighted: Optional[bool] = typer.Option(None, "--weighted/--unweighted",
                                            help="Read a third column as weights (default: if present)."),
    fmt: str = typer.Option("auto", "--format", help="auto, edgelist or adjlist."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn LINE node vectors (first- and second-order proximity, edge sampling)."""
    from ..learn.graph import read_graph

    g = read_graph(graph, directed=directed, weighted=weighted, format=fmt)
    emb = learner.fit(g)
    emb.save(output)
    run = emb.meta["training"][-1]
    summary = {"output": str(output), "nodes": len(emb), "dim": emb.dim, "graph": emb.meta["graph"],
               "orders": run["orders"], "samples_per_order": run["samples_per_order"],
               "nodes_without_out_edges": run["nodes_without_out_edges"],
               "interrupted": run["interrupted"], "seconds": run["total_seconds"]}
    if as_json:
        emit_json(summary)
    else:
        out = console()
        note = " (interrupted: the model holds the training done so far)" if run["interrupted"] else ""
        out.print(f"wrote {output}: {len(emb):,} nodes x {emb.dim} dims from {g.num_edges:,} edges{note}")
        for o in run["orders"]:
            out.print(f"  {o['order']}-order: {o['samples']:,} edge samples, {o['dim']} dims, "
                      f"{o['samples_per_second'] or 0:,.0f} samples/s, loss {o['loss']:.4f}")
        if run["nodes_without_out_edges"]:
            out.print(f"note: {run['nodes_without_out_edges']:,} nodes without out-edges keep their "
                      "start vectors")
    if run["interrupted"]:
        raise typer.Exit(130)
