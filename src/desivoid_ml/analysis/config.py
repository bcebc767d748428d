"""The analysis configuration (configs/analysis.yaml): its schema and how it is loaded.

The YAML holds the values, the dataclasses the types and rules (`problems()`). Callers get the
composed DictConfig: the analysis reads `cfg.intervals`, `cfg.bootstrap`, `cfg.control.get(...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from omegaconf import MISSING, DictConfig

from desivoid_ml.algorithms import ALGORITHM_NAMES
from desivoid_ml.analysis.resampling import METHODS
from desivoid_ml.settings import compose_config, register_schema


@dataclass
class ControlConfig:
    match: list[str] = MISSING
    match_for: dict[str, list[str]] = field(default_factory=dict)
    bins: int = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.bins < 1:
            yield "bins", "must be an integer >= 1"


@dataclass
class IntervalsConfig:
    method: str = MISSING
    regions: int = MISSING
    property_bins: int = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.method not in METHODS:
            yield "method", f"unknown interval method; choose from {', '.join(METHODS)}"
        if self.regions < MIN_REGIONS:
            yield "regions", f"must be an integer >= {MIN_REGIONS}"
        if self.property_bins < 16:
            yield "property_bins", "must be an integer >= 16"


@dataclass
class BootstrapConfig:
    resamples: int = MISSING
    seed: int = MISSING

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.resamples < 10:
            yield "resamples", "must be an integer >= 10"


@dataclass
class AnalysisConfig:
    algorithms: list[str] = MISSING
    sample: str = MISSING
    where: str | None = None
    properties: list[str] = MISSING
    control: ControlConfig = field(default_factory=ControlConfig)
    intervals: IntervalsConfig = field(default_factory=IntervalsConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.algorithms:
            yield "algorithms", "is empty: name at least one"
        for name in self.algorithms:
            if name not in PREFIXES:
                yield "algorithms", f"unknown algorithm {name!r}; choose from {', '.join(PREFIXES)}"
        if not self.properties:
            yield "properties", "is empty: name at least one column"
        for prop in self.properties:
            names = self.control.match_for.get(prop, self.control.match)
            if prop in names:
                yield (
                    "properties",
                    (
                        f"{prop!r} is among its own control variables {list(names)}; "
                        f"set control.match_for.{prop}"
                    ),
                )


MIN_REGIONS = 4  # a jackknife over fewer regions says little about the spread

register_schema("analysis_schema", AnalysisConfig)


def load_config(overrides: list[str] | None = None) -> DictConfig:
    """configs/analysis.yaml with command-line style overrides, checked by AnalysisConfig."""
    return compose_config("analysis", overrides, schema=AnalysisConfig)


CONSENSUS = "consensus"  # the fifth row: features.galaxy consensus_sample (features/consensus.py)
PREFIXES = {name: prefix for prefix, name in ALGORITHM_NAMES.items()}  # "VoidFinder" -> "vf"
PREFIXES[CONSENSUS] = CONSENSUS


def algorithm_prefixes(cfg: DictConfig) -> dict[str, str]:
    """Column prefix -> algorithm name, in the configured order."""
    return {PREFIXES[name]: name for name in cfg.algorithms}


def controls_for(cfg: DictConfig, prop: str) -> list[str]:
    """The control variables of one property's matched shift (never the property itself: the
    schema's rules refuse that when the config is loaded)."""
    own = cfg.control.get("match_for", {}) or {}
    return list(own[prop]) if prop in own else list(cfg.control.match)
