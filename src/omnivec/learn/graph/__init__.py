"""Graph learners: read a graph (`read_graph`, `Graph`) and embed its nodes."""

from __future__ import annotations

from .graph import Graph, read_graph

__all__ = ["Graph", "read_graph"]
