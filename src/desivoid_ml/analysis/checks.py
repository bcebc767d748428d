"""What `desivoid analyze` refuses, each as one line, before anything is written; and the line
for an algorithm that has no void or no wall sample (left out, not an error)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.analysis.config import algorithm_prefixes, controls_for
from desivoid_ml.errors import DesivoidError


def check_columns(cfg: DictConfig, present: dict[str, str], columns: list[str]) -> None:
    if not present:
        raise DesivoidError("features.galaxy not found; run `desivoid features` first")
    for name in columns:
        if name not in present:
            role = "analysis property" if name in cfg.properties else "control variable"
            raise DesivoidError(
                f"{role} {name!r} is not a column of features.galaxy; add it to "
                "configs/features.yaml (properties) or leave it out of configs/analysis.yaml"
            )


def check_sky(present: dict[str, str], sky: tuple[str, ...]) -> None:
    missing = [c for c in sky if c not in present]
    if missing:
        raise DesivoidError(
            f"features.galaxy has no {missing[0]!r} column: the jackknife needs sky positions "
            "for its regions; rebuild features or use intervals.method=bootstrap"
        )


def check_algorithms(conn, table: sql.Identifier, cfg: DictConfig, present: dict) -> None:
    """Every algorithm has its sample column and some galaxy in its void or wall sample."""
    for prefix, name in algorithm_prefixes(cfg).items():
        if f"{prefix}_sample" not in present:
            raise DesivoidError(
                f"algorithm {name} ({prefix}_*) is absent from features.galaxy (no "
                f"{prefix}_sample); rebuild it with `desivoid features`, or leave it out with "
                "`desivoid analyze 'algorithms=[...]'`"
            )
    counts = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(
                sql.SQL("count(*) FILTER (WHERE {} IS NOT NULL)").format(
                    sql.Identifier(f"{p}_sample")
                )
                for p in algorithm_prefixes(cfg)
            ),
            table,
        )
    ).fetchone()
    for (prefix, name), count in zip(algorithm_prefixes(cfg).items(), counts, strict=True):
        if not count:
            raise DesivoidError(
                f"algorithm {name} is absent from the database: no galaxy is in its void or "
                f"wall sample ({prefix}_sample); ingest its DESIVAST catalogs and run `desivoid "
                "features`, or leave it out with `desivoid analyze 'algorithms=[...]'`"
            )


def selection(cfg: DictConfig) -> str:
    """The selection in words: the named sample and the extra condition."""
    return f"sample={cfg.sample!r}" + (f", where={cfg.where!r}" if cfg.where else "")


def check_rows(cfg: DictConfig, rows: int) -> None:
    if rows == 0:
        raise DesivoidError(
            f"the analysis selection is empty: no galaxy with {selection(cfg)} is in a void or "
            "wall sample; check `sample` and `where` in configs/analysis.yaml"
        )


def missing_sample(algorithm: str, n_void: int, n_wall: int) -> str | None:
    """The line for an algorithm left out because one of its samples is empty, else None."""
    if n_void and n_wall:
        return None
    if n_void:
        return f"{algorithm}: every in-volume galaxy is in a void; no wall sample"
    if n_wall:
        return f"{algorithm}: no in-volume galaxy is in a void; no void sample"
    return f"{algorithm}: no galaxy of the selection is in its void or wall sample"


def check_analysable(lines: list[str], algorithms: int) -> None:
    """At least one algorithm has both samples (else nothing would be written)."""
    if len(lines) == algorithms:
        raise DesivoidError("nothing to compare: " + "; ".join(lines))


def check_controls(
    cfg: DictConfig, columns: dict[str, np.ndarray], labels: dict[str, np.ndarray]
) -> None:
    """A control variable must vary within each algorithm's void + wall sample: matching on
    an all-NULL or a constant column is meaningless."""
    used = {c for prop in cfg.properties for c in controls_for(cfg, prop)}
    names = [c for c in columns if c in used]
    for prefix, algorithm in algorithm_prefixes(cfg).items():
        for name in names:
            values = columns[name][labels[prefix] >= 0]
            known = values[np.isfinite(values)]
            if len(values) and len(known) == 0:
                raise DesivoidError(
                    f"control variable {name!r} is NULL for every galaxy of the {algorithm} "
                    "sample; fill it in features.galaxy or leave it out of control.match"
                )
            if len(known) and known.min() == known.max():
                raise DesivoidError(
                    f"control variable {name!r} is constant ({known[0]:g}) in the {algorithm} "
                    "sample, so nothing can be matched on it; leave it out of control.match"
                )
