"""The analysis configuration (configs/analysis/default.yaml), composed with Hydra."""

from __future__ import annotations

from omegaconf import DictConfig

from desivoid_ml.errors import DesivoidError
from desivoid_ml.settings import compose_config


def load_config(overrides: list[str] | None = None) -> DictConfig:
    """configs/analysis/default.yaml with command-line style overrides."""
    cfg = compose_config("analysis", overrides)
    _check(cfg)
    return cfg


def _check(cfg: DictConfig) -> None:
    """Settings that must be usable, with a message naming the setting."""
    if not cfg.algorithms:
        raise DesivoidError("analysis config `algorithms` is empty: name at least one")
    for name in cfg.algorithms:
        if name not in PREFIXES:
            raise DesivoidError(
                f"unknown algorithm {name!r} in analysis config; choose from {', '.join(PREFIXES)}"
            )
    if not cfg.properties:
        raise DesivoidError("analysis config `properties` is empty: name at least one column")
    for key, low in (
        ("control.bins", 1),
        ("bootstrap.resamples", 10),
        ("bootstrap.property_bins", 16),
    ):
        section, name = key.split(".")
        value = cfg[section][name]
        if not isinstance(value, int) or value < low:
            raise DesivoidError(f"analysis config {key}={value!r} must be an integer >= {low}")


PREFIXES = {"VoidFinder": "vf", "VIDE": "vide", "ZOBOV": "zobov", "REVOLVER": "revolver"}
ALGORITHM_NAMES = {prefix: name for name, prefix in PREFIXES.items()}  # "vf" -> "VoidFinder"


def algorithm_prefixes(cfg: DictConfig) -> dict[str, str]:
    """Column prefix -> algorithm name, in the configured order."""
    return {PREFIXES[name]: name for name in cfg.algorithms}


def controls_for(cfg: DictConfig, prop: str) -> list[str]:
    """The control variables of one property's matched shift."""
    own = cfg.control.get("match_for", {}) or {}
    names = list(own[prop]) if prop in own else list(cfg.control.match)
    if prop in names:
        raise DesivoidError(
            f"property {prop!r} is among its own control variables {names}; "
            f"set control.match_for.{prop}"
        )
    return names
