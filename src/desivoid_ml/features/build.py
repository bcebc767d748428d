"""`desivoid features`: compute features.galaxy from raw.galaxies and the ingested void catalogs.

Positions come out of PostgreSQL by binary COPY decoded with numpy; environment and density are
computed with KD-trees; the results go back by binary COPY into a staging table, which is joined
with the galaxy properties (SQL expressions from the config) into a new table that replaces the
old one in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_binary import HEADER, TRAILER, CopyColumn, RowEncoder
from desivoid_ml.db.copy_read import read_copy
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.density import kth_neighbour_density
from desivoid_ml.features.environment import GalaxySample, classify_catalog, combine_by_algorithm
from desivoid_ml.features.proximity import create_proximity
from desivoid_ml.features.void_catalogs import read_db_catalogs
from desivoid_ml.progress import NullReporter, Reporter

KEY_WIDTH = 16  # survey and program travel as char(16) so every COPY tuple has a fixed size
POSITION_FIELDS = [
    ("targetid", "bigint"),
    ("survey", f"char({KEY_WIDTH})"),
    ("program", f"char({KEY_WIDTH})"),
    ("ra", "double precision"),
    ("dec", "double precision"),
    ("z", "double precision"),
]
NUMPY_TO_PG = {"b": "boolean", "i": "bigint", "f": "double precision", "U": "text"}


@dataclass
class FeatureSummary:
    rows: int
    excluded: int
    catalogs: list[str]
    in_void_fraction: dict[str, float]
    compute_s: float
    load_s: float


def build(db: Database, cfg: DictConfig, reporter: Reporter | None = None) -> FeatureSummary:
    """Rebuild features.galaxy (and features.voids) from the raw tables."""
    reporter = reporter or NullReporter()
    started = time.perf_counter()
    catalogs = read_db_catalogs(db)
    if not catalogs:
        raise DesivoidError(
            "no void catalogs ingested; run `desivoid ingest` on DESIVAST files first"
        )
    with db.connect() as conn:
        positions = _positions(conn, db)
    sample = GalaxySample(positions["ra"], positions["dec"], positions["z"], positions["targetid"])
    results = []
    with reporter.task("environment per catalog", len(catalogs), unit="catalogs") as step:
        for catalog in catalogs:
            results.append(classify_catalog(sample, catalog, cfg.voidfinder.mask_resolution))
            step.advance(1)
    columns = combine_by_algorithm(sample, catalogs, results)
    columns.update(_positions_and_density(sample, cfg))
    compute_s = time.perf_counter() - started
    started = time.perf_counter()
    with db.connect() as conn, conn.transaction():
        _stage(conn, db, positions, columns)
        _replace_table(conn, db, cfg, columns)
        create_proximity(conn, db, catalogs, Cosmology(cfg.density.omegam))
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(db.ns.features, "galaxy")))
    fractions = {
        k.removesuffix("_in_void"): float(v[sample.valid].mean()) if sample.valid.any() else 0.0
        for k, v in columns.items()
        if k.endswith("_in_void")
    }
    return FeatureSummary(
        len(sample.ra),
        sample.excluded,
        [c.name for c in catalogs],
        fractions,
        compute_s,
        time.perf_counter() - started,
    )


def _positions(conn: psycopg.Connection, db: Database) -> np.ndarray:
    query = sql.SQL(
        "SELECT targetid, survey::char({w}), program::char({w}), "
        "COALESCE(ra, 'NaN'), COALESCE(dec, 'NaN'), COALESCE(z, 'NaN') FROM {}"
    ).format(sql.Identifier(db.ns.raw, "galaxies"), w=sql.Literal(KEY_WIDTH))
    if not conn.execute("SELECT to_regclass(%s)", (f"{db.ns.raw}.galaxies",)).fetchone()[0]:
        raise DesivoidError(
            "raw.galaxies does not exist; run `desivoid ingest` on FastSpecFit files"
        )
    return read_copy(conn, query, POSITION_FIELDS)


def _positions_and_density(sample: GalaxySample, cfg: DictConfig) -> dict[str, np.ndarray]:
    """x, y, z (feature cosmology), k-th neighbour distance, log density; NaN when excluded."""
    n = len(sample.ra)
    xyz = np.full((n, 3), np.nan)
    xyz[sample.valid] = Cosmology(cfg.density.omegam).cartesian(
        sample.ra[sample.valid], sample.dec[sample.valid], sample.z[sample.valid]
    )
    distance = np.full(n, np.nan)
    density = np.full(n, np.nan)
    distance[sample.valid], density[sample.valid] = kth_neighbour_density(
        xyz[sample.valid], int(cfg.density.k)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_density = np.log10(density)
    return {
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "zc": xyz[:, 2],
        "knn_distance": distance,
        "log_density": log_density,
    }


def _stage(conn, db: Database, positions: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """Binary COPY of keys + computed columns into a temporary table."""
    keys = [
        CopyColumn("targetid", "bigint"),
        CopyColumn("survey", "text", text_width=KEY_WIDTH),
        CopyColumn("program", "text", text_width=KEY_WIDTH),
    ]
    computed = [_copy_column(name, values) for name, values in columns.items()]
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type))
        for c in keys + computed
    )
    conn.execute(sql.SQL("CREATE TEMP TABLE feature_stage ({}) ON COMMIT DROP").format(definitions))
    encoder = RowEncoder(keys + computed)
    values = [
        positions["targetid"],
        np.strings.rstrip(positions["survey"]),
        np.strings.rstrip(positions["program"]),
        *columns.values(),
    ]
    nulls = [None, None, None, *(_nulls(v) for v in columns.values())]
    with conn.cursor().copy("COPY feature_stage FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(HEADER)
        for start in range(0, len(positions), 100_000):
            block = slice(start, start + 100_000)
            copy.write(
                encoder.encode(
                    [v[block] for v in values], [n[block] if n is not None else None for n in nulls]
                )
            )
        copy.write(TRAILER)


def _copy_column(name: str, values: np.ndarray) -> CopyColumn:
    kind = values.dtype.kind
    if kind == "U":
        return CopyColumn(name, "text", text_width=max(values.dtype.itemsize // 4, 1))
    if kind == "i" and values.dtype.itemsize <= 2:
        return CopyColumn(name, "smallint")
    return CopyColumn(name, NUMPY_TO_PG[kind])


def _nulls(values: np.ndarray) -> np.ndarray | None:
    """NaN and empty text become NULL (never a silent number)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "U":
        return values == ""
    return None


