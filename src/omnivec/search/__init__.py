"""Nearest-neighbour search over Embeddings."""
