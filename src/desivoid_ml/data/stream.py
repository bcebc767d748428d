"""An IterableDataset of feature batches streamed from PostgreSQL, exactly once per epoch.

Each DataLoader worker of each DDP rank is one shard (rank * workers + worker of
ranks * workers). It opens its own connection, reads the table block by block (heap page
ranges, in an order shuffled per epoch from the seed), keeps only its shard's rows, decodes each
block with numpy from binary COPY, and yields whole batches through a shuffle buffer. Every
block is read under a check that the table is still the one training started on
(data/table_identity.py): a rewrite mid-epoch stops it with TableRewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from numpy.lib.recfunctions import structured_to_unstructured
from psycopg import sql
from torch.utils.data import IterableDataset, get_worker_info

from desivoid_ml.data.cache import ShardCache, cache_key
from desivoid_ml.data.query import (
    Fractions,
    block_query,
    copy_columns,
    page_predicate,
    sample_predicate,
    shard_predicate,
    split_predicate,
)
from desivoid_ml.data.reconnect import ReconnectingConnection, RetryPolicy
from desivoid_ml.data.table_identity import TableIdentity, lock_unchanged, table_identity
from desivoid_ml.db.copy_out import copy_out
from desivoid_ml.db.introspect import qualified_name
from desivoid_ml.errors import TableRewritten
from desivoid_ml.prefetch import prefetch


@dataclass(frozen=True)
class StreamSpec:
    """What to stream: table, feature expressions, split, and how to batch and shuffle."""

    dsn: str
    schema: str
    table: str
    features: dict[str, str]
    split: str = "train"
    fractions: Fractions = Fractions()
    batch_size: int = 1024
    shuffle: bool = False
    seed: int = 0
    block_pages: int = 1024
    shuffle_buffer: int = 65_536
    with_keys: bool = False
    pad_to_batches: int | None = None  # DDP: every shard yields this many batches (see below)
    cache_dir: str | None = None  # keep decoded rows on disk for later epochs (data/cache.py)
    batches: int | None = None  # batches this rank yields per epoch, when known (progress bars)
    reconnect: RetryPolicy = RetryPolicy()  # when the database drops out mid-epoch
    identity: TableIdentity | None = None  # the table training started on (None: at iter)
    sample: str = "true"  # SQL condition of the training sample (not applied to split "all")


def table_pages(conn, schema: str, table: str) -> int:
    """Heap pages of the table now."""
    return int(
        conn.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
            (qualified_name(schema, table),),
        ).fetchone()[0]
    )


def shard_of_this_worker(rank: int | None = None, world: int | None = None) -> tuple[int, int]:
    """(shard, shards) of the calling DataLoader worker on this DDP rank."""
    if rank is None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    if world is None:
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info else (0, 1)
    return rank * workers + worker, world * workers


class FeatureStream(IterableDataset):
    """Batches of {"x": (B, F) float32 with NaN for missing, "key_hash": (B,) int64, ...}."""

    def __init__(self, spec: StreamSpec, rank: int | None = None, world: int | None = None):
        self.spec = spec
        self.epoch = 0
        self.rank = rank
        self.world = world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches this rank yields per epoch (all its workers together), when the DataModule
        counted them; otherwise the length is unknown (TypeError, as for any iterable)."""
        if self.spec.batches is None:
            raise TypeError("batches per epoch not counted")
        return self.spec.batches

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        shard, shards = shard_of_this_worker(self.rank, self.world)
        rng = np.random.default_rng([self.spec.seed, self.epoch, shard])
        emitted = 0
        what = f"the {self.spec.split} split of {self.spec.schema}.{self.spec.table}"
        with ReconnectingConnection(self.spec.dsn, self.spec.reconnect, what) as conn:
            expected = self.spec.identity or conn.run(self._identity_now)
            rows = prefetch(self._source(conn, expected, shard, shards))  # decode meanwhile
            try:
                for batch in self._batches(rows, rng):
                    emitted += 1
                    yield batch
            finally:  # left early too: stop the reader, then let it go before the connection
                conn.release()
                rows.close()
        # DDP synchronises gradients at every step, so every rank must take the same number of
        # steps: shards with fewer rows finish with empty batches (no rows, zero gradient).
        for _ in range(emitted, self.spec.pad_to_batches or 0):
            yield self._empty_batch()

    def _empty_batch(self) -> dict[str, torch.Tensor]:
        return {
            "x": torch.zeros(0, len(self.spec.features)),
            "key_hash": torch.zeros(0, dtype=torch.int64),
        }

    def _identity_now(self, conn) -> TableIdentity:
        identity = table_identity(conn, self.spec.schema, self.spec.table)
        if identity is None:
            raise TableRewritten(f"{self.spec.schema}.{self.spec.table} does not exist")
        return identity

    def _guarded(self, conn: ReconnectingConnection, expected: TableIdentity, work: Callable):
        """work(c) in one transaction that holds the table, checked unchanged since `expected`."""

        def unit(c):
            with c.transaction():
                lock_unchanged(c, self.spec.schema, self.spec.table, expected)
                return work(c)

        return conn.run(unit)

    def _blocks(
        self, conn: ReconnectingConnection, expected: TableIdentity
    ) -> list[tuple[int, int | None]]:
        pages = self._guarded(
            conn, expected, lambda c: table_pages(c, self.spec.schema, self.spec.table)
        )
        starts = list(range(0, max(pages, 1), self.spec.block_pages))
        blocks = [(s, s + self.spec.block_pages) for s in starts[:-1]] + [(starts[-1], None)]
        if self.spec.shuffle:  # every shard permutes with the same epoch seed: same block order
            order = np.random.default_rng([self.spec.seed, self.epoch]).permutation(len(blocks))
            blocks = [blocks[i] for i in order]
        return blocks

    def _source(
        self, conn: ReconnectingConnection, expected: TableIdentity, shard: int, shards: int
    ) -> Iterator[np.ndarray]:
        """Rows from the local cache when it holds this shard, else from the database."""
        if not self.spec.cache_dir:
            return self._rows(conn, expected, shard, shards)
        key = self._guarded(conn, expected, lambda c: cache_key(c, self.spec))
        cache = ShardCache(self.spec.cache_dir, key, shard, shards)
        if cache.exists():
            shuffle = self.spec.shuffle
            order = np.random.default_rng([self.spec.seed, self.epoch]) if shuffle else None
            return cache.blocks(self.spec.shuffle_buffer, order)
        return cache.write_through(self._rows(conn, expected, shard, shards))

    def _rows(
        self, conn: ReconnectingConnection, expected: TableIdentity, shard: int, shards: int
    ) -> Iterator[np.ndarray]:
        """Each block of pages is read whole before any of it is handed on: when the database
        drops out, the block is read again on a new connection and no row is seen twice. Each
        read holds the table and checks it is the one the epoch started on."""
        spec = self.spec
        columns = copy_columns(list(spec.features), spec.with_keys)
        table = sql.Identifier(spec.schema, spec.table)
        for first, last in self._blocks(conn, expected):
            where = [
                page_predicate(first, last),
                split_predicate(spec.split, spec.fractions),
                sample_predicate(spec.split, spec.sample),
                shard_predicate(shard, shards),
            ]
            query = block_query(table, spec.features, where, spec.with_keys)
            yield from self._guarded(
                conn,
                expected,
                lambda c, q=query: list(copy_out(c, q, columns, spec.shuffle_buffer)),
            )

    def _batches(self, blocks: Iterator[np.ndarray], rng) -> Iterator[dict[str, torch.Tensor]]:
        """Whole batches through a shuffle buffer: rows are gathered straight into each batch by
        a permutation, never copied into a shuffled buffer first."""
        spec = self.spec
        pending: list[np.ndarray] = []
        held = 0
        for block in blocks:
            pending.append(block)
            held += len(block)
            if held < spec.shuffle_buffer + spec.batch_size:
                continue
            rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
            order = self._order(len(rows), rng)
            keep = spec.shuffle_buffer // 2 if spec.shuffle else 0
            cut = (len(rows) - keep) // spec.batch_size * spec.batch_size
            yield from self._emit(rows, order[:cut])
            pending, held = [rows[order[cut:]]], len(rows) - cut
        if held:
            rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield from self._emit(rows, self._order(len(rows), rng))

    def _order(self, n: int, rng) -> np.ndarray:
        return rng.permutation(n) if self.spec.shuffle else np.arange(n)

    def _emit(self, rows: np.ndarray, order: np.ndarray) -> Iterator[dict[str, torch.Tensor]]:
        """Batches of `rows` in `order`. Rows are first made one contiguous float matrix: a
        gather of whole contiguous rows is several times faster than one from the strided
        decoded records."""
        names = [f"f{i}" for i in range(len(self.spec.features))]
        matrix = np.ascontiguousarray(structured_to_unstructured(rows[names], dtype=np.float32))
        keys = np.ascontiguousarray(rows["key_hash"])
        for start in range(0, len(order), self.spec.batch_size):
            index = order[start : start + self.spec.batch_size]
            batch = {
                "x": torch.from_numpy(matrix.take(index, axis=0)),
                "key_hash": torch.from_numpy(keys.take(index)),
            }
            if self.spec.with_keys:
                batch["targetid"] = torch.from_numpy(rows["targetid"][index])
                batch["survey"] = np.strings.rstrip(rows["survey"][index])
                batch["program"] = np.strings.rstrip(rows["program"][index])
            yield batch
