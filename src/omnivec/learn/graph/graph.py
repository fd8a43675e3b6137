"""Graphs as compressed sparse rows, read from edge lists and adjacency lists.

`Graph` holds a graph as CSR arrays: node ``i``'s out-neighbours are
``indices[indptr[i]:indptr[i + 1]]`` (sorted, no duplicates), with their
``weights`` alongside (float32, or None for an unweighted graph).  An
undirected graph stores each edge in both directions (a self-loop once).
Node keys are strings in id order (``nodes[i]`` is node ``i``'s key): when
every key is an integer the ids follow the integers' order, otherwise the
order of first appearance.

`read_graph` streams a file (plain or gzip) in blocks of lines into the CSR
arrays, never a Python object per edge:

- edge list: ``source target [weight]`` per line, separated by tabs or
  spaces; a third column makes the graph weighted unless ``weighted=False``;
- adjacency list: ``node neighbour neighbour ...`` per line (networkx's
  ``.adjlist``); a line with only a node adds it without edges (isolated).

Lines starting with ``#`` or ``%`` and blank lines are skipped.  Duplicate
edges (the same source and target again) are merged, their weights summed,
or the largest kept with ``duplicates="max"``, and counted.  In an
undirected graph ``a b`` and ``b a`` name one edge (symmetric files list
both): they are merged without being counted as duplicates, keeping the
larger weight.  Self-loops are kept and counted.  `Graph.report`
holds the counts: nodes, edges (each undirected edge once), self_loops,
duplicate_edges, isolated (no edge at all) and sinks (directed graphs: nodes
with in-edges but no out-edge, where a walk stops; 0 for undirected graphs).

Bad input raises `omnivec.errors.ParseError` naming the file and line:
ragged lines (a column count that differs from the first data line),
weights that are not finite non-negative numbers, integer ids beyond int64,
more nodes than int32 ids hold, and a graph without edges.
"""

from __future__ import annotations

import gzip
import os
import re
from typing import Any, Iterator, Sequence

import numpy as np

from ...errors import EncodingError, InputError, ParseError

__all__ = ["Graph", "read_graph"]

MAX_NODES = 2**31 - 1  # ids are int32 in `indices`
_INT = re.compile(rb"[+-]?[0-9]+\Z")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_COMMENT = (b"#", b"%")
_BLOCK_BYTES = 1 << 23  # ~8 MB of text per block


