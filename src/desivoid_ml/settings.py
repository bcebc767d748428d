"""Where local state lives: `data/` in the working directory, or DESIVOID_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of local outputs (embedded database, raw catalogs, caches)."""
    return Path(os.environ.get("DESIVOID_DATA_DIR", "data")).resolve()


def config_dir() -> Path:
    """The repository's `configs/` folder (override with DESIVOID_CONFIG_DIR)."""
    env = os.environ.get("DESIVOID_CONFIG_DIR")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2] / "configs"
