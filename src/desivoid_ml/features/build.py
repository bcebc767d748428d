"""`desivoid features`: compute features.galaxy from raw.galaxies and the ingested void catalogs.

Positions come out of PostgreSQL by binary COPY into compact arrays; the survey masks and the
k-th-neighbour distances need the whole sample and are computed first (a KD-tree over float64
positions, queried in blocks); everything else is computed chunk by chunk and goes back by binary
COPY into a staging table (`galaxy_table`), which is joined with the galaxy properties (SQL
expressions from the config) into a new table, written in spatial order, that replaces the old
one in one transaction.
Memory: ~45 bytes a galaxy held, plus ~40 while the KD-tree exists, plus one chunk.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from omegaconf import DictConfig
from psycopg import sql

from desivoid_ml.db.connection import Database
from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.config import environment_options
from desivoid_ml.features.consensus import consensus_of_chunk
from desivoid_ml.features.cosmology import Cosmology
from desivoid_ml.features.density import density_from_distance, kth_neighbour_distance
from desivoid_ml.features.environment import (
    GalaxySample,
    GalzoneCheck,
    classify_catalog,
    combine_by_algorithm,
    galzone_counts,
    survey_mask,
)
from desivoid_ml.features.forked_map import forked_map
from desivoid_ml.features.galaxy_table import (
    StageLayout,
    index_galaxy_table,
    stage_columns,
    write_galaxy_table,
)
from desivoid_ml.features.positions import GalaxyKeys, read_sample
from desivoid_ml.features.proximity import create_proximity
from desivoid_ml.features.samples import VOID, WALL
from desivoid_ml.features.void_catalog_db import read_db_catalogs
from desivoid_ml.features.void_catalogs import VoidCatalog
from desivoid_ml.progress import NullReporter, Reporter

CELL_MPCH = 20.0  # features.galaxy is written ordered by (x, y, z) cells of this size


@dataclass
class FeatureSummary:
    rows: int
    excluded: int
    catalogs: list[str]
    in_void_fraction: dict[str, float]
    compute_s: float
    load_s: float
    boundary_policy: str = "toolkit"
    on_boundary: int = 0  # VoidFinder boundary galaxies (vf_on_boundary)
    on_boundary_in_void: int = 0  # ... of which vf_in_void under the policy
    masks: dict[str, str] = field(default_factory=dict)  # VoidFinder catalog -> mask used
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    samples: dict[str, dict[str, int]] = field(default_factory=dict)  # prefix -> void/wall counts


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
    if len(sample.ra) == 0:
        raise DesivoidError("raw.galaxies is empty; ingest FastSpecFit files first")
    with db.connect() as conn, conn.transaction():
        with phases("classify"), reporter.task("features", len(sample.ra)) as step:
            layout, payloads = _encoded_chunks(whole, keys, cfg, step)
            stage_columns(conn, db, layout, payloads)
        whole.galzone.verify()
        with phases("features.galaxy"):
            write_galaxy_table(conn, db, cfg, layout.names)
        with phases("keys and indexes"):
            index_galaxy_table(conn, db, cfg)
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
        whole.samples,
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
        self.samples: dict[str, dict[str, int]] = {}
        self.galzone = GalzoneCheck()
        with phases("survey masks"):
            resolution = self.options.mask_resolution
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

    def columns(self, start: int, stop: int) -> tuple[dict[str, np.ndarray], Counter]:
        """All computed columns of galaxies start..stop, and the chunk's tally (see `merge`)."""
        part = self.sample.rows(start, stop)
        shared: dict = {}  # V2 catalogs with the same GALZONE match the chunk once
        results = [
            classify_catalog(part, c, m, self.options, shared)
            for c, m in zip(self.catalogs, self.masks, strict=True)
        ]
        tally: Counter = Counter()
        for i, (catalog, result) in enumerate(zip(self.catalogs, results, strict=True)):
            counts = galzone_counts(part, catalog, result)
            if counts is not None:
                tally["galzone", i, "matched"] += counts[0]
                tally["galzone", i, "galaxies"] += counts[1]
        columns = combine_by_algorithm(part, self.catalogs, results)
        columns.update(consensus_of_chunk(part, self.catalogs, columns))
        _tally_chunk(tally, part, columns)
        columns.update(self._position_columns(part, start, stop))
        return columns, tally

    def merge(self, tally: Counter) -> None:
        """Add a chunk's tally: in-void and sample counts, boundary counts, GALZONE matches."""
        for key, value in tally.items():
            kind, *rest = key
            if kind == "in_void":
                self.in_void[rest[0]] = self.in_void.get(rest[0], 0) + value
            elif kind == "sample":
                counts = self.samples.setdefault(rest[0], {VOID: 0, WALL: 0})
                counts[rest[1]] += value
            elif kind == "count":
                self.counts[rest[0]] = self.counts.get(rest[0], 0) + value
            elif kind == "galzone" and rest[1] == "matched":
                catalog = self.catalogs[rest[0]]
                self.galzone.add_counts(catalog, value, tally["galzone", rest[0], "galaxies"])

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


