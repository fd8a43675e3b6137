"""`omnivec eval retrieval --run RUN --qrels QRELS`: nDCG, recall, MRR and MAP of a TREC run."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import eval_app
from ._common import console, emit_json


@eval_app.command("retrieval")
def eval_retrieval(
    run: Path = typer.Option(..., "--run", metavar="RUN",
                             help="TREC run file: 'query_id Q0 doc_id rank score tag' per line."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", metavar="QRELS",
                                         help="TREC qrels file: 'query_id iteration doc_id grade' per line."),
    collection: Optional[str] = typer.Option(None, "--collection", metavar="NAME",
                                             help="Take the judgements of a built-in collection instead: "
                                                  "cranfield, cisi or a folder holding one (Cranfield's "
                                                  "query ids are positions 1..225)."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", metavar="NAME[@K]",
                                               help="A metric to report, repeatable: ndcg, recall, mrr, map, "
                                                    "precision, each with an optional cut "
                                                    "(default: ndcg@10 recall@100 mrr@10 map)."),
    missing: str = typer.Option("zero", "--missing", metavar="zero|skip",
                                help="Judged queries the run does not answer: score 0 (zero) or leave out (skip)."),
    per_query: bool = typer.Option(False, "--per-query", help="Also print each query's scores."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (with per-query scores)."),
) -> None:
    """Print the mean of each metric over the judged queries (trec_eval's definitions)."""
    from ..evaluate.retrieval import DEFAULT_METRICS, evaluate_run_file

    res = evaluate_run_file(run, qrels=qrels, collection=collection, metrics=metric or DEFAULT_METRICS,
                            missing=missing)
    if as_json:
        emit_json(res.to_dict())
        return
    from rich.table import Table

    out = console()
    grid = Table(show_edge=False, header_style="bold", padding=(0, 1))
    grid.add_column("query" if per_query else "metric", justify="left")
    for name in res.metrics if per_query else ("mean",):
        grid.add_column(name, justify="right")
    if per_query:
        for q, scores in res.per_query.items():
            grid.add_row(q, *(f"{scores[m]:.4f}" for m in res.metrics))
        grid.add_row("mean", *(f"{res.means[m]:.4f}" for m in res.metrics))
    else:
        for m in res.metrics:
            grid.add_row(m, f"{res.means[m]:.4f}")
    out.print(grid)
    notes = [f"{res.queries:,} queries evaluated"]
    if res.no_relevant:
        notes.append(f"{len(res.no_relevant):,} judged without a relevant document left out")
    if res.missing:
        notes.append(f"{len(res.missing):,} judged but not in the run "
                     + ("scored 0" if res.missing_policy == "zero" else "left out"))
    if res.unjudged:
        notes.append(f"{len(res.unjudged):,} in the run without judgements ignored")
    out.print("; ".join(notes))
