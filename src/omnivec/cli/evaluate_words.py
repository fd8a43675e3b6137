"""`omnivec eval analogy|similarity MODEL FILE`: word-vector benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import eval_app
from ._common import console, emit_json, open_table


@eval_app.command("analogy")
def eval_analogy(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model file."),
    questions: Path = typer.Argument(..., metavar="QUESTIONS", help="Analogy file: Google questions-words.txt or MSR."),
    method: str = typer.Option("3cosadd", "--method", help="3cosadd | 3cosmul."),
    restrict_vocab: int = typer.Option(300000, "--restrict-vocab", help="Use only the N most frequent words."),
    case_sensitive: bool = typer.Option(False, "--case-sensitive", help="Match words exactly (default: ignore case)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="google | msr (default: guessed)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Pass over malformed lines (counted) "
                                  "instead of stopping at the first."),
    table: Optional[str] = typer.Option(None, "--table", help="Table to evaluate in a multi-table model."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Print analogy accuracy per section and in total (OOV questions counted apart)."""
    from ..evaluate.analogy import evaluate_analogies, read_analogies

    emb = open_table(model, table)
    res = evaluate_analogies(emb, read_analogies(questions, fmt=fmt, skip_bad=skip_bad), method=method,
                             restrict_vocab=restrict_vocab, case_insensitive=not case_sensitive)
    if as_json:
        emit_json(res.to_dict())
        return
    out = console()
    for s in res.sections:
        out.print(f"{s.name:32s} {s.accuracy:7.2%}  ({s.correct}/{s.answered}, {s.oov} OOV)")
    out.print(f"{'total':32s} {res.accuracy:7.2%}  ({res.correct}/{res.answered}, {res.oov} OOV = "
              f"{res.oov_ratio:.1%}; {res.accuracy_all:.2%} counting OOV as wrong)  [{res.method}]")
    if res.skipped:
        out.print(f"skipped {res.skipped:,} malformed lines")


@eval_app.command("similarity")
def eval_similarity(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model file."),
    pairs: Path = typer.Argument(..., metavar="PAIRS", help="Word-pair file: WordSim353, SimLex-999, MEN, RW, ..."),
    restrict_vocab: int = typer.Option(300000, "--restrict-vocab", help="Use only the N most frequent words."),
    case_sensitive: bool = typer.Option(False, "--case-sensitive", help="Match words exactly (default: ignore case)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Pass over malformed lines (counted) "
                                  "instead of stopping at the first."),
    table: Optional[str] = typer.Option(None, "--table", help="Table to evaluate in a multi-table model."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Print Spearman and Pearson correlation with human similarity scores, and the OOV ratio."""
    from ..evaluate.similarity import evaluate_similarity

    emb = open_table(model, table)
    res = evaluate_similarity(emb, pairs, restrict_vocab=restrict_vocab, case_insensitive=not case_sensitive,
                              skip_bad=skip_bad)
    if as_json:
        emit_json(res.to_dict())
        return
    console().print(f"spearman {res.spearman:.4f}  pearson {res.pearson:.4f}  "
                    f"({res.used}/{res.pairs} pairs, {res.oov_ratio:.1%} OOV)"
                    + (f"; skipped {res.skipped:,} malformed lines" if res.skipped else ""))
