"""Embeddings: run registry, encoder inference into pgvector, similarity queries."""
