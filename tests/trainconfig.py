"""Compose the training config as `python train.py` would, pointed at a test's database."""

from __future__ import annotations

from pathlib import Path

from featuretable import FEATURES
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def train_config(
    db, tmp_path: Path, overrides: list[str] | None = None, features: dict[str, str] | None = None
) -> DictConfig:
    """CPU, a couple of short epochs, outputs under tmp_path, features of the test table."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "train",
            return_hydra_config=True,
            overrides=[
                f"db.dsn='{db.dsn}'",
                f"db.namespace={db.ns.prefix}",
                "trainer.max_epochs=2",
                "data.batch_size=512",
                "data.block_pages=16",
                "data.shuffle_buffer=4096",
                *(overrides or []),
            ],
        )
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.log_dir = str(tmp_path / "logs")
        cfg.data.features = OmegaConf.create(features or FEATURES)
        cfg.trainer.enable_progress_bar = False
        del cfg.hydra
    return cfg
