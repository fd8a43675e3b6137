"""`omnivec train word2vec|fasttext CORPUS -o MODEL`: learn word vectors from text.

The options are the learners' declared parameters (`omnivec.cli._learner_options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import train_app
from ._common import console, emit_json
from ._learner_options import learner_command


def _report(emb, output: Path, as_json: bool) -> None:
    run = emb.meta["training"][-1]
    summary = {"output": str(output), "words": len(emb), "dim": emb.dim,
               "corpus_tokens": emb.meta["corpus"]["tokens"],
               "split_lines": emb.meta["corpus"]["split_lines"],
               "epochs_done": run["epochs_done"], "interrupted": run["interrupted"],
               "epoch_loss": run["epoch_loss"], "words_per_second": run["words_per_second"],
               "seconds": run["total_seconds"]}
    if as_json:
        emit_json(summary)
        return
    out = console()
    note = " (interrupted: the model holds the training done so far)" if run["interrupted"] else ""
    out.print(f"wrote {output}: {len(emb):,} words x {emb.dim} dims, "
              f"{run['epochs_done']} epochs, {run['words_per_second'] or 0:,.0f} words/s, "
              f"final loss {run['epoch_loss'][-1] if run['epoch_loss'] else float('nan'):.4f}{note}")
    if summary["split_lines"]:
        out.print(f"note: {summary['split_lines']:,} lines longer than the maximum sentence length were split")


def _train(learner, corpus: Path, output: Path, as_json: bool) -> None:
    emb = learner.fit(str(corpus))
    emb.save(output)
    _report(emb, output, as_json)
    if emb.meta["training"][-1]["interrupted"]:
        raise typer.Exit(130)      # saved what was trained, but say it was cut short


CORPUS_HELP = "Text file, .gz file or folder: one sentence per line, whitespace tokens."
SHORT = {"architecture": "-a", "workers": "-w"}


@learner_command(train_app, "word2vec", short=SHORT)
def train_word2vec(
    corpus: Path = typer.Argument(..., metavar="CORPUS", help=CORPUS_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn word2vec vectors (skip-gram or CBOW) from a text corpus."""
    _train(learner, corpus, output, as_json)


@learner_command(train_app, "fasttext", short=SHORT)
def train_fasttext(
    corpus: Path = typer.Argument(..., metavar="CORPUS", help=CORPUS_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write (export .bin with omnivec convert)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    learner: Any = None,
) -> None:
    """Learn fastText subword vectors (skip-gram or CBOW) from a text corpus."""
    _train(learner, corpus, output, as_json)
