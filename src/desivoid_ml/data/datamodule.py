"""LightningDataModule over features.galaxy, streamed from PostgreSQL."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from lightning import LightningDataModule
from psycopg import sql
from torch.utils.data import DataLoader

from desivoid_ml.data.normalization import Normalization, compute
from desivoid_ml.data.query import SPLITS, Fractions, sample_predicate
from desivoid_ml.data.reconnect import RetryPolicy
from desivoid_ml.data.stream import FeatureStream, StreamSpec
from desivoid_ml.data.table_identity import TableIdentity, hold
from desivoid_ml.db.connection import Database, Namespace, connect, resolve_dsn
from desivoid_ml.features.galaxy_samples import DEFAULT_SAMPLE, sample_condition
from desivoid_ml.keys import shard_sql, split_bucket_sql

# Each DataLoader worker streams a shard of its own and `__len__` counts all of them: exact.
warnings.filterwarnings("ignore", message="Your `IterableDataset` has `__len__` defined")


class FeatureDataModule(LightningDataModule):
    """Train/val/test/predict loaders of feature batches; the train/val/test splits, the
    normalisation and the PCA basis come from the training sample (`sample`, a name in
    configs/features.yaml `samples`), prediction covers every galaxy."""

    def __init__(
        self,
        features: dict[str, str],
        dsn: str | None = None,
        namespace: str = "",
        table: str = "galaxy",
        fractions: dict | None = None,
        batch_size: int = 1024,
        num_workers: int = 0,
        seed: int = 0,
        block_pages: int = 1024,
        shuffle_buffer: int = 65_536,
        pca_components: int | None = None,
        cache_dir: str | None = None,
        reconnect_attempts: int = 5,
        reconnect_window_s: float = 120.0,
        sample: str = DEFAULT_SAMPLE,
    ):
        super().__init__()
        if not features:
            raise ValueError("data.features is empty: list the feature columns to train on")
        self.features = dict(features)
        self.db = Database(dsn or resolve_dsn(), Namespace(namespace))
        self.table = table
        self.fractions = Fractions(**(fractions or {}))
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.block_pages = block_pages
        self.shuffle_buffer = shuffle_buffer
        self.pca_k = pca_components
        self.cache_dir = cache_dir
        self.reconnect = RetryPolicy(reconnect_attempts, reconnect_window_s)
        self.sample = sample  # a name in configs/features.yaml `samples`
        self.sample_condition: str | None = None  # its SQL, resolved in setup
        self.normalization: Normalization | None = None
        self.pca_basis: np.ndarray | None = None
        self._train: FeatureStream | None = None
        self._pad_to: int | None = None
        self._batches: dict[str, int] = {}  # per split: batches this rank yields in an epoch
        self._counted_for: tuple[int, int] | None = None
        self._identity: TableIdentity | None = None  # the table counted: streams check it

    @property
    def n_features(self) -> int:
        return len(self.features)

    def setup(self, stage: str | None = None) -> None:
        """Normalisation statistics (SQL, train split) and, if asked, the PCA baseline basis."""
        if self.normalization is None:
            with connect(self.db.dsn) as conn:
                self.normalization = compute(
                    conn,
                    self.db.ns.features,
                    self.table,
                    self.features,
                    self.fractions,
                    self.sample_sql(),
                    self.sample,
                )
        if self.pca_k and self.pca_basis is None:
            self.pca_basis = self._fit_pca(min(self.pca_k, self.n_features))
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        if self._counted_for != (rank, world):
            self._count_batches(rank, world)
            self._counted_for = (rank, world)

    def sample_sql(self) -> str:
        """The training sample's SQL condition (resolved from its name once)."""
        if self.sample_condition is None:
            self.sample_condition = sample_condition(self.sample)
        return self.sample_condition

    def set_epoch(self, epoch: int) -> None:
        """Called at each training epoch start: the shuffle differs per epoch, from the seed."""
        if self._train is not None:
            self._train.set_epoch(epoch)

    def spec(self, split: str, shuffle: bool = False, with_keys: bool = False) -> StreamSpec:
        return StreamSpec(
            dsn=self.db.dsn,
            schema=self.db.ns.features,
            table=self.table,
            features=self.features,
            split=split,
            fractions=self.fractions,
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            block_pages=self.block_pages,
            shuffle_buffer=self.shuffle_buffer,
            with_keys=with_keys,
            pad_to_batches=self._pad_to if split == "train" else None,
            cache_dir=self.cache_dir if split != "all" else None,
            batches=self._batches.get(split),
            reconnect=self.reconnect,
            identity=self._identity,
            sample=self.sample_sql(),
        )

    def _loader(self, dataset: FeatureStream) -> DataLoader:
        # batch_size=None: the dataset yields whole batches; workers restart every epoch so
        # they pick up the epoch number set just before.
        return DataLoader(
            dataset, batch_size=None, num_workers=self.num_workers, persistent_workers=False
        )

    def train_dataloader(self) -> DataLoader:
        self._train = FeatureStream(self.spec("train", shuffle=True))
        return self._loader(self._train)

    def val_dataloader(self) -> DataLoader:
        return self._loader(FeatureStream(self.spec("val")))

    def test_dataloader(self) -> DataLoader:
        return self._loader(FeatureStream(self.spec("test")))

    def predict_dataloader(self) -> DataLoader:
        return self._loader(FeatureStream(self.spec("all", with_keys=True)))

    def _count_batches(self, rank: int, world: int) -> None:
        """Batches per epoch of this rank in each split (progress bars get a total and an ETA);
        under DDP, the train padding: the fullest shard's batches, so every rank takes as many
        steps."""
        workers = max(self.num_workers, 1)
        rows = self._rows_per_split_and_shard(world * workers)
        mine = range(rank * workers, (rank + 1) * workers)
        for split in (*SPLITS, "all"):
            per_shard = rows[split]
            self._batches[split] = sum(self._ceil_batches(per_shard[s]) for s in mine)
        if world > 1:
            self._pad_to = max(self._ceil_batches(n) for n in rows["train"])
            self._batches["train"] = self._pad_to * workers

    def _ceil_batches(self, rows: int) -> int:
        return -(-rows // self.batch_size)

    def _rows_per_split_and_shard(self, shards: int) -> dict[str, list[int]]:
        """Row counts per split and shard, from one scan of the table, whose identity is
        recorded with them."""
        rows = {split: [0] * shards for split in (*SPLITS, "all")}
        with connect(self.db.dsn) as conn:
            self._identity = hold(conn, self.db.ns.features, self.table)
            counts = conn.execute(
                sql.SQL(
                    "SELECT {} AS bucket, {} AS shard, count(*) FILTER (WHERE {}), count(*) "
                    "FROM {} GROUP BY 1, 2"
                ).format(
                    split_bucket_sql(),
                    shard_sql(shards),
                    sample_predicate("train", self.sample_sql()),
                    sql.Identifier(self.db.ns.features, self.table),
                )
            ).fetchall()
        for bucket, shard, in_sample, n in counts:
            rows[self.fractions.split_of_bucket(bucket)][shard] += in_sample
            rows["all"][shard] += n  # every galaxy is embedded
        return rows

    def _fit_pca(self, k: int) -> np.ndarray:
        """Top-k principal axes of the standardised train rows (missing entries at 0)."""
        assert self.normalization is not None
        gram = torch.zeros(self.n_features, self.n_features, dtype=torch.float64)
        for batch in FeatureStream(self.spec("train"), rank=0, world=1):
            z, _ = self.normalization.apply(batch["x"])
            gram += z.double().T @ z.double()
        _, vectors = torch.linalg.eigh(gram)
        return vectors[:, -k:].flip(1).float().numpy()
