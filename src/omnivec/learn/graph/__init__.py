"""Graph learners: read a graph (`read_graph`, `Graph`) and embed its nodes.

`DeepWalk` and `Node2Vec` (registered in `omnivec.learn.LEARNERS` as
"deepwalk" and "node2vec") stream random walks into the skip-gram kernel;
`core_numbers` is the k-core decomposition their ``kcore`` switch uses;
`LINE` ("line") learns from sampled edges.
Importing this package loads no compiler.
"""

from __future__ import annotations

from .graph import Graph, read_graph

__all__ = ["Graph", "read_graph", "DeepWalk", "Node2Vec", "core_numbers", "random_walks", "LINE"]


def __getattr__(name: str):
    if name == "DeepWalk":
        from .learners import DeepWalk
        return DeepWalk
    if name == "Node2Vec":
        from .learners import Node2Vec
        return Node2Vec
    if name == "LINE":
        from .line import LINE
        return LINE
    if name in ("core_numbers", "random_walks"):
        from . import learners
        return getattr(learners, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
