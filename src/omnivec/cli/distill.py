"""`omnivec distill TEACHER -o STATIC.ov`: a static sentence encoder from a sentence transformer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, emit_json, human_seconds, timed


def _read_vocabulary(path: Path) -> list[str]:
    """Return the words of a vocabulary file: the first column of each non-empty line."""
    from ..errors import InputError

    try:
        with open(path, encoding="utf-8") as fh:
            words = []
            for line in fh:
                parts = line.split()
                if parts:
                    words.append(parts[0])
    except FileNotFoundError:
        raise InputError(f"vocabulary file {os.fspath(path)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"vocabulary file {os.fspath(path)!r} is not UTF-8 text "
                         f"(bad byte at offset {exc.start})") from None
    return words


@app.command()
def distill(
    teacher: str = typer.Argument(..., metavar="TEACHER",
                                  help="A sentence-transformers model: a local folder or a name "
                                       "found offline (all-MiniLM-L6-v2)."),
    output: Path = typer.Option(..., "-o", "--output", metavar="STATIC.ov",
                                help="Model file to write (a static encoder)."),
    pca_dims: int = typer.Option(256, "--pca-dims", metavar="N", min=1,
                                 help="Reduce the vectors to N dimensions with PCA."),
    vocabulary: Optional[Path] = typer.Option(None, "--vocabulary", metavar="FILE",
                                              help="Words to add as whole tokens, one a line (the "
                                                   "first column; e.g. a corpus's word counts)."),
    no_zipf: bool = typer.Option(False, "--no-zipf", help="Do not weight tokens by log(1 + rank)."),
    sif: Optional[float] = typer.Option(None, "--sif", metavar="A",
                                        help="Weight tokens by SIF a / (a + p) with Zipf's p instead "
                                             "(e.g. 1e-4)."),
    max_vocabulary: Optional[int] = typer.Option(None, "--max-vocabulary", metavar="N", min=1,
                                                 help="Keep only the teacher's first N tokens."),
    device: str = typer.Option("cpu", "--device", metavar="NAME", help="Torch device of the teacher: cpu, cuda, mps."),
    batch_size: int = typer.Option(256, "--batch-size", metavar="N", min=1,
                                   help="Tokens per forward pass of the teacher."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Distill a static encoder: every token through the teacher, then PCA."""
    from ..encode.static import distill as run_distill

    words = _read_vocabulary(vocabulary) if vocabulary is not None else None
    with timed() as t:
        enc = run_distill(teacher, vocabulary=words, pca_dims=pca_dims, apply_zipf=not no_zipf,
                          sif_coefficient=sif, max_vocabulary=max_vocabulary, device=device,
                          batch_size=batch_size, progress=None)
        enc.save(output)
    meta = enc.tokens.meta
    result = {"output": os.fspath(output), "teacher": meta.get("teacher"), "tokens": len(enc.tokens),
              "dim": enc.dim, "added": meta.get("vocabulary_added", 0), "weighting": meta.get("weighting"),
              "seconds": round(t.seconds, 3)}
    if as_json:
        emit_json(result)
        return
    console().print(f"{result['tokens']:,} tokens x {result['dim']} dims "
                    f"({result['added']:,} added from the vocabulary) -> {result['output']} "
                    f"in {human_seconds(t.seconds)}", markup=False)
