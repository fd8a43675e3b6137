"""`omnivec index build|search|eval|info`: nearest-neighbour indexes stored beside a model."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import typer

from . import index_app
from ._common import console, emit_json, human_bytes, human_seconds, open_table, parse_key, timed


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


def _split(cls, params: dict[str, Any]) -> tuple[dict, dict]:
    build = {k: v for k, v in params.items() if k not in cls.search_defaults}
    search = {k: v for k, v in params.items() if k in cls.search_defaults}
    return build, search


def run_build(model: str | os.PathLike, backend: str = "hnsw", *, params: dict | None = None,
              table: str | None = None, out: str | os.PathLike | None = None,
              show_progress: bool | None = None) -> dict:
    """Return a summary of building the `backend` index of a model and saving it beside the model."""
    from ..search import get_backend, index_path
    from ..search.tune import report

    cls = get_backend(backend)
    emb = open_table(model, table)
    with timed() as t:
        idx = cls.build(emb, show_progress=show_progress, **(params or {}))
    path = Path(out) if out else index_path(model, cls.name)
    with timed() as ts:
        idx.save(path)
    info = idx.info()
    info.update(path=os.fspath(path), build_seconds=t.seconds, save_seconds=ts.seconds,
                bytes=path.stat().st_size, recall=report(idx))
    return info


def _open(model, backend: str | None, index: str | os.PathLike | None, table: str | None):
    from ..errors import FormatError
    from ..search import find_index, open_index

    emb = open_table(model, table)
    if index:
        return emb, open_index(index, emb, backend=backend)
    idx = find_index(emb, backend)
    if idx is None:
        want = f"a {backend} index" if backend else "an index"
        raise FormatError(f"no {want} beside the model (looked for {os.fspath(model)}.hnsw, .ivfpq, .flat); "
                          f"build one with `omnivec index build {os.fspath(model)}`", path=model)
    return emb, idx


def run_search(model: str | os.PathLike, keys: list[str], *, k: int = 10, backend: str | None = None,
               index: str | os.PathLike | None = None, table: str | None = None,
               where: list[str] | None = None, allow: list[str] | None = None,
               deny: list[str] | None = None, params: dict | None = None,
               include_self: bool = False) -> dict:
    """Return the k nearest keys of each query key through the model's stored index."""
    from ..errors import InputError
    from ..search import Filter

    if k < 1:
        raise InputError(f"--k must be at least 1; got {k}")
    emb, idx = _open(model, backend, index, table)
    qkeys = [parse_key(emb, x) for x in keys]
    flt = None
    if where or allow or deny:
        flt = Filter(allow=[parse_key(emb, x) for x in allow] if allow else None,
                     deny=[parse_key(emb, x) for x in deny] if deny else None, where=where or ())
    with timed() as t:
        found = idx.search(qkeys if qkeys else np.zeros((0, emb.dim), np.float32), k, filter=flt,
                           exclude_self=not include_self, **(params or {}))
    results = []
    for i, qk in enumerate(qkeys):
        results.append({"key": qk, "neighbors": [{"key": kk, "score": s} for kk, s in found.pairs(i)]})
    return {"model": os.fspath(model), "index": idx.path, "backend": idx.name, "k": k,
            "filter": None if flt is None else str(flt), "seconds": t.seconds, "keys": results}


def run_eval(model: str | os.PathLike, *, k: int = 10, queries: int = 1000, seed: int = 0,
             backend: str | None = None, index: str | os.PathLike | None = None,
             table: str | None = None, params: dict | None = None) -> dict:
    """Return recall@k of the stored index against exact search, with both sides' queries/s.

    Queries are `queries` rows of the table drawn with `seed`.  Recall is
    tie-tolerant: a returned key counts when its exact score reaches the k-th
    exact score.
    """
    from ..errors import InputError
    from ..search.flat import topk_any

    if k < 1 or queries < 1:
        raise InputError(f"--k and --queries must be at least 1; got {k} and {queries}")
    emb, idx = _open(model, backend, index, table)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(emb), min(queries, len(emb)), replace=False))
    Q = emb.store.decode(rows).astype(np.float32)
    kk = min(k, len(idx))
    start = time.perf_counter()
    hits = [idx.search(Q[s:s + 100], kk, **(params or {})) for s in range(0, len(Q), 100)]
    t_index = time.perf_counter() - start
    ids = np.concatenate([h.ids for h in hits]) if hits else np.zeros((0, kk), np.int64)
    start = time.perf_counter()
    allowed = None if not idx.n_deleted else ~idx.deleted[:idx.n_base]
    exact = [topk_any(emb.store, emb._metric, Q[s:s + 100], kk, allowed) for s in range(0, len(Q), 100)]
    t_exact = time.perf_counter() - start
    ex_scores = np.concatenate([e[1] for e in exact])
    true = idx._rescore(Q, ids)
    kth = ex_scores[:, kk - 1:kk]
    recall = float((true >= kth - 1e-5).sum() / max(1, ids.size))
    return {"model": os.fspath(model), "index": idx.path, "backend": idx.name, "k": kk,
            "queries": len(Q), "recall": recall, "index_qps": len(Q) / t_index if t_index else None,
            "exact_qps": len(Q) / t_exact if t_exact else None,
            "search_params": {**idx.search_params, **(params or {})}}


