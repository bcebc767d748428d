"""Where local state lives: `data/` in the working directory, or DESIVOID_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of local outputs (embedded database, raw catalogs, caches)."""
    return Path(os.environ.get("DESIVOID_DATA_DIR", "data")).resolve()


def config_dir() -> Path:
    """The Hydra configs shipped with the package (override with DESIVOID_CONFIG_DIR). In a
    checkout `desivoid_ml/configs` links to the repository's `configs/`; a wheel holds a copy."""
    env = os.environ.get("DESIVOID_CONFIG_DIR")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent / "configs"
