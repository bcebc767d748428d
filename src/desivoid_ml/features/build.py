"""`desivoid features`: compute features.galaxy from raw.galaxies and the ingested void catalogs.

Positions come out of PostgreSQL by binary COPY into compact arrays; the survey masks and the
k-th-neighbour distances need the whole sample and are computed first (a KD-tree over float64
positions, queried in blocks); everything else is computed chunk by chunk and goes back by binary
COPY into a staging table, which is joined with the galaxy properties (SQL expressions from the
config) into a new table, written in spatial order, that replaces the old one in one transaction.
Memory: ~45 bytes a galaxy held, plus ~40 while the KD-tree exists, plus one chunk.
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
from desivoid_ml.db.copy_binary import CopyColumn, RowEncoder
from desivoid_ml.db.copy_in import column_definitions, copy_in
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.density import density_from_distance, kth_neighbour_distance
from desivoid_ml.features.environment import (
    EnvironmentOptions,
    GalaxySample,
    GalzoneCheck,
    classify_catalog,
    combine_by_algorithm,
    survey_mask,
)
from desivoid_ml.features.positions import GalaxyKeys, read_sample
from desivoid_ml.features.proximity import create_proximity
from desivoid_ml.features.void_catalogs import VoidCatalog, read_db_catalogs
from desivoid_ml.features.voidfinder import BoundaryRule
from desivoid_ml.keys import KEY_WIDTH, key_hash_sql
from desivoid_ml.progress import NullReporter, Reporter

SKY_INDEX = "galaxy_sky_idx"  # GiST on point(ra, dec), for features.galaxy_at
NUMPY_TO_PG = {"b": "boolean", "i": "bigint", "f": "double precision", "U": "text"}
CELL_MPCH = 20.0  # features.galaxy is written ordered by (x, y, z) cells of this size
SORT_WORK_MEM = "256MB"  # server memory for that sort (this transaction only)


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
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase


class _Phases(dict):
    """Seconds spent per named phase (a phase may be entered many times)."""

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started


COMPUTE_PHASES = ("read void catalogs", "read positions", "survey masks", "density", "classify")


def build(db: Database, cfg: DictConfig, reporter: Reporter | None = None) -> FeatureSummary:
    """Rebuild features.galaxy (and features.voids) from the raw tables."""
    reporter = reporter or NullReporter()
    phases = _Phases()
    started = time.perf_counter()
    with phases("read void catalogs"):
        fallback = cfg.void_catalogs.omegam
        catalogs = read_db_catalogs(db, float(fallback) if fallback is not None else None)
    if not catalogs:
        raise DesivoidError(
            "no void catalogs ingested; run `desivoid ingest` on DESIVAST files first"
        )
    with phases("read positions"), db.connect() as conn:
        sample, keys = read_sample(conn, db)
    whole = _WholeSample(sample, catalogs, cfg, phases, reporter)
    with db.connect() as conn, conn.transaction():
        with reporter.task("features", len(sample.ra)) as step:
            names = _stage(conn, keys, _chunks(whole, int(cfg.chunk_rows), step))
        whole.galzone.verify()
        with phases("features.galaxy"):
            _replace_table(conn, db, cfg, names)
        with phases("proximity"):
            create_proximity(conn, db, catalogs, Cosmology(cfg.density.omegam))
    with phases("analyze"), db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(db.ns.features, "galaxy")))
    phases["stage (COPY in)"] = time.perf_counter() - started - sum(phases.values())
    compute_s = sum(phases.get(name, 0.0) for name in COMPUTE_PHASES)
    return FeatureSummary(
        len(sample.ra),
        sample.excluded,
        [c.name for c in catalogs],
        whole.in_void_fraction(),
        compute_s,
        sum(phases.values()) - compute_s,
        whole.options.boundary.policy,
        whole.counts.get("vf_on_boundary", 0),
        whole.counts.get("vf_on_boundary_in_void", 0),
        {c.name: m.source for c, m in zip(catalogs, whole.masks, strict=True) if m is not None},
        dict(phases),
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
    """What needs every galaxy at once (survey masks, k-th-neighbour distances), computed up
    front; then the columns of any chunk of galaxies, and counts over all chunks."""

    def __init__(
        self,
        sample: GalaxySample,
        catalogs: list[VoidCatalog],
        cfg: DictConfig,
        phases: _Phases,
        reporter: Reporter,
    ):
        self.sample = sample
        self.catalogs = catalogs
        self.phases = phases
        self.options = environment_options(cfg)
        self.cosmology = Cosmology(cfg.density.omegam)
        self.k = int(cfg.density.k)
        self.counts: dict[str, int] = {}
        self.in_void: dict[str, int] = {}
        self.galzone = GalzoneCheck()
        with phases("survey masks"):
            resolution = cfg.voidfinder.mask_resolution
            self.masks = [survey_mask(sample, catalog, resolution) for catalog in catalogs]
        with phases("density"):
            self.knn_distance = self._knn_distance(int(cfg.chunk_rows), reporter)

    def _knn_distance(self, chunk_rows: int, reporter: Reporter) -> np.ndarray:
        """Distance to the k-th neighbour over all valid galaxies, float32 (NaN for the others):
        the positions of the valid galaxies exist only while the tree does."""
        s = self.sample
        xyz = np.empty((int(s.valid.sum()), 3))
        filled = 0
        for start in range(0, len(s.ra), chunk_rows):
            part = s.rows(start, start + chunk_rows)
            rows = part.valid
            count = int(rows.sum())
            xyz[filled : filled + count] = self.cosmology.cartesian(
                part.ra[rows], part.dec[rows], part.z[rows]
            )
            filled += count
        distance = np.full(len(s.ra), np.nan, dtype=np.float32)
        with reporter.task("density (k-th neighbour)", len(xyz)) as step:
            distance[s.valid] = kth_neighbour_distance(xyz, self.k, step.advance)
        return distance

    def columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """All computed columns of galaxies start..stop."""
        part = self.sample.rows(start, stop)
        with self.phases("classify"):
            results = [
                classify_catalog(part, c, m, self.options)
                for c, m in zip(self.catalogs, self.masks, strict=True)
            ]
            for catalog, result in zip(self.catalogs, results, strict=True):
                self.galzone.add(part, catalog, result)
            columns = combine_by_algorithm(part, self.catalogs, results)
            self._count_chunk(part, columns)
            columns.update(self._position_columns(part, start, stop))
        return columns

    def _position_columns(self, part: GalaxySample, start: int, stop: int) -> dict:
        """x, y, zc (feature cosmology), k-th neighbour distance, log density; NaN if excluded."""
        xyz = np.full((len(part.ra), 3), np.nan)
        xyz[part.valid] = self.cosmology.cartesian(
            part.ra[part.valid], part.dec[part.valid], part.z[part.valid]
        )
        distance = self.knn_distance[start:stop]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_density = np.log10(density_from_distance(distance, self.k))
        return {
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "zc": xyz[:, 2],
            "knn_distance": distance,
            "log_density": log_density,
            "cell": _cell_key(xyz),
        }

    def _count_chunk(self, part: GalaxySample, columns: dict[str, np.ndarray]) -> None:
        for name, values in columns.items():
            if name.endswith("_in_void"):
                self.in_void[name] = self.in_void.get(name, 0) + int(values[part.valid].sum())
        if "vf_on_boundary" in columns:
            boundary = columns["vf_on_boundary"] & part.valid
            self._count("vf_on_boundary", int(boundary.sum()))
            self._count("vf_on_boundary_in_void", int((boundary & columns["vf_in_void"]).sum()))

    def _count(self, name: str, value: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def in_void_fraction(self) -> dict[str, float]:
        valid = max(int(self.sample.valid.sum()), 1)
        return {
            name.removesuffix("_in_void"): count / valid for name, count in self.in_void.items()
        }


def _cell_key(xyz: np.ndarray) -> np.ndarray:
    """An int64 key of the (x, y, z) cell of CELL_MPCH, lexicographic: sorting by it puts
    neighbours on the same heap pages (an (x, y) box then reads few pages). -1 for NaN."""
    cells = np.floor(np.nan_to_num(xyz, nan=0.0) / CELL_MPCH).astype(np.int64) + 2**20
    key = (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]
    return np.where(np.isfinite(xyz).all(axis=1), key, -1)


def _chunks(whole: _WholeSample, chunk_rows: int, step):
    """(start, stop, columns) per chunk of galaxies."""
    for start in range(0, len(whole.sample.ra), chunk_rows):
        stop = min(start + chunk_rows, len(whole.sample.ra))
        yield start, stop, whole.columns(start, stop)
        step.advance(stop - start)


def _stage(conn, keys: GalaxyKeys, chunks) -> list[str]:
    """Binary COPY of keys + computed columns, chunk by chunk, into a temporary table; returns
    the computed column names (the table is created from the first chunk's columns)."""
    key_columns = [
        CopyColumn("targetid", "bigint"),
        CopyColumn("survey", "text", text_width=KEY_WIDTH),
        CopyColumn("program", "text", text_width=KEY_WIDTH),
    ]
    send = encoder = names = None
    with contextlib.ExitStack() as stack:
        for start, stop, columns in chunks:
            if encoder is None:
                computed = [_copy_column(name, values) for name, values in columns.items()]
                _create_stage(conn, key_columns + computed)
                encoder, names = RowEncoder(key_columns + computed), list(columns)
                stage = sql.Identifier("feature_stage")
                send = stack.enter_context(copy_in(conn, stage, key_columns + computed))
            survey, program = keys.survey_program(start, stop)
            values = [keys.targetid[start:stop], survey, program, *(columns[n] for n in names)]
            nulls = [None, None, None, *(_nulls(columns[n]) for n in names)]
            send(encoder.encode(values, nulls))
        if send is None:
            raise DesivoidError("raw.galaxies is empty; ingest FastSpecFit files first")
    return names


def _create_stage(conn, columns: list[CopyColumn]) -> None:
    conn.execute(
        sql.SQL("CREATE TEMP TABLE feature_stage ({}) ON COMMIT DROP").format(
            column_definitions(columns)
        )
    )


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
    environment = [
        sql.SQL("e.{}").format(sql.Identifier(name)) for name in columns if name != "cell"
    ]
    target = sql.Identifier(db.ns.features, "galaxy")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'")  # the spatial ORDER BY: fewer runs
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} AS SELECT g.targetid, g.survey, g.program, "
                    "{key_hash} AS key_hash, {}, {} "
                    "FROM {} g JOIN feature_stage e USING (targetid, survey, program) "
                    "ORDER BY e.cell"
                ).format(
                    target,
                    sql.SQL(", ").join(properties),
                    sql.SQL(", ").join(environment),
                    sql.Identifier(db.ns.raw, "galaxies"),
                    key_hash=key_hash_sql("g"),
                )
            )
    except psycopg.errors.Error as exc:
        raise DesivoidError(
            f"a feature property in the config failed in SQL: "
            f"{str(exc).splitlines()[0]}; fix configs/features.yaml"
        ) from exc
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (targetid, survey, program)").format(target)
    )
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (point(x, y))").format(target))
    if {"ra", "dec"} <= set(cfg.properties):  # sky search (features.galaxy_at) uses it
        conn.execute(
            sql.SQL('CREATE INDEX {} ON {} USING gist (point(ra, "dec"))').format(
                sql.Identifier(SKY_INDEX), target
            )
        )