def _build_lookups(catalog: VoidCatalog) -> None:
    """A catalog's lazily built search structures (trees, sorted ids), built now."""
    for name in ("void_tree", "galzone_tree", "galzone_key", "gal_target_order"):
        getattr(catalog, name, None)


def _tally_chunk(tally: Counter, part: GalaxySample, columns: dict[str, np.ndarray]) -> None:
    """In-void counts (valid galaxies), void/wall sample sizes and VoidFinder boundary counts."""
    for name, values in columns.items():
        if name.endswith("_in_void"):
            tally["in_void", name] += int(values[part.valid].sum())
        if name.endswith("_sample"):
            for label in (VOID, WALL):
                tally["sample", name.removesuffix("_sample"), label] += int((values == label).sum())
    if "vf_on_boundary" in columns:
        boundary = columns["vf_on_boundary"] & part.valid
        tally["count", "vf_on_boundary"] += int(boundary.sum())
        tally["count", "vf_on_boundary_in_void"] += int((boundary & columns["vf_in_void"]).sum())


def processes(cfg: DictConfig) -> int:
    """cfg.processes, or one per core."""
    chosen = cfg.get("processes")
    return int(chosen) if chosen else os.cpu_count() or 1


def _encoded_chunks(
    whole: _WholeSample, keys: GalaxyKeys, cfg: DictConfig, step
) -> tuple[StageLayout, Iterator[np.ndarray]]:
    """The staging layout (from the first chunk, computed here) and every chunk's binary COPY
    bytes in order, the later chunks classified and encoded by forked processes; each chunk's
    tally is merged into `whole` as its bytes are handed on."""
    n, workers = len(whole.sample.ra), processes(cfg)
    rows = max(1, int(cfg.chunk_rows) // workers)  # chunk_rows galaxies in the works at once
    ranges = [(start, min(start + rows, n)) for start in range(0, n, rows)]
    for catalog in whole.catalogs:  # built once here, shared by the forked processes
        _build_lookups(catalog)
    first_columns, first_tally = whole.columns(*ranges[0])
    layout = StageLayout(keys, first_columns)
    first = (layout.encode(*ranges[0], first_columns), first_tally)
    del first_columns

    def encoded(bounds: tuple[int, int]) -> tuple[np.ndarray, Counter]:
        columns, tally = whole.columns(*bounds)
        return layout.encode(*bounds, columns), tally

    def payloads() -> Iterator[np.ndarray]:
        rest = forked_map(encoded, ranges[1:], workers)
        for (start, stop), (payload, tally) in zip(ranges, chain([first], rest), strict=True):
            whole.merge(tally)
            yield payload
            step.advance(stop - start)

    return layout, payloads()
