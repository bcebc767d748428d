"""Embeddings: encoder inference into pgvector (the writer, its HNSW build and sizing), similarity
queries. The run registry is `desivoid_ml/runs.py`."""