def _replace_table(conn, db: Database, cfg: DictConfig, columns: dict[str, np.ndarray]) -> None:
    """features.galaxy := raw.galaxies properties joined with the staged environment."""
    properties = [
        sql.SQL("CASE WHEN {valid} THEN {value} END AS {name}").format(
            valid=sql.SQL(str(spec.get("valid", "true"))),
            value=sql.SQL(str(spec["value"])),
            name=sql.Identifier(name),
        )
        for name, spec in cfg.properties.items()
    ]
    environment = [sql.SQL("e.{}").format(sql.Identifier(name)) for name in columns]
    target = sql.Identifier(db.ns.features, "galaxy")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} AS SELECT g.targetid, g.survey, g.program, "
                    "hashtextextended(g.targetid::text || '/' || g.survey || '/' || g.program, 0) "
                    "AS key_hash, {}, {} "
                    "FROM {} g JOIN feature_stage e USING (targetid, survey, program)"
                ).format(
                    target,
                    sql.SQL(", ").join(properties),
                    sql.SQL(", ").join(environment),
                    sql.Identifier(db.ns.raw, "galaxies"),
                )
            )
    except psycopg.errors.Error as exc:
        raise DesivoidError(
            f"a feature property in the config failed in SQL: "
            f"{str(exc).splitlines()[0]}; fix configs/features/default.yaml"
        ) from exc
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (targetid, survey, program)").format(target)
    )
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (point(x, y))").format(target))
