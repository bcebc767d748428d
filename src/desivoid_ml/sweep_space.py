"""The search space from Hydra's sweep grammar, parsed by Hydra's own override parser.

`choice(a, b)` -> categorical, `range(start, stop[, step])` -> int or float with a step (stop
excluded, as in Hydra), `interval(low, high)` -> float, `tag(log, interval(...))` -> log scale,
`tag(int, interval(...))` -> integer. Anything else is a fixed override passed to every trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException

from desivoid_ml.errors import DesivoidError

_PRIMITIVE = (bool, int, float, str, type(None))
DSN_KEY = "db.dsn"


@dataclass
class Param:
    """One searched key: its Optuna distribution and, for categorical choices, the override
    text of each choice (Optuna keeps only primitives; a list choice is kept as its text)."""

    distribution: Any
    texts: dict[Any, str] = field(default_factory=dict)

    def override_text(self, value: Any) -> str:
        if value in self.texts:
            return self.texts[value]
        return repr(value) if isinstance(value, float) else str(value)


@dataclass
class SearchSpace:
    params: dict[str, Param]
    fixed: list[str]  # overrides every trial gets, as the user wrote them

    def grid(self) -> dict[str, list]:
        """The grid sampler's search space: every searched key must be a choice or a range."""
        grid = {}
        for key, param in self.params.items():
            values = _grid_values(param.distribution)
            if values is None:
                raise DesivoidError(
                    f"the grid sampler needs choice(...) or range(...) for {key}, not an interval"
                )
            grid[key] = values
        return grid

    def example(self) -> dict[str, Any]:
        """Each searched key at its first value (to check that a trial's config composes)."""
        return {key: _first(param.distribution) for key, param in self.params.items()}

    def overrides(self, sampled: dict[str, Any]) -> list[str]:
        """A trial's overrides: the fixed ones, then `key=value` for each sampled value."""
        chosen = [f"{key}={self.params[key].override_text(v)}" for key, v in sampled.items()]
        return [*self.fixed, *chosen]


def parse(params: dict[str, str], arguments: list[str]) -> SearchSpace:
    """The search space of `hydra.sweeper.params` and the command line (which wins)."""
    lines = [f"{key}={value}" for key, value in params.items()]
    overrides = _parse(lines, "hydra.sweeper.params") + _parse(arguments, "the command line")
    searched: dict[str, Param] = {}
    fixed: dict[str, str] = {}
    for override in overrides:
        key = override.get_key_element()
        searched.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            try:
                searched[key] = _param(override)
            except ValueError as exc:  # Optuna refuses the bounds (low > high, log of 0, ...)
                raise DesivoidError(f"bad search space {override.input_line!r}: {exc}") from exc
        else:
            fixed[key] = _fixed_line(override)
    return SearchSpace(searched, list(fixed.values()))


def _fixed_line(override: Override) -> str:
    """The override as written, except that a DSN (db.dsn) loses its password to PGPASSWORD."""
    line = (
        override.input_line or f"{override.get_key_element()}={override.get_value_element_as_str()}"
    )
    value = override.value()
    if override.key_or_group != DSN_KEY or not isinstance(value, str):
        return line
    from desivoid_ml.sweeps import password_to_environment

    clean = password_to_environment(value)
    if clean == value:
        return line
    quote = "'" if "'" not in clean else '"'
    return f"{line.split('=', 1)[0]}={quote}{clean}{quote}"


def _parse(lines: list[str], where: str) -> list[Override]:
    parser = OverridesParser.create()
    overrides = []
    for line in lines:
        try:
            overrides.extend(parser.parse_overrides([line]))
        except HydraException as exc:
            reason = str(exc).splitlines()[0]
            raise DesivoidError(f"cannot parse {line!r} in {where}: {reason}") from exc
    return overrides


def _param(override: Override) -> Param:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    sweep = override.value()
    key = override.get_key_element()
    if isinstance(sweep, ChoiceSweep):
        values = list(override.sweep_iterator())
        texts = list(override.sweep_string_iterator())
        choices = [
            v if isinstance(v, _PRIMITIVE) else t for v, t in zip(values, texts, strict=True)
        ]
        return Param(CategoricalDistribution(choices), dict(zip(choices, texts, strict=True)))
    if isinstance(sweep, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise DesivoidError(f"range for {key} is empty: {override.input_line}")
        if all(isinstance(v, int) for v in values):
            return Param(IntDistribution(values[0], values[-1], step=int(sweep.step)))
        return Param(FloatDistribution(values[0], values[-1], step=float(sweep.step)))
    if isinstance(sweep, IntervalSweep):
        log, integer = "log" in sweep.tags, "int" in sweep.tags
        if integer:
            return Param(IntDistribution(int(sweep.start), int(sweep.end), log=log))
        return Param(FloatDistribution(sweep.start, sweep.end, log=log))
    raise DesivoidError(f"unsupported sweep for {key}: {override.input_line}")


def _first(distribution) -> Any:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low


def _grid_values(distribution) -> list | None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step:
        n = round((distribution.high - distribution.low) / distribution.step)
        return [distribution.low + i * distribution.step for i in range(n + 1)]
    return None
