"""`omnivec transform MODEL -o OUT --abtt 2 --pca 100 ...`: post-process a table's vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import files
from . import app, eval_app
from ._common import console, emit_json, human_bytes


@app.command("transform")
def transform(
    model: Path = typer.Argument(..., metavar="MODEL", help="A model file."),
    output: Path = typer.Option(..., "--output", "-o", help="The model file to write."),
    center: bool = typer.Option(False, "--center", help="Subtract the mean vector."),
    abtt: Optional[int] = typer.Option(None, "--abtt", min=1, metavar="D",
                                       help="All-but-the-top: remove the mean and the top D principal "
                                            "directions."),
    pca: Optional[int] = typer.Option(None, "--pca", min=1, metavar="K",
                                      help="Project on the top K principal axes."),
    whiten: bool = typer.Option(False, "--whiten",
                                help="Scale to unit variance per principal axis (with --pca: those K)."),
    random_projection: Optional[int] = typer.Option(None, "--random-projection", min=1, metavar="K",
                                                    help="Multiply by a random K-column Gaussian matrix."),
    truncate: Optional[int] = typer.Option(None, "--truncate", min=1, metavar="D",
                                           help="Keep the first D dims (Matryoshka), then normalise."),
    normalize: bool = typer.Option(False, "--normalize", help="Scale every vector to unit length."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random projection."),
    table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Transform a table's vectors; the steps run in the order the options are listed here.

    The fitted steps are saved with the vectors, so queries from elsewhere can be
    transformed alike (omnivec.transform.transform_of).
    """
    out = files.transform_file(model, output, center=center, abtt=abtt, pca=pca, whiten=whiten,
                               random_projection=random_projection, truncate=truncate, normalize=normalize,
                               seed=seed, table=table)
    if json_out:
        emit_json(out)
        return
    console().print(f"wrote {out['output']} ({human_bytes(out['bytes'])}): {out['rows']:,} vectors, "
                    f"{out['in_dim']} -> {out['dim']} dims; steps: {', '.join(out['steps'])}", markup=False)


@app.command("retrofit")
def retrofit(
    model: Path = typer.Argument(..., metavar="MODEL", help="A model file."),
    lexicon: Path = typer.Argument(..., metavar="LEXICON",
                                   help="One word and its neighbours per line, spaces between (.gz too)."),
    output: Path = typer.Option(..., "--output", "-o", help="The model file to write."),
    iterations: int = typer.Option(10, "--iterations", min=1, help="Update sweeps."),
    alpha: float = typer.Option(1.0, "--alpha", help="Weight of a word's own vector (x its degree)."),
    beta: float = typer.Option(1.0, "--beta", help="Weight of each neighbour."),
    keep_case: bool = typer.Option(False, "--keep-case", help="Do not lower-case the lexicon's words."),
    table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Pull the words a lexicon links towards each other (retrofitting, Faruqui and others 2015)."""
    out = files.retrofit_file(model, lexicon, output, iterations=iterations, alpha=alpha, beta=beta,
                              lowercase=not keep_case, table=table)
    if json_out:
        emit_json(out)
        return
    console().print(f"wrote {out['output']} ({human_bytes(out['bytes'])}): {out['words_moved']:,} of "
                    f"{out['rows']:,} words moved along {out['links']:,} links; {out['lexicon_words_absent']:,} "
                    f"lexicon words are not in the table", markup=False)


@app.command("align")
def align(
    source: Path = typer.Argument(..., metavar="SRC", help="The model whose vectors are mapped."),
    target: Path = typer.Argument(..., metavar="TGT", help="The model whose space they are mapped into."),
    output: Path = typer.Option(..., "--output", "-o", help="The model file to write (the mapped source)."),
    dictionary: Optional[Path] = typer.Option(None, "--dictionary", "-d",
                                              help="Seed pairs: 'source target' per line."),
    identical: bool = typer.Option(False, "--identical", help="Seed with the keys both models share."),
    unsupervised: bool = typer.Option(False, "--unsupervised",
                                      help="No seed: match the spaces' shapes, then self-learn."),
    method: str = typer.Option("clusters", "--method",
                               help="How --unsupervised starts: clusters (mini-vec2vec: matched k-means "
                                    "centroids) or distributions (VecMap: similarity distributions)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of --unsupervised (k-means, sampling)."),
    refine: int = typer.Option(0, "--refine", min=0, help="Rounds of dictionary induction (CSLS)."),
    refine_vocab: int = typer.Option(20000, "--refine-vocab", min=1,
                                     help="Induce pairs among the first N words of each."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Map SRC into TGT's space by orthogonal Procrustes on seed pairs."""
    out = files.align_files(source, target, output, dictionary=dictionary, identical=identical, refine=refine,
                            refine_vocab=refine_vocab, unsupervised=unsupervised, method=method, seed=seed)
    if json_out:
        emit_json(out)
        return
    if out.get("unsupervised"):
        console().print(f"wrote {out['output']}: {out['rows']:,} vectors mapped without a seed "
                        f"(by {out['method']}; {out['mutual_pairs']:,} mutual pairs among the first "
                        f"{out['vocab']:,} words)",
                        markup=False)
        return
    console().print(f"wrote {out['output']}: {out['rows']:,} vectors mapped on {out['pairs']:,} seed pairs "
                    f"({out['dropped_pairs']:,} dropped: a word missing); dictionary sizes "
                    f"{out['dictionary_sizes']}", markup=False)


@eval_app.command("translation")
def eval_translation(
    mapped: Path = typer.Argument(..., metavar="MAPPED", help="The mapped source (omnivec align)."),
    target: Path = typer.Argument(..., metavar="TGT", help="The target model."),
    dictionary: Path = typer.Argument(..., metavar="DICT", help="Held-out pairs: 'source target' per line."),
    method: str = typer.Option("csls", "--method", help="csls or nn (plain nearest neighbours)."),
    target_vocab: int = typer.Option(200000, "--target-vocab", min=1,
                                     help="Search the first N target words."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Report translation precision P@1 and P@5 of a mapped source against a dictionary."""
    out = files.translation_file(mapped, target, dictionary, method=method, target_vocab=target_vocab)
    if json_out:
        emit_json(out)
        return
    console().print(f"P@1 {out['p@1']:.3f}, P@5 {out['p@5']:.3f} ({out['method']}) over {out['queries']:,} "
                    f"source words; {out['missing_pairs']:,} pairs skipped (a word missing)", markup=False)
