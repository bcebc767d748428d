"""Compose the training config as `python train.py` would, pointed at a test's database."""

from __future__ import annotations

from pathlib import Path

from featuretable import FEATURES
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from desivoid_ml.settings import config_dir

CONFIGS = config_dir()


def compose_train(db, out: Path, overrides: list[str] | None = None) -> DictConfig:
    """train.yaml with these overrides, on the test's database, writing under `out`."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "train",
            return_hydra_config=True,
            overrides=[f"db.dsn='{db.dsn}'", f"db.namespace={db.ns.prefix}", *(overrides or [])],
        )
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.paths.log_dir = str(Path(out) / "logs")
        cfg.trainer.enable_progress_bar = False
        del cfg.hydra
    return cfg


def train_config(
    db, tmp_path: Path, overrides: list[str] | None = None, features: dict[str, str] | None = None
) -> DictConfig:
    """CPU, a couple of short epochs, outputs under tmp_path, features of the test table."""
    quick = ["trainer.max_epochs=2", "data.batch_size=512", "data.block_pages=16"]
    cfg = compose_train(db, tmp_path, [*quick, "data.shuffle_buffer=4096", *(overrides or [])])
    with open_dict(cfg):
        cfg.data.features = OmegaConf.create(features or FEATURES)
    return cfg
