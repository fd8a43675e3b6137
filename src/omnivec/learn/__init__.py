"""Learners: turn sources (text, graphs, triples, hierarchies) into Embeddings."""
