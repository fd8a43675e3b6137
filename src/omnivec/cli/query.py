"""`omnivec query`: neighbours, similarity, analogies and vectors of a model's keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from . import app
from ._common import console, emit_json, human_seconds, open_table, parse_key, require_keys, timed


def run_query(path: str | os.PathLike, keys: list[str], *, topn: int = 10, table: str | None = None,
              oov: bool | None = None, similarity: tuple[str, str] | None = None,
              analogy: tuple[str, str, str] | None = None, cosmul: bool = False,
              restrict_vocab: int | None = None, vector: bool = False,
              tails: tuple[str, str] | None = None, heads: tuple[str, str] | None = None,
              known: list[str] | None = None) -> dict:
    """Return the answers of one `omnivec query` call as a JSON-able dict.

    `keys` lists, per key, whether it is out of vocabulary and its topn
    `neighbors` (with `vector`, its `vector` instead); `similarity` holds the
    score between two keys; `analogy` the topn `answers` to "A is to B as C is
    to ?".  An unknown key raises KeyNotFound (suggesting --oov) unless oov
    is true or (oov None) the table has subword vectors, which define it.
    For a knowledge-graph model, `tails` (HEAD, RELATION) and `heads`
    (RELATION, TAIL) list the topn `predictions`, leaving out the triples of
    the `known` triples files or folders.
    """
    from ..errors import InputError

    if topn < 1:
        raise InputError(f"-k must be at least 1; got {topn}")
    if tails or heads:
        return _run_kg(path, topn=topn, tails=tails, heads=heads, known=known or [])
    if known:
        raise InputError("--known filters --tails/--heads predictions; give one of them")
    if restrict_vocab is not None and restrict_vocab < 1:
        raise InputError(f"--restrict-vocab must be at least 1; got {restrict_vocab}")
    emb = open_table(path, table, oov=oov)
    words = [parse_key(emb, k) for k in keys]
    pair = [parse_key(emb, k) for k in similarity] if similarity else []
    abc = [parse_key(emb, k) for k in analogy] if analogy else []
    require_keys(emb, words + pair + abc, oov=emb.oov, path=path)
    method = "3cosmul" if cosmul else "3cosadd"
    out: dict = {"model": os.fspath(path), "table": emb.name, "metric": emb.metric,
                 "rows": len(emb), "dim": emb.dim}

    def known(k) -> bool:
        return k in emb

    if words:
        results = []
        for k in words:
            entry: dict = {"key": k, "oov": not known(k)}
            if vector:
                entry["vector"] = emb.vector(k, oov=oov).tolist()
            else:
                if cosmul:
                    found = emb.most_similar_cosmul(positive=[k], topn=topn, restrict_vocab=restrict_vocab)
                else:
                    found = emb.most_similar(positive=[k], topn=topn, restrict_vocab=restrict_vocab)
                entry["neighbors"] = [{"key": nk, "score": s} for nk, s in found]
            results.append(entry)
        out["keys"] = results
    if pair:
        a, b = pair
        out["similarity"] = {"a": a, "b": b, "score": emb.similarity(a, b),
                             "oov": [k for k in pair if not known(k)]}
    if abc:
        a, b, c = abc
        found = emb.analogy(a, b, c, topn=topn, method=method, restrict_vocab=restrict_vocab)
        out["analogy"] = {"a": a, "b": b, "c": c, "method": method,
                          "oov": [k for k in abc if not known(k)],
                          "answers": [{"key": nk, "score": s} for nk, s in found]}
    return out


def _run_kg(path, *, topn: int, tails, heads, known: list[str]) -> dict:
    import omnivec

    from ..errors import InputError

    model = omnivec.open(path)
    if not hasattr(model, "predict_tails"):
        raise InputError(f"{os.fspath(path)} is not a knowledge-graph model: --tails/--heads need one "
                         f"trained by `omnivec train kge`")
    triples = _read_known(known)
    out: dict = {"model": os.fspath(path), "table": "entities", "metric": model.model,
                 "rows": model.num_entities, "dim": model.dim, "known_triples": len(triples),
                 "predictions": []}
    if tails:
        h, r = tails
        found = model.predict_tails(h, r, topn, known=triples)
        out["predictions"].append({"head": h, "relation": r, "tail": None,
                                   "answers": [{"key": k, "score": s} for k, s in found]})
    if heads:
        r, t = heads
        found = model.predict_heads(r, t, topn, known=triples)
        out["predictions"].append({"head": None, "relation": r, "tail": t,
                                   "answers": [{"key": k, "score": s} for k, s in found]})
    return out


def _read_known(paths: list[str]) -> list[tuple[str, str, str]]:
    from ..learn.kge import load_triples, read_triples

    out: list[tuple[str, str, str]] = []
    for p in paths:
        if os.path.isdir(p):
            ts = load_triples(p, require=())
            out += [(ts.entities[h], ts.relations[r], ts.entities[t])
                    for arr in ts.splits.values() for h, r, t in arr]
        else:
            out += read_triples(p)
    return out


def _ranked(items: list[dict]):
    from rich.table import Table

    grid = Table(show_edge=False, header_style="bold", padding=(0, 1))
    grid.add_column("#", justify="right")
    grid.add_column("key")
    grid.add_column("score", justify="right")
    for i, n in enumerate(items, 1):
        grid.add_row(str(i), str(n["key"]), f"{n['score']:.4f}")
    return grid


def _print(out: dict, seconds: float) -> None:
    con = console()
    unknown = "[yellow](out of vocabulary)[/]"
    for entry in out.get("keys", []):
        title = f"[bold]{entry['key']}[/]" + (f" {unknown}" if entry["oov"] else "")
        if "vector" in entry:
            con.print(title)
            con.print(" ".join(f"{x:.6g}" for x in entry["vector"]), markup=False)
            continue
        con.print(title)
        con.print(_ranked(entry["neighbors"]))
    if "similarity" in out:
        s = out["similarity"]
        con.print(f"similarity([bold]{s['a']}[/], [bold]{s['b']}[/]) = {s['score']:.4f} ({out['metric']})")
    for p in out.get("predictions", []):
        h, r, t = (f"[bold]{x}[/]" if x is not None else "?" for x in (p["head"], p["relation"], p["tail"]))
        con.print(f"({h}, {r}, {t})" + (f" [dim]({out['known_triples']:,} known triples left out)[/]"
                                           if out["known_triples"] else ""))
        con.print(_ranked(p["answers"]))
    if "analogy" in out:
        a = out["analogy"]
        con.print(f"[bold]{a['a']}[/] is to [bold]{a['b']}[/] as [bold]{a['c']}[/] is to ? ({a['method']})")
        con.print(_ranked(a["answers"]))
    con.print(f"[dim]{out['model']} ({out['table']}, {out['rows']:,} x {out['dim']}, {out['metric']}): "
              f"answered in {human_seconds(seconds)}[/]")


@app.command()
def query(model: Path = typer.Argument(..., metavar="MODEL", help="A model file."),
          keys: Optional[List[str]] = typer.Argument(None, metavar="KEYS", help="Keys whose neighbours to list."),
          topn: int = typer.Option(10, "--k", "-k", "--topn", "-n", help="How many neighbours or answers."),
          table: Optional[str] = typer.Option(None, "--table", help="Table to query in a multi-table model."),
          oov: Optional[bool] = typer.Option(
              None, "--oov/--no-oov", help="Give unknown keys out-of-vocabulary vectors (default: only "
              "in models with subword vectors, which define them)."),
          similarity: Optional[Tuple[str, str]] = typer.Option(
              None, "--similarity", metavar="A B", help="Print the similarity of two keys."),
          analogy: Optional[Tuple[str, str, str]] = typer.Option(
              None, "--analogy", metavar="A B C", help='Answer "A is to B as C is to ?".'),
          cosmul: bool = typer.Option(False, "--cosmul", help="Rank by 3CosMul instead of 3CosAdd."),
          restrict_vocab: Optional[int] = typer.Option(
              None, "--restrict-vocab", help="Consider only the first N rows (the most frequent keys)."),
          vector: bool = typer.Option(False, "--vector", help="Print each key's vector instead of neighbours."),
          tails: Optional[Tuple[str, str]] = typer.Option(
              None, "--tails", metavar="HEAD REL", help="KG models: the likeliest tails of (HEAD, REL, ?)."),
          heads: Optional[Tuple[str, str]] = typer.Option(
              None, "--heads", metavar="REL TAIL", help="KG models: the likeliest heads of (?, REL, TAIL)."),
          known: Optional[List[str]] = typer.Option(
              None, "--known", metavar="PATH", help="KG models: leave out triples of this file or folder "
              "(repeatable)."),
          json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Query a model: neighbours of keys, --similarity A B, --analogy A B C, --vector; --tails/--heads for KG models."""
    if not keys and not similarity and not analogy and not tails and not heads:
        raise typer.BadParameter("give keys, --similarity A B, --analogy A B C, or for a KG model "
                                 "--tails HEAD REL / --heads REL TAIL", param_hint="KEYS")
    with timed() as t:
        out = run_query(model, list(keys or []), topn=topn, table=table, oov=oov,
                        similarity=tuple(similarity) if similarity else None,
                        analogy=tuple(analogy) if analogy else None, cosmul=cosmul,
                        restrict_vocab=restrict_vocab, vector=vector,
                        tails=tuple(tails) if tails else None, heads=tuple(heads) if heads else None,
                        known=list(known or []))
    if json_out:
        emit_json({**out, "seconds": t.seconds})
    else:
        _print(out, t.seconds)

