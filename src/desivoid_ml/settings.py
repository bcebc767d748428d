"""Where local state and configs live, and how a primary config is composed and validated.

Every primary config (`configs/train.yaml`, `features.yaml`, `ingest.yaml`, `analysis.yaml`) sits
at the one config root shipped inside the package. The non-training ones are composed here the
same way: Hydra compose with command-line style overrides, typed by a dataclass schema registered
in Hydra's ConfigStore (named in the YAML's defaults list), then checked against the range and
choice rules each schema dataclass declares in its `problems()` method. Any failure is one line.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from desivoid_ml.errors import DesivoidError, first_line


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


def register_schema(name: str, schema: type) -> None:
    """Store a schema dataclass in Hydra's ConfigStore, so a YAML can start with
    `defaults: [<name>, _self_]` and be typed by it."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=name, node=schema)


def compose_config(
    name: str,
    overrides: list[str] | None = None,
    folder: Path | None = None,
    schema: type | None = None,
):
    """`<folder>/<name>.yaml` (default: the package's config root) composed with Hydra and
    overrides (`density.k=10`); with a schema, typed and checked by it. Returns a DictConfig.
    A missing file, bad override, unknown key, wrong type or broken rule is one clear line."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    root = Path(folder).resolve() if folder else config_dir()
    path = root / f"{name}.yaml"
    if not path.is_file():
        raise DesivoidError(f"{path} not found; pass an existing file or set DESIVOID_CONFIG_DIR")
    label = f"{name} config" if folder is None else f"config {path}"
    try:
        with initialize_config_dir(config_dir=str(root), version_base="1.3"):
            cfg = compose(config_name=name, overrides=overrides or [])
        if schema is not None:  # again: a file may name no schema, and `+key=` adds keys
            cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.to_container(cfg))
        typed = OmegaConf.to_object(cfg) if schema is not None else None
    except Exception as exc:  # hydra and omegaconf raise several types; all are config errors
        raise DesivoidError(f"{label} {_describe(exc)}") from exc
    for key, why in problems(typed):
        raise DesivoidError(f"{label} {key}={_lookup(typed, key)!r}: {why}")
    return cfg


def problems(obj: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(full key, why) for each broken rule of a schema object and the dataclasses inside it."""
    if dataclasses.is_dataclass(obj):
        if hasattr(obj, "problems"):
            for key, why in obj.problems():
                yield prefix + key, why
        for f in dataclasses.fields(obj):
            yield from problems(getattr(obj, f.name), f"{prefix}{f.name}.")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from problems(value, f"{prefix}{key}.")


def _lookup(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _describe(exc: BaseException) -> str:
    """`key=value: reason` from the OmegaConf error behind a Hydra one, else its first line."""
    from omegaconf.errors import OmegaConfBaseException

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if cause is None or not getattr(cause, "full_key", None):
        return f"error: {first_line(exc)}"
    value = getattr(cause, "value", None)
    shown = "" if value is None else f"={value!r}"
    reason = first_line(cause.msg or cause)
    hint = next((line for line in str(exc).splitlines() if line.startswith("To append")), "")
    if hint and "not in struct" in reason:  # a free-form node (properties): `+` adds to it
        reason += f" ({hint[0].lower()}{hint[1:]})"
    return f"{cause.full_key}{shown}: {reason}"
