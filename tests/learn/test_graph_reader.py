"""Reading graphs: edge lists and adjacency lists into CSR, the counts, and the refusals."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from omnivec.errors import EncodingError, InputError, OmnivecError, ParseError
from omnivec.learn.graph import Graph, read_graph
from omnivec.learn.graph import graph as graph_mod

DATA = Path(__file__).resolve().parents[1] / "data" / "graphs"
KARATE = DATA / "karate" / "karate.adjlist"


def edges_of(g: Graph) -> set[tuple[str, str]]:
    return {(g.nodes[a], g.nodes[b]) for a in range(len(g)) for b in g.neighbors(a)}


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_karate_reads_as_34_nodes_and_78_undirected_edges():
    g = read_graph(KARATE)
    assert len(g) == 34 and g.num_edges == 78 and not g.directed and g.weights is None
    assert g.report == {"nodes": 34, "edges": 78, "self_loops": 0, "duplicate_edges": 0,
                        "isolated": 0, "sinks": 0}
    assert g.nodes.tolist() == [str(i) for i in range(1, 35)]    # integer ids in numeric order
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert g.degree().sum() == 156 and g.degree()[g.id_of(34)] == 17
    for v in range(len(g)):   # rows sorted, symmetric
        row = g.neighbors(v)
        assert np.all(np.diff(row) > 0)
        for u in row:
            assert v in g.neighbors(u)


def test_weighted_text_ids_duplicates_reverse_pairs_and_self_loops():
    g = read_graph(DATA / "mixed.tsv")
    assert g.nodes.tolist() == ["alice", "bob", "carol", "dave"]   # order of first appearance
    assert g.weighted
    assert g.report["duplicate_edges"] == 1 and g.report["self_loops"] == 1 and g.report["edges"] == 5
    a, b, c, d = (g.id_of(k) for k in ("alice", "bob", "carol", "dave"))
    w = dict(zip(g.neighbors(a).tolist(), g.edge_weights(a).tolist()))
    assert w == {b: 2.0, c: 1.0}           # the duplicate's weights summed
    assert g.neighbors(d).tolist() == [c, d]   # a self-loop is stored once
    gmax = read_graph(DATA / "mixed.tsv", duplicates="max")
    assert dict(zip(gmax.neighbors(a).tolist(), gmax.edge_weights(a).tolist()))[b] == 1.5
    assert read_graph(DATA / "mixed.tsv", weighted=False).weights is None


def test_directed_graph_counts_sinks_and_keeps_directions(tmp_path):
    p = write(tmp_path, "d.tsv", "1 2\n2 3\n3 1\n3 4\n5 4\n")
    g = read_graph(p, directed=True)
    assert edges_of(g) == {("1", "2"), ("2", "3"), ("3", "1"), ("3", "4"), ("5", "4")}
    assert g.report["sinks"] == 1 and g.report["edges"] == 5
    u = read_graph(p)
    assert ("4", "3") in edges_of(u) and u.report["sinks"] == 0


def test_gzip_and_adjacency_lists_with_isolated_nodes(tmp_path):
    p = tmp_path / "g.adjlist.gz"
    with gzip.open(p, "wt") as f:
        f.write("# comment\n1 2 3 4\n2 3\n\n7\n")
    g = read_graph(p)
    assert len(g) == 5 and g.num_edges == 4 and g.report["isolated"] == 1
    assert g.degree()[g.id_of(7)] == 0
    # a two-column file without the suffix reads as an edge list; format= forces either
    q = write(tmp_path, "g.txt", "a b c\nb c\n")
    assert read_graph(q).num_edges == 3   # ragged counts: sniffed as an adjacency list
    assert read_graph(q, format="adjlist").num_edges == 3


def test_blocks_and_the_fast_path_agree_with_line_by_line_parsing(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 300, size=(5000, 2))
    text = "".join(f"{a}\t{b}\t{w:.3f}\n" for (a, b), w in zip(edges, rng.random(5000)))
    p = write(tmp_path, "big.tsv", "# header\n" + text)
    whole = read_graph(p)
    monkeypatch.setattr(graph_mod, "_BLOCK_BYTES", 997)   # many blocks, lines cut across reads
    pieces = read_graph(p)
    assert whole.nodes.tolist() == pieces.nodes.tolist()
    np.testing.assert_array_equal(whole.indptr, pieces.indptr)
    np.testing.assert_array_equal(whole.indices, pieces.indices)
    np.testing.assert_array_equal(whole.weights, pieces.weights)
    oracle = Graph.from_edges(edges[:, 0], edges[:, 1])
    assert edges_of(oracle) == edges_of(whole)


def test_from_edges_with_node_ids_keeps_isolated_nodes():
    g = Graph.from_edges([0, 1, 1], [1, 2, 2], [1.0, 2.0, 3.0], nodes=["x", "y", "z", "w"], directed=True)
    assert len(g) == 4 and g.report["isolated"] == 1 and g.report["duplicate_edges"] == 1
    assert g.edge_weights(1).tolist() == [5.0]
    with pytest.raises(InputError, match="outside"):
        Graph.from_edges([0], [4], nodes=["a", "b"])
    with pytest.raises(InputError, match="non-negative"):
        Graph.from_edges(["a"], ["b"], [-1.0])


@pytest.mark.parametrize("text,line,match", [
    ("1 2\n2 3 x\n", 2, "ragged"),
    ("1 2 1.0\n2 3\n", 2, "ragged"),
    ("1 2 0.5\n2 3 heavy\n", 2, "not a number"),
    ("1 2 0.5\n2 3 -1\n", 2, "non-negative"),
    ("1 2 0.5\n# c\n2 3 nan\n", 3, "non-negative"),
    ("1 2\n3 99999999999999999999\n", 2, "beyond int64"),
    ("1\n", 1, "2 or 3 fields"),
    ("1 2\n\n3 4 5 6\n", 3, "ragged"),     # as many fields as two lines of two, spread unevenly
])
def test_bad_lines_are_refused_naming_the_file_and_line(tmp_path, text, line, match):
    p = write(tmp_path, "bad.tsv", text)
    with pytest.raises(ParseError, match=match) as err:
        read_graph(p, format="edgelist")
    assert err.value.line == line and err.value.path == str(p)
    assert f"{p}, line {line}" in str(err.value)


def test_empty_graphs_and_bad_arguments_are_refused(tmp_path):
    for text in ("", "# only a comment\n\n", "1\n2\n"):
        with pytest.raises(ParseError, match="no edges"):
            read_graph(write(tmp_path, "e.adjlist", text))
    with pytest.raises(InputError, match="no such graph file"):
        read_graph(tmp_path / "missing.tsv")
    with pytest.raises(InputError, match="format"):
        read_graph(KARATE, format="csv")
    with pytest.raises(InputError, match="no weights"):
        read_graph(KARATE, weighted=True)
    with pytest.raises(ParseError, match="no weight column"):
        read_graph(write(tmp_path, "u.tsv", "1 2\n"), weighted=True)


def test_text_that_is_not_utf8_is_refused(tmp_path):
    p = tmp_path / "latin1.tsv"
    p.write_bytes(b"a b\nb \xe9t\xe9\n")
    with pytest.raises(EncodingError) as err:
        read_graph(p)
    assert err.value.line == 2 and isinstance(err.value, OmnivecError)
