"""`desivoid features`: compute features.galaxy from raw.galaxies and the ingested void catalogs.

Positions come out of PostgreSQL by binary COPY decoded with numpy; environment and density are
computed with KD-trees; the results go back by binary COPY into a staging table, which is joined
with the galaxy properties (SQL expressions from the config) into a new table that replaces the
old one in one transaction.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
import psycopg
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.db.copy_binary import HEADER, TRAILER, CopyColumn, RowEncoder
from desivoid_ml.db.copy_read import read_copy
from desivoid_ml.db.introspect import table_columns
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.density import kth_neighbour_density
from desivoid_ml.features.environment import (
    EnvironmentOptions,
    GalaxySample,
    GalzoneCheck,
    classify_catalog,
    combine_by_algorithm,
    survey_mask,
)
from desivoid_ml.features.proximity import create_proximity
from desivoid_ml.features.void_catalogs import VoidCatalog, read_db_catalogs
from desivoid_ml.features.voidfinder import BoundaryRule
from desivoid_ml.progress import NullReporter, Reporter

KEY_WIDTH = 16  # survey and program travel as char(16) so every COPY tuple has a fixed size
POSITION_FIELDS = [
    ("targetid", "bigint"),
    ("survey", f"char({KEY_WIDTH})"),
    ("program", f"char({KEY_WIDTH})"),
    ("ra", "double precision"),
    ("dec", "double precision"),
    ("z", "double precision"),
    ("absmag_r", "double precision"),
]
ABSMAG_R = "absmag01_sdss_r"  # VoidFinder's MAGLIM cut is on this column (NaN when absent/0)
NUMPY_TO_PG = {"b": "boolean", "i": "bigint", "f": "double precision", "U": "text"}


@dataclass
class FeatureSummary:
    rows: int
    excluded: int
    catalogs: list[str]
    in_void_fraction: dict[str, float]
    compute_s: float
    load_s: float
    boundary_policy: str = "wall"
    on_boundary: int = 0  # VoidFinder boundary galaxies (vf_on_boundary)
    on_boundary_in_void: int = 0  # ... of which vf_in_void under the policy
    masks: dict[str, str] = field(default_factory=dict)  # VoidFinder catalog -> mask used


def build(db: Database, cfg: DictConfig, reporter: Reporter | None = None) -> FeatureSummary:
    """Rebuild features.galaxy (and features.voids) from the raw tables, chunk by chunk."""
    reporter = reporter or NullReporter()
    started = time.perf_counter()
    fallback = cfg.void_catalogs.omegam
    catalogs = read_db_catalogs(db, float(fallback) if fallback is not None else None)
    if not catalogs:
        raise DesivoidError(
            "no void catalogs ingested; run `desivoid ingest` on DESIVAST files first"
        )
    with db.connect() as conn:
        positions, has_absmag = _positions(conn, db)
    absmag = positions["absmag_r"] if has_absmag else None
    sample = GalaxySample(
        positions["ra"], positions["dec"], positions["z"], positions["targetid"], absmag
    )
    whole = _WholeSample(sample, catalogs, cfg)
    timer = {"compute": time.perf_counter() - started}
    with db.connect() as conn, conn.transaction():
        with reporter.task("features", len(sample.ra)) as step:
            names = _stage(conn, positions, _chunks(whole, int(cfg.chunk_rows), timer, step))
        whole.galzone.verify()
        _replace_table(conn, db, cfg, names)
        create_proximity(conn, db, catalogs, Cosmology(cfg.density.omegam))
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(db.ns.features, "galaxy")))
    load_s = time.perf_counter() - started - timer["compute"]
    return FeatureSummary(
        len(sample.ra),
        sample.excluded,
        [c.name for c in catalogs],
        whole.in_void_fraction(),
        timer["compute"],
        load_s,
        whole.options.boundary.policy,
        whole.counts.get("vf_on_boundary", 0),
        whole.counts.get("vf_on_boundary_in_void", 0),
        {c.name: m.source for c, m in zip(catalogs, whole.masks, strict=True) if m is not None},
    )


def environment_options(cfg: DictConfig) -> EnvironmentOptions:
    """The classification settings of the feature config."""
    return EnvironmentOptions(
        BoundaryRule(
            float(cfg.voidfinder.boundary_tolerance_mpch),
            float(cfg.voidfinder.boundary_tolerance_relative),
            str(cfg.voidfinder.boundary_policy),
        ),
        float(cfg.v2.position_tolerance_mpch),
    )


class _WholeSample:
    """What needs every galaxy at once: survey masks, the density field, in-void counts."""

    def __init__(self, sample: GalaxySample, catalogs: list[VoidCatalog], cfg: DictConfig):
        self.sample = sample
        self.catalogs = catalogs
        self.options = environment_options(cfg)
        self.counts: dict[str, int] = {}
        resolution = cfg.voidfinder.mask_resolution
        self.masks = [survey_mask(sample, catalog, resolution) for catalog in catalogs]
        self.density = _positions_and_density(sample, cfg)
        self.in_void: dict[str, int] = {}
        self.galzone = GalzoneCheck()

    def columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """All computed columns of galaxies start..stop."""
        part = self.sample.rows(start, stop)
        results = [
            classify_catalog(part, c, m, self.options)
            for c, m in zip(self.catalogs, self.masks, strict=True)
        ]
        for catalog, result in zip(self.catalogs, results, strict=True):
            self.galzone.add(part, catalog, result)
        columns = combine_by_algorithm(part, self.catalogs, results)
        for name, values in columns.items():
            if name.endswith("_in_void"):
                self.in_void[name] = self.in_void.get(name, 0) + int(values[part.valid].sum())
        if "vf_on_boundary" in columns:
            boundary = columns["vf_on_boundary"] & part.valid
            self._count("vf_on_boundary", int(boundary.sum()))
            self._count("vf_on_boundary_in_void", int((boundary & columns["vf_in_void"]).sum()))
        columns.update({name: values[start:stop] for name, values in self.density.items()})
        return columns

    def _count(self, name: str, value: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def in_void_fraction(self) -> dict[str, float]:
        valid = max(int(self.sample.valid.sum()), 1)
        return {
            name.removesuffix("_in_void"): count / valid for name, count in self.in_void.items()
        }


def _chunks(whole: _WholeSample, chunk_rows: int, timer: dict, step):
    """(start, stop, columns) per chunk; compute time accumulates in timer['compute']."""
    for start in range(0, len(whole.sample.ra), chunk_rows):
        stop = min(start + chunk_rows, len(whole.sample.ra))
        started = time.perf_counter()
        columns = whole.columns(start, stop)
        timer["compute"] += time.perf_counter() - started
        yield start, stop, columns
        step.advance(stop - start)


def _positions(conn: psycopg.Connection, db: Database) -> tuple[np.ndarray, bool]:
    """Keys, ra, dec, z and ABSMAG01_SDSS_R (NaN where 0 = failed fit); whether the column is
    there."""
    columns = table_columns(conn, db.ns.raw, "galaxies")
    if not columns:
        raise DesivoidError(
            "raw.galaxies does not exist; run `desivoid ingest` on FastSpecFit files"
        )
    has_absmag = ABSMAG_R in columns
    absmag = (
        sql.SQL("COALESCE(NULLIF({}, 0)::float8, 'NaN')").format(sql.Identifier(ABSMAG_R))
        if has_absmag
        else sql.SQL("'NaN'::float8")
    )
    query = sql.SQL(
        "SELECT targetid, survey::char({w}), program::char({w}), "
        "COALESCE(ra, 'NaN'), COALESCE(dec, 'NaN'), COALESCE(z, 'NaN'), {} FROM {}"
    ).format(absmag, sql.Identifier(db.ns.raw, "galaxies"), w=sql.Literal(KEY_WIDTH))
    return read_copy(conn, query, POSITION_FIELDS), has_absmag


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


def _stage(conn, positions: np.ndarray, chunks) -> list[str]:
    """Binary COPY of keys + computed columns, chunk by chunk, into a temporary table; returns
    the computed column names (the table is created from the first chunk's columns)."""
    keys = [
        CopyColumn("targetid", "bigint"),
        CopyColumn("survey", "text", text_width=KEY_WIDTH),
        CopyColumn("program", "text", text_width=KEY_WIDTH),
    ]
    copy = encoder = names = None
    with contextlib.ExitStack() as stack:
        for start, stop, columns in chunks:
            if encoder is None:
                computed = [_copy_column(name, values) for name, values in columns.items()]
                _create_stage(conn, keys + computed)
                encoder, names = RowEncoder(keys + computed), list(columns)
                copy = stack.enter_context(
                    conn.cursor().copy("COPY feature_stage FROM STDIN (FORMAT BINARY)")
                )
                copy.write(HEADER)
            rows = positions[start:stop]
            values = [
                rows["targetid"],
                np.strings.rstrip(rows["survey"]),
                np.strings.rstrip(rows["program"]),
                *(columns[n] for n in names),
            ]
            nulls = [None, None, None, *(_nulls(columns[n]) for n in names)]
            copy.write(encoder.encode(values, nulls))
        if copy is None:
            raise DesivoidError("raw.galaxies is empty; ingest FastSpecFit files first")
        copy.write(TRAILER)
    return names


def _create_stage(conn, columns: list[CopyColumn]) -> None:
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type)) for c in columns
    )
    conn.execute(sql.SQL("CREATE TEMP TABLE feature_stage ({}) ON COMMIT DROP").format(definitions))


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


def _replace_table(conn, db: Database, cfg: DictConfig, columns: list[str]) -> None:
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
