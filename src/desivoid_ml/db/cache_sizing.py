"""shared_buffers and effective_cache_size of the embedded server, sized to its similarity
indexes on the machine it runs on.

A k-NN query walks its index at random: it is fast while the index sits in shared_buffers
(HNSW queries on 2 M vectors ran 3x faster at 4 GB than at 128 MB, README "Benchmarks").
So the buffers hold the indexes plus a base for everything else, within a quarter of the RAM
(PostgreSQL's own advice); effective_cache_size tells the planner what the OS caches besides.
"""

from __future__ import annotations

import math

GB = 2**30
BASE = 1 * GB  # the buffers before any index (the previous fixed setting)
INDEX_MARGIN = 1.25  # the index grows with later runs; its pages are not all full
RAM_SHARE = 0.25
CACHE_SHARE = 0.75

INDEX_BYTES_SQL = (
    "SELECT COALESCE(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
    "WHERE am.amname IN ('hnsw', 'ivfflat')"
)


def cache_settings(index_bytes: int, ram_bytes: int) -> dict[str, str]:
    """The two settings in whole GB: buffers for the indexes plus a base, within a quarter of
    the RAM (never below the base); the planner's cache three quarters of the RAM."""
    cap_gb = max(1, math.floor(ram_bytes * RAM_SHARE / GB))
    buffers_gb = min(math.ceil((BASE + index_bytes * INDEX_MARGIN) / GB), cap_gb)
    cache_gb = max(buffers_gb, math.floor(ram_bytes * CACHE_SHARE / GB))
    return {"shared_buffers": f"{buffers_gb}GB", "effective_cache_size": f"{cache_gb}GB"}


def describe(settings: dict[str, str], index_bytes: int, ram_bytes: int) -> str:
    """One line announcing the choice."""
    return (
        f"embedded PostgreSQL: shared_buffers {settings['shared_buffers']}, effective_cache_size "
        f"{settings['effective_cache_size']} (similarity indexes {index_bytes / GB:.1f} GB, "
        f"RAM {ram_bytes / GB:.0f} GB)"
    )
