"""The streaming dataset: exactly once per epoch across ranks and workers, splits, shuffling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from featuretable import FEATURES, make_feature_table
from psycopg import sql
from tablerewrite import rewrite_table
from torch.utils.data import DataLoader
from trainconfig import train_config

from desivoid_ml.data.datamodule import FeatureDataModule
from desivoid_ml.data.query import Fractions, split_predicate
from desivoid_ml.data.stream import FeatureStream, StreamSpec
from desivoid_ml.errors import TableRewritten
from desivoid_ml.training import train


@pytest.fixture
def table_db(db):
    make_feature_table(db)
    return db


def _spec(db, split: str, **kw) -> StreamSpec:
    """The test table's stream; keywords override the defaults."""
    settings = {"batch_size": 500, "block_pages": 8, "shuffle_buffer": 2000, **kw}
    table = {"dsn": db.dsn, "schema": db.ns.features, "table": "galaxy", "features": FEATURES}
    return StreamSpec(split=split, **table, **settings)


def _keys(dataset, workers: int) -> list[int]:
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    return [k for batch in loader for k in batch["key_hash"].tolist()]


def _sql_keys(db, split: str) -> set[int]:
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT key_hash FROM {} WHERE {}").format(
                sql.Identifier(db.ns.features, "galaxy"), split_predicate(split, Fractions())
            )
        )
        return {r[0] for r in rows}


def test_two_ranks_two_workers_see_every_row_once(table_db) -> None:
    seen = []
    for rank in range(2):
        seen += _keys(FeatureStream(_spec(table_db, "train", shuffle=True), rank=rank, world=2), 2)
    assert len(seen) == len(set(seen))
    assert set(seen) == _sql_keys(table_db, "train")


def test_splits_are_disjoint_and_cover_the_table(table_db) -> None:
    splits = {s: _keys(FeatureStream(_spec(table_db, s)), 0) for s in ("train", "val", "test")}
    everything = _sql_keys(table_db, "all")
    assert sum(len(v) for v in splits.values()) == len(everything) == 20_000
    assert set().union(*map(set, splits.values())) == everything
    train, val, test = (set(v) for v in splits.values())
    assert not (train & val) and not (val & test) and not (train & test)
    assert 0.75 < len(train) / 20_000 < 0.85


@pytest.mark.parametrize("workers", [0, 2])
def test_loaders_know_their_length(table_db, workers) -> None:
    dm = FeatureDataModule(
        FEATURES,
        dsn=table_db.dsn,
        namespace=table_db.ns.prefix,
        batch_size=300,
        block_pages=8,
        shuffle_buffer=2000,
        num_workers=workers,
    )
    dm.setup("fit")
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        assert len(loader) == sum(1 for _ in loader) > 0


def test_shuffle_is_reproducible_and_differs_per_epoch(table_db) -> None:
    def order(epoch: int) -> list[int]:
        stream = FeatureStream(_spec(table_db, "train", shuffle=True, seed=7))
        stream.set_epoch(epoch)
        return _keys(stream, 0)

    first, again, second = order(0), order(0), order(1)
    assert first == again
    assert first != second and sorted(first) == sorted(second)


def test_nulls_arrive_as_nan_and_normalisation_uses_train_only(table_db) -> None:
    dm = FeatureDataModule(
        FEATURES, dsn=table_db.dsn, namespace=table_db.ns.prefix, batch_size=512, pca_components=2
    )
    dm.setup("fit")
    x = torch.cat([b["x"] for b in FeatureStream(dm.spec("train"))])
    assert torch.isnan(x[:, 2]).float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert not torch.isnan(x[:, [0, 1, 3]]).any()
    expected = np.nanmean(x.numpy(), axis=0)
    assert np.allclose(dm.normalization.mean, expected, atol=1e-4)
    z, mask = dm.normalization.apply(x)
    assert torch.equal(mask[:, 2] == 0, torch.isnan(x[:, 2])) and not torch.isnan(z).any()
    assert dm.pca_basis.shape == (4, 2)


def test_local_cache_serves_later_epochs_and_follows_the_table(table_db, tmp_path, monkeypatch):
    spec = _spec(table_db, "train", shuffle=True, cache_dir=str(tmp_path / "cache"))
    first = _keys(FeatureStream(spec), 0)
    assert len(list((tmp_path / "cache").glob("*/shard0of1.npy"))) == 1

    def no_database(*args, **kwargs):
        raise AssertionError("epoch 2 read the table instead of the cache")

    with monkeypatch.context() as patch:
        patch.setattr(FeatureStream, "_rows", no_database)
        stream = FeatureStream(spec)
        stream.set_epoch(1)
        second = _keys(stream, 0)
    assert sorted(second) == sorted(first) and second != first

    with table_db.connect(autocommit=True) as conn:  # a rewritten table gets a new key
        table = sql.Identifier(table_db.ns.features, "galaxy")
        conn.execute(sql.SQL("DELETE FROM {} WHERE targetid % 2 = 0").format(table))
        conn.execute(sql.SQL("VACUUM FULL {}").format(table))
    third = _keys(FeatureStream(spec), 0)
    assert len(third) < 0.6 * len(first)


def test_leaving_an_epoch_early_neither_reconnects_nor_leaves_a_reader(table_db, caplog) -> None:
    """A consumer that stops mid-epoch (max_steps, a sliced loader) closes the stream: the
    background reader must stop with it, not take the closed connection for a lost database."""
    import threading

    spec = _spec(table_db, "all", batch_size=100, block_pages=2, shuffle_buffer=500)
    stream = FeatureStream(spec, rank=0, world=1)
    batches = iter(stream)
    next(batches)
    with caplog.at_level("WARNING", logger="desivoid_ml"):
        batches.close()
    assert not [r for r in caplog.records if "reconnecting" in r.getMessage()]
    assert not [t for t in threading.enumerate() if t.name == "prefetch"]


def test_a_table_rewritten_mid_epoch_stops_the_stream(table_db) -> None:
    spec = _spec(table_db, "all", batch_size=100, block_pages=2, shuffle_buffer=100)
    stream = iter(FeatureStream(spec, rank=0, world=1))
    seen = next(stream)["key_hash"].tolist()
    rewrite_table(table_db.dsn, table_db.ns.features)  # same rows on other heap pages
    with pytest.raises(TableRewritten, match=r"galaxy was rewritten while it was being streamed"):
        for batch in stream:  # before the guard: rows repeated or skipped, silently
            seen += batch["key_hash"].tolist()
    assert len(seen) < 20_000


def test_training_on_a_rewritten_table_stops_with_the_resume_command(table_db, tmp_path) -> None:
    cfg = train_config(
        table_db,
        tmp_path,
        [
            "trainer.max_epochs=3",
            "data.block_pages=4",
            "data.shuffle_buffer=1024",
            "+callbacks.rewrite._target_=tablerewrite.RewriteTableAt",
            f"+callbacks.rewrite.dsn='{table_db.dsn}'",
            f"+callbacks.rewrite.schema={table_db.ns.features}",
            "+callbacks.rewrite.epoch=1",
            "+callbacks.rewrite.batch=1",
        ],
    )
    with pytest.raises(TableRewritten) as failure:
        train(cfg)
    message = str(failure.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert "\n" not in message and "was rewritten while it was being streamed" in message
    assert f"ckpt_path={last}" in message and last.exists()
