"""The feature configuration (configs/features/default.yaml), composed with Hydra."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.voidfinder import BOUNDARY_POLICIES
from desivoid_ml.settings import compose_config


def load_config(overrides: list[str] | None = None) -> DictConfig:
    """configs/features/default.yaml with command-line style overrides (`density.k=10`)."""
    cfg = compose_config("features", overrides)
    _check(cfg)
    return cfg


def _check(cfg: DictConfig) -> None:
    """Numbers that must be numbers, with a message naming the setting."""
    rules = [
        ("density.k", int, lambda v: v >= 1),
        ("chunk_rows", int, lambda v: v >= 1),
        ("density.omegam", float, lambda v: 0 < v <= 1),
        ("voidfinder.boundary_tolerance_mpch", float, lambda v: v >= 0),
        ("voidfinder.boundary_tolerance_relative", float, lambda v: 0 <= v < 0.01),
        ("voidfinder.boundary_policy", str, lambda v: v in BOUNDARY_POLICIES),
        ("v2.position_tolerance_mpch", float, lambda v: v > 0),
    ]
    for key, kind, ok in rules:
        value = OmegaConf.select(cfg, key)
        try:
            good = ok(kind(value))
        except (TypeError, ValueError):
            good = False
        if not good:
            raise DesivoidError(
                f"feature config {key}={value!r} is not a valid {kind.__name__}"
                + (f" (one of {', '.join(BOUNDARY_POLICIES)})" if kind is str else "")
            )
    fallback = OmegaConf.select(cfg, "void_catalogs.omegam")
    if fallback is not None and not _number_in(fallback, 0.0, 1.0):
        raise DesivoidError(f"feature config void_catalogs.omegam={fallback!r} is not in (0, 1]")
    for name, spec in cfg.properties.items():
        if "value" not in spec:
            raise DesivoidError(f"feature property {name!r} has no `value` SQL expression")


def _number_in(value, low: float, high: float) -> bool:
    try:
        return low < float(value) <= high
    except (TypeError, ValueError):
        return False
