"""The analysis samples: the columns `desivoid analyze` needs, read by one binary COPY.

Void and wall come from `<prefix>_sample` ('void', 'wall' or NULL), the one definition that
`desivoid features` writes; nothing here re-derives them. Only rows in some algorithm's void or
wall sample, in the named `sample` (configs/features.yaml `samples`) and in `where`, are read, and
only the labels, properties and control variables: 6.4 M rows x ~10 float32 columns stay well
under 1 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.analysis.checks import (
    check_algorithms,
    check_columns,
    check_controls,
    check_rows,
    check_sky,
    selection,
)
from desivoid_ml.analysis.config import algorithm_prefixes, controls_for
from desivoid_ml.analysis.resampling import JACKKNIFE
from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import read_copy
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError, first_line
from desivoid_ml.features.galaxy_samples import sample_condition

SKY = ("ra", "dec")  # read for the jackknife's sky regions
VOID, WALL, NEITHER = 1, 0, -1  # labels of a galaxy in one algorithm's samples
BOUNDARY = "vf_on_boundary"  # VoidFinder galaxies on a hole surface (the `exclude` comparison)


@dataclass
class AnalysisData:
    """Float32 columns (NaN when NULL; `ra` and `dec` among them when the intervals need sky
    regions), per algorithm prefix a label per row (VOID, WALL or NEITHER), and whether each
    row lies on a VoidFinder hole surface (None when VoidFinder is not analysed)."""

    columns: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    on_boundary: np.ndarray | None

    @property
    def rows(self) -> int:
        return len(next(iter(self.labels.values())))

    def counts(self, prefix: str) -> tuple[int, int]:
        """(void, wall) galaxies of one algorithm."""
        labels = self.labels[prefix]
        return int((labels == VOID).sum()), int((labels == WALL).sum())


def needed_columns(cfg: DictConfig) -> list[str]:
    """Properties first, then every control variable, each once."""
    names = list(cfg.properties)
    for prop in cfg.properties:
        names += [c for c in controls_for(cfg, prop) if c not in names]
    return names


def load(db: Database, cfg: DictConfig) -> AnalysisData:
    """Check the request against features.galaxy, then read the analysis samples."""
    table = sql.Identifier(db.ns.features, "galaxy")
    columns = needed_columns(cfg)
    prefixes = list(algorithm_prefixes(cfg))
    with db.connect() as conn:
        present = table_columns(conn, db.ns.features, "galaxy")
        check_columns(cfg, present, columns)
        if cfg.intervals.method == JACKKNIFE:
            check_sky(present, SKY)
            columns += [c for c in SKY if c not in columns]
        check_algorithms(conn, table, cfg, present)
        boundary = "vf" in prefixes and BOUNDARY in present
        data = _read(conn, table, cfg, prefixes, columns, boundary)
    out = AnalysisData(
        {name: data[f"c{i}"] for i, name in enumerate(columns)},
        {p: data[f"l_{p}"].astype(np.int8) for p in prefixes},
        data["boundary"].astype(bool) if boundary else None,
    )
    check_rows(cfg, out.rows)
    check_controls(cfg, out.columns, out.labels)
    return out


def selection_sql(cfg: DictConfig) -> str:
    """The galaxies compared, as one SQL condition: the named sample and `where`."""
    return f"({sample_condition(cfg.sample)}) AND ({cfg.where or 'true'})"


def _read(conn, table, cfg: DictConfig, prefixes: list[str], columns: list[str], boundary: bool):
    """One COPY of the labels, the boundary flag and the float columns."""
    labels = [
        sql.SQL("(CASE {} WHEN 'void' THEN {} WHEN 'wall' THEN {} ELSE {} END)::smallint").format(
            sql.Identifier(f"{p}_sample"), VOID, WALL, NEITHER
        )
        for p in prefixes
    ]
    flag = [sql.SQL("COALESCE({}, false)").format(sql.Identifier(BOUNDARY))] if boundary else []
    values = [
        sql.SQL("COALESCE(({})::float4, 'NaN'::float4)").format(sql.Identifier(c)) for c in columns
    ]
    anywhere = sql.SQL(" OR ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(f"{p}_sample")) for p in prefixes
    )
    query = sql.SQL("SELECT {} FROM {} WHERE ({}) AND ({})").format(
        sql.SQL(", ").join(labels + flag + values), table, sql.SQL(selection_sql(cfg)), anywhere
    )
    wire = [CopyColumn(f"l_{p}", "smallint") for p in prefixes]
    wire += [CopyColumn("boundary", "boolean")] if boundary else []
    wire += [CopyColumn(f"c{i}", "real") for i in range(len(columns))]
    try:
        return read_copy(conn, query, wire)
    except psycopg.ProgrammingError as exc:  # SQLSTATE class 42: the condition itself
        raise DesivoidError(
            f"the analysis selection ({selection(cfg)}) is not a condition over "
            f"features.galaxy: {first_line(exc)}"
        ) from None
