"""Optional local cache of decoded feature rows (off by default): `data.cache_dir=...`.

The first epoch streams a shard from PostgreSQL and also writes its rows to disk; later epochs
read them back memory-mapped from `<cache_dir>/<key>/shard<i>of<n>.npy`. The key hashes the query
(table, feature expressions, split, fractions) and the table's state (its file node and size:
`desivoid features` rewrites the table, which changes both), so a stale cache is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from desivoid_ml.db.introspect import qualified_name


def cache_key(conn, spec) -> str:
    """Hash of what the rows depend on: the query and the table's current storage."""
    filenode, size = conn.execute(
        "SELECT pg_relation_filenode(%s::regclass), pg_relation_size(%s::regclass)",
        (qualified_name(spec.schema, spec.table),) * 2,
    ).fetchone()
    described = {
        "schema": spec.schema,
        "table": spec.table,
        "features": spec.features,
        "split": spec.split,
        "sample": spec.sample,
        "fractions": asdict(spec.fractions),
        "keys": spec.with_keys,
        "filenode": filenode,
        "size": size,
    }
    return hashlib.sha1(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


class ShardCache:
    """One shard's rows as a .npy file, written once and then read memory-mapped."""

    def __init__(self, root: Path | str, key: str, shard: int, shards: int):
        self.path = Path(root) / key / f"shard{shard}of{shards}.npy"

    def exists(self) -> bool:
        return self.path.exists()

    def blocks(self, rows: int, order: np.random.Generator | None) -> Iterator[np.ndarray]:
        """Blocks of `rows` rows, in a shuffled order when `order` is given."""
        data = np.load(self.path, mmap_mode="r")
        starts = np.arange(0, len(data), max(rows, 1))
        if order is not None:
            starts = order.permutation(starts)
        for start in starts:
            yield np.array(data[start : start + rows])

    def write_through(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass blocks on unchanged; when all went through, publish them as the cache file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        raw = self.path.with_suffix(f".{os.getpid()}.part")
        dtype, count = None, 0
        with raw.open("wb") as handle:
            for block in blocks:
                dtype = block.dtype
                count += len(block)
                handle.write(block.tobytes())
                yield block
        if dtype is not None:
            self._publish(raw, dtype, count)
        raw.unlink(missing_ok=True)

    def _publish(self, raw: Path, dtype: np.dtype, count: int) -> None:
        """Turn the raw bytes into a .npy file, renamed into place only when complete."""
        staging = self.path.with_suffix(f".{os.getpid()}.npy")
        target = np.lib.format.open_memmap(staging, mode="w+", dtype=dtype, shape=(count,))
        target[:] = np.memmap(raw, dtype=dtype, mode="r", shape=(count,))
        target.flush()
        del target
        staging.replace(self.path)
