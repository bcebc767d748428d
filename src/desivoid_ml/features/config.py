"""The feature configuration (configs/features.yaml): its schema and how it is loaded.

The YAML holds the values; the dataclasses here hold the types (wrong types and unknown keys fail
at composition) and the range and choice rules (`problems()`). Callers get the composed
DictConfig, not the dataclass: the build iterates `properties.items()`, reads optional nodes
with `OmegaConf.select` and lets tests replace a node, which a DictConfig does directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig

from desivoid_ml.features.environment import EnvironmentOptions
from desivoid_ml.features.voidfinder import BOUNDARY_POLICIES, BoundaryRule
from desivoid_ml.settings import compose_config, register_schema

PROPERTY_KEYS = {"value", "valid", "range"}


@dataclass
class DensityConfig:
    k: int = MISSING
    omegam: float = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.k < 1:
            yield "k", "must be an integer >= 1"
        if not 0 < self.omegam <= 1:
            yield "omegam", "must be in (0, 1]"


@dataclass
class VoidFinderConfig:
    mask_resolution: int | None = MISSING
    boundary_tolerance_mpch: float = MISSING
    boundary_tolerance_relative: float = MISSING
    boundary_policy: str = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.mask_resolution is not None and self.mask_resolution < 1:
            yield "mask_resolution", "must be null or an integer >= 1"
        if self.boundary_tolerance_mpch < 0:
            yield "boundary_tolerance_mpch", "must be >= 0"
        if not 0 <= self.boundary_tolerance_relative < 0.01:
            yield "boundary_tolerance_relative", "must be in [0, 0.01)"
        if self.boundary_policy not in BOUNDARY_POLICIES:
            yield "boundary_policy", f"must be one of {', '.join(BOUNDARY_POLICIES)}"


@dataclass
class V2Config:
    position_tolerance_mpch: float = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.position_tolerance_mpch <= 0:
            yield "position_tolerance_mpch", "must be > 0"


@dataclass
class VoidCatalogsConfig:
    omegam: float | None = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.omegam is not None and not 0 < self.omegam <= 1:
            yield "omegam", "must be null or in (0, 1]"


@dataclass
class SampleZConfig:
    min: float = MISSING
    max: float = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if not 0 <= self.min < self.max:
            yield "min", "must be >= 0 and below sample_z.max"


@dataclass
class FeaturesConfig:
    # name -> {value: SQL expression over raw.galaxies, valid: condition, range: [low, high]},
    # NULL unless valid holds and the value is in range. Plain dicts rather than a dataclass:
    # Hydra cannot add a typed node from the command line.
    properties: dict[str, dict[str, Any]] = MISSING
    # name -> {cut name: SQL condition over features.galaxy}; see galaxy_samples.py
    samples: dict[str, dict[str, str]] = MISSING
    sample_z: SampleZConfig = field(default_factory=SampleZConfig)
    density: DensityConfig = field(default_factory=DensityConfig)
    voidfinder: VoidFinderConfig = field(default_factory=VoidFinderConfig)
    v2: V2Config = field(default_factory=V2Config)
    void_catalogs: VoidCatalogsConfig = field(default_factory=VoidCatalogsConfig)
    chunk_rows: int = MISSING
    processes: int | None = None  # processes classifying chunks; None: one per core

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.properties:
            yield "properties", "is empty: declare at least one column"
        for name, spec in self.properties.items():
            if not spec.get("value"):
                yield f"properties.{name}", "has no `value` SQL expression"
            if set(spec) - PROPERTY_KEYS:
                yield f"properties.{name}", f"takes only {', '.join(sorted(PROPERTY_KEYS))}"
            if spec.get("range") is not None and not _is_range(spec["range"]):
                yield f"properties.{name}.range", "must be [low, high] numbers with low < high"
        if not self.samples:
            yield "samples", "is empty: declare at least one (e.g. all: {})"
        if self.chunk_rows < 1:
            yield "chunk_rows", "must be an integer >= 1"
        if self.processes is not None and self.processes < 1:
            yield "processes", "must be an integer >= 1 (or null: one per core)"


def _is_range(value: Any) -> bool:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return False
    low, high = value
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    return numbers and low < high


register_schema("features_schema", FeaturesConfig)


def load_config(overrides: list[str] | None = None) -> DictConfig:
    """configs/features.yaml with command-line style overrides (`density.k=10`), checked."""
    return compose_config("features", overrides, schema=FeaturesConfig)


def environment_options(cfg: DictConfig) -> EnvironmentOptions:
    """The classification settings of the feature config."""
    return EnvironmentOptions(
        BoundaryRule(
            float(cfg.voidfinder.boundary_tolerance_mpch),
            float(cfg.voidfinder.boundary_tolerance_relative),
            str(cfg.voidfinder.boundary_policy),
        ),
        float(cfg.v2.position_tolerance_mpch),
        cfg.voidfinder.mask_resolution,
    )
