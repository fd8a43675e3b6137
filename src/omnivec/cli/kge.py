"""`omnivec train kge` and `omnivec eval linkpred`: knowledge-graph embeddings from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional

import typer

from . import eval_app, train_app
from ._common import console, emit_json, human_seconds, timed
from ._learner_options import learner_command


def _split_files(data: Path) -> dict:
    """Return split -> path for a folder, or {'test': file} for a single triples file."""
    from ..learn.kge.data import SPLITS, _find_split

    if data.is_dir():
        return {s: p for s in SPLITS if (p := _find_split(str(data), s)) is not None}
    return {"test": str(data)}


@learner_command(train_app, "kge", short={"model": "-m"},
                 rename={"num_negatives": "--negatives",
                         "dense_updates": "--dense-updates/--sparse-updates"})
def train_kge(
    data: Path = typer.Argument(..., metavar="DATA", help="Folder with train.txt (and valid.txt, test.txt), or one "
                                "training file: head<TAB>relation<TAB>tail."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="Model file to write (tables 'entities' and 'relations')."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Count and skip malformed rows instead of stopping."),
    evaluate_test: bool = typer.Option(True, "--evaluate/--no-evaluate", help="Report filtered test metrics."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    learner: Any = None,
) -> None:
    """Train a knowledge-graph embedding on TSV triples and save it as one model file.

    The options are KGE's declared parameters (`omnivec.learn.kge.KGE`).
    """
    from ..evaluate.linkpred import evaluate
    from ..learn.kge import load_triples

    triples = load_triples(data, on_bad="skip" if skip_bad else "error")
    est = learner
    with timed() as tm:
        km = est.fit(triples)
    km.save(output)
    summary = {"model": km.model, "dim": km.dim, "output": os.fspath(output),
               "entities": km.num_entities, "relations": km.num_relations,
               "triples": {k: int(len(v)) for k, v in triples.splits.items()},
               "skipped_rows": {k: r.skipped for k, r in triples.reports.items()},
               "input": {k: r.as_dict() for k, r in triples.reports.items() if r.skipped},
               "seconds": tm.seconds, "epochs_run": len(est.history_.loss),
               "final_loss": est.history_.loss[-1], "best_epoch": est.history_.best_epoch,
               "params": est.resolved_params()}
    if evaluate_test and len(triples.splits.get("test", ())):
        summary["test"] = evaluate(km, triples.splits["test"], known=triples.all_known()).as_dict()
    summary["interrupted"] = est.history_.interrupted
    if json_out:
        emit_json(summary)
        if est.history_.interrupted:
            raise typer.Exit(130)
        return
    out = console()
    out.print(f"{km.model} dim {km.dim}: {km.num_entities:,} entities, {km.num_relations:,} relations, "
              f"{len(triples.splits['train']):,} training triples")
    for name, rep in triples.reports.items():
        if rep.skipped:
            out.print(f"skipped {rep.skipped} bad rows of {rep.path}: {rep.bad}")
    out.print(f"trained {summary['epochs_run']} epochs in {human_seconds(tm.seconds)}, "
              f"final loss {summary['final_loss']:.4g}")
    if "test" in summary:
        t = summary["test"]
        out.print(f"test (filtered, realistic): MRR {t['mrr']:.4f}  Hits@1 {t['hits@1']:.4f}  "
                  f"Hits@3 {t['hits@3']:.4f}  Hits@10 {t['hits@10']:.4f}")
    out.print(f"wrote {output}" + (" (interrupted: the model holds the training done so far)"
                                   if est.history_.interrupted else ""))
    if est.history_.interrupted:
        raise typer.Exit(130)


@eval_app.command("linkpred")
def eval_linkpred(
    model: Path = typer.Argument(..., metavar="MODEL", help="A model file written by `omnivec train kge`."),
    triples: Path = typer.Argument(..., metavar="TRIPLES", help="Test triples file, or a folder with test.txt (train/valid used as filter)."),
    known: Optional[List[Path]] = typer.Option(None, "--known", help="More triples files to filter out (repeatable)."),
    skip_unknown: bool = typer.Option(False, "--skip-unknown", help="Skip test triples with labels the model lacks."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Count and skip malformed rows."),
    batch_size: int = typer.Option(256, "--batch-size", help="Queries scored at once (memory: batch x entities)."),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Filtered link prediction: MRR and Hits@1/3/10 with realistic ranks, heads and tails."""
    from ..errors import InputError
    from ..evaluate.linkpred import evaluate_labels
    from ..learn.kge import KGModel, read_triples
    from ..learn.kge.data import ReadReport

    km = KGModel.open(model)
    files = _split_files(triples)
    if "test" not in files:
        raise InputError(f"{triples}: no test.txt/.tsv[.gz] in the folder")
    on_bad = "skip" if skip_bad else "error"
    reports = {}
    rows = {}
    for name, path in files.items():
        reports[name] = ReadReport(path)
        rows[name] = read_triples(path, on_bad=on_bad, report=reports[name])
    for i, path in enumerate(known or []):
        reports[f"known{i}"] = ReadReport(os.fspath(path))
        rows[f"known{i}"] = read_triples(path, on_bad=on_bad, report=reports[f"known{i}"])
    if not rows["test"]:
        raise InputError(f"{files['test']}: the test split has no triples")
    filt = [t for name, r in rows.items() for t in r]
    with timed() as tm:
        res, skipped = evaluate_labels(km, rows["test"], known=filt, batch_size=batch_size,
                                       unknown="skip" if skip_unknown else "error")
    summary = {**res.as_dict(), "model": km.model, "skipped_unknown": skipped,
               "skipped_rows": {k: r.skipped for k, r in reports.items()}, "seconds": tm.seconds}
    if json_out:
        emit_json(summary)
        return
    out = console()
    out.print(f"{km.model} on {res.n:,} triples (filtered, realistic ranks, both sides): "
              f"MRR {res.mrr:.4f}  Hits@1 {res.hits[1]:.4f}  Hits@3 {res.hits[3]:.4f}  "
              f"Hits@10 {res.hits[10]:.4f}  [{human_seconds(tm.seconds)}]")
    if skipped:
        out.print(f"skipped {skipped} test triples with labels the model lacks")
    for name, rep in reports.items():
        if rep.skipped:
            out.print(f"skipped {rep.skipped} bad rows of {rep.path}: {rep.bad}")
