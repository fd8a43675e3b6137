"""Evaluation of embeddings on standard benchmarks."""
