"""Read the ingest configuration (configs/ingest/default.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml

from desivoid_ml.errors import DesivoidError
from desivoid_ml.ingest.runner import DEFAULT_CHUNK_ROWS, IngestOptions
from desivoid_ml.settings import config_dir


def default_config_path() -> Path:
    return config_dir() / "ingest" / "default.yaml"


def load_options(path: Path | None = None) -> IngestOptions:
    """IngestOptions from a YAML file; a missing or malformed file is a clear error."""
    path = path or default_config_path()
    if not path.exists():
        raise DesivoidError(f"{path}: ingest config not found; pass --config PATH")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DesivoidError(f"{path}: not valid YAML: {exc}") from exc
    columns = data.get("fastspec_columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise DesivoidError(f"{path}: fastspec_columns must be a list of column names or globs")
    return IngestOptions(columns, int(data.get("chunk_rows", DEFAULT_CHUNK_ROWS)))
