"""`omnivec index build|search|eval|info`: nearest-neighbour indexes stored beside a model.

Each command parses its arguments, calls one function of omnivec.files and prints the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from .. import files
from . import index_app
from ._common import console, emit_json, human_bytes, human_seconds


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """Return NAME=VALUE strings as a dict; values become int, float, bool or stay text."""
    from ..errors import InputError

    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param takes NAME=VALUE (e.g. M=32, ef=128); got {item!r}")
        raw = raw.strip()
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            try:
                value = int(raw)
            except ValueError:
                try:
                    value = float(raw)
                except ValueError:
                    value = raw
        out[name.strip()] = value
    return out


# -- commands ------------------------------------------------------------------------
_PARAM_HELP = ("Parameter NAME=VALUE, repeatable. hnsw: M, ef_construction, dtype, ef; "
               "ivfpq: nlist, m, nbits, train_size, seed, nprobe, refine; bm25: k1, b; muvera: backend (of "
               "the encodings), final_dim, seed, candidates, refine.")


def _backends() -> str:
    from ..search import BACKENDS
    return ", ".join(BACKENDS.names())


@index_app.command("build")
def build_cmd(model: Path = typer.Argument(..., metavar="MODEL", help="A model file."),
              backend: str = typer.Option("hnsw", "--backend", "-b",
                                          help="Index kind: flat, hnsw, ivfpq; bm25 over texts; muvera "
                                               "for a multi-vector model."),
              param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=_PARAM_HELP),
              table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
              out: Optional[Path] = typer.Option(None, "--out", "-o",
                                                 help="Index file (default: beside the model, MODEL.<backend>)."),
              texts: Optional[Path] = typer.Option(None, "--texts",
                                                   help="bm25: documents: a .tsv/.jsonl corpus whose "
                                                        "ids are the table's keys, or one per line in "
                                                        "row order (default: the table's texts)."),
              k1: Optional[float] = typer.Option(None, "--k1", help="bm25: term-frequency saturation "
                                                                    "(default 1.2)."),
              b: Optional[float] = typer.Option(None, "--b", help="bm25: length normalisation, 0..1 "
                                                                  "(default 0.75)."),
              k_sim: Optional[int] = typer.Option(None, "--k-sim", help="muvera: SimHash bits (2^k buckets)."),
              reps: Optional[int] = typer.Option(None, "--reps", help="muvera: repetitions."),
              d_proj: Optional[int] = typer.Option(None, "--d-proj", help="muvera: projected dims per bucket."),
              refine_dim: Optional[int] = typer.Option(None, "--refine-dim",
                                                       help="muvera: dims of the reduced token vectors "
                                                            "that narrow the candidates (e.g. 64)."),
              json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Build an index over a model's vectors (or texts: bm25) and save it beside the model."""
    from ..errors import InputError

    params = parse_params(param)
    for name, value, only in (("k1", k1, "bm25"), ("b", b, "bm25"), ("k_sim", k_sim, "muvera"),
                              ("reps", reps, "muvera"), ("d_proj", d_proj, "muvera"),
                              ("refine_dim", refine_dim, "muvera")):
        if value is not None:
            if backend.strip().lower() != only:
                raise InputError(f"--{name.replace('_', '-')} applies to the {only} backend "
                                 f"(--backend {only}), not {backend}")
            params[name] = value
    info = files.index_build(model, backend, params=params, table=table, out=out, texts=texts)
    if json_out:
        emit_json(info)
        return
    if info["backend"] == "muvera":
        refine = "" if info["refine_dim"] is None else \
            f", {info['refine_dim']}-dim refine stage keeping {info['refine']}"
        console().print(f"muvera index of {info['keys']:,} keys ({info['fde_dim']:,}-dim encodings, "
                        f"{info['inner_backend']} index{refine}) written to [bold]{info['path']}[/] "
                        f"({human_bytes(info['bytes'])}) in {human_seconds(info['build_seconds'])}")
        return
    console().print(f"{info['backend']} index of {info['live']:,} keys written to [bold]{info['path']}[/] "
                    f"({human_bytes(info['bytes'])}) in {human_seconds(info['build_seconds'])}")
    if "terms" in info:
        console().print(f"{info['terms']:,} terms, {info['postings']:,} postings, {info['empty_documents']:,} "
                        f"empty documents; k1={info['k1']}, b={info['b']}")
    r = info["recall"]
    if r["queries"]:
        aim = f", target {r['target_recall']}" if r.get("target_recall") else ""
        sp = ", ".join(f"{k}={v}" for k, v in r["search_params"].items())
        console().print(f"recall@{r['k']} {r['recall']:.3f} on {r['queries']} rows of the table{aim} ({sp})")


