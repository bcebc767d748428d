"""Streaming feature rows out of PostgreSQL into PyTorch, sharded, split and shuffled."""