class Graph:
    """A graph in CSR form: `indptr` (int64, n+1), `indices` (int32), `weights` (float32 or None).

    `nodes` are the node keys as strings in id order, `directed` says whether
    edges have a direction, `report` holds the counts described in the module
    docstring.  ``len(g)`` is the number of nodes.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray | None,
                 nodes: np.ndarray, *, directed: bool, report: dict[str, int] | None = None) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.weights = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32)
        self.nodes = np.asarray(nodes, dtype=str)
        self.directed = bool(directed)
        n = len(self.nodes)
        if self.indptr.shape != (n + 1,) or self.indptr[0] != 0 or self.indptr[-1] != len(self.indices):
            raise InputError(f"Graph: indptr must have {n + 1} entries from 0 to {len(self.indices)}")
        if self.weights is not None and self.weights.shape != self.indices.shape:
            raise InputError("Graph: weights must have one entry per stored edge")
        self.report = dict(report) if report is not None else _report(self)
        self._index: dict[str, int] | None = None

    # --- construction ----------------------------------------------------
    @classmethod
    def from_edges(cls, src: Any, dst: Any, weights: Any = None, *, directed: bool = False,
                   nodes: Sequence[Any] | None = None, duplicates: str = "sum") -> "Graph":
        """Build a graph from parallel arrays of edge ends.

        Without `nodes`, `src` and `dst` hold node keys (integers or strings;
        integer keys are ordered numerically, others by first appearance).
        With `nodes` (every node's key, in id order, isolated nodes included),
        `src` and `dst` hold integer ids ``0 <= id < len(nodes)``.
        `weights` (one non-negative number per edge) makes the graph weighted.
        Duplicate edges are merged: weights summed (`duplicates="sum"`) or the
        largest kept (`"max"`).
        """
        _check_duplicates(duplicates)
        src_a, dst_a = np.asarray(src), np.asarray(dst)
        if src_a.ndim != 1 or src_a.shape != dst_a.shape:
            raise InputError(f"Graph.from_edges: src and dst must be 1-D arrays of one length, "
                             f"got shapes {src_a.shape} and {dst_a.shape}")
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != src_a.shape:
                raise InputError(f"Graph.from_edges: {w.shape[0] if w.ndim else 'a scalar'} weights "
                                 f"for {len(src_a)} edges")
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if len(bad):
                raise InputError(f"Graph.from_edges: weight {w[bad[0]]!r} of edge {bad[0]} is not a "
                                 "finite non-negative number")
        if nodes is not None:
            keys = np.asarray([str(k) for k in nodes], dtype=str)
            if len(set(keys.tolist())) != len(keys):
                raise InputError("Graph.from_edges: nodes has the same key twice")
            n = len(keys)
            if len(src_a) and not (np.issubdtype(src_a.dtype, np.integer)
                                   and np.issubdtype(dst_a.dtype, np.integer)):
                raise InputError("Graph.from_edges: with nodes given, src and dst must be integer ids")
            s, d = src_a.astype(np.int64), dst_a.astype(np.int64)
            if len(s) and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
                raise InputError(f"Graph.from_edges: an edge end is outside 0..{n - 1} (the node ids)")
        else:
            ids = _KeyTable()
            both = np.concatenate([src_a.astype(str), dst_a.astype(str)])
            mapped = ids.add(both, where="Graph.from_edges")
            keys, order = ids.finish()
            mapped = order[mapped]
            s, d = mapped[:len(src_a)], mapped[len(src_a):]
            n = len(keys)
        if n > MAX_NODES:
            raise InputError(f"Graph.from_edges: {n} nodes; at most {MAX_NODES} are supported")
        return _build(s, d, w, keys, directed=directed, duplicates=duplicates)

    # --- queries ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def degree(self) -> np.ndarray:
        """Out-degree of every node (int64; an undirected self-loop counts once)."""
        return np.diff(self.indptr)

    def neighbors(self, i: int) -> np.ndarray:
        """The ids of node `i`'s out-neighbours, ascending (a view)."""
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def edge_weights(self, i: int) -> np.ndarray:
        """Weights of node `i`'s out-edges in `neighbors(i)` order (ones when unweighted)."""
        if self.weights is None:
            return np.ones(self.indptr[i + 1] - self.indptr[i], dtype=np.float32)
        return self.weights[self.indptr[i]:self.indptr[i + 1]]

    def id_of(self, key: Any) -> int:
        """The id of the node with key `key` (compared as a string); KeyError if absent."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.nodes.tolist())}
        return self._index[str(key)]

    @property
    def weighted(self) -> bool:
        return self.weights is not None

    @property
    def num_edges(self) -> int:
        """Edges as given (each undirected edge once, duplicates merged)."""
        return int(self.report["edges"])

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        w = "weighted" if self.weighted else "unweighted"
        return f"Graph({len(self)} nodes, {self.num_edges} edges, {kind}, {w})"


# --- building CSR ----------------------------------------------------------
def _check_duplicates(duplicates: str) -> None:
    if duplicates not in ("sum", "max"):
        raise InputError(f"duplicates must be 'sum' or 'max', got {duplicates!r}")


def _build(s: np.ndarray, d: np.ndarray, w: np.ndarray | None, keys: np.ndarray, *,
           directed: bool, duplicates: str) -> Graph:
    n = len(keys)
    s = s.astype(np.int64, copy=False)
    d = d.astype(np.int64, copy=False)
    # exact repeats of (source, target) are duplicates, merged by `duplicates`
    s, d, w, dups = _merge(s, d, w, n, np.add if duplicates == "sum" else np.maximum)
    if not directed:
        # "a b" and "b a" name one undirected edge: merged without counting, the larger weight kept
        s, d = np.minimum(s, d), np.maximum(s, d)
        s, d, w, _ = _merge(s, d, w, n, np.maximum)
    us, ud, uw = s, d, w
    loops = us == ud
    edges, self_loops = len(us), int(loops.sum())
    if not directed:  # store both directions, a self-loop once
        back = ~loops
        us, ud = np.concatenate([us, ud[back]]), np.concatenate([ud, us[back]])
        if uw is not None:
            uw = np.concatenate([uw, uw[back]])
        o = np.argsort(us * n + ud, kind="stable")
        us, ud = us[o], ud[o]
        if uw is not None:
            uw = uw[o]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(us, minlength=n), out=indptr[1:])
    report = {"nodes": n, "edges": edges, "self_loops": self_loops, "duplicate_edges": dups}
    g = Graph(indptr, ud.astype(np.int32), None if uw is None else uw.astype(np.float32), keys,
              directed=directed, report={})
    g.report = {**report, **_degree_counts(g)}
    return g


def _merge(s: np.ndarray, d: np.ndarray, w: np.ndarray | None, n: int, ufunc: Any
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Sort edges by (source, target) and merge repeats; returns them and the number merged away."""
    key = s * n + d
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    ukey = key[starts]
    if w is not None:
        w = ufunc.reduceat(w[order], starts) if len(starts) else w[order]
    return ukey // max(n, 1), ukey % max(n, 1), w, len(key) - len(ukey)


def _degree_counts(g: Graph) -> dict[str, int]:
    out = g.degree()
    n = len(g)
    indeg = np.bincount(g.indices, minlength=n)
    isolated = int(((out == 0) & (indeg == 0)).sum())
    sinks = int(((out == 0) & (indeg > 0)).sum()) if g.directed else 0
    return {"isolated": isolated, "sinks": sinks}


def _report(g: Graph) -> dict[str, int]:
    loops = int((np.repeat(np.arange(len(g)), g.degree()) == g.indices).sum())
    stored = len(g.indices)
    edges = stored if g.directed else (stored - loops) // 2 + loops
    return {"nodes": len(g), "edges": edges, "self_loops": loops, "duplicate_edges": 0,
            **_degree_counts(g)}


class _KeyTable:
    """Node keys (bytes or str) to ids in order of first appearance, fed a block at a time."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.all_int = True

    def add(self, tokens: np.ndarray, *, where: str, lines: np.ndarray | None = None) -> np.ndarray:
        """Return the ids of `tokens` (any shape), adding the new ones.

        `lines` (broadcastable to `tokens`' shape) gives each token's line for error messages.
        """
        flat = tokens.reshape(-1)
        line_of = None if lines is None else np.broadcast_to(lines, tokens.shape).reshape(-1)
        uniq, first, inv = np.unique(flat, return_index=True, return_inverse=True)
        ids = self.ids
        uid = np.empty(len(uniq), dtype=np.int64)
        # keys in order of first appearance within the block, so ids follow the file
        for j in np.argsort(first, kind="stable").tolist():
            tok = uniq[j]
            got = ids.get(tok)
            if got is None:
                got = len(ids)
                self._check_new(tok, where, None if line_of is None else int(line_of[first[j]]))
                ids[tok] = got
            uid[j] = got
        return uid[inv.reshape(-1)].reshape(tokens.shape)

    def _check_new(self, tok: Any, where: str, line: int | None) -> None:
        if isinstance(tok, bytes):
            try:
                tok.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EncodingError(f"node key {tok!r} is not UTF-8 ({exc.reason} at byte {exc.start})",
                                    path=where, line=line) from None
        if not self.all_int:
            return
        b = tok.encode() if isinstance(tok, str) else bytes(tok)
        if _INT.match(b) is None:
            self.all_int = False
            return
        v = int(b)
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ParseError(f"node id {b.decode()!r} is an integer beyond int64; "
                             "give ids within ±9.2e18 or use text keys", path=where, line=line)

    def finish(self, where: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Return (keys as str in id order, old id -> new id)."""
        raw = list(self.ids)
        n = len(raw)
        if n > MAX_NODES:
            raise ParseError(f"{n} nodes; at most {MAX_NODES} are supported", path=where or None)
        if self.all_int and n:
            vals = np.array([int(k) for k in raw], dtype=np.int64)
            if len(np.unique(vals)) == n:  # "7" and "07" both present: keep them apart as text
                rank = np.argsort(vals, kind="stable")
                order = np.empty(n, dtype=np.int64)
                order[rank] = np.arange(n)
                return vals[rank].astype(str), order
        keys = [k if isinstance(k, str) else k.decode("utf-8") for k in raw]
        return np.asarray(keys, dtype=str) if keys else np.zeros(0, dtype=str), np.arange(n, dtype=np.int64)


# --- reading files ---------------------------------------------------------
def _open(path: str):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _blocks(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield (number of the block's first line, whole lines as bytes ending in a newline)."""
    line = 1
    rest = b""
    try:
        with _open(path) as f:
            while True:
                data = f.read(_BLOCK_BYTES)
                if not data:
                    break
                data = rest + data
                cut = data.rfind(b"\n") + 1
                block, rest = data[:cut], data[cut:]
                if block:
                    yield line, block
                    line += block.count(b"\n")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ParseError(f"cannot read the file: {exc}", path=path, line=line) from exc
    if rest:
        yield line, rest + b"\n"


def _lines(first: int, block: bytes) -> Iterator[tuple[int, list[bytes]]]:
    """(line number, tokens) of every data line of a block (comments and blank lines skipped)."""
    for k, text in enumerate(block.split(b"\n")[:-1]):
        toks = text.split()
        if toks and not toks[0].startswith(_COMMENT):
            yield first + k, toks


def _sniff(path: str) -> str:
    name = os.path.basename(path).lower().removesuffix(".gz")
    if name.endswith(".adjlist") or name.endswith(".adj"):
        return "adjlist"
    counts: set[int] = set()
    seen = 0
    for first, block in _blocks(path):
        for _, toks in _lines(first, block):
            counts.add(len(toks))
            seen += 1
            if seen >= 1000:
                break
        break
    if counts and (max(counts) > 3 or min(counts) == 1 or len(counts) > 1):
        return "adjlist"
    return "edgelist"


def read_graph(path: str | os.PathLike, *, directed: bool = False, weighted: bool | None = None,
               format: str = "auto", duplicates: str = "sum") -> Graph:
    """Read a graph from an edge list or adjacency list (plain or gzip) into a `Graph`.

    `format`: "edgelist" (``source target [weight]``), "adjlist" (``node
    neighbour ...``) or "auto" (a name ending ``.adjlist``, or lines with
    one, more than three or varying numbers of fields, read as an adjacency
    list; otherwise an edge list).  `weighted`: None reads a third column as
    weights when the first data line has one, True requires it, False
    ignores it.  `duplicates`: merged edges' weights are summed ("sum") or
    the largest kept ("max").  See the module docstring for the counts in
    `Graph.report` and the errors.
    """
    path = os.fspath(path)
    _check_duplicates(duplicates)
    if format not in ("auto", "edgelist", "adjlist"):
        raise InputError(f"format must be 'auto', 'edgelist' or 'adjlist', got {format!r}")
    if not os.path.exists(path):
        raise InputError(f"{path}: no such graph file")
    fmt = _sniff(path) if format == "auto" else format
    if fmt == "adjlist" and weighted:
        raise InputError(f"{path}: an adjacency list has no weights; use an edge list "
                         "'source target weight' for a weighted graph")
    keys = _KeyTable()
    srcs: list[np.ndarray] = []
    dsts: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    reader = _read_edgelist if fmt == "edgelist" else _read_adjlist
    state: dict[str, Any] = {"weighted": weighted, "ncols": None}
    for first, block in _blocks(path):
        got = reader(path, first, block, keys, state)
        if got is not None:
            s, d, w = got
            srcs.append(s)
            dsts.append(d)
            if w is not None:
                wts.append(w)
    names, order = keys.finish(path)
    s = order[np.concatenate(srcs)] if srcs else np.zeros(0, np.int64)
    d = order[np.concatenate(dsts)] if dsts else np.zeros(0, np.int64)
    if len(s) == 0:
        raise ParseError("the graph has no edges (only comments, blank lines or lone nodes)",
                         path=path)
    w = np.concatenate(wts) if state["weighted"] else None
    return _build(s, d, w, names, directed=directed, duplicates=duplicates)


def _read_edgelist(path: str, first: int, block: bytes, keys: _KeyTable,
                   state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    nlines = block.count(b"\n")
    toks = block.split()
    fast = None
    if b"#" not in block and b"%" not in block:
        for k in (2, 3):
            if len(toks) == k * nlines and state["ncols"] in (None, k) and _fields_per_line(block, k):
                fast = np.array(toks, dtype=bytes).reshape(nlines, k)
                break
    if fast is not None:
        table = fast
        lines = np.arange(first, first + nlines, dtype=np.int64)
    else:
        rows_l: list[list[bytes]] = []
        line_l: list[int] = []
        for ln, t in _lines(first, block):
            ncols = state["ncols"]
            if ncols is None:
                if len(t) not in (2, 3):
                    raise ParseError(f"an edge list line needs 2 or 3 fields (source target [weight]), "
                                     f"found {len(t)}", path=path, line=ln)
                state["ncols"] = ncols = len(t)
            if len(t) != ncols:
                raise ParseError(f"ragged line: {len(t)} fields where the first data line has {ncols}",
                                 path=path, line=ln)
            rows_l.append(t)
            line_l.append(ln)
        if not rows_l:
            return None
        table = np.array(rows_l, dtype=bytes)
        lines = np.asarray(line_l, dtype=np.int64)
    ncols = table.shape[1]
    if state["ncols"] is None:
        state["ncols"] = ncols
    if state["weighted"] is None:
        state["weighted"] = ncols == 3
    if state["weighted"] and ncols < 3:
        raise ParseError("weighted=True but the line has no weight column", path=path, line=int(lines[0]))
    ids = keys.add(table[:, :2], where=path, lines=lines[:, None])
    w = _weights(path, table[:, 2], lines) if state["weighted"] else None
    return ids[:, 0], ids[:, 1], w


def _fields_per_line(block: bytes, k: int) -> bool:
    """True when every line of `block` (ending in a newline) has exactly `k` whitespace-separated fields."""
    a = np.frombuffer(block, dtype=np.uint8)
    nl = a == 10
    gap = nl | (a == 32) | (a == 9) | (a == 13) | (a == 11) | (a == 12)
    start = ~gap
    start[1:] &= gap[:-1]
    line = np.cumsum(nl) - nl  # the line each byte belongs to
    per = np.bincount(line[start], minlength=int(nl.sum()))
    return bool((per == k).all())


def _weights(path: str, col: np.ndarray, lines: np.ndarray) -> np.ndarray:
    try:
        w = col.astype(np.float64)
    except ValueError:
        for j, tok in enumerate(col.tolist()):
            try:
                float(tok)
            except ValueError:
                raise ParseError(f"weight {tok.decode(errors='replace')!r} is not a number",
                                 path=path, line=int(lines[j])) from None
        raise
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        j = bad[0]
        raise ParseError(f"weight {col[j].decode(errors='replace')!r} is not a finite non-negative "
                         "number", path=path, line=int(lines[j]))
    return w


def _read_adjlist(path: str, first: int, block: bytes, keys: _KeyTable,
                  state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, None] | None:
    flat: list[bytes] = []
    counts: list[int] = []
    line_l: list[int] = []
    heads: list[int] = []
    for ln, t in _lines(first, block):
        heads.append(len(flat))
        flat.extend(t)
        counts.append(len(t))
        line_l.append(ln)
    if not flat:
        return None
    state["weighted"] = False
    tok = np.array(flat, dtype=bytes)
    cnt = np.asarray(counts, dtype=np.int64)
    line_of_tok = np.repeat(np.asarray(line_l, dtype=np.int64), cnt)
    ids = keys.add(tok, where=path, lines=line_of_tok)
    head = np.asarray(heads, dtype=np.int64)
    is_head = np.zeros(len(tok), dtype=bool)
    is_head[head] = True
    src = np.repeat(ids[head], cnt - 1)
    dst = ids[~is_head]
    return src, dst, None
