"""The ingest options and where they come from (configs/ingest/default.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from desivoid_ml.errors import DesivoidError
from desivoid_ml.settings import config_dir


@dataclass
class IngestOptions:
    """Choices a user makes: FASTSPEC columns to keep (globs) and rows per COPY message (set in
    the YAML; 10k overlapped encoding and sending best on 2 cores)."""

    fastspec_columns: list[str] = field(default_factory=list)
    chunk_rows: int = 10_000


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
    chunk_rows = data.get("chunk_rows", IngestOptions.chunk_rows)
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DesivoidError(f"{path}: chunk_rows must be a positive integer, got {chunk_rows!r}")
    return IngestOptions(columns, chunk_rows)
