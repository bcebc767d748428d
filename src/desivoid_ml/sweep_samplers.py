"""Samplers and pruners by name, from the sweeper's `sampler` and `pruner` config nodes
(configs/hydra/sweeper/sampler/*.yaml, .../pruner/*.yaml) for the sweeper in
hydra_plugins/desivoid_sweeper: `name` picks the class, every other
key is passed to it. An unknown name or option is one DesivoidError line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from desivoid_ml.errors import DesivoidError


def _samplers() -> dict[str, Callable]:
    import optuna

    return {
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
        "grid": optuna.samplers.GridSampler,
        "nsgaii": optuna.samplers.NSGAIISampler,
    }


def _pruners() -> dict[str, Callable]:
    import optuna

    return {
        "median": optuna.pruners.MedianPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "none": optuna.pruners.NopPruner,
    }


def check_names(sampler: Mapping[str, Any] | None, pruner: Mapping[str, Any] | None) -> None:
    """Refuse an unknown sampler or pruner before anything is stored."""
    _pick("sampler", _name(sampler, "tpe"), _samplers())
    _pick("pruner", _name(pruner, "none"), _pruners())


def make_sampler(config: Mapping[str, Any] | None, grid: Callable[[], dict] | None = None):
    """The sampler named in `config`; the grid sampler gets its search space from `grid()`."""
    name = _name(config, "tpe")
    options = _options(config)
    if name == "grid":
        options["search_space"] = grid() if grid else {}
    return _build("sampler", name, _pick("sampler", name, _samplers()), options)


def make_pruner(config: Mapping[str, Any] | None):
    name = _name(config, "none")
    return _build("pruner", name, _pick("pruner", name, _pruners()), _options(config))


def _name(config: Mapping[str, Any] | None, default: str) -> str:
    return str((config or {}).get("name") or default)


def _options(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in dict(config or {}).items() if k != "name"}


def _pick(kind: str, name: str, known: dict[str, Callable]) -> Callable:
    if name not in known:
        raise DesivoidError(
            f"unknown {kind} {name!r} (hydra.sweeper.{kind}.name); choose one of {', '.join(known)}"
        )
    return known[name]


def _build(kind: str, name: str, cls: Callable, options: dict[str, Any]):
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise DesivoidError(f"{kind} {name}: {exc}") from exc
