"""The analysis samples: the columns `desivoid analyze` needs, read by one binary COPY.

Only rows in at least one algorithm's input sample (and in `sample`) are read, and only the
flags, properties and control variables: 6.4 M rows x ~10 float32 columns stay well under 1 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.analysis.config import CONSENSUS, algorithm_prefixes, controls_for
from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_out import read_copy
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError


@dataclass
class AnalysisData:
    """Float32 columns (NaN when NULL) and, per algorithm prefix, input and void flags."""

    columns: dict[str, np.ndarray]
    in_input: dict[str, np.ndarray]
    in_void: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return len(next(iter(self.in_input.values())))


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
        _check_columns(cfg, present, columns)
        _check_algorithms(conn, table, cfg, present)
        flags = [
            sql.SQL("COALESCE({}, false), COALESCE({}, false)").format(*flag_sql(p))
            for p in prefixes
        ]
        values = [
            sql.SQL("COALESCE(({})::float4, 'NaN'::float4)").format(sql.Identifier(c))
            for c in columns
        ]
        anywhere = sql.SQL(" OR ").join(flag_sql(p)[0] for p in prefixes)
        query = sql.SQL("SELECT {} FROM {} WHERE ({}) AND ({})").format(
            sql.SQL(", ").join(flags + values), table, sql.SQL(cfg.sample or "true"), anywhere
        )
        wire = [CopyColumn(f"{p}_{k}", "boolean") for p in prefixes for k in ("input", "void")]
        wire += [CopyColumn(f"c{i}", "real") for i in range(len(columns))]
        data = read_copy(conn, query, wire)
    out = AnalysisData(
        {name: data[f"c{i}"] for i, name in enumerate(columns)},
        {p: data[f"{p}_input"].astype(bool) for p in prefixes},
        {p: data[f"{p}_void"].astype(bool) for p in prefixes},
    )
    _check_samples(cfg, out)
    return out


def flag_sql(prefix: str) -> tuple[sql.Composable, sql.Composable]:
    """(in the analysis sample, in a void) of an algorithm; the consensus row reads
    consensus_sample (void / wall where every algorithm agrees)."""
    if prefix == CONSENSUS:
        return sql.SQL("(consensus_sample IS NOT NULL)"), sql.SQL("(consensus_sample = 'void')")
    return sql.Identifier(f"{prefix}_in_input"), sql.Identifier(f"{prefix}_in_void")


def _required(prefix: str) -> tuple[str, ...]:
    if prefix == CONSENSUS:
        return ("consensus_sample",)
    return (f"{prefix}_in_input", f"{prefix}_in_void")


def _check_columns(cfg: DictConfig, present: dict[str, str], columns: list[str]) -> None:
    if not present:
        raise DesivoidError("features.galaxy not found; run `desivoid features` first")
    for name in columns:
        if name not in present:
            role = "analysis property" if name in cfg.properties else "control variable"
            raise DesivoidError(
                f"{role} {name!r} is not a column of features.galaxy; add it to "
                "configs/features.yaml (properties) or leave it out of configs/analysis.yaml"
            )


def _check_algorithms(conn, table: sql.Identifier, cfg: DictConfig, present: dict) -> None:
    """Every algorithm has its columns and at least one galaxy in its input sample."""
    for prefix, name in algorithm_prefixes(cfg).items():
        missing = [c for c in _required(prefix) if c not in present]
        if missing:
            raise DesivoidError(
                f"algorithm {name} ({prefix}_*) is absent from features.galaxy (no {missing[0]}); "
                "leave it out with `desivoid analyze 'algorithms=[...]'`"
            )
    counts = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(
                sql.SQL("count(*) FILTER (WHERE {})").format(flag_sql(p)[0])
                for p in algorithm_prefixes(cfg)
            ),
            table,
        )
    ).fetchone()
    for (prefix, name), count in zip(algorithm_prefixes(cfg).items(), counts, strict=True):
        if not count:
            raise DesivoidError(
                f"algorithm {name} is absent from the database: no galaxy is in its input "
                f"sample ({prefix}_in_input); ingest its DESIVAST catalogs and run `desivoid "
                f"features`, or leave it out with `desivoid analyze 'algorithms=[...]'`"
            )


def _check_samples(cfg: DictConfig, data: AnalysisData) -> None:
    """Each analysis sample has void and wall galaxies."""
    for prefix, name in algorithm_prefixes(cfg).items():
        sample = data.in_input[prefix]
        void = int((sample & data.in_void[prefix]).sum())
        wall = int(sample.sum()) - void
        if void == 0 or wall == 0:
            raise DesivoidError(
                f"the analysis sample of {name} is empty ({void} void, {wall} wall galaxies "
                f"with {prefix}_in_input and sample={cfg.sample!r}); check `sample` in "
                "configs/analysis.yaml"
            )
