"""The ingest options (configs/ingest.yaml): one dataclass is both the schema the YAML is
composed against and the typed options the loader takes.

Callers get an `IngestOptions` object rather than a DictConfig: the loader and the tests build
one directly in code (`IngestOptions(["HALPHA_*"])`), so the defaults live here, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from desivoid_ml.errors import DesivoidError
from desivoid_ml.settings import compose_config, register_schema


@dataclass
class IngestOptions:
    """Choices a user makes: FASTSPEC columns to keep (globs, case-insensitive) and rows per
    binary COPY message (~10k overlapped encoding and sending best on 2 cores)."""

    fastspec_columns: list[str] = field(default_factory=list)
    chunk_rows: int = 10_000

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.chunk_rows < 1:
            yield "chunk_rows", "must be an integer >= 1"
        if any(not name.strip() for name in self.fastspec_columns):
            yield "fastspec_columns", "holds an empty name or glob"


register_schema("ingest_schema", IngestOptions)


def load_options(path: Path | None = None, overrides: list[str] | None = None) -> IngestOptions:
    """IngestOptions from configs/ingest.yaml or the YAML file `path` (composed from its folder,
    so it may have a defaults list), with command-line style overrides (`chunk_rows=5000`)."""
    if path is None:
        cfg = compose_config("ingest", overrides, schema=IngestOptions)
    else:
        path = Path(path)
        if path.suffix != ".yaml" or not path.is_file():
            raise DesivoidError(f"{path}: ingest config not found; pass --config PATH.yaml")
        cfg = compose_config(path.stem, overrides, folder=path.parent, schema=IngestOptions)
    return OmegaConf.to_object(cfg)
