"""`omnivec train word2vec|fasttext CORPUS -o MODEL`: learn word vectors from text."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import train_app
from ._common import console, emit_json


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
    note = " (interrupted: the model holds the epochs done so far)" if run["interrupted"] else ""
    out.print(f"wrote {output}: {len(emb):,} words x {emb.dim} dims, "
              f"{run['epochs_done']} epochs, {run['words_per_second'] or 0:,.0f} words/s, "
              f"final loss {run['epoch_loss'][-1] if run['epoch_loss'] else float('nan'):.4f}{note}")
    if summary["split_lines"]:
        out.print(f"note: {summary['split_lines']:,} lines longer than the maximum sentence length were split")


def _train(learner, corpus: Path, output: Path, as_json: bool) -> None:
    emb = learner.fit(str(corpus))
    emb.save(output)
    _report(emb, output, as_json)


ARCH = typer.Option("skipgram", "--architecture", "-a", help="skipgram | cbow.")
LOSS = typer.Option("negative", "--loss", help="negative | hierarchical_softmax (hs).")


@train_app.command("word2vec")
def train_word2vec(
    corpus: Path = typer.Argument(..., help="Text file, .gz file or folder: one sentence per line, whitespace tokens."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write."),
    architecture: str = ARCH,
    loss: str = LOSS,
    dim: int = typer.Option(100, "--dim"),
    window: int = typer.Option(5, "--window"),
    negative: int = typer.Option(5, "--negative", help="Noise words per prediction (negative sampling)."),
    min_count: int = typer.Option(5, "--min-count"),
    max_vocab_size: Optional[int] = typer.Option(None, "--max-vocab-size"),
    sample: float = typer.Option(1e-3, "--sample", help="Frequent-word subsampling threshold (0: off)."),
    epochs: int = typer.Option(5, "--epochs"),
    lr: Optional[float] = typer.Option(None, "--lr", help="Start learning rate (0.025 skip-gram, 0.05 CBOW)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Threads (default: all cores)."),
    seed: int = typer.Option(1, "--seed"),
    max_sentence_length: int = typer.Option(10000, "--max-sentence-length"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Learn word2vec vectors (skip-gram or CBOW) from a text corpus."""
    from ..learn.word2vec import Word2Vec

    learner = Word2Vec(dim=dim, window=window, min_count=min_count, max_vocab_size=max_vocab_size,
                       sample=sample, architecture=architecture, loss=loss, negative=negative,
                       epochs=epochs, lr=lr, workers=workers, seed=seed,
                       max_sentence_length=max_sentence_length, progress=progress)
    _train(learner, corpus, output, as_json)


@train_app.command("fasttext")
def train_fasttext(
    corpus: Path = typer.Argument(..., help="Text file, .gz file or folder: one sentence per line, whitespace tokens."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write (export .bin with omnivec convert)."),
    architecture: str = ARCH,
    loss: str = LOSS,
    dim: int = typer.Option(100, "--dim"),
    window: int = typer.Option(5, "--window"),
    negative: int = typer.Option(5, "--negative"),
    min_count: int = typer.Option(5, "--min-count"),
    max_vocab_size: Optional[int] = typer.Option(None, "--max-vocab-size"),
    sample: float = typer.Option(1e-4, "--sample"),
    epochs: int = typer.Option(5, "--epochs"),
    lr: float = typer.Option(0.05, "--lr"),
    minn: int = typer.Option(3, "--minn", help="Shortest character n-gram."),
    maxn: int = typer.Option(6, "--maxn", help="Longest character n-gram (0: no n-grams)."),
    bucket: int = typer.Option(2_000_000, "--bucket", help="Hash rows for n-grams."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w"),
    seed: int = typer.Option(1, "--seed"),
    max_sentence_length: int = typer.Option(10000, "--max-sentence-length"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Learn fastText subword vectors (skip-gram or CBOW) from a text corpus."""
    from ..learn.fasttext import FastText

    learner = FastText(dim=dim, window=window, min_count=min_count, max_vocab_size=max_vocab_size,
                       sample=sample, architecture=architecture, loss=loss, negative=negative,
                       epochs=epochs, lr=lr, minn=minn, maxn=maxn, bucket=bucket, workers=workers,
                       seed=seed, max_sentence_length=max_sentence_length, progress=progress)
    _train(learner, corpus, output, as_json)
