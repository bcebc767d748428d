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


def compose_config(group: str, overrides: list[str] | None = None):
    """`configs/<group>/default.yaml` composed with Hydra, with command-line style overrides
    (`density.k=10`); a missing file or a bad override is one clear line."""
    from hydra import compose, initialize_config_dir

    from desivoid_ml.errors import DesivoidError

    folder = config_dir() / group
    if not (folder / "default.yaml").exists():
        raise DesivoidError(f"{folder / 'default.yaml'} not found; set DESIVOID_CONFIG_DIR")
    try:
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            return compose(config_name="default", overrides=overrides or [])
    except Exception as exc:  # hydra raises several exception types for bad overrides
        raise DesivoidError(f"bad {group} config override: {str(exc).splitlines()[0]}") from exc
