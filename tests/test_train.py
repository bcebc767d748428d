"""Training from the database: checkpoints, PCA baseline, registry, loggers, experiments."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from featuretable import FEATURES, make_feature_table
from psycopg import sql
from trainconfig import CONFIGS, train_config

from desivoid_ml.errors import DesivoidError
from desivoid_ml.runs import get_run
from desivoid_ml.training import train


@pytest.fixture
def table_db(db):
    make_feature_table(db)
    return db


def test_train_saves_a_complete_checkpoint_and_registers_the_run(table_db, tmp_path) -> None:
    metric = train(train_config(table_db, tmp_path))
    assert math.isfinite(metric)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["normalization"]["features"] == ["a", "b", "c", "flag"]
    info = checkpoint["run_info"]
    assert info["config"]["model"]["code_dim"] == 16 and info["git_commit"]
    run = get_run(table_db, "latest")
    assert run.code_dim == 16 and Path(run.checkpoint_path).exists()
    assert "val/pca_recon_mse" in run.metrics and "val/recon_mse_best" in run.metrics
    metrics_csv = next(tmp_path.glob("csv/version_*/metrics.csv")).read_text()
    assert "train/loss" in metrics_csv and "val/pca_recon_mse" in metrics_csv


def test_unknown_metric_fails_loudly(table_db, tmp_path) -> None:
    cfg = train_config(
        table_db,
        tmp_path,
        ["optimized_metric=val/nope", "trainer.max_epochs=1", "register_run=false"],
    )
    with pytest.raises(DesivoidError, match="val/nope.*never logged"):
        train(cfg)


def test_wandb_logger_works_offline(table_db, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(
        train_config(
            table_db, tmp_path, ["logger=wandb", "trainer.max_epochs=1", "register_run=false"]
        )
    )
    assert list(tmp_path.glob("wandb/offline-run-*/files"))


@pytest.mark.parametrize(
    "experiment", sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
)
def test_every_experiment_composes_and_trains(table_db, tmp_path, experiment) -> None:
    cfg = train_config(
        table_db,
        tmp_path,
        [
            f"experiment={experiment}",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "register_run=false",
            "test=false",
        ],
    )
    assert math.isfinite(train(cfg))


def test_registry_keeps_the_feature_order(table_db, tmp_path) -> None:
    order = {"flag": "flag::int", "c": "c", "a": "a", "b": "b"}  # jsonb would sort these keys
    train(train_config(table_db, tmp_path, ["trainer.max_epochs=1", "test=false"], features=order))
    run = get_run(table_db, "latest")
    assert list(run.features) == ["flag", "c", "a", "b"]
    assert run.normalization["features"] == ["flag", "c", "a", "b"]


def test_test_metrics_come_from_the_best_checkpoint_and_are_kept(table_db, tmp_path) -> None:
    cfg = train_config(
        table_db, tmp_path, ["optimized_metric=test/recon_mse", "+trainer.limit_train_batches=8"]
    )
    returned = train(cfg)
    run = get_run(table_db, "latest")
    assert run.metrics["test/recon_mse"] == pytest.approx(returned)
    best = torch.load(run.checkpoint_path, weights_only=False)
    assert Path(run.checkpoint_path).name != "last.ckpt"
    assert returned == pytest.approx(_test_mse(table_db, run.checkpoint_path), rel=1e-4)
    assert best["best_val"] == pytest.approx(run.metrics["val/recon_mse_best"])


def _test_mse(db, checkpoint: str) -> float:
    """Masked reconstruction MSE of a checkpoint over the test split, weighted by batch size."""
    from desivoid_ml.data.datamodule import FeatureDataModule
    from desivoid_ml.models.autoencoder import AutoencoderModule

    model = AutoencoderModule.load_from_checkpoint(checkpoint, weights_only=False).eval()
    dm = FeatureDataModule(FEATURES, dsn=db.dsn, namespace=db.ns.prefix, batch_size=512)
    total = rows = 0.0
    with torch.no_grad():
        for batch in dm.test_dataloader():
            n = len(batch["x"])
            total += float(model._losses(batch["x"])["recon_mse"]) * n
            rows += n
    return total / rows


def test_best_validation_value_survives_a_resume(table_db, tmp_path) -> None:
    quick = ["+trainer.limit_train_batches=8", "test=false"]
    train(train_config(table_db, tmp_path / "first", [*quick, "register_run=false"]))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    first_best = torch.load(last, weights_only=False)["best_val"]
    with table_db.connect() as conn:  # the resumed epoch does worse than any before
        conn.execute(
            sql.SQL("UPDATE {} SET a = a + 50").format(
                sql.Identifier(table_db.ns.features, "galaxy")
            )
        )
    overrides = [*quick, "trainer.max_epochs=3", f"ckpt_path={last}"]
    train(train_config(table_db, tmp_path / "second", overrides))
    resumed = torch.load(tmp_path / "second" / "checkpoints" / "last.ckpt", weights_only=False)
    assert resumed["epoch"] == 2 and resumed["global_step"] == 3 * 8
    run = get_run(table_db, "latest")
    assert run.metrics["val/recon_mse"] > first_best
    assert run.metrics["val/recon_mse_best"] == pytest.approx(first_best)