@index_app.command("search")
def search_cmd(model: Path = typer.Argument(..., metavar="MODEL", help="A model file with an index beside it."),
               keys: List[str] = typer.Argument(..., metavar="KEYS", help="Keys whose neighbours to find."),
               k: int = typer.Option(10, "--k", "-k", help="Neighbours per key."),
               backend: Optional[str] = typer.Option(None, "--backend", "-b",
                                                     help="Which stored index (default: hnsw, ivfpq, flat)."),
               index: Optional[Path] = typer.Option(None, "--index", help="An index file elsewhere."),
               where: Optional[List[str]] = typer.Option(None, "--where",
                                                         help="Condition on a per-key attribute, e.g. 'counts >= 5'."),
               allow: Optional[List[str]] = typer.Option(None, "--allow", help="Only these keys (repeatable)."),
               deny: Optional[List[str]] = typer.Option(None, "--deny", help="Never these keys (repeatable)."),
               param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Search parameter, e.g. ef=128."),
               table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
               include_self: bool = typer.Option(False, "--include-self", help="Keep the query key in its results."),
               json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Find each key's nearest neighbours through the stored index, with optional filters."""
    out = files.index_search(model, list(keys), k=k, backend=backend, index=index, table=table, where=where,
                     allow=allow, deny=deny, params=parse_params(param), include_self=include_self)
    if json_out:
        emit_json(out)
        return
    from rich.table import Table

    con = console()
    for entry in out["keys"]:
        grid = Table(show_edge=False, header_style="bold", padding=(0, 1), title=str(entry["key"]))
        grid.add_column("#", justify="right")
        grid.add_column("key")
        grid.add_column("score", justify="right")
        for i, n in enumerate(entry["neighbors"], 1):
            grid.add_row(str(i), str(n["key"]), f"{n['score']:.4f}")
        con.print(grid)
    con.print(f"[dim]{out['backend']} index {out['index']}: answered in {human_seconds(out['seconds'])}[/]")


@index_app.command("eval")
def eval_cmd(model: Path = typer.Argument(..., metavar="MODEL", help="A model file with an index beside it."),
             k: int = typer.Option(10, "--k", "-k", help="Recall@k."),
             queries: int = typer.Option(1000, "--queries", "-q", help="Rows drawn as queries."),
             seed: int = typer.Option(0, "--seed", help="Seed of the query draw."),
             backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Which stored index."),
             index: Optional[Path] = typer.Option(None, "--index", help="An index file elsewhere."),
             param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Search parameter, e.g. ef=128."),
             table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
             json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Report the stored index's recall@k against exact search, and both queries/s."""
    out = files.index_eval(model, k=k, queries=queries, seed=seed, backend=backend, index=index, table=table,
                   params=parse_params(param))
    if json_out:
        emit_json(out)
        return
    console().print(f"{out['backend']} index: recall@{out['k']} = [bold]{out['recall']:.4f}[/] over "
                    f"{out['queries']:,} queries; {out['index_qps']:,.0f} queries/s "
                    f"(exact: {out['exact_qps']:,.0f} queries/s)")


@index_app.command("info")
def info_cmd(path: Path = typer.Argument(..., metavar="PATH", help="An index file, or a model file to list its indexes."),
             table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
             json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Describe an index file, or list the indexes stored beside a model."""
    out = files.index_info(path, table=table)
    if json_out:
        emit_json(out)
        return
    con = console()
    if not out["indexes"]:
        con.print(f"no index beside {out.get('model')}; build one with `omnivec index build`")
    for h in out["indexes"]:
        if "n_terms" in h:       # a BM25 index: documents and terms, no vectors
            tab = (h.get("table") or {}).get("name")
            con.print(f"[bold]{h['path']}[/]: bm25 index, {h['n_docs']:,} documents, {h['n_terms']:,} terms, "
                      f"{h['postings']:,} postings, {human_bytes(h['bytes'])}; table {tab!r}; "
                      f"k1={h['k1']}, b={h['b']}")
            continue
        if h.get("backend") == "muvera":
            refine = "" if h["refine_dim"] is None else \
                f", a {h['refine_dim']}-dim refine stage keeping {h['refine']}"
            con.print(f"[bold]{h['path']}[/]: muvera index, {h['keys']:,} keys, {h['fde_dim']:,}-dim encodings "
                      f"in a {h['inner_backend']} index, {h['candidates']} candidates{refine}; "
                      f"{human_bytes(h['bytes'])}")
            continue
        fp = h.get("fingerprint", {})
        con.print(f"[bold]{h['path']}[/]: {h['backend']} index, {h['n_base']:,} table rows + {h['n_extra']:,} "
                  f"added, {human_bytes(h['bytes'])}; table {fp.get('table')!r} {fp.get('dim')} dims "
                  f"{fp.get('metric')}; params {h['params']}")