def run_info(path: str | os.PathLike, *, table: str | None = None) -> dict:
    """Return what an index file holds (or, for a model file, the indexes stored beside it)."""
    from ..search import BACKENDS, index_path
    from ..search.index import read_index_header

    try:
        _, head = read_index_header(path)
        head = dict(head)
        head["path"] = os.fspath(path)
        head["bytes"] = Path(path).stat().st_size
        return {"indexes": [head]}
    except Exception as exc:  # not an index: maybe the model it belongs to
        from ..errors import FormatError
        if not isinstance(exc, FormatError):
            raise
    open_table(path, table)  # raises a clear error when it is neither
    found = []
    for name in BACKENDS.names():
        p = index_path(path, name)
        if p.exists():
            _, head = read_index_header(p)
            found.append({**head, "path": os.fspath(p), "bytes": p.stat().st_size})
    return {"model": os.fspath(path), "indexes": found}


# -- commands ------------------------------------------------------------------------
_PARAM_HELP = ("Parameter NAME=VALUE, repeatable. hnsw: M, ef_construction, dtype, ef; "
               "ivfpq: nlist, m, nbits, train_size, seed, nprobe, refine.")


def _backends() -> str:
    from ..search import BACKENDS
    return ", ".join(BACKENDS.names())


@index_app.command("build")
def build_cmd(model: Path = typer.Argument(..., help="A model file."),
              backend: str = typer.Option("hnsw", "--backend", "-b", help="Index kind: flat, hnsw, ivfpq."),
              param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=_PARAM_HELP),
              table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
              out: Optional[Path] = typer.Option(None, "--out", "-o",
                                                 help="Index file (default: beside the model, MODEL.<backend>)."),
              json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Build an index over a model's vectors and save it beside the model."""
    info = run_build(model, backend, params=parse_params(param), table=table, out=out)
    if json_out:
        emit_json(info)
        return
    console().print(f"{info['backend']} index of {info['live']:,} keys written to [bold]{info['path']}[/] "
                    f"({human_bytes(info['bytes'])}) in {human_seconds(info['build_seconds'])}")
    r = info["recall"]
    if r["queries"]:
        aim = f", target {r['target_recall']}" if r.get("target_recall") else ""
        sp = ", ".join(f"{k}={v}" for k, v in r["search_params"].items())
        console().print(f"recall@{r['k']} {r['recall']:.3f} on {r['queries']} rows of the table{aim} ({sp})")


@index_app.command("search")
def search_cmd(model: Path = typer.Argument(..., help="A model file with an index beside it."),
               keys: List[str] = typer.Argument(..., help="Keys whose neighbours to find."),
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
    out = run_search(model, list(keys), k=k, backend=backend, index=index, table=table, where=where,
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
def eval_cmd(model: Path = typer.Argument(..., help="A model file with an index beside it."),
             k: int = typer.Option(10, "--k", "-k", help="Recall@k."),
             queries: int = typer.Option(1000, "--queries", "-q", help="Rows drawn as queries."),
             seed: int = typer.Option(0, "--seed", help="Seed of the query draw."),
             backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Which stored index."),
             index: Optional[Path] = typer.Option(None, "--index", help="An index file elsewhere."),
             param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Search parameter, e.g. ef=128."),
             table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
             json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Report the stored index's recall@k against exact search, and both queries/s."""
    out = run_eval(model, k=k, queries=queries, seed=seed, backend=backend, index=index, table=table,
                   params=parse_params(param))
    if json_out:
        emit_json(out)
        return
    console().print(f"{out['backend']} index: recall@{out['k']} = [bold]{out['recall']:.4f}[/] over "
                    f"{out['queries']:,} queries; {out['index_qps']:,.0f} queries/s "
                    f"(exact: {out['exact_qps']:,.0f} queries/s)")


@index_app.command("info")
def info_cmd(path: Path = typer.Argument(..., help="An index file, or a model file to list its indexes."),
             table: Optional[str] = typer.Option(None, "--table", help="Table of a multi-table model."),
             json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Describe an index file, or list the indexes stored beside a model."""
    out = run_info(path, table=table)
    if json_out:
        emit_json(out)
        return
    con = console()
    if not out["indexes"]:
        con.print(f"no index beside {out.get('model')}; build one with `omnivec index build`")
    for h in out["indexes"]:
        fp = h.get("fingerprint", {})
        con.print(f"[bold]{h['path']}[/]: {h['backend']} index, {h['n_base']:,} table rows + {h['n_extra']:,} "
                  f"added, {human_bytes(h['bytes'])}; table {fp.get('table')!r} {fp.get('dim')} dims "
                  f"{fp.get('metric')}; params {h['params']}")
